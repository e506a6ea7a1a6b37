//! Putting a rollout step's weights into a translated configuration, and telling whether two
//! configurations differ only in weights (the rollout engine's fast path).
//!
//! A route's weights are in one of two places: the routes of its virtual host in the route
//! configuration (HTTP and gRPC routes), or the `tcp_proxy` of its filter chains in the
//! listeners (TCP and TLS routes, chains named [`chain_name`](super::chain_name)). The TCP
//! proxy takes no cluster of weight 0, so a chain lists the clusters of its split, in order, in
//! its metadata (`filter_metadata.meshcd.clusters`) and its proxy only those with a weight;
//! [`expand_chain_weights`] puts the others back at weight 0, which is how plans compare them.

use serde_json::{Map, Value as Json};

use super::diff::rule_of;
use super::translate::l4::{METADATA_NAMESPACE, TCP_PROXY};
use super::translate::routes::{parse_chain_name, parse_vhost_name};
use super::EnvoyConfig;
use crate::plan::WeightMap;

/// A rollout's moving splits: `(rule, backend keys)` (see
/// [`crate::plan::RolloutPlan::splits`]).
type Splits = [(String, Vec<String>)];

/// Sets the weights of the route `vhost` (its [`vhost_name`](super::vhost_name)) in `config`:
/// for each moving split `(rule, keys)` of a rollout, every Envoy route of that rule (one per
/// match) gets `weights[keys[i]]` as the weight of its `i`th weighted cluster; for a TCP or TLS
/// route, every filter chain of that rule (one per match and port) gets them in its proxy
/// (clusters of weight 0 left out). Errors, leaving `config` unchanged, when the route, a rule
/// or a key is missing or a rule's clusters do not line up with its keys (the route changed
/// shape: the rollout no longer applies).
pub fn set_route_weights(
    config: &mut EnvoyConfig,
    vhost: &str,
    splits: &Splits,
    weights: &WeightMap,
) -> Result<(), String> {
    if splits.is_empty() {
        return Err(format!("the rollout of `{vhost}` names no split"));
    }
    if find_vhost(&config.route_config, vhost).is_some() {
        return set_vhost_weights(&mut config.route_config, vhost, splits, weights);
    }
    let mut listeners = config.listeners.clone();
    let mut chains = chains_of_mut(&mut listeners, vhost);
    if chains.is_empty() {
        return Err(format!(
            "route `{vhost}` has no virtual host or filter chain in the configuration"
        ));
    }
    for (rule, keys) in splits {
        let mut found = false;
        for (rule_name, chain) in chains.iter_mut() {
            if rule_of(rule_name).to_string() != *rule {
                continue;
            }
            let clusters = chain_clusters(chain)
                .ok_or_else(|| format!("`{vhost}` {rule} has no weighted clusters"))?;
            if clusters.len() != keys.len() {
                return Err(format!(
                    "`{vhost}` {rule} has {} weighted clusters, the rollout {}",
                    clusters.len(),
                    keys.len()
                ));
            }
            let mut weighted = Vec::new();
            for (cluster, key) in clusters.iter().zip(keys) {
                let weight = *weights
                    .get(key)
                    .ok_or_else(|| format!("the step has no weight for `{key}` of `{vhost}`"))?;
                if weight > 0 {
                    let mut entry = Map::new();
                    entry.insert("name".into(), Json::String(cluster.clone()));
                    entry.insert("weight".into(), Json::from(weight));
                    weighted.push(Json::Object(entry));
                }
            }
            if weighted.is_empty() {
                return Err(format!(
                    "the step gives no cluster of `{vhost}` {rule} a weight above 0"
                ));
            }
            let list = proxy_weighted_clusters_mut(chain)
                .ok_or_else(|| format!("`{vhost}` {rule} has no weighted clusters"))?;
            *list = weighted;
            found = true;
        }
        if !found {
            return Err(format!("`{vhost}` has no route for {rule}"));
        }
    }
    config.listeners = listeners;
    Ok(())
}

