//! The `gcp` target through the real binary (`meshcd plan --target gcp`, `meshcd apply`,
//! `meshcd run --once`), from a real Git repository to a networkservices API.
//!
//! No Google Cloud API can run here, so the API is `tests/common/gcp_server.rs`: a local server
//! written for these tests that follows the documented networkservices v1 REST protocol (list,
//! get, create with `httpRouteId`, patch with `updateMask`, delete, long-running Operations,
//! Google error bodies) and Google's OAuth token endpoint (JWT bearer flow with a test-only
//! service-account key). Every request meshcd makes is recorded and asserted on.

use std::path::PathBuf;

use crate::common::backend::Backend;
use crate::common::gcp_server::{FakeGcp, Request};
use crate::common::{apply_json, meshcd, plan_against_target, TestRepo};
use serde_json::{json, Value};

const PROJECT: &str = "my-project";

fn route(name: &str, a: u32, b: u32, description: &str) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: {name}
description: {description}
hostnames: [{name}.meshapps.internal]
meshes: [projects/{PROJECT}/locations/global/meshes/mesh]
rules:
- action:
    destinations:
    - serviceName: projects/{PROJECT}/locations/global/backendServices/blue
      weight: {a}
    - serviceName: projects/{PROJECT}/locations/global/backendServices/green
      weight: {b}
"
    )
}

fn policy(bake: &str, analysis: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {{name: canary}}
spec:
  selector: {{routes: [checkout]}}
  steps: [10, 50]
  bakeTime: {bake}
  analysis: {analysis}
  onFailure: rollback
"
    )
}

struct Setup {
    tmp: tempfile::TempDir,
    fake: FakeGcp,
    repo: TestRepo,
    config: PathBuf,
    cache: PathBuf,
    key: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().expect("temp dir");
        let fake = FakeGcp::start_blocking(PROJECT);
        fake.put_resource(
            "meshes",
            "mesh",
            json!({"description": "the platform's mesh"}),
        );
        let key = fake.service_account_key(tmp.path());
        let repo = TestRepo::new();
        repo.write("routes/checkout.yaml", &route("checkout", 100, 0, "v1"));
        repo.write("routes/search.yaml", &route("search", 50, 50, "v1"));
        repo.commit("two routes");
        let setup = Setup {
            config: tmp.path().join("meshcd.yaml"),
            cache: tmp.path().join("cache"),
            tmp,
            fake,
            repo,
            key,
        };
        setup.configure(false);
        setup
    }

    fn configure(&self, prune: bool) {
        std::fs::write(
            &self.config,
            format!(
                "repo: {}\nrev: main\nstateDir: {}\ntarget:\n  gcp:\n    project: {PROJECT}\n    endpoint: {}\n    auth:\n      serviceAccountKeyFile: {}\n    prune: {prune}\n    requestsPerSecond: 1000\n",
                self.repo.path().display(),
                self.tmp.path().join("state").display(),
                self.fake.url,
                self.key.display()
            ),
        )
        .expect("config");
    }

    fn config(&self) -> &str {
        self.config.to_str().expect("utf-8")
    }

    fn apply(&self) -> (i32, Vec<Value>, String) {
        apply_json(&self.config, &self.cache, &[])
    }

    fn plan(&self) -> Value {
        plan_against_target(self.repo.path(), "gcp", &self.config, &self.cache)
    }

    /// The mutating API requests (POST, PATCH, DELETE) since the last clear.
    fn mutations(&self) -> Vec<Request> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| matches!(r.method.as_str(), "POST" | "PATCH" | "DELETE"))
            .collect()
    }

    fn weights(&self, name: &str) -> Vec<u64> {
        let route = self
            .fake
            .resource("httpRoutes", name)
            .expect("the route exists");
        weights_of(&route)
    }
}

fn weights_of(route: &Value) -> Vec<u64> {
    route["rules"][0]["action"]["destinations"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["weight"].as_u64()).collect())
        .unwrap_or_default()
}

fn result(lines: &[Value]) -> &Value {
    lines.last().expect("a result line")
}

