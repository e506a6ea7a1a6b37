//! MC208 `istio-retry-invalid`: an HTTP retry policy Istio's webhook refuses.
//!
//! **What it does.** Checks `retries` of VirtualService `http` rules as Istio's webhook
//! (`validateHTTPRetry`) does: `attempts` is not negative; with `attempts` 0 or left out (retries
//! off) nothing else is set (`perTryTimeout`, `retryOn`, `retryRemoteLocalities`); each
//! comma-separated `retryOn` condition is one Envoy knows (`5xx`, `gateway-error`, `reset`,
//! `reset-before-request`, `connect-failure`, `retriable-4xx`, `refused-stream`,
//! `retriable-status-codes`, `retriable-headers`, `envoy-ratelimited`,
//! `http3-post-connect-failure`, and the gRPC `cancelled`, `deadline-exceeded`, `internal`,
//! `resource-exhausted`, `unavailable`) or an HTTP status code, with no spaces. Durations are
//! MC207's.
//!
//! **Why.** The API server refuses the VirtualService. A policy with `retryOn` but no `attempts`
//! looks like it retries, yet Istio reads the missing count as 0: retries off.
//!
//! **Example.** `retries: {retryOn: 5xx}` (no attempts), `retryOn: "5xx, reset"` (a space).

use crate::finding::Finding;
use crate::model::istio::HttpRetry;
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::shown;
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC208",
    name: "istio-retry-invalid",
    summary: "an HTTP retry policy has a negative count, settings without attempts, or an unknown retryOn",
    check: Some(check),
};

/// The retry conditions Envoy knows (`x-envoy-retry-on` and `x-envoy-retry-grpc-on`).
const RETRY_ON: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// The HTTP status codes Istio accepts as a retry condition (those Go names).
fn is_status_code(code: i64) -> bool {
    matches!(
        code,
        100..=103
            | 200..=208
            | 226
            | 300..=305
            | 307
            | 308
            | 400..=418
            | 421..=426
            | 428
            | 429
            | 431
            | 451
            | 500..=508
            | 510
            | 511
    )
}

fn retries(r: &mut Reporter<'_>, at: &FieldPath, retry: &HttpRetry) {
    let attempts = retry.attempts.unwrap_or(0);
    if attempts < 0 {
        let path = at.key("attempts");
        r.error(
            &path,
            format!("`{path}` is {attempts}; it cannot be negative (0 turns retries off)"),
        );
    }
    if attempts == 0 {
        let set: Vec<&str> = [
            ("perTryTimeout", retry.per_try_timeout.is_some()),
            (
                "retryOn",
                retry.retry_on.as_deref().is_some_and(|s| !s.is_empty()),
            ),
            (
                "retryRemoteLocalities",
                retry.retry_remote_localities.is_some(),
            ),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(field, _)| field)
        .collect();
        if !set.is_empty() {
            let how = if retry.attempts.is_some() {
                "`attempts` is 0"
            } else {
                "`attempts` is left out, which Istio reads as 0"
            };
            r.error(
                at,
                format!(
                    "`{at}` sets {} but {how}, so retries are off; set `attempts` (at least 1) \
                     or remove the policy",
                    set.iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    if let Some(retry_on) = retry.retry_on.as_deref().filter(|s| !s.is_empty()) {
        let path = at.key("retryOn");
        for condition in retry_on.split(',') {
            let known =
                RETRY_ON.contains(&condition) || condition.parse::<i64>().is_ok_and(is_status_code);
            if condition.is_empty() {
                r.error(
                    &path,
                    format!("`{path}` has an empty condition (a stray comma); remove it"),
                );
            } else if !known {
                let hint = if condition.trim() != condition {
                    " (remove the spaces around commas)"
                } else {
                    ""
                };
                r.error(
                    &path,
                    format!(
                        "`{path}` has `{}`, which is neither a retry condition Envoy knows nor an \
                         HTTP status code{hint}",
                        shown(condition)
                    ),
                );
            }
        }
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let Spec::VirtualService(vs) = &resource.spec else {
            continue;
        };
        let http = resource.spec_path().key("http");
        let mut r = Reporter::new(&RULE, resource, out);
        for (i, rule) in vs.http.iter().enumerate() {
            if let Some(retry) = &rule.retries {
                retries(&mut r, &http.index(i).key("retries"), retry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc208(retries: &str) -> Vec<String> {
        findings_of(
            "MC208",
            &format!(
                "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: web}}
spec:
  hosts: [shop]
  http:
  - retries: {retries}
    route:
    - destination: {{host: shop}}
"
            ),
        )
    }

    #[test]
    fn valid_retry_policies_pass() {
        for ok in [
            "{attempts: 3, perTryTimeout: 2s, retryOn: 'gateway-error,connect-failure,503'}",
            "{attempts: 0}",
            "{}",
            "{attempts: 2, retryOn: 'cancelled,unavailable,retriable-status-codes', retryRemoteLocalities: true, retryIgnorePreviousHosts: true, backoff: 25ms}",
        ] {
            assert_eq!(mc208(ok), Vec::<String>::new(), "{ok}");
        }
    }

    #[test]
    fn invalid_retry_policies_are_errors() {
        assert_eq!(
            mc208("{retryOn: 5xx}"),
            vec!["MC208 error 7:14 `spec.http[0].retries` sets `retryOn` but `attempts` is left out, which Istio reads as 0, so retries are off; set `attempts` (at least 1) or remove the policy"]
        );
        assert_eq!(
            mc208("{attempts: -1, retryOn: '5xx, reset,599,'}"),
            vec![
                "MC208 error 7:25 `spec.http[0].retries.attempts` is -1; it cannot be negative (0 turns retries off)",
                "MC208 error 7:38 `spec.http[0].retries.retryOn` has ` reset`, which is neither a retry condition Envoy knows nor an HTTP status code (remove the spaces around commas)",
                "MC208 error 7:38 `spec.http[0].retries.retryOn` has `599`, which is neither a retry condition Envoy knows nor an HTTP status code",
                "MC208 error 7:38 `spec.http[0].retries.retryOn` has an empty condition (a stray comma); remove it",
            ]
        );
    }
}
