//! MC601 `gateway-api-limits`: a Gateway API route is over one of the API's size limits.
//!
//! **What it does.** Checks the limits of the Gateway API schema: at most 16 `hostnames`, 32
//! `parentRefs` and 16 `rules`; at most 128 matches in the route and 64 in one rule; at most
//! 16 `filters` (in a rule or a backend) and 16 `backendRefs` per rule; at most 16 `headers`
//! and 16 `queryParams` per match, with unique names (header names compared without case).
//! TCPRoute, UDPRoute and TLSRoute (v1) must have exactly one rule, with 1–16 `backendRefs`
//! (v1alpha2 allowed up to 16 rules).
//! Each finding points at the first entry over the limit.
//!
//! **Why.** The API server rejects the route, so the revision would fail to apply. A header
//! named twice in one match is either rejected or, when only the case differs, silently
//! reduced to its first entry.
//!
//! **Example.** A route with 17 `hostnames`: split it into two routes.

use std::collections::BTreeMap;

use crate::finding::{Finding, Severity};
use crate::model::gateway_api::NamedMatch;
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC601",
    name: "gateway-api-limits",
    summary: "a Gateway API route is over a size limit (hostnames, rules, matches, filters...)",
    check: Some(check),
};

const MAX_HOSTNAMES: usize = 16;
const MAX_PARENT_REFS: usize = 32;
const MAX_RULES: usize = 16;
const MAX_MATCHES: usize = 128;
const MAX_RULE_MATCHES: usize = 64;
const MAX_FILTERS: usize = 16;
const MAX_BACKEND_REFS: usize = 16;
const MAX_NAMED_MATCHES: usize = 16;

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::GwRoute(spec) = &resource.spec else {
            continue;
        };
        let root = resource.spec_path();
        let mut error = |path: &FieldPath, message: String| {
            out.push(resource.finding(&RULE, Severity::Error, path, message));
        };
        let mut limit = |path: &FieldPath, count: usize, max: usize, advice: &str| {
            if count > max {
                error(
                    &path.index(max),
                    format!("`{path}` has {count} entries; at most {max} are allowed: {advice}"),
                );
            }
        };
        limit(
            &root.key("hostnames"),
            spec.hostnames.len(),
            MAX_HOSTNAMES,
            "split the route",
        );
        limit(
            &root.key("parentRefs"),
            spec.parent_refs.len(),
            MAX_PARENT_REFS,
            "split the route",
        );
        limit(
            &root.key("rules"),
            spec.rules.len(),
            MAX_RULES,
            "split the route",
        );
        for (i, rule) in spec.rules.iter().enumerate() {
            let at = root.key("rules").index(i);
            limit(
                &at.key("matches"),
                rule.matches.len(),
                MAX_RULE_MATCHES,
                "split the rule",
            );
            limit(
                &at.key("filters"),
                rule.filters.len(),
                MAX_FILTERS,
                "remove some",
            );
            limit(
                &at.key("backendRefs"),
                rule.backend_refs.len(),
                MAX_BACKEND_REFS,
                "split the rule",
            );
            for (j, backend) in rule.backend_refs.iter().enumerate() {
                limit(
                    &at.key("backendRefs").index(j).key("filters"),
                    backend.filters.len(),
                    MAX_FILTERS,
                    "remove some",
                );
            }
            for (j, m) in rule.matches.iter().enumerate() {
                let match_at = at.key("matches").index(j);
                limit(
                    &match_at.key("headers"),
                    m.headers.len(),
                    MAX_NAMED_MATCHES,
                    "split the match",
                );
                limit(
                    &match_at.key("queryParams"),
                    m.query_params.len(),
                    MAX_NAMED_MATCHES,
                    "split the match",
                );
            }
        }
        total_matches(resource, &root, out);
        unique_names(resource, &root, out);
        single_rule(resource, &root, out);
    }
}

/// At most 128 matches across the rules: points at the first one over.
fn total_matches(resource: &Resource, root: &FieldPath, out: &mut Vec<Finding>) {
    let Spec::GwRoute(spec) = &resource.spec else {
        return;
    };
    let total: usize = spec.rules.iter().map(|r| r.matches.len()).sum();
    if total <= MAX_MATCHES {
        return;
    }
    let mut seen = 0;
    for (i, rule) in spec.rules.iter().enumerate() {
        if seen + rule.matches.len() > MAX_MATCHES {
            let path = root
                .key("rules")
                .index(i)
                .key("matches")
                .index(MAX_MATCHES - seen);
            out.push(resource.finding(
                &RULE,
                Severity::Error,
                &path,
                format!(
                    "`{}` have {total} matches in all; at most {MAX_MATCHES} are allowed, and \
                     `{path}` is the first one over: split the route",
                    root.key("rules")
                ),
            ));
            return;
        }
        seen += rule.matches.len();
    }
}

