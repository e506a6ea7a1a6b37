//! The route configuration: one virtual host per route resource, and the pieces of Envoy
//! routes every family shares (string matches, header edits, weighted clusters).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use super::context::{BackendUse, Ctx};
use super::{clusters, gateway_api, istio, networkservices, value};
use crate::envoy::{EnvoySettings, TranslateError, ROUTE_CONFIG_TYPE};
use crate::ir::{self, BackendIr, RouteIr, Split, WeightProblem};
use crate::load::Loaded;
use crate::model::{Kind, Resource, ResourceId, Spec};
use crate::path::FieldPath;

/// The name of the virtual host of a route resource: `<Kind>/<namespace>/<name>`, or
/// `<Kind>/<name>` when it has no namespace.
pub fn vhost_name(id: &ResourceId) -> String {
    id.to_string()
}

/// The route resource a virtual host name stands for (the inverse of [`vhost_name`]); `None`
/// for a name meshcd did not make.
pub fn parse_vhost_name(name: &str) -> Option<ResourceId> {
    let mut parts = name.splitn(3, '/');
    let kind_name = parts.next()?;
    let kind = Kind::ALL
        .iter()
        .copied()
        .find(|k| k.is_route() && k.name() == kind_name)?;
    let (namespace, name) = match (parts.next(), parts.next()) {
        (Some(name), None) => (String::new(), name.to_string()),
        (Some(namespace), Some(name)) => (namespace.to_string(), name.to_string()),
        _ => return None,
    };
    (!name.is_empty()).then_some(ResourceId {
        kind,
        namespace,
        name,
    })
}

/// The route configuration of a revision, with the backends its routes use.
pub(crate) struct Routes<'a> {
    /// The `RouteConfiguration`.
    pub config: Json,
    /// Backends used, in resource and rule order.
    pub uses: Vec<BackendUse<'a>>,
    /// True when some route injects faults (the listener then needs the fault filter).
    pub fault: bool,
}

/// Builds the route configuration of every route resource of the revision.
pub(crate) fn route_config<'a>(
    loaded: &'a Loaded,
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> Routes<'a> {
    let mut uses = Vec::new();
    let mut fault = false;
    let mut vhosts: BTreeMap<String, Json> = BTreeMap::new();
    let mut claimed: BTreeMap<String, ResourceId> = BTreeMap::new();
    for resource in &loaded.resources {
        let kind = resource.id.kind;
        if !kind.is_route() {
            continue;
        }
        if matches!(
            kind,
            Kind::NsTcpRoute
                | Kind::NsTlsRoute
                | Kind::GwTcpRoute
                | Kind::GwTlsRoute
                | Kind::GwUdpRoute
        ) {
            errors.push(TranslateError::new(
                resource,
                &FieldPath::root(),
                format!("{kind} is not supported by the envoy target yet (only HTTP and gRPC routes are)"),
            ));
            continue;
        }
        let Some(route) = ir::route(resource) else {
            continue;
        };
        let name = vhost_name(&resource.id);
        if vhosts.contains_key(&name) {
            errors.push(TranslateError::new(
                resource,
                &FieldPath::root(),
                format!("{name} is defined twice; Envoy needs one virtual host per route"),
            ));
            continue;
        }
        let mut ctx = Ctx {
            resource,
            errors,
            uses: &mut uses,
            fault: false,
        };
        let entries = match (&resource.spec, kind) {
            (Spec::NsHttpRoute(_), _) => networkservices::http_routes(&mut ctx, &route),
            (Spec::NsGrpcRoute(_), _) => networkservices::grpc_routes(&mut ctx, &route),
            (Spec::VirtualService(_), _) => istio::http_routes(&mut ctx, &route),
            (Spec::GwRoute(_), Kind::GwGrpcRoute) => gateway_api::grpc_routes(&mut ctx, &route),
            (Spec::GwRoute(_), _) => gateway_api::http_routes(&mut ctx, &route),
            _ => continue,
        };
        fault |= ctx.fault;
        let domains = domains(&mut ctx, &route, &mut claimed);
        let routes: Vec<Json> = entries.into_iter().map(RouteEntry::into_json).collect();
        vhosts.insert(
            name.clone(),
            json!({"name": name, "domains": domains, "routes": routes}),
        );
    }
    Routes {
        config: json!({
            "@type": ROUTE_CONFIG_TYPE,
            "name": settings.route_config_name,
            "validate_clusters": true,
            "virtual_hosts": vhosts.into_values().collect::<Vec<_>>(),
        }),
        uses,
        fault,
    }
}

