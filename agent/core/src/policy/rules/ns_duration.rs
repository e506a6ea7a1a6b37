//! MC510 `ns-duration`: a networkservices duration is not one the API reads.
//!
//! **What it does.** Checks the durations of route actions: `timeout`, `idleTimeout`,
//! `retryPolicy.perTryTimeout` and `faultInjectionPolicy.delay.fixedDelay` (HttpRoute and
//! GrpcRoute; `idleTimeout` also TcpRoute and TlsRoute). Each is written as the API's JSON
//! form, a number of seconds with up to nine decimals and an `s`: `30s`, `0.5s`. None may be
//! negative, and `perTryTimeout` must be above zero. (`statefulSessionAffinity.cookieTtl` is
//! MC503's.)
//!
//! **Why.** The API reads durations in that form only: `30` or `1m` is rejected, and so is a
//! negative duration. A zero `idleTimeout` turns the idle timeout off, which is allowed; a zero
//! per-try timeout is not.
//!
//! **Example.** `timeout: 1m`: write `60s`.

use std::sync::LazyLock;

use regex::Regex;

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC510",
    name: "ns-duration",
    summary: "a networkservices duration is malformed, negative, or zero where it must not be",
    check: Some(check),
};

/// The JSON form of `google.protobuf.Duration`.
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(-)?([0-9]+)(\.[0-9]{1,9})?s$").expect("the duration pattern is valid")
});

/// Longest duration protobuf allows, in seconds (10,000 years).
const MAX_SECONDS: u64 = 315_576_000_000;

/// What a duration may be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// Zero or more.
    NonNegative,
    /// More than zero.
    Positive,
}

fn report(
    resource: &Resource,
    path: &FieldPath,
    value: Option<&str>,
    bound: Bound,
    out: &mut Vec<Finding>,
) {
    let Some(value) = value else { return };
    let Some(caps) = DURATION.captures(value) else {
        out.push(resource.finding(
            &RULE,
            Severity::Error,
            path,
            format!(
                "`{path}` is `{value}`, which is not a duration the API reads; write seconds \
                 with an `s`, e.g. `30s` or `0.5s` (`1m` is `60s`)"
            ),
        ));
        return;
    };
    let negative = caps.get(1).is_some();
    let whole: Option<u64> = caps[2].parse().ok();
    let zero = whole == Some(0)
        && caps
            .get(3)
            .is_none_or(|f| f.as_str().trim_matches(['.', '0']).is_empty());
    let problem = if whole.is_none_or(|s| s > MAX_SECONDS) {
        Some("it is longer than the API allows")
    } else if negative && !zero {
        Some("it must not be negative")
    } else if bound == Bound::Positive && zero {
        Some("it must be above zero (leave the field out for the default)")
    } else {
        None
    };
    if let Some(problem) = problem {
        out.push(resource.finding(
            &RULE,
            Severity::Error,
            path,
            format!("`{path}` is `{value}`: {problem}"),
        ));
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    use Bound::{NonNegative, Positive};
    for resource in ctx.resources {
        let rules = resource.spec_path().key("rules");
        let mut each = |path: FieldPath, value: Option<&String>, bound: Bound| {
            report(resource, &path, value.map(String::as_str), bound, out);
        };
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(a) = &rule.action else { continue };
                    let at = rules.index(i).key("action");
                    each(at.key("timeout"), a.timeout.as_ref(), NonNegative);
                    each(at.key("idleTimeout"), a.idle_timeout.as_ref(), NonNegative);
                    if let Some(retry) = &a.retry_policy {
                        let path = at.key("retryPolicy").key("perTryTimeout");
                        each(path, retry.per_try_timeout.as_ref(), Positive);
                    }
                    if let Some(delay) = a
                        .fault_injection_policy
                        .as_ref()
                        .and_then(|f| f.delay.as_ref())
                    {
                        let path = at
                            .key("faultInjectionPolicy")
                            .key("delay")
                            .key("fixedDelay");
                        each(path, delay.fixed_delay.as_ref(), NonNegative);
                    }
                }
            }
            Spec::NsGrpcRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(a) = &rule.action else { continue };
                    let at = rules.index(i).key("action");
                    each(at.key("timeout"), a.timeout.as_ref(), NonNegative);
                    each(at.key("idleTimeout"), a.idle_timeout.as_ref(), NonNegative);
                    if let Some(delay) = a
                        .fault_injection_policy
                        .as_ref()
                        .and_then(|f| f.delay.as_ref())
                    {
                        let path = at
                            .key("faultInjectionPolicy")
                            .key("delay")
                            .key("fixedDelay");
                        each(path, delay.fixed_delay.as_ref(), NonNegative);
                    }
                }
            }
            Spec::NsTcpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(a) = &rule.action else { continue };
                    let path = rules.index(i).key("action").key("idleTimeout");
                    each(path, a.idle_timeout.as_ref(), NonNegative);
                }
            }
            Spec::NsTlsRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(a) = &rule.action else { continue };
                    let path = rules.index(i).key("action").key("idleTimeout");
                    each(path, a.idle_timeout.as_ref(), NonNegative);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{findings_of, ns_fixture as ns};

    #[test]
    fn json_durations_pass() {
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- action:\n    destinations: [{serviceName: ads}]\n    timeout: 30s\n    idleTimeout: 0s\n    retryPolicy: {numRetries: 2, perTryTimeout: 0.25s}\n    faultInjectionPolicy: {delay: {fixedDelay: 1.000000001s, percentage: 1}}\n");
        let tcp = ns(
            "TcpRoute",
            "rules:\n- action: {originalDestination: true, idleTimeout: 3600s}\n",
        );
        for yaml in [http, tcp] {
            assert_eq!(findings_of("MC510", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn malformed_negative_and_zero_durations() {
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- action:\n    destinations: [{serviceName: ads}]\n    timeout: 1m\n    idleTimeout: -5s\n    retryPolicy: {numRetries: 2, perTryTimeout: 0s}\n    faultInjectionPolicy: {delay: {fixedDelay: 0.0000000001s, percentage: 1}}\n");
        assert_eq!(
            findings_of("MC510", &http),
            vec![
                "MC510 error 8:14 `rules[0].action.timeout` is `1m`, which is not a duration the API reads; write seconds with an `s`, e.g. `30s` or `0.5s` (`1m` is `60s`)",
                "MC510 error 9:18 `rules[0].action.idleTimeout` is `-5s`: it must not be negative",
                "MC510 error 10:49 `rules[0].action.retryPolicy.perTryTimeout` is `0s`: it must be above zero (leave the field out for the default)",
                "MC510 error 11:48 `rules[0].action.faultInjectionPolicy.delay.fixedDelay` is `0.0000000001s`, which is not a duration the API reads; write seconds with an `s`, e.g. `30s` or `0.5s` (`1m` is `60s`)",
            ]
        );
        let tls = ns("TlsRoute", "rules:\n- matches: [{alpn: [h2]}]\n  action:\n    destinations: [{serviceName: ads}]\n    idleTimeout: '10'\n");
        assert_eq!(
            findings_of("MC510", &tls),
            vec!["MC510 error 8:18 `rules[0].action.idleTimeout` is `10`, which is not a duration the API reads; write seconds with an `s`, e.g. `30s` or `0.5s` (`1m` is `60s`)"]
        );
    }
}
