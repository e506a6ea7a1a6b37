//! MC103 `weight-partial`: some networkservices destinations have a weight and some do not.
//!
//! **What it does.** In a networkservices route (HttpRoute, GrpcRoute, TcpRoute, TlsRoute),
//! reports each destination without `weight` in a rule where another destination has one.
//!
//! **Why.** The service routing API takes weights on every destination or on none (none means
//! an equal split) and rejects a mix. Unlike Istio (omitted = 0) and Gateway API (omitted = 1),
//! there is no default to fall back on, so meshcd cannot tell what share was meant.
//!
//! **Example.**
//!
//! ```yaml
//! rules:
//! - action:
//!     destinations:
//!     - serviceName: projects/p/locations/global/backendServices/checkout
//!       weight: 90
//!     - serviceName: projects/p/locations/global/backendServices/checkout-canary  # MC103
//! ```

use crate::finding::{Finding, Severity};
use crate::model::Family;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC103",
    name: "weight-partial",
    summary: "some networkservices destinations of a rule have a weight and some do not",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for route in &ctx.routes {
        for rule in &route.rules {
            let Some(split) = &rule.split else { continue };
            if split.family != Family::NetworkServices {
                continue;
            }
            let Some(weighted) = split.backends.iter().find(|b| b.weight.is_some()) else {
                continue;
            };
            for backend in split.backends.iter().filter(|b| b.weight.is_none()) {
                out.push(route.resource.finding(
                    &RULE,
                    Severity::Error,
                    &backend.path,
                    format!(
                        "destination `{}` has no weight but `{}` has one; networkservices needs a \
                         weight on every destination of a rule or on none (an equal split). Add a \
                         `weight` here",
                        backend.key, weighted.key
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc103(yaml: &str) -> Vec<String> {
        findings_of("MC103", yaml)
    }

    #[test]
    fn all_or_none_weighted_passes() {
        let findings = mc103(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- matches: [{prefixMatch: /v2}]
  action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
    - serviceName: projects/p/locations/global/backendServices/checkout-canary
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
      weight: 90
    - serviceName: projects/p/locations/global/backendServices/checkout-canary
      weight: 10
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn every_unweighted_destination_is_reported() {
        let findings = mc103(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
    - serviceName: projects/p/locations/global/backendServices/checkout-canary
      weight: 10
    - serviceName: projects/p/locations/global/backendServices/checkout-shadow
",
        );
        assert_eq!(
            findings,
            vec![
                "MC103 error 9:7 destination `checkout` has no weight but `checkout-canary` has one; networkservices needs a weight on every destination of a rule or on none (an equal split). Add a `weight` here",
                "MC103 error 12:7 destination `checkout-shadow` has no weight but `checkout-canary` has one; networkservices needs a weight on every destination of a rule or on none (an equal split). Add a `weight` here",
            ]
        );
    }

    #[test]
    fn istio_omitted_weights_are_not_partial() {
        let findings = mc103(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 100
    - destination: {host: reviews-canary}
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }
}
