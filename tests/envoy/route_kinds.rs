//! Every route kind through a real Envoy: route YAML → `meshcd_core::envoy::translate` →
//! `publish` → real clients on loopback. A TCPRoute splits connections between two backends
//! (and a rollout step moves them), TLSRoutes pass TLS through by SNI to `openssl s_server`s, a
//! UDPRoute relays datagrams, a CORS preflight is answered by Envoy, and a stateful-session
//! cookie pins a client to one endpoint. The state read back from `/config_dump` (listeners
//! included) equals the desired one.
//!
//! These tests fail (never skip) when Envoy or `openssl` is missing.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::backend::Backend;
use crate::common::envoy::TestEnvoy;
use meshcd::envoy::files::ResourceKind;
use meshcd::envoy::process::free_port;
use meshcd_core::envoy::{
    diff, set_route_weights, translate, EnvoyConfig, EnvoySettings, EnvoyState,
};
use meshcd_core::plan::WeightMap;
use meshcd_core::{load, Loaded, SourceFile};
use serde_json::json;

/// How long a client waits for an answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3);

/// A loopback TCP server that writes its name to every connection, then closes it (a
/// server-first protocol, as databases speak). Stops on drop.
struct NamedTcp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NamedTcp {
    fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, name) = (stop.clone(), name.to_string());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(mut stream) = stream {
                        let _ = stream.write_all(name.as_bytes());
                    }
                }
            })
        };
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for NamedTcp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A loopback UDP server that answers every datagram with its name. Stops on drop.
struct NamedUdp {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NamedUdp {
    fn start(name: &str) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("address").port();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, name) = (stop.clone(), name.to_string());
            std::thread::spawn(move || {
                let mut buffer = [0u8; 512];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((_, from)) = socket.recv_from(&mut buffer) {
                        let _ = socket.send_to(name.as_bytes(), from);
                    }
                }
            })
        };
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for NamedUdp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An `openssl s_server` on a loopback port with a self-signed certificate for `name`
/// (generated into `dir`). Killed on drop.
struct TlsServer {
    port: u16,
    child: Child,
}

