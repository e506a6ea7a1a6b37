//! MC501 `redirect-with-destinations`: a rule both redirects and forwards (or rewrites).
//!
//! **What it does.** Reports, at the conflicting field:
//!
//! - networkservices HttpRoute: an action with `redirect` and `destinations`, and a `redirect`
//!   with both `pathRedirect` and `prefixRewrite`;
//! - Istio VirtualService: an `http` route with `redirect` and any of `route`, `fault`,
//!   `rewrite` or `directResponse`;
//! - Gateway API: a rule with a `RequestRedirect` filter and `backendRefs`, or and a
//!   `URLRewrite` filter.
//!
//! **Why.** A redirect answers the request itself: there is nothing to forward, fault or
//! rewrite. The APIs reject these combinations (Istio's validation, the networkservices API,
//! Gateway API's CEL rules), so the whole revision would fail to apply.
//!
//! **Example.** An Istio route with `redirect: {uri: /v2}` and `route: [{destination: {host:
//! ads}}]`: keep one of them.

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC501",
    name: "redirect-with-destinations",
    summary: "a rule redirects and also forwards, faults or rewrites",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                let rules = resource.spec_path().key("rules");
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(action) = &rule.action else {
                        continue;
                    };
                    let Some(redirect) = &action.redirect else {
                        continue;
                    };
                    let at = rules.index(i).key("action");
                    if !action.destinations.is_empty() {
                        let path = at.key("destinations");
                        conflict(resource, out, &path, &at.key("redirect"));
                    }
                    if redirect.path_redirect.is_some() && redirect.prefix_rewrite.is_some() {
                        let path = at.key("redirect").key("prefixRewrite");
                        let other = at.key("redirect").key("pathRedirect");
                        out.push(resource.finding(
                            &RULE,
                            Severity::Error,
                            &path,
                            format!(
                                "`{path}` cannot be combined with `{other}`: one replaces the \
                                 whole path, the other its prefix; keep one of them"
                            ),
                        ));
                    }
                }
            }
            Spec::VirtualService(vs) => {
                let http = resource.spec_path().key("http");
                for (i, route) in vs.http.iter().enumerate() {
                    if route.redirect.is_none() {
                        continue;
                    }
                    let at = http.index(i);
                    let present = [
                        ("route", !route.route.is_empty()),
                        ("fault", route.fault.is_some()),
                        ("rewrite", route.rewrite.is_some()),
                        ("directResponse", route.direct_response.is_some()),
                    ];
                    for (field, _) in present.iter().filter(|(_, set)| *set) {
                        conflict(resource, out, &at.key(field), &at.key("redirect"));
                    }
                }
            }
            Spec::GwRoute(spec) => {
                let rules = resource.spec_path().key("rules");
                for (i, rule) in spec.rules.iter().enumerate() {
                    let at = rules.index(i);
                    let Some(redirect) = rule
                        .filters
                        .iter()
                        .position(|f| f.filter_type == "RequestRedirect")
                    else {
                        continue;
                    };
                    let redirect = at.key("filters").index(redirect);
                    if !rule.backend_refs.is_empty() {
                        conflict(resource, out, &at.key("backendRefs"), &redirect);
                    }
                    for (k, filter) in rule.filters.iter().enumerate() {
                        if filter.filter_type == "URLRewrite" {
                            let path = at.key("filters").index(k);
                            out.push(resource.finding(
                                &RULE,
                                Severity::Error,
                                &path,
                                format!(
                                    "`URLRewrite` filter `{path}` cannot be combined with the \
                                     `RequestRedirect` filter `{redirect}`: a redirect answers \
                                     the request itself; put the new path in \
                                     `requestRedirect.path` and remove the rewrite"
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// Reports a field that cannot be combined with the redirect at `redirect`.
fn conflict(resource: &Resource, out: &mut Vec<Finding>, path: &FieldPath, redirect: &FieldPath) {
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        path,
        format!(
            "`{path}` cannot be combined with the redirect `{redirect}`: a redirect answers the \
             request itself; remove one of them"
        ),
    ));
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

    const NS: &str = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: ads\nhostnames: [ads.internal]\nrules:\n";
    const ISTIO: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ads, namespace: prod}\nspec:\n  hosts: [ads]\n  http:\n";
    const GW: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ads, namespace: prod}\nspec:\n  rules:\n";

    #[test]
    fn plain_redirects_pass() {
        let ns = format!("{NS}- action:\n    redirect: {{hostRedirect: ads.example.com, pathRedirect: /v2}}\n- action:\n    destinations:\n    - serviceName: ads\n");
        let istio = format!(
            "{ISTIO}  - redirect: {{uri: /v2}}\n  - route:\n    - destination: {{host: ads}}\n"
        );
        let gw = format!("{GW}  - filters:\n    - type: RequestRedirect\n      requestRedirect: {{scheme: https}}\n  - backendRefs:\n    - name: ads\n");
        for yaml in [ns, istio, gw] {
            assert_eq!(run(&yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn networkservices_redirect_with_destinations() {
        let yaml = format!("{NS}- action:\n    redirect:\n      pathRedirect: /v2\n      prefixRewrite: /v2/\n    destinations:\n    - serviceName: ads\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC501 error 9:22 `rules[0].action.redirect.prefixRewrite` cannot be combined with `rules[0].action.redirect.pathRedirect`: one replaces the whole path, the other its prefix; keep one of them",
                "MC501 error 11:7 `rules[0].action.destinations` cannot be combined with the redirect `rules[0].action.redirect`: a redirect answers the request itself; remove one of them",
            ]
        );
    }

    #[test]
    fn istio_redirect_with_route_fault_rewrite_and_direct_response() {
        let yaml = format!("{ISTIO}  - redirect: {{uri: /v2}}\n    route:\n    - destination: {{host: ads}}\n    fault:\n      abort: {{httpStatus: 503, percentage: {{value: 1}}}}\n    rewrite: {{uri: /v3}}\n    directResponse: {{status: 404}}\n");
        let tail = "cannot be combined with the redirect `spec.http[0].redirect`: a redirect answers the request itself; remove one of them";
        assert_eq!(
            run(&yaml),
            vec![
                format!("MC501 error 9:7 `spec.http[0].route` {tail}"),
                format!("MC501 error 11:7 `spec.http[0].fault` {tail}"),
                format!("MC501 error 12:14 `spec.http[0].rewrite` {tail}"),
                format!("MC501 error 13:21 `spec.http[0].directResponse` {tail}"),
            ]
        );
    }

    #[test]
    fn gateway_api_redirect_with_backends_and_rewrite() {
        let yaml = format!("{GW}  - filters:\n    - type: RequestRedirect\n      requestRedirect: {{path: {{type: ReplaceFullPath, replaceFullPath: /v2}}}}\n    - type: URLRewrite\n      urlRewrite: {{hostname: ads.internal}}\n    backendRefs:\n    - name: ads\n      port: 8080\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC501 error 9:7 `URLRewrite` filter `spec.rules[0].filters[1]` cannot be combined with the `RequestRedirect` filter `spec.rules[0].filters[0]`: a redirect answers the request itself; put the new path in `requestRedirect.path` and remove the rewrite",
                "MC501 error 12:7 `spec.rules[0].backendRefs` cannot be combined with the redirect `spec.rules[0].filters[0]`: a redirect answers the request itself; remove one of them",
            ]
        );
    }
}
