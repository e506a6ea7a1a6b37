//! Rollback benchmark of the real `meshcd run` (release binary) with a real Envoy: a canary
//! that starts failing every request at a known instant T0, under a fixed request rate. How long
//! until the rollback is live in Envoy, and how many client requests failed, beside the
//! statistical minimum and what Flagger's defaults would give on the same traffic. Also: how
//! long a healthy step's weights take from publish to live (weight-only steps skip
//! `envoy --mode validate`). Prints tables of min / median / max (no assertions on time).
//!
//! Run: `cargo build --release && MESHCD_ENVOY=/path/to/envoy cargo bench --bench rollback`.
//! `MESHCD_BENCH_TRIALS` (default 5) sets the trials per configuration, `MESHCD_BENCH_RATE`
//! (default 200) the request rate, `MESHCD_BENCH_INTERVALS` (e.g. `1s,250ms`) the intervals
//! tried; `MESHCD_BENCH_VERBOSE=1` also prints when each trial's verdicts were seen.
//!
//! # Scenario
//! Everything runs on loopback, on ports chosen free at run time. Two in-process HTTP backends
//! (`stable` and `canary`, the test helper `tests/common/backend.rs`: each answers with its
//! name, with a status set through an atomic switch). One `meshcd run` (with its managed Envoy)
//! watches a repository written here with libgit2: the route `canary-route` (host
//! `canary.bench.internal`, no retries) at stable 100 / canary 0, and a RolloutPolicy shaped like
//! Flagger's defaults but on meshcd's clock: `stepWeight: 10`, `bakeTime: 30s`,
//! `analysis: {provider: envoy, interval: 1s | 500ms | 250ms, minRequests: 20, confidence: 0.99,
//! successRate: {min: 99}}`, `onFailure: rollback`.
//!
//! A load generator sends a fixed rate of GETs through Envoy's listener for the whole run (open
//! loop: one request every 1/rate s whatever the answers, several keep-alive connections as
//! needed, 2 s timeout) and records each request's send time, status and answering backend.
//! Each trial commits stable 0 / canary 100 (a weight move: a rollout), waits until the first
//! step (canary 10 %) is live and the canary served [`HEALTHY_BEFORE`] healthy requests in it,
//! then waits for one of the judge's reads (a judgement shows in `GET /api/v1/rollouts` as new
//! conditions, polled every 10 ms) and (k + 0.5) / n of an analysis interval more in trial k of
//! n, so that the trials cover every point between two reads; then it switches the canary to
//! 503 for every request (T0) and measures:
//!
//! - **T0 → rollback published**: the modification time of the `rds.yaml` meshcd writes into
//!   Envoy's folder for the rollback (the judge's verdict plus a few ms);
//! - **T0 → rollback live**: Envoy's `/config_dump` serves canary 0 again (polled every 2 ms);
//! - **T0 → last canary answer** seen by the client;
//! - **failed client requests**: every answer that was not 200 (or no answer) in the trial.
//!
//! A trial ends rolled back: the route is held at 100/0 and the commit marked failed. The next
//! trial's commit (the policy file changes) starts a new rollout from 100/0.
//!
//! # The statistical floor
//! To reject "the canary's success rate is at least s = 99 %" at confidence c = 0.99 from a
//! sample in which all n canary requests failed, the exact binomial bound is enough: under the
//! hypothesis each request fails with probability at most 1 − s, so
//! P(n failures out of n) ≤ (1 − s)^n = 0.01^n, and the hypothesis is rejected once that is at
//! most 1 − c: n ≥ ln(1 − c) / ln(1 − s) = ln 0.01 / ln 0.01 = 1. **One failed canary request
//! is the minimum** at 99 % / 0.99 (two at c = 0.999, 0.01² ≤ 0.001). meshcd's judge uses the
//! exact (Clopper-Pearson) upper bound with a strict comparison (`exact_upper(0, n, c) =
//! 1 − 0.01^(1/n)`, which is exactly 0.99 at n = 1 and 0.9 at n = 2), so its floor for an
//! all-failing sample is 2: one failed request alone never fails a step.
//!
//! The judge looks at the whole step's window, though, and the canary served h healthy
//! requests in the step before T0; then k failures are needed so that
//! P(at most h successes out of h + k | success rate 0.99) ≤ 1 − c (exact), or
//! `exact_upper(h, h + k, c) < 0.99` (the judge). Both are printed. On top of that the judge reads Envoy's counters once per
//! `interval`: a canary that fails from a random instant keeps failing for interval / 2 on
//! average before the next read, i.e. about rate × 10 % × interval / 2 requests, plus the
//! publish of the rollback.
//!
//! # Flagger, for comparison (a model, not measured)
//! With Flagger's defaults (interval 1 min, threshold 5, stepWeight 10) a canary that fails
//! every request at its first step is rolled back after about (threshold + 1) × interval =
//! 6 min, during which 10 % of the traffic reaches it: rate × 0.10 × 360 s failed requests
//! (7,200 at 200 req/s).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use git2::Repository;
use serde_json::Value;
use tokio::runtime::Runtime;

