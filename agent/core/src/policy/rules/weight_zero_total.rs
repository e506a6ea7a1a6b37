//! MC102 `weight-zero-total`: the weights of a rule's backends add up to zero.
//!
//! **What it does.** For networkservices and Istio, reports a rule with several destinations
//! whose weights total 0 (an error). For Gateway API, reports a rule whose `backendRefs` all have
//! weight 0 (a warning: valid, but no backend gets traffic).
//!
//! **Why.** Shares are `weight / sum`, which has no meaning when the sum is 0. Istio rejects the
//! VirtualService ("total destination weight = 0"; an omitted Istio weight counts as 0), and so
//! does networkservices. Gateway API accepts it, but the rule then answers every request with
//! HTTP 500, which is rarely what a weight change meant to do. A single destination is fine
//! under Istio and networkservices: it gets all traffic whatever its weight.
//!
//! Splits that already have a negative (MC101), out-of-range (MC104) or missing networkservices
//! (MC103) weight are left to those rules, so one mistake is reported once.
//!
//! **Example.**
//!
//! ```yaml
//! http:
//! - route:
//!   - destination: {host: reviews, subset: v1}
//!     weight: 0
//!   - destination: {host: reviews, subset: v2}   # MC102: total weight is 0
//!     weight: 0
//! ```

use crate::finding::{Finding, Severity};
use crate::ir::{Protocol, WeightProblem};
use crate::model::Family;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC102",
    name: "weight-zero-total",
    summary: "the weights of a rule's backends add up to zero",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for route in &ctx.routes {
        for rule in &route.rules {
            let Some(split) = &rule.split else { continue };
            if split.backends.is_empty() {
                continue;
            }
            let count = split.backends.len();
            match (split.family, split.weights()) {
                (Family::GatewayApi, Ok(weights)) if weights.iter().all(|w| *w == 0) => {
                    let outcome = match rule.protocol {
                        Protocol::Http | Protocol::Grpc => {
                            "the rule answers every request with HTTP 500"
                        }
                        Protocol::Tcp | Protocol::Tls | Protocol::Udp => {
                            "the rule drops every connection"
                        }
                    };
                    let which = if count == 1 {
                        "its only backendRef has weight 0".to_string()
                    } else {
                        format!("all {count} backendRefs have weight 0")
                    };
                    out.push(route.resource.finding(
                        &RULE,
                        Severity::Warning,
                        &split.path,
                        format!(
                            "{which}, so no backend gets traffic and {outcome}; give at least one \
                             backendRef a weight above 0"
                        ),
                    ));
                }
                (family, Err(WeightProblem::ZeroTotal)) => {
                    let rejects = if family == Family::NetworkServices {
                        "networkservices rejects this"
                    } else {
                        "Istio rejects this (\"total destination weight = 0\")"
                    };
                    let omitted = if family == Family::Istio
                        && split.backends.iter().any(|b| b.weight.is_none())
                    {
                        " (an omitted Istio weight counts as 0)"
                    } else {
                        ""
                    };
                    out.push(route.resource.finding(
                        &RULE,
                        Severity::Error,
                        &split.path,
                        format!(
                            "the {count} destinations have a total weight of 0{omitted}; \
                             {rejects}. Give at least one a weight above 0"
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc102(yaml: &str) -> Vec<String> {
        findings_of("MC102", yaml)
    }

    #[test]
    fn a_positive_total_and_a_single_zero_weight_pass() {
        let findings = mc102(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {prefix: /v1}}]
    route:
    - destination: {host: reviews}
      weight: 0
  - route:
    - destination: {host: reviews}
      weight: 1
    - destination: {host: reviews-canary}
      weight: 0
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn istio_zero_total_with_omitted_weights() {
        let findings = mc102(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    - destination: {host: reviews-canary}
      weight: 0
",
        );
        assert_eq!(
            findings,
            vec!["MC102 error 8:7 the 2 destinations have a total weight of 0 (an omitted Istio weight counts as 0); Istio rejects this (\"total destination weight = 0\"). Give at least one a weight above 0"]
        );
    }

    #[test]
    fn networkservices_zero_total() {
        let findings = mc102(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
      weight: 0
    - serviceName: projects/p/locations/global/backendServices/checkout-canary
      weight: 0
",
        );
        assert_eq!(
            findings,
            vec!["MC102 error 9:7 the 2 destinations have a total weight of 0; networkservices rejects this. Give at least one a weight above 0"]
        );
    }

    #[test]
    fn gateway_api_all_zero_is_a_warning() {
        let findings = mc102(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs:
    - {name: store-v1, port: 8080, weight: 0}
    - {name: store-v2, port: 8080, weight: 0}
  - matches: [{path: {value: /beta}}]
    backendRefs:
    - {name: store-v2, port: 8080}
",
        );
        assert_eq!(
            findings,
            vec!["MC102 warning 8:7 all 2 backendRefs have weight 0, so no backend gets traffic and the rule answers every request with HTTP 500; give at least one backendRef a weight above 0"]
        );
    }

    #[test]
    fn a_negative_weight_is_left_to_mc101() {
        let findings = mc102(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 0
    - destination: {host: reviews-canary}
      weight: -1
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }
}
