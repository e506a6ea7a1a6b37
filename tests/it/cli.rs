//! End-to-end tests of the `meshcd` binary on real Git repositories (local, bare remotes over
//! `file://`, branches, tags, force pushes), with snapshots of what a user sees.

use crate::common::{filters, meshcd, TestRepo};

const ROUTE_99_1: &str = "\
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: target-route
hostnames:
- target.meshapps.internal
meshes:
- projects/my-project/locations/global/meshes/mesh
rules:
- action:
    destinations:
    - serviceName: projects/my-project/locations/global/backendServices/target
      weight: 99
    - serviceName: projects/my-project/locations/global/backendServices/target-green
      weight: 1
";

const POLICY: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: target-canary
spec:
  selector:
    routes: [target-route]
  steps: [1, 10, 50, 100]
  bakeTime: 30s
  onFailure: rollback
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: target
spec:
  endpoints: [{address: 127.0.0.1, port: 18081}]
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: target-green
spec:
  endpoints: [{address: 127.0.0.1, port: 18082}]
";

const BAD_WEIGHTS: &str = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ads
  namespace: ads
spec:
  hosts: [ads.ads.svc.cluster.local]
  http:
  - route:
    - destination: {host: ads.ads.svc.cluster.local}
      weight: -5
    - destination: {host: ads.ads.svc.cluster.local}
      weight: 105
";

fn repo_with_route() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("routes/target-route.yaml", ROUTE_99_1)
        .write("routes/policy.yaml", POLICY)
        .write("README.md", "not yaml, not read\n");
    repo.commit("99/1 canary");
    repo
}

fn snapshot_settings(repo: &TestRepo) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in filters(repo.path()) {
        settings.add_filter(&pattern, replacement);
    }
    settings
}

#[test]
fn validate_clean_repository_exits_0() {
    let repo = repo_with_route();
    let cache = tempfile::tempdir().unwrap();
    let run = meshcd(
        &["validate", "--repo", repo.path().to_str().unwrap()],
        cache.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    snapshot_settings(&repo).bind(|| insta::assert_snapshot!("validate_clean", run.stdout));
}

#[test]
fn validate_reports_every_finding_with_location_and_exits_1() {
    let repo = repo_with_route();
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    repo.commit("bad weights");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let text = meshcd(&["validate", "--repo", path], cache.path());
    assert_eq!(text.code, 1, "{}{}", text.stdout, text.stderr);
    snapshot_settings(&repo).bind(|| insta::assert_snapshot!("validate_errors_text", text.stdout));

    let json = meshcd(
        &["validate", "--repo", path, "--format", "json"],
        cache.path(),
    );
    assert_eq!(json.code, 1);
    let findings = json.json()["findings"].as_array().unwrap().clone();
    assert!(
        findings.len() >= 2,
        "both bad weights are reported: {findings:#?}"
    );
    for finding in &findings {
        for key in ["rule", "severity", "file", "line", "column", "message"] {
            assert!(finding.get(key).is_some(), "finding lacks {key}: {finding}");
        }
    }
    let negative = findings
        .iter()
        .find(|f| f["rule"] == "MC101")
        .expect("MC101 weight-negative");
    assert_eq!(negative["file"], "routes/ads.yaml");
    assert_eq!(
        (negative["line"].as_u64(), negative["column"].as_u64()),
        (Some(11), Some(15))
    );
    assert_eq!(negative["severity"], "error");
}

#[test]
fn validate_machine_formats() {
    let repo = repo_with_route();
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    repo.commit("bad weights");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();

    let sarif = meshcd(
        &["validate", "--repo", path, "--format", "sarif"],
        cache.path(),
    );
    assert_eq!(sarif.code, 1);
    let doc = sarif.json();
    assert_eq!(doc["version"], "2.1.0");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let region = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(region["artifactLocation"]["uri"], "routes/ads.yaml");
    assert!(region["region"]["startLine"].as_u64().unwrap() > 0);
    let rule_ids: Vec<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rule_ids[index], result["ruleId"].as_str().unwrap());
    }

    let github = meshcd(
        &["validate", "--repo", path, "--format", "github"],
        cache.path(),
    );
    assert_eq!(github.code, 1);
    assert!(
        github
            .stdout
            .lines()
            .any(|l| l.starts_with("::error file=routes/ads.yaml,line=11,col=15,title=MC101")),
        "{}",
        github.stdout
    );
}

