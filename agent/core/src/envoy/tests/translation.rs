//! Translation: the samples of each family, weights, actions, matches, errors, determinism.

use serde_json::{json, Value as Json};

use super::*;
use crate::envoy::{cluster_name, EnvoySettings, CLUSTER_TYPE, LISTENER_TYPE};
use crate::model::Kind;

fn messages(errors: &[TranslateError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{} {}: {}", e.resource, e.field, e.message))
        .collect()
}

#[test]
fn cloud_run_mesh_sample_translates() {
    let config = translated(&revision(CLOUD_RUN_MESH));
    let names: Vec<&str> = config.route_config["virtual_hosts"]
        .as_array()
        .expect("vhosts")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "GrpcRoute/payments-grpc-route",
            "HttpRoute/route-target23",
            "HttpRoute/target-route"
        ]
    );
    assert_eq!(
        vhost(&config, "HttpRoute/target-route")["domains"],
        json!(["target.meshapps.internal", "target.meshapps.internal:*"])
    );
    let target = route(&config, "HttpRoute/target-route", "rules[0]");
    assert_eq!(
        weights(target),
        [("target".into(), 99), ("target-green".into(), 1)]
    );
    assert_eq!(target["match"], json!({"prefix": "/"}));
    assert_eq!(target["route"]["timeout"], "30s");
    assert_eq!(
        target["route"]["retry_policy"],
        json!({"retry_on": "connect-failure,refused-stream,unavailable", "num_retries": 2, "per_try_timeout": "10s"})
    );
    let refund = route(&config, "GrpcRoute/payments-grpc-route", "rules[0]");
    assert_eq!(
        refund["match"],
        json!({"path": "/payments.v1.Payments/Refund"})
    );
    assert_eq!(refund["route"]["cluster"], "payments-refunds");
    assert_eq!(
        config.clusters.keys().collect::<Vec<_>>(),
        [
            "payments",
            "payments-refunds",
            "target",
            "target-green",
            "target2",
            "target3"
        ]
    );
    let payments = &config.clusters["payments"];
    assert_eq!(payments["@type"], CLUSTER_TYPE);
    assert_eq!(payments["type"], "STATIC");
    assert!(payments["typed_extension_protocol_options"]
        ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicit_http_config"]
        ["http2_protocol_options"]
        .is_object());
    assert!(config.clusters["target"]
        .get("typed_extension_protocol_options")
        .is_none());
    assert_eq!(
        config.clusters["target"]["load_assignment"],
        json!({"cluster_name": "target", "endpoints": [{"lb_endpoints": [{"endpoint": {"address":
            {"socket_address": {"address": "127.0.0.1", "port_value": 18081}}}}]}]})
    );
    assert_eq!(config.clusters["target"]["connect_timeout"], "1s");
}

#[test]
fn the_listener_reads_routes_from_the_rds_file() {
    let settings = EnvoySettings {
        listen_address: "0.0.0.0".into(),
        http_port: 15001,
        rds_path: "/run/meshcd/envoy/rds.yaml".into(),
        ..EnvoySettings::default()
    };
    let config = translate(&revision(CLOUD_RUN_MESH), &settings).expect("translates");
    assert_eq!(config.listeners.len(), 1);
    let listener = &config.listeners[0];
    assert_eq!(listener["@type"], LISTENER_TYPE);
    assert_eq!(
        listener["address"],
        json!({"socket_address": {"address": "0.0.0.0", "port_value": 15001}})
    );
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    assert_eq!(hcm["stat_prefix"], "meshcd");
    assert_eq!(hcm["codec_type"], "AUTO");
    assert_eq!(
        hcm["rds"],
        json!({"route_config_name": "meshcd_http", "config_source": {
            "path_config_source": {"path": "/run/meshcd/envoy/rds.yaml",
                                   "watched_directory": {"path": "/run/meshcd/envoy"}},
            "resource_api_version": "V3"}})
    );
    // No route of the sample injects faults: only the router.
    assert_eq!(hcm["http_filters"].as_array().map(Vec::len), Some(1));
    assert_eq!(config.route_config["name"], "meshcd_http");
    assert_eq!(config.route_config["validate_clusters"], true);
}

