//! The state store on a real file: round trips, atomic applies, reopening, history, a
//! model-based property test, crash safety under `kill -9`, the single-process lock, and
//! `meshcd history` end to end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use meshcd::store::{
    AppliedRecord, AppliedResource, AuditAction, AuditEntry, ChangeCounts, Store, StoreError,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

/// A fresh store file in a temporary folder (the folder is removed when dropped).
fn temp_store() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state").join("state.redb");
    (dir, path)
}

/// A fixed time, `offset` seconds after 2024-05-01T12:00:00Z.
fn at(offset: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
        .single()
        .expect("valid time")
        + chrono::Duration::seconds(offset)
}

fn entry(target: &str, action: AuditAction, commit: &str, offset: i64) -> AuditEntry {
    let mut entry = AuditEntry::new(target, action);
    entry.time = at(offset);
    entry.commit = commit.to_string();
    entry.author = "Ada Lovelace".to_string();
    entry.summary = format!("Change {commit}");
    entry.changes = ChangeCounts {
        create: 1,
        update: 2,
        delete: 0,
    };
    entry.resources = vec![format!("HTTPRoute/default/{commit}")];
    entry
}

fn applied(commit: &str, offset: i64) -> AppliedRecord {
    AppliedRecord {
        commit: commit.to_string(),
        revision: format!("main@{}", &commit[..commit.len().min(7)]),
        applied_at: at(offset),
        resources: vec![AppliedResource {
            id: format!("HTTPRoute/default/{commit}"),
            hash: format!("sha256:{commit}"),
        }],
        config: format!(r#"{{"routes":[{{"name":"{commit}"}}]}}"#),
    }
}

/// A rollout state as the rollout engine might keep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rollout {
    step: usize,
    weights: Vec<u32>,
    phase: String,
}

#[test]
fn applied_state_round_trips_and_is_per_target() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("opens");
    assert_eq!(store.last_applied("envoy:local").expect("reads"), None);
    let record = applied("aaaa111", 0);
    let seq = store
        .record_apply(
            "envoy:local",
            &record,
            &entry("envoy:local", AuditAction::Apply, "aaaa111", 0),
        )
        .expect("records");
    assert_eq!(seq, 1);
    assert_eq!(
        store.last_applied("envoy:local").expect("reads"),
        Some(record)
    );
    assert_eq!(store.last_applied("gcp:prod").expect("reads"), None);
}

#[test]
fn record_apply_writes_both_or_neither() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("opens");
    let record = applied("bbbb222", 5);
    let audit = entry("envoy:local", AuditAction::Apply, "bbbb222", 5);
    store
        .record_apply("envoy:local", &record, &audit)
        .expect("records");
    let history = store.history(Some("envoy:local"), 10).expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].commit, "bbbb222");
    assert_eq!(history[0].seq, 1);
    assert_eq!(
        store.last_applied("envoy:local").expect("reads"),
        Some(record)
    );

    // A refused apply stores neither half.
    let wrong = entry("gcp:prod", AuditAction::Apply, "cccc333", 6);
    let error = store
        .record_apply("envoy:local", &applied("cccc333", 6), &wrong)
        .expect_err("target mismatch");
    assert!(
        matches!(error, StoreError::TargetMismatch { .. }),
        "{error}"
    );
    assert_eq!(store.history(None, 10).expect("history").len(), 1);
    assert_eq!(
        store
            .last_applied("envoy:local")
            .expect("reads")
            .map(|r| r.commit),
        Some("bbbb222".to_string())
    );
}

#[test]
fn failed_revision_mark_round_trips() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("opens");
    assert_eq!(store.failed_revision("envoy:local").expect("reads"), None);
    store
        .mark_failed("envoy:local", "dead111", "step 2: error rate 12% > 5%")
        .expect("marks");
    let failed = store
        .failed_revision("envoy:local")
        .expect("reads")
        .expect("marked");
    assert_eq!(failed.commit, "dead111");
    assert_eq!(failed.reason, "step 2: error rate 12% > 5%");
    assert_eq!(store.failed_revision("gcp:prod").expect("reads"), None);
    assert!(store.clear_failed("envoy:local").expect("clears"));
    assert!(!store.clear_failed("envoy:local").expect("clears"));
    assert_eq!(store.failed_revision("envoy:local").expect("reads"), None);
}

