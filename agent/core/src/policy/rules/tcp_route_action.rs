//! MC605 `tcp-route-action`: a networkservices TcpRoute action needs `destinations` or
//! `originalDestination`, not both.
//!
//! **What it does.** For each rule action of a networkservices TcpRoute, reports one that sets
//! both `destinations` and `originalDestination: true`, and one that sets neither. (A rule with
//! no `action` at all is MC502's.)
//!
//! **Why.** The API takes exactly one of them: forward to the listed backend services, or let
//! the connection through to the address the client dialed. With both the route is rejected;
//! with neither the connection has nowhere to go.
//!
//! **Example.** `action: {originalDestination: true, destinations: [{serviceName: db}]}`: keep
//! one of them.

use crate::finding::{Finding, Severity};
use crate::model::Spec;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC605",
    name: "tcp-route-action",
    summary: "a networkservices TcpRoute action sets both or neither of `destinations` and `originalDestination`",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::NsTcpRoute(route) = &resource.spec else {
            continue;
        };
        for (i, rule) in route.rules.iter().enumerate() {
            let Some(action) = &rule.action else {
                continue;
            };
            let at = resource.spec_path().key("rules").index(i).key("action");
            let original = action.original_destination == Some(true);
            match (action.destinations.is_empty(), original) {
                (false, true) => {
                    let path = at.key("originalDestination");
                    let destinations = at.key("destinations");
                    out.push(resource.finding(
                        &RULE,
                        Severity::Error,
                        &path,
                        format!(
                            "`{path}: true` cannot be combined with `{destinations}`; keep \
                             one: the listed destinations, or the address the client dialed"
                        ),
                    ));
                }
                (true, false) => out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &at,
                    format!(
                        "`{at}` has neither `destinations` nor `originalDestination: true`; add \
                         one of them"
                    ),
                )),
                _ => {}
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

    const TCP: &str =
        "apiVersion: networkservices.googleapis.com/v1\nkind: TcpRoute\nname: db\nrules:\n";

    #[test]
    fn one_of_them_passes() {
        let yaml = format!("{TCP}- matches: [{{address: 10.0.0.0/8, port: '5432'}}]\n  action:\n    destinations: [{{serviceName: db}}]\n- action: {{originalDestination: true}}\n- action:\n    originalDestination: false\n    destinations: [{{serviceName: db}}]\n");
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn both_or_neither() {
        let yaml = format!("{TCP}- action:\n    destinations: [{{serviceName: db}}]\n    originalDestination: true\n- action:\n    originalDestination: false\n    idleTimeout: 30s\n- matches: [{{address: 10.0.0.0/8, port: '5432'}}]\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC605 error 7:26 `rules[0].action.originalDestination: true` cannot be combined with `rules[0].action.destinations`; keep one: the listed destinations, or the address the client dialed",
                "MC605 error 9:5 `rules[1].action` has neither `destinations` nor `originalDestination: true`; add one of them",
            ]
        );
    }
}
