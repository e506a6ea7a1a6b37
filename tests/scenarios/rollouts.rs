//! Step-by-step rollouts with real parts: the real `meshcd run` follows a real Git repository and
//! drives its own Envoy, two loopback backends (`target`, the stable one, and `target-green`,
//! the canary) answer behind it, and the test sends a bounded load through Envoy's listener
//! ([`Load`]: a fixed rate from worker threads, counted per backend, stopped at the end).
//!
//! Every scenario starts from the route at 100/0 and a RolloutPolicy selecting it, commits a
//! weight move, and watches the rollout through `GET /api/v1/rollouts`, what Envoy serves
//! (`/config_dump`), what the load saw, and `meshcd history`:
//! 1. a healthy canary is promoted through every step (10, 50, 100 %);
//! 2. a canary answering 503 is rolled back at its first step (failed requests counted);
//! 3. a latency breach rolls back;
//! 4. a quiet canary is inconclusive and follows `onInconclusive` (pause, then an operator's
//!    promote; rollback);
//! 5. `kill -9` of the daemon mid-step: a restarted daemon adopts the orphaned Envoy, resumes the
//!    step (and says so), and an abort rolls back to the starting weights;
//! 6. analysis through a real Prometheus scraping the daemon's Envoy (a 503 canary rolled back,
//!    a healthy one promoted);
//! 7. a pre-step hook answering 503 halts the rollout, and the hook got the rollout's facts;
//! 8. a new commit during a rollout: the same final weights let it go on, other ones supersede
//!    it and a new rollout starts from the current step's weights.
//!
//! Scenarios run one at a time (a lock). Waits are bounded polls; bakes are 1–4 s. Figures
//! (failed requests, time to rollback) are printed, never asserted as times; the bounds on
//! failed requests follow from the design (see [`failed_request_bound`]). Envoy comes from
//! `MESHCD_ENVOY` (or `.venv`), Prometheus from `MESHCD_PROMETHEUS` or `PATH`: without them
//! these tests fail, never skip.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::daemon::*;
use crate::common::prometheus::Prometheus;
use serde_json::{json, Value};

/// The route every scenario rolls out.
const ROUTE: &str = "target-route";
/// Requests a second of the load.
const RATE: f64 = 200.0;
/// The analysis interval of every policy here.
const INTERVAL: Duration = Duration::from_millis(500);

/// A RolloutPolicy selecting [`ROUTE`]; `spec` holds the rest of its spec, indented by two.
fn policy(spec: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [{ROUTE}]}}
{spec}"
    )
}

/// Steps 10, 50, 100 judged on Envoy's stats: at least 20 canary requests a step, a success
/// rate of 99 %, read every 500 ms; `rest` adds lines (indented by two).
fn envoy_policy(bake: &str, rest: &str) -> String {
    policy(&format!(
        "  steps: [10, 50, 100]
  bakeTime: {bake}
  analysis:
    provider: envoy
    interval: 500ms
    minRequests: 20
    successRate: {{min: 99}}
{rest}"
    ))
}

fn weights_json(target: u64, green: u64) -> Value {
    json!({"target": target, "target-green": green})
}

fn served(s: &Setup) -> Option<BTreeMap<String, u64>> {
    served_weights(s.admin_port)
}

fn served_is(s: &Setup, target: u64, green: u64) -> bool {
    served(s) == Some(weights(&[("target", target), ("target-green", green)]))
}

/// Polls the rollout of [`ROUTE`] every [`TICK`] until `check` holds; fails after `timeout`
/// (or when the daemon exits) with the last rollout seen, the status and the daemon's log.
fn wait_rollout(
    s: &Setup,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    let mut last = None;
    loop {
        if let Some(status) = s.daemon.exited_early() {
            s.daemon.fail(&format!(
                "meshcd exited ({status}) while waiting for {what}; last rollout: {last:#?}"
            ));
        }
        last = s.daemon.rollout(ROUTE);
        if let Some(rollout) = last.as_ref().filter(|r| check(r)) {
            return rollout.clone();
        }
        if start.elapsed() >= timeout {
            s.daemon.fail(&format!(
                "timed out after {timeout:?} waiting for {what}; last rollout: {last:#?}"
            ));
        }
        std::thread::sleep(TICK);
    }
}

/// Waits until Envoy serves `target`/`green` for the route.
fn wait_served(s: &Setup, target: u64, green: u64) {
    s.daemon
        .wait_until(&format!("Envoy serving {target}/{green}"), |_| {
            served_is(s, target, green)
        });
}

/// Asserts that the canary gets no request any more: lets the requests in flight end (100 more
/// requests), then checks that 200 further ones all avoid it, at the backend and at the client.
fn assert_canary_quiet(s: &Setup, load: &Load, when: &str) {
    let settled = load.wait_for_more(&load.counts(), 100);
    let green_before = s.green.requests();
    let after = load.wait_for_more(&settled, 200).since(&settled);
    assert_eq!(
        s.green.requests(),
        green_before,
        "{when}: the canary still got requests ({after:?})"
    );
    assert_eq!(
        after.reached("target-green"),
        0,
        "{when}: the client still saw canary answers: {after:?}"
    );
    assert!(
        after.reached("target") > 0,
        "{when}: no answers from the stable backend: {after:?}"
    );
}

