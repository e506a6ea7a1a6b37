//! meshcd's xDS server with real Envoys: a fleet of three follows every version in step (traffic
//! measured through each), an Envoy killed and restarted rejoins at the current version, an
//! update Envoy rejects is NACKed with Envoy's reason while every Envoy keeps serving the
//! previous routes, CSDS tells who holds what, and only admitted client certificates get any
//! configuration.
//!
//! The fleet's Envoys run on one machine, so each binds its listeners to its own loopback
//! address (node metadata `meshcd.dev/listen-address`: 127.0.0.1, 127.0.0.2, 127.0.0.3).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::status::v3::client_status_discovery_service_client::ClientStatusDiscoveryServiceClient;
use envoy_types::pb::envoy::service::status::v3::ClientStatusRequest;
use meshcd::config::{EnvoyDelivery, XdsConfig};
use meshcd::envoy::files::{XdsClient, XdsClientTls};
use meshcd::envoy::EnvoyConfig;
use meshcd::targets::{EnvoyTarget, EnvoyTargetOptions};
use meshcd::xds::{DeliveryError, Registry, TlsFiles, XdsOptions, XdsServer};
use serde_json::{json, Value as Json};

use crate::common::backend::Backend;
use crate::common::envoy::{cluster, envoy_binary};
use crate::common::fleet::FleetEnvoy;

const WAIT: Duration = Duration::from_secs(15);

/// An xDS server on a free loopback port with `options` (its `listen` set here) serving a new
/// registry; the registry, the server (stopped on drop) and its address.
async fn loopback_server(options: XdsOptions) -> (Arc<Registry>, XdsServer, SocketAddr) {
    let registry = Arc::new(Registry::new(None).expect("registry"));
    let options = XdsOptions {
        listen: Some("127.0.0.1:0".parse().expect("address")),
        ..options
    };
    let server = XdsServer::start(&options, registry.clone())
        .await
        .expect("xDS server");
    let address = server.listen_address().expect("bound");
    (registry, server, address)
}

fn client_for(id: &str, server: SocketAddr, address: &str) -> XdsClient {
    XdsClient {
        node_id: id.to_string(),
        fleet: "edge".to_string(),
        server,
        listen_address: Some(address.to_string()),
        tls: None,
    }
}

/// One HTTP listener on `port` whose routes (over ADS) split `/` between backends by weight.
fn config(port: u16, backends: &[(&Backend, u32)]) -> EnvoyConfig {
    let weighted: Vec<Json> = backends
        .iter()
        .map(|(b, weight)| json!({"name": b.name(), "weight": weight}))
        .collect();
    let typed = |t: &str, mut value: Json| {
        value["@type"] = json!(format!("type.googleapis.com/{t}"));
        value
    };
    EnvoyConfig {
        listeners: vec![typed(
            "envoy.config.listener.v3.Listener",
            json!({
                "name": "http",
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
                }]}],
            }),
        )],
        clusters: backends
            .iter()
            .map(|(b, _)| {
                (
                    b.name().to_string(),
                    typed(
                        "envoy.config.cluster.v3.Cluster",
                        cluster(b.name(), b.port()),
                    ),
                )
            })
            .collect(),
        route_config: typed(
            "envoy.config.route.v3.RouteConfiguration",
            json!({
                "name": "routes",
                "virtual_hosts": [{"name": "svc", "domains": ["*"], "routes": [{
                    "match": {"prefix": "/"},
                    "route": {"weighted_clusters": {"clusters": weighted}},
                }]}],
            }),
        ),
    }
}

