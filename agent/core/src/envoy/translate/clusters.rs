//! Clusters: one per backend the routes use, with endpoints from meshcd Backends or Istio
//! ServiceEntries (see the [module docs](crate::envoy) for the order), and Istio
//! DestinationRule load balancing and outlier detection.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value as Json};

use super::context::BackendUse;
use super::destination_rule::destination_policy;
use super::service_entry::from_service_entry;
use super::value;
use crate::envoy::{EnvoySettings, TranslateError, CLUSTER_TYPE};
use crate::ir::{istio_fqdn, BackendIr};
use crate::load::Loaded;
use crate::model::istio::{DestinationRuleSpec, ServiceEntrySpec, WorkloadEntrySpec};
use crate::model::{Family, Resource, Spec};

/// `@type` of the upstream HTTP protocol options.
const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// The name of a backend's cluster: the backend's name (networkservices: the backend service's
/// short name, `target`; Istio: the fully qualified host, `ads.ads.svc.cluster.local`; Gateway
/// API: the object name, `store`), then `_<subset>` for an Istio subset
/// (`ads.ads.svc.cluster.local_v2`), with every character outside `[A-Za-z0-9._-]` replaced by
/// `_`. Backends with the same name in different Gateway API namespaces share a cluster, so
/// they must resolve to the same endpoints (translation reports them otherwise).
pub fn cluster_name(backend: &BackendIr) -> String {
    let base = match &backend.subset {
        Some(subset) => format!("{}_{subset}", backend.name),
        None => backend.name.clone(),
    };
    sanitize(&base)
}

/// `text` with every character outside `[A-Za-z0-9._-]` replaced by `_` (`_` when empty).
pub(crate) fn sanitize(text: &str) -> String {
    if text.is_empty() {
        return "_".into();
    }
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One endpoint address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    pub(super) address: String,
    pub(super) port: u16,
}

/// Where a backend's traffic goes, and how.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Resolved {
    pub(super) endpoints: Vec<Endpoint>,
    /// The source declares HTTP/2 (Backend `protocol: http2`, ServiceEntry port `HTTP2`/`GRPC`).
    pub(super) http2: bool,
    /// Cluster fields from a DestinationRule (`lb_policy`, `outlier_detection`).
    pub(super) policy: Map<String, Json>,
}

/// The resources endpoints and traffic policies come from, indexed once per translation.
pub(super) struct Index<'l> {
    /// meshcd Backends by `metadata.name` (the first of a name wins).
    pub(super) backends_by_name: BTreeMap<&'l str, &'l Resource>,
    /// meshcd Backends by alias (the first of an alias wins).
    pub(super) backends_by_alias: BTreeMap<&'l str, &'l Resource>,
    /// Istio ServiceEntries.
    pub(super) entries: Vec<(&'l Resource, &'l ServiceEntrySpec)>,
    /// Istio WorkloadEntries.
    pub(super) workloads: Vec<(&'l Resource, &'l WorkloadEntrySpec)>,
    /// Istio DestinationRules.
    pub(super) rules: Vec<(&'l Resource, &'l DestinationRuleSpec)>,
}

impl<'l> Index<'l> {
    fn new(loaded: &'l Loaded) -> Self {
        let mut index = Index {
            backends_by_name: BTreeMap::new(),
            backends_by_alias: BTreeMap::new(),
            entries: Vec::new(),
            workloads: Vec::new(),
            rules: Vec::new(),
        };
        for r in &loaded.resources {
            match &r.spec {
                Spec::Backend(spec) => {
                    index
                        .backends_by_name
                        .entry(r.id.name.as_str())
                        .or_insert(r);
                    for alias in &spec.aliases {
                        index.backends_by_alias.entry(alias.as_str()).or_insert(r);
                    }
                }
                Spec::ServiceEntry(se) => index.entries.push((r, se)),
                Spec::WorkloadEntry(we) => index.workloads.push((r, we)),
                Spec::DestinationRule(dr) => index.rules.push((r, dr)),
                _ => {}
            }
        }
        index
    }

    /// The Backend carrying one of `names` (as its name, else as an alias), in that order.
    fn backend(&self, names: &[String]) -> Option<&'l Resource> {
        names.iter().find_map(|name| {
            self.backends_by_name
                .get(name.as_str())
                .or_else(|| self.backends_by_alias.get(name.as_str()))
                .copied()
        })
    }
}

