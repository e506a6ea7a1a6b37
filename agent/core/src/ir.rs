//! The route IR: every family normalized to host → ordered rules → matches → weighted backends.
//!
//! Weight semantics stay exactly those of the source family (see [`effective_weights`]): the IR
//! keeps the weights as written and computes shares the way that family's control plane would.

use serde::Serialize;

use crate::model::{gateway_api as gw, istio, networkservices as ns, Family, Kind, Resource, Spec};
use crate::path::FieldPath;

/// A route in the normalized form.
#[derive(Debug, Clone)]
pub struct RouteIr<'a> {
    /// The resource the route was read from.
    pub resource: &'a Resource,
    /// Hostnames the route claims, as written, with where each is.
    pub hosts: Vec<Located<String>>,
    /// Where the route attaches: the scope in which hostnames must be unique.
    pub scopes: Vec<Scope>,
    /// Rules in evaluation order.
    pub rules: Vec<RuleIr>,
}

/// A value with the path of the field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Its field.
    pub path: FieldPath,
}

/// An attachment scope. Two routes conflict on a hostname only when their scopes meet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// A mesh by short name. `Mesh(None)` is "the mesh" as Istio and Gateway API (GAMMA)
    /// routes name it: it meets every mesh.
    Mesh(Option<String>),
    /// Istio's `external-mesh` (Cloud Run and other clients outside the cluster); it meets
    /// every mesh too, since the same service answers both.
    ExternalMesh,
    /// A gateway (networkservices Gateway, Istio Gateway or Gateway API Gateway) by name.
    Gateway(String),
}

impl Scope {
    /// True when routes in both scopes are seen by the same clients.
    pub fn meets(&self, other: &Scope) -> bool {
        use Scope::*;
        match (self, other) {
            (Mesh(None) | ExternalMesh, Mesh(_) | ExternalMesh) => true,
            (Mesh(_), Mesh(None) | ExternalMesh) => true,
            (Mesh(Some(a)), Mesh(Some(b))) => a == b,
            (Gateway(a), Gateway(b)) => a == b,
            _ => false,
        }
    }
}

/// The protocol a rule routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP.
    Http,
    /// gRPC.
    Grpc,
    /// TCP.
    Tcp,
    /// TLS passthrough (SNI).
    Tls,
    /// UDP.
    Udp,
}

/// One rule: matches and what to do.
#[derive(Debug, Clone)]
pub struct RuleIr {
    /// Path of the rule in the document.
    pub path: FieldPath,
    /// Protocol.
    pub protocol: Protocol,
    /// Alternatives (OR); empty means "matches everything".
    pub matches: Vec<MatchIr>,
    /// Weighted backends, when the rule forwards.
    pub split: Option<Split>,
    /// True when the rule redirects.
    pub redirect: bool,
}

/// A request match (fields AND'd).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchIr {
    /// Path match.
    pub path: Option<PathMatch>,
    /// Header names the match tests.
    pub headers: Vec<String>,
    /// Query parameter names the match tests.
    pub query_params: Vec<String>,
    /// Method (HTTP verb, or gRPC `service/method`).
    pub method: Option<String>,
}

/// A path match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The whole path.
    Exact(String),
    /// A prefix.
    Prefix(String),
    /// A regular expression.
    Regex(String),
}

/// The weighted backends of a rule.
#[derive(Debug, Clone)]
pub struct Split {
    /// The family whose weight semantics apply.
    pub family: Family,
    /// Path of the backend list.
    pub path: FieldPath,
    /// Backends in order.
    pub backends: Vec<BackendIr>,
}

/// A backend of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendIr {
    /// A short, stable key for output: `target`, `reviews/v2`, `ads`.
    pub key: String,
    /// The referent's name (networkservices: backend service short name; Istio: host; Gateway
    /// API: object name).
    pub name: String,
    /// The referent's namespace where it has one.
    pub namespace: String,
    /// Istio subset.
    pub subset: Option<String>,
    /// Weight as written (`None` when omitted).
    pub weight: Option<i64>,
    /// Path of the backend entry.
    pub path: FieldPath,
}

