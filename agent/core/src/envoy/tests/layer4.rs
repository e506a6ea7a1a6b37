//! TCP, TLS and UDP routes: their listeners and filter chains, weights of each family, ports,
//! conflicts, and rollouts of their weights.

use serde_json::{json, Value as Json};

use super::*;
use crate::envoy::{
    all_weights_are_valid, diff, same_but_weights, set_route_weights, split_clusters,
    weights_are_valid, EnvoyState,
};
use crate::plan::WeightMap;

/// The listener of that name.
fn listener<'c>(config: &'c EnvoyConfig, name: &str) -> &'c Json {
    config
        .listeners
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("no listener {name}: {:?}", names(config)))
}

fn names(config: &EnvoyConfig) -> Vec<String> {
    config
        .listeners
        .iter()
        .filter_map(|l| l["name"].as_str().map(str::to_string))
        .collect()
}

/// The filter chain of that name in a listener.
fn chain<'c>(config: &'c EnvoyConfig, listener_name: &str, chain: &str) -> &'c Json {
    listener(config, listener_name)["filter_chains"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == chain))
        .unwrap_or_else(|| panic!("no chain {chain} in {listener_name}"))
}

/// The TCP proxy of a chain.
fn proxy(chain: &Json) -> &Json {
    assert_eq!(
        chain["filters"][0]["name"],
        "envoy.filters.network.tcp_proxy"
    );
    &chain["filters"][0]["typed_config"]
}

