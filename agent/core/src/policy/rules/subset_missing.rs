//! MC301 `subset-missing`: an Istio destination names a subset no DestinationRule defines.
//!
//! **What it does.** For every `subset` of a VirtualService destination (routes of `http`,
//! `tcp` and `tls` rules, and the `mirror` and `mirrors` of `http` rules), looks for the
//! DestinationRules of the destination's host: a DestinationRule applies when its `host`, made
//! fully qualified in the DestinationRule's own namespace, equals the destination's fully
//! qualified host (short hosts are qualified in the VirtualService's namespace). When no
//! DestinationRule names the host exactly, a wildcard one (`*.prod.svc.cluster.local`) that
//! covers it is used instead, the most specific first. Only DestinationRules the route's clients
//! see count: those exported (`exportTo`) to the namespace where the VirtualService is used (its
//! own, or the ones it is exported to); one with a `workloadSelector` only serves its own
//! namespace. Reports the subset when none of them defines it, when the DestinationRules for the
//! host are not exported there, or when there is no DestinationRule for the host at all.
//! DestinationRules are indexed by host, so each destination costs one lookup per label.
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

use std::collections::{BTreeSet, HashMap};

use crate::finding::{Finding, Severity};
use crate::ir::{istio_fqdn, RouteIr};
use crate::model::istio::{DestinationRuleSpec, VirtualServiceSpec};
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::istio::visibility::Visibility;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC301",
    name: "subset-missing",
    summary: "an Istio destination names a subset that no DestinationRule for its host defines",
    check: Some(check),
};

/// A DestinationRule with the namespaces that see it.
struct Candidate<'a> {
    resource: &'a Resource,
    spec: &'a DestinationRuleSpec,
    visibility: Visibility,
}

/// The DestinationRules of a revision by fully qualified host; wildcard hosts by what follows
/// the `*` (`.prod.svc.cluster.local`, or empty for `*`).
#[derive(Default)]
struct Index<'a> {
    exact: HashMap<String, Vec<Candidate<'a>>>,
    wildcard: HashMap<String, Vec<Candidate<'a>>>,
}

impl<'a> Index<'a> {
    fn new(ctx: &Context<'a>) -> Self {
        let mut index = Index::default();
        for resource in ctx.of_kind(Kind::DestinationRule) {
            let Spec::DestinationRule(spec) = &resource.spec else {
                continue;
            };
            let namespace = &resource.id.namespace;
            // A rule for selected workloads only serves clients of its own namespace.
            let visibility = if spec.workload_selector.is_some() {
                Visibility::Namespaces(BTreeSet::from([namespace.clone()]))
            } else {
                Visibility::of(&spec.export_to, namespace)
            };
            let host = istio_fqdn(&spec.host, namespace);
            let candidate = Candidate {
                resource,
                spec,
                visibility,
            };
            match host.strip_prefix('*') {
                Some(rest) if rest.is_empty() || rest.starts_with('.') => index
                    .wildcard
                    .entry(rest.to_string())
                    .or_default()
                    .push(candidate),
                Some(_) => {}
                None => index.exact.entry(host).or_default().push(candidate),
            }
        }
        index
    }

    /// The DestinationRules for a fully qualified host: those naming it exactly, else the
    /// wildcard ones with the longest matching suffix, else `*`.
    fn rules_for(&self, host: &str) -> &[Candidate<'a>] {
        if let Some(found) = self.exact.get(host) {
            return found;
        }
        let longest = host
            .match_indices('.')
            .filter(|(i, _)| *i > 0)
            .find_map(|(i, _)| self.wildcard.get(&host[i..]));
        longest
            .or_else(|| self.wildcard.get(""))
            .map_or(&[], Vec::as_slice)
    }
}

/// The namespaces whose sidecars use a VirtualService: its own when it sees it, else those it
/// is exported to.
fn client_namespaces(resource: &Resource, export_to: &[String]) -> Vec<String> {
    let namespace = &resource.id.namespace;
    match Visibility::of(export_to, namespace) {
        Visibility::All => vec![namespace.clone()],
        Visibility::Namespaces(set) if set.contains(namespace) => vec![namespace.clone()],
        Visibility::Namespaces(set) => set.into_iter().collect(),
    }
}

/// One destination that names a subset.
struct Wanted {
    host: String,
    subset: String,
    path: FieldPath,
}

