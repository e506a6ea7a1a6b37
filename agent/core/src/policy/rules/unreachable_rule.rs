//! MC202 `unreachable-rule`: a catch-all rule that is not last hides every rule after it.
//!
//! **What it does.** In networkservices routes (HttpRoute, GrpcRoute, TcpRoute, TlsRoute) and in
//! the `http` list of Istio VirtualServices, rules are tried in order and the first that matches
//! wins. A rule without matches matches everything, so when it is not the last rule, every rule
//! after it is unreachable. The rule is reported (once per catch-all), naming the rules it hides.
//!
//! Gateway API routes are not checked: they order rules by match precedence (exact path, longest
//! prefix, method, headers, query parameters), not by list position.
//!
//! **Why.** The hidden rules never take traffic: a canary match on a header, added below a
//! default route, silently does nothing. istioctl reports the same as IST0130.
//!
//! **Example.**
//!
//! ```yaml
//! http:
//! - route:                        # MC202: matches everything, so http[1] is unreachable
//!   - destination: {host: reviews, subset: v1}
//! - match: [{headers: {end-user: {exact: jason}}}]
//!   route:
//!   - destination: {host: reviews, subset: v2}
//! ```

use crate::finding::{Finding, Severity};
use crate::ir::{Protocol, RuleIr};
use crate::model::{Family, Kind};
use crate::path::{FieldPath, Segment};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC202",
    name: "unreachable-rule",
    summary: "a rule without matches is not the last rule, so the rules after it never match",
    check: Some(check),
};

/// The rule's path without the `spec.` prefix of Kubernetes-style documents: `http[1]`.
fn short(path: &FieldPath) -> String {
    match path.segments() {
        [Segment::Key(spec), rest @ ..] if spec == "spec" && !rest.is_empty() => {
            FieldPath(rest.to_vec()).to_string()
        }
        _ => path.to_string(),
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for route in &ctx.routes {
        let kind = route.resource.id.kind;
        let ordered: Vec<&RuleIr> = match kind.family() {
            Family::NetworkServices => route.rules.iter().collect(),
            // The IR appends `tcp` and `tls` rules after `http`; only `http` is checked.
            _ if kind == Kind::VirtualService => route
                .rules
                .iter()
                .filter(|r| r.protocol == Protocol::Http)
                .collect(),
            _ => continue,
        };
        for (i, rule) in ordered.iter().enumerate() {
            let hidden = &ordered[i + 1..];
            if !rule.matches.is_empty() || hidden.is_empty() {
                continue;
            }
            let names: Vec<String> = hidden
                .iter()
                .map(|r| format!("`{}`", short(&r.path)))
                .collect();
            let (noun, verb) = if names.len() == 1 {
                ("rule", "is")
            } else {
                ("rules", "are")
            };
            out.push(route.resource.finding(
                &RULE,
                Severity::Error,
                &rule.path,
                format!(
                    "rule `{}` has no matches, so it matches every request and the {noun} after \
                     it ({}) {verb} unreachable; add matches to it or move it last",
                    short(&rule.path),
                    names.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc202(yaml: &str) -> Vec<String> {
        findings_of("MC202", yaml)
    }

    #[test]
    fn a_catch_all_last_passes() {
        let findings = mc202(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route:
    - destination: {host: reviews, subset: v2}
  - route:
    - destination: {host: reviews, subset: v1}
  tcp:
  - route:
    - destination: {host: reviews}
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn istio_catch_all_first_hides_the_rest() {
        let findings = mc202(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
  - match: [{headers: {end-user: {exact: jason}}}]
    route:
    - destination: {host: reviews, subset: v2}
  - match: [{uri: {prefix: /beta}}]
    route:
    - destination: {host: reviews, subset: v3}
",
        );
        assert_eq!(
            findings,
            vec!["MC202 error 7:5 rule `http[0]` has no matches, so it matches every request and the rules after it (`http[1]`, `http[2]`) are unreachable; add matches to it or move it last"]
        );
    }

    #[test]
    fn networkservices_every_catch_all_before_the_last_is_reported() {
        let findings = mc202(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- matches: [{prefixMatch: /api}]
  action: {destinations: [{serviceName: projects/p/locations/global/backendServices/api}]}
- action: {destinations: [{serviceName: projects/p/locations/global/backendServices/web}]}
- action: {destinations: [{serviceName: projects/p/locations/global/backendServices/web2}]}
- matches: [{prefixMatch: /beta}]
  action: {destinations: [{serviceName: projects/p/locations/global/backendServices/beta}]}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC202 error 9:3 rule `rules[1]` has no matches, so it matches every request and the rules after it (`rules[2]`, `rules[3]`) are unreachable; add matches to it or move it last",
                "MC202 error 10:3 rule `rules[2]` has no matches, so it matches every request and the rule after it (`rules[3]`) is unreachable; add matches to it or move it last",
            ]
        );
    }

    #[test]
    fn gateway_api_orders_by_precedence_and_is_not_checked() {
        let findings = mc202(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs: [{name: store-v1}]
  - matches: [{path: {value: /beta}}]
    backendRefs: [{name: store-v2}]
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }
}