fn pairs(proxy: &Json) -> Vec<(String, u64)> {
    proxy["weighted_clusters"]["clusters"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["weight"].as_u64().unwrap_or(u64::MAX),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn error_lines(errors: &[TranslateError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{} {}: {}", e.resource, e.field, e.message))
        .collect()
}

/// Backends `a`, `b` and `c` (TCP) on loopback.
const BACKENDS: &str = "---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: a}\nspec: {endpoints: [{address: 127.0.0.1, port: 1001}], protocol: tcp}\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: b}\nspec: {endpoints: [{address: 127.0.0.1, port: 1002}], protocol: tcp}\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: c}\nspec: {endpoints: [{address: 127.0.0.1, port: 1003}]}\n";

/// A Gateway API route of `kind` in namespace `q` with these parentRefs, hostnames and
/// backendRefs (YAML flow sequences).
fn gateway_l4(kind: &str, name: &str, parents: &str, hostnames: &str, refs: &str) -> String {
    let hosts = if hostnames.is_empty() {
        String::new()
    } else {
        format!("  hostnames: {hostnames}\n")
    };
    format!(
        "---\napiVersion: gateway.networking.k8s.io/v1alpha2\nkind: {kind}\nmetadata: {{name: {name}, namespace: q}}\nspec:\n  parentRefs: {parents}\n{hosts}  rules:\n  - backendRefs: {refs}\n"
    )
}

fn translate_text(text: &str) -> Result<EnvoyConfig, Vec<TranslateError>> {
    translate(&revision(&[("r.yaml", text)]), &EnvoySettings::default())
}

#[test]
fn tcp_routes_of_both_families_are_tcp_proxies_on_their_ports() {
    let config = translated_yaml(KITCHEN);
    assert_eq!(
        names(&config),
        [
            "meshcd_http",
            "meshcd_udp_15353",
            "meshcd_tcp_15432",
            "meshcd_tcp_15672",
            "meshcd_tcp_15673",
            "meshcd_tcp_15674",
            "meshcd_tcp_16432",
            "meshcd_tls_18443",
            "meshcd_tls_19443"
        ]
    );
    let db = listener(&config, "meshcd_tcp_15432");
    assert_eq!(
        db["address"],
        json!({"socket_address": {"address": "127.0.0.1", "port_value": 15432}})
    );
    assert!(db.get("listener_filters").is_none());
    // networkservices: the match's address is the chain's destination range; weights as
    // written; the idle timeout as given, else the API's 30 s.
    let first = chain(&config, "meshcd_tcp_15432", "TcpRoute/db#rules[0]");
    assert_eq!(
        first["filter_chain_match"],
        json!({"prefix_ranges": [{"address_prefix": "127.0.0.0", "prefix_len": 8}]})
    );
    assert_eq!(
        pairs(proxy(first)),
        [("pg".into(), 90), ("pg-canary".into(), 10)]
    );
    assert_eq!(proxy(first)["idle_timeout"], "600s");
    assert_eq!(proxy(first)["stat_prefix"], "TcpRoute_db");
    let second = chain(
        &config,
        "meshcd_tcp_15432",
        "TcpRoute/db#rules[1].matches[0]",
    );
    assert_eq!(proxy(second)["idle_timeout"], "30s");
    // A rule without matches matches every address on the ports of the route.
    for port in ["meshcd_tcp_15432", "meshcd_tcp_16432"] {
        let last = chain(&config, port, "TcpRoute/db#rules[2]");
        assert!(last.get("filter_chain_match").is_none());
        assert_eq!(proxy(last)["cluster"], "pg");
    }
    // Gateway API: one chain matching every connection on each parentRef's port.
    for port in ["meshcd_tcp_15672", "meshcd_tcp_15673"] {
        let mq = chain(&config, port, "TCPRoute/q/mq#rules[0]");
        assert!(mq.get("filter_chain_match").is_none());
        assert_eq!(
            pairs(proxy(mq)),
            [("mq".into(), 50), ("mq-canary".into(), 50)]
        );
        assert!(proxy(mq).get("idle_timeout").is_none());
    }
    // All-zero Gateway API weights: the connection is closed.
    let off = chain(&config, "meshcd_tcp_15674", "TCPRoute/q/off#rules[0]");
    assert_eq!(
        off["filters"][0]["name"],
        "envoy.filters.network.direct_response"
    );
    // Clusters of TCP backends are plain clusters.
    assert_eq!(config.clusters["pg"]["type"], "STATIC");
    assert!(config.clusters["pg"]
        .get("typed_extension_protocol_options")
        .is_none());
}

#[test]
fn zero_weights_leave_the_tcp_proxy_and_stay_in_the_chain_metadata() {
    let config = translated_yaml(KITCHEN);
    let second = chain(
        &config,
        "meshcd_tcp_15432",
        "TcpRoute/db#rules[1].matches[0]",
    );
    // Envoy's TCP proxy takes no weight 0: `pg-canary` is left out of it...
    assert_eq!(pairs(proxy(second)), [("pg".into(), 1)]);
    // ...and the chain lists the split's clusters for rollouts and plans.
    assert_eq!(
        second["metadata"],
        json!({"filter_metadata": {"meshcd": {"clusters": ["pg", "pg-canary"]}}})
    );
    assert!(all_weights_are_valid(&config));
    let state = EnvoyState::from_config(&config);
    let expanded = &state.l4_routes["TcpRoute/db"]["filter_chains"];
    assert_eq!(
        expanded[1]["filters"][0]["typed_config"]["weighted_clusters"]["clusters"],
        json!([{"name": "pg", "weight": 1}, {"name": "pg-canary", "weight": 0}])
    );
}

#[test]
fn tls_routes_pass_tls_through_by_sni_and_alpn() {
    let config = translated_yaml(KITCHEN);
    let edge = listener(&config, "meshcd_tls_18443");
    assert_eq!(
        edge["listener_filters"],
        json!([{"name": "envoy.filters.listener.tls_inspector", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}}])
    );
    let h2 = chain(&config, "meshcd_tls_18443", "TlsRoute/sni#rules[0]");
    assert_eq!(
        h2["filter_chain_match"],
        json!({"server_names": ["a.kitchen.internal"], "transport_protocol": "tls",
               "application_protocols": ["h2"]})
    );
    assert_eq!(pairs(proxy(h2)), [("tls-a".into(), 3), ("tls-b".into(), 1)]);
    let alpn_only = chain(
        &config,
        "meshcd_tls_18443",
        "TlsRoute/sni#rules[1].matches[1]",
    );
    assert_eq!(
        alpn_only["filter_chain_match"],
        json!({"transport_protocol": "tls", "application_protocols": ["imap"]})
    );
    assert_eq!(proxy(alpn_only)["idle_timeout"], "0s");
    let web = chain(&config, "meshcd_tls_19443", "TLSRoute/q/web#rules[0]");
    assert_eq!(
        web["filter_chain_match"],
        json!({"server_names": ["web.kitchen.internal", "*.web.kitchen.internal"],
               "transport_protocol": "tls"})
    );
    assert_eq!(proxy(web)["cluster"], "web-tls");
}

#[test]
fn mesh_tls_routes_listen_on_the_tls_port() {
    let text = format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: sni\nmeshes: [projects/p/locations/global/meshes/m]\nrules:\n- matches: [{{sniHost: [a.example.com]}}]\n  action:\n    destinations: [{{serviceName: a}}]\n{BACKENDS}"
    );
    let settings = EnvoySettings {
        tls_port: 8443,
        ..EnvoySettings::default()
    };
    let config = translate(&revision(&[("r.yaml", &text)]), &settings).expect("translates");
    let tls = listener(&config, "meshcd_tls_8443");
    assert_eq!(tls["filter_chains"][0]["name"], "TlsRoute/sni#rules[0]");
    // A Gateway the revision does not declare has no known port.
    let text = text.replace(
        "meshes: [projects/p/locations/global/meshes/m]",
        "gateways: [projects/p/locations/global/gateways/elsewhere]",
    );
    let errors = errors_of(&revision(&[("r.yaml", &text)]));
    assert_eq!(
        error_lines(&errors),
        ["TlsRoute/sni gateways[0]: Gateway `elsewhere` is not in the revision: the envoy target serves a TlsRoute on the `ports` of its networkservices Gateways"]
    );
}

#[test]
fn udp_routes_send_every_session_to_one_cluster() {
    let config = translated_yaml(KITCHEN);
    let dns = listener(&config, "meshcd_udp_15353");
    assert_eq!(
        dns["address"],
        json!({"socket_address": {"protocol": "UDP", "address": "127.0.0.1", "port_value": 15353}})
    );
    assert_eq!(
        dns["metadata"],
        json!({"filter_metadata": {"meshcd": {"route": "UDPRoute/q/dns#rules[0]"}}})
    );
    let proxy = &dns["listener_filters"][0];
    assert_eq!(proxy["name"], "envoy.filters.udp_listener.udp_proxy");
    assert_eq!(
        proxy["typed_config"]["matcher"]["on_no_match"]["action"]["typed_config"]["cluster"],
        "dns"
    );
    // A backend of weight 0 gets no cluster.
    assert!(!config.clusters.contains_key("dns-canary"));
    // Envoy's udp_proxy has no weighted clusters: two weighted backends are an error.
    let split = gateway_l4(
        "UDPRoute",
        "dns",
        "[{name: gw, port: 5353}]",
        "",
        "[{name: a, port: 53, weight: 9}, {name: b, port: 53, weight: 1}]",
    );
    let errors = translate_text(&format!("{split}{BACKENDS}")).expect_err("split");
    assert_eq!(
        error_lines(&errors),
        ["UDPRoute/q/dns spec.rules[0].backendRefs: 2 backends have a weight above 0, but Envoy 1.40's udp_proxy sends a route's datagrams to one cluster (it has no weighted clusters): give one backend all the weight"]
    );
}

#[test]
fn gateway_api_layer4_routes_listen_on_their_parent_refs_ports() {
    let no_port = gateway_l4(
        "TCPRoute",
        "t",
        "[{name: gw, sectionName: pg}, {name: gw2}]",
        "",
        "[{name: a, port: 5432}]",
    );
    let no_parents = gateway_l4("TLSRoute", "s", "[]", "[s.example.com]", "[{name: a}]");
    let errors = translate_text(&format!("{no_port}{no_parents}{BACKENDS}")).expect_err("ports");
    assert_eq!(
        error_lines(&errors),
        [
            "TCPRoute/q/t spec.parentRefs[0]: the envoy target listens on a parentRef's `port`, and meshcd does not load Gateways to find the port of listener `pg` of `gw`: set `port`",
            "TCPRoute/q/t spec.parentRefs[1]: the envoy target listens on a parentRef's `port`, and meshcd does not load Gateways to find the port of `gw2`: set `port`",
            "TLSRoute/q/s spec: a TLSRoute needs `parentRefs` with a `port`: the envoy target listens on that port",
        ]
    );
}

#[test]
fn two_routes_cannot_claim_one_sni_or_address_range_on_a_port() {
    let one = gateway_l4(
        "TLSRoute",
        "one",
        "[{name: gw, port: 9443}]",
        "[a.example.com, b.example.com]",
        "[{name: a}]",
    );
    let two = gateway_l4(
        "TLSRoute",
        "two",
        "[{name: gw, port: 9443}]",
        "[b.example.com]",
        "[{name: b}]",
    );
    // The same SNI on another port is fine.
    let three = gateway_l4(
        "TLSRoute",
        "three",
        "[{name: gw, port: 9444}]",
        "[b.example.com]",
        "[{name: b}]",
    );
    let tcp_a = gateway_l4(
        "TCPRoute",
        "ta",
        "[{name: gw, port: 7000}]",
        "",
        "[{name: a}]",
    );
    let tcp_b = gateway_l4(
        "TCPRoute",
        "tb",
        "[{name: gw, port: 7000}]",
        "",
        "[{name: b}]",
    );
    let errors = translate_text(&format!("{one}{two}{three}{tcp_a}{tcp_b}{BACKENDS}"))
        .expect_err("conflicts");
    assert_eq!(
        error_lines(&errors),
        [
            "TLSRoute/q/two spec.hostnames: SNI `b.example.com` on port 9443 is also claimed by TLSRoute/q/one (`rules[0]`); Envoy routes each SNI of a port once",
            "TCPRoute/q/tb spec.rules[0]: every address on port 7000 is also claimed by TCPRoute/q/ta (`rules[0]`); Envoy takes each address range of a port once",
        ]
    );
}

#[test]
fn matches_envoy_would_order_unlike_the_api_are_errors() {
    // The API takes the first match: a later, narrower range (or SNI under a broader ALPN)
    // would never be reached, but Envoy would prefer it.
    let text = format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: TcpRoute\nname: tcp\nrules:\n- matches: [{{address: 10.0.0.0/8, port: '7000'}}]\n  action: {{destinations: [{{serviceName: a}}]}}\n- matches: [{{address: 10.1.0.0/16, port: '7000'}}]\n  action: {{destinations: [{{serviceName: b}}]}}\n- matches: [{{address: 0.0.0.0/0, port: '7000'}}]\n  action: {{destinations: [{{serviceName: b}}]}}\n---\napiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: tls\nmeshes: [m]\nrules:\n- matches: [{{sniHost: [a.example.com]}}]\n  action: {{destinations: [{{serviceName: a}}]}}\n- matches: [{{sniHost: [a.example.com], alpn: [h2]}}]\n  action: {{destinations: [{{serviceName: b}}]}}\n{BACKENDS}"
    );
    let errors = errors_of(&revision(&[("r.yaml", &text)]));
    assert_eq!(
        error_lines(&errors),
        [
            "TcpRoute/tcp rules[1].matches[0]: 10.1.0.0/16 on port 7000 is already matched by `rules[0]` of this route: the API takes the first match, Envoy the most specific; remove or reorder the matches",
            "TlsRoute/tls rules[1].matches[0]: SNI `a.example.com` on port 443 is already matched by `rules[0]` of this route: the API takes the first match, Envoy the most specific; remove or reorder the matches",
        ]
    );
}

