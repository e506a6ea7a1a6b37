//! Clusters: one per backend the routes use, with endpoints from meshcd Backends or Istio
//! ServiceEntries (see the [module docs](super) for the order), and Istio DestinationRule load
//! balancing and outlier detection.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value as Json};

use super::context::BackendUse;
use super::{value, EnvoySettings, TranslateError, CLUSTER_TYPE};
use crate::ir::{istio_fqdn, BackendIr};
use crate::load::Loaded;
use crate::model::istio::{DestinationRuleSpec, ServiceEntrySpec};
use crate::model::{Family, Resource, Spec};
use crate::path::FieldPath;

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
struct Endpoint {
    address: String,
    port: u16,
}

/// Where a backend's traffic goes, and how.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    endpoints: Vec<Endpoint>,
    /// The source declares HTTP/2 (Backend `protocol: http2`, ServiceEntry port `HTTP2`/`GRPC`).
    http2: bool,
    /// Cluster fields from a DestinationRule (`lb_policy`, `outlier_detection`).
    policy: Map<String, Json>,
}

/// The clusters of every backend used, by name.
pub(crate) fn clusters(
    loaded: &Loaded,
    uses: &[BackendUse<'_>],
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> BTreeMap<String, Json> {
    let mut by_name: BTreeMap<String, Vec<&BackendUse<'_>>> = BTreeMap::new();
    for used in uses {
        by_name
            .entry(cluster_name(&used.backend))
            .or_default()
            .push(used);
    }
    let connect_timeout = value::duration(&settings.cluster_connect_timeout)
        .unwrap_or_else(|| settings.cluster_connect_timeout.clone());
    let mut clusters = BTreeMap::new();
    for (name, uses) in by_name {
        let mut first: Option<(Resolved, &BackendUse<'_>)> = None;
        let mut ok = true;
        for used in &uses {
            let Some(resolved) = resolve(loaded, used, errors) else {
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
    loaded: &Loaded,
    used: &BackendUse<'_>,
    errors: &mut Vec<TranslateError>,
) -> Option<Resolved> {
    let names = candidates(used);
    let backend = names.iter().find_map(|name| {
        loaded.resources.iter().find(|r| match &r.spec {
            Spec::Backend(spec) => r.id.name == *name || spec.aliases.iter().any(|a| a == name),
            _ => false,
        })
    });
    let mut resolved = match backend {
        Some(resource) => from_backend(resource, errors)?,
        None => {
            let from_entry =
                service_host(used).and_then(|host| from_service_entry(loaded, used, &host, errors));
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
        resolved.policy = destination_policy(loaded, used, errors)?;
    }
    Some(resolved)
}

/// The endpoints of a meshcd Backend.
fn from_backend(resource: &Resource, errors: &mut Vec<TranslateError>) -> Option<Resolved> {
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
        Some(other) => {
            errors.push(TranslateError::new(
                resource,
                &root.key("protocol"),
                format!("protocol `{other}` cannot serve HTTP routes (use http or http2)"),
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

fn endpoint(address: &str, port: i64) -> Result<Endpoint, String> {
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

/// The endpoints an Istio ServiceEntry for `host` declares, filtered by the backend's subset:
/// `None` when no ServiceEntry has the host, `Some(None)` when one has but is unusable (errors
/// recorded).
fn from_service_entry(
    loaded: &Loaded,
    used: &BackendUse<'_>,
    host: &str,
    errors: &mut Vec<TranslateError>,
) -> Option<Option<Resolved>> {
    let (entry_resource, entry) = loaded.resources.iter().find_map(|r| match &r.spec {
        Spec::ServiceEntry(se) if se.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => {
            Some((r, se))
        }
        _ => None,
    })?;
    Some(entry_endpoints(
        loaded,
        used,
        host,
        entry_resource,
        entry,
        errors,
    ))
}

fn entry_endpoints(
    loaded: &Loaded,
    used: &BackendUse<'_>,
    host: &str,
    resource: &Resource,
    entry: &ServiceEntrySpec,
    errors: &mut Vec<TranslateError>,
) -> Option<Resolved> {
    let root = resource.spec_path();
    let port_of = |p: &Json| p.get("number").and_then(Json::as_i64);
    let port = match used.port {
        Some(wanted) => entry
            .ports
            .iter()
            .find(|p| port_of(p) == Some(i64::from(wanted))),
        None if entry.ports.len() == 1 => entry.ports.first(),
        None => None,
    };
    let Some(port) = port else {
        let message = match used.port {
            Some(wanted) => format!("the ServiceEntry for `{host}` has no port {wanted}"),
            None => format!(
                "the ServiceEntry for `{host}` has {} ports; name one in the route's destination",
                entry.ports.len()
            ),
        };
        errors.push(TranslateError::new(resource, &root.key("ports"), message));
        return None;
    };
    let number = port_of(port).unwrap_or(0);
    let port_name = port.get("name").and_then(Json::as_str).unwrap_or("");
    let target = port
        .get("targetPort")
        .and_then(Json::as_i64)
        .unwrap_or(number);
    let http2 = port
        .get("protocol")
        .and_then(Json::as_str)
        .is_some_and(|p| matches!(p.to_ascii_uppercase().as_str(), "HTTP2" | "GRPC"));
    let subset_labels = match &used.backend.subset {
        Some(subset) => match subset_labels(loaded, host, subset) {
            Some(labels) => Some(labels),
            None => {
                errors.push(TranslateError::new(
                    used.resource,
                    &used.backend.path,
                    format!("no DestinationRule for `{host}` defines subset `{subset}`"),
                ));
                return None;
            }
        },
        None => None,
    };
    let selected = |labels: &BTreeMap<String, String>| {
        subset_labels
            .as_ref()
            .is_none_or(|want| want.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    let mut workloads: Vec<(
        FieldPath,
        &Resource,
        &crate::model::istio::WorkloadEntrySpec,
    )> = entry
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| (root.key("endpoints").index(i), resource, e))
        .collect();
    if let Some(selector) = entry
        .workload_selector
        .as_ref()
        .and_then(|s| s.get("labels"))
        .and_then(Json::as_object)
    {
        for r in &loaded.resources {
            if let Spec::WorkloadEntry(we) = &r.spec {
                let matches = r.id.namespace == resource.id.namespace
                    && selector
                        .iter()
                        .all(|(k, v)| we.labels.get(k).map(String::as_str) == v.as_str());
                if matches {
                    workloads.push((r.spec_path(), r, we));
                }
            }
        }
    }
    let mut endpoints = Vec::new();
    let mut ok = true;
    for (path, owner, we) in &workloads {
        if !selected(&we.labels) {
            continue;
        }
        let port = we.ports.get(port_name).copied().unwrap_or(target);
        match endpoint(we.address.as_deref().unwrap_or(""), port) {
            Ok(e) => {
                if !endpoints.contains(&e) {
                    endpoints.push(e);
                }
            }
            Err(message) => {
                errors.push(TranslateError::new(owner, &path.key("address"), message));
                ok = false;
            }
        }
    }
    let dns = matches!(
        entry.resolution.as_deref(),
        Some("DNS") | Some("DNS_ROUND_ROBIN")
    );
    if workloads.is_empty() && dns && !host.contains('*') {
        match endpoint(host, target) {
            Ok(e) => endpoints.push(e),
            Err(message) => {
                errors.push(TranslateError::new(resource, &root.key("hosts"), message));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    if endpoints.is_empty() {
        errors.push(TranslateError::new(
            resource,
            &root,
            format!(
                "the ServiceEntry for `{host}` gives backend `{}` no endpoints; declare a meshcd Backend",
                used.backend.key
            ),
        ));
        return None;
    }
    Some(Resolved {
        endpoints,
        http2,
        policy: Map::new(),
    })
}

/// The DestinationRule for an Istio host (fully qualified), if any.
fn destination_rule<'l>(
    loaded: &'l Loaded,
    host: &str,
) -> Option<(&'l Resource, &'l DestinationRuleSpec)> {
    loaded.resources.iter().find_map(|r| match &r.spec {
        Spec::DestinationRule(dr) if istio_fqdn(&dr.host, &r.id.namespace) == host => Some((r, dr)),
        _ => None,
    })
}

/// The labels of a subset of the DestinationRule for `host`.
fn subset_labels(loaded: &Loaded, host: &str, subset: &str) -> Option<BTreeMap<String, String>> {
    let (_, dr) = destination_rule(loaded, host)?;
    dr.subsets
        .iter()
        .find(|s| s.name == subset)
        .map(|s| s.labels.clone())
}

/// The cluster fields of the DestinationRule traffic policy for an Istio backend (the subset's
/// policy overrides the rule's, field by field); `None` when it has fields the target cannot
/// translate (errors recorded).
fn destination_policy(
    loaded: &Loaded,
    used: &BackendUse<'_>,
    errors: &mut Vec<TranslateError>,
) -> Option<Map<String, Json>> {
    let Some((resource, dr)) = destination_rule(loaded, &used.backend.name) else {
        return Some(Map::new());
    };
    let root = resource.spec_path();
    let mut policies: Vec<(FieldPath, &Json)> = Vec::new();
    if let Some(policy) = &dr.traffic_policy {
        policies.push((root.key("trafficPolicy"), policy));
    }
    if let Some(subset) = &used.backend.subset {
        if let Some((i, s)) = dr
            .subsets
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == *subset)
        {
            if let Some(policy) = &s.traffic_policy {
                policies.push((root.key("subsets").index(i).key("trafficPolicy"), policy));
            }
        }
    }
    let mut fields = Map::new();
    let mut ok = true;
    let mut error = |path: FieldPath, message: String| {
        errors.push(TranslateError::new(resource, &path, message));
        ok = false;
    };
    for (path, policy) in policies {
        let Some(policy) = policy.as_object() else {
            error(path, "expected a mapping".into());
            continue;
        };
        for (key, v) in policy {
            let at = path.key(key);
            match key.as_str() {
                "loadBalancer" => match load_balancer(v) {
                    Ok(Some(lb)) => {
                        fields.insert("lb_policy".into(), json!(lb));
                    }
                    Ok(None) => {
                        fields.remove("lb_policy");
                    }
                    Err(message) => error(at, message),
                },
                "outlierDetection" => match outlier_detection(v) {
                    Ok(od) => {
                        fields.insert("outlier_detection".into(), od);
                    }
                    Err((field, message)) => error(at.key(&field), message),
                },
                _ => error(
                    at,
                    format!("`{key}` is not translated by the envoy target; remove it or use another target"),
                ),
            }
        }
    }
    ok.then_some(fields)
}

/// Envoy's `lb_policy` for an Istio `loadBalancer` (`None`: Envoy's default, round robin).
fn load_balancer(value: &Json) -> Result<Option<&'static str>, String> {
    let Some(map) = value.as_object() else {
        return Err("expected a mapping".into());
    };
    if let Some(key) = map.keys().find(|k| *k != "simple") {
        return Err(format!(
            "`loadBalancer.{key}` is not translated by the envoy target (only `simple`)"
        ));
    }
    match map
        .get("simple")
        .and_then(Json::as_str)
        .unwrap_or("UNSPECIFIED")
    {
        "UNSPECIFIED" | "ROUND_ROBIN" => Ok(None),
        "LEAST_REQUEST" | "LEAST_CONN" => Ok(Some("LEAST_REQUEST")),
        "RANDOM" => Ok(Some("RANDOM")),
        other => Err(format!(
            "load balancer `{other}` is not translated by the envoy target"
        )),
    }
}

/// Envoy's `outlier_detection` for an Istio `outlierDetection`, as Istio builds it: an unset
/// `consecutive5xxErrors` disables 5xx ejection, gateway errors are enforced when set.
fn outlier_detection(value: &Json) -> Result<Json, (String, String)> {
    let Some(map) = value.as_object() else {
        return Err((String::new(), "expected a mapping".into()));
    };
    let mut out = Map::new();
    let count = |key: &str| -> Result<Option<u64>, (String, String)> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n <= u64::from(u32::MAX))
                .map(Some)
                .ok_or_else(|| (key.to_string(), "expected a count".into())),
        }
    };
    let duration = |key: &str| -> Result<Option<String>, (String, String)> {
        match map.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(value::duration)
                .map(Some)
                .ok_or_else(|| (key.to_string(), "expected a duration such as `10s`".into())),
        }
    };
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "consecutive5xxErrors"
                | "consecutiveGatewayErrors"
                | "interval"
                | "baseEjectionTime"
                | "maxEjectionPercent"
        ) {
            return Err((
                key.clone(),
                format!("`{key}` is not translated by the envoy target"),
            ));
        }
    }
    match count("consecutive5xxErrors")? {
        Some(n) => {
            out.insert("consecutive_5xx".into(), json!(n));
            out.insert(
                "enforcing_consecutive_5xx".into(),
                json!(if n > 0 { 100 } else { 0 }),
            );
        }
        None => {
            out.insert("enforcing_consecutive_5xx".into(), json!(0));
        }
    }
    if let Some(n) = count("consecutiveGatewayErrors")? {
        out.insert("consecutive_gateway_failure".into(), json!(n));
        out.insert(
            "enforcing_consecutive_gateway_failure".into(),
            json!(if n > 0 { 100 } else { 0 }),
        );
    }
    if let Some(d) = duration("interval")? {
        out.insert("interval".into(), json!(d));
    }
    if let Some(d) = duration("baseEjectionTime")? {
        out.insert("base_ejection_time".into(), json!(d));
    }
    if let Some(n) = count("maxEjectionPercent")? {
        if n > 100 {
            return Err(("maxEjectionPercent".into(), "expected 0..=100".into()));
        }
        out.insert("max_ejection_percent".into(), json!(n));
    }
    Ok(Json::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

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