fn set_vhost_weights(
    route_config: &mut Json,
    vhost: &str,
    splits: &Splits,
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

/// True when `a` and `b` are equal once every weight is removed: listeners, clusters and routes
/// are the same, only traffic shares differ (including which clusters of a TCP proxy have a
/// weight at all).
pub fn same_but_weights(a: &EnvoyConfig, b: &EnvoyConfig) -> bool {
    a.clusters == b.clusters
        && strip_weights(&a.route_config) == strip_weights(&b.route_config)
        && a.listeners.len() == b.listeners.len()
        && a.listeners
            .iter()
            .zip(&b.listeners)
            .all(|(x, y)| strip_weights(x) == strip_weights(y))
}

/// The value with every weighted cluster's weight removed, and the weighted clusters of every
/// filter chain that lists its split's clusters in its metadata (those are then fixed by the
/// metadata, and only weights choose among them).
fn strip_weights(value: &Json) -> Json {
    let mut value = value.clone();
    strip(&mut value);
    value
}

fn strip(value: &mut Json) {
    match value {
        Json::Object(map) => {
            if metadata_clusters(map.get("metadata")).is_some() {
                if let Some(filters) = map.get_mut("filters").and_then(Json::as_array_mut) {
                    for filter in filters {
                        if let Some(Json::Object(proxy)) = filter.get_mut("typed_config") {
                            proxy.remove("weighted_clusters");
                        }
                    }
                }
            }
            if let Some(Json::Array(clusters)) = map
                .get_mut("weighted_clusters")
                .and_then(|w| w.get_mut("clusters"))
            {
                for cluster in clusters {
                    if let Json::Object(entry) = cluster {
                        entry.remove("weight");
                    }
                }
            }
            for child in map.values_mut() {
                strip(child);
            }
        }
        Json::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// The cluster behind each backend key of a rollout's moving splits of route `vhost` (keys in
/// split order; the first route, or filter chain, of each rule is read). Empty when the route or
/// a rule is missing.
pub fn split_clusters(config: &EnvoyConfig, vhost: &str, splits: &Splits) -> Vec<(String, String)> {
    if let Some(host) = find_vhost(&config.route_config, vhost) {
        let Some(routes) = host.get("routes").and_then(Json::as_array) else {
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
        return out;
    }
    let chains = chains_of(&config.listeners, vhost);
    let mut out = Vec::new();
    for (rule, keys) in splits {
        let Some(clusters) = chains
            .iter()
            .find(|(name, _)| rule_of(name).to_string() == *rule)
            .and_then(|(_, chain)| chain_clusters(chain))
        else {
            return Vec::new();
        };
        for (key, cluster) in keys.iter().zip(clusters) {
            out.push((key.clone(), cluster));
        }
    }
    out
}

/// True when every weighted cluster list of `value` (a route configuration, a listener, or any
/// part of a configuration) has weights that Envoy accepts: in a route, each present and at most
/// `u32::MAX`, with a sum above 0 that fits in a `u32`; in a TCP proxy, each at least 1 as
/// well. The publish fast path skips `envoy --mode validate` only for such weights (see
/// [`all_weights_are_valid`] for a whole configuration).
pub fn weights_are_valid(value: &Json) -> bool {
    match value {
        Json::Object(map) => {
            let tcp_proxy = map
                .get("@type")
                .and_then(Json::as_str)
                .is_some_and(|t| t.ends_with(".tcp_proxy.v3.TcpProxy"));
            if let Some(weighted) = map.get("weighted_clusters") {
                if !weighted_list_is_valid(weighted.get("clusters"), tcp_proxy) {
                    return false;
                }
            }
            map.values().all(weights_are_valid)
        }
        Json::Array(items) => items.iter().all(weights_are_valid),
        _ => true,
    }
}

/// [`weights_are_valid`] for every part of a configuration: its routes and its listeners.
pub fn all_weights_are_valid(config: &EnvoyConfig) -> bool {
    weights_are_valid(&config.route_config) && config.listeners.iter().all(weights_are_valid)
}

fn weighted_list_is_valid(clusters: Option<&Json>, tcp_proxy: bool) -> bool {
    let Some(clusters) = clusters.and_then(Json::as_array) else {
        return false;
    };
    let minimum = u64::from(tcp_proxy);
    let mut sum: u64 = 0;
    for cluster in clusters {
        match cluster.get("weight").and_then(Json::as_u64) {
            Some(w) if w >= minimum && w <= u64::from(u32::MAX) => sum += w,
            _ => return false,
        }
    }
    sum > 0 && sum <= u64::from(u32::MAX)
}

/// The virtual host `name` of a route configuration.
fn find_vhost<'j>(route_config: &'j Json, name: &str) -> Option<&'j Json> {
    route_config
        .get("virtual_hosts")
        .and_then(Json::as_array)?
        .iter()
        .find(|h| h.get("name").and_then(Json::as_str) == Some(name))
}

/// The filter chains of route `vhost` in `listeners`, with their rule names.
fn chains_of<'j>(listeners: &'j [Json], vhost: &str) -> Vec<(String, &'j Json)> {
    let Some(id) = parse_vhost_name(vhost) else {
        return Vec::new();
    };
    listeners
        .iter()
        .filter_map(|l| l.get("filter_chains").and_then(Json::as_array))
        .flatten()
        .filter_map(|chain| {
            let (chain_id, rule) = parse_chain_name(chain.get("name")?.as_str()?)?;
            (chain_id == id).then_some((rule, chain))
        })
        .collect()
}

fn chains_of_mut<'j>(listeners: &'j mut [Json], vhost: &str) -> Vec<(String, &'j mut Json)> {
    let Some(id) = parse_vhost_name(vhost) else {
        return Vec::new();
    };
    listeners
        .iter_mut()
        .filter_map(|l| l.get_mut("filter_chains").and_then(Json::as_array_mut))
        .flatten()
        .filter_map(|chain| {
            let name = chain.get("name").and_then(Json::as_str)?.to_string();
            let (chain_id, rule) = parse_chain_name(&name)?;
            (chain_id == id).then_some((rule, chain))
        })
        .collect()
}

