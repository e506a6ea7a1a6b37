//! Putting a rollout step's weights into a translated configuration, and telling whether two
//! configurations differ only in weights (the rollout engine's fast path).

use serde_json::Value as Json;

use super::diff::rule_of;
use super::EnvoyConfig;
use crate::plan::WeightMap;

/// Sets the weights of the virtual host `vhost` in `route_config`: for each moving split
/// `(rule, keys)` of a rollout (see [`crate::plan::RolloutPlan::splits`]), every Envoy route of
/// that rule (one per match) gets `weights[keys[i]]` as the weight of its `i`th weighted
/// cluster. Errors, leaving `route_config` unchanged, when the virtual host, a rule or a key is
/// missing or a rule's clusters do not line up with its keys (the route changed shape: the
/// rollout no longer applies).
pub fn set_route_weights(
    route_config: &mut Json,
    vhost: &str,
    splits: &[(String, Vec<String>)],
    weights: &WeightMap,
) -> Result<(), String> {
    let mut updated = route_config.clone();
    let host = updated
        .get_mut("virtual_hosts")
        .and_then(Json::as_array_mut)
        .and_then(|hosts| {
            hosts
                .iter_mut()
                .find(|h| h.get("name").and_then(Json::as_str) == Some(vhost))
        })
        .ok_or_else(|| format!("virtual host `{vhost}` is not in the configuration"))?;
    let routes = host
        .get_mut("routes")
        .and_then(Json::as_array_mut)
        .ok_or_else(|| format!("virtual host `{vhost}` has no routes"))?;
    if splits.is_empty() {
        return Err(format!("the rollout of `{vhost}` names no split"));
    }
    for (rule, keys) in splits {
        let mut found = false;
        for route in routes.iter_mut() {
            let name = route.get("name").and_then(Json::as_str).unwrap_or("");
            if rule_of(name).to_string() != *rule {
                continue;
            }
            let clusters = route
                .pointer_mut("/route/weighted_clusters/clusters")
                .and_then(Json::as_array_mut)
                .ok_or_else(|| format!("`{vhost}` {rule} has no weighted clusters"))?;
            if clusters.len() != keys.len() {
                return Err(format!(
                    "`{vhost}` {rule} has {} weighted clusters, the rollout {}",
                    clusters.len(),
                    keys.len()
                ));
            }
            for (cluster, key) in clusters.iter_mut().zip(keys) {
                let weight = weights
                    .get(key)
                    .ok_or_else(|| format!("the step has no weight for `{key}` of `{vhost}`"))?;
                if let Json::Object(entry) = cluster {
                    entry.insert("weight".into(), Json::from(*weight));
                }
            }
            found = true;
        }
        if !found {
            return Err(format!("`{vhost}` has no route for {rule}"));
        }
    }
    *route_config = updated;
    Ok(())
}

/// True when `a` and `b` are equal once every weighted cluster's weight is removed: listeners,
/// clusters and routes are the same, only traffic shares differ.
pub fn same_but_weights(a: &EnvoyConfig, b: &EnvoyConfig) -> bool {
    a.listeners == b.listeners
        && a.clusters == b.clusters
        && strip_weights(&a.route_config) == strip_weights(&b.route_config)
}

fn strip_weights(route_config: &Json) -> Json {
    let mut value = route_config.clone();
    if let Some(hosts) = value.get_mut("virtual_hosts").and_then(Json::as_array_mut) {
        for host in hosts {
            if let Some(routes) = host.get_mut("routes").and_then(Json::as_array_mut) {
                for route in routes {
                    if let Some(clusters) = route
                        .pointer_mut("/route/weighted_clusters/clusters")
                        .and_then(Json::as_array_mut)
                    {
                        for cluster in clusters {
                            if let Json::Object(entry) = cluster {
                                entry.remove("weight");
                            }
                        }
                    }
                }
            }
        }
    }
    value
}

/// The cluster behind each backend key of a rollout's moving splits in virtual host `vhost`
/// (keys in split order; the first route of each rule is read). Empty when the virtual host or a
/// rule is missing.
pub fn split_clusters(
    route_config: &Json,
    vhost: &str,
    splits: &[(String, Vec<String>)],
) -> Vec<(String, String)> {
    let Some(routes) = route_config
        .get("virtual_hosts")
        .and_then(Json::as_array)
        .and_then(|hosts| {
            hosts
                .iter()
                .find(|h| h.get("name").and_then(Json::as_str) == Some(vhost))
        })
        .and_then(|host| host.get("routes"))
        .and_then(Json::as_array)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (rule, keys) in splits {
        let clusters = routes
            .iter()
            .find(|r| {
                rule_of(r.get("name").and_then(Json::as_str).unwrap_or("")).to_string() == *rule
            })
            .and_then(|r| r.pointer("/route/weighted_clusters/clusters"))
            .and_then(Json::as_array);
        let Some(clusters) = clusters else {
            return Vec::new();
        };
        for (key, cluster) in keys.iter().zip(clusters) {
            let name = cluster.get("name").and_then(Json::as_str).unwrap_or("");
            out.push((key.clone(), name.to_string()));
        }
    }
    out
}

/// True when every weighted cluster list of the route configuration has weights that Envoy
/// accepts: each present and at most `u32::MAX`, with a sum above 0 that fits in a `u32`. The
/// publish fast path skips `envoy --mode validate` only for such weights.
pub fn weights_are_valid(route_config: &Json) -> bool {
    let Some(hosts) = route_config.get("virtual_hosts").and_then(Json::as_array) else {
        return true;
    };
    hosts
        .iter()
        .filter_map(|h| h.get("routes").and_then(Json::as_array))
        .flatten()
        .filter_map(|r| r.pointer("/route/weighted_clusters/clusters"))
        .all(|clusters| {
            let Some(clusters) = clusters.as_array() else {
                return false;
            };
            let mut sum: u64 = 0;
            for cluster in clusters {
                match cluster.get("weight").and_then(Json::as_u64) {
                    Some(w) if w <= u64::from(u32::MAX) => sum += w,
                    _ => return false,
                }
            }
            sum > 0 && sum <= u64::from(u32::MAX)
        })
}
