//! The layer-4 routes, `gateway.networking.k8s.io/v1`: TCPRoute and UDPRoute (one rule of
//! weighted backends), and TLSRoute (the same, selected by SNI hostnames).

use std::net::IpAddr;

use serde_json::Value as Json;

use super::common::{backend_ref, hostname, parent_refs, root, rule_name};
use super::tri::items;
use crate::schema::model::{array, object, Schema};

/// The single rule of a layer-4 route.
fn rules() -> Schema {
    let rule = object()
        .required_field(
            "backendRefs",
            array(backend_ref()).min_items(1).max_items(16),
        )
        .field("name", rule_name());
    array(rule).min_items(1).max_items(1)
}

/// TCPRoute and UDPRoute.
pub fn plain() -> Schema {
    let spec = object()
        .field("parentRefs", parent_refs())
        .required_field("rules", rules());
    root(spec)
}

/// TLSRoute.
pub fn tls() -> Schema {
    let spec = object()
        .required_field("hostnames", tls_hostnames())
        .field("parentRefs", parent_refs())
        .required_field("rules", rules());
    root(spec)
}

fn tls_hostnames() -> Schema {
    array(hostname())
        .min_items(1)
        .max_items(1024)
        .rule(no_ip_address, "TLS hostnames are names, not IP addresses")
        .rule(
            names_are_dns,
            "a hostname without `*` must be a DNS name (RFC 1123)",
        )
        .rule(
            wildcard_first_label,
            "a wildcard must be the whole first label (`*.example.com`), followed by a DNS name",
        )
}

/// Each item that is a string, with whether each passes `check`.
fn every(hostnames: &Json, check: impl Fn(&str) -> bool) -> bool {
    items(hostnames)
        .iter()
        .all(|h| h.as_str().is_some_and(&check))
}

fn no_ip_address(hostnames: &Json) -> bool {
    every(hostnames, |h| h.parse::<IpAddr>().is_err())
}

fn names_are_dns(hostnames: &Json) -> bool {
    every(hostnames, |h| h.contains('*') || dns_name(h))
}

fn wildcard_first_label(hostnames: &Json) -> bool {
    every(hostnames, |h| {
        !h.contains('*') || h.strip_prefix("*.").is_some_and(dns_name)
    })
}

/// A lowercase RFC 1123 DNS subdomain: dot-separated labels of letters, digits and inner
/// dashes (no length limit: the field's own bounds see to that).
fn dns_name(text: &str) -> bool {
    text.split('.').all(|label| {
        let bytes = label.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes.iter().all(|b| alnum(b) || *b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tls_hostnames_are_dns_names_or_wildcards() {
        assert!(names_are_dns(&json!(["a.example.com", "*.b.com"])));
        assert!(!names_are_dns(&json!(["a..b"])));
        assert!(!names_are_dns(&json!(["-a.b"])));
        assert!(wildcard_first_label(&json!(["*.b.com", "c.com"])));
        assert!(!wildcard_first_label(&json!(["a.*.com"])));
        assert!(!wildcard_first_label(&json!(["*"])));
        assert!(!no_ip_address(&json!(["10.0.0.1"])));
        assert!(no_ip_address(&json!(["a.b"])));
    }
}
