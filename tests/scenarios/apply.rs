//! `meshcd apply` with rollouts, against a real Envoy it attaches to: the plan is applied, then
//! every rollout is driven to its end in the foreground, with one JSON event per line for
//! machines and the exit status saying how it ended.

use crate::common::backend::Backend;
use crate::common::daemon::{backends, envoy_binary, route, serial, served_weights, weights};
use crate::common::{apply_json, meshcd, TestRepo};
use meshcd::envoy::process::free_port;
use meshcd::envoy::{EnvoyOptions, EnvoyProcess};
use serde_json::Value;

fn policy(steps: &str, analysis: &str, on_inconclusive: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [target-route]}}
  steps: {steps}
  bakeTime: 0s
  analysis: {analysis}
  onInconclusive: {on_inconclusive}
"
    )
}

#[test]
fn apply_drives_rollouts_to_their_end_and_says_how_they_ended() {
    let _serial = serial();
    let target = Backend::start("target");
    let green = Backend::start("target-green");
    let tmp = tempfile::tempdir().expect("temp dir");
    let work_dir = tmp.path().join("envoy");
    let admin_port = free_port().expect("port");
    let http_port = free_port().expect("port");
    let mut options = EnvoyOptions::new(envoy_binary(), &work_dir, admin_port);
    options.concurrency = Some(1);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let envoy = runtime
        .block_on(EnvoyProcess::start(options))
        .expect("start Envoy");

    let repo = TestRepo::new();
    repo.write("routes/target-route.yaml", &route(100, 0));
    repo.write(
        "meshcd/backends.yaml",
        &backends(target.port(), green.port()),
    );
    repo.write(
        "meshcd/rollout-policy.yaml",
        &policy("[50, 100]", "{provider: none}", "pause"),
    );
    repo.commit("100/0");
    let config = tmp.path().join("meshcd.yaml");
    std::fs::write(
        &config,
        format!(
            "repo: {}\nrev: main\nstateDir: {}\ntarget:\n  envoy:\n    adminPort: {admin_port}\n    httpPort: {http_port}\n    workDir: {}\n",
            repo.path().display(),
            tmp.path().join("state").display(),
            work_dir.display()
        ),
    )
    .expect("config");
    let cache = tmp.path().join("cache");

    let (code, lines, stderr) = apply_json(&config, &cache, &[]);
    assert_eq!(code, 0, "first apply: {lines:#?}\n{stderr}");
    assert_eq!(lines.last().unwrap()["action"], "applied", "{lines:#?}");

    // A weight move rolls out through 50 % to 100 %, time-based, and apply waits for the end.
    repo.write("routes/target-route.yaml", &route(0, 100));
    let commit = repo.commit("0/100");
    let (code, lines, stderr) = apply_json(&config, &cache, &[]);
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    let events: Vec<&Value> = lines.iter().filter(|l| l["type"] == "rollout").collect();
    let shares: Vec<u64> = events
        .iter()
        .filter(|e| e["live"] == true && e["phase"] == "progressing")
        .filter_map(|e| e["canaryWeight"].as_u64())
        .collect();
    assert!(
        shares.contains(&50) && shares.contains(&100),
        "every step went live: {events:#?}"
    );
    let result = lines.last().expect("a result line");
    assert_eq!(result["type"], "result");
    assert_eq!(result["commit"], commit.as_str());
    assert_eq!(result["rollouts"][0]["phase"], "promoted", "{result:#}");
    assert_eq!(
        served_weights(admin_port),
        Some(weights(&[("target", 0), ("target-green", 100)]))
    );

    // A step that can never see enough requests is inconclusive; told to roll back, it does,
    // and apply exits 1 with Envoy back at the weights before the rollout.
    repo.write(
        "meshcd/rollout-policy.yaml",
        &policy(
            "[50, 100]",
            "{provider: envoy, interval: 200ms, minRequests: 1000000}",
            "rollback",
        ),
    );
    repo.write("routes/target-route.yaml", &route(100, 0));
    repo.commit("back to 100/0, judged on Envoy's stats");
    let (code, lines, stderr) = apply_json(&config, &cache, &[]);
    assert_eq!(
        code, 1,
        "a rolled-back rollout exits 1: {lines:#?}\n{stderr}"
    );
    let result = lines.last().expect("a result line");
    let rollout = &result["rollouts"][0];
    assert_eq!(rollout["phase"], "rolled-back", "{result:#}");
    assert!(
        rollout["reason"]
            .as_str()
            .is_some_and(|r| r.contains("inconclusive")),
        "{rollout:#}"
    );
    assert_eq!(
        served_weights(admin_port),
        Some(weights(&[("target", 0), ("target-green", 100)])),
        "rolled back to the weights before the rollout"
    );

    // The text form draws progress on stderr and says how the rollout ended.
    let run = meshcd(
        &["apply", "--config", config.to_str().expect("utf-8")],
        &cache,
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("rollout HttpRoute/target-route: rolled back"),
        "the rolled-back commit is held: {}\n{}",
        run.stdout,
        run.stderr
    );
    drop(envoy);
}
