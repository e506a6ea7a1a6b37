//! Measures a real Envoy's reload latencies (prints them; asserts nothing on time): RDS
//! rename-to-live in `/config_dump`, rename-to-traffic, the phases of a full `publish()`, and
//! whether the first request after `publish()` returns already follows the new weights.
//!
//! Run: `MESHCD_ENVOY=/path/to/envoy cargo bench --bench envoy_reload` (or with `--profile dev`
//! to skip the release build; Envoy does the work either way).

mod common;

use std::error::Error;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use meshcd::envoy::files::{self, ResourceKind};
use meshcd::envoy::process::free_port;
use meshcd::envoy::RouteShape;
use meshcd::envoy::{find_envoy, publish, ConfigDir, EnvoyConfig, EnvoyOptions, EnvoyProcess};
use serde_json::json;

use common::backend::Backend;
use common::summary;

const ITERATIONS: usize = 50;
const PUBLISHES: usize = 40;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envoy_reload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn config(listener_port: u16, a: &Backend, b: &Backend, wa: u32, wb: u32) -> EnvoyConfig {
    let cluster = |backend: &Backend| {
        json!({
            "name": backend.name(),
            "type": "STATIC",
            "connect_timeout": "1s",
            "load_assignment": {"cluster_name": backend.name(), "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {
                    "address": "127.0.0.1", "port_value": backend.port()}}}}]}]},
        })
    };
    EnvoyConfig {
        listeners: vec![json!({
            "name": "main",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": listener_port}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "meshcd",
                    "rds": {"route_config_name": "routes"},
                    "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                },
            }]}],
        })],
        clusters: [
            (a.name().to_string(), cluster(a)),
            (b.name().to_string(), cluster(b)),
        ]
        .into(),
        route_config: json!({
            "name": "routes",
            "validate_clusters": true,
            "virtual_hosts": [{"name": "svc", "domains": ["*"], "routes": [{
                "match": {"prefix": "/"},
                "route": {"weighted_clusters": {"clusters": [
                    {"name": a.name(), "weight": wa}, {"name": b.name(), "weight": wb}]}},
            }]}],
        }),
    }
}

async fn body(client: &reqwest::Client, port: u16) -> String {
    match client
        .get(format!("http://127.0.0.1:{port}/"))
        .header("host", "svc.local")
        .send()
        .await
    {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(e) => format!("error: {e}"),
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let binary = find_envoy(None)?;
    let a = Backend::start("a");
    let b = Backend::start("b");
    let tmp = tempfile::tempdir()?;
    let envoy = EnvoyProcess::start(EnvoyOptions::new(&binary, tmp.path(), 0)).await?;
    let dir = ConfigDir::new(tmp.path(), &binary)?.with_logs(envoy.logs());
    let admin = envoy.admin();
    let port = free_port()?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()?;
    println!("Envoy: {}", binary.display());
    publish(&dir, admin, &config(port, &a, &b, 100, 0)).await?;

    // 1. RDS rename → served in /config_dump.
    let mut live = Vec::new();
    let mut version = 1000u64;
    for i in 0..ITERATIONS {
        let (wa, wb) = if i % 2 == 0 { (0, 100) } else { (100, 0) };
        let route = config(port, &a, &b, wa, wb).route_config;
        let want = RouteShape::of(&route);
        version += 1;
        let started = Instant::now();
        files::write_resources(
            dir.path(),
            ResourceKind::Routes,
            &version.to_string(),
            &[route],
        )?;
        let renamed = Instant::now();
        loop {
            let served = admin.config_dump_routes().await?;
            let shape = served
                .iter()
                .find_map(|c| c.get("route_config"))
                .map(RouteShape::of);
            if shape.as_ref() == Some(&want) {
                live.push(renamed.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if started.elapsed() > Duration::from_secs(2) {
                return Err(format!("iteration {i}: not live after 2 s").into());
            }
        }
    }

    // 2. RDS rename → traffic follows (requests back to back until the other backend answers).
    let mut follow = Vec::new();
    let mut requests_per_flip = Vec::new();
    for i in 0..ITERATIONS {
        let (wa, wb, want) = if i % 2 == 0 {
            (0, 100, "b")
        } else {
            (100, 0, "a")
        };
        let route = config(port, &a, &b, wa, wb).route_config;
        version += 1;
        files::write_resources(
            dir.path(),
            ResourceKind::Routes,
            &version.to_string(),
            &[route],
        )?;
        let renamed = Instant::now();
        let mut sent = 0u32;
        loop {
            sent += 1;
            if body(&client, port).await == want {
                follow.push(renamed.elapsed().as_secs_f64() * 1000.0);
                requests_per_flip.push(f64::from(sent));
                break;
            }
            if renamed.elapsed() > Duration::from_secs(2) {
                return Err(format!("iteration {i}: traffic did not follow in 2 s").into());
            }
        }
    }

    // 3. Full publish(): phases, and whether the very first request afterwards follows. Every
    // fourth publish adds an (unused) cluster `c` and the next one removes it again, so CDS is
    // really written and waited for (otherwise it is unchanged and not rewritten).
    let (mut validate, mut cds_same, mut cds_added) = (vec![], vec![], vec![]);
    let (mut rds_live, mut cleanup, mut total) = (vec![], vec![], vec![]);
    let mut first_wrong = 0;
    let c = Backend::start("c");
    for i in 0..PUBLISHES {
        let (wa, wb, want) = if i % 2 == 0 {
            (0, 100, "b")
        } else {
            (100, 0, "a")
        };
        let mut next = config(port, &a, &b, wa, wb);
        if i % 4 == 1 {
            if let Some(cluster) = config(port, &c, &b, 1, 1).clusters.get("c") {
                next.clusters.insert("c".into(), cluster.clone());
            }
        }
        let report = publish(&dir, admin, &next).await?;
        if body(&client, port).await != want {
            first_wrong += 1;
        }
        validate.push(report.validate_ms);
        if report.added_clusters.is_empty() {
            cds_same.push(report.cds_ms);
        } else {
            cds_added.push(report.cds_ms);
        }
        if !report.removed_clusters.is_empty() {
            cleanup.push(report.cleanup_ms);
        }
        rds_live.push(report.rds_live_ms);
        total.push(report.total_ms);
    }

    println!();
    summary("RDS rename -> live in /config_dump", &mut live, "ms");
    summary("RDS rename -> traffic follows", &mut follow, "ms");
    summary(
        "  requests sent until it followed",
        &mut requests_per_flip,
        "requests",
    );
    summary(
        "publish: validate (envoy --mode validate)",
        &mut validate,
        "ms",
    );
    summary(
        "publish: CDS, clusters unchanged (no write)",
        &mut cds_same,
        "ms",
    );
    summary(
        "publish: CDS, a cluster added, until active",
        &mut cds_added,
        "ms",
    );
    summary(
        "publish: CDS cleanup, a cluster removed",
        &mut cleanup,
        "ms",
    );
    summary("publish: RDS+LDS rename until served", &mut rds_live, "ms");
    summary("publish: total", &mut total, "ms");
    println!(
        "first request right after publish() returned went to the old backend: {first_wrong} of {PUBLISHES}"
    );
    drop(envoy);
    Ok(())
}