/// Why a split's weights cannot be turned into shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightProblem {
    /// A weight is negative (index of the backend).
    Negative(usize),
    /// networkservices: some destinations weighted, some not (index of an unweighted one).
    Partial(usize),
    /// Above the family's maximum (index, maximum).
    OutOfRange(usize, i64),
    /// Several backends and a total of zero.
    ZeroTotal,
}

/// The largest Gateway API weight.
pub const GATEWAY_API_MAX_WEIGHT: i64 = 1_000_000;
/// The largest weight networkservices and Istio take (int32).
pub const INT32_MAX_WEIGHT: i64 = i32::MAX as i64;

/// The weights a family's control plane uses for a list of written weights.
///
/// - networkservices: all weighted or none; none weighted is an equal split; one destination
///   gets everything.
/// - Istio: an omitted weight is 0; a single destination gets everything whatever its weight;
///   several with total 0 is invalid.
/// - Gateway API: an omitted weight is 1; range 0..=1,000,000; all zero means no backend gets
///   traffic (the rule answers 500), which is valid and returned as all zeros.
pub fn effective_weights(
    family: Family,
    written: &[Option<i64>],
) -> Result<Vec<u64>, WeightProblem> {
    if let Some(i) = written.iter().position(|w| w.is_some_and(|w| w < 0)) {
        return Err(WeightProblem::Negative(i));
    }
    let max = if family == Family::GatewayApi {
        GATEWAY_API_MAX_WEIGHT
    } else {
        INT32_MAX_WEIGHT
    };
    if let Some(i) = written.iter().position(|w| w.is_some_and(|w| w > max)) {
        return Err(WeightProblem::OutOfRange(i, max));
    }
    let weights: Vec<u64> = match family {
        Family::NetworkServices => {
            let weighted = written.iter().filter(|w| w.is_some()).count();
            if weighted == 0 {
                return Ok(vec![1; written.len()]);
            }
            if weighted < written.len() {
                return Err(WeightProblem::Partial(
                    written.iter().position(Option::is_none).unwrap_or(0),
                ));
            }
            written.iter().map(|w| w.unwrap_or(0) as u64).collect()
        }
        Family::GatewayApi => written.iter().map(|w| w.unwrap_or(1) as u64).collect(),
        _ => written.iter().map(|w| w.unwrap_or(0) as u64).collect(),
    };
    if weights.len() == 1 && family != Family::GatewayApi {
        return Ok(vec![1]);
    }
    if weights.len() > 1 && weights.iter().sum::<u64>() == 0 && family != Family::GatewayApi {
        return Err(WeightProblem::ZeroTotal);
    }
    Ok(weights)
}

/// Whole percentages (summing to 100) for weights, by largest remainder; all zero stays zero.
pub fn percentages(weights: &[u64]) -> Vec<u64> {
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights
        .iter()
        .map(|w| *w as f64 * 100.0 / total as f64)
        .collect();
    let mut result: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        let ra = exact[*a] - exact[*a].floor();
        let rb = exact[*b] - exact[*b].floor();
        rb.total_cmp(&ra).then(a.cmp(b))
    });
    let missing = 100 - result.iter().sum::<u64>();
    for i in order.into_iter().take(missing as usize) {
        result[i] += 1;
    }
    result
}

impl Split {
    /// Written weights.
    pub fn written(&self) -> Vec<Option<i64>> {
        self.backends.iter().map(|b| b.weight).collect()
    }

    /// Effective weights under the family's semantics.
    pub fn weights(&self) -> Result<Vec<u64>, WeightProblem> {
        effective_weights(self.family, &self.written())
    }

    /// Traffic shares in percent (summing to 100, or all 0 when no backend gets traffic).
    pub fn percentages(&self) -> Result<Vec<u64>, WeightProblem> {
        self.weights().map(|w| percentages(&w))
    }
}

impl RouteIr<'_> {
    /// The weighted backends of the rule at `rule` (its path in the document), if it forwards.
    pub fn split_of(&self, rule: &FieldPath) -> Option<&Split> {
        self.rules
            .iter()
            .find(|r| &r.path == rule)
            .and_then(|r| r.split.as_ref())
    }
}

