//! `meshcd run` with a real, managed Envoy, end to end: the real binary follows a real Git
//! repository (watched `.git`, no polling), starts its own Envoy on free loopback ports, and
//! routes `target.meshapps.internal` between two loopback backends (`target`, `target-green`).
//!
//! One test per scenario, run one at a time (a lock), each with its own repository, daemon and
//! Envoy: a commit moves traffic; a refused commit applies nothing and is audited; a killed
//! Envoy comes back with its routes; drift behind meshcd's back is planned and reported, not
//! corrected; an unchanged commit is skipped; SIGTERM stops the daemon and its Envoy.
//!
//! Waits are bounded polls (every 50 ms, at most [`WAIT`]); a timeout fails with the last status
//! and the daemon's log. Every process started here is stopped on drop, even when a test fails,
//! and each test checks that no process naming its Envoy folder is left.
//!
//! Envoy comes from `MESHCD_ENVOY`, a `.venv` under the repository root (`scripts/test.sh`
//! makes one), or wherever `meshcd` itself finds one. Without it these tests fail, never skip.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::daemon::*;
use crate::common::meshcd;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// Scenario 1: commits move traffic: 100/0 → 0/100 → 90/10.
#[test]
fn a_commit_moves_traffic() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let status = s.daemon.status();
    assert_eq!(status["lastOutcome"]["trigger"], "startup", "{status:#}");
    assert!(
        status["target"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("127.0.0.1:{}", s.http_port))),
        "{status:#}"
    );
    s.assert_all("target", 100, "100/0 at start");
    assert_eq!(s.green.requests(), 0, "green got requests at 100/0");
    assert_eq!(
        served_weights(s.admin_port),
        Some(weights(&[("target", 100), ("target-green", 0)]))
    );

    let to_green = s.commit_route(0, 100);
    let status = s.daemon.wait_applied(&to_green);
    assert_eq!(
        status["lastOutcome"]["trigger"], "file_change",
        "{status:#}"
    );
    assert_eq!(status["lastOutcome"]["changes"], 1, "{status:#}");
    s.assert_all("target-green", 100, "after the 0/100 commit");

    let canary = s.commit_route(90, 10);
    s.daemon.wait_applied(&canary);
    let counts = s.traffic(200);
    let (blue, green) = (share(&counts, "target"), share(&counts, "target-green"));
    assert!(
        (blue - 0.9).abs() <= 0.1
            && (green - 0.1).abs() <= 0.1
            && counts.get("target").copied().unwrap_or(0)
                + counts.get("target-green").copied().unwrap_or(0)
                == 200,
        "90/10: {counts:?}"
    );
    assert!(green > 0.0, "90/10: nothing reached green: {counts:?}");

    s.shut_down();
    println!("a_commit_moves_traffic: {:?}", started.elapsed());
}

