//! MC603 `path-pattern`: a Gateway API path is malformed, or `ReplacePrefixMatch` has no
//! single prefix to replace.
//!
//! **What it does.** Checks the paths of Gateway API routes: `Exact` and `PathPrefix` match
//! values, and the `replaceFullPath` and `replacePrefixMatch` of `RequestRedirect` and
//! `URLRewrite` filters (in rules and in backends). Each must start with `/`, be at most 1024
//! characters, and contain no `//`, `/./`, `/../`, `%2f`/`%2F` or `#`, nor end in `/..` or
//! `/.`. (An empty `replacePrefixMatch` is allowed: it removes the prefix.) A filter whose path
//! type is `ReplacePrefixMatch` needs its rule to have exactly one match, and that match a
//! `PathPrefix` (no matches at all means the default `PathPrefix /`).
//!
//! **Why.** The API server rejects these routes, so the revision would fail to apply; the
//! forbidden sequences would otherwise let a request escape the prefix it matched.
//!
//! **Example.** `matches: [{path: {type: PathPrefix, value: api/v2/}}]`: write `/api/v2/`.

use crate::finding::{Finding, Severity};
use crate::model::gateway_api::{Filter, PathModifier, RouteRule};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC603",
    name: "path-pattern",
    summary:
        "a Gateway API path value is malformed, or `ReplacePrefixMatch` lacks one prefix match",
    check: Some(check),
};

/// Longest path value.
const MAX_PATH: usize = 1024;

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::GwRoute(spec) = &resource.spec else {
            continue;
        };
        for (i, rule) in spec.rules.iter().enumerate() {
            let at = resource.spec_path().key("rules").index(i);
            for (j, m) in rule.matches.iter().enumerate() {
                let Some(path_match) = &m.path else {
                    continue;
                };
                if path_match.match_type.as_deref() == Some("RegularExpression") {
                    continue;
                }
                if let Some(value) = &path_match.value {
                    let path = at.key("matches").index(j).key("path").key("value");
                    check_value(resource, &path, value, false, out);
                }
            }
            let backend_filters = rule.backend_refs.iter().enumerate().flat_map(|(j, b)| {
                let at = at.key("backendRefs").index(j).key("filters");
                b.filters
                    .iter()
                    .enumerate()
                    .map(move |(k, f)| (at.index(k), f))
            });
            let rule_filters = rule
                .filters
                .iter()
                .enumerate()
                .map(|(k, f)| (at.key("filters").index(k), f));
            for (filter_at, filter) in rule_filters.chain(backend_filters) {
                for (modifier_at, modifier) in modifiers(&filter_at, filter) {
                    check_modifier(resource, &at, rule, &modifier_at, modifier, out);
                }
            }
        }
    }
}

/// The path modifiers of a filter, with their paths.
fn modifiers<'a>(at: &FieldPath, filter: &'a Filter) -> Vec<(FieldPath, &'a PathModifier)> {
    let redirect = filter
        .request_redirect
        .as_ref()
        .and_then(|r| r.path.as_ref())
        .map(|p| (at.key("requestRedirect").key("path"), p));
    let rewrite = filter
        .url_rewrite
        .as_ref()
        .and_then(|r| r.path.as_ref())
        .map(|p| (at.key("urlRewrite").key("path"), p));
    redirect.into_iter().chain(rewrite).collect()
}

fn check_modifier(
    resource: &Resource,
    rule_at: &FieldPath,
    rule: &RouteRule,
    at: &FieldPath,
    modifier: &PathModifier,
    out: &mut Vec<Finding>,
) {
    if let Some(full) = &modifier.replace_full_path {
        check_value(resource, &at.key("replaceFullPath"), full, false, out);
    }
    if let Some(prefix) = &modifier.replace_prefix_match {
        check_value(resource, &at.key("replacePrefixMatch"), prefix, true, out);
    }
    if modifier.modifier_type != "ReplacePrefixMatch" {
        return;
    }
    let path = at.key("type");
    let matches = rule_at.key("matches");
    let problem = match rule.matches.as_slice() {
        [] => None,
        [only] => only
            .path
            .as_ref()
            .and_then(|p| p.match_type.as_deref())
            .filter(|t| *t != "PathPrefix")
            .map(|t| format!("`{}` is `{t}`", matches.index(0).key("path").key("type"))),
        more => Some(format!("`{matches}` has {}", more.len())),
    };
    if let Some(problem) = problem {
        out.push(resource.finding(
            &RULE,
            Severity::Error,
            &path,
            format!(
                "`{path}` `ReplacePrefixMatch` needs exactly one `PathPrefix` match in its rule, \
                 and {problem}: give the rule one `PathPrefix` match, or use `ReplaceFullPath`"
            ),
        ));
    }
}