/// A loose upper bound on the client requests a canary failing every request may fail before a
/// fail-fast rollback, from the design (`agent/core/src/rollout/judge.rs`, `book.rs`): the
/// step's counters are read when its weights go live and every analysis interval after; a
/// canary failing every request fails the step at the first read that sees two failures
/// (one-sided exact Clopper-Pearson bound at confidence 0.99, success rate 99 %); the rollback is a
/// weights-only publish. So the canary serves about one interval plus a publish (plus
/// `metrics_lag`, e.g. a Prometheus scrape interval). The bound allows 4 intervals, the lag
/// twice and 1 s of publishing and scheduling slack at the canary's `share` of `rate`, and twice
/// that for chance.
fn failed_request_bound(rate: f64, share: f64, metrics_lag: Duration) -> u64 {
    let window = 4.0 * INTERVAL.as_secs_f64() + 2.0 * metrics_lag.as_secs_f64() + 1.0;
    (2.0 * rate * share * window).ceil() as u64
}

/// The audit entries with `action`.
fn actions<'e>(history: &'e [Value], action: &str) -> Vec<&'e Value> {
    history.iter().filter(|e| e["action"] == action).collect()
}

fn message(entry: &Value) -> &str {
    entry["message"].as_str().unwrap_or_default()
}

fn short(commit: &str) -> &str {
    &commit[..7]
}

// ---------------------------------------------------------------------------------------------
// Scenario 1.

/// A healthy canary walks 10 → 50 → 100 % and is promoted; the test sees every step through
/// the API, Envoy serves each step's weights, and the canary gets traffic at each share.
#[test]
fn a_healthy_canary_is_promoted_through_every_step() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with(100, 0, &envoy_policy("2s", ""), "");
    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);

    let commit = s.commit_route(0, 100);
    let committed = Instant::now();
    let mut marks: Vec<(u64, LoadCounts)> = Vec::new();
    for (step, (target, green)) in [(1u64, (90u64, 10u64)), (2, (50, 50)), (3, (0, 100))] {
        let r = wait_rollout(&s, &format!("step {step} live"), WAIT, |r| {
            r["commit"] == commit.as_str()
                && r["phase"] == "progressing"
                && r["step"] == step
                && r["live"] == true
        });
        let counts = load.counts();
        assert_eq!(r["steps"], 3, "{r:#}");
        assert_eq!(r["canary"], "target-green", "{r:#}");
        assert_eq!(r["canaryWeight"], green, "step {step}: {r:#}");
        assert_eq!(
            r["weights"],
            weights_json(target, green),
            "step {step}: {r:#}"
        );
        assert_eq!(r["policy"], "canary", "{r:#}");
        if !served_is(&s, target, green) {
            s.daemon.fail(&format!(
                "step {step} is live but Envoy serves {:?}: {r:#}",
                served(&s)
            ));
        }
        println!(
            "step {step} live after {:?}: canary {green}%, bake left {} ms",
            committed.elapsed(),
            r["bakeRemainingMs"]
        );
        marks.push((green, counts));
    }
    let r = wait_rollout(&s, "promotion", WAIT, |r| {
        r["phase"] != "progressing" || r["step"] != 3
    });
    let promoted_after = committed.elapsed();
    assert_eq!(r["phase"], "promoted", "{r:#}");
    assert_eq!(r["canaryWeight"], 100, "{r:#}");
    assert!(
        r["conditions"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["name"] == "success-rate" && c["ok"] == true)),
        "the last step's success rate was met: {r:#}"
    );
    assert!(
        served_is(&s, 0, 100),
        "promoted: Envoy serves the commit's weights, not {:?}",
        served(&s)
    );
    let at_promotion = load.counts();
    let metrics = s.daemon.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("meshcd_rollout_phase{")
                && l.contains("target-route")
                && l.contains("phase=\"promoted\"")
                && l.ends_with(" 1")),
        "meshcd_rollout_phase says promoted:\n{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("meshcd_rollout_canary_weight_percent{") && l.ends_with(" 100")),
        "meshcd_rollout_canary_weight_percent says 100:\n{metrics}"
    );

    // Traffic followed the steps: each intermediate step's window reached both backends, at
    // about the step's share (loose: the windows' edges come from polling).
    for (i, (green, low, high)) in [(10u64, 0.02, 0.25), (50, 0.30, 0.70)].iter().enumerate() {
        let window = marks[i + 1].1.since(&marks[i].1);
        let share = window.share("target-green");
        println!(
            "canary at {green}%: {} requests, {:.1}% to the canary",
            window.total(),
            share * 100.0
        );
        assert!(
            window.reached("target-green") > 0 && window.reached("target") > 0,
            "at {green}% both backends get traffic: {window:?}"
        );
        assert!(
            (*low..=*high).contains(&share),
            "at {green}% the canary's share was {share:.3}: {window:?}"
        );
    }
    let last = at_promotion.since(&marks[2].1);
    assert!(
        last.reached("target-green") > 0,
        "at 100% the canary gets traffic: {last:?}"
    );
    let total = load.stop();
    println!(
        "healthy rollout: promoted {promoted_after:?} after the commit; {} requests, {} failed",
        total.total(),
        total.failed()
    );
    assert_eq!(
        total.failed(),
        0,
        "a healthy rollout fails no client request: {total:?}"
    );

    s.shut_down();
    let history = s.history();
    let promoted = entries(&history, "rollout-promoted", &commit);
    assert_eq!(promoted.len(), 1, "{history:#?}");
    assert!(
        message(promoted[0]).contains("3 step(s)"),
        "{:#}",
        promoted[0]
    );
    assert!(
        actions(&history, "rollout-rolled-back").is_empty(),
        "{history:#?}"
    );
    println!(
        "a_healthy_canary_is_promoted_through_every_step: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Scenarios 2 and 3.

/// What a fail-fast rollback looked like.
struct Rollback {
    rollout: Value,
    commit: String,
    load: Load,
    /// From the commit to the API saying rolled-back.
    after_commit: Duration,
    /// From the commit to the API first showing step 1 live, when a poll saw it.
    live_after: Option<Duration>,
}

impl Rollback {
    /// The figures of a rollback, in one line: times as the test measured them (API polls
    /// every [`TICK`]), and how long the canary answered clients (the load's first and last
    /// canary answers).
    fn figures(&self, counts: &LoadCounts) -> String {
        let canary = counts.backends.get("target-green");
        let served_for = match canary.and_then(|a| Some(a.last? - a.first?)) {
            Some(d) => format!("{d:?}"),
            None => "-".into(),
        };
        let live_to_rolled_back = match self.live_after {
            Some(live) => format!("{:?}", self.after_commit.saturating_sub(live)),
            None => "- (step 1 live not seen by a poll)".into(),
        };
        format!(
            "rolled back {:?} after the commit, {live_to_rolled_back} after step 1 was seen \
             live; the canary answered clients for {served_for} ({} requests; {} of {} client \
             requests failed in all)",
            self.after_commit,
            counts.reached("target-green"),
            counts.failed(),
            counts.total(),
        )
    }
}

/// Under load with a canary already broken by `break_canary`, commits 0/100 (`commit` makes
/// the commit), waits for the rollback, and checks what every rollback must hold: rolled back
/// at step 1, Envoy back at 100/0, the canary quiet afterwards, and the commit not tried again
/// on a reconcile.
fn roll_back_under_load(
    s: &Setup,
    break_canary: impl FnOnce(&Setup),
    commit: impl FnOnce(&Setup) -> String,
    timeout: Duration,
) -> Rollback {
    break_canary(s);
    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);
    let commit = commit(s);
    let committed = Instant::now();
    let mut live_after = None;
    let rollout = wait_rollout(s, "the rollback", timeout, |r| {
        if r["commit"] == commit.as_str() && r["live"] == true && r["phase"] == "progressing" {
            live_after.get_or_insert_with(|| committed.elapsed());
        }
        r["commit"] == commit.as_str()
            && matches!(
                r["phase"].as_str(),
                Some("rolled-back" | "promoted" | "paused")
            )
    });
    let after_commit = committed.elapsed();
    assert_eq!(rollout["phase"], "rolled-back", "{rollout:#}");
    assert_eq!(
        rollout["step"], 1,
        "rolled back at its first step: {rollout:#}"
    );
    assert_eq!(rollout["weights"], weights_json(100, 0), "{rollout:#}");
    assert_eq!(rollout["live"], true, "{rollout:#}");
    wait_served(s, 100, 0);
    assert_canary_quiet(s, &load, "after the rollback");

    // The commit is failed: a reconcile does not try it again.
    let before = reconciles(&s.daemon.metrics(), &["trigger=\"manual\""]);
    s.daemon.reconcile_now();
    s.daemon.wait_until("a manual reconcile", |d| {
        reconciles(&d.metrics(), &["trigger=\"manual\""]) > before
    });
    let again = s.daemon.rollout(ROUTE).unwrap_or_else(|| {
        s.daemon
            .fail("the rolled-back rollout is gone after a reconcile")
    });
    assert_eq!(again["phase"], "rolled-back", "{again:#}");
    assert_eq!(again["commit"], commit.as_str(), "{again:#}");
    assert!(served_is(s, 100, 0), "after a reconcile: {:?}", served(s));
    let status = s.daemon.status();
    assert!(
        status["lastOutcome"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("held at its earlier weights")),
        "the status says the route is held: {status:#}"
    );
    assert_canary_quiet(s, &load, "after a reconcile of the failed commit");
    Rollback {
        rollout,
        commit,
        load,
        after_commit,
        live_after,
    }
}