#[test]
fn rollouts_round_trip_typed_and_list_per_target() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("opens");
    let canary = Rollout {
        step: 1,
        weights: vec![90, 10],
        phase: "progressing".into(),
    };
    store
        .put_rollout("envoy:local", "reviews", &canary)
        .expect("puts");
    store
        .put_rollout("envoy:local", "api", &serde_json::json!({"step": 0}))
        .expect("puts");
    store
        .put_rollout("envoy:localx", "other", &canary)
        .expect("puts");
    store.put_rollout("envoy", "other", &canary).expect("puts");
    assert_eq!(
        store
            .get_rollout::<Rollout>("envoy:local", "reviews")
            .expect("gets"),
        Some(canary.clone())
    );
    let listed: Vec<(String, serde_json::Value)> =
        store.list_rollouts("envoy:local").expect("lists");
    let routes: Vec<&str> = listed.iter().map(|(route, _)| route.as_str()).collect();
    assert_eq!(routes, ["api", "reviews"], "only this target, sorted");
    assert!(store
        .delete_rollout("envoy:local", "reviews")
        .expect("deletes"));
    assert!(!store
        .delete_rollout("envoy:local", "reviews")
        .expect("deletes"));
    assert_eq!(
        store
            .get_rollout::<Rollout>("envoy:local", "reviews")
            .expect("gets"),
        None
    );
    // A state that does not decode as the asked type is an error, not a silent `None`.
    let error = store
        .get_rollout::<Rollout>("envoy:local", "api")
        .expect_err("wrong type");
    assert!(
        error.to_string().contains("rollout envoy:local/api"),
        "{error}"
    );
}

#[test]
fn reopening_keeps_everything() {
    let (_dir, path) = temp_store();
    {
        let store = Store::open(&path).expect("opens");
        store
            .record_apply(
                "envoy:local",
                &applied("aaaa111", 0),
                &entry("envoy:local", AuditAction::Apply, "aaaa111", 0),
            )
            .expect("records");
        store
            .append_audit(&entry(
                "envoy:local",
                AuditAction::DriftDetected,
                "aaaa111",
                1,
            ))
            .expect("appends");
        store
            .mark_failed("envoy:local", "bad2222", "analysis failed")
            .expect("marks");
        store
            .put_rollout("envoy:local", "reviews", &serde_json::json!({"step": 3}))
            .expect("puts");
    }
    let store = Store::open(&path).expect("reopens");
    assert_eq!(
        store.last_applied("envoy:local").expect("reads"),
        Some(applied("aaaa111", 0))
    );
    let history = store.history(None, 10).expect("history");
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 1]);
    assert_eq!(
        store
            .failed_revision("envoy:local")
            .expect("reads")
            .map(|f| f.commit),
        Some("bad2222".into())
    );
    assert_eq!(
        store
            .get_rollout::<serde_json::Value>("envoy:local", "reviews")
            .expect("gets"),
        Some(serde_json::json!({"step": 3}))
    );
    // Sequence numbers continue after a reopen.
    let seq = store
        .append_audit(&entry("envoy:local", AuditAction::Skipped, "aaaa111", 2))
        .expect("appends");
    assert_eq!(seq, 3);
}

