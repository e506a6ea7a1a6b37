//! The pieces every Gateway API route shares: names, hostnames, parent and backend references.

use serde_json::{json, Value as Json};

use super::tri::{all, and, choose, exactly_one, holds, is, items, passes, same, unset, Tri};
use crate::schema::model::{any, array, integer, object, string, Schema};

/// A DNS subdomain (RFC 1123), lowercase.
pub const DNS_NAME: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A DNS subdomain whose first label may be `*`.
const WILDCARD_DNS_NAME: &str =
    r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// An API group: empty (the core group) or a DNS subdomain.
const GROUP: &str = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A kind name.
const KIND: &str = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$";
/// A namespace name (an RFC 1123 label).
const NAMESPACE: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// An HTTP header name (an RFC 7230 token).
const HEADER_NAME: &str = r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$";

/// The whole object: `apiVersion`, `kind`, `metadata` and `status` are left to the API server
/// and controllers (as for CRDs, see [`crate::schema::crd`]); `spec` is required.
pub fn root(spec: Schema) -> Schema {
    object()
        .field("apiVersion", any())
        .field("kind", any())
        .field("metadata", any())
        .field("status", any())
        .required_field("spec", spec)
}

/// An API group, defaulting to `default` when given.
pub fn group(default: Option<&str>) -> Schema {
    let schema = string().max_length(253).pattern(GROUP);
    match default {
        Some(d) => schema.default_value(json!(d)),
        None => schema,
    }
}

/// A kind name, defaulting to `default` when given.
pub fn kind(default: Option<&str>) -> Schema {
    let schema = string().length(1, 63).pattern(KIND);
    match default {
        Some(d) => schema.default_value(json!(d)),
        None => schema,
    }
}

/// An object's name.
pub fn object_name() -> Schema {
    string().length(1, 253)
}

/// A namespace.
pub fn namespace() -> Schema {
    string().length(1, 63).pattern(NAMESPACE)
}

/// A section name, or a rule name: a DNS subdomain.
pub fn section_name() -> Schema {
    string().length(1, 253).pattern(DNS_NAME)
}

/// A hostname without wildcard (redirects and rewrites).
pub fn precise_hostname() -> Schema {
    string().length(1, 253).pattern(DNS_NAME)
}

/// A route hostname, possibly `*.`-prefixed.
pub fn hostname() -> Schema {
    string().length(1, 253).pattern(WILDCARD_DNS_NAME)
}

/// A TCP or UDP port number.
pub fn port() -> Schema {
    integer().range(1, 65535)
}

/// An HTTP header name.
pub fn header_name() -> Schema {
    string().length(1, 256).pattern(HEADER_NAME)
}

/// The `hostnames` of an HTTP or gRPC route.
pub fn hostnames() -> Schema {
    array(hostname()).max_items(16)
}

/// The `name` of a route rule.
pub fn rule_name() -> Schema {
    section_name()
}

/// `parentRefs`: the Gateways (or other parents) a route attaches to.
pub fn parent_refs() -> Schema {
    let parent = object()
        .field("group", group(Some("gateway.networking.k8s.io")))
        .field("kind", kind(Some("Gateway")))
        .required_field("name", object_name())
        .field("namespace", namespace())
        .field("port", port())
        .field("sectionName", section_name());
    array(parent)
        .max_items(32)
        .rule(
            section_names_all_or_none,
            "references to the same parent must either all name a `sectionName` or none",
        )
        .rule(
            parents_unique,
            "each reference to a parent must be unique: two references to the same parent need different `sectionName`s",
        )
        .rule(
            parents_named,
            "each parent reference needs a `name`: without it, repeated parents cannot be checked",
        )
}

fn parents_named(refs: &Json) -> bool {
    items(refs).iter().all(|r| r.get("name").is_some())
}

/// Whether two parent references name the same parent (group, kind, name and namespace).
fn same_parent(a: &Json, b: &Json) -> Tri {
    let names = and(
        and(same(a, b, "group"), same(a, b, "kind")),
        same(a, b, "name"),
    );
    let namespaces = (unset(a, "namespace") && unset(b, "namespace"))
        || (a.get("namespace").is_some() && a.get("namespace") == b.get("namespace"));
    and(names, Some(namespaces))
}

