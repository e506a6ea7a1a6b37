//! Which routes a RolloutPolicy governs: its `selector` matched against the route IR.
//!
//! Shared by the policy check (MC303 warns about a selector that selects nothing) and the plan,
//! which picks the rollout policy of each changed route.

use crate::ir::RouteIr;
use crate::model::meshcd::{RolloutPolicySpec, Selector};
use crate::model::Spec;

/// True when the policy's selector selects the route.
///
/// A route is selected when any of the selector's lists matches it:
///
/// - `routes`: the route's name, or `namespace/name` for namespaced routes;
/// - `hostnames`: one of the route's hostnames, compared case-insensitively, either exactly or
///   through a `*.suffix` pattern (`*.example.com` selects `shop.example.com`, not
///   `example.com`). Istio hosts are tried both as written and fully qualified;
/// - `matchLabels`: the route carries every listed label with the same value.
///
/// An empty selector selects nothing.
pub fn selects(policy: &RolloutPolicySpec, route: &RouteIr<'_>) -> bool {
    let selector = &policy.selector;
    if is_empty(selector) {
        return false;
    }
    let id = &route.resource.id;
    let by_name = selector.routes.iter().any(|r| {
        let r = r.trim();
        r == id.name || (!id.namespace.is_empty() && r == format!("{}/{}", id.namespace, id.name))
    });
    if by_name {
        return true;
    }
    let written: &[String] = match &route.resource.spec {
        Spec::VirtualService(vs) => &vs.hosts,
        _ => &[],
    };
    let by_host = selector.hostnames.iter().any(|pattern| {
        route
            .hosts
            .iter()
            .map(|h| h.value.as_str())
            .chain(written.iter().map(String::as_str))
            .any(|host| hostname_matches(pattern, host))
    });
    if by_host {
        return true;
    }
    !selector.match_labels.is_empty()
        && selector
            .match_labels
            .iter()
            .all(|(k, v)| route.resource.labels.get(k) == Some(v))
}

/// True when the selector has no routes, hostnames or labels (and so selects nothing).
pub fn is_empty(selector: &Selector) -> bool {
    selector.routes.is_empty() && selector.hostnames.is_empty() && selector.match_labels.is_empty()
}

/// True when a selector hostname matches a route hostname: equal ignoring case, or a
/// `*.suffix` pattern and a host ending in `.suffix` with at least one more label before it.
/// A route's own wildcard (`*.example.com`) is only matched by the same pattern.
pub fn hostname_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    let host = host.trim().to_ascii_lowercase();
    if pattern == host {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') => {
            host.len() > suffix.len() && host.ends_with(suffix) && !host.starts_with('*')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_patterns() {
        assert!(hostname_matches("shop.example.com", "Shop.Example.com"));
        assert!(hostname_matches("*.example.com", "shop.example.com"));
        assert!(hostname_matches("*.example.com", "a.b.example.com"));
        assert!(!hostname_matches("*.example.com", "example.com"));
        assert!(!hostname_matches("*.example.com", "shopexample.com"));
        assert!(hostname_matches("*.example.com", "*.example.com"));
        assert!(!hostname_matches("*.example.com", "*.a.example.com"));
        assert!(!hostname_matches("*", "example.com"));
    }

    #[test]
    fn selects_by_name_host_or_all_labels() {
        let loaded = crate::load::load(vec![crate::source::SourceFile::new(
            "r.yaml",
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod, labels: {team: books, tier: web}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
",
        )]);
        let routes = crate::ir::routes(&loaded.resources);
        let route = &routes[0];
        let policy = |selector: &str| -> RolloutPolicySpec {
            let wire: crate::model::meshcd::RolloutPolicyWire =
                serde_json::from_str(&format!("{{\"selector\": {selector}}}")).expect("a policy");
            RolloutPolicySpec::try_from(wire).expect("a valid policy")
        };
        assert!(selects(&policy(r#"{"routes": ["reviews"]}"#), route));
        assert!(selects(&policy(r#"{"routes": ["prod/reviews"]}"#), route));
        assert!(!selects(
            &policy(r#"{"routes": ["staging/reviews"]}"#),
            route
        ));
        assert!(selects(&policy(r#"{"hostnames": ["reviews"]}"#), route));
        assert!(selects(
            &policy(r#"{"hostnames": ["*.svc.cluster.local"]}"#),
            route
        ));
        assert!(selects(
            &policy(r#"{"matchLabels": {"team": "books"}}"#),
            route
        ));
        assert!(!selects(
            &policy(r#"{"matchLabels": {"team": "books", "tier": "db"}}"#),
            route
        ));
        assert!(!selects(&policy("{}"), route));
    }
}
