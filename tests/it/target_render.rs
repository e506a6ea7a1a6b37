//! The `render` target through the real binary: a Git repository of networkservices, Istio and
//! Gateway API routes is rendered into the files `gcloud network-services … import` and
//! `kubectl apply -f` take; the folder is read back as the applied state (drift shows), files of
//! removed resources go, and a weight move rolls out step by step into the route's file.

use std::path::{Path, PathBuf};

use crate::common::{apply_json, plan_against_target, TestRepo};
use serde_json::Value;

fn ns_route(a: u32, b: u32) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: target-route
hostnames: [target.meshapps.internal]
meshes: [projects/my-project/locations/global/meshes/mesh]
rules:
- action:
    destinations:
    - serviceName: projects/my-project/locations/global/backendServices/target
      weight: {a}
    - serviceName: projects/my-project/locations/global/backendServices/target-green
      weight: {b}
"
    )
}

const VIRTUAL_SERVICE: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews.shop.svc.cluster.local}
";

const POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: canary}
spec:
  selector: {routes: [target-route]}
  steps: [25, 50]
  bakeTime: 0s
  analysis: {provider: none}
";

struct Setup {
    _tmp: tempfile::TempDir,
    repo: TestRepo,
    config: PathBuf,
    cache: PathBuf,
    out: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("temp dir");
    let repo = TestRepo::new();
    repo.write("routes/target-route.yaml", &ns_route(100, 0));
    repo.write("istio/reviews.yaml", VIRTUAL_SERVICE);
    repo.write("meshcd/policy.yaml", POLICY);
    repo.commit("routes");
    let out = tmp.path().join("rendered");
    let config = tmp.path().join("meshcd.yaml");
    std::fs::write(
        &config,
        format!(
            "repo: {}\nrev: main\nstateDir: {}\ntarget:\n  render:\n    dir: {}\n",
            repo.path().display(),
            tmp.path().join("state").display(),
            out.display()
        ),
    )
    .expect("config");
    let cache = tmp.path().join("cache");
    Setup {
        _tmp: tmp,
        repo,
        config,
        cache,
        out,
    }
}

fn apply(setup: &Setup) -> (i32, Vec<Value>, String) {
    apply_json(&setup.config, &setup.cache, &[])
}

fn plan(setup: &Setup) -> Value {
    plan_against_target(setup.repo.path(), "render", &setup.config, &setup.cache)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn render_writes_gcloud_and_kubectl_files_under_stable_names() {
    let setup = setup();
    let (code, lines, stderr) = apply(&setup);
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    let gcloud = setup
        .out
        .join("network-services/http-routes/target-route.yaml");
    let kubectl = setup
        .out
        .join("kubernetes/shop/virtualservice-reviews.yaml");
    let route = read(&gcloud);
    assert!(
        route.contains("gcloud network-services http-routes import target-route"),
        "the file says how to import it:\n{route}"
    );
    let body: serde_yaml_ng::Value = serde_yaml_ng::from_str(&route).expect("YAML");
    assert!(
        body.get("apiVersion").is_none()
            && body.get("kind").is_none()
            && body.get("name").is_none(),
        "gcloud's import form:\n{route}"
    );
    assert_eq!(
        body["hostnames"][0].as_str(),
        Some("target.meshapps.internal")
    );
    let manifest: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(&kubectl)).expect("YAML");
    assert_eq!(manifest["kind"].as_str(), Some("VirtualService"));
    assert_eq!(manifest["metadata"]["namespace"].as_str(), Some("shop"));
    assert!(
        !setup.out.join("network-services/rollout").exists(),
        "meshcd's own kinds are not rendered"
    );

    // Rendering again changes nothing, byte for byte; the folder holds what Git asks for.
    let before = (read(&gcloud), read(&kubectl));
    let (code, lines, _) = apply(&setup);
    assert_eq!(code, 0);
    assert_eq!(
        lines.last().expect("result")["action"],
        "unchanged",
        "{lines:#?}"
    );
    assert_eq!((read(&gcloud), read(&kubectl)), before);
    assert_eq!(plan(&setup)["summary"]["create"], 0);
    assert_eq!(plan(&setup)["changes"].as_array().map(Vec::len), Some(0));

    // A file edited behind meshcd's back is drift, put back by the next apply.
    std::fs::write(
        &kubectl,
        read(&kubectl).replace("reviews.shop.svc.cluster.local", "evil.example"),
    )
    .expect("tamper");
    let drift = plan(&setup);
    assert_eq!(drift["changes"][0]["action"], "update", "{drift:#}");
    assert_eq!(drift["changes"][0]["name"], "reviews");
    let (code, _, stderr) = apply(&setup);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&kubectl), before.1);

    // A resource removed from Git loses its file.
    setup.repo.remove("istio/reviews.yaml");
    setup.repo.commit("no reviews");
    let (code, lines, stderr) = apply(&setup);
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert!(
        !kubectl.exists(),
        "the file of a removed resource is removed"
    );
    assert!(gcloud.exists());
}

#[test]
fn a_weight_move_is_rendered_step_by_step() {
    let setup = setup();
    let (code, _, stderr) = apply(&setup);
    assert_eq!(code, 0, "{stderr}");
    setup
        .repo
        .write("routes/target-route.yaml", &ns_route(0, 100));
    setup.repo.commit("to green");
    let (code, lines, stderr) = apply(&setup);
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    let live: Vec<u64> = lines
        .iter()
        .filter(|l| l["type"] == "rollout" && l["live"] == true && l["phase"] == "progressing")
        .filter_map(|l| l["canaryWeight"].as_u64())
        .collect();
    assert!(
        live.contains(&25) && live.contains(&50) && live.contains(&100),
        "every step was written: {lines:#?}"
    );
    let result = lines.last().expect("result");
    assert_eq!(result["rollouts"][0]["phase"], "promoted", "{result:#}");
    let route: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(
        &setup
            .out
            .join("network-services/http-routes/target-route.yaml"),
    ))
    .expect("YAML");
    let weights: Vec<u64> = route["rules"][0]["action"]["destinations"]
        .as_sequence()
        .expect("destinations")
        .iter()
        .filter_map(|d| d["weight"].as_u64())
        .collect();
    assert_eq!(weights, vec![0, 100]);
}

/// A command given `--config` reads the repository, revision and folder the configuration
/// names, not the repository of the folder it runs in (here the meshcd checkout itself).
#[test]
fn plan_with_a_config_reads_the_configured_repository() {
    let s = setup();
    let head = s.repo.commit("nothing new");
    let config = s.config.to_str().expect("utf-8");
    let run = crate::common::meshcd(
        &[
            "plan", "--target", "render", "--config", config, "--format", "json",
        ],
        &s.cache,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let plan = run.json();
    assert_eq!(plan["desired"]["commit"], head, "{plan:#}");
    let mut created: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .filter_map(|c| c["name"].as_str())
        .collect();
    created.sort_unstable();
    assert_eq!(created, ["reviews", "target-route"], "{plan:#}");
    // `--repo` still wins over the configuration.
    let other = TestRepo::new();
    other.write("istio/reviews.yaml", VIRTUAL_SERVICE);
    let other_head = other.commit("only reviews");
    let repo = other.path().to_str().expect("utf-8");
    let run = crate::common::meshcd(
        &[
            "plan", "--repo", repo, "--target", "render", "--config", config, "--format", "json",
        ],
        &s.cache,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["desired"]["commit"], other_head);
}