impl TlsServer {
    fn start(name: &str, dir: &Path) -> Self {
        let key = dir.join(format!("{name}.key"));
        let cert = dir.join(format!("{name}.pem"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-nodes", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "1"])
            .arg("-subj")
            .arg(format!("/CN={name}"))
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("these tests need `openssl`");
        assert!(made.success(), "openssl req failed");
        let port = free_port().expect("free port");
        let child = Command::new("openssl")
            .arg("s_server")
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .arg("-quiet")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let server = Self { port, child };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("openssl s_server did not listen on {port}");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The subject `openssl s_client` saw when connecting to `port` with SNI `server_name` (such as
/// `CN = a.example`), or `None` when the handshake failed.
fn tls_subject(port: u16, server_name: &str) -> Option<String> {
    let output = Command::new("timeout")
        .arg("10")
        .arg("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-servername")
        .arg(server_name)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl s_client");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("0 s:"))
        .map(str::to_string)
}

/// Translates route YAML with `settings`.
fn translated(yaml: &str, settings: &EnvoySettings) -> (Loaded, EnvoyConfig) {
    let loaded = load(vec![SourceFile::new("routes.yaml", yaml)]);
    let config = translate(&loaded, settings).unwrap_or_else(|e| panic!("translate: {e:#?}"));
    (loaded, config)
}

/// Settings for a test Envoy: the HTTP listener on a free port, RDS in its folder.
fn settings(envoy: &TestEnvoy) -> EnvoySettings {
    EnvoySettings {
        http_port: free_port().expect("free port"),
        rds_path: ResourceKind::Routes
            .path(envoy.dir.path())
            .to_string_lossy()
            .into_owned(),
        ..EnvoySettings::default()
    }
}

/// Opens `n` connections to `port` and counts what each one reads before it closes.
fn tcp_names(port: u16, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let key = match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut stream) => {
                let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
                let mut text = String::new();
                match stream.read_to_string(&mut text) {
                    Ok(_) if !text.is_empty() => text,
                    Ok(_) => "closed".to_string(),
                    Err(e) => format!("error: {e}"),
                }
            }
            Err(e) => format!("connect: {e}"),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// What Envoy holds, read from its `/config_dump` as the envoy target reads it.
async fn applied(envoy: &TestEnvoy) -> EnvoyState {
    let admin = envoy.envoy.admin();
    let routes = admin.config_dump_routes().await.expect("routes");
    let clusters = admin.config_dump_clusters().await.expect("clusters");
    let listeners = admin.config_dump_listeners().await.expect("listeners");
    EnvoyState::from_config_dump(
        &json!({ "configs": routes }),
        &json!({ "configs": clusters }),
        &json!({ "configs": listeners }),
    )
    .expect("a readable dump")
}

fn backend(name: &str, ports: &[u16]) -> String {
    let endpoints: Vec<String> = ports
        .iter()
        .map(|p| format!("{{address: 127.0.0.1, port: {p}}}"))
        .collect();
    format!(
        "---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {{name: {name}}}\nspec: {{endpoints: [{}]}}\n",
        endpoints.join(", ")
    )
}

#[tokio::test]
async fn a_tcp_route_splits_connections_and_a_rollout_step_moves_them() {
    let a = NamedTcp::start("a");
    let b = NamedTcp::start("b");
    let envoy = TestEnvoy::start().await;
    let settings = settings(&envoy);
    let port = free_port().expect("free port");
    let yaml = |wa: u32, wb: u32| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {{name: db, namespace: q}}\nspec:\n  parentRefs: [{{name: gw, port: {port}}}]\n  rules:\n  - backendRefs: [{{name: a, port: 5432, weight: {wa}}}, {{name: b, port: 5432, weight: {wb}}}]\n{}{}",
            backend("a", &[a.port()]),
            backend("b", &[b.port()])
        )
    };
    let (loaded, config) = translated(&yaml(50, 50), &settings);
    let report = envoy.publish(&config).await.expect("publish 50/50");
    println!("50/50: {report:?}");
    let counts = tcp_names(port, 200);
    println!("50/50: {counts:?}");
    assert_eq!(
        counts.get("a").unwrap_or(&0) + counts.get("b").unwrap_or(&0),
        200,
        "{counts:?}"
    );
    // Each connection picks a cluster at random: 200 all on one side has odds of 2^-199.
    assert!(
        counts.get("a") > Some(&20) && counts.get("b") > Some(&20),
        "{counts:?}"
    );

    // Envoy serves what was asked: read back from /config_dump, nothing to change.
    let desired = EnvoyState::from_config(&config);
    let held = applied(&envoy).await;
    assert_eq!(held.l4_routes, desired.l4_routes);
    let plan = diff(&desired, &held, &loaded);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);

    // A rollout step to 0/100 goes into the filter chain and moves every connection.
    let mut step = config.clone();
    let weights: WeightMap = [("a".to_string(), 0), ("b".to_string(), 100)].into();
    let splits = [(
        "rules[0]".to_string(),
        vec!["a".to_string(), "b".to_string()],
    )];
    set_route_weights(&mut step, "TCPRoute/q/db", &splits, &weights).expect("weights set");
    let report = envoy.publish(&step).await.expect("publish 0/100");
    println!("0/100: {report:?}");
    assert!(
        !report.validated,
        "only weights changed: the fast path skips `envoy --mode validate`"
    );
    let counts = tcp_names(port, 50);
    assert_eq!(counts.get("b"), Some(&50), "{counts:?}");
    // The plan against that Envoy is a rollout from 0/100 back to the commit's 50/50.
    let plan = diff(&desired, &applied(&envoy).await, &loaded);
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    let rollout = plan.changes[0].rollout.as_ref().expect("a rollout");
    assert_eq!(rollout.from, weights);
}

#[tokio::test]
async fn tls_routes_pass_tls_through_to_the_backend_of_each_sni() {
    let certs = tempfile::tempdir().expect("temp dir");
    let a = TlsServer::start("a.example", certs.path());
    let b = TlsServer::start("b.example", certs.path());
    let envoy = TestEnvoy::start().await;
    let settings = settings(&envoy);
    let port = free_port().expect("free port");
    // One port, both families: a Gateway API TLSRoute for a.example, a networkservices
    // TlsRoute (on a networkservices Gateway's port) for b.example.
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\nmetadata: {{name: a, namespace: q}}\nspec:\n  parentRefs: [{{name: gw, port: {port}}}]\n  hostnames: [a.example]\n  rules:\n  - backendRefs: [{{name: tls-a, port: 443}}]\n---\napiVersion: networkservices.googleapis.com/v1\nkind: Gateway\nname: edge\ntype: OPEN_MESH\nports: [{port}]\nscope: edge\n---\napiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: b\ngateways: [projects/p/locations/global/gateways/edge]\nrules:\n- matches: [{{sniHost: [b.example]}}]\n  action:\n    destinations: [{{serviceName: projects/p/locations/global/backendServices/tls-b}}]\n{}{}",
        backend("tls-a", &[a.port]),
        backend("tls-b", &[b.port])
    );
    let (loaded, config) = translated(&yaml, &settings);
    let report = envoy.publish(&config).await.expect("publish");
    println!("{report:?}");
    for _ in 0..3 {
        assert_eq!(
            tls_subject(port, "a.example").as_deref(),
            Some("CN = a.example")
        );
        assert_eq!(
            tls_subject(port, "b.example").as_deref(),
            Some("CN = b.example")
        );
    }
    // An SNI no route claims matches no filter chain: no handshake.
    assert_eq!(tls_subject(port, "c.example"), None);
    let desired = EnvoyState::from_config(&config);
    let plan = diff(&desired, &applied(&envoy).await, &loaded);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
}

#[tokio::test]
async fn a_udp_route_relays_datagrams_to_its_backend() {
    let dns = NamedUdp::start("dns");
    let envoy = TestEnvoy::start().await;
    let settings = settings(&envoy);
    let port = free_port().expect("free port");
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: UDPRoute\nmetadata: {{name: dns, namespace: q}}\nspec:\n  parentRefs: [{{name: gw, port: {port}}}]\n  rules:\n  - backendRefs: [{{name: dns, port: 53}}]\n{}",
        backend("dns", &[dns.port])
    );
    let (_, config) = translated(&yaml, &settings);
    envoy.publish(&config).await.expect("publish");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut answer = None;
    // A datagram may arrive before the listener is bound on every worker: try a few times.
    for _ in 0..10 {
        client.send_to(b"query", ("127.0.0.1", port)).expect("send");
        let mut buffer = [0u8; 64];
        if let Ok((n, _)) = client.recv_from(&mut buffer) {
            answer = Some(String::from_utf8_lossy(&buffer[..n]).to_string());
            break;
        }
    }
    assert_eq!(answer.as_deref(), Some("dns"));
}