/// Stops the load and prints (and bounds) the failed client requests of a rollback.
fn report_failures(name: &str, rollback: Rollback, bound: u64) {
    let counts = rollback.load.stop();
    let failing_for = match (counts.first_failure, counts.last_failure) {
        (Some(first), Some(last)) => format!("{:?}", last - first),
        _ => "-".into(),
    };
    println!(
        "{name}: {}; clients saw failures for {failing_for}; failed client requests: {} \
         (bound {bound}); reason: {}",
        rollback.figures(&counts),
        counts.failed(),
        rollback.rollout["reason"]
    );
    assert!(
        counts.failed() <= bound,
        "{name}: {} failed client requests, more than the design allows ({bound}): {counts:?}",
        counts.failed()
    );
    assert_eq!(
        counts.backends.get("target").map_or(0, |a| a.failed) + counts.other,
        0,
        "{name}: only canary requests may fail: {counts:?}"
    );
}

/// A canary answering 503 to everything is rolled back at its first step.
#[test]
fn a_failing_canary_is_rolled_back_at_its_first_step() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with(100, 0, &envoy_policy("2s", "  onFailure: rollback\n"), "");
    let rollback = roll_back_under_load(
        &s,
        |s| s.green.set_status(503),
        |s| s.commit_route(0, 100),
        WAIT,
    );
    let reason = rollback.rollout["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.contains("step 1 failed") && reason.contains("success"),
        "the reason names the breached condition: {:#}",
        rollback.rollout
    );
    assert!(
        rollback.rollout["conditions"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["name"] == "success-rate" && c["ok"] == false)),
        "{:#}",
        rollback.rollout
    );
    let commit = rollback.commit.clone();
    report_failures(
        "503 canary",
        rollback,
        failed_request_bound(RATE, 0.10, Duration::ZERO),
    );

    s.shut_down();
    let history = s.history();
    let rolled_back = entries(&history, "rollout-rolled-back", &commit);
    assert_eq!(rolled_back.len(), 1, "{history:#?}");
    assert!(
        message(rolled_back[0]).contains("rolled back to target 100%, target-green 0%")
            && message(rolled_back[0]).contains("success"),
        "the audit says where to and why: {:#}",
        rolled_back[0]
    );
    assert!(
        entries(&history, "rollout-promoted", &commit).is_empty(),
        "{history:#?}"
    );
    println!(
        "a_failing_canary_is_rolled_back_at_its_first_step: {:?}",
        started.elapsed()
    );
}

