//! What an Envoy holds, normalized so that desired and applied state compare field by field.
//!
//! Envoy's admin `/config_dump` prints the protobuf it keeps, not the JSON it was given: fields
//! at their proto3 default are left out, while wrapper types and `oneof` members are printed
//! even when zero. Measured against Envoy 1.40 (see `fixtures/`), a config applied through
//! files comes back identical except for those defaults. Both sides are therefore brought to
//! one form, [`normalize_vhost`] and [`normalize_cluster`]:
//!
//! 1. only the fields meshcd sets are kept at the top level: a virtual host's `name`,
//!    `domains`, `routes`; a cluster's `name`, `type`, `connect_timeout`, `lb_policy`,
//!    `outlier_detection`, `load_assignment`, `typed_extension_protocol_options`;
//! 2. at every level, `@type` is dropped (the field it sits in fixes the type), and so are
//!    proto3 defaults: empty strings, `false`, `0` and empty lists, except in the wrapper fields
//!    where they mean something (`case_sensitive`, `weight`, `num_retries`, the outlier
//!    detection counts), and enum fields at their zero value (`append_action:
//!    APPEND_IF_EXISTS_OR_ADD`, `denominator: HUNDRED`, `response_code: MOVED_PERMANENTLY`,
//!    `lb_policy: ROUND_ROBIN`, a cluster's `type: STATIC`);
//! 3. keys are sorted. `version_info` and `last_updated` sit beside the resources in a dump
//!    and are never read.
//!
//! TCP, TLS and UDP routes live in listeners: each filter chain named
//! [`chain_name`](super::chain_name) (and each UDP listener whose metadata names a route) is
//! gathered under its route's name into [`EnvoyState::l4_routes`], as
//! `{name, filter_chains: [{listener, name: <rule>, filter_chain_match, filters, metadata}],
//! udp_listeners: [{listener, name: <rule>, listener_filters}]}`, chains sorted by listener and
//! rule, with the TCP proxy's weighted clusters expanded to every cluster of the split (those
//! of weight 0 back in, see [`weights`](super::weights)). The listeners themselves (address,
//! listener filters) follow from the settings and the chains, and are not compared.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::translate::l4::METADATA_NAMESPACE;
use super::translate::routes::parse_chain_name;
use super::weights::expand_chain_weights;
use super::EnvoyConfig;

/// Top-level virtual host fields meshcd sets.
const VHOST_FIELDS: &[&str] = &["name", "domains", "routes"];
/// Filter chain fields meshcd sets.
const CHAIN_FIELDS: &[&str] = &["filter_chain_match", "filters", "metadata"];
/// Top-level cluster fields meshcd sets.
const CLUSTER_FIELDS: &[&str] = &[
    "name",
    "type",
    "connect_timeout",
    "lb_policy",
    "outlier_detection",
    "load_assignment",
    "typed_extension_protocol_options",
];
/// Wrapper fields (`BoolValue`, `UInt32Value`) whose `false` or `0` is printed and meaningful.
const WRAPPERS: &[&str] = &[
    "case_sensitive",
    "weight",
    "num_retries",
    "consecutive_5xx",
    "consecutive_gateway_failure",
    "enforcing_consecutive_5xx",
    "enforcing_consecutive_gateway_failure",
    "max_ejection_percent",
    "allow_credentials",
    "forward_not_matching_preflights",
    "prefix_len",
];
/// Enum fields and their zero value, which Envoy does not print.
const ENUM_DEFAULTS: &[(&str, &str)] = &[
    ("append_action", "APPEND_IF_EXISTS_OR_ADD"),
    ("denominator", "HUNDRED"),
    ("response_code", "MOVED_PERMANENTLY"),
    ("lb_policy", "ROUND_ROBIN"),
];

/// The routes and clusters an Envoy holds (or should hold), normalized (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EnvoyState {
    /// Virtual hosts (HTTP and gRPC routes) by name.
    pub virtual_hosts: BTreeMap<String, Json>,
    /// Clusters by name.
    pub clusters: BTreeMap<String, Json>,
    /// TCP, TLS and UDP routes by name (the [`vhost_name`](super::vhost_name) of the route):
    /// their filter chains and UDP listeners.
    pub l4_routes: BTreeMap<String, Json>,
}

impl EnvoyState {
    /// The state a translated config asks for.
    pub fn from_config(config: &EnvoyConfig) -> EnvoyState {
        let virtual_hosts = config
            .route_config
            .get("virtual_hosts")
            .and_then(Json::as_array)
            .map(|vhosts| vhosts.iter().filter_map(named_vhost).collect())
            .unwrap_or_default();
        let clusters = config.clusters.values().filter_map(named_cluster).collect();
        EnvoyState {
            virtual_hosts,
            clusters,
            l4_routes: l4_routes(config.listeners.iter()),
        }
    }

