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
//!   `5m`, `1h30m`;
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
//! ```

use crate::finding::{Finding, Severity};
use crate::model::meshcd::RolloutPolicySpec;
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::selector::{is_empty, selects};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC303",
    name: "rollout-policy-invalid",
    summary:
        "a RolloutPolicy has invalid steps, weights, actions or bake time, or selects no route",
    check: Some(check),
};

const ON_FAILURE: &[&str] = &["rollback", "pause"];
const ON_INCONCLUSIVE: &[&str] = &["pause", "rollback", "continue"];

/// True for a duration such as `30s`, `5m`, `1h30m`, `500ms` or `1.5h`: one or more numbers,
/// each followed by a unit (`ms`, `s`, `m`, `h`).
pub fn is_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(fraction.len());
            if digits == 0 {
                return false;
            }
            rest = &fraction[digits..];
        }
        rest = match ["ms", "h", "m", "s"]
            .iter()
            .find_map(|unit| rest.strip_prefix(unit))
        {
            Some(after) => after,
            None => return false,
        };
    }
    true
}

fn one_of(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
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

    if let Some(action) = policy.on_failure.as_deref() {
        if !ON_FAILURE.contains(&action) {
            error(
                spec.key("onFailure"),
                format!("onFailure `{action}` is not one of {}", one_of(ON_FAILURE)),
            );
        }
    }
    if let Some(action) = policy.on_inconclusive.as_deref() {
        if !ON_INCONCLUSIVE.contains(&action) {
            error(
                spec.key("onInconclusive"),
                format!(
                    "onInconclusive `{action}` is not one of {}",
                    one_of(ON_INCONCLUSIVE)
                ),
            );
        }
    }
    if let Some(bake_time) = policy.bake_time.as_deref() {
        if !is_duration(bake_time) {
            error(
                spec.key("bakeTime"),
                format!(
                    "bakeTime `{bake_time}` is not a duration; write a number and a unit, such as \
                     `30s`, `5m`, `1h30m` or `500ms`"
                ),
            );
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

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.of_kind(Kind::RolloutPolicy) {
        if let Spec::RolloutPolicy(policy) = &resource.spec {
            check_policy(ctx, resource, policy, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_duration;
    use crate::policy::findings_of;

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
}
