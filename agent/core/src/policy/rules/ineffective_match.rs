//! MC203 `ineffective-match`: a match of a VirtualService rule that earlier matches make useless
//! (a warning).
//!
//! **What it does.** In the `http`, `tcp` and `tls` lists of an Istio VirtualService, reports a
//! match that repeats an earlier match (names aside), and, in `http`, a URI prefix match whose
//! prefix starts with an earlier match's prefix when everything else the two test is the same
//! (method, headers, query parameters, port, authority, scheme, source and case folding): the
//! earlier one takes every request the later one would. Earlier matches in the same rule count.
//! A rule all of whose matches repeat earlier ones is MC202's (an error); rules after a
//! catch-all are MC202's too.
//!
//! istioctl reports the same as IST0131 (VirtualServiceIneffectiveMatch). meshcd reports a
//! subset of istioctl's prefix cases: only those where the earlier match really takes every
//! request of the later one. istioctl also compares matches whose methods or headers differ
//! (a match without a method counts as `GET` there, and a header prefix as covering longer
//! ones), which can flag a match that still takes traffic.
//!
//! **Why.** The match never decides anything: whoever wrote it expected its requests to reach
//! this rule's destination, and they go elsewhere. Usually two rules are in the wrong order
//! (put longer prefixes first).
//!
//! **Example.**
//!
//! ```yaml
//! http:
//! - match: [{uri: {prefix: /api}}]
//!   route: [{destination: {host: api}}]
//! - match: [{uri: {prefix: /api/v2}}]      # MC203: `/api` above takes these requests
//!   route: [{destination: {host: api-v2}}]
//! ```

use crate::finding::{Finding, Severity};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::matches::{self, Analysis, At};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC203",
    name: "ineffective-match",
    summary:
        "a VirtualService match can never decide anything: an earlier match takes its requests",
    check: Some(check),
};

fn report(
    resource: &crate::model::Resource,
    field: &str,
    analysis: &Analysis,
    out: &mut Vec<Finding>,
) {
    let list = resource.spec_path().key(field);
    let path = |at: At| list.index(at.rule).key("match").index(at.index);
    let short = |p: &FieldPath| p.to_string().trim_start_matches("spec.").to_string();
    for shadowed in &analysis.shadowed {
        let at = path(shadowed.at);
        let by = path(shadowed.by);
        let message = match &shadowed.prefixes {
            None => format!(
                "match `{}` repeats `{}`, which comes first, so it never matches; remove it",
                short(&at),
                short(&by)
            ),
            Some((prefix, earlier)) => format!(
                "match `{}` (prefix `{prefix}`) never matches: `{}` (prefix `{earlier}`, the same \
                 other conditions) comes first and takes every request it would; put the longer \
                 prefix first, or remove it",
                short(&at),
                short(&by)
            ),
        };
        out.push(resource.finding(&RULE, Severity::Warning, &at, message));
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::VirtualService(vs) = &resource.spec else {
            continue;
        };
        report(resource, "http", &matches::http(&vs.http), out);
        report(resource, "tcp", &matches::tcp(&vs.tcp), out);
        report(resource, "tls", &matches::tls(&vs.tls), out);
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc203(yaml: &str) -> Vec<String> {
        findings_of("MC203", yaml)
    }

    #[test]
    fn a_longer_prefix_after_a_shorter_one_is_ineffective() {
        let findings = mc203(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: prod}
spec:
  hosts: [api]
  http:
  - match: [{uri: {prefix: /api}}, {headers: {x-debug: {exact: '1'}}}]
    route:
    - destination: {host: api}
  - match: [{uri: {prefix: /api/v2}}, {headers: {x-debug: {exact: '1'}}}, {uri: {exact: /v2}}]
    route:
    - destination: {host: api-v2}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC203 warning 10:13 match `http[1].match[0]` (prefix `/api/v2`) never matches: `http[0].match[0]` (prefix `/api`, the same other conditions) comes first and takes every request it would; put the longer prefix first, or remove it",
                "MC203 warning 10:39 match `http[1].match[1]` repeats `http[0].match[1]`, which comes first, so it never matches; remove it",
            ]
        );
    }

    #[test]
    fn longer_prefixes_first_and_different_conditions_pass() {
        let findings = mc203(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: prod}
spec:
  hosts: [api]
  http:
  - match: [{uri: {prefix: /api/v2}}]
    route:
    - destination: {host: api-v2}
  - match: [{uri: {prefix: /api}, headers: {x-canary: {exact: 'yes'}}}]
    route:
    - destination: {host: api-canary}
  - match: [{uri: {prefix: /api/v3}}, {uri: {prefix: /api}, method: {exact: POST}}]
    route:
    - destination: {host: api}
  tcp:
  - match: [{port: 5432}]
    route:
    - destination: {host: db}
  - match: [{port: 5433}]
    route:
    - destination: {host: db}
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn a_repeated_tcp_match_in_a_rule_that_still_matches() {
        let findings = mc203(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: prod}
spec:
  hosts: [db]
  tcp:
  - match: [{port: 5432}]
    route:
    - destination: {host: db}
  - match: [{port: 5432}, {port: 5433}]
    route:
    - destination: {host: db-replica}
",
        );
        assert_eq!(
            findings,
            vec!["MC203 warning 10:13 match `tcp[1].match[0]` repeats `tcp[0].match[0]`, which comes first, so it never matches; remove it"]
        );
    }
}
