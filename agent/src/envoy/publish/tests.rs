//! Unit tests of the publish steps that need no Envoy (the real Envoy is in
//! `tests/envoy/envoy_runtime.rs`).

use std::path::Path;

use serde_json::{json, Value as Json};

use super::prepare::prepare;
use super::validate::{validation_bootstrap, validation_reason};
use super::{EnvoyConfig, RouteShape};
use crate::envoy::files::ResourceKind;
use crate::envoy::EnvoyError;

fn hcm() -> Json {
    json!({
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "meshcd",
            "rds": { "route_config_name": "whatever" },
            "http_filters": [],
        }
    })
}

fn config() -> EnvoyConfig {
    EnvoyConfig {
        listeners: vec![json!({"name": "main", "filter_chains": [{"filters": [hcm()]}]})],
        clusters: [("a".to_string(), json!({"connect_timeout": "1s"}))].into(),
        route_config: json!({"name": "routes", "virtual_hosts": [{
            "name": "svc", "domains": ["svc"],
            "routes": [{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
                {"name": "a", "weight": 100}]}}}]}]}),
    }
}

#[test]
fn prepare_points_rds_at_the_file_and_types_resources() {
    let prepared = prepare(&config(), Path::new("/cfg")).expect("prepare");
    let rds = &prepared.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]["rds"];
    assert_eq!(rds["route_config_name"], "routes");
    assert_eq!(
        rds["config_source"]["path_config_source"]["path"],
        "/cfg/rds.yaml"
    );
    assert_eq!(
        prepared.listeners[0]["@type"],
        ResourceKind::Listeners.type_url()
    );
    assert_eq!(prepared.clusters["a"]["name"], "a");
    let route_config = prepared.route_config.as_ref().expect("routes");
    assert_eq!(route_config["validate_clusters"], true);

    let bootstrap = validation_bootstrap(&prepared);
    let listener = &bootstrap["static_resources"]["listeners"][0];
    assert!(listener.get("@type").is_none());
    let typed = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    assert!(typed.get("rds").is_none());
    assert_eq!(typed["route_config"]["name"], "routes");
    assert!(typed["route_config"].get("@type").is_none());
}

#[test]
fn prepare_rejects_malformed_input() {
    let mut bad = config();
    bad.route_config = Json::Null;
    assert!(matches!(
        prepare(&bad, Path::new("/cfg")),
        Err(EnvoyError::Invalid { .. })
    ));
    let mut bad = config();
    bad.clusters.insert("b".into(), json!({"name": "c"}));
    assert!(matches!(
        prepare(&bad, Path::new("/cfg")),
        Err(EnvoyError::Invalid { .. })
    ));
}

#[test]
fn shapes_compare_weights_and_ignore_field_order() {
    let written = config().route_config;
    let served = json!({"@type": "x", "name": "routes", "validate_clusters": true, "virtual_hosts": [{
        "routes": [{"route": {"weighted_clusters": {"clusters": [{"weight": 100, "name": "a"}]}},
                    "match": {"prefix": "/"}}],
        "domains": ["svc"], "name": "svc"}]});
    assert_eq!(RouteShape::of(&written), RouteShape::of(&served));
    assert_eq!(RouteShape::of(&written).summary(), "svc: [a=100]");
    let other = json!({"virtual_hosts": [{"name": "svc", "domains": ["svc"], "routes": [
        {"route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 99}]}}}]}]});
    assert_ne!(RouteShape::of(&written), RouteShape::of(&other));
}

#[test]
fn validation_reason_takes_envoys_message() {
    let stderr = "[info] loading\n[2026][1][critical][main] [server.cc:76] error initializing configuration '/tmp/x.json': route: unknown weighted cluster 'nope'\n";
    assert_eq!(
        validation_reason(stderr, "exit status: 1"),
        "route: unknown weighted cluster 'nope'"
    );
    assert!(validation_reason("boom\n", "exit status: 1").contains("boom"));
}