/// A canary 300 ms slow against `latencyP99: {max: 100ms}` is rolled back.
#[test]
fn a_latency_breach_rolls_back() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with(
        100,
        0,
        &envoy_policy(
            "2s",
            "    latencyP99: {max: 100ms}\n  onFailure: rollback\n",
        ),
        "",
    );
    let rollback = roll_back_under_load(
        &s,
        |s| s.green.set_delay(Duration::from_millis(300)),
        |s| s.commit_route(0, 100),
        WAIT,
    );
    let reason = rollback.rollout["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("step 1 failed") && reason.contains("latency"),
        "the reason names the latency: {:#}",
        rollback.rollout
    );
    assert!(
        rollback.rollout["conditions"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["name"] == "latency-p99" && c["ok"] == false)),
        "{:#}",
        rollback.rollout
    );
    let commit = rollback.commit.clone();
    let counts = rollback.load.counts();
    println!(
        "latency breach: {}; reason: {reason}",
        rollback.figures(&counts)
    );
    let counts = rollback.load.stop();
    assert_eq!(counts.failed(), 0, "slow is not failed: {counts:?}");

    s.shut_down();
    let history = s.history();
    assert_eq!(
        entries(&history, "rollout-rolled-back", &commit).len(),
        1,
        "{history:#?}"
    );
    println!("a_latency_breach_rolls_back: {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Scenario 4.

/// With no traffic the first step is inconclusive: `onInconclusive: pause` holds it at 10 %;
/// an operator's promote then finishes it.
#[test]
fn a_quiet_canary_pauses_and_an_operator_promotes_it() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with(100, 0, &envoy_policy("1s", "  onInconclusive: pause\n"), "");
    let commit = s.commit_route(0, 100);
    let r = wait_rollout(&s, "the inconclusive pause", WAIT, |r| {
        r["commit"] == commit.as_str() && r["phase"] != "progressing" && r["phase"] != "pending"
    });
    assert_eq!(r["phase"], "paused", "{r:#}");
    assert_eq!(r["step"], 1, "{r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("inconclusive") && reason.contains("requests"),
        "the reason says there were too few requests: {r:#}"
    );
    assert_eq!(
        r["weights"],
        weights_json(90, 10),
        "paused with its weights: {r:#}"
    );
    assert!(served_is(&s, 90, 10), "paused at 90/10: {:?}", served(&s));
    println!("quiet canary: {reason}");

    // The operator looks with `meshcd status`, then promotes the paused rollout with
    // `meshcd promote`: straight to the desired weights.
    let server = format!("http://{}", s.daemon.addr);
    let cache = s.tmp.path().join("cli-cache");
    let status =
        crate::common::meshcd(&["status", "--server", &server, "--format", "json"], &cache);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let shown = status.json();
    assert_eq!(shown["rollouts"][0]["phase"], "paused", "{shown:#}");
    let text = crate::common::meshcd(&["status", "--server", &server], &cache);
    assert!(
        text.stdout.contains("paused") && text.stdout.contains("step 1/"),
        "{}",
        text.stdout
    );
    let promote = crate::common::meshcd(&["promote", ROUTE, "--server", &server], &cache);
    assert_eq!(promote.code, 0, "{}\n{}", promote.stdout, promote.stderr);
    assert!(
        promote.stdout.starts_with("promote: "),
        "{}",
        promote.stdout
    );
    let r = wait_rollout(&s, "the promotion", WAIT, |r| r["phase"] == "promoted");
    assert_eq!(r["canaryWeight"], 100, "{r:#}");
    assert_eq!(r["weights"], weights_json(0, 100), "{r:#}");
    wait_served(&s, 0, 100);
    s.assert_all("target-green", 20, "after the promotion");
    let (code, answer) = s.daemon.gate("abort", ROUTE);
    assert_eq!(
        code, 409,
        "a promoted rollout cannot be aborted: {answer:#}"
    );
    let abort = crate::common::meshcd(&["abort", ROUTE, "--server", &server], &cache);
    assert_eq!(abort.code, 1, "refused gate: exit 1: {}", abort.stderr);
    assert!(abort.stderr.contains("cannot abort"), "{}", abort.stderr);
    let metrics = s.daemon.metrics();
    assert!(
        metrics.contains(
            "meshcd_rollout_phase{route=\"HttpRoute/target-route\",phase=\"promoted\"} 1"
        ),
        "{metrics}"
    );

    s.shut_down();
    let history = s.history();
    assert_eq!(
        entries(&history, "rollout-promoted", &commit).len(),
        1,
        "{history:#?}"
    );
    println!(
        "a_quiet_canary_pauses_and_an_operator_promotes_it: {:?}",
        started.elapsed()
    );
}

