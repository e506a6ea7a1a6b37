//! The data plane outlives the control plane: a managed Envoy keeps serving when meshcd dies, and
//! a restarted meshcd adopts it (same process, supervised again) instead of replacing it.
//!
//! 1. The real `meshcd run` with its own Envoy, mid-rollout (a step baking for ten minutes),
//!    under a bounded client load through Envoy's listener: `kill -9` of meshcd, Envoy still
//!    serves, a restarted meshcd adopts the same Envoy and resumes the rollout at its step; not
//!    one client request fails over the whole period. Then, with meshcd and Envoy both killed
//!    (a stale pid file), a restarted meshcd starts a new Envoy and says why in its log; SIGTERM
//!    still stops meshcd and its Envoy.
//! 2. The runtime alone ([`EnvoyProcess`]): an Envoy left running by a panic (and by
//!    [`EnvoyProcess::detach`]) is adopted by the next start on its folder; once it is gone, its
//!    stale pid file makes the next start a new Envoy.
//!
//! Scenarios run one at a time (a lock); waits are bounded polls; nothing is asserted on time.
//! Envoy comes from `MESHCD_ENVOY` (or `.venv`): without it these tests fail, never skip.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::daemon::*;
use meshcd::envoy::process::adopt::NotAdoptable;
use meshcd::envoy::process::pidfile::{pid_path, PidRecord};
use meshcd::envoy::process::Origin;
use meshcd::envoy::{EnvoyOptions, EnvoyProcess};
use serde_json::{json, Value};

/// The route every scenario rolls out.
const ROUTE: &str = "target-route";
/// Requests a second of the client load.
const RATE: f64 = 100.0;

/// Steps 50, 100 with no analysis and a bake long enough that the rollout is still at step 1
/// whenever the test looks.
const LONG_BAKE_POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: long-bake}
spec:
  selector: {routes: [target-route]}
  steps: [50, 100]
  bakeTime: 600s
  analysis: {provider: none}
";

/// Polls the rollout of [`ROUTE`] until `check` holds; fails after [`WAIT`] (or when the daemon
/// exits) with the last rollout seen.
fn wait_rollout(s: &Setup, what: &str, mut check: impl FnMut(&Value) -> bool) -> Value {
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
        if start.elapsed() >= WAIT {
            s.daemon.fail(&format!(
                "timed out after {WAIT:?} waiting for {what}; last rollout: {last:#?}"
            ));
        }
        std::thread::sleep(TICK);
    }
}

fn served_is(s: &Setup, target: u64, green: u64) -> bool {
    served_weights(s.admin_port) == Some(weights(&[("target", target), ("target-green", green)]))
}

/// Whether `pid` no longer runs: no such process, or a zombie (an Envoy started by this test
/// process stays one until reaped; an orphan, until its new parent reaps it).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// The process group of `pid` (field 5 of `/proc/<pid>/stat`).
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// The one Envoy running on the setup's folder.
fn the_envoy(s: &Setup, when: &str) -> u32 {
    let pids = s.envoy_pids();
    assert_eq!(pids.len(), 1, "{when}: one Envoy expected: {pids:?}");
    pids[0]
}