/// The domains of a route's virtual host: each hostname, and `host:*` for exact ones; `*` for a
/// route without hostnames (Gateway API: all hosts). A hostname another resource claimed first
/// is an error.
fn domains(
    ctx: &mut Ctx<'_, '_>,
    route: &RouteIr<'_>,
    claimed: &mut BTreeMap<String, ResourceId>,
) -> Vec<String> {
    let hosts: Vec<(String, FieldPath)> = if route.hosts.is_empty() {
        vec![("*".to_string(), route.resource.spec_path())]
    } else {
        route
            .hosts
            .iter()
            .map(|h| (h.value.to_ascii_lowercase(), h.path.clone()))
            .collect()
    };
    let mut domains: Vec<String> = Vec::new();
    for (host, path) in hosts {
        let mut forms = vec![host.clone()];
        if !host.starts_with('*') && !host.contains(':') {
            forms.push(format!("{host}:*"));
        }
        for form in forms {
            if domains.contains(&form) {
                continue;
            }
            match claimed.get(&form) {
                Some(other) if *other != ctx.resource.id => {
                    ctx.error(
                        &path,
                        format!("hostname `{host}` is also claimed by {other}; Envoy's route table takes each hostname once"),
                    );
                }
                _ => {
                    claimed.insert(form.clone(), ctx.resource.id.clone());
                    domains.push(form);
                }
            }
        }
    }
    domains
}

/// An Envoy route action: `route`, `redirect` or `direct_response`, and its value.
pub(crate) type RouteAction = (&'static str, Json);

/// A rule's action and the route fields beside it (header edits, `typed_per_filter_config`).
pub(crate) type RuleAction = (RouteAction, Map<String, Json>);

/// One Envoy route before it becomes JSON.
pub(crate) struct RouteEntry {
    /// Route name (the rule's path, and the match's when the rule has several).
    pub name: String,
    /// `match`.
    pub matcher: Json,
    /// The action.
    pub action: RouteAction,
    /// Other route fields (header edits, `typed_per_filter_config`).
    pub extra: Map<String, Json>,
}

impl RouteEntry {
    fn into_json(self) -> Json {
        let mut route = Map::new();
        route.insert("name".into(), Json::String(self.name));
        route.insert("match".into(), self.matcher);
        route.insert(self.action.0.into(), self.action.1);
        route.extend(self.extra);
        Json::Object(route)
    }
}

/// The name of a rule's route: its path relative to the spec.
pub(crate) fn rule_name(resource: &Resource, rule: &FieldPath) -> String {
    let base = resource.spec_path();
    match rule.segments().strip_prefix(base.segments()) {
        Some(rest) => FieldPath(rest.to_vec()).to_string(),
        None => rule.to_string(),
    }
}

/// One route per match of a rule (one matching everything when it has none), named after the
/// rule, and the match when there are several.
pub(crate) fn expand(
    name: &str,
    match_key: &str,
    matchers: Vec<Json>,
    action: &RouteAction,
    extra: &Map<String, Json>,
) -> Vec<RouteEntry> {
    let several = matchers.len() > 1;
    let matchers = if matchers.is_empty() {
        vec![json!({"prefix": "/"})]
    } else {
        matchers
    };
    matchers
        .into_iter()
        .enumerate()
        .map(|(i, matcher)| RouteEntry {
            name: if several {
                format!("{name}.{match_key}[{i}]")
            } else {
                name.to_string()
            },
            matcher,
            action: action.clone(),
            extra: extra.clone(),
        })
        .collect()
}

/// A `StringMatcher`: `kind` is `exact`, `prefix`, `suffix`, `contains` or `regex`.
pub(crate) fn string_match(
    ctx: &mut Ctx<'_, '_>,
    kind: &str,
    value: &str,
    ignore_case: bool,
    path: &FieldPath,
) -> Json {
    let mut matcher = Map::new();
    if kind == "regex" {
        check_regex(ctx, value, path);
        matcher.insert("safe_regex".into(), json!({"regex": value}));
    } else {
        matcher.insert(kind.into(), Json::String(value.into()));
        if ignore_case {
            matcher.insert("ignore_case".into(), Json::Bool(true));
        }
    }
    Json::Object(matcher)
}

/// Reports a regular expression RE2 would not take.
pub(crate) fn check_regex(ctx: &mut Ctx<'_, '_>, regex: &str, path: &FieldPath) {
    if let Err(error) = regex::Regex::new(regex) {
        let reason = error.to_string();
        let last = reason
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .to_string();
        ctx.error(
            path,
            format!("`{regex}` is not a valid regular expression: {last}"),
        );
    }
}

/// A `HeaderMatcher` for `name` with a string matcher; `invert` inverts it.
pub(crate) fn header_match(name: &str, matcher: Json, invert: bool) -> Json {
    let mut header = Map::new();
    header.insert("name".into(), Json::String(name.to_ascii_lowercase()));
    header.insert("string_match".into(), matcher);
    if invert {
        header.insert("invert_match".into(), Json::Bool(true));
    }
    Json::Object(header)
}

/// A `HeaderMatcher` that tests presence (`present: false` tests absence).
pub(crate) fn header_present(name: &str, present: bool) -> Json {
    if present {
        json!({"name": name.to_ascii_lowercase(), "present_match": true})
    } else {
        json!({"name": name.to_ascii_lowercase(), "present_match": true, "invert_match": true})
    }
}

/// A path match: `path` (exact), `prefix`, `path_separated_prefix` or `safe_regex`.
pub(crate) fn path_match(
    ctx: &mut Ctx<'_, '_>,
    kind: &str,
    value: &str,
    path: &FieldPath,
) -> (String, Json) {
    match kind {
        "regex" => {
            check_regex(ctx, value, path);
            ("safe_regex".into(), json!({"regex": value}))
        }
        _ => {
            if !value.starts_with('/') {
                ctx.error(path, format!("path `{value}` does not start with `/`"));
            }
            (kind.to_string(), Json::String(value.to_string()))
        }
    }
}

/// Header additions and removals of one direction (request or response).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HeaderEdits {
    /// `HeaderValueOption`s.
    pub add: Vec<Json>,
    /// Names to remove.
    pub remove: Vec<String>,
}