fn section_names_all_or_none(refs: &Json) -> bool {
    let refs = items(refs);
    holds(all(refs.iter().flat_map(|a| {
        refs.iter().map(move |b| {
            choose(
                same_parent(a, b),
                || Some(unset(a, "sectionName") == unset(b, "sectionName")),
                || Some(true),
            )
        })
    })))
}

fn parents_unique(refs: &Json) -> bool {
    let refs = items(refs);
    let same_section = |a: &Json, b: &Json| {
        (unset(a, "sectionName") && unset(b, "sectionName"))
            || (a.get("sectionName").is_some() && a.get("sectionName") == b.get("sectionName"))
    };
    holds(all(refs.iter().map(|a| {
        exactly_one(
            refs.iter()
                .map(|b| and(same_parent(a, b), Some(same_section(a, b)))),
        )
    })))
}

/// A reference to a backend object: a Service by default.
pub fn backend_object_ref() -> Schema {
    object()
        .field("group", group(Some("")))
        .field("kind", kind(Some("Service")))
        .required_field("name", object_name())
        .field("namespace", namespace())
        .field("port", port())
        .rule(service_has_port, "a reference to a Service needs a `port`")
}

fn service_has_port(backend: &Json) -> bool {
    let core_service = and(
        backend
            .get("group")
            .map(|g| g.as_str().is_some_and(str::is_empty)),
        is(backend, "kind", "Service"),
    );
    passes(choose(
        core_service,
        || Some(backend.get("port").is_some()),
        || Some(true),
    ))
}

/// A weighted backend of a route rule.
pub fn backend_ref() -> Schema {
    backend_object_ref().field(
        "weight",
        integer().range(0, 1_000_000).default_value(json!(1)),
    )
}

/// A reference to an object of the route's namespace (`extensionRef`).
pub fn local_object_ref() -> Schema {
    object()
        .required_field("group", group(None))
        .required_field("kind", kind(None))
        .required_field("name", object_name())
}

/// A header to match, of an HTTP or gRPC route.
pub fn header_match() -> Schema {
    object()
        .required_field("name", header_name())
        .field(
            "type",
            string()
                .one_of(&["Exact", "RegularExpression"])
                .default_value(json!("Exact")),
        )
        .required_field("value", string().length(1, 4096))
}

/// The `headers` of an HTTP or gRPC match.
pub fn header_matches() -> Schema {
    array(header_match()).max_items(16).map_list(&["name"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_need_distinct_section_names() {
        let two = json!([
            {"group": "g", "kind": "Gateway", "name": "a", "sectionName": "x"},
            {"group": "g", "kind": "Gateway", "name": "a", "sectionName": "y"}
        ]);
        assert!(section_names_all_or_none(&two) && parents_unique(&two));
        let same = json!([
            {"group": "g", "kind": "Gateway", "name": "a", "sectionName": "x"},
            {"group": "g", "kind": "Gateway", "name": "a", "sectionName": "x"}
        ]);
        assert!(section_names_all_or_none(&same) && !parents_unique(&same));
        let mixed = json!([
            {"group": "g", "kind": "Gateway", "name": "a", "namespace": ""},
            {"group": "g", "kind": "Gateway", "name": "a", "sectionName": "x"}
        ]);
        assert!(!section_names_all_or_none(&mixed));
        // A missing name leaves the rules undecided: another check says so.
        let nameless = json!([{"group": "g", "kind": "Gateway"}]);
        assert!(section_names_all_or_none(&nameless) && parents_unique(&nameless));
        assert!(!parents_named(&nameless));
    }

    #[test]
    fn a_service_needs_a_port() {
        assert!(!service_has_port(
            &json!({"group": "", "kind": "Service", "name": "a"})
        ));
        assert!(service_has_port(
            &json!({"group": "", "kind": "Service", "name": "a", "port": 80})
        ));
        assert!(service_has_port(
            &json!({"group": "x.io", "kind": "Service", "name": "a"})
        ));
    }
}