/// Header names (without case) and query parameter names are unique within a match.
fn unique_names(resource: &Resource, root: &FieldPath, out: &mut Vec<Finding>) {
    let Spec::GwRoute(spec) = &resource.spec else {
        return;
    };
    for (i, rule) in spec.rules.iter().enumerate() {
        for (j, m) in rule.matches.iter().enumerate() {
            let at = root.key("rules").index(i).key("matches").index(j);
            for (field, list, fold) in [
                ("headers", &m.headers, true),
                ("queryParams", &m.query_params, false),
            ] {
                for (path, first, name) in duplicates(&at.key(field), list, fold) {
                    let how = if fold {
                        " (header names are compared without case)"
                    } else {
                        ""
                    };
                    out.push(resource.finding(
                        &RULE,
                        Severity::Error,
                        &path,
                        format!(
                            "`{path}` `{name}` repeats `{first}`{how}; each name may appear once \
                             in a match: merge or remove it"
                        ),
                    ));
                }
            }
        }
    }
}

/// `(path of the repeated name, path of the first one, name)` for each repeated name.
fn duplicates<'a>(
    at: &FieldPath,
    list: &'a [NamedMatch],
    fold: bool,
) -> Vec<(FieldPath, FieldPath, &'a str)> {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = Vec::new();
    for (k, m) in list.iter().enumerate() {
        let key = if fold {
            m.name.to_ascii_lowercase()
        } else {
            m.name.clone()
        };
        match first.get(&key) {
            Some(&earlier) => found.push((
                at.index(k).key("name"),
                at.index(earlier).key("name"),
                m.name.as_str(),
            )),
            None => {
                first.insert(key, k);
            }
        }
    }
    found
}