/// Scenario 2: a commit refused by policy applies nothing; the daemon says so and audits it.
#[test]
fn an_invalid_commit_applies_nothing() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    s.assert_all("target", 50, "100/0 at start");
    let rds_before = std::fs::read(s.work_dir.join("rds.yaml")).expect("rds.yaml");

    let bad = s.commit_route(-5, 100);
    let status = s.daemon.wait_for_outcome(&bad, "refused");
    assert_eq!(status["appliedCommit"], s.first.as_str(), "{status:#}");
    assert_eq!(status["ready"], false, "{status:#}");
    let message = status["lastOutcome"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(&format!("{} refused", &bad[..7])) && message.contains("policy error"),
        "the status says why: {message}"
    );
    let (code, body) = s.daemon.get("/readyz");
    assert_eq!(code, 503, "{body}");
    let readiness: Value = serde_json::from_str(&body).expect("readyz JSON");
    assert!(
        readiness["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&format!("commit {} was refused", &bad[..7]))),
        "{body}"
    );

    // Nothing reached Envoy: same files, same weights, same traffic.
    assert_eq!(
        std::fs::read(s.work_dir.join("rds.yaml")).expect("rds.yaml"),
        rds_before,
        "rds.yaml changed for a refused commit"
    );
    assert_eq!(
        served_weights(s.admin_port),
        Some(weights(&[("target", 100), ("target-green", 0)]))
    );
    s.assert_all("target", 100, "after the refused commit");
    assert_eq!(
        s.green.requests(),
        0,
        "green got requests: the refused weights reached Envoy"
    );

    // Asking again refuses again (never `unchanged` while the refused commit is desired).
    s.daemon.reconcile_now();
    s.daemon
        .wait_until("a manual reconcile of the refused commit", |d| {
            reconciles(&d.metrics(), &["trigger=\"manual\"", "result=\"refused\""]) >= 1
        });
    assert_eq!(s.daemon.get("/readyz").0, 503);

    // While the daemon runs it holds the store: `meshcd history` reads it through the daemon,
    // and reading the file directly says so.
    let server = format!("http://{}", s.daemon.addr);
    let cache = s.tmp.path().join("cache");
    let live = meshcd(
        &[
            "history", "--server", &server, "--format", "json", "--limit", "0",
        ],
        &cache,
    );
    assert_eq!(live.code, 0, "history --server failed: {}", live.stderr);
    let live_entries = live.json()["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !entries(&live_entries, "rejected", &bad).is_empty()
            && !entries(&live_entries, "apply", &s.first).is_empty(),
        "the daemon's history lists the apply and the rejection: {live_entries:#?}"
    );
    let locked = meshcd(&["history", "--state-dir", path_str(&s.state_dir)], &cache);
    assert_eq!(locked.code, 2, "{}", locked.stdout);
    assert!(
        locked.stderr.contains("--server"),
        "the error says how to read it: {}",
        locked.stderr
    );

    // After it stops, the file can be read directly.
    s.shut_down();
    let history = s.history();
    let show = || serde_json::to_string_pretty(&history).unwrap_or_default();
    assert_eq!(
        entries(&history, "apply", &s.first).len(),
        1,
        "one apply of the first commit: {}",
        show()
    );
    let rejected = entries(&history, "rejected", &bad);
    assert!(
        !rejected.is_empty(),
        "a rejected entry for {bad}: {}",
        show()
    );
    assert!(
        rejected[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("refused")),
        "{}",
        show()
    );
    assert!(
        entries(&history, "apply", &bad).is_empty(),
        "the refused commit was never applied: {}",
        show()
    );
    println!("an_invalid_commit_applies_nothing: {:?}", started.elapsed());
}

/// Scenario 3: Envoy killed with SIGKILL: the supervisor restarts it, and it serves the last
/// routes again.
#[test]
fn a_killed_envoy_gets_its_routes_back() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let to_green = s.commit_route(0, 100);
    s.daemon.wait_applied(&to_green);
    s.assert_all("target-green", 50, "after the 0/100 commit");
    let target_requests = s.target.requests();

    let pids = s.envoy_pids();
    assert_eq!(
        pids.len(),
        1,
        "one Envoy for {}: {pids:?}",
        s.work_dir.display()
    );
    let old = pids[0];
    assert!(signal(old, "-KILL"), "kill -9 {old}");

    let mut now = Vec::new();
    s.daemon
        .wait_until("Envoy restarted and LIVE on its admin port", |_| {
            now = s.envoy_pids();
            now.len() == 1 && now[0] != old && envoy_live(s.admin_port)
        });
    s.wait_all("target-green", "after the restart");
    s.assert_all("target-green", 100, "after the restart");
    assert_eq!(
        served_weights(s.admin_port),
        Some(weights(&[("target", 0), ("target-green", 100)]))
    );
    assert_eq!(
        s.target.requests(),
        target_requests,
        "the restarted Envoy sent requests to `target` (weight 0)"
    );

    // The daemon noticed, checked, and is ready with the applied commit.
    s.daemon.wait_until("a reconcile after the restart", |d| {
        reconciles(&d.metrics(), &["trigger=\"target_restarted\""]) >= 1
    });
    s.daemon
        .wait_until("a successful reconcile after the restart", |d| {
            let status = d.status();
            status["ready"] == true
                && status["appliedCommit"] == to_green.as_str()
                && status["lastOutcome"]["commit"] == to_green.as_str()
                && status["lastOutcome"]["action"] == "unchanged"
                && status["lastError"].is_null()
        });
    let metrics = s.daemon.metrics();
    let failed = reconciles(
        &metrics,
        &["trigger=\"target_restarted\"", "result=\"error\""],
    );
    if failed > 0 {
        let log = s
            .daemon
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("restart") || l.contains("reconcile failed"))
            .collect();
        panic!(
            "BUG: the reconcile triggered by the Envoy restart failed ({failed}x), which made the \
             daemon unready and counted an error until the retry: TargetReconciler::attach sends \
             Trigger::TargetRestarted as soon as the restart count changes, before the new Envoy \
             answers on its admin port, and the reconcile does not wait for it \
             (EnvoyTarget::wait_ready exists for this). Expected: the restart reconcile waits \
             for Envoy and ends `unchanged`.\nlog:\n{}\n{metrics}",
            lines.join("\n")
        );
    }

    s.shut_down();
    println!(
        "a_killed_envoy_gets_its_routes_back: {:?}",
        started.elapsed()
    );
}

