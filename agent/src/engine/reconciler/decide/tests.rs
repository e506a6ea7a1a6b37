//! The reconcile's decisions on small revisions, without I/O.

use chrono::TimeZone;
use meshcd_core::plan::plan;
use meshcd_core::{load, Severity, SourceFile};

use super::*;
use crate::engine::rollouts::view::RolloutView;
use crate::engine::rollouts::RolloutEvent;

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn revision(files: &[(&str, &str)]) -> Loaded {
    let loaded = load(
        files
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect(),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.findings);
    loaded
}

fn vs(name: &str, v1: i64, v2: i64) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n  \
         namespace: prod\nspec:\n  hosts: [{name}]\n  http:\n  - route:\n    - destination: \
         {{host: {name}, subset: v1}}\n      weight: {v1}\n    - destination: {{host: {name}, \
         subset: v2}}\n      weight: {v2}\n"
    )
}

/// A deny window on every route, open for `duration` from midnight UTC every day.
fn deny_window(duration: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1\nkind: ChangeWindow\nmetadata: {{name: freeze}}\n\
         spec: {{kind: deny, schedule: '0 0 * * *', duration: {duration}, timeZone: UTC}}\n"
    )
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, hour, 30, 0)
        .single()
        .expect("time")
}

struct Case {
    desired: Loaded,
    plan: Plan,
}

/// `web` at 90/10 desired, 100/0 applied (a weight move), plus `extra` files in the desired
/// revision.
fn weight_move(extra: &[(&str, &str)]) -> Case {
    let route = vs("web", 90, 10);
    let mut files = vec![("web.yaml", route.as_str())];
    files.extend_from_slice(extra);
    let desired = revision(&files);
    let applied = revision(&[("web.yaml", &vs("web", 100, 0))]);
    let plan = plan(&desired, &applied);
    assert!(plan.changes[0].rollout.is_some(), "{:#?}", plan.changes);
    Case { desired, plan }
}

fn admission<'a>(
    case: &'a Case,
    windows: &'a Windows,
    view: &'a View,
    now: DateTime<Utc>,
) -> Admission<'a> {
    Admission {
        commit: COMMIT,
        plan: &case.plan,
        plan_errors: &[],
        loaded: &case.desired,
        windows,
        rollouts: view,
        now,
    }
}

fn rollout_of(
    route: &str,
    phase: meshcd_core::rollout::machine::Phase,
    pending: bool,
) -> RolloutView {
    let target: meshcd_core::plan::WeightMap = [("v1".to_string(), 90), ("v2".to_string(), 10)]
        .into_iter()
        .collect();
    rollout_to(route, phase, pending, target)
}

fn rollout_to(
    route: &str,
    phase: meshcd_core::rollout::machine::Phase,
    pending: bool,
    target: meshcd_core::plan::WeightMap,
) -> RolloutView {
    RolloutView {
        event: RolloutEvent {
            route: route.parse().expect("a route id"),
            commit: COMMIT.to_string(),
            policy: "default".to_string(),
            phase,
            step: 1,
            steps: 3,
            canary: "v2".to_string(),
            canary_weight: 1,
            weights: target.clone(),
            live: !pending,
            bake_remaining_ms: None,
            conditions: Vec::new(),
            reason: Some("step 1 failed".to_string()),
            last: None,
            waiting: None,
        },
        splits: Vec::new(),
        want: target.clone(),
        target,
        phase,
        active: !phase.is_terminal(),
        pending_apply: pending,
        want_generation: 1,
    }
}

#[test]
fn a_plan_policy_error_refuses_the_commit() {
    let case = weight_move(&[]);
    let windows = Windows::from_loaded(&case.desired);
    let view = View::default();
    let error = meshcd_core::Finding {
        rule: "rego:main.plan.deny",
        name: "deny",
        severity: Severity::Error,
        location: meshcd_core::Location {
            file: "policies/plan.rego".to_string(),
            pos: meshcd_core::Pos { line: 3, column: 1 },
        },
        field: None,
        message: "too much traffic moves".to_string(),
        snippet: None,
    };
    let facts = Admission {
        plan_errors: std::slice::from_ref(&error),
        ..admission(&case, &windows, &view, at(12))
    };
    let Some(Hold::Refused { message }) = admit(&facts) else {
        panic!("not refused: {:?}", admit(&facts));
    };
    assert!(
        message.starts_with("0123456 refused: 1 plan policy error(s)"),
        "{message}"
    );
}