/// Builds the IR of every route resource.
pub fn routes(resources: &[Resource]) -> Vec<RouteIr<'_>> {
    resources.iter().filter_map(route).collect()
}

/// Builds the IR of one resource, or `None` for kinds that do not route.
pub fn route(resource: &Resource) -> Option<RouteIr<'_>> {
    let root = resource.spec_path();
    let located_hosts = |hosts: &[String], field: &str| -> Vec<Located<String>> {
        hosts
            .iter()
            .enumerate()
            .map(|(i, h)| Located {
                value: h.clone(),
                path: root.key(field).index(i),
            })
            .collect()
    };
    let ns_scopes = |meshes: &[String], gateways: &[String]| -> Vec<Scope> {
        meshes
            .iter()
            .map(|m| Scope::Mesh(Some(ns::short_name(m).to_string())))
            .chain(
                gateways
                    .iter()
                    .map(|g| Scope::Gateway(ns::short_name(g).to_string())),
            )
            .collect()
    };
    let ir = match &resource.spec {
        Spec::NsHttpRoute(r) => RouteIr {
            resource,
            hosts: located_hosts(&r.hostnames, "hostnames"),
            scopes: ns_scopes(&r.meshes, &r.gateways),
            rules: r
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| ns_http_rule(rule, root.key("rules").index(i)))
                .collect(),
        },
        Spec::NsGrpcRoute(r) => RouteIr {
            resource,
            hosts: located_hosts(&r.hostnames, "hostnames"),
            scopes: ns_scopes(&r.meshes, &r.gateways),
            rules: r
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let path = root.key("rules").index(i);
                    RuleIr {
                        protocol: Protocol::Grpc,
                        matches: rule.matches.iter().map(grpc_match).collect(),
                        split: rule.action.as_ref().map(|a| {
                            ns_split(&a.destinations, path.key("action").key("destinations"))
                        }),
                        redirect: false,
                        path,
                    }
                })
                .collect(),
        },
        Spec::NsTcpRoute(r) => RouteIr {
            resource,
            hosts: Vec::new(),
            scopes: ns_scopes(&r.meshes, &r.gateways),
            rules: r
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let path = root.key("rules").index(i);
                    RuleIr {
                        protocol: Protocol::Tcp,
                        matches: rule.matches.iter().map(|_| MatchIr::default()).collect(),
                        split: rule
                            .action
                            .as_ref()
                            .filter(|a| !a.destinations.is_empty())
                            .map(|a| {
                                ns_split(&a.destinations, path.key("action").key("destinations"))
                            }),
                        redirect: false,
                        path,
                    }
                })
                .collect(),
        },
        Spec::NsTlsRoute(r) => RouteIr {
            resource,
            hosts: r
                .rules
                .iter()
                .enumerate()
                .flat_map(|(i, rule)| {
                    rule.matches.iter().enumerate().flat_map(move |(j, m)| {
                        m.sni_host.iter().enumerate().map(move |(k, h)| Located {
                            value: h.clone(),
                            path: FieldPath::root()
                                .key("rules")
                                .index(i)
                                .key("matches")
                                .index(j)
                                .key("sniHost")
                                .index(k),
                        })
                    })
                })
                .collect(),
            scopes: ns_scopes(&r.meshes, &r.gateways),
            rules: r
                .rules
                .iter()
                .enumerate()
                .map(|(i, rule)| {
                    let path = root.key("rules").index(i);
                    RuleIr {
                        protocol: Protocol::Tls,
                        matches: rule.matches.iter().map(|_| MatchIr::default()).collect(),
                        split: rule.action.as_ref().map(|a| {
                            ns_split(&a.destinations, path.key("action").key("destinations"))
                        }),
                        redirect: false,
                        path,
                    }
                })
                .collect(),
        },
        Spec::VirtualService(vs) => istio_route(resource, vs, &root),
        Spec::GwRoute(spec) => gateway_route(resource, spec, &root),
        _ => return None,
    };
    Some(ir)
}