#[test]
fn istio_sample_needs_backends_and_then_translates() {
    let errors = errors_of(&revision(ISTIO_EXTERNAL_MESH));
    assert_eq!(
        messages(&errors),
        [
            "VirtualService/ads/ads spec.http[0].route[0]: backend `ads.ads.svc.cluster.local/v1` has no endpoints: declare a meshcd Backend named `ads.ads.svc.cluster.local/v1` (kind: Backend, apiVersion: meshcd.dev/v1alpha1) with its endpoints",
            "VirtualService/ads/ads spec.http[0].route[1]: backend `ads.ads.svc.cluster.local/v2` has no endpoints: declare a meshcd Backend named `ads.ads.svc.cluster.local/v2` (kind: Backend, apiVersion: meshcd.dev/v1alpha1) with its endpoints",
        ]
    );
    assert_eq!(errors[0].location.file, "virtual-service.yaml");
    assert_eq!(errors[0].location.pos.line, 28);

    let config = translated(&revision_with(
        ISTIO_EXTERNAL_MESH,
        ("meshcd/backends.yaml", ISTIO_BACKENDS),
    ));
    let ads = route(&config, "VirtualService/ads/ads", "http[0]");
    assert_eq!(
        weights(ads),
        [
            ("ads.ads.svc.cluster.local_v1".into(), 90),
            ("ads.ads.svc.cluster.local_v2".into(), 10)
        ]
    );
    assert_eq!(ads["route"]["timeout"], "5s");
    assert_eq!(
        ads["route"]["retry_policy"],
        json!({"retry_on": "connect-failure,refused-stream,unavailable", "num_retries": 2, "per_try_timeout": "2s"})
    );
    // The DestinationRule's load balancing and outlier detection, as Istio builds them.
    let v1 = &config.clusters["ads.ads.svc.cluster.local_v1"];
    assert_eq!(v1["lb_policy"], "LEAST_REQUEST");
    assert_eq!(
        v1["outlier_detection"],
        json!({"consecutive_5xx": 5, "enforcing_consecutive_5xx": 100, "interval": "10s", "base_ejection_time": "30s"})
    );
    assert_eq!(v1["type"], "STATIC");
    // `localhost` is a name: resolved by DNS.
    assert_eq!(
        config.clusters["ads.ads.svc.cluster.local_v2"]["type"],
        "STRICT_DNS"
    );
}

#[test]
fn gateway_api_sample_needs_backends_and_then_translates() {
    let errors = errors_of(&revision(GATEWAY_API_CANARY));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0]
        .message
        .starts_with("backend `store` has no endpoints: declare a meshcd Backend named `store`"));
    assert_eq!(errors[1].field.to_string(), "spec.rules[0].backendRefs[1]");

    let config = translated(&revision_with(
        GATEWAY_API_CANARY,
        ("meshcd/backends.yaml", GATEWAY_BACKENDS),
    ));
    let store = route(&config, "HTTPRoute/store/store", "rules[0]");
    assert_eq!(store["match"], json!({"prefix": "/"}));
    assert_eq!(
        weights(store),
        [("store".into(), 90), ("store-canary".into(), 10)]
    );
    assert_eq!(
        vhost(&config, "HTTPRoute/store/store")["domains"],
        json!(["store.example.internal", "store.example.internal:*"])
    );
}

/// A networkservices HttpRoute with these destinations (YAML flow entries).
fn ns_route(destinations: &str) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: r\nhostnames: [r.internal]\nrules:\n- action:\n    destinations: {destinations}\n"
    )
}

const BACKENDS_ABC: &str = "---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: a}\nspec: {endpoints: [{address: 10.0.0.1, port: 80}]}\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: b}\nspec: {endpoints: [{address: 10.0.0.2, port: 80}]}\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: c}\nspec: {aliases: [c.prod.svc.cluster.local], endpoints: [{address: 10.0.0.3, port: 80}]}\n";

