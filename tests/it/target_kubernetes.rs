//! The `kubernetes` target through the real binary (`meshcd plan --target kubernetes`,
//! `meshcd apply`, `meshcd run --once`), from a real Git repository to a cluster's API.
//!
//! No Kubernetes API server can run here (no kind, k3s or network), so the cluster is
//! `tests/common/kube_server.rs`: a local server written for these tests that follows the
//! documented API for custom resources (get, list with label selectors, delete) and server-side
//! apply (`application/apply-patch+yaml`, field managers, `managedFields`, 409 conflicts unless
//! `force=true`). Every request meshcd makes is recorded and asserted on.

use std::path::PathBuf;

use crate::common::kube_server::{FakeKube, Request, APPLY_PATCH};
use crate::common::{apply_json, meshcd, plan_against_target, TestRepo};
use serde_json::{json, Value};

fn virtual_service(v1: u32, v2: u32, timeout: Option<&str>) -> String {
    let timeout = timeout
        .map(|t| format!("    timeout: {t}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: reviews, namespace: shop}}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  http:
  - route:
    - destination: {{host: reviews.shop.svc.cluster.local, subset: v1}}
      weight: {v1}
    - destination: {{host: reviews.shop.svc.cluster.local, subset: v2}}
      weight: {v2}
{timeout}"
    )
}

const DESTINATION_RULE: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews.shop.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
";

const HTTP_ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: web}
spec:
  parentRefs: [{name: gateway}]
  rules:
  - backendRefs:
    - {name: store-v1, port: 8080}
";

const POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: canary}
spec:
  selector: {routes: [reviews]}
  steps: [20, 60]
  bakeTime: 0s
  analysis: {provider: none}
";

struct Setup {
    tmp: tempfile::TempDir,
    fake: FakeKube,
    repo: TestRepo,
    config: PathBuf,
    cache: PathBuf,
    kubeconfig: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().expect("temp dir");
        let fake = FakeKube::start_blocking();
        let kubeconfig = fake.kubeconfig(tmp.path());
        let repo = TestRepo::new();
        repo.write("istio/reviews.yaml", &virtual_service(100, 0, None));
        repo.write("istio/reviews-subsets.yaml", DESTINATION_RULE);
        repo.write("gateway/store.yaml", HTTP_ROUTE);
        repo.write("meshcd/policy.yaml", POLICY);
        repo.commit("routes");
        let setup = Setup {
            config: tmp.path().join("meshcd.yaml"),
            cache: tmp.path().join("cache"),
            tmp,
            fake,
            repo,
            kubeconfig,
        };
        setup.configure("");
        setup
    }

    fn configure(&self, extra: &str) {
        std::fs::write(
            &self.config,
            format!(
                "repo: {}\nrev: main\nstateDir: {}\ntarget:\n  kubernetes:\n    kubeconfig: {}\n{extra}",
                self.repo.path().display(),
                self.tmp.path().join("state").display(),
                self.kubeconfig.display()
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
        plan_against_target(self.repo.path(), "kubernetes", &self.config, &self.cache)
    }

    fn applies(&self) -> Vec<Request> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" || r.method == "DELETE")
            .collect()
    }

    fn reviews(&self) -> Value {
        self.fake
            .object("virtualservices", "shop", "reviews")
            .expect("the VirtualService exists")
    }
}

fn weights_of(object: &Value) -> Vec<u64> {
    object["spec"]["http"][0]["route"]
        .as_array()
        .map(|r| r.iter().filter_map(|d| d["weight"].as_u64()).collect())
        .unwrap_or_default()
}

fn result(lines: &[Value]) -> &Value {
    lines.last().expect("a result line")
}