fn ns_http_rule(rule: &ns::HttpRouteRule, path: FieldPath) -> RuleIr {
    let matches = rule
        .matches
        .iter()
        .map(|m| MatchIr {
            path: m
                .full_path_match
                .clone()
                .map(PathMatch::Exact)
                .or_else(|| m.prefix_match.clone().map(PathMatch::Prefix))
                .or_else(|| m.regex_match.clone().map(PathMatch::Regex)),
            headers: m.headers.iter().filter_map(|h| h.header.clone()).collect(),
            query_params: m
                .query_parameters
                .iter()
                .filter_map(|q| q.query_parameter.clone())
                .collect(),
            method: None,
        })
        .collect();
    let action = rule.action.as_ref();
    RuleIr {
        protocol: Protocol::Http,
        matches,
        split: action
            .filter(|a| !a.destinations.is_empty())
            .map(|a| ns_split(&a.destinations, path.key("action").key("destinations"))),
        redirect: action.is_some_and(|a| a.redirect.is_some()),
        path,
    }
}

fn grpc_match(m: &ns::GrpcRouteMatch) -> MatchIr {
    let method = m.method.as_ref().map(|method| {
        let service = method.grpc_service.as_deref().unwrap_or("*");
        let name = method.grpc_method.as_deref().unwrap_or("*");
        format!("{service}/{name}")
    });
    MatchIr {
        method,
        headers: m.headers.iter().filter_map(|h| h.key.clone()).collect(),
        ..MatchIr::default()
    }
}

/// The destinations of a networkservices rule: each one's service name and weight.
trait NsDestination {
    fn service_name(&self) -> Option<&str>;
    fn weight(&self) -> Option<i64>;
}

impl NsDestination for ns::Destination {
    fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }
    fn weight(&self) -> Option<i64> {
        self.weight
    }
}

impl NsDestination for ns::RouteDestination {
    fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }
    fn weight(&self) -> Option<i64> {
        self.weight
    }
}

fn ns_split<D: NsDestination>(destinations: &[D], path: FieldPath) -> Split {
    Split {
        family: Family::NetworkServices,
        backends: destinations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let full = d.service_name().unwrap_or_default();
                let short = ns::short_name(full).to_string();
                BackendIr {
                    key: short.clone(),
                    name: short,
                    namespace: String::new(),
                    subset: None,
                    weight: d.weight(),
                    path: path.index(i),
                }
            })
            .collect(),
        path,
    }
}

/// The fully qualified form of an Istio host: a short name `ads` in namespace `prod` is
/// `ads.prod.svc.cluster.local`; names with dots are kept.
pub fn istio_fqdn(host: &str, namespace: &str) -> String {
    if host.contains('.') || host.contains('*') {
        host.to_ascii_lowercase()
    } else {
        format!(
            "{}.{namespace}.svc.cluster.local",
            host.to_ascii_lowercase()
        )
    }
}