#[test]
fn networkservices_weights_are_all_or_none() {
    let unweighted = translated_yaml(&format!(
        "{}{BACKENDS_ABC}",
        ns_route("[{serviceName: projects/p/locations/global/backendServices/a}, {serviceName: projects/p/locations/global/backendServices/b}]")
    ));
    assert_eq!(
        weights(route(&unweighted, "HttpRoute/r", "rules[0]")),
        [("a".into(), 1), ("b".into(), 1)]
    );
    let partial = revision(&[(
        "r.yaml",
        &format!(
            "{}{BACKENDS_ABC}",
            ns_route("[{serviceName: a, weight: 3}, {serviceName: b}]")
        ),
    )]);
    let errors = translate(&partial, &EnvoySettings::default()).expect_err("partial");
    assert_eq!(
        errors[0].field.to_string(),
        "rules[0].action.destinations[1]"
    );
    assert!(errors[0].message.contains("all or none"), "{errors:?}");
}

/// An Istio VirtualService in namespace `prod` splitting host `c` between subsets-less hosts.
fn istio_route(route: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: prod}}\nspec:\n  hosts: [c]\n  http:\n  - route: {route}\n"
    )
}

#[test]
fn istio_weights_need_not_sum_to_100_but_not_to_zero() {
    let config = translated_yaml(&format!(
        "{}{BACKENDS_ABC}",
        istio_route("[{destination: {host: a}, weight: 3}, {destination: {host: c}, weight: 1}]")
    ));
    let r = route(&config, "VirtualService/prod/vs", "http[0]");
    // Short hosts are qualified with the namespace; `a.prod.svc.cluster.local` is found by
    // the written host `a`, `c` by the Backend's alias.
    assert_eq!(
        weights(r),
        [
            ("a.prod.svc.cluster.local".into(), 3),
            ("c.prod.svc.cluster.local".into(), 1)
        ]
    );
    assert_eq!(
        vhost(&config, "VirtualService/prod/vs")["domains"],
        json!(["c.prod.svc.cluster.local", "c.prod.svc.cluster.local:*"])
    );
    let zero = revision(&[(
        "r.yaml",
        &format!(
            "{}{BACKENDS_ABC}",
            istio_route(
                "[{destination: {host: a}, weight: 0}, {destination: {host: c}, weight: 0}]"
            )
        ),
    )]);
    let errors = translate(&zero, &EnvoySettings::default()).expect_err("zero total");
    assert_eq!(
        messages(&errors),
        ["VirtualService/prod/vs spec.http[0].route: the weights add up to 0: no destination would get traffic"]
    );
}

/// A Gateway API HTTPRoute in namespace `prod` with these backendRefs.
fn gateway_route(refs: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: web, namespace: prod}}\nspec:\n  hostnames: [web.example.com]\n  rules:\n  - backendRefs: {refs}\n"
    )
}

#[test]
fn gateway_api_weights_default_to_one_and_all_zero_answers_500() {
    let config = translated_yaml(&format!(
        "{}{BACKENDS_ABC}",
        gateway_route("[{name: a}, {name: b, weight: 3}]")
    ));
    assert_eq!(
        weights(route(&config, "HTTPRoute/prod/web", "rules[0]")),
        [("a".into(), 1), ("b".into(), 3)]
    );
    let config = translated_yaml(&format!(
        "{}{BACKENDS_ABC}",
        gateway_route("[{name: a, weight: 0}, {name: b, weight: 0}]")
    ));
    let r = route(&config, "HTTPRoute/prod/web", "rules[0]");
    assert_eq!(r["direct_response"], json!({"status": 500}));
    assert!(r.get("route").is_none());
    assert!(config.clusters.is_empty(), "{:?}", config.clusters.keys());
    // A zero weight beside others stays in the split: Envoy sends it nothing.
    let config = translated_yaml(&format!(
        "{}{BACKENDS_ABC}",
        gateway_route("[{name: a, weight: 0}, {name: b, weight: 2}]")
    ));
    assert_eq!(
        weights(route(&config, "HTTPRoute/prod/web", "rules[0]")),
        [("a".into(), 0), ("b".into(), 2)]
    );
}

