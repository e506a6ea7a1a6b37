//! MC304 `change-window-invalid`: a ChangeWindow that cannot say when routes may change.
//!
//! **What it does.** Checks each `ChangeWindow` (`meshcd.dev/v1alpha1`):
//!
//! - `kind` is `allow` or `deny`;
//! - `schedule` is a cron schedule as Argo CD reads it: 5 fields `minute hour day-of-month
//!   month day-of-week` (day-of-week `0` and `7` are Sunday), or 6 with seconds first, or a
//!   descriptor such as `@daily` (see [`crate::policy::windows::schedule`]); a warning when it
//!   never fires (`0 0 30 2 *`);
//! - `duration` is a duration such as `8h`, `62h` or `1h30m`; a warning when it is zero: an
//!   allow window that lasts 0 is never open, so the routes it selects never change, and a deny
//!   window that lasts 0 holds nothing;
//! - `timeZone` is an IANA time zone name (`Europe/Paris`, `America/New_York`, `UTC`),
//!   spelled as the tz database spells it; the message suggests the closest known name;
//! - a warning when a non-empty selector selects no route of the repository (an empty selector
//!   selects every route).
//!
//! **Why.** meshcd cannot tell whether an invalid window is active, so it fails closed: an
//! invalid deny window holds the routes it selects forever, an invalid allow window never lets
//! them change (see [`crate::policy::windows`]). A window that selects nothing is legal but is
//! almost always a typo, and the routes it was meant to freeze then change at any time.
//!
//! **Example.**
//!
//! ```yaml
//! apiVersion: meshcd.dev/v1alpha1
//! kind: ChangeWindow
//! metadata: {name: weekend-freeze}
//! spec:
//!   kind: block                 # MC304: allow or deny
//!   schedule: "0 18 * * FRIDAY" # MC304: day-of-week names have three letters (FRI)
//!   duration: 2 days            # MC304: write 48h
//!   timeZone: Europe/Pariss     # MC304: did you mean Europe/Paris?
//!   selector: {routes: [chekout]}  # MC304 (warning): no route is called chekout
//! ```

use crate::finding::{Finding, Severity};
use crate::model::meshcd::{ChangeWindowSpec, WindowKind};
use crate::model::{Kind, Resource, Spec};
use crate::policy::windows::select::Selection;
use crate::policy::windows::{schedule, zone};
use crate::policy::{Context, Rule};
use crate::rollout::duration;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC304",
    name: "change-window-invalid",
    summary: "a ChangeWindow has an invalid kind, schedule, duration or time zone, or selects \
              no route",
    check: Some(check),
};

const DURATION_HINT: &str = "write a number and a unit, such as `30m`, `8h`, `62h` or `1h30m`";

