//! xDS fleet benchmark: meshcd's xDS server (in process) and three real Envoys on loopback. How
//! long from publishing a configuration until every Envoy ACKed it (what a rollout step waits
//! for before it counts as live), for one weight changed and for every weight of 1,000 routes
//! changed, and how long encoding the snapshot takes of that. Prints min / median / p95 / max
//! (no assertions on time).
//!
//! Run: `MESHCD_ENVOY=/path/to/envoy cargo bench --bench xds_fleet`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshcd::envoy::files::{xds_client_bootstrap, XdsClient};
use meshcd::envoy::EnvoyConfig;
use meshcd::xds::{Registry, XdsOptions, XdsServer};
use serde_json::{json, Value as Json};

use common::{free_port, stop_child, summary, Res};

/// Routes in the big configuration.
const ROUTES: usize = 1000;
/// Envoys of the fleet.
const ENVOYS: usize = 3;
/// Publishes measured per scenario.
const ITERATIONS: usize = 30;
const BIG_ITERATIONS: usize = 10;

fn main() -> ExitCode {
    let envoy = match meshcd::envoy::find_envoy(None) {
        Ok(path) => path,
        Err(e) => {
            println!("no Envoy found (set MESHCD_ENVOY): {e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("xds_fleet: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&envoy)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xds_fleet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The Envoys, killed on drop.
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.0 {
            stop_child(child);
        }
    }
}

async fn run(envoy: &Path) -> Res<()> {
    let tmp = tempfile::Builder::new().prefix("meshcd-xds-").tempdir()?;
    let registry = Arc::new(Registry::new(None)?);
    let options = XdsOptions {
        listen: Some("127.0.0.1:0".parse()?),
        ..XdsOptions::default()
    };
    let server = XdsServer::start(&options, registry.clone()).await?;
    let address = server.listen_address().ok_or("not listening")?;
    let port = free_port()?;
    let ids: Vec<String> = (1..=ENVOYS).map(|i| format!("e{i}")).collect();
    let fleet = Fleet(
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                start_envoy(
                    envoy,
                    tmp.path(),
                    id,
                    address,
                    &format!("127.0.0.{}", i + 1),
                )
            })
            .collect::<Res<Vec<_>>>()?,
    );
    let required: Vec<&str> = ids.iter().map(String::as_str).collect();
    println!("meshcd xDS fleet benchmark: {ENVOYS} Envoys (delta ADS over loopback TCP)");

    // One route, one weight flipped per publish.
    let first = registry.publish(&config(port, 1, 100))?;
    registry
        .wait(first, Duration::from_secs(30), &required)
        .await?;
    let mut live = Vec::new();
    for i in 0..ITERATIONS {
        let weight = if i % 2 == 0 { 0 } else { 100 };
        let started = Instant::now();
        let version = registry.publish(&config(port, 1, weight))?;
        registry
            .wait(version, Duration::from_secs(30), &required)
            .await?;
        live.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    summary("1 route: publish -> every Envoy ACKed", &mut live, "ms");

    // 1,000 routes, every weight changed per publish.
    let first = registry.publish(&config(port, ROUTES, 90))?;
    registry
        .wait(first, Duration::from_secs(60), &required)
        .await?;
    let (mut encode, mut live) = (Vec::new(), Vec::new());
    for i in 0..BIG_ITERATIONS {
        let weight = if i % 2 == 0 { 10 } else { 90 };
        let big = config(port, ROUTES, weight);
        let started = Instant::now();
        let version = registry.publish(&big)?;
        encode.push(started.elapsed().as_secs_f64() * 1000.0);
        registry
            .wait(version, Duration::from_secs(60), &required)
            .await?;
        live.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    summary(
        &format!("{ROUTES} routes reweighted: encode"),
        &mut encode,
        "ms",
    );
    summary(
        &format!("{ROUTES} routes reweighted: -> every Envoy ACKed"),
        &mut live,
        "ms",
    );
    drop(fleet);
    drop(server);
    Ok(())
}

fn start_envoy(envoy: &Path, dir: &Path, id: &str, server: SocketAddr, ip: &str) -> Res<Child> {
    let admin_port = free_port()?;
    let bootstrap = dir.join(format!("{id}.json"));
    let client = XdsClient {
        node_id: id.to_string(),
        fleet: "bench".into(),
        server,
        listen_address: Some(ip.to_string()),
        tls: None,
    };
    std::fs::write(
        &bootstrap,
        xds_client_bootstrap(&client, admin_port).to_string(),
    )?;
    Ok(Command::new(envoy)
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
        .stderr(std::fs::File::create(dir.join(format!("{id}.log")))?)
        .spawn()?)
}

/// `routes` virtual hosts splitting between clusters `a` and `b` at `weight`/`100 - weight`.
fn config(port: u16, routes: usize, weight: u32) -> EnvoyConfig {
    let typed = |t: &str, mut value: Json| {
        value["@type"] = json!(format!("type.googleapis.com/{t}"));
        value
    };
    let cluster = |name: &str| {
        typed(
            "envoy.config.cluster.v3.Cluster",
            json!({"name": name, "type": "STATIC", "connect_timeout": "1s",
                "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {
                        "address": "127.0.0.1", "port_value": 9}}}}]}]}}),
        )
    };
    let vhosts: Vec<Json> = (0..routes)
        .map(|i| {
            json!({"name": format!("HTTPRoute/bench/r{i}"),
                "domains": [format!("r{i}.bench.internal")],
                "routes": [{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
                    {"name": "a", "weight": weight}, {"name": "b", "weight": 100 - weight}]}}}]})
        })
        .collect();
    EnvoyConfig {
        listeners: vec![typed(
            "envoy.config.listener.v3.Listener",
            json!({"name": "http",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "meshcd",
                    "rds": {"route_config_name": "routes",
                            "config_source": {"ads": {}, "resource_api_version": "V3"}},
                    "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                },
            }]}]}),
        )],
        clusters: [
            ("a".to_string(), cluster("a")),
            ("b".to_string(), cluster("b")),
        ]
        .into_iter()
        .collect(),
        route_config: typed(
            "envoy.config.route.v3.RouteConfiguration",
            json!({"name": "routes", "virtual_hosts": vhosts}),
        ),
    }
}
