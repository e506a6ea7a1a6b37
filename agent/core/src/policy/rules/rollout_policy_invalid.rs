//! MC303 `rollout-policy-invalid`: a RolloutPolicy that cannot drive a rollout.
//!
//! **What it does.** Checks each `RolloutPolicy` (`meshcd.dev/v1alpha1`):
//!
//! - `steps` are canary shares in percent: integers in 1..=100, strictly increasing;
//! - `stepWeight` is in 1..=100 and `maxWeight` in `stepWeight`..=100 (1..=100 without one);
//! - `steps` and `stepWeight` are two ways to say the same thing: not both;
//! - `onFailure` is `rollback` or `pause`; `onInconclusive` is `pause`, `rollback` or
//!   `continue`;
//! - `bakeTime` is a duration: numbers with units `ms`, `s`, `m`, `h`, as in `500ms`, `30s`,
//!   `5m`, `1h30m`. These three are read into their types once, when the revision is loaded
//!   ([`RolloutPolicySpec::try_from`](crate::model::meshcd::RolloutPolicySpec)); the loader
//!   reports a value it cannot read under this rule, and the revision is refused (the value
//!   never falls back to the default);
//! - `analysis` ([`AnalysisSpec::problems`](crate::rollout::AnalysisSpec::problems), beside the
//!   typed analysis): `successRate.min` is in (0, 100]; each latency `percentile` in (0, 100);
//!   latency `max` (`latency[].max`, `latencyP50`..`latencyP99`), `interval` (above zero) and
//!   `probe.timeout` are durations; `confidence` is in [0.5, 1) and `compare.alpha` in
//!   (0, 0.5]; provider `prometheus` needs an `address`, provider `cloud-monitoring` an
//!   `address` (https, or http to loopback: it is sent a token) or a `project` (a Google Cloud
//!   project ID), and any `address` is an http(s) URL;
//!   provider `http` needs `probe.url` (an http(s) URL); `probe.expectStatus` are HTTP
//!   statuses and `probe.perInterval` is at least 1; `queries` are only read by providers
//!   `prometheus` and `cloud-monitoring`, and each needs a unique `name`, a `query`, and a
//!   `min` or a `max` (not above each other). A warning when provider `none` (time-based steps)
//!   is given conditions it will never read, and when `project` is set for a provider other
//!   than `cloud-monitoring`. Unknown fields of `analysis` are MC006's;
//! - `hooks`: each hook's `url` is an http(s) URL and its `timeout` a duration;
//! - a warning when the selector selects no route of the repository (see
//!   [`crate::policy::selector::selects`]); an empty selector selects nothing.
//!
//! **Why.** The rollout engine would have to guess: a step of 150 %, a step below the previous
//! one (traffic moving back mid-rollout) or an unknown failure action cannot be carried out
//! safely, so meshcd refuses the revision instead. A policy that selects nothing is legal but
//! almost always a typo in a route name or label, and the routes it was meant for then change
//! weights in one go, without canary steps.
//!
//! **Example.**
//!
//! ```yaml
//! apiVersion: meshcd.dev/v1alpha1
//! kind: RolloutPolicy
//! metadata: {name: canary}
//! spec:
//!   selector: {routes: [checkout]}
//!   steps: [10, 5, 100]     # MC303: 5 is not above 10
//!   bakeTime: 5 minutes     # MC303: use 5m
//!   onFailure: revert       # MC303: rollback or pause
//!   analysis:
//!     provider: prometheus  # MC303: no address
//!     successRate: {min: 0.99}
//!     latency: [{percentile: 100, max: 1 second}]  # MC303: percentile, max
//! ```

use crate::finding::{Finding, Severity};
use crate::model::meshcd::{Hook, RolloutPolicySpec};
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::selector::{is_empty, selects};
use crate::policy::{Context, Rule};
use crate::rollout::analysis::is_http_url;
use crate::rollout::duration;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC303",
    name: "rollout-policy-invalid",
    summary:
        "a RolloutPolicy has invalid steps, weights, actions, bake time, analysis or hooks, or \
         selects no route",
    check: Some(check),
};