#[tokio::test]
async fn envoy_answers_a_cors_preflight_with_the_allowed_origin() {
    let web = Backend::start("web");
    let envoy = TestEnvoy::start().await;
    let settings = settings(&envoy);
    let yaml = format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: web, namespace: q}}\nspec:\n  hostnames: [web.example.com]\n  rules:\n  - filters:\n    - type: CORS\n      cors:\n        allowOrigins: [\"https://app.example.com\"]\n        allowMethods: [GET, PUT]\n        allowHeaders: [x-token]\n        maxAge: 600\n    backendRefs: [{{name: web, port: 80}}]\n{}",
        backend("web", &[web.port()])
    );
    let (_, config) = translated(&yaml, &settings);
    envoy.publish(&config).await.expect("publish");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{}/api", settings.http_port);
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &url)
            .header("host", "web.example.com")
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .send()
    };
    let allowed = preflight("https://app.example.com")
        .await
        .expect("preflight");
    assert_eq!(allowed.status(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-methods").as_deref(),
        Some("GET,PUT")
    );
    assert_eq!(
        header(&allowed, "access-control-max-age").as_deref(),
        Some("600")
    );
    assert_eq!(web.requests(), 0, "Envoy answers the preflight itself");
    // Another origin gets no CORS headers.
    let other = preflight("https://evil.example.com")
        .await
        .expect("preflight");
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    // A plain request still reaches the backend, with the allowed origin echoed.
    let get = client
        .get(&url)
        .header("host", "web.example.com")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("get");
    assert_eq!(
        header(&get, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(get.text().await.expect("body"), "web");
}

#[tokio::test]
async fn a_session_cookie_pins_a_client_to_one_endpoint() {
    let one = Backend::start("one");
    let two = Backend::start("two");
    let envoy = TestEnvoy::start().await;
    let settings = settings(&envoy);
    let yaml = format!(
        "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: app\nhostnames: [app.internal]\nrules:\n- action:\n    destinations: [{{serviceName: projects/p/locations/global/backendServices/pool}}]\n    statefulSessionAffinity: {{cookieTtl: 300s}}\n{}",
        backend("pool", &[one.port(), two.port()])
    );
    let (_, config) = translated(&yaml, &settings);
    envoy.publish(&config).await.expect("publish");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{}/", settings.http_port);
    let get = |cookie: Option<String>| {
        let mut request = client.get(&url).header("host", "app.internal");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    // Without the cookie, round robin takes turns between the two endpoints.
    let mut seen = BTreeMap::new();
    for _ in 0..10 {
        let body = get(None).await.expect("get").text().await.expect("body");
        *seen.entry(body).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    // The first answer sets the session cookie; with it, every request goes to that endpoint.
    let first = get(None).await.expect("get");
    let cookie = first
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .expect("a session cookie");
    assert!(cookie.starts_with("GSSA="), "{cookie}");
    let pinned = first.text().await.expect("body");
    for _ in 0..20 {
        let body = get(Some(cookie.clone()))
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        assert_eq!(body, pinned);
    }
}
