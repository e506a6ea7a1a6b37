//! MC301 `subset-missing`: an Istio destination names a subset no DestinationRule defines.
//!
//! **What it does.** For every `destination.subset` of a VirtualService (in `http`, `tcp` and
//! `tls` rules), looks for the DestinationRules of the destination's host: a DestinationRule
//! applies when its `host`, made fully qualified in the DestinationRule's own namespace, equals
//! the destination's fully qualified host (short hosts are qualified in the VirtualService's
//! namespace). When no DestinationRule names the host exactly, a wildcard one (`*.prod.svc.
//! cluster.local`) that covers it is used instead, the most specific first. Reports the subset
//! when none of them defines it, or when there is no DestinationRule for the host at all.
//!
//! **Why.** Envoy has no cluster for an undefined subset: requests routed to it fail with
//! HTTP 503 (`NR`, no route) as soon as the VirtualService is applied. istioctl reports it as
//! IST0101 (ReferencedResourceNotFound).
//!
//! **Example.**
//!
//! ```yaml
//! kind: VirtualService
//! spec:
//!   hosts: [reviews]
//!   http:
//!   - route:
//!     - destination: {host: reviews, subset: v3}   # MC301: the DestinationRule has v1, v2
//! ---
//! kind: DestinationRule
//! spec:
//!   host: reviews
//!   subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
//! ```

use crate::finding::{Finding, Severity};
use crate::ir::istio_fqdn;
use crate::model::{istio::DestinationRuleSpec, Kind, Spec};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC301",
    name: "subset-missing",
    summary: "an Istio destination names a subset that no DestinationRule for its host defines",
    check: Some(check),
};

/// The DestinationRules that apply to a fully qualified host: those naming it exactly, else
/// the wildcard ones with the longest matching suffix.
fn rules_for<'a>(
    host: &str,
    rules: &[(String, &'a DestinationRuleSpec)],
) -> Vec<&'a DestinationRuleSpec> {
    let exact: Vec<_> = rules
        .iter()
        .filter(|(h, _)| h == host)
        .map(|(_, r)| *r)
        .collect();
    if !exact.is_empty() {
        return exact;
    }
    let covering = |pattern: &str| -> Option<usize> {
        if pattern == "*" {
            return Some(0);
        }
        let suffix = pattern.strip_prefix('*')?;
        (suffix.starts_with('.') && host.len() > suffix.len() && host.ends_with(suffix))
            .then_some(suffix.len())
    };
    let best = rules.iter().filter_map(|(h, _)| covering(h)).max();
    rules
        .iter()
        .filter(|(h, _)| best.is_some() && covering(h) == best)
        .map(|(_, r)| *r)
        .collect()
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let destination_rules: Vec<(String, &DestinationRuleSpec)> = ctx
        .of_kind(Kind::DestinationRule)
        .filter_map(|r| match &r.spec {
            Spec::DestinationRule(dr) => Some((istio_fqdn(&dr.host, &r.id.namespace), dr)),
            _ => None,
        })
        .collect();
    for route in &ctx.routes {
        if route.resource.id.kind != Kind::VirtualService {
            continue;
        }
        for rule in &route.rules {
            let Some(split) = &rule.split else { continue };
            for backend in &split.backends {
                let Some(subset) = &backend.subset else {
                    continue;
                };
                let path = backend.path.key("destination").key("subset");
                let applicable = rules_for(&backend.name, &destination_rules);
                let message = if applicable.is_empty() {
                    format!(
                        "subset `{subset}` of host `{}`: no DestinationRule for this host is in \
                         the repository, so the subset is undefined and requests routed to it \
                         fail with 503; add a DestinationRule for `{}` that defines `{subset}`",
                        backend.name, backend.name
                    )
                } else {
                    let mut defined: Vec<&str> = applicable
                        .iter()
                        .flat_map(|dr| dr.subsets.iter().map(|s| s.name.as_str()))
                        .collect();
                    if defined.contains(&subset.as_str()) {
                        continue;
                    }
                    defined.sort_unstable();
                    defined.dedup();
                    let known = if defined.is_empty() {
                        "defines no subsets".to_string()
                    } else {
                        format!(
                            "defines only {}",
                            defined
                                .iter()
                                .map(|s| format!("`{s}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    format!(
                        "subset `{subset}` of host `{}` is not defined: the DestinationRule for \
                         this host {known}, so requests routed to it fail with 503; add the \
                         subset or fix the name",
                        backend.name
                    )
                };
                out.push(
                    route
                        .resource
                        .finding(&RULE, Severity::Error, &path, message),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc301(yaml: &str) -> Vec<String> {
        findings_of("MC301", yaml)
    }

    const VS: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews.prod.svc.cluster.local, subset: v3}
      weight: 10
";

    #[test]
    fn defined_subsets_pass_with_short_and_qualified_hosts() {
        let findings = mc301(&format!(
            "{VS}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: prod}}
spec:
  host: reviews
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v3, labels: {{version: v3}}}}
"
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn a_subset_the_destination_rule_lacks() {
        let findings = mc301(&format!(
            "{VS}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: prod}}
spec:
  host: reviews.prod.svc.cluster.local
  subsets:
  - {{name: v2, labels: {{version: v2}}}}
  - {{name: v1, labels: {{version: v1}}}}
"
        ));
        assert_eq!(
            findings,
            vec!["MC301 error 10:67 subset `v3` of host `reviews.prod.svc.cluster.local` is not defined: the DestinationRule for this host defines only `v1`, `v2`, so requests routed to it fail with 503; add the subset or fix the name"]
        );
    }

    #[test]
    fn no_destination_rule_for_the_host() {
        let findings = mc301(&format!(
            "{VS}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: reviews, namespace: staging}}
spec:
  host: reviews
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v3, labels: {{version: v3}}}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC301 error 8:44 subset `v1` of host `reviews.prod.svc.cluster.local`: no DestinationRule for this host is in the repository, so the subset is undefined and requests routed to it fail with 503; add a DestinationRule for `reviews.prod.svc.cluster.local` that defines `v1`",
                "MC301 error 10:67 subset `v3` of host `reviews.prod.svc.cluster.local`: no DestinationRule for this host is in the repository, so the subset is undefined and requests routed to it fail with 503; add a DestinationRule for `reviews.prod.svc.cluster.local` that defines `v3`",
            ]
        );
    }

    #[test]
    fn a_wildcard_destination_rule_covers_the_host() {
        let findings = mc301(&format!(
            "{VS}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: all, namespace: prod}}
spec:
  host: '*.prod.svc.cluster.local'
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
"
        ));
        assert_eq!(
            findings,
            vec!["MC301 error 10:67 subset `v3` of host `reviews.prod.svc.cluster.local` is not defined: the DestinationRule for this host defines only `v1`, so requests routed to it fail with 503; add the subset or fix the name"]
        );
    }
}