impl HeaderEdits {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// Adds one header: `overwrite` replaces an existing value, else the value is appended.
    pub fn push(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        name: &str,
        value: &str,
        overwrite: bool,
        path: &FieldPath,
    ) {
        if name.starts_with(':') || name.is_empty() {
            ctx.error(
                path,
                format!("Envoy does not let routes set header `{name}`"),
            );
            return;
        }
        let action = if overwrite {
            "OVERWRITE_IF_EXISTS_OR_ADD"
        } else {
            "APPEND_IF_EXISTS_OR_ADD"
        };
        self.add.push(json!({
            "header": {"key": name.to_ascii_lowercase(), "value": value},
            "append_action": action,
        }));
    }

    /// Removes one header.
    pub fn remove(&mut self, ctx: &mut Ctx<'_, '_>, name: &str, path: &FieldPath) {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with(':') || lower == "host" || lower.is_empty() {
            ctx.error(
                path,
                format!("Envoy does not let routes remove header `{name}`"),
            );
            return;
        }
        self.remove.push(lower);
    }

    /// Puts the edits into a route (or weighted cluster) as `<direction>_headers_to_add` and
    /// `<direction>_headers_to_remove`, after any already there.
    pub fn apply(self, target: &mut Map<String, Json>, direction: &str) {
        if !self.add.is_empty() {
            append(target, &format!("{direction}_headers_to_add"), self.add);
        }
        if !self.remove.is_empty() {
            let remove = self.remove.into_iter().map(Json::String).collect();
            append(target, &format!("{direction}_headers_to_remove"), remove);
        }
    }
}

fn append(target: &mut Map<String, Json>, key: &str, items: Vec<Json>) {
    match target.get_mut(key) {
        Some(Json::Array(existing)) => existing.extend(items),
        _ => {
            target.insert(key.into(), Json::Array(items));
        }
    }
}