/// TCPRoute, UDPRoute and TLSRoute: exactly one rule, with at least one backend.
fn single_rule(resource: &Resource, root: &FieldPath, out: &mut Vec<Finding>) {
    let Spec::GwRoute(spec) = &resource.spec else {
        return;
    };
    if !matches!(
        resource.id.kind,
        Kind::GwTcpRoute | Kind::GwUdpRoute | Kind::GwTlsRoute
    ) {
        return;
    }
    let kind = resource.id.kind;
    let rules = root.key("rules");
    // v1alpha2 TCPRoute/TLSRoute/UDPRoute allowed up to 16 rules; v1 takes exactly one.
    let is_v1 = resource
        .body
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .is_some_and(|v| v.ends_with("/v1"));
    match spec.rules.len() {
        n if n > 1 && !is_v1 => {}
        0 => out.push(resource.finding(
            &RULE,
            Severity::Error,
            &rules,
            format!("`{rules}` is empty; a {kind} needs exactly one rule with its `backendRefs`"),
        )),
        1 => {}
        n => {
            let path = rules.index(1);
            out.push(resource.finding(
                &RULE,
                Severity::Error,
                &path,
                format!(
                    "`{rules}` has {n} rules; a {kind} takes exactly one: put the backends in \
                     one rule, or use one route per listener"
                ),
            ));
        }
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        if rule.backend_refs.is_empty() {
            let path = rules.index(i).key("backendRefs");
            out.push(resource.finding(
                &RULE,
                Severity::Error,
                &path,
                format!("`{path}` is empty; a {kind} rule needs 1 to {MAX_BACKEND_REFS} backends"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::policy::check_fixture;

    /// This rule's findings, and the loader's so a fixture that does not load is noticed.
    fn run(yaml: &str) -> Vec<String> {
        check_fixture(yaml)
            .into_iter()
            // Load findings, but not the schema's (MC008, MC009): they overlap this rule's.
            .filter(|l| {
                l.starts_with(RULE.code)
                    || (l.starts_with("MC00") && !l.starts_with("MC008") && !l.starts_with("MC009"))
            })
            .collect()
    }

    fn route(kind: &str, spec: &str) -> String {
        let version = if kind == "HTTPRoute" {
            "v1"
        } else {
            "v1alpha2"
        };
        format!("apiVersion: gateway.networking.k8s.io/{version}\nkind: {kind}\nmetadata: {{name: ads, namespace: prod}}\nspec:\n{spec}")
    }

    /// `n` flow-style list items produced by `item(i)`.
    fn list(n: usize, item: impl Fn(usize) -> String) -> String {
        (0..n).map(item).collect::<Vec<_>>().join(", ")
    }

    #[test]
    fn routes_within_limits_pass() {
        let hostnames = list(16, |i| format!("h{i}.example.com"));
        let headers = list(16, |i| format!("{{name: x-h{i}, value: a}}"));
        let http = route(
            "HTTPRoute",
            &format!("  hostnames: [{hostnames}]\n  parentRefs: [{{name: gw}}]\n  rules:\n  - matches:\n    - headers: [{headers}]\n      queryParams: [{{name: v, value: a}}, {{name: V, value: b}}]\n    backendRefs: [{{name: ads, port: 8080}}]\n"),
        );
        let tcp = route(
            "TCPRoute",
            "  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs: [{name: ads, port: 5432}]\n",
        );
        for yaml in [http, tcp] {
            assert_eq!(run(&yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn counts_over_the_limits() {
        let hostnames = list(17, |i| format!("h{i}"));
        let parents = list(33, |i| format!("{{name: gw{i}}}"));
        let matches = list(65, |i| format!("{{path: {{value: /p{i}}}}}"));
        let headers = list(17, |i| format!("{{name: x-h{i}, value: a}}"));
        let filters = list(17, |i| {
            format!("{{type: RequestHeaderModifier, requestHeaderModifier: {{set: [{{name: x-f{i}, value: a}}]}}}}")
        });
        let backends = list(17, |i| format!("{{name: ads{i}, port: 80}}"));
        let rest = "  - backendRefs: [{name: ads, port: 80}]\n".repeat(16);
        let yaml = route(
            "HTTPRoute",
            &format!("  hostnames: [{hostnames}]\n  parentRefs: [{parents}]\n  rules:\n  - matches: [{matches}]\n  - matches:\n    - headers: [{headers}]\n      queryParams: [{headers}]\n    filters: [{filters}]\n    backendRefs: [{backends}]\n{rest}"),
        );
        let found = run(&yaml);
        let summary: Vec<&str> = found
            .iter()
            .map(|l| l.split(';').next().unwrap_or(""))
            .collect();
        assert_eq!(
            summary,
            vec![
                "MC601 error 5:85 `spec.hostnames` has 17 entries",
                "MC601 error 6:454 `spec.parentRefs` has 33 entries",
                "MC601 error 8:1477 `spec.rules[0].matches` has 65 entries",
                "MC601 error 10:407 `spec.rules[1].matches[0].headers` has 17 entries",
                "MC601 error 11:411 `spec.rules[1].matches[0].queryParams` has 17 entries",
                "MC601 error 12:1413 `spec.rules[1].filters` has 17 entries",
                "MC601 error 13:409 `spec.rules[1].backendRefs` has 17 entries",
                "MC601 error 28:5 `spec.rules` has 18 entries",
            ]
        );
        assert_eq!(
            found[0],
            "MC601 error 5:85 `spec.hostnames` has 17 entries; at most 16 are allowed: split the route"
        );
    }

    #[test]
    fn too_many_matches_in_all() {
        let matches = list(60, |i| format!("{{path: {{value: /p{i}}}}}"));
        let rule = format!("  - matches: [{matches}]\n");
        let yaml = route("HTTPRoute", &format!("  rules:\n{}", rule.repeat(3)));
        assert_eq!(
            run(&yaml),
            vec!["MC601 error 8:191 `spec.rules` have 180 matches in all; at most 128 are allowed, and `spec.rules[2].matches[8]` is the first one over: split the route"]
        );
    }

    #[test]
    fn repeated_header_and_query_names() {
        let yaml = route(
            "HTTPRoute",
            "  rules:\n  - matches:\n    - headers:\n      - {name: X-User, value: a}\n      - {name: x-user, value: b}\n      queryParams:\n      - {name: v, value: a}\n      - {name: V, value: b}\n      - {name: v, value: c}\n",
        );
        assert_eq!(
            run(&yaml),
            vec![
                "MC601 error 9:16 `spec.rules[0].matches[0].headers[1].name` `x-user` repeats `spec.rules[0].matches[0].headers[0].name` (header names are compared without case); each name may appear once in a match: merge or remove it",
                "MC601 error 13:16 `spec.rules[0].matches[0].queryParams[2].name` `v` repeats `spec.rules[0].matches[0].queryParams[0].name`; each name may appear once in a match: merge or remove it",
            ]
        );
    }

    #[test]
    fn layer_four_routes_take_one_rule_with_backends() {
        let none = route("TLSRoute", "  parentRefs: [{name: gw}]\n");
        assert_eq!(
            run(&none),
            vec!["MC601 error 5:3 `spec.rules` is empty; a TLSRoute needs exactly one rule with its `backendRefs`"]
        );
        let two = route(
            "UDPRoute",
            "  rules:\n  - backendRefs: [{name: dns, port: 53}]\n  - backendRefs: []\n",
        );
        // v1alpha2 allowed several rules; only the empty backend list is wrong there.
        assert_eq!(
            run(&two),
            vec!["MC601 error 7:18 `spec.rules[1].backendRefs` is empty; a UDPRoute rule needs 1 to 16 backends"]
        );
        let two_v1 = two.replace("/v1alpha2", "/v1");
        assert_eq!(
            run(&two_v1),
            vec![
                "MC601 error 7:5 `spec.rules` has 2 rules; a UDPRoute takes exactly one: put the backends in one rule, or use one route per listener",
                "MC601 error 7:18 `spec.rules[1].backendRefs` is empty; a UDPRoute rule needs 1 to 16 backends",
            ]
        );
    }
}
