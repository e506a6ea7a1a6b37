//! MC202 `unreachable-rule`: a rule that can never match, so the rules after a catch-all, or a
//! rule whose every match an earlier rule already has, never take traffic.
//!
//! **What it does.** In networkservices routes (HttpRoute, GrpcRoute, TcpRoute, TlsRoute) and in
//! the `http`, `tcp` and `tls` lists of Istio VirtualServices, rules are tried in order and the
//! first that matches wins. A rule without matches matches everything, so when it is not the
//! last rule, every rule after it is unreachable: the catch-all is reported (once), naming the
//! rules it hides. In a VirtualService, a rule (before any catch-all) each of whose matches
//! repeats a match of an earlier rule, names aside, is unreachable too; it is reported naming
//! where each match came first. A rule only some of whose matches repeat is MC203's.
//!
//! Gateway API routes are not checked: they order rules by match precedence (exact path, longest
//! prefix, method, headers, query parameters), not by list position.
//!
//! **Why.** The hidden rules never take traffic: a canary match on a header, added below a
//! default route, silently does nothing. istioctl reports the same as IST0130
//! (VirtualServiceUnreachableRule: "only the last rule can have no matches", "route without
//! matches defined before", "all matches used by prior rules").
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
use crate::ir::RuleIr;
use crate::model::{Family, Resource, Spec};
use crate::path::{FieldPath, Segment};
use crate::policy::istio::matches::{self, Analysis, At};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC202",
    name: "unreachable-rule",
    summary: "a rule can never match: a catch-all comes before it, or an earlier rule has all its matches",
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

/// Reports a catch-all rule (at `path`) hiding the rules named in `hidden`.
fn catch_all(resource: &Resource, path: &FieldPath, hidden: &[String], out: &mut Vec<Finding>) {
    let names: Vec<String> = hidden.iter().map(|r| format!("`{r}`")).collect();
    let (noun, verb) = if names.len() == 1 {
        ("rule", "is")
    } else {
        ("rules", "are")
    };
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        path,
        format!(
            "rule `{}` has no matches, so it matches every request and the {noun} after it ({}) \
             {verb} unreachable; add matches to it or move it last",
            short(path),
            names.join(", ")
        ),
    ));
}

/// The rules of one VirtualService list: catch-alls not last, and rules whose every match
/// repeats an earlier one.
fn istio_list(
    resource: &Resource,
    field: &str,
    match_counts: &[usize],
    analysis: &Analysis,
    out: &mut Vec<Finding>,
) {
    let list = resource.spec_path().key(field);
    for (i, _) in match_counts.iter().enumerate().filter(|(_, n)| **n == 0) {
        let hidden: Vec<String> = (i + 1..match_counts.len())
            .map(|j| short(&list.index(j)))
            .collect();
        if !hidden.is_empty() {
            catch_all(resource, &list.index(i), &hidden, out);
        }
    }
    for (rule, repeats) in &analysis.repeated_rules {
        let name = |at: At| {
            format!(
                "`{}`",
                short(&list.index(at.rule).key("match").index(at.index))
            )
        };
        let firsts: Vec<String> = repeats
            .iter()
            .map(|s| format!("{} is {}", name(s.at), name(s.by)))
            .collect();
        let path = list.index(*rule);
        out.push(resource.finding(
            &RULE,
            Severity::Error,
            &path,
            format!(
                "rule `{}` can never match: each of its matches repeats an earlier rule's ({}); \
                 remove the rule or change its matches",
                short(&path),
                firsts.join(", ")
            ),
        ));
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for route in &ctx.routes {
        let resource = route.resource;
        if let Spec::VirtualService(vs) = &resource.spec {
            istio_list(
                resource,
                "http",
                &vs.http.iter().map(|r| r.matches.len()).collect::<Vec<_>>(),
                &matches::http(&vs.http),
                out,
            );
            istio_list(
                resource,
                "tcp",
                &vs.tcp.iter().map(|r| r.matches.len()).collect::<Vec<_>>(),
                &matches::tcp(&vs.tcp),
                out,
            );
            istio_list(
                resource,
                "tls",
                &vs.tls.iter().map(|r| r.matches.len()).collect::<Vec<_>>(),
                &matches::tls(&vs.tls),
                out,
            );
            continue;
        }
        if resource.id.kind.family() != Family::NetworkServices {
            continue;
        }
        let ordered: Vec<&RuleIr> = route.rules.iter().collect();
        for (i, rule) in ordered.iter().enumerate() {
            let hidden = &ordered[i + 1..];
            if !rule.matches.is_empty() || hidden.is_empty() {
                continue;
            }
            let names: Vec<String> = hidden.iter().map(|r| short(&r.path)).collect();
            catch_all(resource, &rule.path, &names, out);
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

    #[test]
    fn istio_tcp_and_tls_lists_are_checked_too() {
        let findings = mc202(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: prod}
spec:
  hosts: [db.example.com]
  tcp:
  - route:
    - destination: {host: db}
  - match: [{port: 5432}]
    route:
    - destination: {host: db-replica}
  tls:
  - match: [{sniHosts: [db.example.com], port: 443}]
    route:
    - destination: {host: db}
  - match: [{port: 443, sniHosts: [db.example.com]}]
    route:
    - destination: {host: db-replica}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC202 error 7:5 rule `tcp[0]` has no matches, so it matches every request and the rule after it (`tcp[1]`) is unreachable; add matches to it or move it last",
                "MC202 error 16:5 rule `tls[1]` can never match: each of its matches repeats an earlier rule's (`tls[1].match[0]` is `tls[0].match[0]`); remove the rule or change its matches",
            ]
        );
    }

    #[test]
    fn a_rule_whose_matches_all_came_before_is_unreachable() {
        let findings = mc202(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}, {uri: {prefix: /beta}}]
    route:
    - destination: {host: reviews, subset: v2}
  - name: beta-again
    match: [{name: beta, uri: {prefix: /beta}}]
    route:
    - destination: {host: reviews, subset: v3}
  - match: [{uri: {prefix: /beta}}, {uri: {prefix: /gamma}}]
    route:
    - destination: {host: reviews, subset: v3}
  - route:
    - destination: {host: reviews, subset: v1}
",
        );
        assert_eq!(
            findings,
            vec!["MC202 error 10:5 rule `http[1]` can never match: each of its matches repeats an earlier rule's (`http[1].match[0]` is `http[0].match[1]`); remove the rule or change its matches"]
        );
    }
}