#[test]
fn a_killed_meshcd_leaves_envoy_serving_and_its_successor_adopts_it() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with(100, 0, LONG_BAKE_POLICY, "");
    let envoy = the_envoy(&s, "at start");
    assert_eq!(
        process_group(envoy),
        Some(envoy),
        "Envoy runs in its own process group, not meshcd's ({})",
        s.daemon.pid()
    );
    let record = PidRecord::read(&pid_path(&s.work_dir))
        .expect("a readable pid file")
        .expect("the managed Envoy is recorded");
    assert_eq!(record.pid, envoy, "{record:?}");
    assert_eq!(record.admin_port, s.admin_port, "{record:?}");

    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);
    let commit = s.commit_route(0, 100);
    let before = wait_rollout(&s, "step 1 live and baking", |r| {
        r["commit"] == commit.as_str()
            && r["phase"] == "progressing"
            && r["step"] == 1
            && r["live"] == true
    });
    assert_eq!(before["weights"], json!({"target": 50, "target-green": 50}));
    assert!(served_is(&s, 50, 50), "{:?}", served_weights(s.admin_port));

    // kill -9 of meshcd: Envoy is left alone and keeps serving the step's weights.
    let killed = s.daemon.pid();
    let status = s.daemon.kill9();
    println!("killed meshcd {killed} ({status}) at step 1");
    let down = load.counts();
    let while_down = load.wait_for_more(&down, 100).since(&down);
    assert_eq!(
        while_down.failed(),
        0,
        "requests failed while meshcd was down: {while_down:?}"
    );
    assert!(
        while_down.reached("target") > 0 && while_down.reached("target-green") > 0,
        "both backends answer at 50/50 while meshcd is down: {while_down:?}"
    );
    assert_eq!(
        the_envoy(&s, "with meshcd down"),
        envoy,
        "Envoy survived meshcd"
    );
    assert!(served_is(&s, 50, 50), "{:?}", served_weights(s.admin_port));

    // A new meshcd on the same configuration and state adopts that Envoy.
    s.restart_daemon_over_orphans();
    assert_eq!(
        the_envoy(&s, "after the restart"),
        envoy,
        "the restarted meshcd replaced the Envoy instead of adopting it\n{}",
        s.daemon.log_tail()
    );
    let adopted = s.daemon.log_lines("adopted the Envoy");
    assert!(
        adopted
            .iter()
            .any(|l| l.contains(&format!("pid={envoy}")) && l.contains("it serves the published configuration")),
        "the daemon logs the adoption of Envoy {envoy}, serving what its files hold: {adopted:?}\n{}",
        s.daemon.log_tail()
    );
    assert!(
        s.daemon.log_lines("not adopting").is_empty(),
        "{}",
        s.daemon.log_tail()
    );

    // The rollout resumes at its step, on the adopted Envoy.
    let resumed = wait_rollout(&s, "step 1 live again after the restart", |r| {
        r["live"] == true
    });
    assert!(
        !s.daemon
            .log_lines("resuming a rollout after a restart")
            .is_empty(),
        "the daemon logs the resume:\n{}",
        s.daemon.log_tail()
    );
    assert_eq!(resumed["commit"], commit.as_str(), "{resumed:#}");
    assert_eq!(resumed["phase"], "progressing", "{resumed:#}");
    assert_eq!(resumed["step"], 1, "the same step: {resumed:#}");
    assert_eq!(
        resumed["weights"],
        json!({"target": 50, "target-green": 50}),
        "{resumed:#}"
    );
    assert!(served_is(&s, 50, 50), "{:?}", served_weights(s.admin_port));
    let after = load.counts();
    load.wait_for_more(&after, 100);
    assert_eq!(the_envoy(&s, "after the resume"), envoy);

    let counts = load.stop();
    println!(
        "adoption under load: {} requests at {RATE}/s, {} failed (meshcd killed and restarted, \
         Envoy {envoy} kept)",
        counts.total(),
        counts.failed()
    );
    assert!(counts.total() >= 250, "{counts:?}");
    assert_eq!(
        counts.failed(),
        0,
        "client requests failed across the kill -9 and the restart: {counts:?}"
    );

    // Both killed: the pid file is stale, and the next meshcd starts a new Envoy, saying why.
    let status = s.daemon.kill9();
    assert!(signal(envoy, "-KILL"), "kill -9 {envoy}");
    let deadline = Instant::now() + WAIT;
    while !gone(envoy) {
        assert!(Instant::now() < deadline, "Envoy {envoy} did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("killed meshcd ({status}) and Envoy {envoy}");
    s.restart_daemon_over_orphans();
    let fresh = the_envoy(&s, "after a restart over a stale pid file");
    assert_ne!(fresh, envoy);
    let why = s.daemon.log_lines("not adopting");
    assert!(
        why.iter()
            .any(|l| l.contains(&envoy.to_string()) && l.contains("no longer runs")),
        "the daemon says why it started a new Envoy: {why:?}\n{}",
        s.daemon.log_tail()
    );
    wait_rollout(&s, "step 1 live on the new Envoy", |r| {
        r["live"] == true && r["step"] == 1
    });
    assert!(served_is(&s, 50, 50), "{:?}", served_weights(s.admin_port));

    // SIGTERM still stops meshcd and its Envoy (asserted by shut_down), and the pid file goes.
    s.shut_down();
    assert!(
        !pid_path(&s.work_dir).exists(),
        "the pid file is removed when Envoy is stopped in order"
    );
    println!(
        "a_killed_meshcd_leaves_envoy_serving_and_its_successor_adopts_it: {:?}",
        started.elapsed()
    );
}

/// Stops an [`EnvoyProcess`] and kills by pid every Envoy left on the folder, even when the test
/// fails.
struct Cleanup {
    folder: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in pgrep(&self.folder) {
            signal(pid, "-KILL");
        }
    }
}

#[test]
fn an_envoy_left_by_a_panic_is_adopted_and_a_stale_pid_file_is_not() {
    let _serial = serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(detached_then_stale());
}