#[test]
fn history_is_newest_first_with_limit_and_target_filter() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("opens");
    let targets = [
        "envoy:local",
        "gcp:prod",
        "envoy:local",
        "envoy:local",
        "gcp:prod",
    ];
    for (offset, target) in targets.iter().enumerate() {
        let commit = format!("c{offset}");
        store
            .append_audit(&entry(target, AuditAction::Apply, &commit, offset as i64))
            .expect("appends");
    }
    let seqs = |entries: Vec<AuditEntry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.history(None, 100).expect("all")),
        [5, 4, 3, 2, 1]
    );
    assert_eq!(seqs(store.history(None, 2).expect("limited")), [5, 4]);
    assert_eq!(
        seqs(store.history(Some("envoy:local"), 100).expect("filtered")),
        [4, 3, 1]
    );
    assert_eq!(
        seqs(store.history(Some("envoy:local"), 2).expect("both")),
        [4, 3]
    );
    assert!(store.history(Some("gcp:prod"), 0).expect("zero").is_empty());
    assert!(store.history(Some("nope"), 10).expect("unknown").is_empty());
    assert!(store.history(None, 100).expect("all")[1..]
        .iter()
        .all(|e| e.author == "Ada Lovelace"));
}

#[test]
fn a_second_process_gets_a_clear_in_use_error() {
    let (_dir, path) = temp_store();
    let store = Store::open(&path).expect("opens");
    let run = meshcd_history(&["--state", path.to_str().expect("utf-8 path")], None);
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    let expected = format!(
        "state store {} is in use by another meshcd (pid {})",
        path.display(),
        std::process::id()
    );
    assert!(run.stderr.contains(&expected), "stderr: {}", run.stderr);
    drop(store);
    let run = meshcd_history(&["--state", path.to_str().expect("utf-8 path")], None);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// Model-based test: random operations on the store and on a plain in-memory model must agree
// after every operation, and after reopening the file.

const TARGETS: [&str; 3] = ["envoy:local", "gcp:prod", "envoy:loc"];
const ROUTES: [&str; 3] = ["api", "reviews", "web"];

#[derive(Debug, Clone)]
enum Op {
    RecordApply {
        target: usize,
        commit: u8,
    },
    AppendAudit {
        target: usize,
        action: usize,
    },
    MarkFailed {
        target: usize,
        commit: u8,
    },
    ClearFailed {
        target: usize,
    },
    PutRollout {
        target: usize,
        route: usize,
        step: u8,
    },
    DeleteRollout {
        target: usize,
        route: usize,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, any::<u8>()).prop_map(|(target, commit)| Op::RecordApply { target, commit }),
        3 => (0..3usize, 0..6usize).prop_map(|(target, action)| Op::AppendAudit { target, action }),
        1 => (0..3usize, any::<u8>()).prop_map(|(target, commit)| Op::MarkFailed { target, commit }),
        1 => (0..3usize).prop_map(|target| Op::ClearFailed { target }),
        2 => (0..3usize, 0..3usize, any::<u8>())
            .prop_map(|(target, route, step)| Op::PutRollout { target, route, step }),
        1 => (0..3usize, 0..3usize).prop_map(|(target, route)| Op::DeleteRollout { target, route }),
        1 => Just(Op::Reopen),
    ]
}

/// What the store should hold.
#[derive(Debug, Default)]
struct Model {
    applied: BTreeMap<String, AppliedRecord>,
    audit: Vec<AuditEntry>,
    failed: BTreeMap<String, (String, String)>,
    rollouts: BTreeMap<(String, String), u8>,
}

impl Model {
    fn append(&mut self, mut entry: AuditEntry) -> u64 {
        entry.seq = self.audit.len() as u64 + 1;
        self.audit.push(entry);
        self.audit.len() as u64
    }
}