#[test]
fn deny_warnings_fails_on_warnings_only() {
    let repo = repo_with_route();
    repo.write(
        "other/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    );
    repo.commit("a deployment");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let lenient = meshcd(
        &["validate", "--repo", path, "--format", "json"],
        cache.path(),
    );
    assert_eq!(lenient.code, 0, "{}", lenient.stdout);
    assert_eq!(lenient.json()["summary"]["warnings"], 1);
    let strict = meshcd(
        &["validate", "--repo", path, "--deny-warnings"],
        cache.path(),
    );
    assert_eq!(strict.code, 1);
}

#[test]
fn reads_the_committed_tree_not_the_working_copy() {
    let repo = repo_with_route();
    // Uncommitted breakage must not be seen.
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    let cache = tempfile::tempdir().unwrap();
    let run = meshcd(
        &["validate", "--repo", repo.path().to_str().unwrap()],
        cache.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn revisions_paths_and_tags() {
    let repo = repo_with_route();
    let first = repo.commit("nothing new");
    repo.tag("v1");
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    repo.commit("bad weights");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    assert_eq!(meshcd(&["validate", "--repo", path], cache.path()).code, 1);
    assert_eq!(
        meshcd(&["validate", "--repo", path, "--rev", "v1"], cache.path()).code,
        0
    );
    assert_eq!(
        meshcd(&["validate", "--repo", path, "--rev", &first], cache.path()).code,
        0
    );
    assert_eq!(
        meshcd(
            &["validate", "--repo", path, "--rev", "HEAD~1"],
            cache.path()
        )
        .code,
        0
    );
    // --path limits the files; findings keep repository-relative paths.
    repo.write("other/bad.yaml", BAD_WEIGHTS);
    repo.commit("more");
    let only_other = meshcd(
        &[
            "validate", "--repo", path, "--path", "other", "--format", "json",
        ],
        cache.path(),
    );
    let files: Vec<String> = only_other.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_string())
        .collect();
    assert!(!files.is_empty());
    assert!(files.iter().all(|f| f == "other/bad.yaml"), "{files:?}");
}

#[test]
fn source_errors_are_one_line_and_exit_2() {
    let repo = repo_with_route();
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let not_a_repo = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--repo", path, "--rev", "no-such-branch"],
            "unknown revision `no-such-branch`",
        ),
        (
            vec!["--repo", path, "--path", "../outside"],
            "is outside the repository",
        ),
        (
            vec!["--repo", path, "--path", "/etc"],
            "is outside the repository",
        ),
        (vec!["--repo", path, "--path", "missing"], "does not exist"),
        (
            vec!["--repo", not_a_repo.path().to_str().unwrap()],
            "cannot open repository",
        ),
        (
            vec!["--repo", "file:///nonexistent/meshcd-test.git"],
            "cannot fetch file:///nonexistent/meshcd-test.git",
        ),
        // Loopback port 1: nothing listens, the connection is refused at once.
        (
            vec!["--repo", "http://127.0.0.1:1/routes.git"],
            "cannot fetch http://127.0.0.1:1/routes.git",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["validate"];
        full.extend(&args);
        let run = meshcd(&full, cache.path());
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.is_empty(),
            "{args:?} printed to stdout: {}",
            run.stdout
        );
        let line = run.stderr.trim_end();
        assert_eq!(
            line.lines().count(),
            1,
            "{args:?}: one line expected, got:\n{line}"
        );
        assert!(
            line.starts_with("error: ") && line.contains(expected),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn a_missing_config_names_the_file_and_says_the_os_error_once() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("meshcd.yaml");
    let file = missing.to_str().unwrap();
    let os_error = std::fs::read_to_string(&missing)
        .expect_err("the file is missing")
        .to_string();
    for command in ["run", "apply", "status"] {
        let run = meshcd(&[command, "--config", file], cache.path());
        assert_eq!(run.code, 2, "{command}: {}{}", run.stdout, run.stderr);
        let line = run.stderr.trim_end();
        assert_eq!(
            line,
            format!("error: cannot read {file}: {os_error}"),
            "{command}"
        );
        assert_eq!(line.matches(&os_error).count(), 1, "{command}: {line}");
    }
}

#[test]
fn remote_repositories_follow_branches_and_force_pushes() {
    let repo = repo_with_route();
    repo.branch("release");
    let remote = repo.bare_remote();
    let url = format!("file://{}", remote.path().display());
    let cache = tempfile::tempdir().unwrap();
    assert_eq!(meshcd(&["validate", "--repo", &url], cache.path()).code, 0);
    assert_eq!(
        meshcd(
            &["validate", "--repo", &url, "--rev", "release"],
            cache.path()
        )
        .code,
        0
    );

    // A bad commit pushed to main is seen on the next run (the cached mirror is fetched).
    repo.write("routes/ads.yaml", BAD_WEIGHTS);
    repo.commit("bad weights");
    repo.push_to(remote.path(), false);
    assert_eq!(meshcd(&["validate", "--repo", &url], cache.path()).code, 1);
    assert_eq!(
        meshcd(
            &["validate", "--repo", &url, "--rev", "release"],
            cache.path()
        )
        .code,
        0
    );

    // History rewritten and force-pushed: the mirror follows.
    repo.reset_hard_to_parent();
    repo.push_to(remote.path(), true);
    assert_eq!(meshcd(&["validate", "--repo", &url], cache.path()).code, 0);
}

#[test]
fn plan_against_a_base_revision_shows_a_rollout() {
    let repo = repo_with_route();
    repo.branch("base");
    repo.write(
        "routes/target-route.yaml",
        &ROUTE_99_1
            .replace("weight: 99", "weight: 0")
            .replace("weight: 1\n", "weight: 100\n"),
    );
    repo.commit("promote target-green");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();

    let json = meshcd(
        &["plan", "--repo", path, "--base", "base", "--format", "json"],
        cache.path(),
    );
    assert_eq!(json.code, 0, "{}{}", json.stdout, json.stderr);
    let doc = json.json();
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    let change = &changes[0];
    assert_eq!(change["action"], "update");
    assert_eq!(change["kind"], "HttpRoute");
    assert_eq!(change["name"], "target-route");
    assert_eq!(change["file"], "routes/target-route.yaml");
    let steps = change["rollout"]["steps"].as_array().unwrap();
    let expected = serde_json::json!([
        {"target": 90, "target-green": 10},
        {"target": 50, "target-green": 50},
        {"target": 0, "target-green": 100},
    ]);
    assert_eq!(serde_json::Value::Array(steps.clone()), expected);
    assert_eq!(change["rollout"]["policy"], "target-canary");

    let text = meshcd(&["plan", "--repo", path, "--base", "base"], cache.path());
    assert_eq!(text.code, 0);
    snapshot_settings(&repo).bind(|| insta::assert_snapshot!("plan_rollout_text", text.stdout));

    let detailed = meshcd(
        &[
            "plan",
            "--repo",
            path,
            "--base",
            "base",
            "--detailed-exitcode",
        ],
        cache.path(),
    );
    assert_eq!(detailed.code, 2, "changes present");
    let same = meshcd(
        &[
            "plan",
            "--repo",
            path,
            "--base",
            "HEAD",
            "--detailed-exitcode",
        ],
        cache.path(),
    );
    assert_eq!(same.code, 0, "{}", same.stdout);
    assert!(same.stdout.starts_with("No changes"), "{}", same.stdout);
}

#[test]
fn plan_creates_updates_and_deletes_against_a_folder() {
    let repo = repo_with_route();
    let applied = tempfile::tempdir().unwrap();
    // The applied folder holds the route as gcloud exports it (no header) with output-only
    // fields, plus a route Git no longer has.
    let exported = ROUTE_99_1
        .replace("apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\n", "")
        .replace("name: target-route", "name: projects/my-project/locations/global/httpRoutes/target-route\ncreateTime: '2026-01-01T00:00:00Z'");
    std::fs::write(applied.path().join("target-route.yaml"), exported).unwrap();
    std::fs::write(
        applied.path().join("old.yaml"),
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: old, namespace: web}\nspec:\n  rules:\n  - backendRefs: [{name: old}]\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let run = meshcd(
        &[
            "plan",
            "--repo",
            path,
            "--applied",
            applied.path().to_str().unwrap(),
            "--format",
            "json",
        ],
        cache.path(),
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let doc = run.json();
    let actions: Vec<(String, String)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The header-less export with output-only fields equals the desired route: unchanged.
    assert_eq!(actions, vec![("delete".to_string(), "old".to_string())]);
    assert_eq!(doc["summary"]["unchanged"], 1);
}

#[test]
fn plan_refuses_a_revision_with_errors() {
    let repo = repo_with_route();
    repo.branch("base");
    repo.write("routes/target-route.yaml", "hostnames: [a\n");
    repo.commit("broken");
    let cache = tempfile::tempdir().unwrap();
    let run = meshcd(
        &[
            "plan",
            "--repo",
            repo.path().to_str().unwrap(),
            "--base",
            "base",
            "--format",
            "json",
        ],
        cache.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let doc = run.json();
    assert_eq!(doc["refused"], true);
    assert_eq!(
        doc["changes"].as_array().unwrap().len(),
        0,
        "a broken file must not turn into deletions"
    );
    let rules: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"MC001"), "{rules:?}");
}

#[test]
fn rules_lists_every_rule() {
    let cache = tempfile::tempdir().unwrap();
    let run = meshcd(&["rules", "--format", "json"], cache.path());
    assert_eq!(run.code, 0);
    let rules = run.json()["rules"].as_array().unwrap().len();
    assert_eq!(rules, meshcd_core::policy::rules::ALL.len());
}

#[test]
fn help_documents_exit_codes() {
    let cache = tempfile::tempdir().unwrap();
    for command in ["validate", "plan"] {
        let run = meshcd(&[command, "--help"], cache.path());
        assert_eq!(run.code, 0);
        assert!(
            run.stdout.contains("Exit status"),
            "{command} --help: {}",
            run.stdout
        );
    }
    let bad = meshcd(&["plan", "--repo", "."], cache.path());
    assert_eq!(bad.code, 2, "usage error: {}", bad.stderr);
}

/// `meshcd status` and the gates without a daemon: a clear error without `--config`, and with
/// it the state store is read and a gate is recorded there (the next `run`/`apply` carries it
/// out).
#[test]
fn rollout_gates_without_a_daemon_use_the_state_store() {
    use meshcd_core::plan::{RolloutPlan, WeightMap};
    use meshcd_core::rollout::machine::{Event, Phase, Rollout};

    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = tmp.path().join("meshcd.yaml");
    std::fs::write(
        &config,
        format!(
            "repo: {}\nserver:\n  listen: 127.0.0.1:{port}\nstateDir: {}\n",
            tmp.path().display(),
            tmp.path().join("state").display()
        ),
    )
    .expect("config");

    let run = meshcd(
        &["status", "--server", &format!("http://127.0.0.1:{port}")],
        &cache,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no meshcd daemon answers"),
        "{}",
        run.stderr
    );

    let shares = |canary: u64| -> WeightMap {
        [
            ("stable".to_string(), 100 - canary),
            ("canary".to_string(), canary),
        ]
        .into_iter()
        .collect()
    };
    let mut rollout = Rollout::new(
        "HTTPRoute/web/web".parse().expect("a route id"),
        "c0ffee",
        RolloutPlan {
            policy: "p".into(),
            canary: "canary".into(),
            bake_time: std::time::Duration::from_secs(30),
            on_failure: meshcd_core::rollout::OnFailure::Rollback,
            on_inconclusive: meshcd_core::rollout::OnInconclusive::Pause,
            from: shares(0),
            steps: vec![shares(10), shares(100)],
            splits: vec![],
        },
        vec![("rules[0]".into(), vec!["stable".into(), "canary".into()])],
        1,
    );
    rollout.on(Event::Start, 2).expect("start");
    rollout.on(Event::Applied, 3).expect("applied");
    {
        std::fs::create_dir_all(tmp.path().join("state")).expect("state dir");
        let store =
            meshcd::store::Store::open(meshcd::store::state_path_in(&tmp.path().join("state")))
                .expect("store");
        store
            .put_rollout("envoy:test", &rollout.route.to_string(), &rollout)
            .expect("put");
    }
    let config = config.to_str().expect("utf-8");
    let run = meshcd(&["status", "--config", config, "--format", "json"], &cache);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status = run.json();
    assert_eq!(status["rollouts"][0]["route"], "HTTPRoute/web/web");
    assert_eq!(status["rollouts"][0]["phase"], "progressing");
    assert_eq!(status["rollouts"][0]["canaryWeight"], 10);

    let run = meshcd(&["resume", "web", "--config", config], &cache);
    assert_eq!(
        run.code, 1,
        "a running rollout needs no resume: {}",
        run.stdout
    );
    assert!(run.stderr.contains("cannot resume"), "{}", run.stderr);
    let run = meshcd(&["abort", "nope", "--config", config], &cache);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no rollout of `nope`"),
        "{}",
        run.stderr
    );

    let run = meshcd(&["abort", "web", "--config", config], &cache);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("the gate is recorded"),
        "{}",
        run.stdout
    );
    let store = meshcd::store::Store::open(meshcd::store::state_path_in(&tmp.path().join("state")))
        .expect("store");
    let back: Rollout = store
        .get_rollout("envoy:test", "HTTPRoute/web/web")
        .expect("read")
        .expect("kept");
    assert_eq!(back.phase, Phase::RollingBack);
    assert_eq!(
        back.want,
        shares(0),
        "abort asks for the weights before the rollout"
    );
    assert!(!back.live, "the next run carries it out");
}

