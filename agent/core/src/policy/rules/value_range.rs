//! MC503 `value-range`: a status code, percentage, count or duration is out of its range.
//!
//! **What it does.** Checks the bounded values the APIs define:
//!
//! - networkservices: redirect `responseCode` is one of `MOVED_PERMANENTLY_DEFAULT`, `FOUND`,
//!   `SEE_OTHER`, `TEMPORARY_REDIRECT`, `PERMANENT_REDIRECT`; fault `delay`/`abort`
//!   `percentage` is 0–100 and abort `httpStatus` 200–599; `retryPolicy.numRetries` is above
//!   0; `statefulSessionAffinity.cookieTtl` is 0–86400s; `description` is at most 1024
//!   characters (every networkservices kind);
//! - Istio VirtualService: `redirect.redirectCode` is 3xx; `fault.abort.httpStatus` is 200–599;
//!   `fault.delay.percentage.value`, `fault.abort.percentage.value` and
//!   `mirrorPercentage.value` are 0–100;
//! - Gateway API: a `RequestRedirect` filter's `statusCode` is 301, 302, 303, 307 or 308.
//!
//! **Why.** The control plane rejects the resource, so the revision would fail to apply; or,
//! for Istio, the proxy would be sent a configuration it cannot use.
//!
//! **Example.** `fault: {abort: {httpStatus: 700, percentage: {value: 150}}}`.

use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::model::networkservices as ns;
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC503",
    name: "value-range",
    summary: "a status code, percentage, retry count, duration or length is out of range",
    check: Some(check),
};

/// networkservices redirect response codes.
const NS_REDIRECT_CODES: &[&str] = &[
    "MOVED_PERMANENTLY_DEFAULT",
    "FOUND",
    "SEE_OTHER",
    "TEMPORARY_REDIRECT",
    "PERMANENT_REDIRECT",
];

/// Gateway API redirect status codes.
const GW_REDIRECT_CODES: &[i64] = &[301, 302, 303, 307, 308];

/// Longest networkservices `description`, in characters.
const MAX_DESCRIPTION: usize = 1024;

/// Longest `statefulSessionAffinity.cookieTtl`, in seconds (a day).
const MAX_COOKIE_TTL_SECONDS: f64 = 86_400.0;

/// Collects the findings of one resource.
struct Checker<'a> {
    resource: &'a Resource,
    out: &'a mut Vec<Finding>,
}

