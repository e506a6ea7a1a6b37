//! GRPCRoute (`gateway.networking.k8s.io/v1`).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Value as Json};

use super::common::{backend_ref, header_matches, hostnames, parent_refs, root, rule_name};
use super::filters::{filters, Filter};
use super::tri::{has, items};
use crate::schema::model::{array, object, string, Schema};

/// Every filter type a gRPC route knows.
const KINDS: [Filter; 4] = [
    Filter::RequestHeaderModifier,
    Filter::ResponseHeaderModifier,
    Filter::RequestMirror,
    Filter::ExtensionRef,
];

/// The filter types a list may hold at most once.
const ONCE: [Filter; 2] = [
    Filter::RequestHeaderModifier,
    Filter::ResponseHeaderModifier,
];

/// The whole GRPCRoute object.
pub fn schema() -> Schema {
    let spec = object()
        .field("hostnames", hostnames())
        .field("parentRefs", parent_refs())
        .field("rules", rules());
    root(spec)
}

fn rules() -> Schema {
    let backend = backend_ref().field("filters", filters(&KINDS, &ONCE));
    let route_match = object()
        .field("headers", header_matches())
        .field("method", method_match());
    let rule = object()
        .field("backendRefs", array(backend).max_items(16))
        .field("filters", filters(&KINDS, &ONCE))
        .field("matches", array(route_match).max_items(64))
        .field("name", rule_name());
    array(rule).max_items(16).rule(
        at_most_128_matches,
        "a route may have at most 128 matches across all its rules",
    )
}

fn at_most_128_matches(rules: &Json) -> bool {
    let total: usize = items(rules)
        .iter()
        .take(16)
        .map(|r| r.get("matches").map_or(0, |m| items(m).len()))
        .sum();
    total <= 128
}

fn method_match() -> Schema {
    object()
        .field("method", string().max_length(1024))
        .field("service", string().max_length(1024))
        .field(
            "type",
            string()
                .one_of(&["Exact", "RegularExpression"])
                .default_value(json!("Exact")),
        )
        .rule(
            service_or_method,
            "a method match needs a `service`, a `method`, or both",
        )
        .rule(
            service_name,
            "an `Exact` `service` must be a gRPC service name: dot-separated identifiers",
        )
        .rule(
            method_name,
            "an `Exact` `method` must be a gRPC method name: one identifier",
        )
}

fn service_or_method(m: &Json) -> bool {
    !has(m, "type") || has(m, "service") || has(m, "method")
}

/// True when the match compares names exactly (`type` absent or `Exact`).
fn exact(m: &Json) -> bool {
    m.get("type").is_none_or(|t| t.as_str() == Some("Exact"))
}

fn service_name(m: &Json) -> bool {
    // Letters match case-insensitively, as the API server's regular expressions do (which
    // includes the Kelvin sign and the long s): a regular expression says it best.
    static SERVICE: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$").ok());
    match m.get("service") {
        Some(s) if exact(m) => s
            .as_str()
            .is_some_and(|s| SERVICE.as_ref().is_some_and(|re| re.is_match(s))),
        _ => true,
    }
}

fn method_name(m: &Json) -> bool {
    match m.get("method") {
        Some(s) if exact(m) => s.as_str().is_some_and(identifier),
        _ => true,
    }
}

/// `[A-Za-z_][A-Za-z_0-9]*`.
fn identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_matches_name_grpc_services_and_methods() {
        assert!(service_name(
            &json!({"type": "Exact", "service": "pkg.v1.Svc"})
        ));
        assert!(!service_name(
            &json!({"type": "Exact", "service": "pkg/Svc"})
        ));
        assert!(service_name(
            &json!({"type": "RegularExpression", "service": "pkg/.*"})
        ));
        assert!(method_name(&json!({"method": "Get_1"})));
        assert!(!method_name(&json!({"method": "1Get"})));
        assert!(!service_or_method(&json!({"type": "Exact"})));
        assert!(at_most_128_matches(&json!([{"matches": [{}]}, {}])));
    }
}