fn istio_route<'a>(
    resource: &'a Resource,
    vs: &istio::VirtualServiceSpec,
    root: &FieldPath,
) -> RouteIr<'a> {
    let scopes = if vs.gateways.is_empty() {
        vec![Scope::Mesh(None)]
    } else {
        vs.gateways
            .iter()
            .map(|g| match g.as_str() {
                istio::MESH_GATEWAY => Scope::Mesh(None),
                istio::EXTERNAL_MESH_GATEWAY => Scope::ExternalMesh,
                other => Scope::Gateway(other.to_string()),
            })
            .collect()
    };
    let namespace = &resource.id.namespace;
    let mut rules: Vec<RuleIr> = vs
        .http
        .iter()
        .enumerate()
        .map(|(i, http)| {
            let path = root.key("http").index(i);
            let matches = http
                .matches
                .iter()
                .map(|m| MatchIr {
                    path: m.uri.as_ref().and_then(|uri| {
                        uri.exact
                            .clone()
                            .map(PathMatch::Exact)
                            .or_else(|| uri.prefix.clone().map(PathMatch::Prefix))
                            .or_else(|| uri.regex.clone().map(PathMatch::Regex))
                    }),
                    headers: m.headers.keys().cloned().collect(),
                    query_params: m.query_params.keys().cloned().collect(),
                    method: m.method.as_ref().and_then(|v| v.exact.clone()),
                })
                .collect();
            let split = (!http.route.is_empty()).then(|| Split {
                family: Family::Istio,
                path: path.key("route"),
                backends: http
                    .route
                    .iter()
                    .enumerate()
                    .map(|(j, d)| BackendIr {
                        key: match &d.destination.subset {
                            Some(subset) => format!("{}/{subset}", d.destination.host),
                            None => d.destination.host.clone(),
                        },
                        name: istio_fqdn(&d.destination.host, namespace),
                        namespace: namespace.clone(),
                        subset: d.destination.subset.clone(),
                        weight: d.weight,
                        path: path.key("route").index(j),
                    })
                    .collect(),
            });
            RuleIr {
                protocol: Protocol::Http,
                matches,
                split,
                redirect: http.redirect.is_some(),
                path,
            }
        })
        .collect();
    let l4 = vs
        .tcp
        .iter()
        .map(|r| ("tcp", Protocol::Tcp, &r.route, r.matches.len()));
    let tls = vs
        .tls
        .iter()
        .map(|r| ("tls", Protocol::Tls, &r.route, r.matches.len()));
    let mut index = [0usize; 2];
    for (field, protocol, routes, match_count) in l4.chain(tls) {
        let slot = usize::from(protocol == Protocol::Tls);
        let path = root.key(field).index(index[slot]);
        index[slot] += 1;
        let split = (!routes.is_empty()).then(|| Split {
            family: Family::Istio,
            path: path.key("route"),
            backends: routes
                .iter()
                .enumerate()
                .map(|(j, d)| {
                    let host = &d.destination.host;
                    let subset = d.destination.subset.clone();
                    BackendIr {
                        key: subset
                            .as_ref()
                            .map_or(host.clone(), |s| format!("{host}/{s}")),
                        name: istio_fqdn(host, namespace),
                        namespace: namespace.clone(),
                        subset,
                        weight: d.weight,
                        path: path.key("route").index(j),
                    }
                })
                .collect(),
        });
        rules.push(RuleIr {
            protocol,
            matches: vec![MatchIr::default(); match_count],
            split,
            redirect: false,
            path,
        });
    }
    RouteIr {
        resource,
        hosts: vs
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| Located {
                value: istio_fqdn(h, namespace),
                path: root.key("hosts").index(i),
            })
            .collect(),
        scopes,
        rules,
    }
}

