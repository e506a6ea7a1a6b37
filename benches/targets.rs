//! What a reconcile costs on the resource targets (`gcp`, `kubernetes`, `render`): the first
//! apply of N routes, an unchanged commit, and one route's weight move (one rollout step), in
//! time and in API requests. Prints a table (no assertions on time).
//!
//! Run: `cargo bench --bench targets` (`MESHCD_BENCH_TARGET_ROUTES=N`, default 200).
//!
//! The `gcp` and `kubernetes` APIs are the local servers of the tests
//! (`tests/common/gcp_server.rs`, `tests/common/kube_server.rs`), which follow the documented
//! protocols but answer from memory on loopback: the figures are meshcd's own cost (read back,
//! load, diff, requests), not a real API's latency. Operations complete on their first poll.

mod common;
#[path = "../tests/common/gcp_server.rs"]
mod gcp_server;
#[path = "../tests/common/kube_server.rs"]
mod kube_server;

use std::sync::Arc;
use std::time::Instant;

use meshcd::engine::{Reconcile, ReconcilerOptions, TargetReconciler, Trigger};
use meshcd::store::Store;
use meshcd::targets::Target;
use serde_json::json;

use common::{commit, init_repo, write};

const PROJECT: &str = "bench-project";

fn main() {
    let routes: usize = std::env::var("MESHCD_BENCH_TARGET_ROUTES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("resource targets, {routes} routes (local protocol servers on loopback)\n");
    println!(
        "| target | first apply (creates) | unchanged commit | one route's weight step | requests: first / unchanged / step |"
    );
    println!("|---|---|---|---|---|");

    // gcp
    let fake = gcp_server::FakeGcp::start_blocking(PROJECT);
    fake.put_resource("meshes", "mesh", json!({}));
    // Pages as large as the client asks for (pageSize=100), as the real API allows.
    fake.set_max_page_size(100);
    let tmp = tempfile::tempdir().expect("temp dir");
    let key = fake.service_account_key(tmp.path());
    let config = meshcd::config::GcpTargetConfig {
        project: PROJECT.into(),
        location: "global".into(),
        endpoint: fake.url.clone(),
        auth: meshcd::config::GcpAuthConfig::ServiceAccountKey { path: key },
        prune: false,
        requests_per_second: 100_000,
        operation_timeout: std::time::Duration::from_secs(60),
    };
    let target = meshcd::targets::gcp::GcpRoutes::open(&config).expect("gcp target");
    let counts = || fake.requests().len();
    let row = runtime.block_on(measure(target, routes, ns_route, counts, || {
        fake.clear_requests()
    }));
    println!("| gcp | {} |", row);

    // kubernetes
    let kube = kube_server::FakeKube::start_blocking();
    let kubeconfig = kube.kubeconfig(tmp.path());
    let config = meshcd::config::KubernetesTargetConfig {
        kubeconfig: Some(kubeconfig),
        context: None,
        field_manager: "meshcd".into(),
        force_conflicts: false,
        prune: false,
    };
    let target = runtime
        .block_on(meshcd::targets::kubernetes::ClusterResources::open(&config))
        .expect("kubernetes target");
    let counts = || kube.requests().len();
    let row = runtime.block_on(measure(target, routes, virtual_service, counts, || {
        kube.clear_requests()
    }));
    println!("| kubernetes | {} |", row);

    // render
    let target = meshcd::targets::render::RenderDir::target(&tmp.path().join("rendered"));
    let row = runtime.block_on(measure(target, routes, ns_route, || 0, || {}));
    println!("| render | {} |", row);
}

/// First apply, unchanged, one weight step: times in ms and request counts.
async fn measure<T: Target>(
    target: T,
    routes: usize,
    route: fn(usize, u32) -> String,
    requests: impl Fn() -> usize,
    clear: impl Fn(),
) -> String {
    let work = tempfile::tempdir().expect("temp dir");
    let repo_dir = work.path().join("repo");
    let repo = init_repo(&repo_dir).expect("git init");
    for i in 0..routes {
        write(&repo_dir.join(format!("routes/r{i}.yaml")), &route(i, 100)).expect("write");
    }
    write(&repo_dir.join("meshcd/policy.yaml"), POLICY).expect("write");
    commit(&repo, "routes").expect("commit");
    let store = Arc::new(Store::open(work.path().join("state.redb")).expect("store"));
    let reconciler = TargetReconciler::new(
        ReconcilerOptions {
            repo: repo_dir.display().to_string(),
            rev: None,
            path: String::new(),
            cache_dir: work.path().join("cache"),
            self_heal: true,
            backends: Default::default(),
            schemas: Default::default(),
        },
        target,
        store,
    );
    clear();
    let started = Instant::now();
    let outcome = reconciler
        .reconcile(Trigger::Manual)
        .await
        .expect("first apply");
    let first = started.elapsed();
    let first_requests = requests();
    assert_eq!(outcome.changes, routes, "{}", outcome.message);

    let mut unchanged = Vec::new();
    clear();
    for _ in 0..5 {
        let started = Instant::now();
        reconciler
            .reconcile(Trigger::Poll)
            .await
            .expect("unchanged");
        unchanged.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let unchanged_requests = requests() / 5;
    unchanged.sort_by(f64::total_cmp);

    // One route moves 100/0 -> 0/100 under a one-step policy: one weight update.
    write(&repo_dir.join("routes/r0.yaml"), &route(0, 0)).expect("write");
    commit(&repo, "r0 to green").expect("commit");
    clear();
    let started = Instant::now();
    let outcome = reconciler.reconcile(Trigger::Manual).await.expect("step");
    reconciler.rollout_driver().settled().await;
    let step = started.elapsed();
    let step_requests = requests();
    let _ = outcome;
    format!(
        "{:.0} ms | {:.1} ms (median of 5) | {:.0} ms | {} / {} / {}",
        first.as_secs_f64() * 1000.0,
        unchanged[2],
        step.as_secs_f64() * 1000.0,
        first_requests,
        unchanged_requests,
        step_requests
    )
}

const POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: one-step}
spec:
  selector: {hostnames: ['*.bench.internal']}
  steps: [100]
  bakeTime: 0s
  analysis: {provider: none}
";

fn ns_route(i: usize, blue: u32) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: r{i}
hostnames: [r{i}.bench.internal]
meshes: [projects/{PROJECT}/locations/global/meshes/mesh]
rules:
- action:
    destinations:
    - serviceName: projects/{PROJECT}/locations/global/backendServices/blue
      weight: {blue}
    - serviceName: projects/{PROJECT}/locations/global/backendServices/green
      weight: {}
",
        100 - blue
    )
}

fn virtual_service(i: usize, blue: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: r{i}, namespace: bench}}
spec:
  hosts: [r{i}.bench.internal]
  http:
  - route:
    - destination: {{host: blue.bench.svc.cluster.local}}
      weight: {blue}
    - destination: {{host: green.bench.svc.cluster.local}}
      weight: {}
",
        100 - blue
    )
}