/// Sends `n` requests through `address:port`; counts answers by body.
async fn traffic(address: &str, port: u16, n: usize) -> BTreeMap<String, usize> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let key = match client.get(format!("http://{address}:{port}/")).send().await {
            Ok(r) if r.status() == 200 => r.text().await.unwrap_or_else(|e| format!("body: {e}")),
            Ok(r) => r.status().as_u16().to_string(),
            Err(e) => format!("error: {e}"),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn only(name: &str, n: usize) -> BTreeMap<String, usize> {
    [(name.to_string(), n)].into()
}

const ADDRESSES: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_envoys_move_in_step_and_a_restarted_one_rejoins_at_the_current_version() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let (registry, server, address) = loopback_server(XdsOptions::default()).await;
    let port = meshcd::envoy::process::free_port().expect("a free port");
    let ids = ["e1", "e2", "e3"];
    let mut envoys: Vec<FleetEnvoy> = ids
        .iter()
        .zip(ADDRESSES)
        .map(|(id, ip)| FleetEnvoy::start(tmp.path(), &client_for(id, address, ip)))
        .collect();

    for (weights, expected) in [((100, 0), "a"), ((0, 100), "b")] {
        let version = registry
            .publish(&config(port, &[(&a, weights.0), (&b, weights.1)]))
            .expect("publish");
        let delivery = registry.wait(version, WAIT, &ids).await;
        assert_eq!(
            delivery.as_ref().map(|d| d.envoys),
            Ok(3),
            "{delivery:?}\n{}",
            envoys[0].log_tail()
        );
        for ip in ADDRESSES {
            assert_eq!(
                traffic(ip, port, 10).await,
                only(expected, 10),
                "through {ip}"
            );
        }
    }

    // One Envoy dies; the fleet moves on without it; restarted, it gets the current version.
    envoys[2].kill();
    let version = registry
        .publish(&config(port, &[(&a, 50), (&b, 50)]))
        .expect("publish");
    assert_eq!(
        registry
            .wait(version, WAIT, &["e1", "e2"])
            .await
            .map(|d| d.envoys),
        Ok(2)
    );
    envoys[2].restart();
    let rejoined = registry.wait(version, WAIT, &["e3"]).await;
    assert!(rejoined.is_ok(), "{rejoined:?}\n{}", envoys[2].log_tail());
    let through_e3 = traffic(ADDRESSES[2], port, 40).await;
    assert!(
        through_e3.get("a").is_some_and(|n| *n > 0) && through_e3.get("b").is_some_and(|n| *n > 0),
        "e3 serves the current 50/50 split: {through_e3:?}"
    );

    // CSDS: which node holds which version of the routes.
    let mut csds = ClientStatusDiscoveryServiceClient::connect(format!("http://{address}"))
        .await
        .expect("CSDS connects");
    let status = csds
        .fetch_client_status(ClientStatusRequest::default())
        .await
        .expect("CSDS answers")
        .into_inner();
    let mut nodes: Vec<String> = status
        .config
        .iter()
        .filter_map(|c| c.node.as_ref().map(|n| n.id.clone()))
        .collect();
    nodes.sort();
    assert_eq!(nodes, ids);
    let served = registry.current().snapshot;
    let served_routes = served
        .get(meshcd::xds::ResourceType::RouteConfiguration, "routes")
        .map(|e| e.version.clone());
    for config in &status.config {
        let routes = config
            .generic_xds_configs
            .iter()
            .find(|g| g.name == "routes")
            .expect("every node holds the routes");
        assert_eq!(Some(&routes.version_info), served_routes.as_ref());
        assert_eq!(routes.config_status, 1, "SYNCED");
        assert!(routes.xds_config.is_some(), "the resource comes along");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_update_is_reported_with_envoys_reason_and_every_envoy_keeps_its_routes() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let admin_port = meshcd::envoy::process::free_port().expect("a free port");
    let options = EnvoyTargetOptions {
        manage: true,
        binary: Some(envoy_binary()),
        admin_port,
        http_port: meshcd::envoy::process::free_port().expect("a free port"),
        tls_port: meshcd::envoy::process::free_port().expect("a free port"),
        work_dir: tmp.path().join("envoy"),
        delivery: EnvoyDelivery::Ads,
        xds: XdsConfig {
            listen: Some("127.0.0.1:0".parse().expect("address")),
            ack_timeout: Duration::from_secs(10),
            ..XdsConfig::default()
        },
    };
    let target = Stopped(EnvoyTarget::open(&options).await.expect("target"));
    let address = target.xds_address().expect("xDS on TCP");
    let port = meshcd::envoy::process::free_port().expect("a free port");
    let remote = FleetEnvoy::start(tmp.path(), &client_for("e2", address, "127.0.0.2"));
    let registry = target.xds().expect("ads").clone();
    let seeded = registry.current().snapshot.version;
    let joined = registry.wait(seeded, WAIT, &["e2", "meshcd"]).await;
    assert!(joined.is_ok(), "{joined:?}\n{}", remote.log_tail());

    target
        .apply(&config(port, &[(&a, 100), (&b, 0)]))
        .await
        .expect("the local Envoy (Unix socket) and e2 ACK");
    let mut nodes: Vec<String> = target
        .xds()
        .expect("ads")
        .nodes()
        .into_iter()
        .map(|n| format!("{}@{}", n.id, n.peer))
        .collect();
    nodes.sort();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert!(nodes[1].starts_with("meshcd@unix"), "{nodes:?}");

    // Envoy refuses a split whose weights are all zero; meshcd's encoder does not.
    let error = target
        .apply(&config(port, &[(&a, 0), (&b, 0)]))
        .await
        .expect_err("rejected");
    let text = error.to_string();
    assert!(text.contains("rejected RDS"), "{text}");
    assert!(
        text.to_lowercase().contains("weight"),
        "Envoy's reason: {text}"
    );
    assert!(
        text.contains("serves the previous version again"),
        "{text}\n{}",
        remote.log_tail()
    );
    assert!(!error.is_retryable());
    for ip in ["127.0.0.1", "127.0.0.2"] {
        assert_eq!(traffic(ip, port, 10).await, only("a", 10), "through {ip}");
    }
    // The last configuration every Envoy confirmed is kept for a restart.
    let kept: EnvoyConfig = serde_json::from_slice(
        &std::fs::read(tmp.path().join("envoy/xds/last-applied.json")).expect("kept"),
    )
    .expect("a configuration");
    assert_eq!(kept, config(port, &[(&a, 100), (&b, 0)]));
}

/// A target whose managed Envoy is stopped on drop, even when the test fails (a panicking
/// meshcd leaves its Envoy running on purpose, for the next meshcd to adopt).
struct Stopped(EnvoyTarget);

impl std::ops::Deref for Stopped {
    type Target = EnvoyTarget;

    fn deref(&self) -> &EnvoyTarget {
        &self.0
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Certificates made with the `openssl` command line: a CA, the server's certificate, and
/// client certificates with SPIFFE ids (one from another CA).
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        let pki = Self {
            dir: dir.to_path_buf(),
        };
        pki.ca("ca");
        pki.ca("other-ca");
        pki.leaf("server", "ca", "DNS:xds.meshcd.test");
        pki.leaf("old-server", "ca", "DNS:old.meshcd.test");
        pki.leaf("admitted", "ca", "URI:spiffe://mesh.test/envoy/e1");
        pki.leaf("intruder", "ca", "URI:spiffe://mesh.test/intruder");
        pki.leaf("stranger", "other-ca", "URI:spiffe://mesh.test/envoy/e9");
        pki
    }

    fn path(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{name}.{ext}"))
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ca(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ]);
    }

    fn leaf(&self, name: &str, ca: &str, san: &str) {
        let ext = self.path(name, "ext");
        std::fs::write(&ext, format!("subjectAltName={san}\n")).expect("write ext");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }

    fn client_tls(&self, name: &str) -> XdsClientTls {
        XdsClientTls {
            cert: self.path(name, "pem"),
            key: self.path(name, "key"),
            server_ca: self.path("ca", "pem"),
            server_name: "xds.meshcd.test".into(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admitted_client_certificates_get_configuration() {
    let a = Backend::start("a");
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new(tmp.path());
    let (registry, server, address) = loopback_server(XdsOptions {
        tls: Some(TlsFiles {
            cert: pki.path("server", "pem"),
            key: pki.path("server", "key"),
            client_ca: pki.path("ca", "pem"),
        }),
        admit: vec!["spiffe://mesh.test/envoy/*".into()],
        ..XdsOptions::default()
    })
    .await;
    let port = meshcd::envoy::process::free_port().expect("a free port");
    let with_tls = |id: &str, ip: &str, cert: &str| XdsClient {
        tls: Some(pki.client_tls(cert)),
        ..client_for(id, address, ip)
    };
    let _intruder = FleetEnvoy::start(tmp.path(), &with_tls("intruder", "127.0.0.2", "intruder"));
    let _stranger = FleetEnvoy::start(tmp.path(), &with_tls("stranger", "127.0.0.3", "stranger"));
    let admitted = FleetEnvoy::start(tmp.path(), &with_tls("e1", "127.0.0.1", "admitted"));
    let version = registry
        .publish(&config(port, &[(&a, 100)]))
        .expect("publish");
    let delivery = registry.wait(version, WAIT, &["e1"]).await;
    assert!(delivery.is_ok(), "{delivery:?}\n{}", admitted.log_tail());
    assert_eq!(traffic("127.0.0.1", port, 5).await, only("a", 5));
    let nodes: Vec<(String, String)> = registry
        .nodes()
        .into_iter()
        .map(|n| (n.id, n.identity))
        .collect();
    assert_eq!(
        nodes,
        vec![("e1".to_string(), "spiffe://mesh.test/envoy/e1".to_string())],
        "only the admitted node is connected"
    );
    // The refused Envoys have no listener: nothing answers on their addresses.
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let counts = traffic(ip, port, 1).await;
        assert!(
            counts.keys().all(|k| k.starts_with("error")),
            "{ip} must serve nothing: {counts:?}"
        );
    }
    let refused = registry
        .wait(version, Duration::from_millis(300), &["intruder"])
        .await;
    assert!(
        matches!(refused, Err(DeliveryError::TimedOut { .. })),
        "{refused:?}"
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_server_certificate_is_read_again_for_new_connections() {
    let a = Backend::start("a");
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new(tmp.path());
    // The server starts with a certificate for another name: the Envoy refuses it.
    let (cert, key) = (tmp.path().join("live.pem"), tmp.path().join("live.key"));
    std::fs::copy(pki.path("old-server", "pem"), &cert).expect("copy");
    std::fs::copy(pki.path("old-server", "key"), &key).expect("copy");
    let (registry, server, address) = loopback_server(XdsOptions {
        tls: Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: pki.path("ca", "pem"),
        }),
        admit: vec!["spiffe://mesh.test/envoy/e1".into()],
        ..XdsOptions::default()
    })
    .await;
    let port = meshcd::envoy::process::free_port().expect("a free port");
    let version = registry
        .publish(&config(port, &[(&a, 100)]))
        .expect("publish");
    let envoy = FleetEnvoy::start(
        tmp.path(),
        &XdsClient {
            tls: Some(pki.client_tls("admitted")),
            ..client_for("e1", address, "127.0.0.1")
        },
    );
    let refused = registry
        .wait(version, Duration::from_secs(1), &["e1"])
        .await;
    assert!(
        matches!(refused, Err(DeliveryError::TimedOut { .. })),
        "{refused:?}"
    );
    // The renewed certificate is written in place (key first, as a renewal tool would).
    std::fs::copy(pki.path("server", "key"), &key).expect("copy");
    std::fs::copy(pki.path("server", "pem"), &cert).expect("copy");
    let delivered = registry
        .wait(version, Duration::from_secs(30), &["e1"])
        .await;
    assert!(delivered.is_ok(), "{delivered:?}\n{}", envoy.log_tail());
    assert_eq!(traffic("127.0.0.1", port, 5).await, only("a", 5));
    drop(server);
}

/// Every Envoy streams its counters to meshcd (the metrics service stat sink in its
/// bootstrap); the fleet's sum is what a rollout judged with provider `envoy` reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_sums_the_counters_every_envoy_streams() {
    let (a, b) = (Backend::start("a"), Backend::start("b"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let (registry, server, address) = loopback_server(XdsOptions::default()).await;
    let port = meshcd::envoy::process::free_port().expect("a free port");
    let envoys: Vec<FleetEnvoy> = [("e1", "127.0.0.1"), ("e2", "127.0.0.2")]
        .iter()
        .map(|(id, ip)| FleetEnvoy::start(tmp.path(), &client_for(id, address, ip)))
        .collect();
    let version = registry
        .publish(&config(port, &[(&a, 100), (&b, 0)]))
        .expect("publish");
    let delivered = registry.wait(version, WAIT, &["e1", "e2"]).await;
    assert!(delivered.is_ok(), "{delivered:?}\n{}", envoys[0].log_tail());
    assert_eq!(traffic("127.0.0.1", port, 15).await, only("a", 15));
    assert_eq!(traffic("127.0.0.2", port, 25).await, only("a", 25));
    // Envoy flushes its stats every second: poll (bounded) until both reports carry the requests.
    let clusters = vec!["a".to_string(), "b".to_string()];
    let mut last = None;
    for _ in 0..100 {
        last = registry.metrics().counters(&clusters);
        if last.as_ref().is_some_and(|c| c["a"].requests == 40) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counters = last.expect("the Envoys report");
    assert_eq!(counters["a"].requests, 40, "15 through e1 + 25 through e2");
    assert_eq!(counters["a"].failures, 0);
    assert_eq!(counters["b"].requests, 0);
    assert_eq!(registry.metrics().envoys(), 2);
    drop(server);
}