#[test]
fn a_port_takes_tcp_or_tls_routes_and_not_the_http_port() {
    let tls = gateway_l4(
        "TLSRoute",
        "s",
        "[{name: gw, port: 7000}]",
        "[s.example.com]",
        "[{name: a}]",
    );
    let tcp = gateway_l4(
        "TCPRoute",
        "t",
        "[{name: gw, port: 7000}]",
        "",
        "[{name: b}]",
    );
    let http = gateway_l4(
        "TCPRoute",
        "h",
        "[{name: gw, port: 10000}]",
        "",
        "[{name: b}]",
    );
    let errors = translate_text(&format!("{tls}{tcp}{http}{BACKENDS}")).expect_err("ports");
    assert_eq!(
        error_lines(&errors),
        [
            "TLSRoute/q/s spec.parentRefs[0].port: port 7000 serves TCP routes (TCPRoute/q/t at spec.parentRefs[0].port); a port takes TCP or TLS routes, not both",
            "TCPRoute/q/h spec.parentRefs[0].port: port 10000 is meshcd's HTTP listener (`http_port`); choose another",
        ]
    );
}

#[test]
fn networkservices_tcp_fields_are_checked_where_they_are() {
    let text = format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: TcpRoute\nname: tcp\nrules:\n- matches: [{{address: not-a-cidr, port: '7000'}}, {{address: 10.0.0.0/8}}, {{address: 10.0.0.0/8, port: '70000'}}]\n  action: {{destinations: [{{serviceName: a}}], idleTimeout: soon}}\n- action: {{destinations: [{{serviceName: a, weight: 1}}, {{serviceName: b}}]}}\n{BACKENDS}"
    );
    let errors = errors_of(&revision(&[("r.yaml", &text)]));
    let fields: Vec<String> = errors.iter().map(|e| e.field.to_string()).collect();
    assert_eq!(
        fields,
        [
            "rules[0].matches[0].address",
            "rules[0].matches[1]",
            "rules[0].matches[2].port",
            "rules[0].action.idleTimeout",
            "rules[1].action.destinations[1]",
        ]
    );
}

