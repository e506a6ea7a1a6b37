//! The route configuration: one virtual host per route resource, and the pieces of Envoy
//! routes every family shares (string matches, header edits, weighted clusters).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use super::context::{BackendUse, Ctx, HttpFilters};
use super::{gateway_api, istio, networkservices};
use crate::envoy::{EnvoySettings, TranslateError, ROUTE_CONFIG_TYPE};
use crate::ir::{self, RouteIr};
use crate::load::Loaded;
use crate::model::{Kind, Resource, ResourceId, Spec};
use crate::path::FieldPath;

/// The name of the virtual host of a route resource: `<Kind>/<namespace>/<name>`, or
/// `<Kind>/<name>` when it has no namespace.
pub fn vhost_name(id: &ResourceId) -> String {
    id.to_string()
}

/// The route resource a virtual host name stands for (the inverse of [`vhost_name`], read as a
/// [`ResourceId`]); `None` for a name meshcd did not make (not an id, or not of a route kind).
pub fn parse_vhost_name(name: &str) -> Option<ResourceId> {
    name.parse::<ResourceId>()
        .ok()
        .filter(|id| id.kind.is_route())
}

/// The name of a filter chain (TCP and TLS routes) or UDP listener route of a route resource:
/// its [`vhost_name`], `#` and the name of the rule (and match) it comes from, as routes inside
/// a virtual host are named (`TCPRoute/db/db#rules[0]`, `TlsRoute/sni#rules[1].matches[0]`).
pub fn chain_name(id: &ResourceId, rule: &str) -> String {
    format!("{}#{rule}", vhost_name(id))
}

/// The route resource and rule a filter chain name stands for (the inverse of [`chain_name`]);
/// `None` for a name meshcd did not make.
pub fn parse_chain_name(name: &str) -> Option<(ResourceId, String)> {
    let (id, rule) = name.split_once('#')?;
    let id = parse_vhost_name(id)?;
    (!rule.is_empty()).then(|| (id, rule.to_string()))
}

/// The route configuration of a revision, with the backends its routes use.
pub(crate) struct Routes<'a> {
    /// The `RouteConfiguration`.
    pub config: Json,
    /// Backends used, in resource and rule order.
    pub uses: Vec<BackendUse<'a>>,
    /// The optional HTTP filters some route needs in the listener (fault, CORS, session).
    pub filters: HttpFilters,
}

/// Builds the route configuration of every route resource of the revision.
pub(crate) fn route_config<'a>(
    loaded: &'a Loaded,
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> Routes<'a> {
    let mut uses = Vec::new();
    let mut filters = HttpFilters::default();
    let mut vhosts: BTreeMap<String, Json> = BTreeMap::new();
    let mut claimed: BTreeMap<String, ResourceId> = BTreeMap::new();
    for resource in &loaded.resources {
        let kind = resource.id.kind;
        if !kind.is_route() {
            continue;
        }
        if is_layer4(kind) {
            // Listeners of their own (see `l4`).
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
        let mut ctx = Ctx::new(resource, errors, &mut uses);
        let entries = match (&resource.spec, kind) {
            (Spec::NsHttpRoute(_), _) => networkservices::http_routes(&mut ctx, &route),
            (Spec::NsGrpcRoute(_), _) => networkservices::grpc_routes(&mut ctx, &route),
            (Spec::VirtualService(_), _) => istio::http_routes(&mut ctx, &route),
            (Spec::GwRoute(_), Kind::GwGrpcRoute) => gateway_api::grpc_routes(&mut ctx, &route),
            (Spec::GwRoute(_), _) => gateway_api::http_routes(&mut ctx, &route),
            _ => continue,
        };
        filters.add(ctx.filters());
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
        filters,
    }
}

/// True for the route kinds served by listeners of their own (TCP, TLS and UDP routes).
pub(crate) fn is_layer4(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::NsTcpRoute
            | Kind::NsTlsRoute
            | Kind::GwTcpRoute
            | Kind::GwTlsRoute
            | Kind::GwUdpRoute
    )
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

    #[test]
    fn chain_names_go_both_ways() {
        let id = ResourceId {
            kind: Kind::GwTcpRoute,
            namespace: "db".into(),
            name: "pg".into(),
        };
        let name = chain_name(&id, "rules[0]");
        assert_eq!(name, "TCPRoute/db/pg#rules[0]");
        assert_eq!(parse_chain_name(&name), Some((id, "rules[0]".into())));
        assert_eq!(
            parse_chain_name("TlsRoute/sni#rules[1].matches[0]").map(|(i, r)| (i.kind, r)),
            Some((Kind::NsTlsRoute, "rules[1].matches[0]".into()))
        );
        assert_eq!(parse_chain_name("TCPRoute/db/pg"), None);
        assert_eq!(parse_chain_name("TCPRoute/db/pg#"), None);
        assert_eq!(parse_chain_name("Backend/x#rules[0]"), None);
    }
}
