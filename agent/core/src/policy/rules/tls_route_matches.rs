//! MC604 `tls-route-matches`: a networkservices TlsRoute rule lacks its matches or destinations.
//!
//! **What it does.** For each rule of a networkservices TlsRoute, reports a missing or empty
//! `matches`, a match with neither `sniHost` nor `alpn`, and a missing `action` or empty
//! `action.destinations`.
//!
//! **Why.** A TlsRoute routes TLS connections by SNI and ALPN without decrypting them: the API
//! requires every rule to say which connections it takes (`matches`, each with `sniHost` and/or
//! `alpn`) and where they go (`destinations`), and rejects the route otherwise.
//!
//! **Example.** `rules: [{matches: [{}], action: {destinations: [{serviceName: ads}]}}]`: add
//! `sniHost: [ads.example.com]` to the match.

use crate::finding::{Finding, Severity};
use crate::model::Spec;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC604",
    name: "tls-route-matches",
    summary: "a networkservices TlsRoute rule lacks matches (sniHost or alpn) or destinations",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::NsTlsRoute(route) = &resource.spec else {
            continue;
        };
        let mut error = |path: &crate::path::FieldPath, message: String| {
            out.push(resource.finding(&RULE, Severity::Error, path, message));
        };
        for (i, rule) in route.rules.iter().enumerate() {
            let at = resource.spec_path().key("rules").index(i);
            let matches = at.key("matches");
            if rule.matches.is_empty() {
                error(
                    &matches,
                    format!(
                        "`{matches}` is required in a TlsRoute rule; add a match with `sniHost` \
                         and/or `alpn`"
                    ),
                );
            }
            for (j, m) in rule.matches.iter().enumerate() {
                if m.sni_host.is_empty() && m.alpn.is_empty() {
                    let path = matches.index(j);
                    error(
                        &path,
                        format!(
                            "`{path}` has neither `sniHost` nor `alpn`; add one (for example \
                             `sniHost: [ads.example.com]`)"
                        ),
                    );
                }
            }
            let destinations = at.key("action").key("destinations");
            if rule
                .action
                .as_ref()
                .is_none_or(|a| a.destinations.is_empty())
            {
                error(
                    &destinations,
                    format!("`{destinations}` is required in a TlsRoute rule; add at least one"),
                );
            }
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
            .filter(|l| l.starts_with(RULE.code) || l.starts_with("MC00"))
            .collect()
    }

    const TLS: &str =
        "apiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: ads\nrules:\n";

    #[test]
    fn complete_rules_pass() {
        let yaml = format!("{TLS}- matches:\n  - sniHost: [ads.example.com]\n  - alpn: [h2]\n  action:\n    destinations:\n    - serviceName: projects/p/locations/global/backendServices/ads\n");
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn missing_matches_and_destinations() {
        let yaml = format!("{TLS}- action:\n    destinations: [{{serviceName: ads}}]\n- matches:\n  - sniHost: []\n  action: {{idleTimeout: 60s}}\n- matches: [{{alpn: [h2]}}]\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC604 error 5:3 `rules[0].matches` is required in a TlsRoute rule; add a match with `sniHost` and/or `alpn`",
                "MC604 error 8:5 `rules[1].matches[0]` has neither `sniHost` nor `alpn`; add one (for example `sniHost: [ads.example.com]`)",
                "MC604 error 9:11 `rules[1].action.destinations` is required in a TlsRoute rule; add at least one",
                "MC604 error 10:3 `rules[2].action.destinations` is required in a TlsRoute rule; add at least one",
            ]
        );
    }
}