/// Applies `op` to the store and the model; returns the reopened store for `Reopen`.
fn step(store: Store, path: &Path, model: &mut Model, op: &Op, index: usize) -> Store {
    let offset = index as i64;
    match *op {
        Op::RecordApply { target, commit } => {
            let (target, commit) = (TARGETS[target], format!("{commit:02x}"));
            let record = applied(&commit, offset);
            let audit = entry(target, AuditAction::Apply, &commit, offset);
            let seq = store
                .record_apply(target, &record, &audit)
                .expect("records");
            model.applied.insert(target.to_string(), record);
            assert_eq!(seq, model.append(audit));
        }
        Op::AppendAudit { target, action } => {
            let audit = entry(TARGETS[target], AuditAction::ALL[action], "ab", offset);
            let seq = store.append_audit(&audit).expect("appends");
            assert_eq!(seq, model.append(audit));
        }
        Op::MarkFailed { target, commit } => {
            let (commit, reason) = (format!("{commit:02x}"), format!("failed at op {index}"));
            store
                .mark_failed(TARGETS[target], &commit, &reason)
                .expect("marks");
            model
                .failed
                .insert(TARGETS[target].to_string(), (commit, reason));
        }
        Op::ClearFailed { target } => {
            let removed = store.clear_failed(TARGETS[target]).expect("clears");
            assert_eq!(removed, model.failed.remove(TARGETS[target]).is_some());
        }
        Op::PutRollout {
            target,
            route,
            step,
        } => {
            store
                .put_rollout(TARGETS[target], ROUTES[route], &step)
                .expect("puts");
            let key = (TARGETS[target].to_string(), ROUTES[route].to_string());
            model.rollouts.insert(key, step);
        }
        Op::DeleteRollout { target, route } => {
            let removed = store
                .delete_rollout(TARGETS[target], ROUTES[route])
                .expect("deletes");
            let key = (TARGETS[target].to_string(), ROUTES[route].to_string());
            assert_eq!(removed, model.rollouts.remove(&key).is_some());
        }
        Op::Reopen => {
            drop(store);
            return Store::open(path).expect("reopens");
        }
    }
    store
}