#[test]
fn kitchen_matches_translate_every_kind() {
    let config = translated_yaml(KITCHEN);
    let exact = route(&config, "HttpRoute/kitchen", "rules[0].matches[0]");
    assert_eq!(
        exact["match"],
        json!({
            "path": "/exact",
            "headers": [
                {"name": "x-exact", "string_match": {"exact": "a"}},
                {"name": "x-regex", "string_match": {"safe_regex": {"regex": "b.*"}}},
                {"name": "x-prefix", "string_match": {"prefix": "c"}},
                {"name": "x-suffix", "string_match": {"suffix": "d"}, "invert_match": true},
                {"name": "x-present", "present_match": true},
                {"name": "x-absent", "present_match": true, "invert_match": true},
                {"name": "x-range", "range_match": {"start": "1", "end": "10"}},
            ],
            "query_parameters": [
                {"name": "q1", "string_match": {"exact": "v"}},
                {"name": "q2", "string_match": {"safe_regex": {"regex": "[0-9]+"}}},
                {"name": "q3", "present_match": true},
            ],
        })
    );
    assert_eq!(
        route(&config, "HttpRoute/kitchen", "rules[0].matches[1]")["match"],
        json!({"safe_regex": {"regex": "(?i)/re/[a-z]+"}, "case_sensitive": false})
    );
    assert_eq!(
        route(&config, "HttpRoute/kitchen", "rules[0].matches[2]")["match"],
        json!({"prefix": "/Case", "case_sensitive": false})
    );
    // Wildcard hostnames are kept, without a `:*` form.
    assert_eq!(
        vhost(&config, "HttpRoute/kitchen")["domains"],
        json!([
            "kitchen.internal",
            "kitchen.internal:*",
            "*.kitchen.internal"
        ])
    );
    let istio = route(&config, "VirtualService/shop/reviews", "http[0].match[0]");
    assert_eq!(
        istio["match"],
        json!({
            "prefix": "/api",
            "case_sensitive": false,
            "headers": [
                {"name": ":method", "string_match": {"exact": "GET"}},
                {"name": ":authority", "string_match": {"safe_regex": {"regex": "reviews.*"}}},
                {"name": "x-user", "string_match": {"exact": "jason"}},
                {"name": "x-any", "present_match": true},
                {"name": "x-bot", "string_match": {"prefix": "yes"}, "invert_match": true},
            ],
            "query_parameters": [{"name": "debug", "string_match": {"exact": "1"}}],
        })
    );
    let grpc = vhost(&config, "GRPCRoute/web/rpc")["routes"].clone();
    let matches: Vec<&Json> = grpc
        .as_array()
        .map(|r| r.iter().map(|r| &r["match"]).collect())
        .unwrap_or_default();
    assert_eq!(
        matches,
        [
            &json!({"path": "/echo.Echo/Say", "headers": [{"name": "x-tenant", "string_match": {"exact": "a"}}]}),
            &json!({"safe_regex": {"regex": "/echo\\..*/S.*"}}),
            &json!({"prefix": "/echo.Echo/"}),
            &json!({"prefix": "/"}),
        ]
    );
    assert!(config.clusters["rpc"]["typed_extension_protocol_options"].is_object());
}

#[test]
fn gateway_api_routes_follow_match_precedence() {
    let config = translated_yaml(KITCHEN);
    let order: Vec<(String, Json)> = vhost(&config, "HTTPRoute/web/web")["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("").to_string(),
                r["match"].clone(),
            )
        })
        .collect();
    let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
    // Exact, then regular expression, then prefixes longest first (PathPrefix `/api/` counts
    // with its slash), then the catch-all.
    assert_eq!(
        names,
        [
            "rules[5]",
            "rules[4]",
            "rules[3]",
            "rules[1].matches[0]",
            "rules[1].matches[1]",
            "rules[6]",
            "rules[2]",
            "rules[0]"
        ]
    );
    assert_eq!(order[2].1, json!({"path_separated_prefix": "/strip"}));
    assert_eq!(order[7].1, json!({"prefix": "/"}));
}