/// True for a duration such as `30s`, `5m`, `1h30m`, `500ms` or `1.5h`: one or more numbers,
/// each followed by a unit (`ms`, `s`, `m`, `h`), without spaces (see
/// [`crate::rollout::duration::parse`]).
pub fn is_duration(text: &str) -> bool {
    duration::parse_field(text).is_ok()
}

fn check_policy(
    ctx: &Context<'_>,
    resource: &Resource,
    policy: &RolloutPolicySpec,
    out: &mut Vec<Finding>,
) {
    let spec = resource.spec_path();
    let mut error = |path: FieldPath, message: String| {
        out.push(resource.finding(&RULE, Severity::Error, &path, message));
    };

    let mut previous: Option<i64> = None;
    for (i, step) in policy.steps.iter().enumerate() {
        let path = spec.key("steps").index(i);
        if !(1..=100).contains(step) {
            error(
                path,
                format!("step {step} is not a canary share in percent; steps are in 1..=100"),
            );
        } else if let Some(before) = previous.filter(|before| step <= before) {
            error(
                path,
                format!(
                    "step {step} is not above the step before it ({before}); steps must strictly \
                     increase"
                ),
            );
        }
        previous = Some(*step);
    }

    let mut valid_step_weight = None;
    if let Some(step_weight) = policy.step_weight {
        let path = spec.key("stepWeight");
        if !policy.steps.is_empty() {
            error(
                path.clone(),
                "both `steps` and `stepWeight` are set; they are two ways to say the same thing, \
                 keep one"
                    .to_string(),
            );
        }
        if (1..=100).contains(&step_weight) {
            valid_step_weight = Some(step_weight);
        } else {
            error(
                path,
                format!("stepWeight {step_weight} is outside 1..=100 (percent per step)"),
            );
        }
    }
    if let Some(max_weight) = policy.max_weight {
        let min = valid_step_weight.unwrap_or(1);
        if !(min..=100).contains(&max_weight) {
            let why = match valid_step_weight {
                Some(step_weight) => {
                    format!("; it must be at least stepWeight ({step_weight}) and at most 100")
                }
                None => " (percent)".to_string(),
            };
            error(
                spec.key("maxWeight"),
                format!("maxWeight {max_weight} is outside {min}..=100{why}"),
            );
        }
    }

    if let Some(analysis) = &policy.analysis {
        for problem in analysis.problems(&spec.key("analysis")) {
            out.push(resource.finding(&RULE, problem.severity, &problem.field, problem.message));
        }
    }
    let hooks = spec.key("hooks");
    for (key, list) in [
        ("preStep", &policy.hooks.pre_step),
        ("postPromotion", &policy.hooks.post_promotion),
        ("onRollback", &policy.hooks.on_rollback),
    ] {
        for (i, hook) in list.iter().enumerate() {
            check_hook(resource, hook, &hooks.key(key).index(i), out);
        }
    }

    let path = spec.key("selector");
    let warning = if is_empty(&policy.selector) {
        Some("the selector is empty and selects no route; list `routes`, `hostnames` or `matchLabels`".to_string())
    } else if !ctx.routes.iter().any(|route| selects(policy, route)) {
        Some(
            "the selector selects no route in this repository, so the policy governs nothing \
             (a typo in a route name, hostname or label?)"
                .to_string(),
        )
    } else {
        None
    };
    if let Some(message) = warning {
        out.push(resource.finding(&RULE, Severity::Warning, &path, message));
    }
}

fn error_at(resource: &Resource, out: &mut Vec<Finding>, path: FieldPath, message: String) {
    out.push(resource.finding(&RULE, Severity::Error, &path, message));
}

