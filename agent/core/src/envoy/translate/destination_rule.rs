//! Istio DestinationRules: subset labels, and the traffic policy fields Envoy clusters take
//! (load balancing and outlier detection, as Istio builds them).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use super::clusters::Index;
use super::context::BackendUse;
use super::value;
use crate::envoy::TranslateError;
use crate::ir::istio_fqdn;
use crate::model::istio::DestinationRuleSpec;
use crate::model::Resource;
use crate::path::FieldPath;

/// The DestinationRule for an Istio host (fully qualified), if any.
fn destination_rule<'l>(
    index: &Index<'l>,
    host: &str,
) -> Option<(&'l Resource, &'l DestinationRuleSpec)> {
    index
        .rules
        .iter()
        .find(|(r, dr)| istio_fqdn(&dr.host, &r.id.namespace) == host)
        .copied()
}

/// The labels of a subset of the DestinationRule for `host`.
pub(super) fn subset_labels(
    index: &Index<'_>,
    host: &str,
    subset: &str,
) -> Option<BTreeMap<String, String>> {
    let (_, dr) = destination_rule(index, host)?;
    dr.subsets
        .iter()
        .find(|s| s.name == subset)
        .map(|s| s.labels.clone())
}

/// The cluster fields of the DestinationRule traffic policy for an Istio backend (the subset's
/// policy overrides the rule's, field by field); `None` when it has fields the target cannot
/// translate (errors recorded).
pub(super) fn destination_policy(
    index: &Index<'_>,
    used: &BackendUse<'_>,
    errors: &mut Vec<TranslateError>,
) -> Option<Map<String, Json>> {
    let Some((resource, dr)) = destination_rule(index, &used.backend.name) else {
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