#[test]
fn redirects_of_each_family() {
    let config = translated_yaml(KITCHEN);
    assert_eq!(
        route(&config, "HttpRoute/kitchen", "rules[1]")["redirect"],
        json!({"host_redirect": "new.internal", "port_redirect": 8443, "prefix_rewrite": "/new",
               "response_code": "PERMANENT_REDIRECT", "https_redirect": true, "strip_query": true})
    );
    assert_eq!(
        route(&config, "HttpRoute/kitchen", "rules[2]")["redirect"],
        json!({"path_redirect": "/here", "response_code": "MOVED_PERMANENTLY"})
    );
    assert_eq!(
        route(&config, "VirtualService/shop/reviews", "http[1]")["redirect"],
        json!({"host_redirect": "other.shop", "port_redirect": 8443, "path_redirect": "/moved",
               "scheme_redirect": "https", "response_code": "TEMPORARY_REDIRECT"})
    );
    assert_eq!(
        route(&config, "HTTPRoute/web/web", "rules[2]")["redirect"],
        json!({"scheme_redirect": "https", "host_redirect": "new.example.com",
               "prefix_rewrite": "/new", "response_code": "MOVED_PERMANENTLY"})
    );
    // Gateway API redirects default to 302.
    let config = translated_yaml(&format!(
        "{}    filters: [{{type: RequestRedirect, requestRedirect: {{hostname: x.example.com}}}}]\n",
        gateway_route("[]")
    ));
    assert_eq!(
        route(&config, "HTTPRoute/prod/web", "rules[0]")["redirect"],
        json!({"host_redirect": "x.example.com", "response_code": "FOUND"})
    );
}

#[test]
fn fault_injection_goes_per_route_and_adds_the_filter() {
    let config = translated_yaml(KITCHEN);
    assert_eq!(
        route(&config, "HttpRoute/kitchen", "rules[0].matches[0]")["typed_per_filter_config"],
        json!({"envoy.filters.http.fault": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
            "delay": {"fixed_delay": "0.500s", "percentage": {"numerator": 10, "denominator": "HUNDRED"}},
            "abort": {"http_status": 503, "percentage": {"numerator": 5, "denominator": "HUNDRED"}},
        }})
    );
    assert_eq!(
        route(&config, "VirtualService/shop/reviews", "http[0].match[0]")
            ["typed_per_filter_config"]["envoy.filters.http.fault"]["abort"],
        json!({"grpc_status": 14, "percentage": {"numerator": 1000, "denominator": "MILLION"}})
    );
    let filters: Vec<&str> = config.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]
        ["http_filters"]
        .as_array()
        .expect("filters")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    // The kitchen also has CORS and session affinity: those filters come with the fault one.
    assert_eq!(
        filters,
        [
            "envoy.filters.http.cors",
            "envoy.filters.http.fault",
            "envoy.filters.http.stateful_session",
            "envoy.filters.http.router"
        ]
    );
}

