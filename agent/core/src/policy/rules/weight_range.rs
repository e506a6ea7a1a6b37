//! MC104 `weight-range`: a backend weight is above what the family accepts.
//!
//! **What it does.** Reports every Gateway API `backendRefs[].weight` above 1,000,000 and every
//! networkservices or Istio weight above 2,147,483,647 (the largest 32-bit integer, the type of
//! those fields).
//!
//! **Why.** The API server rejects the value (Gateway API's schema maximum; an int32 overflow for
//! the others), so the revision would not apply. Weights are relative: `99` and `1` give the same
//! split as `990000` and `10000`.
//!
//! **Example.**
//!
//! ```yaml
//! backendRefs:
//! - name: store-v1
//!   weight: 9000000   # MC104: at most 1000000; use 90 and 10
//! - name: store-v2
//!   weight: 1000000
//! ```

use crate::finding::{Finding, Severity};
use crate::ir::{GATEWAY_API_MAX_WEIGHT, INT32_MAX_WEIGHT};
use crate::model::Family;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC104",
    name: "weight-range",
    summary: "a backend weight is above the family's maximum",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for route in &ctx.routes {
        for rule in &route.rules {
            let Some(split) = &rule.split else { continue };
            let (max, why) = if split.family == Family::GatewayApi {
                (GATEWAY_API_MAX_WEIGHT, "Gateway API's maximum")
            } else {
                (INT32_MAX_WEIGHT, "the largest 32-bit weight")
            };
            for backend in &split.backends {
                let Some(weight) = backend.weight.filter(|w| *w > max) else {
                    continue;
                };
                out.push(route.resource.finding(
                    &RULE,
                    Severity::Error,
                    &backend.path.key("weight"),
                    format!(
                        "weight {weight} of backend `{}` is above {why}, {max}; weights are \
                         relative, so scale all weights of the rule down",
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

    fn mc104(yaml: &str) -> Vec<String> {
        findings_of("MC104", yaml)
    }

    #[test]
    fn weights_at_the_maximum_pass() {
        let findings = mc104(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs:
    - {name: store-v1, weight: 1000000}
    - {name: store-v2, weight: 0}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 2147483647
    - destination: {host: reviews-canary}
      weight: 1
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn gateway_api_above_a_million() {
        let findings = mc104(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs:
    - name: store-v1
      weight: 9000000
    - name: store-v2
      weight: 1000001
",
        );
        assert_eq!(
            findings,
            vec![
                "MC104 error 9:15 weight 9000000 of backend `store-v1` is above Gateway API's maximum, 1000000; weights are relative, so scale all weights of the rule down",
                "MC104 error 11:15 weight 1000001 of backend `store-v2` is above Gateway API's maximum, 1000000; weights are relative, so scale all weights of the rule down",
            ]
        );
    }

    #[test]
    fn istio_and_networkservices_above_int32() {
        let findings = mc104(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  tls:
  - match: [{sniHosts: [reviews.example.com]}]
    route:
    - destination: {host: reviews}
      weight: 2147483648
---
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
      weight: 5000000000
",
        );
        assert_eq!(
            findings,
            vec![
                "MC104 error 10:15 weight 2147483648 of backend `reviews` is above the largest 32-bit weight, 2147483647; weights are relative, so scale all weights of the rule down",
                "MC104 error 21:15 weight 5000000000 of backend `checkout` is above the largest 32-bit weight, 2147483647; weights are relative, so scale all weights of the rule down",
            ]
        );
    }
}