/// Header edits written as `{set: {name: value}, add: {name: value}, remove: [name]}`
/// (networkservices and Istio).
pub(crate) fn header_edits_map(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
) -> HeaderEdits {
    let mut edits = HeaderEdits::default();
    let Some(map) = ctx.object(value, path, &["set", "add", "remove"]) else {
        return edits;
    };
    for (key, overwrite) in [("set", true), ("add", false)] {
        match map.get(key) {
            Some(Json::Object(headers)) => {
                for (name, v) in headers {
                    let at = path.key(key).key(name);
                    match v {
                        Json::String(s) => edits.push(ctx, name, s, overwrite, &at),
                        Json::Number(n) => edits.push(ctx, name, &n.to_string(), overwrite, &at),
                        Json::Bool(b) => edits.push(ctx, name, &b.to_string(), overwrite, &at),
                        _ => ctx.error(&at, "expected a string value"),
                    }
                }
            }
            None | Some(Json::Null) => {}
            Some(_) => ctx.error(
                &path.key(key),
                "expected a mapping of header names to values",
            ),
        }
    }
    for (i, name) in ctx.array(map, "remove", path).iter().enumerate() {
        match name.as_str() {
            Some(name) => edits.remove(ctx, name, &path.key("remove").index(i)),
            None => ctx.error(&path.key("remove").index(i), "expected a header name"),
        }
    }
    edits
}

/// What a split becomes in an Envoy route action.
pub(crate) enum Forward {
    /// `cluster` or `weighted_clusters` (fields of the `route` action).
    Route(Map<String, Json>),
    /// No backend gets traffic (a Gateway API split of zero weights): answer 500.
    NoTraffic,
    /// The weights are invalid (already reported).
    Invalid,
}

/// Per-backend header edits (request, response), in backend order.
pub(crate) type BackendEdits = Vec<(HeaderEdits, HeaderEdits)>;

/// Turns a split into `cluster` (one backend, no edits) or `weighted_clusters` with the family's
/// effective weights, registering every backend that gets a share (or could, at weight 0).
/// `aliases` and `ports` are per backend (see [`BackendUse`]).
pub(crate) fn forward(
    ctx: &mut Ctx<'_, '_>,
    split: &Split,
    edits: BackendEdits,
    grpc: bool,
    aliases: Vec<Vec<String>>,
    ports: Vec<Option<u16>>,
) -> Forward {
    let weights = match split.weights() {
        Ok(weights) => weights,
        Err(problem) => {
            let (path, message) = weight_problem(split, &problem);
            ctx.error(&path, message);
            return Forward::Invalid;
        }
    };
    if weights.iter().all(|w| *w == 0) {
        return Forward::NoTraffic;
    }
    let total: u64 = weights.iter().sum();
    if total > u64::from(u32::MAX) {
        ctx.error(
            &split.path,
            format!(
                "the weights add up to {total}, more than Envoy's limit of {}",
                u32::MAX
            ),
        );
        return Forward::Invalid;
    }
    for (i, backend) in split.backends.iter().enumerate() {
        if backend.name.is_empty() {
            ctx.error(&backend.path, "the backend has no name");
            return Forward::Invalid;
        }
        ctx.use_backend(
            backend.clone(),
            grpc,
            aliases.get(i).cloned().unwrap_or_default(),
            ports.get(i).copied().flatten(),
        );
    }
    let mut route = Map::new();
    let no_edits = edits
        .iter()
        .all(|(req, resp)| req.is_empty() && resp.is_empty());
    if split.backends.len() == 1 && no_edits {
        route.insert(
            "cluster".into(),
            Json::String(clusters::cluster_name(&split.backends[0])),
        );
        return Forward::Route(route);
    }
    let mut edits = edits.into_iter();
    let weighted: Vec<Json> = split
        .backends
        .iter()
        .zip(&weights)
        .map(|(backend, weight)| {
            let mut entry = Map::new();
            entry.insert("name".into(), Json::String(clusters::cluster_name(backend)));
            entry.insert("weight".into(), json!(weight));
            if let Some((request, response)) = edits.next() {
                request.apply(&mut entry, "request");
                response.apply(&mut entry, "response");
            }
            Json::Object(entry)
        })
        .collect();
    route.insert("weighted_clusters".into(), json!({"clusters": weighted}));
    Forward::Route(route)
}

/// Where and why a split's weights are invalid.
fn weight_problem(split: &Split, problem: &WeightProblem) -> (FieldPath, String) {
    let at = |i: usize| {
        split
            .backends
            .get(i)
            .map_or(split.path.clone(), |b| b.path.clone())
    };
    match problem {
        WeightProblem::Negative(i) => (at(*i), "a weight is negative".into()),
        WeightProblem::Partial(i) => (
            at(*i),
            "some destinations have a weight and this one has none (all or none)".into(),
        ),
        WeightProblem::OutOfRange(i, max) => (at(*i), format!("the weight is above {max}")),
        WeightProblem::ZeroTotal => (
            split.path.clone(),
            "the weights add up to 0: no destination would get traffic".into(),
        ),
    }
}