/// Runs `meshcd -v history` on an empty state folder (it logs `no state store yet` at debug)
/// with stderr written to a file, as under systemd or `2>file`, and returns what it wrote.
fn logs_to_a_file(extra_args: &[&str], env: &[(&str, &str)]) -> String {
    let tmp = tempfile::tempdir().expect("temp dir");
    let log = tmp.path().join("stderr.log");
    let file = std::fs::File::create(&log).expect("log file");
    let state = tmp.path().join("state");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_meshcd"));
    command
        .args(["-v", "history", "--state-dir"])
        .arg(&state)
        .args(extra_args)
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("MESHCD_LOG_FORMAT")
        .stdout(std::process::Stdio::null())
        .stderr(file);
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command.status().expect("run meshcd");
    assert!(status.success(), "{status}");
    std::fs::read_to_string(&log).expect("read the log")
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let logs = logs_to_a_file(&[], &[]);
    assert!(logs.contains("no state store yet"), "{logs}");
    assert!(!logs.contains("\x1b["), "ANSI escape in {logs:?}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("MESHCD_LOG_FORMAT", "json")][..]),
    ] {
        let logs = logs_to_a_file(args, env);
        let lines: Vec<serde_json::Value> = logs
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
            .collect();
        let event = lines
            .iter()
            .find(|line| line["message"] == "no state store yet")
            .unwrap_or_else(|| panic!("no such event in {logs}"));
        assert_eq!(event["level"], "DEBUG", "{event}");
        assert!(
            event["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("state.redb")),
            "{event}"
        );
        assert!(event["timestamp"].is_string(), "{event}");
    }
}