    /// The state an Envoy reports: `routes` is the JSON of
    /// `/config_dump?resource=dynamic_route_configs` (`configs[].route_config.virtual_hosts[]`),
    /// `clusters` that of `/config_dump?resource=dynamic_active_clusters` (`configs[].cluster`),
    /// `listeners` that of `/config_dump?resource=dynamic_listeners`
    /// (`configs[].active_state.listener`; a listener not active yet is left out). An empty
    /// object (Envoy's answer when it holds none) is an empty state; full dumps, with
    /// `dynamic_route_configs`, `dynamic_active_clusters` and `dynamic_listeners` lists inside
    /// `configs[]`, are read too.
    pub fn from_config_dump(
        routes: &Json,
        clusters: &Json,
        listeners: &Json,
    ) -> Result<EnvoyState, String> {
        let mut state = EnvoyState::default();
        for entry in dump_entries(routes, "dynamic_route_configs", "route_config")? {
            let Some(route_config) = entry.get("route_config") else {
                continue;
            };
            let vhosts = match route_config.get("virtual_hosts") {
                Some(Json::Array(vhosts)) => vhosts.as_slice(),
                None => &[],
                Some(_) => return Err("`virtual_hosts` of a route_config is not a list".into()),
            };
            for vhost in vhosts {
                let (name, value) = named_vhost(vhost).ok_or_else(|| {
                    "a virtual host of the route config dump has no name".to_string()
                })?;
                if state.virtual_hosts.insert(name.clone(), value).is_some() {
                    return Err(format!("virtual host `{name}` occurs twice in the dump"));
                }
            }
        }
        for entry in dump_entries(clusters, "dynamic_active_clusters", "cluster")? {
            let Some(cluster) = entry.get("cluster") else {
                continue;
            };
            let (name, value) = named_cluster(cluster)
                .ok_or_else(|| "a cluster of the cluster config dump has no name".to_string())?;
            state.clusters.insert(name, value);
        }
        let active: Vec<&Json> = dump_entries(listeners, "dynamic_listeners", "active_state")?
            .into_iter()
            .filter_map(|entry| entry.get("active_state")?.get("listener"))
            .collect();
        state.l4_routes = l4_routes(active.into_iter());
        Ok(state)
    }
}

/// The TCP, TLS and UDP routes of listeners, by route name (see the module docs).
fn l4_routes<'j>(listeners: impl Iterator<Item = &'j Json>) -> BTreeMap<String, Json> {
    let mut routes: BTreeMap<String, (Vec<Json>, Vec<Json>)> = BTreeMap::new();
    for listener in listeners {
        let Some(listener_name) = listener.get("name").and_then(Json::as_str) else {
            continue;
        };
        for chain in listener
            .get("filter_chains")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let Some((id, rule)) = chain
                .get("name")
                .and_then(Json::as_str)
                .and_then(parse_chain_name)
            else {
                continue;
            };
            let mut kept = keep(chain, CHAIN_FIELDS);
            expand_chain_weights(&mut kept);
            if let Json::Object(map) = &mut kept {
                map.insert("listener".into(), Json::from(listener_name));
                map.insert("name".into(), Json::from(rule));
            }
            routes
                .entry(id.to_string())
                .or_default()
                .0
                .push(normalize(kept));
        }
        let udp_route = listener
            .pointer(&format!(
                "/metadata/filter_metadata/{METADATA_NAMESPACE}/route"
            ))
            .and_then(Json::as_str)
            .and_then(parse_chain_name);
        if let Some((id, rule)) = udp_route {
            let mut kept = keep(listener, &["listener_filters"]);
            if let Json::Object(map) = &mut kept {
                map.insert("listener".into(), Json::from(listener_name));
                map.insert("name".into(), Json::from(rule));
            }
            routes
                .entry(id.to_string())
                .or_default()
                .1
                .push(normalize(kept));
        }
    }
    let order = |v: &Json| {
        (
            v.get("listener")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
            v.get("name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string(),
        )
    };
    routes
        .into_iter()
        .map(|(name, (mut chains, mut udp))| {
            chains.sort_by_key(order);
            udp.sort_by_key(order);
            let value = normalize(serde_json::json!({
                "name": name,
                "filter_chains": chains,
                "udp_listeners": udp,
            }));
            (name, value)
        })
        .collect()
}

/// The entries of a config dump that hold `field`: `configs[]` itself, or the `list` inside a
/// full dump's `configs[]`.
fn dump_entries<'j>(dump: &'j Json, list: &str, field: &str) -> Result<Vec<&'j Json>, String> {
    let Json::Object(map) = dump else {
        return Err("the config dump is not a JSON object".into());
    };
    let configs = match map.get("configs") {
        Some(Json::Array(configs)) => configs.as_slice(),
        None => &[],
        Some(_) => return Err("`configs` of the config dump is not a list".into()),
    };
    let mut entries = Vec::new();
    for config in configs {
        if config.get(field).is_some() {
            entries.push(config);
        } else if let Some(Json::Array(inner)) = config.get(list) {
            entries.extend(inner.iter());
        }
    }
    Ok(entries)
}