#[test]
fn retries_timeouts_rewrites_and_mirrors() {
    let config = translated_yaml(KITCHEN);
    let ns = &route(&config, "HttpRoute/kitchen", "rules[0].matches[0]")["route"];
    assert_eq!(
        ns["retry_policy"],
        json!({"retry_on": "5xx,gateway-error,reset", "num_retries": 4, "per_try_timeout": "1.500s"})
    );
    assert_eq!(ns["timeout"], "15s");
    assert_eq!(ns["idle_timeout"], "300s");
    assert_eq!(ns["prefix_rewrite"], "/new");
    assert_eq!(ns["host_rewrite_literal"], "new.internal");
    assert_eq!(
        ns["request_mirror_policies"],
        json!([{"cluster": "mirror", "runtime_fraction": {"default_value": {"numerator": 125000, "denominator": "MILLION"}}}])
    );
    let istio = &route(&config, "VirtualService/shop/reviews", "http[0].match[0]")["route"];
    // Status codes in `retryOn` become retriable status codes.
    assert_eq!(
        istio["retry_policy"],
        json!({"retry_on": "5xx,retriable-status-codes", "num_retries": 3, "per_try_timeout": "2s",
               "retriable_status_codes": [503, 504]})
    );
    assert_eq!(
        istio["regex_rewrite"],
        json!({"pattern": {"regex": "^/api/(.*)"}, "substitution": "/\\1"})
    );
    assert_eq!(
        route(&config, "VirtualService/shop/reviews", "http[3]")["route"]["retry_policy"],
        json!({"retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
               "num_retries": 0, "retriable_status_codes": [503]})
    );
    let gw = &route(&config, "HTTPRoute/web/web", "rules[1].matches[0]")["route"];
    assert_eq!(
        gw["retry_policy"],
        json!({"retry_on": "connect-failure,refused-stream,retriable-status-codes", "num_retries": 2,
               "retriable_status_codes": [502, 503], "retry_back_off": {"base_interval": "0.100s"}})
    );
    assert_eq!(gw["timeout"], "20s");
    assert_eq!(
        gw["request_mirror_policies"][0]["runtime_fraction"]["default_value"],
        json!({"numerator": 250000, "denominator": "MILLION"})
    );
    // ReplacePrefixMatch to `/` strips the prefix and its slashes.
    assert_eq!(
        route(&config, "HTTPRoute/web/web", "rules[3]")["route"]["regex_rewrite"],
        json!({"pattern": {"regex": "^/strip/*"}, "substitution": "/"})
    );
    assert_eq!(
        route(&config, "HTTPRoute/web/web", "rules[4]")["route"]["regex_rewrite"],
        json!({"pattern": {"regex": "^/.*$"}, "substitution": "/index.html"})
    );
}