#[test]
fn resources_are_server_side_applied_and_read_back_without_server_fields() {
    let setup = Setup::new();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    let applies = setup.applies();
    assert_eq!(applies.len(), 3, "one apply per resource: {applies:#?}");
    for apply in &applies {
        assert_eq!(apply.content_type.as_deref(), Some(APPLY_PATCH));
        assert_eq!(
            apply.query.get("fieldManager").map(String::as_str),
            Some("meshcd")
        );
        assert_ne!(apply.query.get("force").map(String::as_str), Some("true"));
    }
    let reviews = setup.reviews();
    assert_eq!(
        reviews["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "meshcd"
    );
    assert!(reviews["metadata"].get("managedFields").is_some());
    assert!(setup.fake.object("httproutes", "web", "store").is_some());

    // managedFields, resourceVersion, status and the label are not differences.
    setup.fake.set_status(
        "virtualservices",
        "shop",
        "reviews",
        json!({"observedGeneration": 1}),
    );
    assert_eq!(setup.plan()["changes"], json!([]));
    setup.fake.clear_requests();
    let (code, lines, _) = setup.apply();
    assert_eq!(code, 0);
    assert_eq!(result(&lines)["action"], "unchanged", "{lines:#?}");
    assert!(setup.applies().is_empty());

    // A field removed from Git is removed from the cluster.
    setup
        .repo
        .write("istio/reviews.yaml", &virtual_service(100, 0, Some("5s")));
    setup.repo.commit("timeout");
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(setup.reviews()["spec"]["http"][0]["timeout"], "5s");
    setup
        .repo
        .write("istio/reviews.yaml", &virtual_service(100, 0, None));
    setup.repo.commit("no timeout");
    let plan = setup.plan();
    assert_eq!(plan["changes"][0]["name"], "reviews", "{plan:#}");
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        setup.reviews()["spec"]["http"][0].get("timeout").is_none(),
        "{:#}",
        setup.reviews()
    );
}

#[test]
fn a_field_another_manager_owns_is_a_conflict_unless_forced() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    // Someone edits the route with kubectl: drift, read from the API.
    let mut theirs: Value = serde_yaml_ng::from_str(&virtual_service(100, 0, None)).expect("YAML");
    theirs["spec"]["http"][0]["route"][0]["weight"] = json!(30);
    theirs["spec"]["http"][0]["route"][1]["weight"] = json!(70);
    setup.fake.apply_as("kubectl", "virtualservices", theirs);
    let plan = setup.plan();
    assert_eq!(
        plan["changes"][0]["name"], "reviews",
        "drift shows: {plan:#}"
    );
    let run = meshcd(&["run", "--config", setup.config(), "--once"], &setup.cache);
    assert!(
        run.stdout.starts_with("drift_detected"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    // Git moves the weights: applying them conflicts with kubectl's ownership.
    setup
        .repo
        .write("istio/reviews.yaml", &virtual_service(50, 50, None));
    setup.repo.commit("50/50");
    let (code, lines, stderr) = setup.apply();
    assert_ne!(code, 0, "{lines:#?}");
    assert!(
        stderr.contains("kubectl") && stderr.contains("forceConflicts"),
        "{stderr}"
    );
    assert_eq!(weights_of(&setup.reviews()), vec![30, 70], "unchanged");

    // `--force-conflicts` (or `forceConflicts: true`) takes the fields over.
    let (code, lines, stderr) = apply_json(&setup.config, &setup.cache, &["--force-conflicts"]);
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert!(setup
        .applies()
        .iter()
        .any(|r| r.query.get("force").map(String::as_str) == Some("true")));
    assert_eq!(weights_of(&setup.reviews()), vec![50, 50]);
}

#[test]
fn removed_resources_are_pruned_only_when_asked() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    setup.repo.remove("gateway/store.yaml");
    setup.repo.commit("no store");
    let plan = setup.plan();
    assert_eq!(plan["changes"][0]["action"], "delete", "{plan:#}");
    assert_eq!(plan["changes"][0]["name"], "store");
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        result(&lines)["message"]
            .as_str()
            .unwrap_or("")
            .contains("prune is off"),
        "{lines:#?}"
    );
    assert!(setup.fake.object("httproutes", "web", "store").is_some());
    setup.configure("    prune: true\n");
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    assert!(setup.fake.object("httproutes", "web", "store").is_none());
}

#[test]
fn a_canary_rollout_is_one_apply_per_step() {
    let setup = Setup::new();
    let (code, _, stderr) = setup.apply();
    assert_eq!(code, 0, "{stderr}");
    setup
        .repo
        .write("istio/reviews.yaml", &virtual_service(0, 100, None));
    setup.repo.commit("to v2");
    setup.fake.clear_requests();
    let (code, lines, stderr) = setup.apply();
    assert_eq!(code, 0, "{lines:#?}\n{stderr}");
    assert_eq!(
        result(&lines)["rollouts"][0]["phase"],
        "promoted",
        "{lines:#?}"
    );
    let applies = setup.applies();
    assert!(
        applies
            .iter()
            .all(|r| r.path.ends_with("/virtualservices/reviews")),
        "only the route is applied: {applies:#?}"
    );
    let steps: Vec<Vec<u64>> = applies.iter().map(|r| weights_of(&r.body)).collect();
    assert_eq!(
        steps,
        vec![vec![80, 20], vec![40, 60], vec![0, 100]],
        "{applies:#?}"
    );
    assert_eq!(weights_of(&setup.reviews()), vec![0, 100]);
}