/// The route action that answers `status` (with an optional inline body).
pub(crate) fn direct_response(status: u16, body: Option<Json>) -> RouteAction {
    let mut response = Map::new();
    response.insert("status".into(), json!(status));
    if let Some(body) = body {
        response.insert("body".into(), body);
    }
    ("direct_response", Json::Object(response))
}

/// The `typed_per_filter_config` entry of the fault filter, from delay and abort parts.
pub(crate) fn fault_config(delay: Option<Json>, abort: Option<Json>) -> Map<String, Json> {
    let mut fault = Map::new();
    fault.insert(
        "@type".into(),
        Json::String("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault".into()),
    );
    if let Some(delay) = delay {
        fault.insert("delay".into(), delay);
    }
    if let Some(abort) = abort {
        fault.insert("abort".into(), abort);
    }
    let mut per_filter = Map::new();
    per_filter.insert("envoy.filters.http.fault".into(), Json::Object(fault));
    per_filter
}

/// A retry policy: `conditions` are checked against Envoy's names (numbers become
/// `retriable_status_codes`).
pub(crate) fn retry_policy(
    ctx: &mut Ctx<'_, '_>,
    conditions: &[(String, FieldPath)],
    num_retries: Option<u32>,
    per_try_timeout: Option<String>,
) -> Json {
    let mut retry_on: Vec<String> = Vec::new();
    let mut codes: Vec<u32> = Vec::new();
    for (condition, path) in conditions {
        let condition = condition.trim();
        if condition.is_empty() {
            continue;
        }
        if let Ok(code) = condition.parse::<u32>() {
            if (100..=599).contains(&code) {
                codes.push(code);
            } else {
                ctx.error(path, format!("{code} is not an HTTP status code"));
            }
        } else if value::RETRY_CONDITIONS.contains(&condition) {
            if !retry_on.iter().any(|c| c == condition) {
                retry_on.push(condition.to_string());
            }
        } else {
            ctx.error(path, format!("Envoy has no retry condition `{condition}`"));
        }
    }
    if !codes.is_empty() && !retry_on.iter().any(|c| c == "retriable-status-codes") {
        retry_on.push("retriable-status-codes".into());
    }
    let mut policy = Map::new();
    policy.insert("retry_on".into(), Json::String(retry_on.join(",")));
    if let Some(n) = num_retries {
        policy.insert("num_retries".into(), json!(n));
    }
    if let Some(timeout) = per_try_timeout {
        policy.insert("per_try_timeout".into(), Json::String(timeout));
    }
    if !codes.is_empty() {
        policy.insert("retriable_status_codes".into(), json!(codes));
    }
    Json::Object(policy)
}

/// A mirror policy sending a share of requests to a backend's cluster.
pub(crate) fn mirror_policy(cluster: String, fraction: Option<Json>) -> Json {
    let mut policy = Map::new();
    policy.insert("cluster".into(), Json::String(cluster));
    if let Some(fraction) = fraction {
        policy.insert(
            "runtime_fraction".into(),
            json!({"default_value": fraction}),
        );
    }
    Json::Object(policy)
}

/// Registers a mirror backend and returns its cluster name.
pub(crate) fn mirror_backend(
    ctx: &mut Ctx<'_, '_>,
    backend: BackendIr,
    aliases: Vec<String>,
    port: Option<u16>,
    grpc: bool,
) -> String {
    let name = clusters::cluster_name(&backend);
    ctx.use_backend(backend, grpc, aliases, port);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn vhost_names_go_both_ways() {
        let id = ResourceId {
            kind: Kind::VirtualService,
            namespace: "ads".into(),
            name: "ads".into(),
        };
        assert_eq!(vhost_name(&id), "VirtualService/ads/ads");
        assert_eq!(parse_vhost_name("VirtualService/ads/ads"), Some(id));
        let ns = parse_vhost_name("HttpRoute/target-route").expect("parses");
        assert_eq!(ns.kind, Kind::NsHttpRoute);
        assert_eq!(ns.namespace, "");
        assert_eq!(
            parse_vhost_name("HTTPRoute/store/store").map(|i| i.kind),
            Some(Kind::GwHttpRoute)
        );
        assert_eq!(parse_vhost_name("Backend/x"), None);
        assert_eq!(parse_vhost_name("HttpRoute"), None);
        assert_eq!(parse_vhost_name("HttpRoute/"), None);
        assert_eq!(parse_vhost_name("local_service"), None);
    }
}