/// Reports a path value's problems, all in one finding.
fn check_value(
    resource: &Resource,
    path: &FieldPath,
    value: &str,
    empty_ok: bool,
    out: &mut Vec<Finding>,
) {
    if empty_ok && value.is_empty() {
        return;
    }
    let problems = problems(value);
    if problems.is_empty() {
        return;
    }
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        path,
        format!("`{path}` `{value}` {}", problems.join(", ")),
    ));
}

/// What is wrong with a path value: empty when nothing.
fn problems(value: &str) -> Vec<String> {
    let mut found = Vec::new();
    if !value.starts_with('/') {
        found.push("must start with `/`".to_string());
    }
    let length = value.chars().count();
    if length > MAX_PATH {
        found.push(format!(
            "must be at most {MAX_PATH} characters (it has {length})"
        ));
    }
    for sequence in ["//", "/./", "/../", "#"] {
        if value.contains(sequence) {
            found.push(format!("must not contain `{sequence}`"));
        }
    }
    if value.contains("%2f") || value.contains("%2F") {
        found.push("must not contain `%2F` (an encoded `/`)".to_string());
    }
    for ending in ["/..", "/."] {
        if value.ends_with(ending) {
            found.push(format!("must not end in `{ending}`"));
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{problems, RULE};
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

    const GW: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ads, namespace: prod}\nspec:\n  rules:\n";

    #[test]
    fn clean_paths_pass() {
        let yaml = format!("{GW}  - matches:\n    - path: {{type: PathPrefix, value: /api/v2}}\n    filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {{type: ReplacePrefixMatch, replacePrefixMatch: /v2}}\n    backendRefs: [{{name: ads, port: 80}}]\n  - matches:\n    - path: {{type: RegularExpression, value: '^/a//b$'}}\n    - path: {{type: Exact, value: /healthz}}\n    backendRefs:\n    - name: ads\n      port: 80\n      filters:\n      - type: URLRewrite\n        urlRewrite: {{path: {{type: ReplaceFullPath, replaceFullPath: /ready}}}}\n  - filters:\n    - type: RequestRedirect\n      requestRedirect: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: ''}}}}\n");
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn malformed_match_and_modifier_paths() {
        let yaml = format!("{GW}  - matches:\n    - path: {{type: PathPrefix, value: api/v2}}\n    - path: {{type: Exact, value: '/a//b/../c#top'}}\n    - path: {{value: /a%2Fb/.}}\n    filters:\n    - type: RequestRedirect\n      requestRedirect:\n        path: {{type: ReplaceFullPath, replaceFullPath: /x/./y}}\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC603 error 7:39 `spec.rules[0].matches[0].path.value` `api/v2` must start with `/`",
                "MC603 error 8:34 `spec.rules[0].matches[1].path.value` `/a//b/../c#top` must not contain `//`, must not contain `/../`, must not contain `#`",
                "MC603 error 9:21 `spec.rules[0].matches[2].path.value` `/a%2Fb/.` must not contain `%2F` (an encoded `/`), must not end in `/.`",
                "MC603 error 13:56 `spec.rules[0].filters[0].requestRedirect.path.replaceFullPath` `/x/./y` must not contain `/./`",
            ]
        );
    }

    #[test]
    fn replace_prefix_match_needs_one_prefix_match() {
        let yaml = format!("{GW}  - matches:\n    - path: {{type: Exact, value: /v1}}\n    filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {{type: ReplacePrefixMatch, replacePrefixMatch: /v2}}\n  - matches:\n    - path: {{value: /a}}\n    - path: {{value: /b}}\n    backendRefs:\n    - name: ads\n      filters:\n      - type: URLRewrite\n        urlRewrite: {{path: {{type: ReplacePrefixMatch, replacePrefixMatch: /c}}}}\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC603 error 11:22 `spec.rules[0].filters[0].urlRewrite.path.type` `ReplacePrefixMatch` needs exactly one `PathPrefix` match in its rule, and `spec.rules[0].matches[0].path.type` is `Exact`: give the rule one `PathPrefix` match, or use `ReplaceFullPath`",
                "MC603 error 19:35 `spec.rules[1].backendRefs[0].filters[0].urlRewrite.path.type` `ReplacePrefixMatch` needs exactly one `PathPrefix` match in its rule, and `spec.rules[1].matches` has 2: give the rule one `PathPrefix` match, or use `ReplaceFullPath`",
            ]
        );
    }

    #[test]
    fn long_paths_and_dot_dot_endings() {
        let long = format!("/{}", "a".repeat(1024));
        assert_eq!(
            problems(&long),
            vec!["must be at most 1024 characters (it has 1025)"]
        );
        assert_eq!(problems("/a/.."), vec!["must not end in `/..`"]);
        assert!(problems("/a/..b/.c").is_empty());
    }
}
