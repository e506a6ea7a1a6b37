//! Commit-to-live benchmark of the real `meshcd run` (release binary) with a real Envoy: how
//! long from `git commit` until Envoy serves the new weights, with the `.git` watcher and with a
//! GitHub webhook; the cost of a no-op reconcile; and applying 1,000 routes. Prints tables of
//! min / median / p95 / max (no assertions on time).
//!
//! Run: `cargo build --release && MESHCD_ENVOY=/path/to/envoy cargo bench --bench commit_to_live`.
//!
//! Everything runs on loopback, on ports chosen free at run time: two `meshcd sample-backend`
//! processes (`a` and `b`), and one `meshcd run` (with its managed Envoy) per scenario. Commits
//! are made in process with libgit2 (`git2`: stage the work tree, write the tree, commit and move
//! `refs/heads/main`, like `git commit -am`); T0 is taken right before that call, after the
//! files were written. T1 is when the first answer from the new backend arrives, with requests
//! sent back to back through Envoy (one connection each). Every process started here is stopped
//! on drop, and the run ends by checking that none is left.
//!
//! A weight-only commit is a rollout (see `agent/src/rollout/mod.rs`): without a policy it would
//! walk through the default steps (10, 50, 100 %, 30 s each). Both repositories therefore carry
//! a RolloutPolicy selecting every route (`*.meshapps.internal`) with one step of 100 %,
//! `bakeTime: 0s` and `analysis: {provider: none}`, so that each commit still applies in one
//! step: what is measured stays commit -> new weights live, now through the rollout engine.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use git2::{Oid, Repository};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use common::{
    backends, commit, free_port, init_repo, loopback, ms, newer_source, run_release_bench,
    split_route, stop_child, summary, write, Daemon, DaemonOptions, Res, WAIT,
};

/// The deliveries scenarios 1 and 4 are measured with (`target.envoy.delivery`).
const DELIVERIES: [&str; 2] = ["files", "ads"];
/// Commits per trigger scenario (1 and 2).
const ITERATIONS: usize = 30;
/// Manual no-op reconciles (scenario 3).
const NOOP_RECONCILES: usize = 100;
/// Routes of scenario 4, in `ROUTE_FILES` files.
const ROUTES: usize = 1000;
const ROUTE_FILES: usize = 100;
/// Backends of scenario 4 (even ones point at `a`, odd ones at `b`).
const BACKENDS: usize = 20;
/// Commits of each kind in scenario 4.
const BIG_ITERATIONS: usize = 5;
/// Extra commits of each kind measured without traffic (only the status is polled, every 5 ms),
/// to show how much the request loop slows meshcd down on a small machine.
const QUIET_ITERATIONS: usize = 10;
const BIG_QUIET_ITERATIONS: usize = 3;
/// Answers in a row from the new backend that count as "live" when the old weights already
/// sent some traffic there (90/10 -> 0/100); 1 when the old weights sent none.
const STREAK: u32 = 20;
/// The host of scenarios 1-3.
const FLIP_HOST: &str = "flip.meshapps.internal";
const WEBHOOK_SECRET: &str = "commit-to-live-bench-secret";

fn main() -> ExitCode {
    run_release_bench("commit_to_live", "meshcd-c2l-", run)
}