fn check_hook(resource: &Resource, hook: &Hook, path: &FieldPath, out: &mut Vec<Finding>) {
    if !is_http_url(&hook.url) {
        let message = if hook.url.is_empty() {
            "the hook has no `url` (an http or https URL to POST to)".to_string()
        } else {
            format!("hook url `{}` is not an http or https URL", hook.url)
        };
        error_at(resource, out, path.key("url"), message);
    }
    if let Some(Err(error)) = hook.timeout.as_deref().map(duration::parse_field) {
        error_at(
            resource,
            out,
            path.key("timeout"),
            format!("hook timeout {error}"),
        );
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.of_kind(Kind::RolloutPolicy) {
        if let Spec::RolloutPolicy(policy) = &resource.spec {
            check_policy(ctx, resource, policy, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_duration, is_http_url};
    use crate::policy::{check_fixture, findings_of};

    fn mc303(yaml: &str) -> Vec<String> {
        findings_of("MC303", yaml)
    }

    const ROUTE: &str = "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.example.com]
meshes: [projects/p/locations/global/meshes/m]
labels: {team: shop}
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
---
";

    #[test]
    fn durations() {
        for ok in ["30s", "5m", "1h30m", "500ms", "1.5h", "0s", "2h0m5s"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in [
            "",
            "5",
            "5 minutes",
            "m5",
            "1.h",
            "-5s",
            "5d",
            "30S",
            "1h 30m",
        ] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn a_valid_policy_passes() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{hostnames: ['*.example.com']}}
  steps: [1, 10, 50, 100]
  bakeTime: 5m
  onFailure: rollback
  onInconclusive: continue
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: linear}}
spec:
  selector: {{matchLabels: {{team: shop}}}}
  stepWeight: 20
  maxWeight: 60
  bakeTime: 1h30m
"
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn steps_out_of_range_and_not_increasing() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [0, 10, 10, 5, 150]
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 17:11 step 0 is not a canary share in percent; steps are in 1..=100",
                "MC303 error 17:18 step 10 is not above the step before it (10); steps must strictly increase",
                "MC303 error 17:22 step 5 is not above the step before it (10); steps must strictly increase",
                "MC303 error 17:25 step 150 is not a canary share in percent; steps are in 1..=100",
            ]
        );
    }

    #[test]
    fn step_weight_with_steps_and_out_of_range_weights() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [50, 100]
  stepWeight: 20
  maxWeight: 10
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: linear}}
spec:
  selector: {{routes: [checkout]}}
  stepWeight: 0
  maxWeight: 101
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 18:15 both `steps` and `stepWeight` are set; they are two ways to say the same thing, keep one",
                "MC303 error 19:14 maxWeight 10 is outside 20..=100; it must be at least stepWeight (20) and at most 100",
                "MC303 error 26:15 stepWeight 0 is outside 1..=100 (percent per step)",
                "MC303 error 27:14 maxWeight 101 is outside 1..=100 (percent)",
            ]
        );
    }

    #[test]
    fn actions_and_bake_time() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  bakeTime: 5 minutes
  onFailure: revert
  onInconclusive: ignore
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 18:13 bakeTime `5 minutes` is not a duration; write a number and a unit, such as `30s`, `5m`, `1h30m` or `500ms`",
                "MC303 error 19:14 onFailure `revert` is not one of `rollback`, `pause`",
                "MC303 error 20:19 onInconclusive `ignore` is not one of `pause`, `rollback`, `continue`",
            ]
        );
    }

    #[test]
    fn selectors_that_select_nothing_are_warnings() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: typo}}
spec:
  selector: {{routes: [chekout], hostnames: ['*.example.org'], matchLabels: {{team: shop, tier: web}}}}
  steps: [10, 100]
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: empty}}
spec:
  steps: [10, 100]
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 warning 16:13 the selector selects no route in this repository, so the policy governs nothing (a typo in a route name, hostname or label?)",
                "MC303 warning 23:3 the selector is empty and selects no route; list `routes`, `hostnames` or `matchLabels`",
            ]
        );
    }
    #[test]
    fn a_full_analysis_and_hooks_pass() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  bakeTime: 30s
  analysis:
    provider: prometheus
    address: http://prometheus.monitoring:9090
    interval: 1s
    minRequests: 50
    confidence: 0.99
    successRate: {{min: 99.5}}
    latencyP99: {{max: 500ms}}
    latency:
    - {{percentile: 99.9, max: 1.5s}}
    queries:
    - name: error-budget
      query: sum(rate(app_errors_total{{backend=\"{{{{canary}}}}\"}}[{{{{window}}}}]))
      max: 0.5
    probe:
      url: http://127.0.0.1:10000/healthz
      expectStatus: [200, 204]
      timeout: 2s
      perInterval: 2
    compare: {{alpha: 0.05}}
  hooks:
    preStep:
    - {{name: gate, url: 'https://ci.example.com/gate', timeout: 10s}}
    postPromotion:
    - url: http://127.0.0.1:8080/done
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: timed}}
spec:
  selector: {{routes: [checkout]}}
  steps: [50, 100]
  analysis: {{provider: none}}
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: probed}}
spec:
  selector: {{routes: [checkout]}}
  steps: [50, 100]
  analysis: {{provider: http, probe: {{url: 'https://checkout.example.com/'}}}}