#[test]
fn a_closed_window_holds_the_commit_until_it_opens() {
    let window = deny_window("2h");
    let case = weight_move(&[("freeze.yaml", &window)]);
    let windows = Windows::from_loaded(&case.desired);
    let view = View::default();
    // 00:30: the freeze (00:00–02:00) holds the change for 90 minutes, capped at the recheck.
    let held = admit(&admission(&case, &windows, &view, at(0)));
    let Some(Hold::Waiting {
        message,
        wait,
        changes,
    }) = held
    else {
        panic!("not held: {held:?}");
    };
    assert!(message.contains("waits for a change window"), "{message}");
    assert_eq!(wait, WINDOW_RECHECK);
    assert_eq!(changes, 1);
    // 12:30: the window is open.
    assert_eq!(admit(&admission(&case, &windows, &view, at(12))), None);
}

#[test]
fn a_rollout_under_way_is_not_held_whole_by_a_window() {
    let window = deny_window("2h");
    let case = weight_move(&[("freeze.yaml", &window)]);
    let windows = Windows::from_loaded(&case.desired);
    let change = &case.plan.changes[0];
    let route = change.id().to_string();
    let last = change
        .rollout
        .as_ref()
        .and_then(|r| r.steps.last())
        .cloned();
    let progressing = |target| View {
        generation: 1,
        rollouts: vec![rollout_to(
            &route,
            meshcd_core::rollout::machine::Phase::Progressing,
            false,
            target,
        )],
    };
    // The rollout moves towards the weights this commit asks for: it goes on, step by step.
    let view = progressing(last.expect("a last step"));
    assert_eq!(admit(&admission(&case, &windows, &view, at(0))), None);
    // A rollout towards other weights does not carry this commit: the window holds it.
    let view = progressing(
        [("v1".to_string(), 50), ("v2".to_string(), 50)]
            .into_iter()
            .collect(),
    );
    assert!(admit(&admission(&case, &windows, &view, at(0))).is_some());
}

fn outlook<'a>(plan: &'a Plan, view: &'a View, recorded: bool, self_heal: bool) -> Outlook<'a> {
    Outlook {
        commit: COMMIT,
        target: "envoy:127.0.0.1:9901",
        plan,
        kept: &[],
        recorded,
        self_heal,
        rollouts: view,
    }
}

#[test]
fn a_recorded_commit_the_target_holds_is_unchanged() {
    let empty = plan(&revision(&[]), &revision(&[]));
    let view = View::default();
    let Decision::Unchanged { message } = decide(&outlook(&empty, &view, true, false)) else {
        panic!("not unchanged");
    };
    assert_eq!(message, "0123456 is live");
}

#[test]
fn a_rolled_back_route_is_said_to_be_held() {
    let empty = plan(&revision(&[]), &revision(&[]));
    let view = View {
        generation: 1,
        rollouts: vec![rollout_of(
            "VirtualService/prod/web",
            meshcd_core::rollout::machine::Phase::RolledBack,
            false,
        )],
    };
    let Decision::Unchanged { message } = decide(&outlook(&empty, &view, true, false)) else {
        panic!("not unchanged");
    };
    assert!(
        message.ends_with("; VirtualService/prod/web held at its earlier weights (step 1 failed)"),
        "{message}"
    );
}

#[test]
fn drift_is_reported_without_self_heal_and_corrected_with_it() {
    let case = weight_move(&[]);
    let view = View::default();
    let Decision::DriftDetected { plan, message } =
        decide(&outlook(&case.plan, &view, true, false))
    else {
        panic!("no drift");
    };
    assert_eq!(plan.changes.len(), 1);
    assert!(message.contains("selfHeal is off, left alone"), "{message}");
    assert_eq!(
        decide(&outlook(&case.plan, &view, true, true)),
        Decision::Apply {
            plan: case.plan.clone(),
            drift: true,
            write: true
        }
    );
}

#[test]
fn a_new_commit_is_applied_and_an_unwritten_one_only_recorded() {
    let case = weight_move(&[]);
    let view = View::default();
    assert_eq!(
        decide(&outlook(&case.plan, &view, false, false)),
        Decision::Apply {
            plan: case.plan.clone(),
            drift: false,
            write: true
        }
    );
    // The target already holds the commit, but the store has no record of it.
    let empty = plan(&revision(&[]), &revision(&[]));
    assert_eq!(
        decide(&outlook(&empty, &view, false, false)),
        Decision::Apply {
            plan: empty.clone(),
            drift: false,
            write: false
        }
    );
}

#[test]
fn weights_waiting_to_be_published_are_written_even_without_changes() {
    let empty = plan(&revision(&[]), &revision(&[]));
    let view = View {
        generation: 2,
        rollouts: vec![rollout_of(
            "VirtualService/prod/web",
            meshcd_core::rollout::machine::Phase::Progressing,
            true,
        )],
    };
    assert_eq!(
        decide(&outlook(&empty, &view, true, false)),
        Decision::Apply {
            plan: empty.clone(),
            drift: false,
            write: true
        }
    );
}