fn run(meshcd: &Path, envoy: &Path, tmp: &Path, root: &Path) -> Res<()> {
    println!("meshcd commit-to-live benchmark");
    println!("meshcd: {}", meshcd.display());
    if let Some(newer) = newer_source(meshcd, &root.join("agent")) {
        println!(
            "warning: {} is newer than the binary; rebuild with `cargo build --release`",
            newer.display()
        );
    }
    println!("Envoy:  {}", envoy.display());
    println!(
        "commits: git2 in process (stage + write tree + commit + move refs/heads/main); T0 just \
         before that call, T1 = first answer from the new backend (requests back to back through \
         Envoy, a new connection each)"
    );
    println!(
        "N + M commits: N measured with that request loop running, then M with no traffic (the \
         status polled every 5 ms; \"no traffic\" rows): on 2 cores the loop slows meshcd down"
    );
    let a = SampleBackend::start(meshcd, "a")?;
    let b = SampleBackend::start(meshcd, "b")?;

    // ---- The two-backend repository of scenarios 1-3.
    let repo_dir = tmp.join("flip-repo");
    let repo = init_repo(&repo_dir)?;
    write(
        &repo_dir.join("meshcd/backends.yaml"),
        &backends(&[("a", a.port), ("b", b.port)]),
    )?;
    write(&repo_dir.join("routes/flip.yaml"), &flip_route(100, 0))?;
    write(
        &repo_dir.join("meshcd/rollout-policy.yaml"),
        ONE_STEP_POLICY,
    )?;
    commit(&repo, "flip 100/0")?;
    // Commits made so far on the flipping route: commit `step` moves it as `flip(step)` says.
    let mut step = 0;
    let secret_file = tmp.join("github-secret");
    write(&secret_file, WEBHOOK_SECRET)?;

    // ---- 1. notify trigger, with each delivery.
    for delivery in DELIVERIES {
        let mut watch = Stats::default();
        {
            let daemon = start_daemon(
                meshcd,
                envoy,
                tmp,
                &format!("notify-{delivery}"),
                &repo_dir,
                true,
                None,
                delivery,
            )?;
            // The second delivery starts where the first left the repository.
            let head = repo.head()?.peel_to_commit()?.id();
            daemon.wait_applied(&head)?;
            let serving = if step == 0 { "a" } else { flip(step - 1).2 };
            wait_for_backend(daemon.http_port, FLIP_HOST, serving, 1)?;
            for i in 0..ITERATIONS + QUIET_ITERATIONS {
                let (wa, wb, want) = flip(step);
                step += 1;
                let sample = measure_flip(
                    &repo,
                    &daemon,
                    || write(&repo_dir.join("routes/flip.yaml"), &flip_route(wa, wb)),
                    || Ok(None),
                    (FLIP_HOST, want, 1),
                    i >= ITERATIONS,
                )?;
                watch.push(sample);
            }
            watch.triggers = daemon.status()?["triggersSeen"].to_string();
        }
        println!();
        println!(
        "1. notify trigger (watch: true, pollInterval: 0s), delivery: {delivery}: route flipping 100/0 <-> 0/100, {ITERATIONS} + {QUIET_ITERATIONS} commits"
    );
        watch.print();
    }

    // ---- 2. webhook trigger, then 3. no-op reconciles on the same daemon.
    let mut hook = Stats::default();
    let mut noop;
    {
        let daemon = start_daemon(
            meshcd,
            envoy,
            tmp,
            "webhook",
            &repo_dir,
            false,
            Some(&secret_file),
            "files",
        )?;
        let head = repo.head()?.peel_to_commit()?.id();
        daemon.wait_applied(&head)?;
        for i in 0..ITERATIONS + QUIET_ITERATIONS {
            let (wa, wb, want) = flip(step);
            step += 1;
            let sample = measure_flip(
                &repo,
                &daemon,
                || write(&repo_dir.join("routes/flip.yaml"), &flip_route(wa, wb)),
                || {
                    let started = Instant::now();
                    daemon.github_push()?;
                    Ok(Some(ms(started.elapsed())))
                },
                (FLIP_HOST, want, 1),
                i >= ITERATIONS,
            )?;
            hook.push(sample);
        }
        hook.triggers = daemon.status()?["triggersSeen"].to_string();
        noop = noop_reconciles(&daemon)?;
    }
    println!();
    println!(
        "2. webhook trigger (watch: false, pollInterval: 0s): commit, then POST /webhook/github, {ITERATIONS} + {QUIET_ITERATIONS} commits"
    );
    hook.print();
    println!();
    println!(
        "3. no-op reconcile: POST /api/v1/reconcile with nothing changed, {NOOP_RECONCILES} times, one at a time"
    );
    noop.print();

    // ---- 4. 1,000 routes, with each delivery.
    for delivery in DELIVERIES {
        let mut big = big_routes(meshcd, envoy, tmp, &a, &b, delivery)?;
        println!();
        println!(
            "4. {ROUTES} HttpRoutes in {ROUTE_FILES} files ({} docs each), {BACKENDS} Backends on the two sample backends; watch: true, delivery: {delivery}",
            ROUTES / ROUTE_FILES
        );
        big.print();
    }

    println!();
    println!(
        "Envoy's own RDS reload: see `cargo bench --bench envoy_reload` (≈2–3 ms median here)"
    );
    drop((a, b));
    Ok(())
}