fn check_window(
    ctx: &Context<'_>,
    resource: &Resource,
    window: &ChangeWindowSpec,
    out: &mut Vec<Finding>,
) {
    let spec = resource.spec_path();
    let mut report = |severity: Severity, key: &str, message: String| {
        out.push(resource.finding(&RULE, severity, &spec.key(key), message));
    };

    let kind = WindowKind::parse(&window.kind);
    if kind.is_none() {
        let message = if window.kind.is_empty() {
            "the window has no `kind`; write `allow` (changes only inside the window) or `deny` \
             (no changes inside it)"
                .to_string()
        } else {
            format!("kind `{}` is neither `allow` nor `deny`", window.kind)
        };
        report(Severity::Error, "kind", message);
    }

    if window.schedule.trim().is_empty() {
        report(
            Severity::Error,
            "schedule",
            "the window has no `schedule`; write a cron schedule such as `0 18 * * 5` (Fridays \
             at 18:00)"
                .to_string(),
        );
    } else {
        match schedule::parse(&window.schedule) {
            Err(problem) => report(
                Severity::Error,
                "schedule",
                format!(
                    "schedule `{}` is not a cron schedule: {problem}",
                    window.schedule
                ),
            ),
            Ok(parsed) if !parsed.fires() => report(
                Severity::Warning,
                "schedule",
                format!(
                    "schedule `{}` never fires (no date matches it), so the window is never \
                     active",
                    window.schedule
                ),
            ),
            Ok(_) => {}
        }
    }

    if window.duration.trim().is_empty() {
        report(
            Severity::Error,
            "duration",
            format!(
                "the window has no `duration`, how long each occurrence lasts; {DURATION_HINT}"
            ),
        );
    } else {
        match duration::parse(&window.duration)
            .filter(|_| window.duration == window.duration.trim())
        {
            None => report(
                Severity::Error,
                "duration",
                format!(
                    "duration `{}` is not a duration; {DURATION_HINT}",
                    window.duration
                ),
            ),
            Some(length) if length.is_zero() => {
                let message = match kind {
                    Some(WindowKind::Deny) => {
                        "the deny window lasts 0, so it never holds anything; give it a duration"
                    }
                    _ => {
                        "the allow window lasts 0, so it is never open and the routes it selects \
                         never change; give it a duration"
                    }
                };
                report(Severity::Warning, "duration", message.to_string());
            }
            Some(_) => {}
        }
    }

    if let Some(name) = &window.time_zone {
        if let Err(problem) = zone::parse(name) {
            report(Severity::Error, "timeZone", problem);
        }
    }

    let selection = Selection::new(&window.selector);
    if !selection.is_every_route() && !ctx.routes.iter().any(|route| selection.selects(route)) {
        report(
            Severity::Warning,
            "selector",
            "the selector selects no route in this repository, so the window governs nothing \
             (a typo in a route name, hostname, label or mesh?)"
                .to_string(),
        );
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.of_kind(Kind::ChangeWindow) {
        if let Spec::ChangeWindow(window) = &resource.spec {
            check_window(ctx, resource, window, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{check_fixture, findings_of};

    fn mc304(yaml: &str) -> Vec<String> {
        findings_of("MC304", yaml)
    }

    const ROUTE: &str = "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.shop.example.com]
meshes: [projects/p/locations/global/meshes/prod]
labels: {tier: critical}
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
---
";

    #[test]
    fn valid_windows_pass() {
        let findings = mc304(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: weekend-freeze}}
spec:
  kind: deny
  schedule: '0 18 * * 5'
  duration: 62h
  timeZone: Europe/Paris
  selector:
    routes: [checkout]
    hostnames: ['*.shop.example.com']
    matchLabels: {{tier: critical}}
    meshes: [prod]
---
apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: business-hours}}
spec:
  kind: allow
  schedule: '0 0 9 * * MON-FRI'
  duration: 8h30m
---
apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: prod-mesh}}
spec:
  kind: deny
  schedule: '@daily'
  duration: 1h
  timeZone: America/New_York
  selector: {{meshes: [projects/p/locations/global/meshes/prod]}}
"
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn kind_schedule_duration_and_zone_errors() {
        let findings = mc304(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: freeze}}
spec:
  kind: block
  schedule: '0 18 * * FRIDAY'
  duration: 2 days
  timeZone: Europe/Pariss
---
apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: empty}}
spec:
  timeZone: new york
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC304 error 16:9 kind `block` is neither `allow` nor `deny`",
                "MC304 error 17:13 schedule `0 18 * * FRIDAY` is not a cron schedule: day-of-week `FRIDAY` is not a value of 0-7, or a name such as `SUN`",
                "MC304 error 18:13 duration `2 days` is not a duration; write a number and a unit, such as `30m`, `8h`, `62h` or `1h30m`",
                "MC304 error 19:13 unknown time zone `Europe/Pariss`; did you mean `Europe/Paris`?",
                "MC304 error 25:3 the window has no `duration`, how long each occurrence lasts; write a number and a unit, such as `30m`, `8h`, `62h` or `1h30m`",
                "MC304 error 25:3 the window has no `kind`; write `allow` (changes only inside the window) or `deny` (no changes inside it)",
                "MC304 error 25:3 the window has no `schedule`; write a cron schedule such as `0 18 * * 5` (Fridays at 18:00)",
                "MC304 error 25:13 unknown time zone `new york`; did you mean `America/New_York`?",
            ]
        );
    }

    #[test]
    fn zero_durations_and_schedules_that_never_fire_are_warnings() {
        let findings = mc304(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: never-open}}
spec:
  kind: allow
  schedule: '0 9 * * 1-5'
  duration: 0s
---
apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: no-op}}
spec:
  kind: deny
  schedule: '0 0 30 2 *'
  duration: 0m
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC304 warning 18:13 the allow window lasts 0, so it is never open and the routes it selects never change; give it a duration",
                "MC304 warning 25:13 schedule `0 0 30 2 *` never fires (no date matches it), so the window is never active",
                "MC304 warning 26:13 the deny window lasts 0, so it never holds anything; give it a duration",
            ]
        );
    }

    #[test]
    fn a_selector_that_selects_nothing_is_a_warning() {
        let findings = mc304(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: typo}}
spec:
  kind: deny
  schedule: '0 18 * * 5'
  duration: 62h
  selector: {{routes: [chekout], meshes: [staging], matchLabels: {{tier: web}}}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC304 warning 19:13 the selector selects no route in this repository, so the window governs nothing (a typo in a route name, hostname, label or mesh?)",
            ]
        );
    }

    #[test]
    fn a_misspelled_field_is_mc006_and_a_wrong_type_mc005() {
        let findings = check_fixture(&format!(
            "{ROUTE}apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: w}}
spec:
  kind: deny
  schedule: '0 18 * * 5'
  duration: 62h
  timezone: Europe/Paris
---
apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {{name: v}}
spec:
  kind: deny
  schedule: [0, 18]
"
        ));
        assert!(
            findings
                .iter()
                .any(|f| f.starts_with("MC006 warning 19:3 ") && f.contains("spec.timezone")),
            "{findings:?}"
        );
        assert!(
            findings
                .iter()
                .any(|f| f.starts_with("MC005 error 26:13 ") && f.contains("spec.schedule")),
            "{findings:?}"
        );
        assert!(
            !findings.iter().any(|f| f.starts_with("MC304 ")),
            "{findings:?}"
        );
    }
}