/// Every destination of a VirtualService that names a subset: routes of `http`, `tcp` and
/// `tls` rules, and `mirror` and `mirrors` of `http` rules.
fn wanted(route: &RouteIr<'_>, vs: &VirtualServiceSpec) -> Vec<Wanted> {
    let namespace = &route.resource.id.namespace;
    let mut out: Vec<Wanted> = route
        .rules
        .iter()
        .filter_map(|rule| rule.split.as_ref())
        .flat_map(|split| &split.backends)
        .filter_map(|b| {
            Some(Wanted {
                host: b.name.clone(),
                subset: b.subset.clone()?,
                path: b.path.key("destination").key("subset"),
            })
        })
        .collect();
    let http = route.resource.spec_path().key("http");
    for (i, rule) in vs.http.iter().enumerate() {
        let mirrors = rule
            .mirror
            .iter()
            .map(|d| (d, http.index(i).key("mirror")))
            .chain(rule.mirrors.iter().enumerate().filter_map(|(j, m)| {
                let path = http.index(i).key("mirrors").index(j).key("destination");
                m.destination.as_ref().map(|d| (d, path))
            }));
        for (destination, path) in mirrors {
            if let Some(subset) = &destination.subset {
                out.push(Wanted {
                    host: istio_fqdn(&destination.host, namespace),
                    subset: subset.clone(),
                    path: path.key("subset"),
                });
            }
        }
    }
    out
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let index = Index::new(ctx);
    for route in &ctx.routes {
        let Spec::VirtualService(vs) = &route.resource.spec else {
            continue;
        };
        let clients = client_namespaces(route.resource, &vs.export_to);
        for Wanted { host, subset, path } in wanted(route, vs) {
            let applicable = index.rules_for(&host);
            let message = if applicable.is_empty() {
                format!(
                    "subset `{subset}` of host `{host}`: no DestinationRule for this host is in \
                     the repository, so the subset is undefined and requests routed to it fail \
                     with 503; add a DestinationRule for `{host}` that defines `{subset}`"
                )
            } else {
                let hidden_in = clients
                    .iter()
                    .find(|ns| !applicable.iter().any(|c| c.visibility.includes(ns)));
                if let Some(ns) = hidden_in {
                    let names: Vec<String> = applicable
                        .iter()
                        .map(|c| c.resource.id.to_string())
                        .collect();
                    format!(
                        "subset `{subset}` of host `{host}`: {} is not exported to namespace \
                         `{ns}`, where this route is used, so sidecars there have no subset \
                         `{subset}` and its requests fail with 503; export the DestinationRule \
                         to `{ns}` (or every namespace) or add one in `{ns}`",
                        names.join(", ")
                    )
                } else {
                    let visible: Vec<&Candidate<'_>> = applicable
                        .iter()
                        .filter(|c| clients.iter().any(|ns| c.visibility.includes(ns)))
                        .collect();
                    let mut defined: Vec<&str> = visible
                        .iter()
                        .flat_map(|c| c.spec.subsets.iter().map(|s| s.name.as_str()))
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
                        "subset `{subset}` of host `{host}` is not defined: the DestinationRule \
                         for this host {known}, so requests routed to it fail with 503; add the \
                         subset or fix the name"
                    )
                }
            };
            out.push(
                route
                    .resource
                    .finding(&RULE, Severity::Error, &path, message),
            );
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

    const DR_V1: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
";

    #[test]
    fn mirror_and_mirrors_subsets_are_checked() {
        let findings = mc301(&format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: prod}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews, subset: v1}}
    mirror: {{host: reviews, subset: shadow}}
  - match: [{{uri: {{prefix: /x}}}}]
    route:
    - destination: {{host: reviews, subset: v1}}
    mirrors:
    - destination: {{host: reviews, subset: v1}}
    - destination: {{host: reviews, subset: canary}}
      percentage: {{value: 5}}
---
{DR_V1}"
        ));
        assert_eq!(
            findings,
            vec![
                "MC301 error 9:37 subset `shadow` of host `reviews.prod.svc.cluster.local` is not defined: the DestinationRule for this host defines only `v1`, so requests routed to it fail with 503; add the subset or fix the name",
                "MC301 error 15:44 subset `canary` of host `reviews.prod.svc.cluster.local` is not defined: the DestinationRule for this host defines only `v1`, so requests routed to it fail with 503; add the subset or fix the name",
            ]
        );
    }

    #[test]
    fn a_destination_rule_not_exported_to_the_route_namespace_does_not_count() {
        let vs = |namespace: &str| {
            format!(
                "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: {namespace}}}
spec:
  hosts: [reviews.prod.svc.cluster.local]
  http:
  - route:
    - destination: {{host: reviews.prod.svc.cluster.local, subset: v1}}
---
"
            )
        };
        let local_dr = DR_V1.replace("  host: reviews\n", "  host: reviews\n  exportTo: ['.']\n");
        let findings = mc301(&format!("{}{}{local_dr}", vs("prod"), vs("web")));
        assert_eq!(
            findings,
            vec!["MC301 error 17:67 subset `v1` of host `reviews.prod.svc.cluster.local`: DestinationRule/prod/reviews is not exported to namespace `web`, where this route is used, so sidecars there have no subset `v1` and its requests fail with 503; export the DestinationRule to `web` (or every namespace) or add one in `web`"]
        );
        let shared_dr = DR_V1.replace(
            "  host: reviews\n",
            "  host: reviews\n  exportTo: ['.', web]\n",
        );
        assert_eq!(
            mc301(&format!("{}{}{shared_dr}", vs("prod"), vs("web"))),
            Vec::<String>::new()
        );
    }
}