/// Scenario 4: drift made behind meshcd's back shows in `plan --target envoy` and is
/// reported by the daemon, not corrected (`selfHeal: false`).
#[test]
fn drift_is_detected_and_left_alone() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    s.assert_all("target", 50, "100/0 at start");

    // Rewrite the served routes to 30/70: a new file renamed into the watched folder.
    let rds = s.work_dir.join("rds.yaml");
    let mut file: Value =
        serde_json::from_slice(&std::fs::read(&rds).expect("rds.yaml")).expect("rds.yaml JSON");
    let mut edited = 0;
    for resource in file["resources"].as_array_mut().expect("resources") {
        for vhost in resource["virtual_hosts"].as_array_mut().expect("vhosts") {
            if !serves_host(vhost) {
                continue;
            }
            for route in vhost["routes"].as_array_mut().expect("routes") {
                let clusters = route
                    .pointer_mut("/route/weighted_clusters/clusters")
                    .and_then(Value::as_array_mut)
                    .expect("weighted clusters");
                for cluster in clusters {
                    let weight = match cluster["name"].as_str() {
                        Some("target") => 30,
                        Some("target-green") => 70,
                        other => panic!("unexpected cluster {other:?} in {}", rds.display()),
                    };
                    cluster["weight"] = json!(weight);
                    edited += 1;
                }
            }
        }
    }
    assert_eq!(edited, 2, "two weights edited in {file:#}");
    file["version_info"] = json!("edited-by-hand");
    let tmp = s.work_dir.join(".rds.yaml.by-hand");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file).unwrap()).expect("write");
    std::fs::rename(&tmp, &rds).expect("rename into the watched folder");
    let drifted = weights(&[("target", 30), ("target-green", 70)]);
    s.daemon
        .wait_until("Envoy serving the hand-made 30/70", |_| {
            served_weights(s.admin_port).as_ref() == Some(&drifted)
        });
    let counts = s.traffic(200);
    assert!(
        (share(&counts, "target-green") - 0.7).abs() <= 0.1,
        "30/70 by hand: {counts:?}"
    );

    // `plan --target envoy` reads Envoy, not the store: it shows the way back to 100/0.
    let plan = s.plan_against_envoy();
    let changes = plan["changes"].as_array().expect("changes");
    let change = changes
        .iter()
        .find(|c| c["name"] == "target-route")
        .unwrap_or_else(|| panic!("no change of target-route in {plan:#}"));
    assert_eq!(changes.len(), 1, "only the route drifted: {plan:#}");
    assert_eq!(change["action"], "update", "{change:#}");
    let rollout = &change["rollout"];
    assert_eq!(
        rollout["from"],
        json!({"target": 30, "target-green": 70}),
        "the rollout starts from the drifted weights: {change:#}"
    );
    assert_eq!(
        rollout["steps"].as_array().and_then(|s| s.last()),
        Some(&json!({"target": 100, "target-green": 0})),
        "and ends at the committed ones: {change:#}"
    );

    // The daemon reports it on the next reconcile, and leaves it.
    s.daemon.reconcile_now();
    s.daemon.wait_until("drift_detected", |d| {
        reconciles(
            &d.metrics(),
            &["trigger=\"manual\"", "result=\"drift_detected\""],
        ) >= 1
    });
    let status = s.daemon.status();
    let outcome = &status["lastOutcome"];
    assert_eq!(outcome["action"], "drift_detected", "{status:#}");
    assert_eq!(outcome["drift"], true, "{status:#}");
    assert_eq!(outcome["commit"], s.first.as_str(), "{status:#}");
    assert!(
        outcome["message"]
            .as_str()
            .is_some_and(|m| m.contains("selfHeal is off")),
        "{status:#}"
    );
    assert_eq!(status["appliedCommit"], s.first.as_str(), "{status:#}");
    assert_eq!(
        s.daemon.get("/readyz").0,
        200,
        "reported drift is still ready"
    );
    let metrics = s.daemon.metrics();
    assert!(
        metrics.lines().any(|l| l == "meshcd_drift 1"),
        "meshcd_drift 1 expected:\n{metrics}"
    );
    assert_eq!(
        served_weights(s.admin_port).as_ref(),
        Some(&drifted),
        "selfHeal is off: the drift must stay"
    );
    let counts = s.traffic(100);
    assert!(
        (share(&counts, "target-green") - 0.7).abs() <= 0.15,
        "still 30/70 after the reconcile: {counts:?}"
    );

    s.shut_down();
    let history = s.history();
    assert!(
        !entries(&history, "drift-detected", &s.first).is_empty(),
        "the drift is in the audit log: {history:#?}"
    );
    assert!(
        entries(&history, "drift-corrected", &s.first).is_empty(),
        "nothing was corrected: {history:#?}"
    );
    println!("drift_is_detected_and_left_alone: {:?}", started.elapsed());
}