#[test]
fn tcp_backends_serve_layer4_routes_only() {
    // `b` declares `protocol: tcp`: fine for a TCP route, an error for an HTTP route.
    let text = format!(
        "{}---\napiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: h\nhostnames: [h.internal]\nrules:\n- action: {{destinations: [{{serviceName: b}}]}}\n{BACKENDS}",
        gateway_l4("TCPRoute", "t", "[{name: gw, port: 7000}]", "", "[{name: b}]")
    );
    let errors = errors_of(&revision(&[("r.yaml", &text)]));
    assert_eq!(
        error_lines(&errors),
        ["Backend/b spec.protocol: protocol `tcp` cannot serve HTTP routes (use http or http2)"]
    );
}

/// A TCPRoute splitting port 7000 between `a` and `b` with these weights.
fn tcp_split(a: u64, b: u64) -> Loaded {
    revision(&[(
        "r.yaml",
        &format!(
            "{}{BACKENDS}",
            gateway_l4(
                "TCPRoute",
                "t",
                "[{name: gw, port: 7000}, {name: gw, sectionName: other, port: 7001}]",
                "",
                &format!("[{{name: a, weight: {a}}}, {{name: b, weight: {b}}}]"),
            )
        ),
    )])
}

#[test]
fn tcp_weights_roll_out_like_http_weights() {
    let desired_revision = tcp_split(0, 100);
    let desired = translated(&desired_revision);
    let applied = translated(&tcp_split(100, 0));
    assert!(same_but_weights(&desired, &applied));
    let plan = diff(
        &EnvoyState::from_config(&desired),
        &EnvoyState::from_config(&applied),
        &desired_revision,
    );
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let change = &plan.changes[0];
    assert_eq!(
        (change.kind.name(), change.name.as_str()),
        ("TCPRoute", "t")
    );
    let rollout = change
        .rollout
        .as_ref()
        .expect("a weight-only change rolls out");
    let shares =
        |a: u64, b: u64| -> WeightMap { [("a".to_string(), a), ("b".to_string(), b)].into() };
    assert_eq!(rollout.from, shares(100, 0));
    assert_eq!(
        rollout.splits,
        [(
            "rules[0]".to_string(),
            vec!["a".to_string(), "b".to_string()]
        )]
    );
    assert_eq!(
        split_clusters(&desired, "TCPRoute/q/t", &rollout.splits),
        [
            ("a".to_string(), "a".to_string()),
            ("b".to_string(), "b".to_string())
        ]
    );
    // Each step goes into every chain of the rule (both ports), weight-0 clusters left out.
    let mut stepped = applied.clone();
    set_route_weights(
        &mut stepped,
        "TCPRoute/q/t",
        &rollout.splits,
        &shares(50, 50),
    )
    .expect("weights set");
    for port in ["meshcd_tcp_7000", "meshcd_tcp_7001"] {
        assert_eq!(
            pairs(proxy(chain(&stepped, port, "TCPRoute/q/t#rules[0]"))),
            [("a".into(), 50), ("b".into(), 50)]
        );
    }
    assert!(same_but_weights(&stepped, &desired));
    assert!(all_weights_are_valid(&stepped));
    set_route_weights(
        &mut stepped,
        "TCPRoute/q/t",
        &rollout.splits,
        &shares(0, 100),
    )
    .expect("weights set");
    assert_eq!(
        pairs(proxy(chain(
            &stepped,
            "meshcd_tcp_7000",
            "TCPRoute/q/t#rules[0]"
        ))),
        [("b".into(), 100)]
    );
    assert_eq!(
        stepped, desired,
        "the last step is the desired configuration"
    );
    // Read back, a stepped configuration is where the rollout stands.
    let mut half = applied.clone();
    set_route_weights(&mut half, "TCPRoute/q/t", &rollout.splits, &shares(50, 50))
        .expect("weights set");
    let back = diff(
        &EnvoyState::from_config(&desired),
        &EnvoyState::from_config(&half),
        &desired_revision,
    );
    assert_eq!(
        back.changes[0].rollout.as_ref().map(|r| r.from.clone()),
        Some(shares(50, 50))
    );
    // Steps that do not fit change nothing.
    let before = applied.clone();
    let mut broken = applied.clone();
    assert!(
        set_route_weights(&mut broken, "TCPRoute/q/t", &rollout.splits, &shares(0, 0)).is_err()
    );
    let wrong = [("rules[0]".to_string(), vec!["a".to_string()])];
    assert!(set_route_weights(&mut broken, "TCPRoute/q/t", &wrong, &shares(1, 1)).is_err());
    assert!(set_route_weights(
        &mut broken,
        "TCPRoute/q/nope",
        &rollout.splits,
        &shares(1, 1)
    )
    .is_err());
    assert_eq!(broken, before);
}