#[test]
fn routes_are_created_updated_with_an_update_mask_and_pruned_only_when_asked() {
    let setup = Setup::new();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    let created: Vec<Request> = setup.mutations();
    assert_eq!(created.len(), 2, "one create per route: {created:#?}");
    assert_eq!(
        created[0].query.get("httpRouteId").map(String::as_str),
        Some("checkout")
    );
    let checkout = setup
        .fake
        .resource("httpRoutes", "checkout")
        .expect("created");
    assert_eq!(checkout["labels"]["managed-by"], "meshcd", "{checkout:#}");
    assert_eq!(
        checkout["name"],
        format!("projects/{PROJECT}/locations/global/httpRoutes/checkout")
    );
    assert!(
        checkout.get("createTime").is_some(),
        "the API's output-only fields are there"
    );
    assert_eq!(setup.weights("checkout"), vec![100, 0]);

    // Output-only fields and the ownership label are not differences: nothing to do.
    assert_eq!(setup.plan()["changes"], json!([]));
    setup.fake.clear_requests();
    let (code, lines, _) = setup.apply();
    assert_eq!(code, 0);
    assert_eq!(result(&lines)["action"], "unchanged", "{lines:#?}");
    assert!(
        setup.mutations().is_empty(),
        "an unchanged commit changes nothing"
    );

    // A description change is one PATCH of `description` only.
    setup
        .repo
        .write("routes/search.yaml", &route("search", 50, 50, "v2"));
    setup.repo.commit("search v2");
    setup.fake.clear_requests();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    let patches = setup.mutations();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0].method, "PATCH");
    assert!(
        patches[0].path.ends_with("/httpRoutes/search"),
        "{patches:#?}"
    );
    assert_eq!(
        patches[0].query.get("updateMask").map(String::as_str),
        Some("description")
    );
    assert_eq!(
        setup.fake.resource("httpRoutes", "search").expect("kept")["description"],
        "v2"
    );

    // A route removed from Git is listed as a delete, and kept while prune is off.
    setup.repo.remove("routes/search.yaml");
    setup.repo.commit("no search");
    let plan = setup.plan();
    assert_eq!(plan["changes"][0]["action"], "delete", "{plan:#}");
    setup.fake.clear_requests();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert!(
        setup.fake.resource("httpRoutes", "search").is_some(),
        "prune is off"
    );
    assert!(setup.mutations().is_empty(), "{:#?}", setup.mutations());
    let message = result(&lines)["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains("prune is off"), "{message}");

    // With prune on it is deleted; a route another tool made (no label) is never touched.
    setup.fake.put_resource(
        "httpRoutes",
        "someone-elses",
        json!({"hostnames": ["x.internal"], "rules": []}),
    );
    setup.configure(true);
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert!(
        setup.fake.resource("httpRoutes", "search").is_none(),
        "pruned"
    );
    assert!(
        setup.fake.resource("httpRoutes", "someone-elses").is_some(),
        "not meshcd's"
    );
    let deletes: Vec<Request> = setup
        .mutations()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
}

#[test]
fn a_failed_operation_is_reported_and_nothing_is_recorded() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    setup
        .repo
        .write("routes/search.yaml", &route("search", 50, 50, "v2"));
    setup.repo.commit("search v2");
    setup.fake.fail_next_operation(
        9,
        "hostname search.meshapps.internal is used by another route",
    );
    let (code, lines, stderr) = setup.apply();
    assert_ne!(code, 0, "{lines:#?}");
    assert!(
        stderr.contains("hostname search.meshapps.internal is used by another route")
            && stderr.contains("search"),
        "the operation's error, with the route: {stderr}"
    );
    assert_eq!(
        setup.fake.resource("httpRoutes", "search").expect("kept")["description"],
        "v1"
    );
    // Nothing was recorded: the next apply tries again, and succeeds.
    assert_eq!(setup.plan()["changes"][0]["name"], "search");
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert_eq!(
        setup.fake.resource("httpRoutes", "search").expect("kept")["description"],
        "v2"
    );
}

