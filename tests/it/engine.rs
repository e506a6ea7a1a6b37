//! The engine on an in-memory resource API ([`meshcd::targets::memory`]) and real Git
//! repositories: the daemon's readers and the other routes' rollouts never wait for a slow hook
//! or a slow target, and drift, self-heal, prune, change windows and superseded rollouts behave
//! as documented. These run in milliseconds to seconds; the real targets have their own tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::TestRepo;
use axum::routing::post;
use meshcd::config::{Config, RetryConfig, ServerConfig, WebhookConfig};
use meshcd::engine::{OutcomeAction, Reconcile, ReconcilerOptions, TargetReconciler, Trigger};
use meshcd::store::{state_path_in, Store};
use meshcd::targets::memory::{MemoryApi, MemoryTarget, Write};
use meshcd_core::rollout::machine::Phase;
use serde_json::Value;
use tokio::sync::watch;

/// How long any one wait may take before the test gives up (a hang guard, not a timing
/// assertion: everything here is expected within a few seconds).
const GUARD: Duration = Duration::from_secs(60);

/// An Istio route `name` splitting between its `stable` and `canary` subsets, with its
/// DestinationRule.
fn route(name: &str, stable: u32, canary: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, \
         namespace: prod}}\nspec:\n  hosts: [{name}.prod.svc.cluster.local]\n  http:\n  - \
         route:\n    - destination: {{host: {name}.prod.svc.cluster.local, subset: stable}}\n      \
         weight: {stable}\n    - destination: {{host: {name}.prod.svc.cluster.local, subset: \
         canary}}\n      weight: {canary}\n---\napiVersion: networking.istio.io/v1\nkind: \
         DestinationRule\nmetadata: {{name: {name}, namespace: prod}}\nspec:\n  host: \
         {name}.prod.svc.cluster.local\n  subsets:\n  - {{name: stable, labels: {{version: \
         stable}}}}\n  - {{name: canary, labels: {{version: canary}}}}\n"
    )
}

/// A time-based RolloutPolicy for `route`: `steps`, a short bake, `extra` YAML lines.
fn policy(route: &str, steps: &str, extra: &str) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1\nkind: RolloutPolicy\nmetadata: {{name: {route}-canary}}\n\
         spec:\n  selector: {{routes: [{route}]}}\n  steps: {steps}\n  bakeTime: 100ms\n  \
         analysis: {{provider: none, interval: 100ms}}\n{extra}"
    )
}

struct Setup {
    repo: TestRepo,
    api: MemoryApi,
    state: tempfile::TempDir,
    store: Arc<Store>,
    cache: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let state = tempfile::tempdir().expect("state dir");
        let store = Store::open(state_path_in(state.path())).expect("store");
        Self {
            repo: TestRepo::new(),
            api: MemoryApi::new("test", true),
            state,
            store: Arc::new(store),
            cache: tempfile::tempdir().expect("cache dir"),
        }
    }

    fn reconciler(&self, self_heal: bool) -> TargetReconciler<MemoryTarget> {
        let options = ReconcilerOptions {
            repo: self.repo.path().display().to_string(),
            rev: None,
            path: String::new(),
            cache_dir: self.cache.path().to_path_buf(),
            self_heal,
            backends: Default::default(),
            schemas: Default::default(),
        };
        TargetReconciler::new(options, self.api.target(), self.store.clone())
    }

    fn config(&self, listen: SocketAddr) -> Config {
        Config {
            file: self.repo.path().join("meshcd.yaml"),
            repo: self.repo.path().display().to_string(),
            rev: None,
            path: String::new(),
            poll_interval: None,
            watch: false,
            self_heal: false,
            server: ServerConfig { listen },
            webhook: WebhookConfig::default(),
            schedules: Vec::new(),
            retry: RetryConfig {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(1),
            },
            shutdown_timeout: Duration::from_secs(5),
            state_dir: self.state.path().to_path_buf(),
            target: None,
            crds: Vec::new(),
        }
    }
}

