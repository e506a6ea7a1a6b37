//! Route action pieces shared by the translators: header edits, weighted clusters, direct
//! responses, fault injection, retries and mirroring.

use serde_json::{json, Map, Value as Json};

use super::clusters;
use super::context::Ctx;
use super::routes::RouteAction;
use super::value;
use crate::ir::{BackendIr, Split, WeightProblem};
use crate::path::FieldPath;

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
/// `aliases` and `ports` are per backend (see [`BackendUse`](super::context::BackendUse)).
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
pub(crate) fn weight_problem(split: &Split, problem: &WeightProblem) -> (FieldPath, String) {
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

/// Adds `config` for HTTP filter `filter` to the route's `typed_per_filter_config` (beside the
/// other filters' entries already there).
pub(crate) fn add_per_filter(extra: &mut Map<String, Json>, filter: &str, config: Json) {
    let entry = extra
        .entry("typed_per_filter_config")
        .or_insert_with(|| Json::Object(Map::new()));
    if let Json::Object(per_filter) = entry {
        per_filter.insert(filter.to_string(), config);
    }
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