#[test]
fn rate_limited_requests_are_retried_and_a_missing_mesh_is_refused() {
    let setup = Setup::new();
    setup.fake.fail_next(429, 2);
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "429 twice, then success: {lines:#?}\n{stderr}");
    assert!(setup.fake.resource("httpRoutes", "checkout").is_some());
    let throttled = setup
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" || r.method == "POST")
        .count();
    assert!(throttled >= 3, "the throttled requests were sent again");

    // A route attached to a mesh the project does not have is refused before it is created.
    let text = route("orphan", 100, 0, "v1").replace("meshes/mesh", "meshes/no-such-mesh");
    setup.repo.write("routes/orphan.yaml", &text);
    setup.repo.commit("orphan");
    let (code, _, stderr) = setup.apply();
    assert_ne!(code, 0);
    assert!(
        stderr.contains("no-such-mesh") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(setup.fake.resource("httpRoutes", "orphan").is_none());
}

#[test]
fn drift_made_behind_meshcds_back_is_detected_from_the_api() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    // Someone moves the weights in the console.
    let mut checkout = setup
        .fake
        .resource("httpRoutes", "checkout")
        .expect("created");
    checkout["rules"][0]["action"]["destinations"][0]["weight"] = json!(20);
    checkout["rules"][0]["action"]["destinations"][1]["weight"] = json!(80);
    setup.fake.put_resource("httpRoutes", "checkout", checkout);
    let plan = setup.plan();
    assert_eq!(plan["changes"][0]["name"], "checkout", "{plan:#}");
    assert_eq!(
        plan["changes"][0]["rollout"]["from"],
        json!({"blue": 20, "green": 80}),
        "{plan:#}"
    );
    let run = meshcd(&["run", "--config", setup.config(), "--once"], &setup.cache);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("drift_detected"),
        "selfHeal is off: {}",
        run.stdout
    );
    assert_eq!(setup.weights("checkout"), vec![20, 80], "left alone");
}

#[test]
fn a_canary_rollout_is_one_weights_patch_per_step() {
    let setup = Setup::new();
    setup
        .repo
        .write("meshcd/policy.yaml", &policy("0s", "{provider: none}"));
    setup.repo.commit("policy");
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    setup
        .repo
        .write("routes/checkout.yaml", &route("checkout", 0, 100, "v1"));
    setup.repo.commit("to green");
    setup.fake.clear_requests();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert_eq!(
        result(&lines)["rollouts"][0]["phase"],
        "promoted",
        "{lines:#?}"
    );
    let patches = setup.mutations();
    assert!(
        patches.iter().all(|p| p.method == "PATCH"
            && p.path.ends_with("/httpRoutes/checkout")
            && p.query.get("updateMask").map(String::as_str) == Some("rules")),
        "every step is a PATCH of the route's rules: {patches:#?}"
    );
    let steps: Vec<Vec<u64>> = patches.iter().map(|p| weights_of(&p.body)).collect();
    assert_eq!(
        steps,
        vec![vec![90, 10], vec![50, 50], vec![0, 100]],
        "{patches:#?}"
    );
    assert_eq!(setup.weights("checkout"), vec![0, 100]);
}

#[test]
fn a_failing_canary_is_rolled_back_to_the_previous_weights() {
    let setup = Setup::new();
    let canary = Backend::start("green");
    canary.set_status(503);
    let analysis = format!(
        "{{provider: http, interval: 100ms, minRequests: 3, successRate: {{min: 99}}, probe: {{url: 'http://{}/', perInterval: 2}}}}",
        canary.addr()
    );
    setup
        .repo
        .write("meshcd/policy.yaml", &policy("30s", &analysis));
    setup.repo.commit("policy");
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    setup
        .repo
        .write("routes/checkout.yaml", &route("checkout", 0, 100, "v1"));
    setup.repo.commit("to green");
    setup.fake.clear_requests();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(
        code, 1,
        "a rolled-back rollout exits 1: {lines:#?}\n{stderr}"
    );
    assert_eq!(
        result(&lines)["rollouts"][0]["phase"],
        "rolled-back",
        "{lines:#?}"
    );
    let steps: Vec<Vec<u64>> = setup
        .mutations()
        .iter()
        .map(|p| weights_of(&p.body))
        .collect();
    assert_eq!(
        steps,
        vec![vec![90, 10], vec![100, 0]],
        "first step, then back"
    );
    assert_eq!(setup.weights("checkout"), vec![100, 0]);
    assert!(canary.requests() > 0, "the canary was probed");
}