/// The clusters of the split of a filter chain, in order, from its metadata.
pub(crate) fn chain_clusters(chain: &Json) -> Option<Vec<String>> {
    metadata_clusters(chain.get("metadata"))
}

fn metadata_clusters(metadata: Option<&Json>) -> Option<Vec<String>> {
    metadata?
        .get("filter_metadata")?
        .get(METADATA_NAMESPACE)?
        .get("clusters")?
        .as_array()?
        .iter()
        .map(|c| c.as_str().map(str::to_string))
        .collect()
}

/// The TCP proxy of a filter chain (its `typed_config`).
fn tcp_proxy_mut(chain: &mut Json) -> Option<&mut Map<String, Json>> {
    chain
        .get_mut("filters")?
        .as_array_mut()?
        .iter_mut()
        .find(|f| f.get("name").and_then(Json::as_str) == Some(TCP_PROXY))?
        .get_mut("typed_config")?
        .as_object_mut()
}

fn proxy_weighted_clusters_mut(chain: &mut Json) -> Option<&mut Vec<Json>> {
    tcp_proxy_mut(chain)?
        .get_mut("weighted_clusters")?
        .get_mut("clusters")?
        .as_array_mut()
}

/// A filter chain with every cluster of its split (from its metadata) in its TCP proxy's
/// weighted clusters, those left out at weight 0, in split order: the form in which plans
/// compare weights.
pub(crate) fn expand_chain_weights(chain: &mut Json) {
    let Some(clusters) = chain_clusters(chain) else {
        return;
    };
    let Some(list) = proxy_weighted_clusters_mut(chain) else {
        return;
    };
    let weight_of = |name: &str| {
        list.iter()
            .find(|c| c.get("name").and_then(Json::as_str) == Some(name))
            .and_then(|c| c.get("weight").cloned())
            .unwrap_or(Json::from(0))
    };
    let expanded: Vec<Json> = clusters
        .iter()
        .map(|name| {
            let mut entry = Map::new();
            entry.insert("name".into(), Json::String(name.clone()));
            entry.insert("weight".into(), weight_of(name));
            Json::Object(entry)
        })
        .collect();
    *list = expanded;
}

/// The weighted clusters of a route or a filter chain (its TCP proxy's).
pub(crate) fn weighted_clusters(entry: &Json) -> Option<&Vec<Json>> {
    if let Some(clusters) = entry.pointer("/route/weighted_clusters/clusters") {
        return clusters.as_array();
    }
    entry
        .get("filters")?
        .as_array()?
        .iter()
        .find_map(|f| f.pointer("/typed_config/weighted_clusters/clusters"))?
        .as_array()
}

/// [`weighted_clusters`], mutable.
pub(crate) fn weighted_clusters_mut(entry: &mut Json) -> Option<&mut Vec<Json>> {
    if entry.pointer("/route/weighted_clusters/clusters").is_some() {
        return entry
            .pointer_mut("/route/weighted_clusters/clusters")?
            .as_array_mut();
    }
    entry
        .get_mut("filters")?
        .as_array_mut()?
        .iter_mut()
        .find_map(|f| f.pointer_mut("/typed_config/weighted_clusters/clusters"))?
        .as_array_mut()
}