/// Weights and the backend that should answer after commit `i` of a flipping scenario.
fn flip(i: usize) -> (u32, u32, &'static str) {
    if i.is_multiple_of(2) {
        (0, 100, "b")
    } else {
        (100, 0, "a")
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// One commit measured.
struct Flip {
    live_ms: f64,
    commit_ms: f64,
    trigger_ms: Option<f64>,
    reconcile_ms: Option<f64>,
    requests: u32,
    /// Measured without traffic: until the status shows the commit applied.
    quiet: bool,
}

#[derive(Default)]
struct Stats {
    live: Vec<f64>,
    commit: Vec<f64>,
    trigger: Vec<f64>,
    reconcile: Vec<f64>,
    requests: Vec<f64>,
    quiet_applied: Vec<f64>,
    quiet_reconcile: Vec<f64>,
    /// Commits whose own reconcile was overwritten in the status by a later one before it was
    /// read (its duration is then unknown).
    missed: usize,
    triggers: String,
}

impl Stats {
    fn push(&mut self, flip: Flip) {
        let (live, reconcile) = if flip.quiet {
            (&mut self.quiet_applied, &mut self.quiet_reconcile)
        } else {
            self.requests.push(f64::from(flip.requests));
            (&mut self.live, &mut self.reconcile)
        };
        live.push(flip.live_ms);
        match flip.reconcile_ms {
            Some(ms) => reconcile.push(ms),
            None => self.missed += 1,
        }
        self.commit.push(flip.commit_ms);
        self.trigger.extend(flip.trigger_ms);
    }

    fn print(&mut self) {
        summary("commit -> traffic on the new backend", &mut self.live, "ms");
        summary("  of which the git2 commit call", &mut self.commit, "ms");
        if !self.trigger.is_empty() {
            summary(
                "  POST /webhook/github answered 202",
                &mut self.trigger,
                "ms",
            );
        }
        summary(
            "meshcd reconcile (status durationSeconds)",
            &mut self.reconcile,
            "ms",
        );
        summary(
            "requests through Envoy until the flip",
            &mut self.requests,
            "req",
        );
        if !self.quiet_applied.is_empty() {
            summary(
                "no traffic: commit -> status appliedCommit",
                &mut self.quiet_applied,
                "ms",
            );
            summary(
                "no traffic: meshcd reconcile",
                &mut self.quiet_reconcile,
                "ms",
            );
        }
        if self.missed > 0 {
            println!(
                "  ({} reconciles not read: a later one was in the status first)",
                self.missed
            );
        }
        if !self.triggers.is_empty() {
            println!("  triggersSeen: {}", self.triggers);
        }
    }
}

/// Writes (with `write`), commits (T0 just before), triggers (with `trigger`, which may time
/// itself), waits for traffic on the new backend (`(host, backend, answers in a row)`), then
/// for the status to show the commit applied.
fn measure_flip(
    repo: &Repository,
    daemon: &Daemon,
    write: impl FnOnce() -> Res<()>,
    trigger: impl FnOnce() -> Res<Option<f64>>,
    (host, want, streak): (&str, &str, u32),
    quiet: bool,
) -> Res<Flip> {
    if streak == 1 {
        // The old weights must send nothing to `want`, or the first answer proves nothing.
        if let Ok((200, body)) = http(loopback(daemon.http_port), "GET", "/", host, &[], b"") {
            if body.trim() == want {
                return Err(
                    format!("{host} is already served by `{want}` before the commit").into(),
                );
            }
        }
    }
    write()?;
    let t0 = Instant::now();
    let oid = commit(repo, &format!("{host} -> {want}"))?;
    let commit_ms = ms(t0.elapsed());
    let trigger_ms = trigger()?;
    let commit_id = oid.to_string();
    let applied = |s: &Value| s["appliedCommit"] == commit_id.as_str();
    let (live_ms, requests, status) = if quiet {
        let status = daemon.wait_status("the commit applied", Duration::from_millis(5), applied)?;
        let live_ms = ms(t0.elapsed());
        // Not timed: check that the traffic did move.
        wait_for_backend(daemon.http_port, host, want, streak)
            .map_err(|e| daemon.failure(&format!("commit {oid}: {e}")))?;
        (live_ms, 0, status)
    } else {
        let (t1, requests) = wait_for_backend(daemon.http_port, host, want, streak)
            .map_err(|e| daemon.failure(&format!("commit {oid}: {e}")))?;
        let status = daemon.wait_status("the commit applied", Duration::ZERO, applied)?;
        (ms(t1.duration_since(t0)), requests, status)
    };
    let outcome = &status["lastOutcome"];
    let reconcile_ms = (outcome["commit"] == commit_id.as_str() && outcome["action"] == "applied")
        .then(|| outcome["durationSeconds"].as_f64())
        .flatten()
        .map(|s| s * 1000.0);
    Ok(Flip {
        live_ms,
        commit_ms,
        trigger_ms,
        reconcile_ms,
        requests,
        quiet,
    })
}

/// Sends requests for `host` through Envoy back to back until `streak` answers in a row come
/// from `want`; returns when the first of them arrived, and how many requests were sent.
fn wait_for_backend(port: u16, host: &str, want: &str, streak: u32) -> Res<(Instant, u32)> {
    let deadline = Instant::now() + WAIT;
    let addr = loopback(port);
    let (mut sent, mut run, mut first) = (0u32, 0u32, Instant::now());
    let mut last = String::new();
    while Instant::now() < deadline {
        sent += 1;
        let answer = http(addr, "GET", "/", host, &[], b"");
        let now = Instant::now();
        match answer {
            Ok((200, body)) if body.trim() == want => {
                if run == 0 {
                    first = now;
                }
                run += 1;
                if run >= streak {
                    return Ok((first, sent));
                }
            }
            other => {
                run = 0;
                last = format!("{other:?}");
            }
        }
    }
    Err(format!(
        "{host}: no {streak} answers in a row from `{want}` within {WAIT:?} (last: {last})"
    )
    .into())
}

struct Noop {
    status_us: Vec<f64>,
    round_trip: Vec<f64>,
    post: Vec<f64>,
    histogram_mean_us: f64,
    histogram_count: f64,
    unchanged: f64,
    actions: String,
}

impl Noop {
    fn print(&mut self) {
        summary(
            "meshcd reconcile (status durationSeconds)",
            &mut self.status_us,
            "µs",
        );
        println!(
            "{:<46} mean {:>8.1} µs over {} reconciles ({} counted result=\"unchanged\")",
            "meshcd reconcile (histogram sum/count delta)",
            self.histogram_mean_us,
            self.histogram_count,
            self.unchanged
        );
        summary(
            "POST -> status shows it finished",
            &mut self.round_trip,
            "ms",
        );
        summary("  of which POST answered 202", &mut self.post, "ms");
        println!("  outcomes: {}", self.actions);
    }
}

/// Scenario 3 on an idle daemon that applied HEAD.
fn noop_reconciles(daemon: &Daemon) -> Res<Noop> {
    daemon.wait_status("an idle daemon", Duration::from_millis(5), |s| {
        s["inProgress"].is_null()
    })?;
    let before = daemon.metrics()?;
    let mut count = daemon.status()?["reconciles"].as_u64().unwrap_or(0);
    let (mut status_us, mut round_trip, mut post) = (vec![], vec![], vec![]);
    let mut actions = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..NOOP_RECONCILES {
        let started = Instant::now();
        let (code, body) = daemon.request("POST", "/api/v1/reconcile", &[], b"")?;
        post.push(ms(started.elapsed()));
        if code != 202 {
            return Err(daemon.failure(&format!("POST /api/v1/reconcile answered {code}: {body}")));
        }
        let status = daemon.wait_status(
            "the manual reconcile to finish",
            Duration::from_micros(200),
            |s| s["reconciles"].as_u64().unwrap_or(0) > count,
        )?;
        round_trip.push(ms(started.elapsed()));
        count = status["reconciles"].as_u64().unwrap_or(count + 1);
        let outcome = &status["lastOutcome"];
        *actions
            .entry(outcome["action"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
        if let Some(seconds) = outcome["durationSeconds"].as_f64() {
            status_us.push(seconds * 1e6);
        }
    }
    let after = daemon.metrics()?;
    let delta = |name: &str| metric(&after, name) - metric(&before, name);
    let sum = delta("meshcd_reconcile_duration_seconds_sum");
    let histogram_count = delta("meshcd_reconcile_duration_seconds_count");
    let unchanged = delta("meshcd_reconcile_total{trigger=\"manual\",result=\"unchanged\"}");
    Ok(Noop {
        status_us,
        round_trip,
        post,
        histogram_mean_us: sum / histogram_count.max(1.0) * 1e6,
        histogram_count,
        unchanged,
        actions: format!("{actions:?}"),
    })
}

struct Big {
    first_apply_wall: f64,
    first_apply_reconcile: f64,
    listening: f64,
    all: Stats,
    one: Stats,
    files: usize,
    bytes: usize,
}

impl Big {
    fn print(&mut self) {
        println!(
            "{:<46} {:>8.0} ms  ({} files, {:.0} KiB of YAML)",
            "first apply: daemon start -> appliedCommit",
            self.first_apply_wall,
            self.files,
            self.bytes as f64 / 1024.0
        );
        println!(
            "{:<46} {:>8.0} ms",
            "  of which start -> listening (Envoy up)", self.listening
        );
        println!(
            "{:<46} {:>8.0} ms",
            "  meshcd reconcile (status durationSeconds)", self.first_apply_reconcile
        );
        println!(
            "commit reweighting all {ROUTES} routes (90/10 -> 0/100, then 100/0 <-> 0/100), {BIG_ITERATIONS} + {BIG_QUIET_ITERATIONS} commits; one host sampled per commit:"
        );
        self.all.print();
        println!("commit flipping 1 route of {ROUTES} (100/0 <-> 0/100), {BIG_ITERATIONS} + {BIG_QUIET_ITERATIONS} commits; that route's host:");
        self.one.print();
    }
}

/// Scenario 4.
fn big_routes(
    meshcd: &Path,
    envoy: &Path,
    tmp: &Path,
    a: &SampleBackend,
    b: &SampleBackend,
    delivery: &str,
) -> Res<Big> {
    let dir = tmp.join(format!("big-repo-{delivery}"));
    let repo = init_repo(&dir)?;
    let pairs: Vec<(String, u16)> = (0..BACKENDS)
        .map(|k| {
            let port = if k % 2 == 0 { a.port } else { b.port };
            (format!("be-{k:02}"), port)
        })
        .collect();
    let named: Vec<(&str, u16)> = pairs.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    write(&dir.join("meshcd/backends.yaml"), &backends(&named))?;
    write(&dir.join("meshcd/rollout-policy.yaml"), ONE_STEP_POLICY)?;
    let mut weights = vec![(90u32, 10u32); ROUTES];
    let mut bytes = 0;
    for file in 0..ROUTE_FILES {
        bytes += write_big_file(&dir, file, &weights)?;
    }
    let first = commit(&repo, &format!("{ROUTES} routes, 90/10"))?;

    let started = Instant::now();
    let daemon = start_daemon(
        meshcd,
        envoy,
        tmp,
        &format!("big-{delivery}"),
        &dir,
        true,
        None,
        delivery,
    )?;
    let listening = ms(daemon.listening.duration_since(started));
    let status = daemon.wait_status("the first apply", Duration::from_millis(5), |s| {
        s["appliedCommit"] == first.to_string().as_str()
    })?;
    let first_apply_wall = ms(started.elapsed());
    let first_apply_reconcile = status["lastOutcome"]["durationSeconds"]
        .as_f64()
        .unwrap_or(f64::NAN)
        * 1000.0;

    let mut all = Stats::default();
    for i in 0..BIG_ITERATIONS + BIG_QUIET_ITERATIONS {
        let (wa, wb, want) = flip(i);
        let host = (737 + 211 * i) % ROUTES;
        // 90/10 -> 0/100 already sent some traffic to `b`: ask for answers in a row.
        let old = if want == "a" {
            weights[host].0
        } else {
            weights[host].1
        };
        let streak = if old == 0 { 1 } else { STREAK };
        let sample = measure_flip(
            &repo,
            &daemon,
            || {
                weights.iter_mut().for_each(|w| *w = (wa, wb));
                for file in 0..ROUTE_FILES {
                    write_big_file(&dir, file, &weights)?;
                }
                Ok(())
            },
            || Ok(None),
            (&big_host(host), want, streak),
            i >= BIG_ITERATIONS,
        )?;
        all.push(sample);
    }
    let mut one = Stats::default();
    for i in 0..BIG_ITERATIONS + BIG_QUIET_ITERATIONS {
        let route = (123 + 97 * i) % ROUTES;
        let (wa, wb) = weights[route];
        let want = if wa == 0 { "a" } else { "b" };
        let sample = measure_flip(
            &repo,
            &daemon,
            || {
                weights[route] = (wb, wa);
                write_big_file(&dir, route / (ROUTES / ROUTE_FILES), &weights).map(|_| ())
            },
            || Ok(None),
            (&big_host(route), want, 1),
            i >= BIG_ITERATIONS,
        )?;
        one.push(sample);
    }
    one.triggers = daemon.status()?["triggersSeen"].to_string();
    drop(daemon);
    Ok(Big {
        first_apply_wall,
        first_apply_reconcile,
        listening,
        all,
        one,
        files: ROUTE_FILES + 1,
        bytes,
    })
}

fn big_host(route: usize) -> String {
    format!("svc-{route}.meshapps.internal")
}

/// Writes file `file` of scenario 4 (10 routes); returns its size.
fn write_big_file(dir: &Path, file: usize, weights: &[(u32, u32)]) -> Res<usize> {
    let per_file = ROUTES / ROUTE_FILES;
    let docs: Vec<String> = (file * per_file..(file + 1) * per_file)
        .map(|n| {
            let pair = n % (BACKENDS / 2);
            let (wa, wb) = weights[n];
            let (a, b) = (
                format!("be-{:02}", 2 * pair),
                format!("be-{:02}", 2 * pair + 1),
            );
            split_route(&format!("svc-{n}"), &big_host(n), (&a, wa), (&b, wb))
        })
        .collect();
    let text = docs.join("---\n");
    write(&dir.join(format!("routes/routes-{file:03}.yaml")), &text)?;
    Ok(text.len())
}

// ---------------------------------------------------------------------------------------------
// Repository content.

/// Every route of both repositories (all on `*.meshapps.internal`) moves its weights in one
/// step, with no bake and no analysis: a commit applies at once, as before rollouts existed.
const ONE_STEP_POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: one-step
spec:
  selector:
    hostnames:
    - '*.meshapps.internal'
  steps: [100]
  bakeTime: 0s
  analysis:
    provider: none
";

/// The route of scenarios 1-3 at `a` / `b`.
fn flip_route(a: u32, b: u32) -> String {
    split_route("flip-route", FLIP_HOST, ("a", a), ("b", b))
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// `meshcd sample-backend` on a free port; stopped on drop.
struct SampleBackend {
    child: Child,
    port: u16,
}

impl SampleBackend {
    fn start(meshcd: &Path, name: &str) -> Res<Self> {
        let port = free_port()?;
        let child = Command::new(meshcd)
            .args(["sample-backend", "--name", name, "--listen"])
            .arg(loopback(port).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut backend = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(loopback(port)).is_err() {
            if let Some(status) = backend.child.try_wait()? {
                return Err(format!("sample backend `{name}` exited: {status}").into());
            }
            if Instant::now() > deadline {
                return Err(format!("sample backend `{name}` did not listen on {port}").into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        backend.port = port;
        Ok(backend)
    }
}

impl Drop for SampleBackend {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// `meshcd run` on `repo` in `<tmp>/<name>`, with a GitHub webhook when given its secret file,
/// and `delivery` as `target.envoy.delivery`.
#[allow(clippy::too_many_arguments)] // each scenario's choices, spelt out at its one call
fn start_daemon(
    meshcd: &Path,
    envoy: &Path,
    tmp: &Path,
    name: &str,
    repo: &Path,
    watch: bool,
    github_secret: Option<&Path>,
    delivery: &str,
) -> Res<Daemon> {
    let extra = github_secret
        .map(|file| {
            format!(
                "webhook:\n  githubSecretFile: {}\n  branch: main\n",
                file.display()
            )
        })
        .unwrap_or_default();
    let options = DaemonOptions {
        name,
        watch,
        extra,
        rust_log: "warn",
        envoy_extra: format!("    delivery: {delivery}\n"),
    };
    Daemon::start(meshcd, envoy, tmp, repo, options)
}

/// What this benchmark asks of a [`Daemon`]: its API, its metrics, webhooks and waits.
impl Daemon {
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Res<(u16, String)> {
        http(self.addr, method, path, "localhost", headers, body)
            .map_err(|e| self.failure(&format!("{method} {path}: {e}")))
    }

    fn status(&self) -> Res<Value> {
        let (code, body) = self.request("GET", "/api/v1/status", &[], b"")?;
        if code != 200 {
            return Err(self.failure(&format!("/api/v1/status answered {code}: {body}")));
        }
        Ok(serde_json::from_str(&body)?)
    }

    fn metrics(&self) -> Res<String> {
        let (code, body) = self.request("GET", "/metrics", &[], b"")?;
        if code != 200 {
            return Err(self.failure(&format!("/metrics answered {code}")));
        }
        Ok(body)
    }

    /// A signed GitHub push of `refs/heads/main`; expects 202.
    fn github_push(&self) -> Res<()> {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes())?;
        mac.update(body);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let (code, answer) = self.request(
            "POST",
            "/webhook/github",
            &[
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", &signature),
                ("Content-Type", "application/json"),
            ],
            body,
        )?;
        if code != 202 {
            return Err(self.failure(&format!("POST /webhook/github answered {code}: {answer}")));
        }
        Ok(())
    }

    /// Polls the status (every `tick`) until `check` holds; fails after [`WAIT`] or on exit.
    fn wait_status(
        &self,
        what: &str,
        tick: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Res<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let status = self.status()?;
            if check(&status) {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(self.failure(&format!(
                    "timed out after {WAIT:?} waiting for {what}; last status: {status}"
                )));
            }
            if !tick.is_zero() {
                std::thread::sleep(tick);
            }
        }
    }

    fn wait_applied(&self, commit: &Oid) -> Res<Value> {
        let want = commit.to_string();
        self.wait_status(&format!("{want} applied"), Duration::from_millis(5), |s| {
            s["appliedCommit"] == want.as_str()
        })
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 over loopback, one connection per request.

fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| e.to_string())?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head in {text:?}"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        code,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the metric line starting with `name ` (0 when absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}