#[test]
fn a_tcp_proxy_weight_of_zero_is_not_valid() {
    let proxy = |weights: &[u64]| {
        json!({"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
            "weighted_clusters": {"clusters": weights.iter().map(|w| json!({"name": "x", "weight": w})).collect::<Vec<_>>()}}}]})
    };
    assert!(weights_are_valid(&proxy(&[1, 2])));
    assert!(!weights_are_valid(&proxy(&[0, 2])));
    assert!(!weights_are_valid(&proxy(&[])));
}

#[test]
fn drift_in_a_filter_chain_shows_in_the_plan() {
    let loaded = tcp_split(30, 70);
    let desired = translated(&loaded);
    let mut drifted = desired.clone();
    let Some(Json::Object(chain)) = drifted.listeners[1].pointer_mut("/filter_chains/0") else {
        panic!("no chain: {:#}", drifted.listeners[1]);
    };
    chain.insert("filter_chain_match".into(), json!({"destination_port": 1}));
    let plan = diff(
        &EnvoyState::from_config(&desired),
        &EnvoyState::from_config(&drifted),
        &loaded,
    );
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].rollout.is_none(), "not a weight change");
    assert!(
        plan.changes[0].diff.contains("destination_port"),
        "{}",
        plan.changes[0].diff
    );
    // A route only Envoy has is deleted; one it lacks is created.
    let plan = diff(
        &EnvoyState::from_config(&desired),
        &EnvoyState::default(),
        &loaded,
    );
    assert!(plan
        .changes
        .iter()
        .any(|c| c.name == "t" && c.action == crate::plan::Action::Create));
}

#[test]
fn listeners_do_not_depend_on_the_order_of_files() {
    let one = gateway_l4(
        "TLSRoute",
        "one",
        "[{name: gw, port: 9443}]",
        "[a.example.com]",
        "[{name: a}]",
    );
    let two = gateway_l4(
        "TLSRoute",
        "two",
        "[{name: gw, port: 9443}]",
        "[b.example.com]",
        "[{name: b}]",
    );
    let forward = revision(&[("1.yaml", &one), ("2.yaml", &two), ("b.yaml", BACKENDS)]);
    let backward = revision(&[("b.yaml", BACKENDS), ("2.yaml", &two), ("1.yaml", &one)]);
    let chains = |config: &EnvoyConfig| -> Vec<String> {
        listener(config, "meshcd_tls_9443")["filter_chains"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let a = translated(&forward);
    assert_eq!(
        chains(&a),
        ["TLSRoute/q/one#rules[0]", "TLSRoute/q/two#rules[0]"]
    );
    assert_eq!(a, translated(&backward));
}
