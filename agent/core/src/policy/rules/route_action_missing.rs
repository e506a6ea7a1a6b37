//! MC502 `route-action-missing`: a rule says what to match but not what to do.
//!
//! **What it does.** Reports:
//!
//! - Istio VirtualService: an `http` route with none of `route`, `redirect`, `directResponse`
//!   or `delegate`;
//! - networkservices HttpRoute: a rule without `action`, or whose action has none of
//!   `destinations`, `redirect` or `directResponse`;
//! - networkservices GrpcRoute: a rule without `action`, or whose action has no
//!   `destinations`;
//! - networkservices TcpRoute: a rule without `action`. (An action with neither
//!   `destinations` nor `originalDestination`, or with both, is MC605's.)
//!
//! TlsRoute rules are MC604's.
//!
//! **Why.** The control plane rejects such a rule (Istio: "route, redirect or direct response
//! required"; networkservices: the action and its destinations are required), so the revision
//! would fail to apply.
//!
//! **Example.** `http: [{match: [{uri: {prefix: /v2}}], timeout: 5s}]`: add a `route`.

use crate::finding::{Finding, Severity};
use crate::model::Spec;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC502",
    name: "route-action-missing",
    summary: "a rule has no destination, redirect or direct response",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        let mut error = |path: crate::path::FieldPath, message: String| {
            out.push(resource.finding(&RULE, Severity::Error, &path, message));
        };
        match &resource.spec {
            Spec::VirtualService(vs) => {
                for (i, http) in vs.http.iter().enumerate() {
                    if http.route.is_empty()
                        && http.redirect.is_none()
                        && http.direct_response.is_none()
                        && http.delegate.is_none()
                    {
                        let path = root.key("http").index(i);
                        error(
                            path.clone(),
                            format!(
                                "`{path}` has no `route`, `redirect`, `directResponse` or \
                                 `delegate`, so Istio rejects it; add a `route` with a \
                                 destination"
                            ),
                        );
                    }
                }
            }
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let path = root.key("rules").index(i);
                    match &rule.action {
                        None => error(
                            path.clone(),
                            format!(
                                "`{path}` has no `action`; add `action.destinations` (or a \
                                 `redirect` or `directResponse`)"
                            ),
                        ),
                        Some(action)
                            if action.destinations.is_empty()
                                && action.redirect.is_none()
                                && action.direct_response.is_none() =>
                        {
                            let path = path.key("action");
                            error(
                                path.clone(),
                                format!(
                                    "`{path}` has no `destinations`, `redirect` or \
                                     `directResponse`; add one of them"
                                ),
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
            Spec::NsGrpcRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let path = root.key("rules").index(i);
                    match &rule.action {
                        None => error(
                            path.clone(),
                            format!("`{path}` has no `action`; add `action.destinations`"),
                        ),
                        Some(action) if action.destinations.is_empty() => {
                            let path = path.key("action");
                            error(
                                path.clone(),
                                format!("`{path}` has no `destinations`; add at least one"),
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
            Spec::NsTcpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    if rule.action.is_none() {
                        let path = root.key("rules").index(i);
                        error(
                            path.clone(),
                            format!(
                                "`{path}` has no `action`; add `action.destinations`, or \
                                 `action.originalDestination: true`"
                            ),
                        );
                    }
                }
            }
            _ => {}
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

    const ISTIO: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ads, namespace: prod}\nspec:\n  hosts: [ads]\n  http:\n";

    fn ns(kind: &str, rules: &str) -> String {
        format!("apiVersion: networkservices.googleapis.com/v1\nkind: {kind}\nname: ads\nrules:\n{rules}")
    }

    #[test]
    fn rules_with_actions_pass() {
        let istio = format!("{ISTIO}  - match:\n    - uri: {{prefix: /old}}\n    redirect: {{uri: /new}}\n  - directResponse: {{status: 404}}\n  - delegate: {{name: ads-v2}}\n  - route:\n    - destination: {{host: ads}}\n");
        let http = ns(
            "HttpRoute",
            "- action: {redirect: {pathRedirect: /new}}\n- action: {directResponse: {status: 404}}\n- action:\n    destinations: [{serviceName: ads}]\n",
        );
        let grpc = ns(
            "GrpcRoute",
            "- action:\n    destinations: [{serviceName: ads}]\n",
        );
        let tcp = ns(
            "TcpRoute",
            "- action: {originalDestination: true}\n- action:\n    destinations: [{serviceName: ads}]\n",
        );
        for yaml in [istio, http, grpc, tcp] {
            assert_eq!(run(&yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn istio_route_without_action() {
        let yaml = format!("{ISTIO}  - match:\n    - uri: {{prefix: /v2}}\n    timeout: 5s\n  - route:\n    - destination: {{host: ads}}\n");
        assert_eq!(
            run(&yaml),
            vec!["MC502 error 7:5 `spec.http[0]` has no `route`, `redirect`, `directResponse` or `delegate`, so Istio rejects it; add a `route` with a destination"]
        );
    }

    #[test]
    fn networkservices_http_rule_without_action_or_target() {
        let yaml = ns(
            "HttpRoute",
            "- matches: [{prefixMatch: /v2}]\n- action:\n    timeout: 5s\n",
        );
        assert_eq!(
            run(&yaml),
            vec![
                "MC502 error 5:3 `rules[0]` has no `action`; add `action.destinations` (or a `redirect` or `directResponse`)",
                "MC502 error 7:5 `rules[1].action` has no `destinations`, `redirect` or `directResponse`; add one of them",
            ]
        );
    }

    #[test]
    fn grpc_and_tcp_rules_without_action() {
        let grpc = ns(
            "GrpcRoute",
            "- matches: [{method: {grpcService: Ads}}]\n- action:\n    timeout: 5s\n",
        );
        assert_eq!(
            run(&grpc),
            vec![
                "MC502 error 5:3 `rules[0]` has no `action`; add `action.destinations`",
                "MC502 error 7:5 `rules[1].action` has no `destinations`; add at least one",
            ]
        );
        let tcp = ns("TcpRoute", "- matches: [{address: 10.0.0.0/8}]\n");
        assert_eq!(
            run(&tcp),
            vec!["MC502 error 5:3 `rules[0]` has no `action`; add `action.destinations`, or `action.originalDestination: true`"]
        );
    }
}
