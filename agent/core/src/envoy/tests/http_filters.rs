//! CORS and session affinity: per-route configs of each family, the listener's filters only
//! when some route uses them, and what Envoy cannot do reported at its field.

use serde_json::{json, Value as Json};

use super::*;

const CORS: &str = "envoy.filters.http.cors";
const SESSION: &str = "envoy.filters.http.stateful_session";

fn per_filter<'c>(config: &'c EnvoyConfig, vhost: &str, name: &str, filter: &str) -> &'c Json {
    &route(config, vhost, name)["typed_per_filter_config"][filter]
}

fn http_filters(config: &EnvoyConfig) -> Vec<String> {
    config.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["name"].as_str().map(str::to_string))
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

const BACKEND_A: &str = "---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: a}\nspec: {endpoints: [{address: 127.0.0.1, port: 1001}]}\n";

/// A networkservices HttpRoute to `a` with these extra action fields (YAML, indented 4).
fn ns_action(extra: &str) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: r\nhostnames: [r.internal]\nrules:\n- action:\n    destinations: [{{serviceName: a}}]\n{extra}{BACKEND_A}"
    )
}

/// A Gateway API HTTPRoute to `a` with these extra rule fields (YAML, indented 4).
fn gateway_rule(extra: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: web, namespace: q}}\nspec:\n  hostnames: [web.example.com]\n  rules:\n  - backendRefs: [{{name: a}}]\n{extra}{BACKEND_A}"
    )
}

#[test]
fn cors_policies_of_each_family_go_per_route() {
    let config = translated_yaml(KITCHEN);
    assert_eq!(
        *per_filter(&config, "HttpRoute/kitchen", "rules[4]", CORS),
        json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
            "allow_origin_string_match": [
                {"exact": "https://app.kitchen.internal"},
                {"safe_regex": {"regex": ".*"}},
                {"safe_regex": {"regex": "https://.*\\.kitchen\\.internal"}},
            ],
            "allow_methods": "GET,POST",
            "allow_headers": "x-a,x-b",
            "expose_headers": "x-c",
            "max_age": "600",
            "allow_credentials": false,
        })
    );
    // A disabled networkservices policy turns the filter off for the route.
    assert_eq!(
        per_filter(&config, "HttpRoute/kitchen", "rules[5]", CORS)["filter_enabled"],
        json!({"default_value": {"numerator": 0, "denominator": "HUNDRED"}})
    );
    assert_eq!(
        *per_filter(&config, "VirtualService/shop/reviews", "http[3]", CORS),
        json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
            "allow_origin_string_match": [
                {"exact": "https://shop.example"},
                {"prefix": "https://dev."},
                {"safe_regex": {"regex": "https://.*\\.shop\\.example"}},
            ],
            "allow_methods": "GET,PUT",
            "allow_headers": "authorization",
            "expose_headers": "x-shop",
            "max_age": "86400",
            "allow_credentials": true,
            "forward_not_matching_preflights": false,
        })
    );
    let gateway = per_filter(&config, "HTTPRoute/web/web", "rules[5]", CORS);
    assert_eq!(
        gateway["allow_origin_string_match"][0],
        json!({"exact": "https://web.example.com"})
    );
    let wildcard = gateway["allow_origin_string_match"][1]["safe_regex"]["regex"]
        .as_str()
        .expect("a regex");
    let re = regex::Regex::new(&format!("^{wildcard}$")).expect("compiles");
    assert!(re.is_match("https://a.example.com:8443"));
    assert!(!re.is_match("https://example.com:8443"));
    assert_eq!(gateway["allow_methods"], "*");
    // Gateway API's default `maxAge` is 5 seconds.
    assert_eq!(gateway["max_age"], "5");
    assert_eq!(gateway["allow_credentials"], true);
}

#[test]
fn session_affinity_of_each_family_goes_per_route() {
    let config = translated_yaml(KITCHEN);
    let cookie =
        |c: &Json| c["stateful_session"]["session_state"]["typed_config"]["cookie"].clone();
    let ns = per_filter(&config, "HttpRoute/kitchen", "rules[4]", SESSION);
    assert_eq!(
        ns["@type"],
        "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSessionPerRoute"
    );
    assert_eq!(
        ns["stateful_session"]["session_state"]["name"],
        "envoy.http.stateful_session.cookie"
    );
    assert_eq!(
        cookie(ns),
        json!({"name": "GSSA", "path": "/", "ttl": "3600s"})
    );
    assert_eq!(
        cookie(per_filter(
            &config,
            "HttpRoute/kitchen",
            "rules[5]",
            SESSION
        ))["ttl"],
        "0s"
    );
    assert_eq!(
        cookie(per_filter(
            &config,
            "HTTPRoute/web/web",
            "rules[5]",
            SESSION
        )),
        json!({"name": "web-session", "path": "/", "ttl": "3600s"})
    );
    let header = per_filter(&config, "GRPCRoute/web/rpc", "rules[1]", SESSION);
    assert_eq!(
        header["stateful_session"]["session_state"],
        json!({"name": "envoy.http.stateful_session.header", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.http.stateful_session.header.v3.HeaderBasedSessionState",
            "name": "x-rpc-session"}})
    );
    // Routes without affinity have no session config.
    assert!(route(&config, "HttpRoute/kitchen", "rules[6]")
        .get("typed_per_filter_config")
        .is_none());
}

