//! Fleets: which routes a group of Envoys serves, and the part of a configuration that gives.
//!
//! A fleet (the Envoys whose `node.cluster` is its name) serves the routes its patterns select
//! ([`RouteSelector`]); [`select_routes`] keeps those routes' virtual hosts and only the clusters
//! something kept still names, so a fleet never holds clusters of another fleet's routes.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::{parse_chain_name, parse_vhost_name, EnvoyConfig};
use crate::model::ResourceId;

/// Route patterns: a route is selected when a pattern equals its name, `namespace/name` or
/// full id (`Kind/namespace/name`), or is a prefix of one of them written with a final `*`
/// (`*` alone selects every route).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSelector {
    patterns: Vec<String>,
}

impl RouteSelector {
    /// A selector of `patterns` (none selects nothing).
    pub fn new(patterns: Vec<String>) -> Self {
        Self { patterns }
    }

    /// Every route.
    pub fn all() -> Self {
        Self::new(vec!["*".into()])
    }

    /// True when a pattern selects the route.
    pub fn selects(&self, id: &ResourceId) -> bool {
        let names = [
            id.name.clone(),
            format!("{}/{}", id.namespace, id.name),
            id.to_string(),
        ];
        self.patterns.iter().any(|pattern| {
            let pattern = pattern.trim();
            names.iter().any(|name| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
        })
    }
}

/// The part of `config` a fleet serves: the virtual hosts and layer-4 filter chains of the routes
/// `selector` selects (anything meshcd did not name after a route is kept), the listeners left
/// with something to serve, and the clusters that the kept listeners and routes name.
pub fn select_routes(config: &EnvoyConfig, selector: &RouteSelector) -> EnvoyConfig {
    let listeners: Vec<Json> = config
        .listeners
        .iter()
        .filter_map(|listener| select_listener(listener, selector))
        .collect();
    let mut route_config = config.route_config.clone();
    if let Some(vhosts) = route_config
        .get_mut("virtual_hosts")
        .and_then(Json::as_array_mut)
    {
        vhosts.retain(|vhost| {
            vhost
                .get("name")
                .and_then(Json::as_str)
                .and_then(parse_vhost_name)
                .is_none_or(|id| selector.selects(&id))
        });
    }
    let mut named = BTreeSet::new();
    cluster_names(&route_config, &mut named);
    for listener in &listeners {
        cluster_names(listener, &mut named);
    }
    EnvoyConfig {
        listeners,
        clusters: config
            .clusters
            .iter()
            .filter(|(name, _)| named.contains(name.as_str()))
            .map(|(name, cluster)| (name.clone(), cluster.clone()))
            .collect(),
        route_config,
    }
}

/// A listener with only the filter chains of selected routes; `None` when it served routes
/// and none is left (a UDP listener names its route in `metadata.filter_metadata.meshcd.route`).
fn select_listener(listener: &Json, selector: &RouteSelector) -> Option<Json> {
    let route = listener
        .pointer("/metadata/filter_metadata/meshcd/route")
        .and_then(Json::as_str)
        .and_then(|name| {
            parse_chain_name(name)
                .map(|(id, _)| id)
                .or_else(|| parse_vhost_name(name))
        });
    if let Some(id) = route {
        return selector.selects(&id).then(|| listener.clone());
    }
    let mut listener = listener.clone();
    let Some(chains) = listener
        .get_mut("filter_chains")
        .and_then(Json::as_array_mut)
    else {
        return Some(listener);
    };
    let before = chains.len();
    let mut routed = 0;
    chains.retain(|chain| {
        match chain
            .get("name")
            .and_then(Json::as_str)
            .and_then(parse_chain_name)
        {
            Some((id, _)) => {
                routed += 1;
                selector.selects(&id)
            }
            None => true,
        }
    });
    let emptied = routed > 0 && chains.is_empty() && before > 0;
    (!emptied).then_some(listener)
}

/// Every cluster a resource names: `cluster` fields (routes, mirrors, TCP proxies) and the
/// entries of `weighted_clusters`.
fn cluster_names(value: &Json, out: &mut BTreeSet<String>) {
    match value {
        Json::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("cluster", Json::String(name)) => {
                        out.insert(name.clone());
                    }
                    ("weighted_clusters", weighted) => {
                        for entry in weighted
                            .get("clusters")
                            .and_then(Json::as_array)
                            .into_iter()
                            .flatten()
                        {
                            if let Some(name) = entry.get("name").and_then(Json::as_str) {
                                out.insert(name.to_string());
                            }
                        }
                        cluster_names(weighted, out);
                    }
                    _ => cluster_names(item, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|item| cluster_names(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(text: &str) -> ResourceId {
        text.parse().expect("an id")
    }

    #[test]
    fn patterns_match_names_namespaced_names_ids_and_prefixes() {
        let selector = RouteSelector::new(vec!["store/*".into(), "checkout".into()]);
        assert!(selector.selects(&id("HTTPRoute/store/cart")));
        assert!(selector.selects(&id("HttpRoute/checkout")));
        assert!(!selector.selects(&id("HTTPRoute/shop/cart")));
        assert!(RouteSelector::new(vec!["VirtualService/*".into()])
            .selects(&id("VirtualService/ads/ads")));
        assert!(RouteSelector::all().selects(&id("HTTPRoute/a/b")));
        assert!(!RouteSelector::default().selects(&id("HTTPRoute/a/b")));
    }

    #[test]
    fn a_fleet_keeps_its_routes_and_only_the_clusters_they_name() {
        let config = EnvoyConfig {
            listeners: vec![json!({"name": "l"})],
            clusters: ["a", "b", "c", "m"]
                .iter()
                .map(|n| (n.to_string(), json!({"name": n})))
                .collect(),
            route_config: json!({"name": "r", "virtual_hosts": [
                {"name": "HTTPRoute/store/cart", "routes": [{"route": {
                    "weighted_clusters": {"clusters": [{"name": "a"}, {"name": "b"}]},
                    "request_mirror_policies": [{"cluster": "m"}]}}]},
                {"name": "HTTPRoute/shop/other", "routes": [{"route": {"cluster": "c"}}]},
                {"name": "not-a-route", "routes": []},
            ]}),
        };
        let store = select_routes(&config, &RouteSelector::new(vec!["store/*".into()]));
        let vhosts: Vec<&str> = store.route_config["virtual_hosts"]
            .as_array()
            .expect("vhosts")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert_eq!(vhosts, vec!["HTTPRoute/store/cart", "not-a-route"]);
        assert_eq!(
            store.clusters.keys().collect::<Vec<_>>(),
            vec!["a", "b", "m"]
        );
        assert_eq!(store.listeners, config.listeners);
        assert_eq!(select_routes(&config, &RouteSelector::all()), config);
    }

    #[test]
    fn layer4_filter_chains_and_udp_listeners_follow_their_routes() {
        let chain = |name: &str, cluster: &str| json!({"name": name, "filters": [{"typed_config": {"cluster": cluster}}]});
        let config = EnvoyConfig {
            listeners: vec![
                json!({"name": "meshcd_tcp_5432", "filter_chains": [
                    chain("TCPRoute/db/pg#rules[0]", "pg"),
                    chain("TCPRoute/shop/mysql#rules[0]", "mysql"),
                ]}),
                json!({"name": "meshcd_tcp_6379", "filter_chains": [
                    chain("TCPRoute/shop/redis#rules[0]", "redis"),
                ]}),
                json!({"name": "meshcd_udp_53", "metadata": {"filter_metadata": {"meshcd": {
                    "route": "UDPRoute/shop/dns#rules[0]"}}}, "cluster": "dns"}),
            ],
            clusters: ["pg", "mysql", "redis", "dns"]
                .iter()
                .map(|n| (n.to_string(), json!({"name": n})))
                .collect(),
            route_config: json!({"name": "r", "virtual_hosts": []}),
        };
        let db = select_routes(&config, &RouteSelector::new(vec!["db/*".into()]));
        let names: Vec<&str> = db
            .listeners
            .iter()
            .filter_map(|l| l["name"].as_str())
            .collect();
        assert_eq!(names, vec!["meshcd_tcp_5432"]);
        assert_eq!(
            db.listeners[0]["filter_chains"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(db.clusters.keys().collect::<Vec<_>>(), vec!["pg"]);
        let shop = select_routes(&config, &RouteSelector::new(vec!["shop/*".into()]));
        assert_eq!(shop.listeners.len(), 3);
        assert_eq!(
            shop.clusters.keys().collect::<Vec<_>>(),
            vec!["dns", "mysql", "redis"]
        );
    }
}
