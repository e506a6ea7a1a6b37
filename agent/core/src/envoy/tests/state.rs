//! EnvoyState: a translated config equals what Envoy reports for it (real config dumps).

use serde_json::Value as Json;

use super::*;
use crate::envoy::EnvoyState;

fn dump(text: &str) -> Json {
    serde_json::from_str(text).expect("fixture is JSON")
}

#[test]
fn config_dump_round_trips() {
    for (name, files, routes, clusters, listeners) in [
        (
            "cloud-run-mesh",
            revision(CLOUD_RUN_MESH),
            include_str!("../fixtures/cloud-run-mesh.routes.json"),
            include_str!("../fixtures/cloud-run-mesh.clusters.json"),
            "{}",
        ),
        (
            "kitchen",
            revision(&[("kitchen.yaml", KITCHEN)]),
            include_str!("../fixtures/kitchen.routes.json"),
            include_str!("../fixtures/kitchen.clusters.json"),
            include_str!("../fixtures/kitchen.listeners.json"),
        ),
    ] {
        let desired = EnvoyState::from_config(&translated(&files));
        let applied =
            EnvoyState::from_config_dump(&dump(routes), &dump(clusters), &dump(listeners))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            desired.virtual_hosts.keys().collect::<Vec<_>>(),
            applied.virtual_hosts.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (vhost, want) in &desired.virtual_hosts {
            assert_eq!(
                Some(want),
                applied.virtual_hosts.get(vhost),
                "{name}: virtual host {vhost}"
            );
        }
        for (route, want) in &desired.l4_routes {
            assert_eq!(
                Some(want),
                applied.l4_routes.get(route),
                "{name}: layer-4 route {route}"
            );
        }
        for (cluster, want) in &desired.clusters {
            assert_eq!(
                Some(want),
                applied.clusters.get(cluster),
                "{name}: cluster {cluster}"
            );
        }
        assert_eq!(desired, applied, "{name}");
    }
}

#[test]
fn the_dump_holds_every_layer4_route_with_zero_weights_expanded() {
    let applied = EnvoyState::from_config_dump(
        &serde_json::json!({}),
        &serde_json::json!({}),
        &dump(include_str!("../fixtures/kitchen.listeners.json")),
    )
    .expect("reads");
    assert_eq!(
        applied.l4_routes.keys().collect::<Vec<_>>(),
        [
            "TCPRoute/q/mq",
            "TCPRoute/q/off",
            "TLSRoute/q/web",
            "TcpRoute/db",
            "TlsRoute/sni",
            "UDPRoute/q/dns"
        ]
    );
    let db = &applied.l4_routes["TcpRoute/db"]["filter_chains"];
    // Envoy holds only `pg` (weight 1) in the proxy; the state puts `pg-canary` back at 0.
    let second = &db[1];
    assert_eq!(second["listener"], "meshcd_tcp_15432");
    assert_eq!(second["name"], "rules[1].matches[0]");
    assert_eq!(
        second["filters"][0]["typed_config"]["weighted_clusters"]["clusters"],
        serde_json::json!([{"name": "pg", "weight": 1}, {"name": "pg-canary", "weight": 0}])
    );
    // A prefix of length 0 is kept (a wrapper field): it is not "any address".
    assert_eq!(
        second["filter_chain_match"]["prefix_ranges"],
        serde_json::json!([{"address_prefix": "0.0.0.0", "prefix_len": 0}])
    );
    let dns = &applied.l4_routes["UDPRoute/q/dns"]["udp_listeners"][0];
    assert_eq!(dns["listener"], "meshcd_udp_15353");
    assert_eq!(
        dns["listener_filters"][0]["typed_config"]["matcher"]["on_no_match"]["action"]
            ["typed_config"]["cluster"],
        "dns"
    );
}

#[test]
fn the_dump_differs_from_the_config_only_in_defaults() {
    // Without normalization the kitchen config and its dump differ: Envoy leaves out enum
    // zero values, zero numerators and empty strings. This is what `state.rs` normalizes.
    let config = translated(&revision(&[("kitchen.yaml", KITCHEN)]));
    let routes = dump(include_str!("../fixtures/kitchen.routes.json"));
    let dumped = routes["configs"][0]["route_config"]["virtual_hosts"]
        .as_array()
        .expect("vhosts")
        .iter()
        .find(|v| v["name"] == "HttpRoute/kitchen")
        .expect("kitchen vhost")
        .clone();
    let ours = vhost(&config, "HttpRoute/kitchen").clone();
    assert_ne!(ours, dumped);
    let delay = |v: &Json| {
        v["routes"][0]["typed_per_filter_config"]["envoy.filters.http.fault"]["delay"]["percentage"]
            .clone()
    };
    assert_eq!(delay(&ours)["denominator"], "HUNDRED");
    assert!(delay(&dumped).get("denominator").is_none());
    assert_eq!(
        crate::envoy::state::normalize_vhost(&ours),
        crate::envoy::state::normalize_vhost(&dumped)
    );
}

#[test]
fn state_keys_are_names_and_values_are_normalized() {
    let config = translated(&revision(CLOUD_RUN_MESH));
    let state = EnvoyState::from_config(&config);
    assert_eq!(
        state.clusters.keys().collect::<Vec<_>>(),
        config.clusters.keys().collect::<Vec<_>>()
    );
    let target = &state.clusters["target"];
    assert!(target.get("@type").is_none());
    // STATIC is Envoy's default cluster type.
    assert!(target.get("type").is_none());
    assert_eq!(target["name"], "target");
    let vhost = &state.virtual_hosts["HttpRoute/target-route"];
    let keys: Vec<&String> = vhost.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["domains", "name", "routes"]);
}