/// Checks that the store holds exactly what the model says.
fn agree(store: &Store, model: &Model) {
    let newest_first: Vec<AuditEntry> = model.audit.iter().rev().cloned().collect();
    assert_eq!(
        store.history(None, usize::MAX).expect("history"),
        newest_first
    );
    assert_eq!(
        store.history(None, 3).expect("history"),
        newest_first.iter().take(3).cloned().collect::<Vec<_>>()
    );
    for target in TARGETS {
        assert_eq!(
            store.last_applied(target).expect("reads").as_ref(),
            model.applied.get(target)
        );
        let of_target: Vec<AuditEntry> = newest_first
            .iter()
            .filter(|e| e.target == target)
            .cloned()
            .collect();
        assert_eq!(
            store.history(Some(target), usize::MAX).expect("history"),
            of_target
        );
        let failed = store
            .failed_revision(target)
            .expect("reads")
            .map(|f| (f.commit, f.reason));
        assert_eq!(failed.as_ref(), model.failed.get(target));
        let rollouts: Vec<(String, u8)> = store.list_rollouts(target).expect("lists");
        let expected: Vec<(String, u8)> = model
            .rollouts
            .iter()
            .filter(|((t, _), _)| t == target)
            .map(|((_, route), step)| (route.clone(), *step))
            .collect();
        assert_eq!(rollouts, expected);
        for route in ROUTES {
            let key = (target.to_string(), route.to_string());
            assert_eq!(
                store.get_rollout::<u8>(target, route).expect("gets"),
                model.rollouts.get(&key).copied()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_a_model(ops in proptest::collection::vec(op(), 1..16)) {
        let (_dir, path) = temp_store();
        let mut store = Store::open(&path).expect("opens");
        let mut model = Model::default();
        for (index, op) in ops.iter().enumerate() {
            store = step(store, &path, &mut model, op, index);
            agree(&store, &model);
        }
        drop(store);
        let store = Store::open(&path).expect("reopens");
        agree(&store, &model);
    }
}

// ---------------------------------------------------------------------------------------------
// Crash safety: a child process (this test binary, re-run with an environment variable) writes
// in a loop and reports each committed seq; it is killed with SIGKILL at a random moment,
// usually in the middle of a commit. On reopen every reported entry must be there, intact.

const CRASH_ENV: &str = "MESHCD_STORE_TEST_CRASH_CHILD";
const CRASH_TARGET: &str = "envoy:local";

/// The entry the child writes as `seq`: every third one is an apply with a large config, so
/// commits span many pages.
fn crash_entry(seq: u64) -> (AuditEntry, Option<AppliedRecord>) {
    let commit = format!("{seq:040x}");
    let apply = seq.is_multiple_of(3);
    let action = if apply {
        AuditAction::Apply
    } else {
        AuditAction::Skipped
    };
    let mut audit = entry(CRASH_TARGET, action, &commit, seq as i64);
    audit.seq = seq;
    audit.message = format!("entry {seq} ").repeat(200);
    audit.resources = (0..seq % 7).map(|i| format!("route-{seq}-{i}")).collect();
    let record = apply.then(|| {
        let mut record = applied(&commit, seq as i64);
        record.config = format!(r#"{{"seq":{seq},"pad":"{}"}}"#, "x".repeat(16 * 1024));
        record
    });
    (audit, record)
}

/// The child: appends entries until it is killed. Does nothing in a normal test run.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_ENV) else {
        return;
    };
    let store = Store::open(PathBuf::from(path)).expect("child opens");
    let last = store.history(None, 1).expect("child reads");
    let mut seq = last.first().map_or(0, |e| e.seq);
    loop {
        seq += 1;
        let (audit, record) = crash_entry(seq);
        let written = match record {
            Some(record) => store.record_apply(CRASH_TARGET, &record, &audit),
            None => store.append_audit(&audit),
        };
        assert_eq!(written.expect("child writes"), seq);
        println!("committed {seq}");
    }
}

/// Runs the child until it reported `kill_after` commits, kills it, and returns the last
/// reported seq.
fn write_until_killed(path: &Path, kill_after: u64) -> u64 {
    // The harness names a test by its module path without the crate: `store::crash_child`.
    let module = module_path!()
        .split_once("::")
        .map_or("", |(_, module)| module);
    let name = format!("{module}::crash_child");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CRASH_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut reported = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("reads the child");
        if let Some(seq) = line.strip_prefix("committed ") {
            reported.push(seq.parse::<u64>().expect("a seq"));
            if reported.len() as u64 == kill_after {
                break;
            }
        }
    }
    child.kill().expect("kill -9"); // SIGKILL on Unix
    let status = child.wait().expect("waits");
    assert!(!status.success(), "the child was killed");
    // Lines printed before the kill were committed too.
    for line in lines.map_while(Result::ok) {
        if let Some(seq) = line.strip_prefix("committed ") {
            reported.push(seq.parse::<u64>().expect("a seq"));
        }
    }
    assert!(
        reported.len() as u64 >= kill_after,
        "child stopped early: {reported:?}"
    );
    reported.last().copied().unwrap_or(0)
}

#[test]
fn killed_writers_leave_every_committed_entry_intact() {
    let (_dir, path) = temp_store();
    let mut reported = 0;
    for kill_after in [5, 12, 9] {
        let last = write_until_killed(&path, kill_after);
        assert!(
            last >= reported + kill_after,
            "seq continues across crashes"
        );
        reported = last;
        let store = Store::open(&path).expect("reopens after kill -9");
        let history = store.history(None, usize::MAX).expect("reads");
        let stored = history.first().map_or(0, |e| e.seq);
        eprintln!("killed after {reported} reported commits; {stored} found on reopen");
        // Everything reported is there; at most the commit in flight may also have landed.
        assert!(
            stored == reported || stored == reported + 1,
            "stored {stored}, reported {reported}"
        );
        for (entry, seq) in history.iter().zip((1..=stored).rev()) {
            assert_eq!(entry, &crash_entry(seq).0, "entry {seq} is intact");
        }
        assert_eq!(history.len() as u64, stored, "no gaps");
        // The applied record belongs to the newest apply entry: both halves or neither.
        let newest_apply = stored - stored % 3;
        let expected = (newest_apply > 0)
            .then(|| crash_entry(newest_apply).1)
            .flatten();
        assert_eq!(store.last_applied(CRASH_TARGET).expect("reads"), expected);
        reported = stored;
    }
}

// ---------------------------------------------------------------------------------------------
// `meshcd history` end to end.

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn meshcd_history(args: &[&str], state_dir: Option<&Path>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meshcd"));
    command
        .arg("history")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("MESHCD_STATE_DIR");
    if let Some(dir) = state_dir {
        command.env("MESHCD_STATE_DIR", dir);
    }
    let output = command.output().expect("runs meshcd");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn fill_for_cli(path: &Path) {
    let store = Store::open(path).expect("opens");
    let mut first = entry(
        "envoy:local",
        AuditAction::Apply,
        "1f0e9d8c7b6a5f4e3d2c1b0a",
        0,
    );
    first.message = "applied 3 resources".into();
    store
        .record_apply("envoy:local", &applied(&first.commit, 0), &first)
        .expect("records");
    let mut drift = entry(
        "envoy:local",
        AuditAction::DriftDetected,
        "1f0e9d8c7b6a5f4e3d2c1b0a",
        60,
    );
    drift.author = String::new();
    drift.changes = ChangeCounts {
        create: 0,
        update: 1,
        delete: 0,
    };
    drift.message = "route reviews changed outside meshcd".into();
    store.append_audit(&drift).expect("appends");
    let mut rejected = entry("gcp:prod", AuditAction::Rejected, "9a8b7c6d5e4f", 120);
    rejected.author = "Grace Hopper <grace@example.com>".into();
    rejected.changes = ChangeCounts::default();
    rejected.message = String::new();
    rejected.summary = "Send all traffic to green".into();
    store.append_audit(&rejected).expect("appends");
}

#[test]
fn history_command_prints_a_table_and_json() {
    let (dir, path) = temp_store();
    fill_for_cli(&path);
    let state = path.to_str().expect("utf-8 path");

    let text = meshcd_history(&["--state", state], None);
    assert_eq!(text.code, 0, "stderr: {}", text.stderr);
    insta::assert_snapshot!("history_text", text.stdout);

    let json = meshcd_history(&["--state", state, "--format", "json"], None);
    assert_eq!(json.code, 0, "stderr: {}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let entries = value["entries"].as_array().expect("entries");
    let seqs: Vec<u64> = entries.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert_eq!(entries[0]["action"], "rejected");
    assert_eq!(entries[0]["time"], "2024-05-01T12:02:00Z");
    assert_eq!(
        entries[1]["changes"],
        serde_json::json!({"create": 0, "update": 1, "delete": 0})
    );
    assert_eq!(entries[2]["commit"], "1f0e9d8c7b6a5f4e3d2c1b0a");
    let decoded: Vec<AuditEntry> =
        serde_json::from_value(value["entries"].clone()).expect("entries decode");
    assert_eq!(
        decoded[2].resources,
        ["HTTPRoute/default/1f0e9d8c7b6a5f4e3d2c1b0a"]
    );

    let filtered = meshcd_history(
        &[
            "--state",
            state,
            "--target",
            "envoy:local",
            "--limit",
            "1",
            "--format",
            "json",
        ],
        None,
    );
    let value: serde_json::Value = serde_json::from_str(&filtered.stdout).expect("JSON");
    let entries = value["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "drift-detected");

    // The state folder from the environment.
    let from_env = meshcd_history(&["--format", "json"], path.parent());
    let value: serde_json::Value = serde_json::from_str(&from_env.stdout).expect("JSON");
    assert_eq!(value["entries"].as_array().map(Vec::len), Some(3));

    // A store that does not exist yet is an empty history, and is not created.
    let missing = dir.path().join("none/state.redb");
    let missing_str = missing.to_str().expect("utf-8 path");
    let empty = meshcd_history(&["--state", missing_str], None);
    assert_eq!(empty.code, 0, "stderr: {}", empty.stderr);
    assert_eq!(
        empty.stdout,
        format!("No history in {}.\n", missing.display())
    );
    let empty = meshcd_history(&["--state", missing_str, "--format", "json"], None);
    assert_eq!(empty.stdout.trim(), "{\n  \"entries\": []\n}");
    assert!(!missing.exists());
}
