//! The configuration as it is written to the watched files: `@type`s added, every HTTP
//! connection manager that uses RDS pointed at this folder's `rds.yaml`, `validate_clusters` on.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value as Json};

use super::EnvoyConfig;
use crate::envoy::files::{self, ResourceKind};
use crate::envoy::EnvoyError;

/// The configuration as it will be written: `@type`s added, RDS pointed at `rds.yaml`,
/// `validate_clusters` on.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) listeners: Vec<Json>,
    pub(super) clusters: BTreeMap<String, Json>,
    pub(super) route_config: Option<Json>,
    pub(super) route_name: Option<String>,
    pub(super) listener_names: Vec<String>,
}

pub(super) fn invalid(reason: impl Into<String>) -> EnvoyError {
    EnvoyError::Invalid {
        reason: reason.into(),
    }
}

pub(super) fn prepare(config: &EnvoyConfig, dir: &Path) -> Result<Prepared, EnvoyError> {
    let (route_config, route_name) = match &config.route_config {
        Json::Null => (None, None),
        Json::Object(map) => {
            let name = map
                .get("name")
                .and_then(Json::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid("the route configuration has no name"))?
                .to_string();
            let mut map = map.clone();
            // Without it a route naming a missing cluster is accepted and its share gets 503.
            map.entry("validate_clusters").or_insert(Json::Bool(true));
            let typed = files::with_type(Json::Object(map), ResourceKind::Routes.type_url());
            (Some(typed), Some(name))
        }
        other => {
            return Err(invalid(format!(
                "the route configuration is not an object: {other}"
            )))
        }
    };
    let mut clusters = BTreeMap::new();
    for (name, cluster) in &config.clusters {
        let Json::Object(map) = cluster else {
            return Err(invalid(format!("cluster {name} is not an object")));
        };
        let mut map = map.clone();
        match map.get("name").and_then(Json::as_str) {
            None => {
                map.insert("name".into(), Json::String(name.clone()));
            }
            Some(inner) if inner != name => {
                return Err(invalid(format!(
                    "cluster {name} is named {inner:?} inside its definition"
                )))
            }
            Some(_) => {}
        }
        let typed = files::with_type(Json::Object(map), ResourceKind::Clusters.type_url());
        clusters.insert(name.clone(), typed);
    }
    let rds = match &route_name {
        Some(name) => Some(json!({
            "route_config_name": name,
            "config_source": files::config_source(dir, ResourceKind::Routes)?,
        })),
        None => None,
    };
    let mut listeners = Vec::with_capacity(config.listeners.len());
    let mut listener_names = Vec::new();
    for listener in &config.listeners {
        let name = listener
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid("a listener has no name"))?;
        listener_names.push(name.to_string());
        let mut listener = files::with_type(listener.clone(), ResourceKind::Listeners.type_url());
        point_rds(&mut listener, rds.as_ref(), name)?;
        listeners.push(listener);
    }
    Ok(Prepared {
        listeners,
        clusters,
        route_config,
        route_name,
        listener_names,
    })
}

pub(super) fn is_http_connection_manager(value: &serde_json::Map<String, Json>) -> bool {
    value
        .get("@type")
        .and_then(Json::as_str)
        .is_some_and(|t| t.ends_with(".HttpConnectionManager"))
}

/// Points every HTTP connection manager in `value` that does not carry its routes inline at
/// `rds`.
fn point_rds(value: &mut Json, rds: Option<&Json>, listener: &str) -> Result<(), EnvoyError> {
    match value {
        Json::Object(map) => {
            if is_http_connection_manager(map) && !map.contains_key("route_config") {
                let rds = rds.ok_or_else(|| {
                    invalid(format!(
                        "listener {listener} needs routes (RDS) but there is no route configuration"
                    ))
                })?;
                map.remove("scoped_routes");
                map.insert("rds".into(), rds.clone());
                return Ok(());
            }
            for child in map.values_mut() {
                point_rds(child, rds, listener)?;
            }
        }
        Json::Array(items) => {
            for child in items {
                point_rds(child, rds, listener)?;
            }
        }
        _ => {}
    }
    Ok(())
}