"
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn analysis_values_out_of_range() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis:
    provider: prometheus
    interval: 0s
    confidence: 1
    successRate: {{min: 0}}
    latencyP99: {{max: 5 seconds}}
    latency:
    - {{percentile: 100, max: 200ms}}
    - {{percentile: 95, max: fast}}
    compare: {{alpha: 0.9}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 19:5 provider `prometheus` needs an `address`, the Prometheus server's URL (such as `http://prometheus:9090`)",
                "MC303 error 20:15 interval `0s` must be longer than zero",
                "MC303 error 21:17 confidence 1 is outside [0.5, 1); it is a probability, such as 0.99",
                "MC303 error 22:24 successRate.min 0 is outside (0, 100]; it is a percentage of canary requests, such as 99",
                "MC303 error 23:23 latencyP99.max `5 seconds` is not a duration; write a number and a unit, such as `30s`, `5m`, `1h30m` or `500ms`",
                "MC303 error 25:20 latency percentile 100 is outside (0, 100); write 99 for p99, 99.9 for p99.9",
                "MC303 error 26:29 latency max `fast` is not a duration; write a number and a unit, such as `30s`, `5m`, `1h30m` or `500ms`",
                "MC303 error 27:22 compare.alpha 0.9 is outside (0, 0.5]; it is a significance level, such as 0.05",
            ]
        );
    }

    #[test]
    fn providers_need_their_address_or_probe_and_queries_need_prometheus() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: probe}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis:
    provider: http
    probe: {{timeout: 2 s, expectStatus: [200, 99], perInterval: 0}}
    queries:
    - {{name: errors, query: sum(x), max: 1}}
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: prom}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis:
    provider: prometheus
    address: prometheus:9090
    probe: {{url: 'ftp://example.com/'}}
    queries:
    - {{name: errors, query: sum(x)}}
    - {{name: errors, query: '', min: 2, max: 1}}
    - {{query: sum(y), max: 1}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 20:12 provider `http` needs `probe.url`, the URL meshcd sends its probes to",
                "MC303 error 20:22 probe.timeout `2 s` is not a duration; write a number and a unit, such as `30s`, `5m`, `1h30m` or `500ms`",
                "MC303 error 20:47 expectStatus 99 is not an HTTP status (100..=599)",
                "MC303 error 20:65 perInterval 0 sends no probe; it is at least 1",
                "MC303 error 22:7 queries are PromQL and only read by providers `prometheus` and `cloud-monitoring`, not `http`",
                "MC303 error 32:14 address `prometheus:9090` is not an http or https URL",
                "MC303 error 33:18 probe.url `ftp://example.com/` is not an http or https URL",
                "MC303 error 35:7 query `errors` has neither `min` nor `max`, so it can never fail; set one",
                "MC303 error 36:14 query name `errors` is used twice; names must be unique",
                "MC303 error 36:29 query `errors` has no `query` (the PromQL to run)",
                "MC303 error 36:38 query `errors` has min 2 above its max 1, so it always fails",
                "MC303 error 37:7 query 3 has no name; name it for progress and reports",
            ]
        );
    }

    #[test]
    fn cloud_monitoring_needs_a_project_or_an_address() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: nowhere}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis:
    provider: cloud-monitoring
    successRate: {{min: 99}}
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: bad-project}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis: {{provider: cloud-monitoring, project: projects/Shop}}
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: stray-project}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis: {{provider: prometheus, address: 'http://prometheus:9090', project: shop-prod}}
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: clear-text}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis: {{provider: cloud-monitoring, address: 'http://prometheus:9090'}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 19:5 provider `cloud-monitoring` needs a `project`, the Google Cloud project whose metrics it reads (or an `address`, the URL of a Prometheus-compatible API)",
                "MC303 error 28:51 project `projects/Shop` is not a Google Cloud project ID (lowercase letters, digits and `-`, such as `shop-prod`)",
                "MC303 warning 36:80 `project` is only read by provider `cloud-monitoring`, so provider `prometheus` ignores it",
                "MC303 error 44:51 provider `cloud-monitoring` sends a Google access token to its address, so `http://prometheus:9090` must be an https URL (plain http only to a loopback address)",
            ]
        );
    }

    #[test]
    fn cloud_monitoring_with_a_project_or_an_address_and_queries_passes() {
        let yaml = format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: cloud-run}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis:
    provider: cloud-monitoring
    project: shop-prod
    successRate: {{min: 99}}
    latencyP99: {{max: 500ms}}
    queries:
    - name: error-budget
      query: sum(rate(app_errors_total{{backend=\"{{{{canary}}}}\"}}[{{{{window}}}}]))
      max: 0.5
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: elsewhere}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis: {{provider: cloud-monitoring, address: 'https://monitoring.example.com/prometheus'}}
"
        );
        assert_eq!(mc303(&yaml), Vec::<String>::new());
        // `project` is a field of the analysis: no MC006 either.
        let findings = check_fixture(&yaml);
        assert!(
            !findings.iter().any(|f| f.starts_with("MC006 ")),
            "{findings:?}"
        );
    }

    #[test]
    fn provider_none_with_conditions_is_a_warning() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: timed}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis: {{provider: none, successRate: {{min: 99}}, latencyP99: {{max: 1s}}}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 warning 18:24 provider `none` reads no metrics, so `successRate`, `latencyP99` will never be checked; each step is promoted once its bake time has passed",
            ]
        );
    }

    #[test]
    fn hooks_need_http_urls_and_durations() {
        let findings = mc303(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  hooks:
    preStep:
    - {{url: 'ftp://example.com/', timeout: '5'}}
    postPromotion:
    - {{name: nourl}}
    onRollback:
    - {{name: slack, url: 'https://hooks.example.com/x', timeout: 10s}}
    - {{url: 'http://:80/x'}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC303 error 20:13 hook url `ftp://example.com/` is not an http or https URL",
                "MC303 error 20:44 hook timeout `5` is not a duration; write a number and a unit, such as `30s`, `5m`, `1h30m` or `500ms`",
                "MC303 error 22:7 the hook has no `url` (an http or https URL to POST to)",
                "MC303 error 25:13 hook url `http://:80/x` is not an http or https URL",
            ]
        );
    }

    #[test]
    fn a_misspelled_analysis_field_is_mc006_at_its_line() {
        let findings = check_fixture(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 100]
  analysis:
    provider: envoy
    sucessRate: {{min: 99}}
    latencyP99: {{max: 500ms}}
"
        ));
        let mc006: Vec<&String> = findings
            .iter()
            .filter(|f| f.starts_with("MC006 "))
            .collect();
        assert_eq!(mc006.len(), 1, "{findings:?}");
        assert!(
            mc006[0].starts_with("MC006 warning 20:5 ")
                && mc006[0].contains("spec.analysis.sucessRate"),
            "{}",
            mc006[0]
        );
        assert!(
            !findings.iter().any(|f| f.starts_with("MC303 ")),
            "{findings:?}"
        );
    }

    #[test]
    fn urls() {
        for ok in [
            "http://a",
            "https://a.b:9090/x?y",
            "http://user@host/",
            "http://[::1]:80/",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "a.b",
            "ftp://a",
            "http://",
            "http:///x",
            "http://:80",
            "https://a b",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
