//! The shape of a route configuration: what verification compares between the written and the
//! served configuration, and what adoption compares between the files and a running Envoy.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

/// What verification compares between the written and the served route configuration: the
/// virtual hosts (name, domains) and, per route, its destination clusters and weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteShape {
    vhosts: BTreeMap<String, (BTreeSet<String>, Vec<Target>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Cluster(String),
    Weighted(Vec<(String, u64)>),
    /// Redirects, direct responses, header-named clusters: compared by kind only.
    Other(String),
}

impl RouteShape {
    /// The shape of a `RouteConfiguration` in Envoy v3 JSON.
    pub fn of(route_config: &Json) -> Self {
        let mut vhosts = BTreeMap::new();
        for vhost in route_config
            .get("virtual_hosts")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = vhost
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let domains = vhost
                .get("domains")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect();
            let routes = vhost
                .get("routes")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .map(Target::of)
                .collect();
            vhosts.insert(name, (domains, routes));
        }
        Self { vhosts }
    }

    /// A one-line description, e.g. `svc: [a=80 b=20]`.
    pub fn summary(&self) -> String {
        self.vhosts
            .iter()
            .map(|(name, (_, routes))| {
                let routes: Vec<String> = routes.iter().map(Target::summary).collect();
                format!("{name}: [{}]", routes.join("; "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Target {
    fn of(route: &Json) -> Self {
        if let Some(action) = route.get("route") {
            if let Some(cluster) = action.get("cluster").and_then(Json::as_str) {
                return Self::Cluster(cluster.to_string());
            }
            if let Some(weighted) = action.get("weighted_clusters") {
                let clusters = weighted
                    .get("clusters")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let name = c.get("name").and_then(Json::as_str).unwrap_or("");
                        let weight = match c.get("weight") {
                            Some(Json::Number(n)) => n.as_u64().unwrap_or(0),
                            Some(Json::String(s)) => s.parse().unwrap_or(0),
                            _ => 0,
                        };
                        (name.to_string(), weight)
                    })
                    .collect();
                return Self::Weighted(clusters);
            }
            return Self::Other("route".to_string());
        }
        for kind in [
            "redirect",
            "direct_response",
            "filter_action",
            "non_forwarding_action",
        ] {
            if route.get(kind).is_some() {
                return Self::Other(kind.to_string());
            }
        }
        Self::Other("unknown".to_string())
    }

    fn summary(&self) -> String {
        match self {
            Self::Cluster(name) => name.clone(),
            Self::Weighted(clusters) => clusters
                .iter()
                .map(|(name, weight)| format!("{name}={weight}"))
                .collect::<Vec<_>>()
                .join(" "),
            Self::Other(kind) => kind.clone(),
        }
    }
}