fn named_vhost(vhost: &Json) -> Option<(String, Json)> {
    let name = vhost.get("name")?.as_str()?.to_string();
    Some((name, normalize_vhost(vhost)))
}

fn named_cluster(cluster: &Json) -> Option<(String, Json)> {
    let name = cluster.get("name")?.as_str()?.to_string();
    Some((name, normalize_cluster(cluster)))
}

/// A virtual host in the form desired and applied state are compared in (see the module docs).
pub(crate) fn normalize_vhost(vhost: &Json) -> Json {
    normalize(keep(vhost, VHOST_FIELDS))
}

/// A cluster in the form desired and applied state are compared in (see the module docs).
pub(crate) fn normalize_cluster(cluster: &Json) -> Json {
    let mut value = normalize(keep(cluster, CLUSTER_FIELDS));
    if let Json::Object(map) = &mut value {
        if map.get("type").and_then(Json::as_str) == Some("STATIC") {
            map.remove("type");
        }
    }
    value
}

/// The object with only the given top-level fields.
fn keep(value: &Json, fields: &[&str]) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Drops `@type` and proto3 defaults at every level and sorts keys.
fn normalize(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let sorted: BTreeMap<String, Json> = map
                .into_iter()
                .filter(|(k, _)| k != "@type")
                .map(|(k, v)| {
                    let v = normalize(v);
                    (k, v)
                })
                .filter(|(k, v)| !is_default(k, v))
                .collect();
            Json::Object(sorted.into_iter().collect::<Map<String, Json>>())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// True when `value` is the proto3 default of field `key`, which Envoy does not print.
fn is_default(key: &str, value: &Json) -> bool {
    if ENUM_DEFAULTS
        .iter()
        .any(|(k, default)| *k == key && value.as_str() == Some(default))
    {
        return true;
    }
    match value {
        Json::String(s) => s.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Bool(false) => !WRAPPERS.contains(&key),
        Json::Number(n) => n.as_f64() == Some(0.0) && !WRAPPERS.contains(&key),
        Json::Null => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn drops_defaults_but_keeps_wrappers() {
        let vhost = json!({
            "name": "v",
            "domains": ["a"],
            "extra": 1,
            "routes": [{
                "@type": "x",
                "match": {"prefix": "/", "case_sensitive": false, "headers": []},
                "route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 0}]},
                          "retry_policy": {"retry_on": "", "num_retries": 0}},
                "request_headers_to_add": [{"header": {"key": "k", "value": ""},
                                            "append_action": "APPEND_IF_EXISTS_OR_ADD"}],
                "typed_per_filter_config": {"f": {"@type": "t", "abort": {"percentage":
                    {"numerator": 0, "denominator": "HUNDRED"}}}},
            }],
        });
        assert_eq!(
            normalize_vhost(&vhost),
            json!({
                "domains": ["a"],
                "name": "v",
                "routes": [{
                    "match": {"case_sensitive": false, "prefix": "/"},
                    "request_headers_to_add": [{"header": {"key": "k"}}],
                    "route": {"retry_policy": {"num_retries": 0},
                              "weighted_clusters": {"clusters": [{"name": "a", "weight": 0}]}},
                    "typed_per_filter_config": {"f": {"abort": {"percentage": {}}}},
                }],
            })
        );
    }

    #[test]
    fn static_is_the_default_cluster_type() {
        let a =
            json!({"name": "c", "type": "STATIC", "lb_policy": "ROUND_ROBIN", "last_updated": "x"});
        assert_eq!(normalize_cluster(&a), json!({"name": "c"}));
        let b = json!({"name": "c", "type": "STRICT_DNS"});
        assert_eq!(normalize_cluster(&b), b);
    }

    #[test]
    fn reads_empty_and_malformed_dumps() {
        assert_eq!(
            EnvoyState::from_config_dump(&json!({}), &json!({}), &json!({})),
            Ok(EnvoyState::default())
        );
        assert!(EnvoyState::from_config_dump(&json!([]), &json!({}), &json!({})).is_err());
        assert!(
            EnvoyState::from_config_dump(&json!({"configs": 1}), &json!({}), &json!({})).is_err()
        );
        assert!(EnvoyState::from_config_dump(
            &json!({"configs": [{"route_config": {"virtual_hosts": [{"domains": []}]}}]}),
            &json!({}),
            &json!({})
        )
        .is_err());
        let full = json!({"configs": [{"dynamic_route_configs": [
            {"route_config": {"virtual_hosts": [{"name": "v", "domains": ["a"]}]}}
        ]}]});
        let state = EnvoyState::from_config_dump(&full, &json!({}), &json!({})).expect("reads");
        assert_eq!(state.virtual_hosts.len(), 1);
    }
}