/// Scenario 5: reconciling an unchanged commit does nothing: no publish, no apply.
#[test]
fn an_unchanged_commit_is_skipped() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let rds = s.work_dir.join("rds.yaml");
    let rds_before = std::fs::read(&rds).expect("rds.yaml");
    let before = s.daemon.metrics();
    let applied = reconciles(&before, &["result=\"applied\""]);
    let unchanged = reconciles(&before, &["trigger=\"manual\"", "result=\"unchanged\""]);
    assert_eq!(applied, 1, "{before}");
    assert_eq!(unchanged, 0, "{before}");

    for round in 1..=2u64 {
        s.daemon.reconcile_now();
        s.daemon
            .wait_until(&format!("unchanged reconcile #{round}"), |d| {
                reconciles(
                    &d.metrics(),
                    &["trigger=\"manual\"", "result=\"unchanged\""],
                ) >= unchanged + round
            });
    }
    let after = s.daemon.metrics();
    assert_eq!(
        reconciles(&after, &["trigger=\"manual\"", "result=\"unchanged\""]),
        unchanged + 2,
        "{after}"
    );
    assert_eq!(
        reconciles(&after, &["result=\"applied\""]),
        applied,
        "no new apply:\n{after}"
    );
    let status = s.daemon.status();
    assert_eq!(status["appliedCommit"], s.first.as_str(), "{status:#}");
    assert_eq!(status["lastOutcome"]["action"], "unchanged", "{status:#}");
    assert_eq!(
        std::fs::read(&rds).expect("rds.yaml"),
        rds_before,
        "nothing was published to Envoy"
    );
    s.assert_all("target", 50, "after the unchanged reconciles");

    s.shut_down();
    let history = s.history();
    assert_eq!(
        history.iter().filter(|e| e["action"] == "apply").count(),
        1,
        "one apply in the audit log: {history:#?}"
    );
    println!("an_unchanged_commit_is_skipped: {:?}", started.elapsed());
}

/// Scenario 6: SIGTERM stops the daemon (exit 0) and its Envoy.
#[test]
fn sigterm_stops_the_daemon_and_its_envoy() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    s.assert_all("target", 20, "100/0 at start");
    let pids = s.envoy_pids();
    assert_eq!(pids.len(), 1, "one Envoy: {pids:?}");
    assert!(envoy_live(s.admin_port));

    let stopping = Instant::now();
    s.shut_down();
    println!("stopped in {:?}", stopping.elapsed());
    for (what, addr) in [
        ("meshcd's HTTP port", s.daemon.addr),
        ("Envoy's admin port", loopback(s.admin_port)),
        ("Envoy's listener", loopback(s.http_port)),
    ] {
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
            "{what} ({addr}) still accepts connections"
        );
    }
    assert!(
        !Path::new(&format!("/proc/{}", pids[0])).exists(),
        "Envoy {} is gone",
        pids[0]
    );
    println!(
        "sigterm_stops_the_daemon_and_its_envoy: {:?}",
        started.elapsed()
    );
}