async fn detached_then_stale() {
    let binary = envoy_binary();
    let tmp = tempfile::tempdir().expect("temp dir");
    let _cleanup = Cleanup {
        folder: tmp.path().display().to_string(),
    };
    let options = || {
        let mut options = EnvoyOptions::new(&binary, tmp.path(), 0);
        options.concurrency = Some(1);
        options
    };

    let first = EnvoyProcess::start(options()).await.expect("start Envoy");
    assert!(
        matches!(first.origin(), Some(Origin::Started { not_adopted: None })),
        "{:?}",
        first.origin()
    );
    let pid = first.pid().expect("running");
    let admin = first.admin_url().to_string();
    assert_eq!(
        process_group(pid),
        Some(pid),
        "Envoy runs in its own process group"
    );
    // meshcd panics while it holds the Envoy: unwinding leaves Envoy running, with its pid file.
    let panicked = std::thread::spawn(move || {
        let _held = first;
        panic!("a panic while holding the Envoy (expected by this test)");
    })
    .join();
    assert!(panicked.is_err());
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "Envoy {pid} runs on"
    );

    let mut second = EnvoyProcess::start(options()).await.expect("adopt Envoy");
    assert_eq!(second.pid(), Some(pid), "adopted, not replaced");
    assert_eq!(second.admin_url(), admin, "the recorded admin port");
    match second.origin() {
        Some(Origin::Adopted { differences }) => {
            assert!(differences.is_empty(), "{differences:?}")
        }
        other => panic!("expected an adopted Envoy, got {other:?}"),
    }
    assert!(
        second.logs().lines().iter().any(|l| l.contains("adopted")),
        "{:?}",
        second.logs().lines()
    );
    second
        .wait_ready(Duration::from_secs(5))
        .await
        .expect("the adopted Envoy is ready");

    // Left running again, then killed behind meshcd's back: its pid file is stale.
    second.detach();
    drop(second);
    assert!(signal(pid, "-KILL"), "kill -9 {pid}");
    let deadline = Instant::now() + WAIT;
    while !gone(pid) {
        assert!(Instant::now() < deadline, "Envoy {pid} did not die");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut third = EnvoyProcess::start(options())
        .await
        .expect("start a new Envoy");
    let new_pid = third.pid().expect("running");
    assert_ne!(new_pid, pid, "a new Envoy");
    match third.origin() {
        Some(Origin::Started {
            not_adopted: Some(NotAdoptable::Gone { pid: stale }),
        }) => assert_eq!(*stale, pid),
        other => panic!("expected a new Envoy over a stale pid file, got {other:?}"),
    }
    let record = PidRecord::read(&pid_path(tmp.path()))
        .expect("readable")
        .expect("recorded");
    assert_eq!(record.pid, new_pid, "the pid file names the new Envoy");
    third.stop();
    assert!(
        !pid_path(tmp.path()).exists(),
        "stopping Envoy removes its pid file"
    );
}

/// With `delivery: ads` too: a killed meshcd leaves its Envoy serving, the restarted one
/// adopts it (checked against the resource files written after every ACKed apply), serves it
/// the last applied configuration from the start (nothing changes for it), and applies the
/// next commit through the new xDS server.
#[test]
fn with_ads_a_killed_meshcd_leaves_envoy_serving_and_its_successor_adopts_it() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start_with_envoy(100, 0, ONE_STEP_POLICY, "", "    delivery: ads\n");
    let envoy = the_envoy(&s, "at start");
    let commit = s.commit_route(0, 100);
    s.daemon.wait_applied(&commit);
    s.assert_all("target-green", 20, "0/100 applied over ADS");

    let load = s.load(RATE);
    load.wait_for_more(&LoadCounts::default(), 50);
    s.daemon.kill9();
    let down = load.counts();
    let while_down = load.wait_for_more(&down, 100).since(&down);
    assert_eq!(
        while_down.failed(),
        0,
        "requests failed while meshcd was down: {while_down:?}"
    );
    assert!(served_is(&s, 0, 100), "{:?}", served_weights(s.admin_port));

    s.restart_daemon_over_orphans();
    assert_eq!(
        the_envoy(&s, "after the restart"),
        envoy,
        "the restarted meshcd replaced the Envoy instead of adopting it\n{}",
        s.daemon.log_tail()
    );
    assert!(
        s.daemon.log_lines("not adopting").is_empty(),
        "{}",
        s.daemon.log_tail()
    );
    s.daemon.wait_until("the Envoy reconnected over xDS", |d| {
        let (_, body) = d.get("/api/v1/xds");
        serde_json::from_str::<Value>(&body)
            .ok()
            .is_some_and(|v| v["envoys"].as_array().is_some_and(|e| e.len() == 1))
    });
    let restarted = load.counts();
    let after = load.wait_for_more(&restarted, 100).since(&restarted);
    assert_eq!(
        after.failed(),
        0,
        "requests failed after the restart: {after:?}"
    );
    let back = s.commit_route(100, 0);
    s.daemon.wait_applied(&back);
    s.assert_all("target", 20, "100/0 applied by the new meshcd");
    let total = load.stop();
    assert_eq!(
        total.failed(),
        0,
        "no request failed at any point: {total:?}"
    );
    s.shut_down();
    println!("with_ads_a_killed_meshcd...: {:?}", started.elapsed());
}