/// The clusters of every backend used, by name.
pub(crate) fn clusters(
    loaded: &Loaded,
    uses: &[BackendUse<'_>],
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> BTreeMap<String, Json> {
    let index = Index::new(loaded);
    let mut by_name: BTreeMap<String, Vec<&BackendUse<'_>>> = BTreeMap::new();
    for used in uses {
        let group = by_name.entry(cluster_name(&used.backend)).or_default();
        // A rule with several matches uses its backends once per match: resolve them once.
        let seen = group
            .iter()
            .any(|u| u.resource.id == used.resource.id && u.backend.path == used.backend.path);
        if !seen {
            group.push(used);
        }
    }
    let connect_timeout = value::duration(&settings.cluster_connect_timeout)
        .unwrap_or_else(|| settings.cluster_connect_timeout.clone());
    let mut clusters = BTreeMap::new();
    for (name, uses) in by_name {
        let mut first: Option<(Resolved, &BackendUse<'_>)> = None;
        let mut ok = true;
        for used in &uses {
            let Some(resolved) = resolve(&index, used, errors) else {
                ok = false;
                continue;
            };
            match &first {
                None => first = Some((resolved, used)),
                Some((earlier, by)) if *earlier != resolved => {
                    errors.push(TranslateError::new(
                        used.resource,
                        &used.backend.path,
                        format!(
                            "backend `{}` maps to cluster `{name}` like `{}` of {}, but resolves to other endpoints",
                            used.backend.key, by.backend.key, by.resource.id
                        ),
                    ));
                    ok = false;
                }
                Some(_) => {}
            }
        }
        let Some((resolved, _)) = first.filter(|_| ok) else {
            continue;
        };
        let http2 = resolved.http2 || uses.iter().any(|u| u.grpc);
        clusters.insert(
            name.clone(),
            cluster_json(&name, &resolved, http2, &connect_timeout),
        );
    }
    clusters
}

fn cluster_json(name: &str, resolved: &Resolved, http2: bool, connect_timeout: &str) -> Json {
    let all_ips = resolved
        .endpoints
        .iter()
        .all(|e| e.address.parse::<IpAddr>().is_ok());
    let lb_endpoints: Vec<Json> = resolved
        .endpoints
        .iter()
        .map(|e| {
            json!({"endpoint": {"address": {"socket_address": {
                "address": e.address,
                "port_value": e.port,
            }}}})
        })
        .collect();
    let mut cluster = Map::new();
    cluster.insert("@type".into(), json!(CLUSTER_TYPE));
    cluster.insert("name".into(), json!(name));
    cluster.insert(
        "type".into(),
        json!(if all_ips { "STATIC" } else { "STRICT_DNS" }),
    );
    cluster.insert("connect_timeout".into(), json!(connect_timeout));
    cluster.extend(resolved.policy.clone());
    cluster.insert(
        "load_assignment".into(),
        json!({"cluster_name": name, "endpoints": [{"lb_endpoints": lb_endpoints}]}),
    );
    if http2 {
        cluster.insert(
            "typed_extension_protocol_options".into(),
            json!({HTTP_PROTOCOL_OPTIONS: {
                "@type": format!("type.googleapis.com/{HTTP_PROTOCOL_OPTIONS}"),
                "explicit_http_config": {"http2_protocol_options": {}},
            }}),
        );
    }
    Json::Object(cluster)
}

/// The names a meshcd Backend may carry (as `metadata.name` or an alias) for a backend.
fn candidates(used: &BackendUse<'_>) -> Vec<String> {
    let b = &used.backend;
    let mut names = Vec::new();
    match used.family {
        Family::Istio => {
            let written = used
                .aliases
                .first()
                .cloned()
                .unwrap_or_else(|| b.name.clone());
            match &b.subset {
                Some(subset) => {
                    names.push(format!("{}/{subset}", b.name));
                    names.push(format!("{written}/{subset}"));
                    names.push(cluster_name(b));
                }
                None => {
                    names.push(b.name.clone());
                    names.push(written);
                }
            }
        }
        _ => {
            names.push(b.name.clone());
            names.extend(used.aliases.iter().cloned());
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
}

/// The host an Istio ServiceEntry would declare for a backend, if any.
fn service_host(used: &BackendUse<'_>) -> Option<String> {
    match used.family {
        Family::Istio => Some(used.backend.name.clone()),
        Family::GatewayApi => Some(istio_fqdn(&used.backend.name, &used.backend.namespace)),
        _ => None,
    }
}

/// Where a backend's traffic goes; `None` (with errors recorded) when it cannot be said.
fn resolve(
    index: &Index<'_>,
    used: &BackendUse<'_>,
    errors: &mut Vec<TranslateError>,
) -> Option<Resolved> {
    let names = candidates(used);
    let mut resolved = match index.backend(&names) {
        Some(resource) => from_backend(resource, used.layer4, errors)?,
        None => {
            let from_entry =
                service_host(used).and_then(|host| from_service_entry(index, used, &host, errors));
            match from_entry {
                Some(result) => result?,
                None => {
                    errors.push(TranslateError::new(
                        used.resource,
                        &used.backend.path,
                        format!(
                            "backend `{}` has no endpoints: declare a meshcd Backend named `{}` (kind: Backend, apiVersion: meshcd.dev/v1alpha1) with its endpoints",
                            used.backend.key,
                            names.first().cloned().unwrap_or_default()
                        ),
                    ));
                    return None;
                }
            }
        }
    };
    if used.family == Family::Istio {
        resolved.policy = destination_policy(index, used, errors)?;
    }
    Some(resolved)
}

/// The endpoints of a meshcd Backend; `layer4` when a TCP, TLS or UDP route uses it (any
/// protocol then serves; an HTTP route needs `http` or `http2`).
fn from_backend(
    resource: &Resource,
    layer4: bool,
    errors: &mut Vec<TranslateError>,
) -> Option<Resolved> {
    let Spec::Backend(spec) = &resource.spec else {
        return None;
    };
    let root = resource.spec_path();
    let mut ok = true;
    let http2 = match spec
        .protocol
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("http") | Some("http1") => false,
        Some("http2") | Some("h2c") | Some("grpc") => true,
        Some("tcp") | Some("tls") | Some("udp") if layer4 => false,
        Some(other) => {
            errors.push(TranslateError::new(
                resource,
                &root.key("protocol"),
                if layer4 {
                    format!("protocol `{other}` is not http, http2, tcp, tls or udp")
                } else {
                    format!("protocol `{other}` cannot serve HTTP routes (use http or http2)")
                },
            ));
            ok = false;
            false
        }
    };
    let mut endpoints = Vec::new();
    for (i, e) in spec.endpoints.iter().enumerate() {
        let at = root.key("endpoints").index(i);
        match endpoint(&e.address, e.port) {
            Ok(endpoint) => {
                if !endpoints.contains(&endpoint) {
                    endpoints.push(endpoint);
                }
            }
            Err(message) => {
                errors.push(TranslateError::new(resource, &at, message));
                ok = false;
            }
        }
    }
    if spec.endpoints.is_empty() {
        errors.push(TranslateError::new(
            resource,
            &root.key("endpoints"),
            "the Backend has no endpoints",
        ));
        ok = false;
    }
    ok.then_some(Resolved {
        endpoints,
        http2,
        policy: Map::new(),
    })
}

pub(super) fn endpoint(address: &str, port: i64) -> Result<Endpoint, String> {
    let address = address.trim();
    if address.is_empty() {
        return Err("the endpoint has no address".into());
    }
    if address.starts_with("unix://") || address.contains('/') {
        return Err(format!("`{address}` is not an IP address or host name"));
    }
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("port {port} is outside 1..=65535"))?;
    Ok(Endpoint {
        address: address
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::FieldPath;

    fn backend(name: &str, subset: Option<&str>) -> BackendIr {
        BackendIr {
            key: name.into(),
            name: name.into(),
            namespace: String::new(),
            subset: subset.map(str::to_string),
            weight: None,
            path: FieldPath::root(),
        }
    }

    #[test]
    fn cluster_names_are_sanitized_names_with_subsets() {
        assert_eq!(cluster_name(&backend("target", None)), "target");
        assert_eq!(
            cluster_name(&backend("ads.ads.svc.cluster.local", Some("v2"))),
            "ads.ads.svc.cluster.local_v2"
        );
        assert_eq!(cluster_name(&backend("a b/c:d", None)), "a_b_c_d");
        assert_eq!(cluster_name(&backend("", None)), "_");
    }

    #[test]
    fn endpoints_need_an_address_and_a_port() {
        assert!(endpoint("127.0.0.1", 80).is_ok());
        assert_eq!(endpoint("[::1]", 80).map(|e| e.address), Ok("::1".into()));
        assert!(endpoint("", 80).is_err());
        assert!(endpoint("a", 0).is_err());
        assert!(endpoint("a", 70000).is_err());
        assert!(endpoint("unix:///x", 1).is_err());
    }
}