/// With no traffic and `onInconclusive: rollback`, the first step rolls back.
#[test]
fn a_quiet_canary_rolls_back_when_told_to() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with(
        100,
        0,
        &envoy_policy("1s", "  onInconclusive: rollback\n"),
        "",
    );
    let commit = s.commit_route(0, 100);
    let r = wait_rollout(&s, "the inconclusive rollback", WAIT, |r| {
        r["commit"] == commit.as_str()
            && matches!(
                r["phase"].as_str(),
                Some("rolled-back" | "paused" | "promoted")
            )
    });
    assert_eq!(r["phase"], "rolled-back", "{r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("inconclusive") && reason.contains("requests"),
        "{r:#}"
    );
    wait_served(&s, 100, 0);
    s.assert_all("target", 20, "after the rollback");

    s.shut_down();
    let history = s.history();
    assert_eq!(
        entries(&history, "rollout-rolled-back", &commit).len(),
        1,
        "{history:#?}"
    );
    println!(
        "a_quiet_canary_rolls_back_when_told_to: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario 5.

/// `kill -9` of the daemon while step 2 of 3 bakes: Envoy keeps the step's weights, a restarted
/// daemon resumes the step (same step, its weights again, a fresh bake, `last.message` saying
/// so), and an abort then rolls back to the weights before the rollout.
///
/// The Envoy orphaned by the `kill -9` is left running: the restarted daemon adopts it (see
/// `tests/scenarios/envoy_adoption.rs`).
#[test]
fn a_rollout_resumes_its_step_after_kill_9() {
    let _serial = serial();
    let started = Instant::now();
    // The bake is per policy: step 1 must pass under load before step 2, and the resumed
    // step 2 must still be baking when the test looks at it after the restart.
    let mut s = Setup::start_with(100, 0, &envoy_policy("4s", ""), "");
    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);
    let commit = s.commit_route(0, 100);
    let before = wait_rollout(&s, "step 2 baking", WAIT, |r| {
        r["commit"] == commit.as_str()
            && r["phase"] == "progressing"
            && r["step"] == 2
            && r["live"] == true
    });
    let pid = s.daemon.pid();
    let status = s.daemon.kill9();
    println!(
        "killed meshcd {pid} ({status}) at step 2 with {} ms of bake left",
        before["bakeRemainingMs"]
    );
    // Nobody changes Envoy while meshcd is down: it keeps serving the step's weights.
    assert!(
        served_is(&s, 50, 50),
        "the orphaned Envoy serves {:?}",
        served(&s)
    );

    let orphans = s.envoy_folder_pids();
    assert!(!orphans.is_empty(), "the orphaned Envoy runs");
    s.restart_daemon_over_orphans();
    let restarted = Instant::now();
    let now_running = s.envoy_folder_pids();
    assert_eq!(
        now_running, orphans,
        "the restarted daemon adopted the orphaned Envoy {orphans:?}; running: {now_running:?}"
    );
    let mut seen: Vec<String> = Vec::new();
    let r = wait_rollout(&s, "step 2 live again after the restart", WAIT, |r| {
        if let Some(m) = r["last"]["message"].as_str() {
            if seen.last().map(String::as_str) != Some(m) {
                seen.push(m.to_string());
            }
        }
        r["live"] == true
    });
    println!(
        "after the restart ({:?}): {} {}/{} live, bake left {} ms; messages seen: {seen:?}",
        restarted.elapsed(),
        r["phase"],
        r["step"],
        r["steps"],
        r["bakeRemainingMs"]
    );
    assert_eq!(r["commit"], commit.as_str(), "{r:#}");
    assert_eq!(
        r["phase"], "progressing",
        "resumed, not finished or paused: {r:#}"
    );
    assert_eq!(r["step"], 2, "the same step: {r:#}");
    assert_eq!(r["weights"], weights_json(50, 50), "{r:#}");
    assert!(served_is(&s, 50, 50), "step 2's weights: {:?}", served(&s));
    assert!(
        !s.daemon
            .log_lines("resuming a rollout after a restart")
            .is_empty(),
        "the daemon logs the resume:\n{}",
        s.daemon.log_tail()
    );
    // Checked at the end, so that the abort below is exercised whatever this says.
    let resumed = r.clone();

    let (code, answer) = s.daemon.gate("abort", &format!("HttpRoute/{ROUTE}"));
    assert_eq!(code, 200, "{answer:#}");
    let r = wait_rollout(&s, "the rollback after abort", WAIT, |r| {
        r["phase"] == "rolled-back"
    });
    assert!(
        r["reason"]
            .as_str()
            .is_some_and(|m| m.contains("aborted by an operator")),
        "{r:#}"
    );
    wait_served(&s, 100, 0);
    assert_canary_quiet(&s, &load, "after the abort");
    let counts = load.stop();
    println!(
        "kill -9 scenario: {} requests, {} failed (Envoy was adopted by the restarted daemon)",
        counts.total(),
        counts.failed()
    );

    s.shut_down();
    let history = s.history();
    let rolled_back = entries(&history, "rollout-rolled-back", &commit);
    assert_eq!(rolled_back.len(), 1, "{history:#?}");
    assert!(
        message(rolled_back[0]).contains("aborted by an operator"),
        "{:#}",
        rolled_back[0]
    );
    println!(
        "a_rollout_resumes_its_step_after_kill_9: {:?}",
        started.elapsed()
    );
    let last = resumed["last"]["message"].as_str().unwrap_or_default();
    assert!(
        last.contains("restart"),
        "once the resumed step is live again, `last.message` says it was resumed after a \
         restart; last message: {last:?}; messages seen while polling from the restart: \
         {seen:?}; rollout: {resumed:#}"
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario 6.

/// Starts a Prometheus scraping the daemon's Envoy admin and waits until it has Envoy's
/// cluster counters.
fn prometheus_for(s: &Setup) -> Prometheus {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let prometheus = runtime.block_on(Prometheus::start(&format!("127.0.0.1:{}", s.admin_port)));
    let addr: SocketAddr = prometheus
        .url()
        .strip_prefix("http://")
        .and_then(|a| a.parse().ok())
        .expect("Prometheus URL");
    let query = "/api/v1/query?query=envoy_cluster_upstream_rq_completed";
    let mut last = String::new();
    s.daemon
        .wait_until("Prometheus to scrape Envoy's cluster counters", |_| {
            last = match try_http(addr, "GET", query, "localhost", Duration::from_secs(2)) {
                Ok((_, body)) => body,
                Err(e) => e,
            };
            last.contains("\"envoy_cluster_name\":\"target\"")
                && last.contains("\"envoy_cluster_name\":\"target-green\"")
        });
    prometheus
}

fn prometheus_policy(url: &str, steps: &str, bake: &str) -> String {
    policy(&format!(
        "  steps: {steps}
  bakeTime: {bake}
  analysis:
    provider: prometheus
    address: {url}
    interval: 500ms
    minRequests: 20
    successRate: {{min: 99}}
  onFailure: rollback
"
    ))
}

/// A canary answering 503, judged on Envoy's metrics as a real Prometheus scraped them, is
/// rolled back.
#[test]
fn prometheus_analysis_rolls_back_a_failing_canary() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let prometheus = prometheus_for(&s);
    let policy = prometheus_policy(prometheus.url(), "[10, 50, 100]", "2s");
    let rollback = roll_back_under_load(
        &s,
        |s| s.green.set_status(503),
        |s| s.commit_route_and_policy(0, 100, &policy),
        Duration::from_secs(30),
    );
    assert!(
        rollback.rollout["reason"]
            .as_str()
            .is_some_and(|m| m.contains("step 1 failed") && m.contains("success")),
        "{:#}\nPrometheus log:\n{}",
        rollback.rollout,
        prometheus.log()
    );
    println!("prometheus conditions: {}", rollback.rollout["conditions"]);
    let commit = rollback.commit.clone();
    // Prometheus scrapes every second: failures show up to a scrape later than in Envoy.
    report_failures(
        "prometheus, 503 canary",
        rollback,
        failed_request_bound(RATE, 0.10, Duration::from_secs(1)),
    );

    s.shut_down();
    drop(prometheus);
    let history = s.history();
    assert_eq!(
        entries(&history, "rollout-rolled-back", &commit).len(),
        1,
        "{history:#?}"
    );
    println!(
        "prometheus_analysis_rolls_back_a_failing_canary: {:?}",
        started.elapsed()
    );
}

/// A healthy canary judged through Prometheus is promoted (50 %, then 100 %).
#[test]
fn prometheus_analysis_promotes_a_healthy_canary() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let prometheus = prometheus_for(&s);
    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);
    let commit = s.commit_route_and_policy(
        0,
        100,
        &prometheus_policy(prometheus.url(), "[50, 100]", "2s"),
    );
    let mid = wait_rollout(&s, "step 1 live", WAIT, |r| {
        r["commit"] == commit.as_str() && r["step"] == 1 && r["live"] == true
    });
    assert_eq!(mid["weights"], weights_json(50, 50), "{mid:#}");
    let r = wait_rollout(&s, "the promotion", Duration::from_secs(30), |r| {
        r["commit"] == commit.as_str()
            && matches!(
                r["phase"].as_str(),
                Some("rolled-back" | "promoted" | "paused")
            )
    });
    if r["phase"] != "promoted" {
        panic!(
            "expected a promotion on Prometheus' metrics: {r:#}\nPrometheus log:\n{}\nmeshcd:\n{}",
            prometheus.log(),
            s.daemon.log_tail()
        );
    }
    assert!(
        r["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "requests" && c["ok"] == true)),
        "judged on enough requests: {r:#}"
    );
    wait_served(&s, 0, 100);
    let counts = load.stop();
    println!(
        "prometheus, healthy canary: promoted; {} requests, {} failed; conditions {}",
        counts.total(),
        counts.failed(),
        r["conditions"]
    );
    assert_eq!(counts.failed(), 0, "{counts:?}");

    s.shut_down();
    drop(prometheus);
    let history = s.history();
    assert_eq!(
        entries(&history, "rollout-promoted", &commit).len(),
        1,
        "{history:#?}"
    );
    println!(
        "prometheus_analysis_promotes_a_healthy_canary: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario 7.

/// A loopback webhook: records every request's JSON body and answers 200 to the first `ok`
/// calls, 503 (`gate closed`) after. Stops on drop.
struct HookServer {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Value>>>,
    ok: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HookServer {
    fn start(ok: u64) -> HookServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let ok = Arc::new(AtomicU64::new(ok));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (calls, ok, stop) = (calls.clone(), ok.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(stream) = stream {
                        answer_hook(stream, &calls, &ok);
                    }
                }
            })
        };
        HookServer {
            addr,
            calls,
            ok,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/gate", self.addr)
    }

    fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Answer 200 to the next `n` calls (after those answered so far).
    fn allow(&self, n: u64) {
        let done = self.calls().len() as u64;
        self.ok.store(done + n, Ordering::SeqCst);
    }
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request (bounded by a read timeout), records its body, answers and closes.
fn answer_hook(mut stream: TcpStream, calls: &Mutex<Vec<Value>>, ok: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    };
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
    let body: Value = serde_json::from_slice(&buffer[head_end..head_end + length])
        .unwrap_or_else(|e| json!({"unreadable": e.to_string()}));
    let n = {
        let mut calls = calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.push(body);
        calls.len() as u64
    };
    let (status, text) = if n <= ok.load(Ordering::SeqCst) {
        ("200 OK", "ok")
    } else {
        ("503 Service Unavailable", "gate closed")
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

/// A pre-step hook that lets step 1 through and answers 503 before step 2 halts the rollout at
/// step 1's weights; it got the rollout's facts each time; once it answers 200 again, resume
/// finishes the rollout.
#[test]
fn a_refusing_pre_step_hook_halts_the_rollout() {
    let _serial = serial();
    let started = Instant::now();
    let hook = HookServer::start(1);
    let hooks = format!(
        "  hooks:\n    preStep:\n    - {{name: change-gate, url: \"{}\", timeout: 2s}}\n",
        hook.url()
    );
    let mut s = Setup::start_with(100, 0, &envoy_policy("2s", &hooks), "");
    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);
    let commit = s.commit_route(0, 100);
    let r = wait_rollout(&s, "the hook's halt", WAIT, |r| {
        r["commit"] == commit.as_str()
            && matches!(
                r["phase"].as_str(),
                Some("paused" | "rolled-back" | "promoted")
            )
            && r["live"] == true
    });
    assert_eq!(r["phase"], "paused", "{r:#}");
    assert_eq!(r["step"], 2, "halted before step 2: {r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("change-gate") && reason.contains("503"),
        "the reason names the hook and its answer: {r:#}"
    );
    assert_eq!(
        r["weights"],
        weights_json(90, 10),
        "held at step 1's weights (the last good ones): {r:#}"
    );
    assert!(served_is(&s, 90, 10), "{:?}", served(&s));
    println!("pre-step hook: {reason}");

    let calls = hook.calls();
    assert_eq!(calls.len(), 2, "one call per step: {calls:#?}");
    for (call, (step, target, green)) in calls.iter().zip([(1, 90, 10), (2, 50, 50)]) {
        assert_eq!(call["hook"], "preStep", "{call:#}");
        let rollout = &call["rollout"];
        assert!(
            rollout["route"]
                .as_str()
                .is_some_and(|r| r.ends_with(&format!("/{ROUTE}"))),
            "{call:#}"
        );
        assert_eq!(rollout["commit"], commit.as_str(), "{call:#}");
        assert_eq!(rollout["step"], step, "{call:#}");
        assert_eq!(rollout["steps"], 3, "{call:#}");
        assert_eq!(rollout["weights"], weights_json(target, green), "{call:#}");
        assert_eq!(rollout["canary"], "target-green", "{call:#}");
    }

    // The gate opens: resume retries step 2 (the hook is asked again) and the rollout ends.
    hook.allow(10);
    let (code, answer) = s.daemon.gate("resume", ROUTE);
    assert_eq!(code, 200, "{answer:#}");
    let r = wait_rollout(&s, "the promotion after resume", WAIT, |r| {
        r["phase"] == "promoted" || r["phase"] == "rolled-back"
    });
    assert_eq!(r["phase"], "promoted", "{r:#}");
    wait_served(&s, 0, 100);
    let calls = hook.calls();
    let steps: Vec<&Value> = calls.iter().map(|c| &c["rollout"]["step"]).collect();
    assert_eq!(
        steps,
        [&json!(1), &json!(2), &json!(2), &json!(3)],
        "{calls:#?}"
    );
    let counts = load.stop();
    assert_eq!(counts.failed(), 0, "{counts:?}");

    s.shut_down();
    let history = s.history();
    assert_eq!(
        entries(&history, "rollout-promoted", &commit).len(),
        1,
        "{history:#?}"
    );
    println!(
        "a_refusing_pre_step_hook_halts_the_rollout: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario 8.

/// A commit that asks for the same final weights lets a rollout go on; one that asks for other
/// weights supersedes it, and the new rollout starts from the weights the route has now.
#[test]
fn a_new_commit_supersedes_a_rollout_from_its_current_weights() {
    let _serial = serial();
    let started = Instant::now();
    // A long bake: the first rollout stays at its first step while the test commits.
    let mut s = Setup::start_with(100, 0, &envoy_policy("30s", ""), "");
    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);

    // 100/0 → 50/50: steps 90/10, 50/50.
    let first = s.commit_route(50, 50);
    let r = wait_rollout(&s, "the first rollout's step 1", WAIT, |r| {
        r["commit"] == first.as_str() && r["phase"] == "progressing" && r["live"] == true
    });
    assert_eq!(
        (r["step"].clone(), r["steps"].clone()),
        (json!(1), json!(2)),
        "{r:#}"
    );
    assert_eq!(r["weights"], weights_json(90, 10), "{r:#}");

    // A commit that changes nothing of the route: the rollout goes on, now for that commit.
    s.repo.write("README.md", "routes of the target service\n");
    let unrelated = s.repo.commit("a README");
    let r = wait_rollout(
        &s,
        "the rollout adopted by the unrelated commit",
        WAIT,
        |r| r["commit"] == unrelated.as_str(),
    );
    assert_eq!(r["phase"], "progressing", "{r:#}");
    assert_eq!(r["step"], 1, "{r:#}");
    assert_eq!(r["weights"], weights_json(90, 10), "{r:#}");
    assert!(served_is(&s, 90, 10), "{:?}", served(&s));

    // Other final weights (0/100): superseded; the new rollout goes from 90/10 (steps 50/50,
    // 0/100), not from 100/0 (which would make three steps).
    let second = s.commit_route(0, 100);
    let r = wait_rollout(&s, "the new rollout's step 1", WAIT, |r| {
        r["commit"] == second.as_str() && r["live"] == true
    });
    assert_eq!(r["phase"], "progressing", "{r:#}");
    assert_eq!(
        (r["step"].clone(), r["steps"].clone()),
        (json!(1), json!(2)),
        "{r:#}"
    );
    assert_eq!(r["weights"], weights_json(50, 50), "{r:#}");
    assert_eq!(r["canaryWeight"], 50, "{r:#}");
    assert!(served_is(&s, 50, 50), "{:?}", served(&s));
    assert_eq!(s.daemon.rollouts().len(), 1, "one rollout of the route");

    // Its starting weights are 90/10: an abort goes back there.
    let (code, answer) = s.daemon.gate("abort", ROUTE);
    assert_eq!(code, 200, "{answer:#}");
    let r = wait_rollout(&s, "the rollback", WAIT, |r| r["phase"] == "rolled-back");
    assert_eq!(r["weights"], weights_json(90, 10), "{r:#}");
    wait_served(&s, 90, 10);
    let counts = load.stop();
    assert_eq!(counts.failed(), 0, "{counts:?}");

    s.shut_down();
    let history = s.history();
    let superseded = actions(&history, "rollout-superseded");
    assert_eq!(superseded.len(), 1, "{history:#?}");
    assert_eq!(
        superseded[0]["commit"],
        unrelated.as_str(),
        "{:#}",
        superseded[0]
    );
    assert!(
        message(superseded[0]).contains(short(&second))
            && message(superseded[0]).contains("a new rollout starts from these weights"),
        "{:#}",
        superseded[0]
    );
    let rolled_back = entries(&history, "rollout-rolled-back", &second);
    assert_eq!(rolled_back.len(), 1, "{history:#?}");
    assert!(
        message(rolled_back[0]).contains("target 90%, target-green 10%"),
        "{:#}",
        rolled_back[0]
    );
    assert!(
        actions(&history, "rollout-promoted").is_empty(),
        "{history:#?}"
    );
    println!(
        "a_new_commit_supersedes_a_rollout_from_its_current_weights: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Scenario 9: change windows.

/// A deny window that is always active (an occurrence starts every minute and lasts an hour),
/// selecting [`ROUTE`].
const FREEZE: &str = "apiVersion: meshcd.dev/v1alpha1
kind: ChangeWindow
metadata: {name: freeze}
spec:
  kind: deny
  schedule: '* * * * *'
  duration: 1h
  timeZone: Europe/Paris
  selector: {routes: [target-route]}
";

/// A rollout whose route falls into a deny window keeps its current step (the step passes,
/// the next waits, the API says why); once the window is gone it goes on and is promoted. A
/// commit moving weights while the window is active is not applied at all and the daemon says
/// it waits.
#[test]
fn a_change_window_holds_rollout_steps_and_commits() {
    let _serial = serial();
    let time_based = policy("  steps: [50, 100]\n  bakeTime: 1s\n  analysis: {provider: none}\n");
    let s = Setup::start_with(100, 0, &time_based, "");
    let commit = s.commit_route(0, 100);
    wait_rollout(&s, "step 1 live", WAIT, |r| {
        r["commit"] == commit.as_str() && r["step"] == 1 && r["live"] == true
    });
    s.repo.write("meshcd/freeze.yaml", FREEZE);
    let frozen = s.repo.commit("freeze target-route");
    let r = wait_rollout(&s, "the next step waiting for the window", WAIT, |r| {
        r["waiting"].is_string()
    });
    assert_eq!(r["phase"], "progressing", "{r:#}");
    assert_eq!(r["step"], 1, "held at its step: {r:#}");
    assert!(
        r["waiting"]
            .as_str()
            .is_some_and(|w| w.contains("deny window freeze")),
        "{r:#}"
    );
    assert!(served_is(&s, 50, 50), "held at 50/50: {:?}", served(&s));
    // A commit moving the route again while the window is active waits, whole.
    s.daemon.wait_applied(&frozen);
    let held = s.commit_route(100, 0);
    let status = s.daemon.wait_for_outcome(&held, "waiting");
    assert!(
        status["lastOutcome"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("waits for a change window")),
        "{status:#}"
    );
    let r = s.daemon.rollout(ROUTE).expect("the rollout");
    assert_eq!(
        r["commit"],
        frozen.as_str(),
        "carried on under the freeze commit, not superseded by the held one: {r:#}"
    );
    assert!(served_is(&s, 50, 50), "still 50/50: {:?}", served(&s));

    // The window goes (and the route goes back to 0/100): the rollout moves on.
    s.repo.remove("meshcd/freeze.yaml");
    s.repo.write(
        "routes/target-route.yaml",
        &crate::common::daemon::route(0, 100),
    );
    let thawed = s.repo.commit("thaw");
    let r = wait_rollout(&s, "the promotion after the window", WAIT, |r| {
        r["phase"] == "promoted"
    });
    assert_eq!(r["weights"], weights_json(0, 100), "{r:#}");
    assert!(r["waiting"].is_null(), "{r:#}");
    s.daemon.wait_applied(&thawed);
    wait_served(&s, 0, 100);
}