fn gateway_route<'a>(
    resource: &'a Resource,
    spec: &gw::RouteSpec,
    root: &FieldPath,
) -> RouteIr<'a> {
    let protocol = match resource.id.kind {
        Kind::GwGrpcRoute => Protocol::Grpc,
        Kind::GwTcpRoute => Protocol::Tcp,
        Kind::GwTlsRoute => Protocol::Tls,
        Kind::GwUdpRoute => Protocol::Udp,
        _ => Protocol::Http,
    };
    let namespace = &resource.id.namespace;
    let scopes = spec
        .parent_refs
        .iter()
        .map(|p| {
            let ns = p.namespace.clone().unwrap_or_else(|| namespace.clone());
            match p.kind.as_deref() {
                Some("Service") => Scope::Mesh(None),
                _ => Scope::Gateway(format!("{ns}/{}", p.name)),
            }
        })
        .collect();
    let rules = spec
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let path = root.key("rules").index(i);
            let matches = rule
                .matches
                .iter()
                .map(|m| MatchIr {
                    path: m.path.as_ref().map(|p| {
                        let value = p.value.clone().unwrap_or_else(|| "/".into());
                        match p.match_type.as_deref() {
                            Some("Exact") => PathMatch::Exact(value),
                            Some("RegularExpression") => PathMatch::Regex(value),
                            _ => PathMatch::Prefix(value),
                        }
                    }),
                    headers: m.headers.iter().map(|h| h.name.clone()).collect(),
                    query_params: m.query_params.iter().map(|q| q.name.clone()).collect(),
                    method: m.method.as_ref().map(|v| match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => {
                            let service =
                                other.get("service").and_then(|s| s.as_str()).unwrap_or("*");
                            let method =
                                other.get("method").and_then(|s| s.as_str()).unwrap_or("*");
                            format!("{service}/{method}")
                        }
                    }),
                })
                .collect();
            let split = (!rule.backend_refs.is_empty()).then(|| Split {
                family: Family::GatewayApi,
                path: path.key("backendRefs"),
                backends: rule
                    .backend_refs
                    .iter()
                    .enumerate()
                    .map(|(j, b)| BackendIr {
                        key: b.name.clone(),
                        name: b.name.clone(),
                        namespace: b.namespace.clone().unwrap_or_else(|| namespace.clone()),
                        subset: None,
                        weight: b.weight,
                        path: path.key("backendRefs").index(j),
                    })
                    .collect(),
            });
            let redirect = rule
                .filters
                .iter()
                .any(|f| f.filter_type == "RequestRedirect");
            RuleIr {
                protocol,
                matches,
                split,
                redirect,
                path,
            }
        })
        .collect();
    RouteIr {
        resource,
        hosts: spec
            .hostnames
            .iter()
            .enumerate()
            .map(|(i, h)| Located {
                value: h.to_ascii_lowercase(),
                path: root.key("hostnames").index(i),
            })
            .collect(),
        scopes,
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networkservices_is_all_or_none() {
        assert_eq!(
            effective_weights(Family::NetworkServices, &[None, None, None]),
            Ok(vec![1, 1, 1])
        );
        assert_eq!(
            effective_weights(Family::NetworkServices, &[Some(99), Some(1)]),
            Ok(vec![99, 1])
        );
        assert_eq!(
            effective_weights(Family::NetworkServices, &[Some(99), None]),
            Err(WeightProblem::Partial(1))
        );
        assert_eq!(
            effective_weights(Family::NetworkServices, &[Some(0)]),
            Ok(vec![1])
        );
    }

    #[test]
    fn istio_needs_no_sum_of_100_but_not_zero() {
        assert_eq!(
            effective_weights(Family::Istio, &[Some(3), Some(1)]),
            Ok(vec![3, 1])
        );
        assert_eq!(
            effective_weights(Family::Istio, &[Some(0), Some(0)]),
            Err(WeightProblem::ZeroTotal)
        );
        assert_eq!(
            effective_weights(Family::Istio, &[None, None]),
            Err(WeightProblem::ZeroTotal)
        );
        assert_eq!(effective_weights(Family::Istio, &[Some(0)]), Ok(vec![1]));
        assert_eq!(
            effective_weights(Family::Istio, &[Some(-1), Some(2)]),
            Err(WeightProblem::Negative(0))
        );
    }

    #[test]
    fn gateway_api_defaults_to_one_and_caps_at_a_million() {
        assert_eq!(
            effective_weights(Family::GatewayApi, &[None, Some(3)]),
            Ok(vec![1, 3])
        );
        assert_eq!(
            effective_weights(Family::GatewayApi, &[Some(0), Some(0)]),
            Ok(vec![0, 0])
        );
        assert_eq!(
            effective_weights(Family::GatewayApi, &[Some(1_000_001)]),
            Err(WeightProblem::OutOfRange(0, 1_000_000))
        );
    }

    #[test]
    fn percentages_sum_to_100() {
        assert_eq!(percentages(&[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(percentages(&[99, 1]), vec![99, 1]);
        assert_eq!(percentages(&[0, 0]), vec![0, 0]);
        assert_eq!(percentages(&[3, 1]), vec![75, 25]);
    }

    #[test]
    fn scopes_meet_as_documented() {
        assert!(Scope::Mesh(None).meets(&Scope::Mesh(Some("m".into()))));
        assert!(Scope::ExternalMesh.meets(&Scope::Mesh(Some("m".into()))));
        assert!(!Scope::Mesh(Some("a".into())).meets(&Scope::Mesh(Some("b".into()))));
        assert!(!Scope::Gateway("g".into()).meets(&Scope::Mesh(None)));
    }
}