/// The weights the API holds for route `name`: `(stable, canary)`.
fn held_weights(api: &MemoryApi, name: &str) -> Option<(u64, u64)> {
    let (_, document) = api
        .documents()
        .into_iter()
        .find(|(id, _)| id.to_string() == format!("VirtualService/prod/{name}"))?;
    let route = document.pointer("/spec/http/0/route")?.as_array()?;
    let weight = |i: usize| route.get(i)?.get("weight")?.as_u64();
    Some((weight(0).unwrap_or(0), weight(1).unwrap_or(0)))
}

/// Waits until the reconciler's rollout of `route` satisfies `check`.
async fn wait_rollout(
    reconciler: &TargetReconciler<MemoryTarget>,
    route: &str,
    what: &str,
    check: impl Fn(&meshcd::engine::rollouts::RolloutEvent) -> bool,
) -> meshcd::engine::rollouts::RolloutEvent {
    let mut view = reconciler.rollout_driver().watch();
    let found = tokio::time::timeout(GUARD, async {
        loop {
            let current = view.borrow_and_update().clone();
            if let Some(event) = current
                .events()
                .into_iter()
                .find(|e| e.route.name == route && check(e))
            {
                return event;
            }
            if view.changed().await.is_err() {
                panic!("the rollout driver stopped");
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{route}: {what}; rollouts: {:#?}", reconciler.rollouts()))
}

/// A hook endpoint that answers only when the test releases it.
struct HeldHook {
    url: String,
    entered: watch::Receiver<usize>,
    release: Arc<watch::Sender<bool>>,
}

async fn held_hook() -> HeldHook {
    let (entered_tx, entered) = watch::channel(0usize);
    let (release_tx, release_rx) = watch::channel(false);
    let entered_tx = Arc::new(entered_tx);
    let app = axum::Router::new().route(
        "/gate",
        post(move || {
            let entered = entered_tx.clone();
            let mut release = release_rx.clone();
            async move {
                entered.send_modify(|n| *n += 1);
                let _ = release.wait_for(|released| *released).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the hook");
    let addr = listener.local_addr().expect("hook address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    HeldHook {
        url: format!("http://{addr}/gate"),
        entered,
        release: Arc::new(release_tx),
    }
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// GET `url`: the status code, the body and how long it took.
async fn get(client: &reqwest::Client, url: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = tokio::time::timeout(GUARD, client.get(url).send())
        .await
        .expect("the request hung")
        .expect("request");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

/// `meshcd status --server URL --format json`: exit code, stdout and how long it took.
async fn meshcd_status(server: &str) -> (i32, String, Duration) {
    let server = server.to_string();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_meshcd"))
            .args(["status", "--server", &server, "--format", "json"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run meshcd status");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            started.elapsed(),
        )
    })
    .await
    .expect("meshcd status")
}

async fn wait_outcome(client: &reqwest::Client, base: &str, commit: &str, action: &str) {
    let waited = tokio::time::timeout(GUARD, async {
        loop {
            let (_, status, _) = get(client, &format!("{base}/api/v1/status")).await;
            let outcome = &status["lastOutcome"];
            if outcome["commit"] == commit && outcome["action"] == action {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "no `{action}` of {commit}");
}

/// Issue #11, item 3: while a pre-step hook is held open, and while a write to the target is
/// held, the status API, the rollouts API and `meshcd status` answer, and another route's
/// rollout advances, all before the hold is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_hook_or_a_held_apply_blocks_no_reader_and_no_other_rollout() {
    let setup = Setup::new();
    let hook = held_hook().await;
    let gated = format!(
        "  hooks:\n    preStep:\n    - {{name: gate, url: \"{}\", timeout: 300s}}\n",
        hook.url
    );
    setup
        .repo
        .write("routes/a.yaml", &route("a", 100, 0))
        .write("routes/b.yaml", &route("b", 100, 0))
        .write("routes/d.yaml", &route("d", 100, 0))
        .write("policies/a.yaml", &policy("a", "[50, 100]", &gated))
        .write("policies/b.yaml", &policy("b", "[10, 20, 50, 100]", ""))
        .write(
            "policies/d.yaml",
            &policy("d", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50, 100]", ""),
        );
    let first = setup.repo.commit("all at 100/0");
    let listen = free_port();
    let base = format!("http://{listen}");
    let reconciler = setup.reconciler(false);
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let daemon = tokio::spawn(meshcd::daemon::run_until(
        setup.config(listen),
        reconciler.clone(),
        async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        },
    ));
    let client = reqwest::Client::new();
    wait_outcome(&client, &base, &first, "applied").await;
    assert_eq!(held_weights(&setup.api, "a"), Some((100, 0)));

    // 1. A pre-step hook held open.
    setup
        .repo
        .write("routes/a.yaml", &route("a", 0, 100))
        .write("routes/b.yaml", &route("b", 0, 100));
    let second = setup.repo.commit("a and b to the canary");
    let (code, _, _) = get(&client, &format!("{base}/healthz")).await;
    assert_eq!(code, 200);
    client
        .post(format!("{base}/api/v1/reconcile"))
        .send()
        .await
        .expect("trigger");
    let mut entered = hook.entered.clone();
    tokio::time::timeout(GUARD, entered.wait_for(|n| *n >= 1))
        .await
        .expect("the pre-step hook was never called")
        .expect("hook server");
    let (code, status, status_took) = get(&client, &format!("{base}/api/v1/status")).await;
    assert_eq!(code, 200, "{status}");
    let (code, rollouts, rollouts_took) = get(&client, &format!("{base}/api/v1/rollouts")).await;
    assert_eq!(code, 200, "{rollouts}");
    let (exit, stdout, cli_took) = meshcd_status(&base).await;
    assert_eq!(exit, 0, "meshcd status: {stdout}");
    assert!(stdout.contains("VirtualService/prod/a"), "{stdout}");
    // b walks all its steps while a's hook is still held.
    let b = wait_rollout(&reconciler, "b", "promoted", |e| e.phase == Phase::Promoted).await;
    assert_eq!(b.steps, 4);
    assert_eq!(held_weights(&setup.api, "b"), Some((0, 100)));
    let a = reconciler
        .rollouts()
        .into_iter()
        .find(|e| e.route.name == "a")
        .expect("a's rollout");
    assert_eq!(a.phase, Phase::Progressing, "{a:?}");
    assert!(!a.live, "a's first step must wait for its hook: {a:?}");
    assert_eq!(
        held_weights(&setup.api, "a"),
        Some((100, 0)),
        "a moved before its hook answered"
    );
    assert_eq!(*hook.entered.borrow(), 1, "the hook was called again");
    eprintln!(
        "while a pre-step hook was held: GET /api/v1/status {status_took:?}, GET \
         /api/v1/rollouts {rollouts_took:?}, meshcd status {cli_took:?}; b promoted"
    );
    hook.release.send_replace(true);
    wait_rollout(&reconciler, "a", "promoted", |e| e.phase == Phase::Promoted).await;
    assert_eq!(held_weights(&setup.api, "a"), Some((0, 100)));
    wait_outcome(&client, &base, &second, "applied").await;

    // 2. A write to the target held: d's rollout is under way when the API stops answering.
    setup.repo.write("routes/d.yaml", &route("d", 0, 100));
    let third = setup.repo.commit("d to the canary");
    client
        .post(format!("{base}/api/v1/reconcile"))
        .send()
        .await
        .expect("trigger");
    wait_outcome(&client, &base, &third, "applied").await;
    let before = wait_rollout(&reconciler, "d", "live at a step", |e| e.live).await;
    let hold = setup.api.hold_writes();
    setup.repo.write("routes/c.yaml", &route("c", 100, 0));
    let fourth = setup.repo.commit("a new route c");
    client
        .post(format!("{base}/api/v1/reconcile"))
        .send()
        .await
        .expect("trigger");
    tokio::time::timeout(GUARD, hold.entered())
        .await
        .expect("no write reached the API");
    let (code, _, status_took) = get(&client, &format!("{base}/api/v1/status")).await;
    assert_eq!(code, 200);
    let (code, _, rollouts_took) = get(&client, &format!("{base}/api/v1/rollouts")).await;
    assert_eq!(code, 200);
    let (exit, stdout, cli_took) = meshcd_status(&base).await;
    assert_eq!(exit, 0, "meshcd status: {stdout}");
    let after = wait_rollout(&reconciler, "d", "a later step", |e| e.step > before.step).await;
    assert!(
        held_weights(&setup.api, "c").is_none(),
        "c was written while writes were held"
    );
    eprintln!(
        "while a write to the target was held: GET /api/v1/status {status_took:?}, GET \
         /api/v1/rollouts {rollouts_took:?}, meshcd status {cli_took:?}; d advanced from step \
         {} to {}",
        before.step, after.step
    );
    hold.release();
    wait_outcome(&client, &base, &fourth, "applied").await;
    assert_eq!(held_weights(&setup.api, "c"), Some((100, 0)));
    wait_rollout(&reconciler, "d", "promoted", |e| e.phase == Phase::Promoted).await;
    assert_eq!(held_weights(&setup.api, "d"), Some((0, 100)));

    stop_tx.send_replace(true);
    let stopped = tokio::time::timeout(GUARD, daemon).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

/// Drift: reported and left alone without self-heal; corrected with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_left_alone_without_self_heal_and_corrected_with_it() {
    let setup = Setup::new();
    setup.repo.write("routes/a.yaml", &route("a", 100, 0));
    let commit = setup.repo.commit("a");
    let reconciler = setup.reconciler(false);
    let outcome = reconciler.reconcile(Trigger::Manual).await.expect("apply");
    assert_eq!(
        outcome.action,
        OutcomeAction::Applied,
        "{}",
        outcome.message
    );
    assert_eq!(outcome.commit, commit);
    let id = "VirtualService/prod/a".parse().expect("id");
    assert!(setup.api.edit(&id, |doc| {
        doc["spec"]["http"][0]["timeout"] = "3s".into();
    }));
    let outcome = reconciler.reconcile(Trigger::Poll).await.expect("drift");
    assert_eq!(
        outcome.action,
        OutcomeAction::DriftDetected,
        "{}",
        outcome.message
    );
    assert!(
        outcome.message.contains("selfHeal is off"),
        "{}",
        outcome.message
    );
    assert!(setup.api.documents()[&id]["spec"]["http"][0]["timeout"].is_string());

    let healing = setup.reconciler(true);
    let outcome = healing.reconcile(Trigger::Poll).await.expect("heal");
    assert_eq!(
        outcome.action,
        OutcomeAction::DriftCorrected,
        "{}",
        outcome.message
    );
    assert!(setup.api.documents()[&id]["spec"]["http"][0]["timeout"].is_null());
    let outcome = healing.reconcile(Trigger::Poll).await.expect("again");
    assert_eq!(
        outcome.action,
        OutcomeAction::Unchanged,
        "{}",
        outcome.message
    );
}

/// Prune deletes what meshcd created and Git no longer has; a resource meshcd did not create
/// stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_only_what_meshcd_created() {
    let setup = Setup::new();
    setup
        .repo
        .write("routes/a.yaml", &route("a", 100, 0))
        .write("routes/b.yaml", &route("b", 100, 0));
    setup.repo.commit("a and b");
    let reconciler = setup.reconciler(false);
    reconciler.reconcile(Trigger::Manual).await.expect("apply");
    let foreign: meshcd_core::model::ResourceId = "VirtualService/prod/theirs".parse().expect("id");
    let theirs: Value = serde_yaml_ng::from_str(
        route("theirs", 100, 0)
            .split("---")
            .next()
            .unwrap_or_default(),
    )
    .expect("yaml");
    setup.api.insert(foreign.clone(), theirs);
    setup.repo.remove("routes/b.yaml");
    setup.repo.commit("b removed");
    let outcome = reconciler.reconcile(Trigger::Manual).await.expect("apply");
    assert_eq!(
        outcome.action,
        OutcomeAction::Applied,
        "{}",
        outcome.message
    );
    let ids: Vec<String> = setup
        .api
        .documents()
        .keys()
        .map(ToString::to_string)
        .collect();
    assert!(
        ids.contains(&"VirtualService/prod/a".to_string()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"VirtualService/prod/b".to_string()),
        "{ids:?}"
    );
    assert!(ids.contains(&foreign.to_string()), "{ids:?}");
    assert!(setup
        .api
        .writes()
        .iter()
        .any(|w| matches!(w, Write::Delete(id) if id.name == "b")));
}

/// A target that refuses a change: the error is permanent and names the commit; nothing is
/// recorded, and the next reconcile tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_write_is_an_error_that_keeps_its_cause() {
    let setup = Setup::new();
    setup.repo.write("routes/a.yaml", &route("a", 100, 0));
    setup.repo.commit("a");
    setup
        .api
        .fail_next_write(meshcd::targets::TargetError::permanent(
            "admission webhook said no",
        ));
    let reconciler = setup.reconciler(false);
    let error = reconciler
        .reconcile(Trigger::Manual)
        .await
        .expect_err("the write was rejected");
    assert!(!error.is_retryable(), "{error:?}");
    let text = meshcd::engine::reconcile::report(&error);
    assert!(
        text.contains("not applied") && text.contains("admission webhook said no"),
        "{text}"
    );
    let outcome = reconciler
        .reconcile(Trigger::Manual)
        .await
        .expect("second try");
    assert_eq!(
        outcome.action,
        OutcomeAction::Applied,
        "{}",
        outcome.message
    );
}

/// A new commit asking for other weights supersedes a rollout under way: the new rollout starts
/// from the weights the route has now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_commit_supersedes_a_rollout_under_way() {
    let setup = Setup::new();
    setup
        .repo
        .write("routes/a.yaml", &route("a", 100, 0))
        .write(
            "policies/a.yaml",
            &policy("a", "[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]", "")
                .replace("bakeTime: 100ms", "bakeTime: 300s"),
        );
    setup.repo.commit("a");
    let reconciler = setup.reconciler(false);
    reconciler.reconcile(Trigger::Manual).await.expect("apply");
    setup.repo.write("routes/a.yaml", &route("a", 0, 100));
    let towards_canary = setup.repo.commit("a to the canary");
    reconciler.reconcile(Trigger::Manual).await.expect("start");
    let first = wait_rollout(&reconciler, "a", "live at its first step", |e| e.live).await;
    assert_eq!(first.commit, towards_canary);
    assert_eq!(held_weights(&setup.api, "a"), Some((90, 10)));
    setup.repo.write("routes/a.yaml", &route("a", 50, 50));
    let halfway = setup.repo.commit("a to 50/50");
    reconciler
        .reconcile(Trigger::Manual)
        .await
        .expect("supersede");
    let next = wait_rollout(&reconciler, "a", "a rollout of the new commit", |e| {
        e.commit == halfway && e.live
    })
    .await;
    // From 90/10 towards 50/50: the first step of the new rollout moves from where the route was.
    let (stable, canary) = held_weights(&setup.api, "a").expect("a held");
    assert!(
        (50..90).contains(&stable) && stable + canary == 100,
        "{stable}/{canary} {next:?}"
    );
}