use common::backend::Backend;
use common::{
    backends, commit, init_repo, newer_source, run_release_bench, split_route, write, Daemon,
    DaemonOptions, Res, WAIT,
};

/// Analysis intervals tried.
const INTERVALS: [&str; 3] = ["1s", "500ms", "250ms"];
/// Healthy canary requests the first step serves before T0.
const HEALTHY_BEFORE: u64 = 20;
/// The policy's success rate (percent) and confidence.
const MIN_SUCCESS: f64 = 99.0;
const CONFIDENCE: f64 = 0.99;
/// The canary's share at the first step, in percent.
const FIRST_STEP: f64 = 10.0;
/// Flagger's defaults: analysis interval (s), failed-check threshold.
const FLAGGER_INTERVAL_S: f64 = 60.0;
const FLAGGER_THRESHOLD: f64 = 5.0;
/// Longest the load generator runs.
const LOAD_MAX: Duration = Duration::from_secs(900);
const HOST: &str = "canary.bench.internal";

fn main() -> ExitCode {
    run_release_bench("rollback", "meshcd-rollback-", run)
}

fn env_number(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

fn run(meshcd: &Path, envoy: &Path, tmp: &Path, root: &Path) -> Res<()> {
    let trials = env_number("MESHCD_BENCH_TRIALS", 5.0) as usize;
    let rate = env_number("MESHCD_BENCH_RATE", 200.0);
    let canary_rate = rate * FIRST_STEP / 100.0;
    println!("meshcd rollback benchmark");
    println!("meshcd: {}", meshcd.display());
    if let Some(newer) = newer_source(meshcd, &root.join("agent")) {
        println!(
            "warning: {} is newer than the binary; rebuild with `cargo build --release`",
            newer.display()
        );
    }
    println!("Envoy:  {}", envoy.display());
    println!(
        "traffic: {rate:.0} req/s through Envoy (open loop, keep-alive), canary at the first step \
         {FIRST_STEP:.0} % = {canary_rate:.0} req/s; policy stepWeight 10, bakeTime 30s, \
         provider envoy, minRequests 20, successRate >= {MIN_SUCCESS}% at confidence \
         {CONFIDENCE}, onFailure rollback; {trials} trials per interval"
    );
    println!(
        "T0: the canary starts answering 503 to every request, once step 1 is live and the \
         canary served {HEALTHY_BEFORE} healthy requests in it"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stable = Backend::start("stable");
    let canary = Backend::start("canary");

    let repo_dir = tmp.join("repo");
    let repo = init_repo(&repo_dir)?;
    write(
        &repo_dir.join("meshcd/backends.yaml"),
        &backends(&[("stable", stable.port()), ("canary", canary.port())]),
    )?;
    write(&repo_dir.join("routes/canary.yaml"), &route(100, 0))?;
    write(
        &repo_dir.join("meshcd/rollout-policy.yaml"),
        &policy("30s", "1s", "initial"),
    )?;
    let first = commit(&repo, "canary-route 100/0")?;

    let daemon = start_daemon(meshcd, envoy, tmp, &repo_dir)?;
    let api = Api::new(&runtime, daemon.addr)?;
    api.wait(&daemon, "the first commit applied", |api| {
        Ok(api.get("/api/v1/status")?["appliedCommit"] == first.to_string().as_str())
    })?;
    let monitor = Monitor::start(&runtime, daemon.admin_port, &daemon.work_dir);
    let load = Load::start(&runtime, daemon.http_port, rate);
    // The route serves stable only: wait for answers before the first trial.
    api.wait(&daemon, "traffic through Envoy", |_| {
        Ok(load.count(0, now_ns()) > 10)
    })?;

    let mut configs = Vec::new();
    let only = std::env::var("MESHCD_BENCH_INTERVALS").unwrap_or_default();
    for interval in INTERVALS
        .into_iter()
        .filter(|i| only.is_empty() || only.split(',').any(|o| o.trim() == *i))
    {
        let mut rows = Vec::new();
        for trial in 0..trials {
            let row = rollback_trial(
                &api,
                &daemon,
                &repo,
                &repo_dir,
                &canary,
                &monitor,
                &load,
                interval,
                (trial, trials),
            )?;
            rows.push(row);
        }
        configs.push((interval, rows));
    }

    // A healthy rollout through every step, for the publish -> live time of each step.
    let healthy = healthy_rollout(&api, &daemon, &repo, &repo_dir, &canary, &monitor, &load)?;

    load.stop(&runtime);
    monitor.stop();
    let publishes = daemon.publishes();
    drop(api);
    drop(daemon);
    runtime.shutdown_timeout(Duration::from_secs(2));
    drop((stable, canary));

    print_rollbacks(&configs, rate, trials);
    print_comparison(&configs, rate);
    println!();
    println!(
        "healthy rollout (stepWeight 10, bakeTime 2s, interval 250ms, same traffic): {} steps, \
         promoted {:.1} s after the commit, {} failed requests",
        healthy.steps, healthy.total_s, healthy.failed
    );
    let mut commit_live: Vec<f64> = configs
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| r.commit_live_ms))
        .chain(healthy.commit_live.iter().copied())
        .collect();
    summary(
        "commit -> step 1 live in Envoy (/config_dump)",
        &mut commit_live,
        "ms",
    );
    summary(
        "step publish (rds.yaml written) -> live",
        &mut healthy.step_live.clone(),
        "ms",
    );
    let (mut fast, slow): (Vec<f64>, Vec<f64>) = (
        publishes
            .iter()
            .filter(|p| !p.1)
            .map(|p| p.0)
            .collect::<Vec<_>>(),
        publishes
            .iter()
            .filter(|p| p.1)
            .map(|p| p.0)
            .collect::<Vec<_>>(),
    );
    summary(
        "meshcd's own rollout publishes (log total_ms)",
        &mut fast,
        "ms",
    );
    println!(
        "  (steps and rollbacks; fast path, validated=false); that ran `envoy --mode validate`: {} of {}",
        slow.len(),
        publishes.len()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Trials.

/// One rollback trial, times in ms from T0.
struct Row {
    commit_live_ms: f64,
    written_ms: f64,
    live_ms: f64,
    last_canary_ms: f64,
    failed: u64,
    failed_before: Vec<String>,
    healthy: u64,
    judged: String,
    /// When the API showed new conditions (ms from T0).
    reads: String,
    reason: String,
}

#[allow(clippy::too_many_arguments)]
fn rollback_trial(
    api: &Api<'_>,
    daemon: &Daemon,
    repo: &Repository,
    repo_dir: &Path,
    canary: &Backend,
    monitor: &Monitor,
    load: &Load,
    interval: &str,
    (trial, trials): (usize, usize),
) -> Res<Row> {
    canary.set_status(200);
    write(&repo_dir.join("routes/canary.yaml"), &route(0, 100))?;
    write(
        &repo_dir.join("meshcd/rollout-policy.yaml"),
        &policy(
            "30s",
            interval,
            &format!("interval {interval}, trial {trial}"),
        ),
    )?;
    let start = now_ns();
    let oid = commit(repo, &format!("canary 0/100, interval {interval}"))?.to_string();
    let step1 = api.wait(daemon, "step 1 live", |api| {
        Ok(api
            .rollout(&oid)?
            .filter(|r| r["phase"] == "progressing" && r["step"] == 1 && r["live"] == true))
    })?;
    let _ = step1;
    let commit_live = monitor
        .first_share_after(start, |share| share > 0.0, Duration::from_secs(2))
        .map_or(f64::NAN, |at| ms_between(start, at));
    let served_at_live = canary.requests();
    // Each judgement shows in the API as new conditions: note when (polled every 10 ms).
    let mut reads: Vec<(u64, String)> = Vec::new();
    let note_read = |reads: &mut Vec<(u64, String)>, r: &Value| {
        let seen = r["conditions"].to_string();
        if reads.last().is_none_or(|(_, last)| *last != seen) {
            reads.push((now_ns(), seen));
        }
    };
    api.wait(daemon, "healthy canary requests", |api| {
        if let Some(r) = api.rollout(&oid)? {
            note_read(&mut reads, &r);
        }
        Ok(canary.requests() >= served_at_live + HEALTHY_BEFORE)
    })?;
    // The judge reads every `interval`: T0 is placed at (trial + 0.5) / trials of an interval
    // after one of its reads, so that the trials cover every point between two reads.
    let seen = reads.len();
    api.wait(daemon, "a judgement", |api| {
        if let Some(r) = api.rollout(&oid)? {
            note_read(&mut reads, &r);
        }
        Ok(reads.len() > seen)
    })?;
    let period = meshcd_core::rollout::duration::parse(interval).unwrap_or_default();
    let until = Instant::now() + period.mul_f64((trial as f64 + 0.5) / trials as f64);
    api.wait(daemon, "T0", |api| {
        if let Some(r) = api.rollout(&oid)? {
            note_read(&mut reads, &r);
        }
        Ok(Instant::now() >= until)
    })?;
    // T0.
    canary.set_status(503);
    let t0 = now_ns();
    let healthy = canary.requests() - served_at_live;
    let done = api.wait(daemon, "the rollback", |api| {
        let Some(r) = api.rollout(&oid)? else {
            return Ok(None);
        };
        note_read(&mut reads, &r);
        Ok((r["phase"] == "rolled-back" && r["live"] == true).then_some(r))
    })?;
    let reads: Vec<String> = reads
        .iter()
        .skip(1)
        .map(|(at, _)| format!("{:+.0}", ms_between(t0, *at)))
        .collect();
    let live = monitor
        .first_share_after(t0, |share| share == 0.0, Duration::from_secs(2))
        .ok_or("Envoy never served canary 0 after the rollback")?;
    // The rollback's publish: the last rds.yaml write before Envoy served it.
    let written = monitor
        .writes()
        .into_iter()
        .filter(|w| *w >= t0 && *w <= live)
        .max();
    // Requests sent just before the rollback went live may still be on their way.
    std::thread::sleep(Duration::from_millis(300));
    let end = now_ns();
    let records = load.between(start, end);
    let failed = records.iter().filter(|r| r.status != 200).count() as u64;
    let failed_before = records
        .iter()
        // Answered before T0 (one sent just before T0 may reach the canary after the switch).
        .filter(|r| r.status != 200 && r.done < t0)
        .map(|r| {
            format!(
                "{} from `{}` answered at T0{:+.0} ms",
                r.status,
                r.backend,
                ms_between(t0, r.done)
            )
        })
        .collect();
    let last_canary = records
        .iter()
        .filter(|r| r.backend == "canary" && r.done >= t0)
        .map(|r| r.done)
        .max()
        .unwrap_or(t0);
    let judged = done["conditions"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        c["name"].as_str().unwrap_or("?"),
                        c["observed"].as_str().unwrap_or("-")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    Ok(Row {
        commit_live_ms: commit_live,
        written_ms: written.map_or(f64::NAN, |at| ms_between(t0, at)),
        live_ms: ms_between(t0, live),
        last_canary_ms: ms_between(t0, last_canary),
        failed,
        failed_before,
        healthy,
        judged,
        reads: reads.join(" "),
        reason: done["reason"].as_str().unwrap_or_default().to_string(),
    })
}

struct Healthy {
    steps: usize,
    total_s: f64,
    failed: u64,
    commit_live: Vec<f64>,
    step_live: Vec<f64>,
}

fn healthy_rollout(
    api: &Api<'_>,
    daemon: &Daemon,
    repo: &Repository,
    repo_dir: &Path,
    canary: &Backend,
    monitor: &Monitor,
    load: &Load,
) -> Res<Healthy> {
    canary.set_status(200);
    write(
        &repo_dir.join("meshcd/rollout-policy.yaml"),
        &policy("2s", "250ms", "healthy"),
    )?;
    let start = now_ns();
    let oid = commit(repo, "canary 0/100, healthy")?.to_string();
    let done = api.wait_for(daemon, "the promotion", Duration::from_secs(120), |api| {
        Ok(api.rollout(&oid)?.filter(|r| r["phase"] == "promoted"))
    })?;
    let end = now_ns();
    std::thread::sleep(Duration::from_millis(100));
    let failed = load
        .between(start, end)
        .iter()
        .filter(|r| r.status != 200)
        .count() as u64;
    // Each change of the served canary share, with the rds.yaml write that preceded it.
    let changes = monitor.changes_between(start, end);
    let writes = monitor.writes();
    let mut step_live = Vec::new();
    let mut commit_live = Vec::new();
    for (i, (at, _share)) in changes.iter().enumerate() {
        if i == 0 {
            commit_live.push(ms_between(start, *at));
        }
        if let Some(written) = writes.iter().copied().filter(|w| *w <= *at).max() {
            if written >= start {
                step_live.push(ms_between(written, *at));
            }
        }
    }
    Ok(Healthy {
        steps: done["steps"].as_u64().unwrap_or(0) as usize,
        total_s: ms_between(start, end) / 1000.0,
        failed,
        commit_live,
        step_live,
    })
}

// ---------------------------------------------------------------------------------------------
// Statistics of the floor.

/// ln P(X <= h) for X ~ Binomial(n, p).
fn ln_binomial_cdf(h: u64, n: u64, p: f64) -> f64 {
    let ln_choose = |n: u64, k: u64| -> f64 {
        (1..=k)
            .map(|i| ((n - k + i) as f64).ln() - (i as f64).ln())
            .sum()
    };
    let terms: Vec<f64> = (0..=h.min(n))
        .map(|i| ln_choose(n, i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln())
        .collect();
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// Fewest failures after `h` successes that reject "success rate >= s" at confidence `c`,
/// exactly (binomial).
fn exact_floor(h: u64, s: f64, c: f64) -> u64 {
    (1..10_000)
        .find(|k| ln_binomial_cdf(h, h + k, s) <= (1.0 - c).ln())
        .unwrap_or(u64::MAX)
}

/// The same with meshcd's fail-fast rule (the exact upper bound strictly below `s`).
fn judge_floor(h: u64, s: f64, c: f64) -> u64 {
    (1..10_000)
        .find(|k| meshcd_core::rollout::stats::exact_upper(h, h + k, c) < s)
        .unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Output.

fn print_rollbacks(configs: &[(&str, Vec<Row>)], rate: f64, trials: usize) {
    let s = MIN_SUCCESS / 100.0;
    println!();
    println!(
        "statistical floor, canary sample all failing: exact binomial {} request(s) at \
         confidence {CONFIDENCE} ({} at 0.999); meshcd's judge (exact bound, strict) {}",
        exact_floor(0, s, CONFIDENCE),
        exact_floor(0, s, 0.999),
        judge_floor(0, s, CONFIDENCE)
    );
    for (interval, rows) in configs {
        let interval_s =
            meshcd_core::rollout::duration::parse(interval).map_or(f64::NAN, |d| d.as_secs_f64());
        println!();
        println!(
            "analysis interval {interval}: {trials} trials, {rate:.0} req/s, canary {FIRST_STEP:.0} %"
        );
        let col = |f: &dyn Fn(&Row) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
        summary(
            "T0 -> rollback published (rds.yaml written)",
            &mut col(&|r| r.written_ms),
            "ms",
        );
        summary(
            "T0 -> rollback live in Envoy (/config_dump)",
            &mut col(&|r| r.live_ms),
            "ms",
        );
        summary(
            "T0 -> last canary answer at the client",
            &mut col(&|r| r.last_canary_ms),
            "ms",
        );
        summary(
            "failed client requests",
            &mut col(&|r| r.failed as f64),
            "req",
        );
        summary(
            "healthy canary requests in the step before T0",
            &mut col(&|r| r.healthy as f64),
            "req",
        );
        summary(
            "  floor after them, exact binomial",
            &mut col(&|r| exact_floor(r.healthy, s, CONFIDENCE) as f64),
            "req",
        );
        summary(
            "  floor after them, meshcd's judge (exact, strict)",
            &mut col(&|r| judge_floor(r.healthy, s, CONFIDENCE) as f64),
            "req",
        );
        println!(
            "{:<46} {:>8.1} req  (canary rate × interval / 2)",
            "  expected wait for the next read",
            rate * FIRST_STEP / 100.0 * interval_s / 2.0
        );
        let before: Vec<&str> = rows
            .iter()
            .flat_map(|r| r.failed_before.iter().map(String::as_str))
            .collect();
        if !before.is_empty() {
            println!(
                "  warning: {} request(s) failed before T0 (counted above): {}",
                before.len(),
                before.join("; ")
            );
        }
        let list = |f: &dyn Fn(&Row) -> String| rows.iter().map(f).collect::<Vec<_>>().join(", ");
        println!(
            "  per trial: live {} ms; failed {}; judged {}",
            list(&|r| format!("{:.0}", r.live_ms)),
            list(&|r| r.failed.to_string()),
            list(&|r| format!("[{}]", r.judged)),
        );
        if let Some(row) = rows.first() {
            println!("  trial 1: {}", row.reason);
        }
        if std::env::var_os("MESHCD_BENCH_VERBOSE").is_some() {
            for (i, row) in rows.iter().enumerate() {
                println!("  trial {}: verdicts seen at T0 {} ms", i + 1, row.reads);
            }
        }
    }
}

fn print_comparison(configs: &[(&str, Vec<Row>)], rate: f64) {
    let flagger_s = (FLAGGER_THRESHOLD + 1.0) * FLAGGER_INTERVAL_S;
    println!();
    println!(
        "{:<40} {:>22} {:>22}",
        "medians", "T0 -> rollback live", "failed requests"
    );
    for (interval, rows) in configs {
        let mut live: Vec<f64> = rows.iter().map(|r| r.live_ms).collect();
        let mut failed: Vec<f64> = rows.iter().map(|r| r.failed as f64).collect();
        println!(
            "{:<40} {:>20.2} s {:>22.0}",
            format!("meshcd, interval {interval}"),
            median(&mut live) / 1000.0,
            median(&mut failed)
        );
    }
    // The floor's time: how long the canary takes to receive that many requests.
    let canary_rate = rate * FIRST_STEP / 100.0;
    let floor = exact_floor(0, MIN_SUCCESS / 100.0, CONFIDENCE) as f64;
    println!(
        "{:<40} {:>20.2} s {:>22.0}",
        "statistical floor (all-failing sample)",
        floor / canary_rate,
        floor
    );
    let mut after: Vec<f64> = configs
        .iter()
        .flat_map(|(_, rows)| rows.iter())
        .map(|r| judge_floor(r.healthy, MIN_SUCCESS / 100.0, CONFIDENCE) as f64)
        .collect();
    let after = median(&mut after);
    println!(
        "{:<40} {:>20.2} s {:>22.0}",
        "  after the step's healthy ones (judge)",
        after / canary_rate,
        after
    );
    println!(
        "{:<40} {:>20.0} s {:>22.0}",
        "Flagger defaults (model: 1m, 5, 10 %)",
        flagger_s,
        rate * FIRST_STEP / 100.0 * flagger_s
    );
    println!(
        "  Flagger: (threshold + 1) × interval = ({FLAGGER_THRESHOLD:.0} + 1) × \
         {FLAGGER_INTERVAL_S:.0} s at {FIRST_STEP:.0} % of {rate:.0} req/s; not measured"
    );
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// min / median / max in `unit`, and n.
fn summary(label: &str, samples: &mut [f64], unit: &str) {
    if samples.is_empty() {
        println!("{label:<46} no samples");
        return;
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "{label:<46} min {:>8.1}  median {:>8.1}  max {:>8.1} {unit:<3}  (n={})",
        samples[0],
        samples[samples.len() / 2],
        samples[samples.len() - 1],
        samples.len()
    );
}

// ---------------------------------------------------------------------------------------------
// One clock: nanoseconds since the bench started (monotonic), with wall-clock times (file
// modification times) converted onto it.

fn epoch() -> &'static (Instant, SystemTime) {
    static EPOCH: OnceLock<(Instant, SystemTime)> = OnceLock::new();
    EPOCH.get_or_init(|| (Instant::now(), SystemTime::now()))
}

fn now_ns() -> u64 {
    epoch().0.elapsed().as_nanos() as u64
}

fn wall_ns(at: SystemTime) -> u64 {
    at.duration_since(epoch().1)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn ms_between(from: u64, to: u64) -> f64 {
    (to as f64 - from as f64) / 1e6
}

// ---------------------------------------------------------------------------------------------
// Load: a fixed rate of requests through Envoy, recorded.

#[derive(Clone)]
struct Record {
    sent: u64,
    done: u64,
    /// 0 without an answer.
    status: u16,
    backend: String,
}

struct Load {
    stop: Arc<AtomicBool>,
    records: Arc<Mutex<Vec<Record>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    fn start(runtime: &Runtime, port: u16, rate: f64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let records = Arc::new(Mutex::new(Vec::new()));
        let url = format!("http://127.0.0.1:{port}/");
        let task = runtime.spawn(load_loop(url, rate, stop.clone(), records.clone()));
        Load {
            stop,
            records,
            task,
        }
    }

    fn count(&self, from: u64, to: u64) -> usize {
        self.between(from, to).len()
    }

    /// Requests sent in `[from, to)` that finished.
    fn between(&self, from: u64, to: u64) -> Vec<Record> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records
            .iter()
            .filter(|r| r.sent >= from && r.sent < to)
            .cloned()
            .collect()
    }

    fn stop(&self, runtime: &Runtime) {
        self.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.task.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = runtime;
    }
}

async fn load_loop(
    url: String,
    rate: f64,
    stop: Arc<AtomicBool>,
    records: Arc<Mutex<Vec<Record>>>,
) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(32)
        .build()
    else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let deadline = Instant::now() + LOAD_MAX;
    let mut inflight = tokio::task::JoinSet::new();
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        tick.tick().await;
        let (client, url, records) = (client.clone(), url.clone(), records.clone());
        inflight.spawn(async move {
            let sent = now_ns();
            let (status, backend) = match client.get(&url).header("host", HOST).send().await {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    (status, answer.text().await.unwrap_or_default())
                }
                Err(_) => (0, String::new()),
            };
            let record = Record {
                sent,
                done: now_ns(),
                status,
                backend: backend.trim().to_string(),
            };
            records
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(record);
        });
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
}

// ---------------------------------------------------------------------------------------------
// Monitor: what Envoy serves (`/config_dump` every 2 ms) and when `rds.yaml` was written.

struct Monitor {
    stop: Arc<AtomicBool>,
    /// (when, canary share in percent) at each change.
    shares: Arc<Mutex<Vec<(u64, f64)>>>,
    /// Modification times of `rds.yaml`, on the bench clock.
    writes: Arc<Mutex<Vec<u64>>>,
}

impl Monitor {
    fn start(runtime: &Runtime, admin_port: u16, work_dir: &Path) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let shares = Arc::new(Mutex::new(Vec::new()));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let rds = work_dir.join("rds.yaml");
        let url =
            format!("http://127.0.0.1:{admin_port}/config_dump?resource=dynamic_route_configs");
        let (s, sh, w) = (stop.clone(), shares.clone(), writes.clone());
        runtime.spawn(async move {
            let client = reqwest::Client::new();
            let (mut last_share, mut last_write) = (None, None);
            while !s.load(Ordering::SeqCst) {
                let modified = std::fs::metadata(&rds).and_then(|m| m.modified()).ok();
                if modified.is_some() && modified != last_write {
                    last_write = modified;
                    if let Some(at) = modified {
                        w.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(wall_ns(at));
                    }
                }
                if let Ok(answer) = client.get(&url).send().await {
                    let at = now_ns();
                    if let Some(share) = answer
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|dump| canary_share(&dump))
                    {
                        if last_share != Some(share) {
                            last_share = Some(share);
                            sh.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((at, share));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        Monitor {
            stop,
            shares,
            writes,
        }
    }

    /// The first change after `from` to a share that `check` accepts, waiting up to `wait`.
    fn first_share_after(
        &self,
        from: u64,
        check: impl Fn(f64) -> bool,
        wait: Duration,
    ) -> Option<u64> {
        let deadline = Instant::now() + wait;
        loop {
            let found = self
                .shares
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(at, share)| *at >= from && check(*share))
                .map(|(at, _)| *at);
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn changes_between(&self, from: u64, to: u64) -> Vec<(u64, f64)> {
        self.shares
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .copied()
            .collect()
    }

    fn writes(&self) -> Vec<u64> {
        self.writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The canary's share (percent) of [`HOST`]'s first route in a `/config_dump` of route
/// configurations (a cluster named like the canary backend; proto JSON leaves out a weight of
/// 0; a route to one cluster is 100 % of it).
fn canary_share(dump: &Value) -> Option<f64> {
    let vhost = dump["configs"].as_array()?.iter().find_map(|config| {
        config["route_config"]["virtual_hosts"]
            .as_array()?
            .iter()
            .find(|vhost| {
                vhost["domains"]
                    .as_array()
                    .is_some_and(|domains| domains.iter().any(|d| d == HOST))
            })
    })?;
    let action = vhost.pointer("/routes/0/route")?;
    let is_canary = |name: &str| name.contains("canary");
    if let Some(cluster) = action["cluster"].as_str() {
        return Some(if is_canary(cluster) { 100.0 } else { 0.0 });
    }
    let clusters = action.pointer("/weighted_clusters/clusters")?.as_array()?;
    let (mut canary, mut total) = (0u64, 0u64);
    for cluster in clusters {
        let weight = cluster["weight"].as_u64().unwrap_or(0);
        total += weight;
        if is_canary(cluster["name"].as_str().unwrap_or_default()) {
            canary += weight;
        }
    }
    (total > 0).then(|| canary as f64 * 100.0 / total as f64)
}

// ---------------------------------------------------------------------------------------------
// The daemon's API, through the runtime.

struct Api<'a> {
    runtime: &'a Runtime,
    client: reqwest::Client,
    base: String,
}

impl<'a> Api<'a> {
    fn new(runtime: &'a Runtime, addr: SocketAddr) -> Res<Self> {
        Ok(Api {
            runtime,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            base: format!("http://{addr}"),
        })
    }

    fn get(&self, path: &str) -> Res<Value> {
        let url = format!("{}{path}", self.base);
        let answer = self
            .runtime
            .block_on(async { self.client.get(&url).send().await?.json::<Value>().await })?;
        Ok(answer)
    }

    /// The rollout of `canary-route` towards `commit`, if the daemon shows it.
    fn rollout(&self, commit: &str) -> Res<Option<Value>> {
        let list = self.get("/api/v1/rollouts")?;
        Ok(list["rollouts"].as_array().and_then(|rollouts| {
            rollouts
                .iter()
                .find(|r| {
                    r["route"]
                        .as_str()
                        .is_some_and(|n| n.ends_with("canary-route"))
                        && r["commit"] == commit
                })
                .cloned()
        }))
    }

    /// Polls `check` every 10 ms until it gives something; fails after [`WAIT`].
    fn wait<T: Waitable>(
        &self,
        daemon: &Daemon,
        what: &str,
        check: impl FnMut(&Self) -> Res<T>,
    ) -> Res<T::Out> {
        self.wait_for(daemon, what, WAIT, check)
    }

    fn wait_for<T: Waitable>(
        &self,
        daemon: &Daemon,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&Self) -> Res<T>,
    ) -> Res<T::Out> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(out) = check(self)?.done() {
                return Ok(out);
            }
            if Instant::now() > deadline {
                let rollouts = self.get("/api/v1/rollouts").unwrap_or_default();
                return Err(daemon.failure(&format!(
                    "timed out after {limit:?} waiting for {what}; rollouts: {rollouts}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// What a wait's check returns: `true`, or `Some(value)`.
trait Waitable {
    type Out;
    fn done(self) -> Option<Self::Out>;
}

impl Waitable for bool {
    type Out = ();
    fn done(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Waitable for Option<T> {
    type Out = T;
    fn done(self) -> Option<T> {
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Repository content.

/// The route of the benchmark at `stable` / `canary`.
fn route(stable: u32, canary: u32) -> String {
    split_route("canary-route", HOST, ("stable", stable), ("canary", canary))
}

fn policy(bake: &str, interval: &str, note: &str) -> String {
    format!(
        "# {note}
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: bench
spec:
  selector:
    routes: [canary-route]
  stepWeight: 10
  bakeTime: {bake}
  analysis:
    provider: envoy
    interval: {interval}
    minRequests: 20
    confidence: {CONFIDENCE}
    successRate:
      min: {MIN_SUCCESS}
  onFailure: rollback
  onInconclusive: pause
"
    )
}

// ---------------------------------------------------------------------------------------------
// The daemon.

/// `meshcd run` on `repo`, watching it, with the debug line of each rollout publish (which
/// carries meshcd's own timing) in its log.
fn start_daemon(meshcd: &Path, envoy: &Path, tmp: &Path, repo: &Path) -> Res<Daemon> {
    let options = DaemonOptions {
        name: "daemon",
        watch: true,
        extra: String::new(),
        rust_log: "warn,meshcd::engine=debug",
        envoy_extra: String::new(),
    };
    Daemon::start(meshcd, envoy, tmp, repo, options)
}

/// What this benchmark reads of a [`Daemon`]'s log.
impl Daemon {
    /// meshcd's own timing of each rollout publish: (total ms, whether it validated).
    fn publishes(&self) -> Vec<(f64, bool)> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("rollout weights published"))
            .filter_map(|l| {
                let field = |name: &str| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
                        .map(str::to_string)
                };
                Some((
                    field("total_ms")?.parse().ok()?,
                    field("validated")? == "true",
                ))
            })
            .collect()
    }
}