impl Checker<'_> {
    fn error(&mut self, path: &FieldPath, message: String) {
        self.out
            .push(self.resource.finding(&RULE, Severity::Error, path, message));
    }

    /// An integer field within `min..=max`.
    fn int(&mut self, path: &FieldPath, value: Option<i64>, min: i64, max: i64) {
        if let Some(v) = value.filter(|v| !(min..=max).contains(v)) {
            self.error(
                path,
                format!("`{path}` is {v}; it must be between {min} and {max}"),
            );
        }
    }

    /// A JSON number within `min..=max` (`integer` when it must be whole).
    fn number(
        &mut self,
        path: &FieldPath,
        value: Option<&Value>,
        min: f64,
        max: f64,
        integer: bool,
    ) {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return;
        };
        let number = if integer {
            value.as_i64().map(|v| v as f64)
        } else {
            value.as_f64()
        };
        let kind = if integer { "an integer" } else { "a number" };
        match number {
            Some(n) if (min..=max).contains(&n) => {}
            Some(_) => self.error(
                path,
                format!("`{path}` is {value}; it must be between {min} and {max}"),
            ),
            None => self.error(
                path,
                format!("`{path}` is {value}; it must be {kind} between {min} and {max}"),
            ),
        }
    }

    fn description(&mut self, root: &FieldPath, description: Option<&String>) {
        let Some(length) = description
            .map(|d| d.chars().count())
            .filter(|n| *n > MAX_DESCRIPTION)
        else {
            return;
        };
        let path = root.key("description");
        self.error(
            &path,
            format!(
                "`{path}` is {length} characters long; at most {MAX_DESCRIPTION} are allowed: \
                 shorten it"
            ),
        );
    }

    /// Fault injection, retries and session affinity, shared by HttpRoute and GrpcRoute.
    fn ns_action(
        &mut self,
        at: &FieldPath,
        fault: Option<&ns::FaultInjectionPolicy>,
        num_retries: Option<i64>,
        affinity: Option<&ns::StatefulSessionAffinity>,
    ) {
        if let Some(fault) = fault {
            let fault_at = at.key("faultInjectionPolicy");
            if let Some(delay) = &fault.delay {
                let path = fault_at.key("delay").key("percentage");
                self.int(&path, delay.percentage, 0, 100);
            }
            if let Some(abort) = &fault.abort {
                let abort_at = fault_at.key("abort");
                self.int(&abort_at.key("percentage"), abort.percentage, 0, 100);
                self.int(&abort_at.key("httpStatus"), abort.http_status, 200, 599);
            }
        }
        if let Some(n) = num_retries.filter(|n| *n <= 0) {
            let path = at.key("retryPolicy").key("numRetries");
            self.error(
                &path,
                format!(
                    "`{path}` is {n}; it must be above 0 (leave out `retryPolicy` for no retries)"
                ),
            );
        }
        if let Some(ttl) = affinity.and_then(|a| a.cookie_ttl.as_deref()) {
            let path = at.key("statefulSessionAffinity").key("cookieTtl");
            let seconds = ttl
                .strip_suffix('s')
                .and_then(|t| t.parse::<f64>().ok())
                .filter(|s| s.is_finite());
            match seconds {
                Some(s) if (0.0..=MAX_COOKIE_TTL_SECONDS).contains(&s) => {}
                Some(_) => self.error(
                    &path,
                    format!("`{path}` is \"{ttl}\"; it must be between 0s and 86400s (a day)"),
                ),
                None => self.error(
                    &path,
                    format!("`{path}` is \"{ttl}\"; it must be a duration in seconds such as `3600s`, at most 86400s"),
                ),
            }
        }
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        let mut c = Checker { resource, out };
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                c.description(&root, route.description.as_ref());
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(action) = &rule.action else {
                        continue;
                    };
                    let at = root.key("rules").index(i).key("action");
                    if let Some(code) = action
                        .redirect
                        .as_ref()
                        .and_then(|r| r.response_code.as_deref())
                        .filter(|code| !NS_REDIRECT_CODES.contains(code))
                    {
                        let path = at.key("redirect").key("responseCode");
                        c.error(
                            &path,
                            format!(
                                "`{path}` is `{code}`; use one of MOVED_PERMANENTLY_DEFAULT (301), \
                                 FOUND (302), SEE_OTHER (303), TEMPORARY_REDIRECT (307) or \
                                 PERMANENT_REDIRECT (308)"
                            ),
                        );
                    }
                    c.ns_action(
                        &at,
                        action.fault_injection_policy.as_ref(),
                        action.retry_policy.as_ref().and_then(|r| r.num_retries),
                        action.stateful_session_affinity.as_ref(),
                    );
                }
            }
            Spec::NsGrpcRoute(route) => {
                c.description(&root, route.description.as_ref());
                for (i, rule) in route.rules.iter().enumerate() {
                    if let Some(action) = &rule.action {
                        c.ns_action(
                            &root.key("rules").index(i).key("action"),
                            action.fault_injection_policy.as_ref(),
                            action.retry_policy.as_ref().and_then(|r| r.num_retries),
                            action.stateful_session_affinity.as_ref(),
                        );
                    }
                }
            }
            Spec::NsTcpRoute(route) => c.description(&root, route.description.as_ref()),
            Spec::NsTlsRoute(route) => c.description(&root, route.description.as_ref()),
            Spec::NsMesh(mesh) => c.description(&root, mesh.description.as_ref()),
            Spec::NsGateway(gateway) => c.description(&root, gateway.description.as_ref()),
            Spec::VirtualService(vs) => {
                for (i, http) in vs.http.iter().enumerate() {
                    let at = root.key("http").index(i);
                    if let Some(redirect) = &http.redirect {
                        c.number(
                            &at.key("redirect").key("redirectCode"),
                            redirect.get("redirectCode"),
                            300.0,
                            399.0,
                            true,
                        );
                    }
                    if let Some(fault) = &http.fault {
                        let fault_at = at.key("fault");
                        for kind in ["delay", "abort"] {
                            c.number(
                                &fault_at.key(kind).key("percentage").key("value"),
                                fault.pointer(&format!("/{kind}/percentage/value")),
                                0.0,
                                100.0,
                                false,
                            );
                        }
                        c.number(
                            &fault_at.key("abort").key("httpStatus"),
                            fault.pointer("/abort/httpStatus"),
                            200.0,
                            599.0,
                            true,
                        );
                    }
                    if let Some(mirror) = &http.mirror_percentage {
                        c.number(
                            &at.key("mirrorPercentage").key("value"),
                            mirror.get("value"),
                            0.0,
                            100.0,
                            false,
                        );
                    }
                }
            }
            Spec::GwRoute(spec) => {
                for (i, rule) in spec.rules.iter().enumerate() {
                    for (k, filter) in rule.filters.iter().enumerate() {
                        let Some(code) = filter
                            .request_redirect
                            .as_ref()
                            .and_then(|r| r.status_code)
                            .filter(|code| !GW_REDIRECT_CODES.contains(code))
                        else {
                            continue;
                        };
                        let path = root
                            .key("rules")
                            .index(i)
                            .key("filters")
                            .index(k)
                            .key("requestRedirect")
                            .key("statusCode");
                        c.error(
                            &path,
                            format!("`{path}` is {code}; use 301, 302, 303, 307 or 308"),
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
    use crate::policy::{check_fixture, ns_fixture as ns};

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

    const ISTIO: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ads, namespace: prod}\nspec:\n  hosts: [ads]\n  http:\n";
    const GW: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ads, namespace: prod}\nspec:\n  rules:\n";

    #[test]
    fn values_in_range_pass() {
        let http = ns(
            "HttpRoute",
            "description: Ads routes\nhostnames: [ads.internal]\nrules:\n- matches: [{prefixMatch: /old}]\n  action:\n    redirect: {pathRedirect: /new, responseCode: PERMANENT_REDIRECT}\n- action:\n    destinations: [{serviceName: ads}]\n    faultInjectionPolicy:\n      delay: {fixedDelay: 1s, percentage: 100}\n      abort: {httpStatus: 599, percentage: 0}\n    retryPolicy: {numRetries: 1}\n    statefulSessionAffinity: {cookieTtl: 86400s}\n",
        );
        let istio = format!("{ISTIO}  - redirect: {{uri: /new, redirectCode: 308}}\n  - route:\n    - destination: {{host: ads}}\n    fault:\n      delay: {{fixedDelay: 1s, percentage: {{value: 0.5}}}}\n      abort: {{httpStatus: 200, percentage: {{value: 100}}}}\n    mirror: {{host: ads-shadow}}\n    mirrorPercentage: {{value: 12.5}}\n");
        let gw = format!("{GW}  - filters:\n    - type: RequestRedirect\n      requestRedirect: {{scheme: https, statusCode: 301}}\n");
        for yaml in [http, istio, gw] {
            assert_eq!(run(&yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn networkservices_values_out_of_range() {
        let long = "x".repeat(1025);
        let yaml = ns(
            "HttpRoute",
            &format!("description: {long}\nhostnames: [ads.internal]\nrules:\n- matches: [{{prefixMatch: /old}}]\n  action:\n    redirect: {{pathRedirect: /new, responseCode: MOVED}}\n- action:\n    destinations: [{{serviceName: ads}}]\n    faultInjectionPolicy:\n      delay: {{fixedDelay: 1s, percentage: 101}}\n      abort: {{httpStatus: 600, percentage: -1}}\n    retryPolicy: {{numRetries: 0}}\n    statefulSessionAffinity: {{cookieTtl: 86401s}}\n"),
        );
        assert_eq!(
            run(&yaml),
            vec![
                "MC503 error 4:14 `description` is 1025 characters long; at most 1024 are allowed: shorten it",
                "MC503 error 9:50 `rules[0].action.redirect.responseCode` is `MOVED`; use one of MOVED_PERMANENTLY_DEFAULT (301), FOUND (302), SEE_OTHER (303), TEMPORARY_REDIRECT (307) or PERMANENT_REDIRECT (308)",
                "MC503 error 13:43 `rules[1].action.faultInjectionPolicy.delay.percentage` is 101; it must be between 0 and 100",
                "MC503 error 14:27 `rules[1].action.faultInjectionPolicy.abort.httpStatus` is 600; it must be between 200 and 599",
                "MC503 error 14:44 `rules[1].action.faultInjectionPolicy.abort.percentage` is -1; it must be between 0 and 100",
                "MC503 error 15:31 `rules[1].action.retryPolicy.numRetries` is 0; it must be above 0 (leave out `retryPolicy` for no retries)",
                "MC503 error 16:42 `rules[1].action.statefulSessionAffinity.cookieTtl` is \"86401s\"; it must be between 0s and 86400s (a day)",
            ]
        );
    }

    #[test]
    fn grpc_cookie_ttl_must_be_a_duration() {
        let yaml = ns(
            "GrpcRoute",
            "hostnames: [ads.internal]\nrules:\n- action:\n    destinations: [{serviceName: ads}]\n    statefulSessionAffinity: {cookieTtl: 1h}\n",
        );
        assert_eq!(
            run(&yaml),
            vec!["MC503 error 8:42 `rules[0].action.statefulSessionAffinity.cookieTtl` is \"1h\"; it must be a duration in seconds such as `3600s`, at most 86400s"]
        );
    }

    #[test]
    fn istio_values_out_of_range() {
        let yaml = format!("{ISTIO}  - redirect: {{uri: /new, redirectCode: 200}}\n  - route:\n    - destination: {{host: ads}}\n    fault:\n      delay: {{fixedDelay: 1s, percentage: {{value: 100.5}}}}\n      abort: {{httpStatus: 700, percentage: {{value: -1}}}}\n    mirror: {{host: ads-shadow}}\n    mirrorPercentage: {{value: half}}\n");
        assert_eq!(
            run(&yaml),
            vec![
                "MC503 error 7:41 `spec.http[0].redirect.redirectCode` is 200; it must be between 300 and 399",
                "MC503 error 11:51 `spec.http[1].fault.delay.percentage.value` is 100.5; it must be between 0 and 100",
                "MC503 error 12:27 `spec.http[1].fault.abort.httpStatus` is 700; it must be between 200 and 599",
                "MC503 error 12:52 `spec.http[1].fault.abort.percentage.value` is -1; it must be between 0 and 100",
                "MC503 error 14:31 `spec.http[1].mirrorPercentage.value` is \"half\"; it must be a number between 0 and 100",
            ]
        );
    }

    #[test]
    fn gateway_api_redirect_status() {
        let yaml = format!("{GW}  - filters:\n    - type: RequestRedirect\n      requestRedirect: {{scheme: https, statusCode: 304}}\n");
        assert_eq!(
            run(&yaml),
            vec!["MC503 error 8:52 `spec.rules[0].filters[0].requestRedirect.statusCode` is 304; use 301, 302, 303, 307 or 308"]
        );
    }
}