#[test]
fn header_modifiers_of_routes_and_backends() {
    let config = translated_yaml(KITCHEN);
    let ns = route(&config, "HttpRoute/kitchen", "rules[0].matches[0]");
    assert_eq!(
        ns["request_headers_to_add"],
        json!([
            {"header": {"key": "x-set", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
            {"header": {"key": "x-add", "value": "2"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"},
        ])
    );
    assert_eq!(ns["request_headers_to_remove"], json!(["x-remove"]));
    assert_eq!(
        ns["response_headers_to_add"],
        json!([{"header": {"key": "x-resp", "value": "ok"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}])
    );
    let clusters = &ns["route"]["weighted_clusters"]["clusters"];
    assert_eq!(
        clusters[0]["request_headers_to_add"],
        json!([{"header": {"key": "x-dest", "value": "blue"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}])
    );
    assert_eq!(
        clusters[1]["response_headers_to_remove"],
        json!(["x-internal"])
    );
    let istio = route(&config, "VirtualService/shop/reviews", "http[0].match[0]");
    assert_eq!(istio["response_headers_to_remove"], json!(["server"]));
    let gw = route(&config, "HTTPRoute/web/web", "rules[0]");
    assert_eq!(
        gw["route"]["weighted_clusters"]["clusters"][1]["request_headers_to_add"],
        json!([{"header": {"key": "x-canary", "value": "true"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}])
    );
    assert_eq!(
        route(&config, "HttpRoute/kitchen", "rules[3]")["direct_response"],
        json!({"status": 418, "body": {"inline_string": "short and stout"}})
    );
}

#[test]
fn endpoints_from_service_entries_follow_subsets_and_ports() {
    let config = translated_yaml(KITCHEN);
    let endpoints = |name: &str| -> Vec<(String, u64)> {
        config.clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .map(|e| {
                let a = &e["endpoint"]["address"]["socket_address"];
                (
                    a["address"].as_str().unwrap_or("").to_string(),
                    a["port_value"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    // Subset labels select the inline endpoints; a named port overrides the service port.
    assert_eq!(
        endpoints("reviews.shop.svc.cluster.local_v1"),
        [("127.0.0.1".into(), 18101)]
    );
    assert_eq!(
        endpoints("reviews.shop.svc.cluster.local_v2"),
        [("127.0.0.2".into(), 9080), ("127.0.0.3".into(), 9080)]
    );
    // DNS resolution without endpoints: the host itself, on the target port of the port the
    // route names; HTTP2 ports make HTTP/2 clusters.
    assert_eq!(
        endpoints("httpbin.example.com"),
        [("httpbin.example.com".into(), 8443)]
    );
    assert_eq!(config.clusters["httpbin.example.com"]["type"], "STRICT_DNS");
    assert!(config.clusters["httpbin.example.com"]["typed_extension_protocol_options"].is_object());
    // The subset's policy overrides the rule's, field by field.
    assert_eq!(
        config.clusters["reviews.shop.svc.cluster.local_v2"]["outlier_detection"],
        json!({"enforcing_consecutive_5xx": 0, "consecutive_gateway_failure": 3,
               "enforcing_consecutive_gateway_failure": 100, "interval": "5s", "max_ejection_percent": 50})
    );
    assert_eq!(
        config.clusters["reviews.shop.svc.cluster.local_v2"]["lb_policy"],
        "RANDOM"
    );
}

#[test]
fn a_backend_without_endpoints_is_an_error() {
    let errors = errors_of(&revision(&[(
        "r.yaml",
        &ns_route("[{serviceName: projects/p/locations/global/backendServices/nowhere}]"),
    )]));
    assert_eq!(
        messages(&errors),
        ["HttpRoute/r rules[0].action.destinations[0]: backend `nowhere` has no endpoints: declare a meshcd Backend named `nowhere` (kind: Backend, apiVersion: meshcd.dev/v1alpha1) with its endpoints"]
    );
    let bad_backend = format!(
        "{}---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {{name: a}}\nspec: {{endpoints: [{{address: '', port: 0}}], protocol: tcp}}\n",
        ns_route("[{serviceName: a}]")
    );
    let errors = errors_of(&revision(&[("r.yaml", &bad_backend)]));
    assert_eq!(
        messages(&errors),
        [
            "Backend/a spec.endpoints[0]: the endpoint has no address",
            "Backend/a spec.protocol: protocol `tcp` cannot serve HTTP routes (use http or http2)",
        ]
    );
}

#[test]
fn untranslatable_fields_and_kinds_are_errors_never_dropped() {
    let text = format!(
        "{}{BACKENDS_ABC}---\napiVersion: networkservices.googleapis.com/v1\nkind: TcpRoute\nname: tcp\nrules:\n- matches: [{{address: 10.0.0.0/8, port: '5432'}}]\n  action:\n    originalDestination: true\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: mixed, namespace: prod}}\nspec:\n  hosts: [m]\n  http:\n  - match: [{{sourceLabels: {{app: x}}}}]\n    route: [{{destination: {{host: a}}}}]\n  tcp:\n  - route: [{{destination: {{host: a}}}}]\n",
        ns_route("[{serviceName: a}]")
    );
    let errors = errors_of(&revision(&[("r.yaml", &text)]));
    assert_eq!(
        messages(&errors),
        [
            "TcpRoute/tcp rules[0].action.originalDestination: Envoy would send each connection to the address it was sent to, which on meshcd's listener (no traffic interception) is Envoy's own listener: list `destinations` instead",
            "VirtualService/prod/mixed spec.http[0].match[0].sourceLabels: `sourceLabels` is not translated by the envoy target; remove it or use another target",
            "VirtualService/prod/mixed spec.tcp: `tcp` routes are not supported by the envoy target yet (only `http`)",
        ]
    );
    // The display names the file, line, resource and field.
    assert_eq!(
        errors[0].to_string(),
        "r.yaml:30:26: TcpRoute/tcp: rules[0].action.originalDestination: Envoy would send each connection to the address it was sent to, which on meshcd's listener (no traffic interception) is Envoy's own listener: list `destinations` instead"
    );
}

#[test]
fn two_routes_cannot_claim_one_hostname() {
    let text = format!(
        "{}---\n{}",
        ns_route("[{serviceName: a}]"),
        ns_route("[{serviceName: b}]").replace("name: r\n", "name: r2\n")
    );
    let errors = errors_of(&revision(&[("r.yaml", &format!("{text}{BACKENDS_ABC}"))]));
    assert_eq!(
        messages(&errors),
        [
            "HttpRoute/r2 hostnames[0]: hostname `r.internal` is also claimed by HttpRoute/r; Envoy's route table takes each hostname once",
        ]
    );
}

#[test]
fn invalid_values_are_reported_where_they_are() {
    let text = format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: r\nhostnames: [r.internal]\nrules:\n- matches: [{{regexMatch: '(unclosed'}}]\n  action:\n    destinations: [{{serviceName: a}}]\n    timeout: soon\n    retryPolicy: {{retryConditions: [sometimes], numRetries: 1}}\n    faultInjectionPolicy: {{abort: {{httpStatus: 700, percentage: 150}}}}\n{BACKENDS_ABC}"
    );
    let errors = errors_of(&revision(&[("r.yaml", &text)]));
    let fields: Vec<String> = errors.iter().map(|e| e.field.to_string()).collect();
    assert_eq!(
        fields,
        [
            "rules[0].matches[0].regexMatch",
            "rules[0].action.timeout",
            "rules[0].action.retryPolicy.retryConditions[0]",
            "rules[0].action.faultInjectionPolicy.abort.httpStatus",
        ]
    );
}

#[test]
fn translation_is_deterministic_whatever_the_file_order() {
    let mut files: Vec<(&str, &str)> = ISTIO_EXTERNAL_MESH.to_vec();
    files.extend_from_slice(GATEWAY_API_CANARY);
    files.push(("istio-backends.yaml", ISTIO_BACKENDS));
    files.push(("gateway-backends.yaml", GATEWAY_BACKENDS));
    files.push(("kitchen.yaml", KITCHEN));
    let forward = revision(&files);
    files.reverse();
    let backward = revision(&files);
    let a = translated(&forward);
    let b = translated(&backward);
    assert_eq!(a, b);
    let text = |c: &EnvoyConfig| serde_json::to_string(c).expect("serializes");
    assert_eq!(text(&a), text(&translated(&forward)));
    assert_eq!(text(&a), text(&b));
}

#[test]
fn cluster_names_of_each_family() {
    let config = translated(&revision_with(
        ISTIO_EXTERNAL_MESH,
        ("meshcd/backends.yaml", ISTIO_BACKENDS),
    ));
    let loaded = revision_with(
        ISTIO_EXTERNAL_MESH,
        ("meshcd/backends.yaml", ISTIO_BACKENDS),
    );
    let vs = loaded
        .resources
        .iter()
        .find(|r| r.id.kind == Kind::VirtualService)
        .expect("vs");
    let ir = crate::ir::route(vs).expect("ir");
    let names: Vec<String> = ir.rules[0]
        .split
        .as_ref()
        .expect("split")
        .backends
        .iter()
        .map(cluster_name)
        .collect();
    assert_eq!(
        names,
        [
            "ads.ads.svc.cluster.local_v1",
            "ads.ads.svc.cluster.local_v2"
        ]
    );
    assert!(names.iter().all(|n| config.clusters.contains_key(n)));
}

#[test]
fn settings_validate_what_users_get_wrong() {
    assert_eq!(EnvoySettings::default().validate(), Ok(()));
    let bad = EnvoySettings {
        cluster_connect_timeout: "soon".into(),
        ..EnvoySettings::default()
    };
    assert!(bad.validate().is_err());
    let bad = EnvoySettings {
        rds_path: "/var/lib/meshcd/".into(),
        ..EnvoySettings::default()
    };
    assert!(bad.validate().is_err());
    let fast = EnvoySettings {
        cluster_connect_timeout: "250ms".into(),
        ..EnvoySettings::default()
    };
    let config = translate(&revision(CLOUD_RUN_MESH), &fast).expect("translates");
    assert_eq!(config.clusters["target"]["connect_timeout"], "0.250s");
}
