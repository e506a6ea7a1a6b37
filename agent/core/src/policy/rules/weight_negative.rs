//! MC101 `weight-negative`: a backend weight is below zero.
//!
//! **What it does.** Reports every negative weight of every route family: networkservices
//! `destinations[].weight`, Istio `route[].weight` (in `http`, `tcp` and `tls` rules) and Gateway
//! API `backendRefs[].weight`.
//!
//! **Why.** Weights are relative shares, and no family accepts a share below zero: Istio rejects
//! the VirtualService ("weight < 0"), Gateway API's schema has a minimum of 0, and
//! networkservices refuses the route. The whole revision would fail to apply.
//!
//! **Example.**
//!
//! ```yaml
//! http:
//! - route:
//!   - destination: {host: reviews, subset: v1}
//!     weight: 110
//!   - destination: {host: reviews, subset: v2}
//!     weight: -10   # MC101: use 0 to send no traffic to v2
//! ```

use crate::finding::{Finding, Severity};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC101",
    name: "weight-negative",
    summary: "a backend weight is negative",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for route in &ctx.routes {
        for rule in &route.rules {
            let Some(split) = &rule.split else { continue };
            for backend in &split.backends {
                let Some(weight) = backend.weight.filter(|w| *w < 0) else {
                    continue;
                };
                out.push(route.resource.finding(
                    &RULE,
                    Severity::Error,
                    &backend.path.key("weight"),
                    format!(
                        "weight {weight} of backend `{}` is negative; weights are relative shares \
                         of 0 or more (use 0 to send it no traffic)",
                        backend.key
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc101(yaml: &str) -> Vec<String> {
        findings_of("MC101", yaml)
    }

    #[test]
    fn non_negative_weights_pass() {
        let findings = mc101(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 90
    - destination: {host: reviews-canary}
      weight: 0
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn istio_http_and_tcp_negative_weights_are_all_reported() {
        let findings = mc101(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 110
    - destination: {host: reviews-canary}
      weight: -10
  tcp:
  - route:
    - destination: {host: db}
      weight: -1
    - destination: {host: db-replica}
      weight: -2
",
        );
        assert_eq!(
            findings,
            vec![
                "MC101 error 11:15 weight -10 of backend `reviews-canary` is negative; weights are relative shares of 0 or more (use 0 to send it no traffic)",
                "MC101 error 15:15 weight -1 of backend `db` is negative; weights are relative shares of 0 or more (use 0 to send it no traffic)",
                "MC101 error 17:15 weight -2 of backend `db-replica` is negative; weights are relative shares of 0 or more (use 0 to send it no traffic)",
            ]
        );
    }

    #[test]
    fn networkservices_negative_weight() {
        let findings = mc101(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
      weight: 100
    - serviceName: projects/p/locations/global/backendServices/checkout-canary
      weight: -5
",
        );
        assert_eq!(
            findings,
            vec!["MC101 error 12:15 weight -5 of backend `checkout-canary` is negative; weights are relative shares of 0 or more (use 0 to send it no traffic)"]
        );
    }

    #[test]
    fn gateway_api_negative_weight() {
        let findings = mc101(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs:
    - {name: store-v1, port: 8080, weight: -3}
    - {name: store-v2, port: 8080}
",
        );
        assert_eq!(
            findings,
            vec!["MC101 error 8:44 weight -3 of backend `store-v1` is negative; weights are relative shares of 0 or more (use 0 to send it no traffic)"]
        );
    }
}