#[test]
fn the_filters_come_only_when_some_route_uses_them() {
    let plain = translated_yaml(&ns_action(""));
    assert_eq!(http_filters(&plain), ["envoy.filters.http.router"]);
    let cors = translated_yaml(&ns_action("    corsPolicy: {allowOrigins: [\"*\"]}\n"));
    assert_eq!(
        http_filters(&cors),
        ["envoy.filters.http.cors", "envoy.filters.http.router"]
    );
    let session = translated_yaml(&gateway_rule("    sessionPersistence: {sessionName: s}\n"));
    assert_eq!(
        http_filters(&session),
        [
            "envoy.filters.http.stateful_session",
            "envoy.filters.http.router"
        ]
    );
    assert_eq!(
        per_filter(&session, "HTTPRoute/q/web", "rules[0]", SESSION)["stateful_session"]
            ["session_state"]["typed_config"]["cookie"],
        json!({"name": "s", "path": "/", "ttl": "0s"})
    );
}

#[test]
fn what_envoy_cannot_do_with_sessions_and_cors_is_reported_at_its_field() {
    let cases = [
        (
            gateway_rule("    sessionPersistence: {idleTimeout: 10m}\n"),
            "HTTPRoute/q/web spec.rules[0].sessionPersistence.idleTimeout: Envoy's stateful sessions have no idle timeout; remove it",
        ),
        (
            gateway_rule("    sessionPersistence: {absoluteTimeout: 1h}\n"),
            "HTTPRoute/q/web spec.rules[0].sessionPersistence.absoluteTimeout: Envoy expires a session only with its cookie: use `cookieConfig: {lifetimeType: Permanent}` for a session that ends after `absoluteTimeout`",
        ),
        (
            gateway_rule("    sessionPersistence: {cookieConfig: {lifetimeType: Permanent}}\n"),
            "HTTPRoute/q/web spec.rules[0].sessionPersistence: a `Permanent` session cookie needs an `absoluteTimeout` (its lifetime)",
        ),
        (
            gateway_rule("    sessionPersistence: {type: Header, absoluteTimeout: 1h}\n"),
            "HTTPRoute/q/web spec.rules[0].sessionPersistence.absoluteTimeout: Envoy's header-based sessions do not expire; remove `absoluteTimeout` or use a cookie",
        ),
        (
            ns_action("    statefulSessionAffinity: {cookieTtl: 90000s}\n"),
            "HttpRoute/r rules[0].action.statefulSessionAffinity.cookieTtl: `90000s` is not a whole number of seconds from 0s to 86400s",
        ),
        (
            ns_action("    statefulSessionAffinity: {}\n"),
            "HttpRoute/r rules[0].action.statefulSessionAffinity: stateful session affinity needs a `cookieTtl`",
        ),
        (
            gateway_rule("    filters: [{type: CORS, cors: {allowOrigins: [\"ftp:/x\"]}}]\n"),
            "HTTPRoute/q/web spec.rules[0].filters[0].cors.allowOrigins[0]: `ftp:/x` is not `*` or `scheme://host[:port]`",
        ),
        (
            ns_action("    corsPolicy: {allowOrigins: [a], maxAge: soon}\n"),
            "HttpRoute/r rules[0].action.corsPolicy.maxAge: expected a whole number of seconds",
        ),
    ];
    for (text, expected) in cases {
        let errors = errors_of(&revision(&[("r.yaml", &text)]));
        assert_eq!(error_lines(&errors), [expected], "{text}");
    }
    let istio = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: vs, namespace: q}}\nspec:\n  hosts: [a]\n  http:\n  - route: [{{destination: {{host: a}}}}]\n    corsPolicy: {{maxAge: 1500ms, unmatchedPreflights: DROP}}\n{BACKEND_A}"
    );
    let errors = errors_of(&revision(&[("r.yaml", &istio)]));
    assert_eq!(
        error_lines(&errors),
        [
            "VirtualService/q/vs spec.http[0].corsPolicy.maxAge: `1500ms` is not a whole number of seconds such as `86400s`",
            "VirtualService/q/vs spec.http[0].corsPolicy.unmatchedPreflights: `DROP` is not FORWARD or IGNORE",
        ]
    );
}
