//! Analysis provider `cloud-monitoring` against a stand-in for Google Cloud Monitoring.
//!
//! No Google API can run here (no credentials, no internet). The local server below stands in
//! for Cloud Monitoring's Prometheus-compatible query API as Google documents it:
//! `GET|POST /v1/projects/{project}/location/global/prometheus/api/v1/query` with `query` and
//! `time`, answered with Prometheus's JSON, only with `Authorization: Bearer <token>` (401
//! `UNAUTHENTICATED` in Google's error shape otherwise; 403 `PERMISSION_DENIED` for another
//! project). It evaluates nothing itself: an authorised query goes to a REAL Prometheus
//! (Debian package `prometheus`) scraping a REAL Envoy that splits the test's traffic between
//! two loopback backends, and the Prometheus answer comes back unchanged. The same server plays
//! the metadata server's token endpoint (`GET /computeMetadata/v1/instance/service-accounts/
//! default/token` with `Metadata-Flavor: Google`), issuing tokens the query API accepts until
//! [`FakeCloudMonitoring::rotate`] revokes them. It knows nothing about meshcd.
//!
//! These tests fail (never skip) when Envoy or Prometheus is missing.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::backend::Backend;
use crate::common::envoy::{split, TestEnvoy};
use crate::common::prometheus::Prometheus;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use meshcd::analysis::{AnalysisError, MetricsSource, TemplateVars};
use meshcd::envoy::process::free_port;
use meshcd::gcp::{AuthConfig, TokenSource, DEFAULT_TOKEN_VARIABLE};
use meshcd_core::rollout::analysis::{AnalysisSpec, Provider, QuerySpec};
use meshcd_core::rollout::sample::Counters;
use serde_json::json;

const PROJECT: &str = "shop-prod";
const STABLE: &str = "stable";
/// A name with dots: Prometheus sees it mangled, and meshcd's queries put it back.
const CANARY: &str = "canary.shop.svc.cluster.local";

/// One request the query API received.
#[derive(Debug, Clone)]
struct Seen {
    /// The bearer token it carried, if any.
    bearer: Option<String>,
    /// The status it was answered.
    status: u16,
}

#[derive(Default)]
struct Tokens {
    /// Tokens the query API accepts.
    accepted: HashSet<String>,
    /// How many the metadata endpoint issued.
    issued: usize,
    /// Refuse every token (a revoked service account).
    reject_all: bool,
}

struct Shared {
    project: String,
    /// The real Prometheus queries go to; `None` answers 502.
    upstream: Option<String>,
    http: reqwest::Client,
    tokens: Mutex<Tokens>,
    seen: Mutex<Vec<Seen>>,
}

/// The stand-in for Cloud Monitoring (see the module docs); stops with the test's runtime.
struct FakeCloudMonitoring {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl FakeCloudMonitoring {
    async fn start(project: &str, upstream: Option<&str>) -> Self {
        let shared = Arc::new(Shared {
            project: project.to_string(),
            upstream: upstream.map(str::to_string),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("HTTP client"),
            tokens: Mutex::new(Tokens::default()),
            seen: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route(
                "/v1/projects/{project}/location/global/prometheus/api/v1/query",
                get(query).post(query),
            )
            .route(
                "/computeMetadata/v1/instance/service-accounts/default/token",
                get(metadata_token),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve the fake");
        });
        Self { addr, shared }
    }

    /// The API base of `project`, as `analysis.address`.
    fn address_of(&self, project: &str) -> String {
        format!(
            "http://{}/v1/projects/{project}/location/global/prometheus",
            self.addr
        )
    }

    fn address(&self) -> String {
        self.address_of(PROJECT)
    }

    /// `127.0.0.1:PORT`, for `AuthConfig::Metadata { host }`.
    fn metadata_host(&self) -> String {
        self.addr.to_string()
    }

    /// A token accepted from now on, issued elsewhere (as `gcloud auth print-access-token`).
    fn issue_static(&self, token: &str) {
        self.shared
            .tokens
            .lock()
            .unwrap()
            .accepted
            .insert(token.to_string());
    }

    /// Revokes every token issued so far: they get 401 from now on.
    fn rotate(&self) {
        self.shared.tokens.lock().unwrap().accepted.clear();
    }

    fn reject_all(&self, reject: bool) {
        self.shared.tokens.lock().unwrap().reject_all = reject;
    }

    fn issued(&self) -> usize {
        self.shared.tokens.lock().unwrap().issued
    }

    /// Takes the requests seen so far.
    fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.shared.seen.lock().unwrap())
    }
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({"error": {"code": status.as_u16(), "message": message, "status": reason}});
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"https://accounts.google.com/\""
                .parse()
                .unwrap(),
        );
    }
    response
}

async fn query(
    State(shared): State<Arc<Shared>>,
    Path(project): Path<String>,
    method: Method,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let authorised = {
        let tokens = shared.tokens.lock().unwrap();
        !tokens.reject_all
            && bearer
                .as_ref()
                .is_some_and(|token| tokens.accepted.contains(token))
    };
    let response = if !authorised {
        google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        )
    } else if project != shared.project {
        google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!(
                "Permission monitoring.timeSeries.list denied (or the resource may not exist) \
                 for projects/{project}."
            ),
        )
    } else if let Some(upstream) = &shared.upstream {
        forward(
            &shared.http,
            upstream,
            &method,
            raw.as_deref(),
            &headers,
            body,
        )
        .await
    } else {
        (StatusCode::BAD_GATEWAY, "no upstream").into_response()
    };
    shared.seen.lock().unwrap().push(Seen {
        bearer,
        status: response.status().as_u16(),
    });
    response
}

/// The request as Prometheus's own `/api/v1/query` (same query string or form body), and its
/// answer unchanged.
async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    method: &Method,
    raw: Option<&str>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let mut url = format!("{upstream}/api/v1/query");
    if let Some(raw) = raw {
        url.push('?');
        url.push_str(raw);
    }
    let request = if method == Method::POST {
        let mut request = http.post(url).body(body);
        if let Some(kind) = headers.get(header::CONTENT_TYPE) {
            request = request.header(header::CONTENT_TYPE, kind.clone());
        }
        request
    } else {
        http.get(url)
    };
    match request.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let body = answer.bytes().await.unwrap_or_default();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn metadata_token(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return (
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        )
            .into_response();
    }
    let mut tokens = shared.tokens.lock().unwrap();
    tokens.issued += 1;
    let token = format!("ya29.fake-metadata-token-{}", tokens.issued);
    tokens.accepted.insert(token.clone());
    axum::Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// Requests answered and of those 5xx, per cluster, as the test saw them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Sent {
    requests: u64,
    failures: u64,
}

/// Sends `n` requests through Envoy's listener; counts the answers by the backend that gave them.
async fn traffic(client: &reqwest::Client, port: u16, n: usize, sent: &mut BTreeMap<String, Sent>) {
    for _ in 0..n {
        let response = client
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .expect("a request through Envoy");
        let status = response.status().as_u16();
        let cluster = match response.headers().get("x-backend").map(|v| v.as_bytes()) {
            Some(b"stable") => STABLE,
            Some(b"canary") => CANARY,
            other => panic!("an answer from no backend ({status}, x-backend {other:?})"),
        };
        let _ = response.bytes().await;
        let entry = sent.entry(cluster.to_string()).or_default();
        entry.requests += 1;
        if status >= 500 {
            entry.failures += 1;
        }
    }
}

/// Envoy's own counters once every latency histogram has caught up with its request count (the
/// histograms refresh at each stats flush, every second); panics after 10 s.
async fn envoy_settled(envoy: &MetricsSource, backends: &[String]) -> BTreeMap<String, Counters> {
    let started = Instant::now();
    loop {
        let now = envoy.counters(backends).await.expect("Envoy counters");
        if now.values().all(|c| c.latency.total() == c.requests) {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "Envoy's histograms never caught up: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `source` until it gives exactly `expect` (Prometheus scrapes every second); panics
/// after 20 s.
async fn caught_up(
    source: &MetricsSource,
    backends: &[String],
    expect: &BTreeMap<String, Counters>,
) -> BTreeMap<String, Counters> {
    let started = Instant::now();
    loop {
        let got = source.counters(backends).await.expect("counters");
        if &got == expect {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?} never caught up with Envoy:\ngot {got:#?}\nEnvoy {expect:#?}",
            source.provider()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cloud_spec(address: String) -> AnalysisSpec {
    AnalysisSpec {
        provider: Provider::CloudMonitoring,
        address: Some(address),
        ..AnalysisSpec::default_analysis()
    }
}

#[tokio::test]
async fn cloud_monitoring_reads_what_prometheus_reads_with_a_bearer_token() {
    let stable = Backend::start("stable");
    let canary = Backend::start("canary");
    let envoy = TestEnvoy::start().await;
    let port = free_port().expect("free port");
    envoy
        .publish(&split(
            port,
            &[(STABLE, stable.port(), 50), (CANARY, canary.port(), 50)],
        ))
        .await
        .expect("publish 50/50");
    let admin = envoy.admin_url().to_string();
    let prometheus = Prometheus::start(admin.trim_start_matches("http://")).await;
    let cloud = FakeCloudMonitoring::start(PROJECT, Some(prometheus.url())).await;
    let http = client();
    let backends = vec![CANARY.to_string(), STABLE.to_string()];

    // 1. The stand-in refuses queries without a token, or with one nobody issued.
    let url = format!("{}/api/v1/query", cloud.address());
    let refused = http
        .get(&url)
        .query(&[("query", "up")])
        .send()
        .await
        .expect("a query without a token");
    assert_eq!(refused.status(), 401);
    let body = refused.text().await.unwrap();
    assert!(body.contains("UNAUTHENTICATED"), "{body}");
    let refused = http
        .get(&url)
        .query(&[("query", "up")])
        .bearer_auth("ya29.made-up")
        .send()
        .await
        .expect("a query with a made-up token");
    assert_eq!(refused.status(), 401);
    cloud.take_seen();

    // 2. Traffic; then the same counters from Envoy, Prometheus and Cloud Monitoring.
    let tokens = TokenSource::new(&AuthConfig::Metadata {
        host: Some(cloud.metadata_host()),
    })
    .expect("metadata token source");
    let cm = MetricsSource::for_spec_with(
        &cloud_spec(cloud.address()),
        Some(&admin),
        Some(tokens.clone()),
    )
    .expect("cloud-monitoring source");
    assert_eq!(cm.provider(), Provider::CloudMonitoring);
    let prom = MetricsSource::for_spec(
        &AnalysisSpec {
            provider: Provider::Prometheus,
            address: Some(prometheus.url().to_string()),
            ..AnalysisSpec::default()
        },
        Some(&admin),
    )
    .expect("prometheus source");
    let envoy_stats = MetricsSource::for_spec(&AnalysisSpec::default_analysis(), Some(&admin))
        .expect("envoy source");

    let mut sent = BTreeMap::new();
    traffic(&http, port, 40, &mut sent).await;
    canary.set_status(503);
    traffic(&http, port, 40, &mut sent).await;
    canary.set_status(200);
    println!("sent: {sent:?}");
    assert!(
        sent[CANARY].failures > 0 && sent[STABLE].requests > 0,
        "{sent:?}"
    );
    let exact = envoy_settled(&envoy_stats, &backends).await;
    for (name, counters) in &exact {
        assert_eq!(
            (counters.requests, counters.failures),
            (sent[name].requests, sent[name].failures),
            "{name}: Envoy counted {counters:?}"
        );
    }
    let via_cloud = caught_up(&cm, &backends, &exact).await;
    let direct = prom.counters(&backends).await.expect("Prometheus counters");
    assert_eq!(
        via_cloud, direct,
        "Cloud Monitoring and Prometheus disagree"
    );
    assert_eq!(via_cloud, exact);
    let seen = cloud.take_seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|s| s.status == 200 && s.bearer.as_deref() == Some("ya29.fake-metadata-token-1")),
        "every query carried the issued token: {seen:?}"
    );
    assert_eq!(
        (cloud.issued(), tokens.fetches()),
        (1, 1),
        "one token, cached"
    );

    // Custom queries work the same.
    let vars = TemplateVars {
        canary: CANARY.into(),
        stable: vec![STABLE.into()],
        route: "svc".into(),
        namespace: "shop".into(),
        window: Duration::from_secs(30),
    };
    let queries = vec![
        QuerySpec {
            name: "stable-requests".into(),
            query: r#"sum(envoy_cluster_upstream_rq_completed{envoy_cluster_name=~"{{stable}}"})"#
                .into(),
            ..QuerySpec::default()
        },
        QuerySpec {
            name: "broken".into(),
            query: "sum(rate(up[{{window}}])".into(),
            ..QuerySpec::default()
        },
    ];
    let from_cloud = cm.queries(&queries, &vars).await;
    let from_prometheus = prom.queries(&queries, &vars).await;
    println!("queries: {from_cloud:#?}");
    assert_eq!(from_cloud[0], from_prometheus[0]);
    assert_eq!(from_cloud[0].value, Ok(sent[STABLE].requests as f64));
    let broken = from_cloud[1].value.clone().unwrap_err();
    assert!(
        broken.contains("broken") && broken.contains("refused by Cloud Monitoring"),
        "{broken}"
    );
    cloud.take_seen();

    // 3. The token is revoked: a 401, a new token from the metadata server, the same answer.
    cloud.rotate();
    let after = cm
        .counters(&backends)
        .await
        .expect("counters after the rotation");
    assert_eq!(after, via_cloud);
    assert_eq!((cloud.issued(), tokens.fetches()), (2, 2), "one new token");
    let seen = cloud.take_seen();
    println!("after the rotation: {seen:?}");
    let rejected: Vec<&Seen> = seen.iter().filter(|s| s.status == 401).collect();
    let accepted: Vec<&Seen> = seen.iter().filter(|s| s.status == 200).collect();
    assert!(
        (1..=3).contains(&rejected.len())
            && rejected
                .iter()
                .all(|s| s.bearer.as_deref() == Some("ya29.fake-metadata-token-1")),
        "{seen:?}"
    );
    assert!(
        accepted.len() == 3
            && accepted
                .iter()
                .all(|s| s.bearer.as_deref() == Some("ya29.fake-metadata-token-2")),
        "{seen:?}"
    );
    assert_eq!(seen.len(), rejected.len() + accepted.len(), "{seen:?}");

    // 4. `for_spec` takes its token from the environment (the only test here that sets it).
    const STATIC_TOKEN: &str = "ya29.static-token-from-gcloud";
    cloud.issue_static(STATIC_TOKEN);
    std::env::set_var(DEFAULT_TOKEN_VARIABLE, STATIC_TOKEN);
    let from_env = MetricsSource::for_spec(&cloud_spec(cloud.address()), Some(&admin))
        .expect("cloud-monitoring source from the environment");
    std::env::remove_var(DEFAULT_TOKEN_VARIABLE);
    assert_eq!(
        from_env.counters(&backends).await.expect("counters"),
        via_cloud
    );
    assert!(cloud
        .take_seen()
        .iter()
        .all(|s| s.status == 200 && s.bearer.as_deref() == Some(STATIC_TOKEN)));
    // Such a token cannot be replaced: one refused request per query, and an error that says
    // what to do, without the token.
    cloud.rotate();
    let err = from_env.counters(&backends).await.unwrap_err();
    println!("revoked environment token: {err}");
    assert!(matches!(err, AnalysisError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("HTTP 401") && text.contains("cannot be refreshed"),
        "{text}"
    );
    assert!(!text.contains(STATIC_TOKEN), "{text}");
    let seen = cloud.take_seen();
    assert!(
        seen.len() == 3 && seen.iter().all(|s| s.status == 401),
        "one request per query, no retry with the same token: {seen:?}"
    );

    // 5. Every token refused (a revoked service account): one new token, then an error.
    cloud.reject_all(true);
    let err = cm.counters(&backends).await.unwrap_err();
    println!("every token refused: {err}");
    assert!(matches!(err, AnalysisError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("a new token was refused too") && text.contains("metadata server"),
        "{text}"
    );
    assert!(!text.contains("ya29."), "{text}");
    assert!(!format!("{cm:?}").contains("ya29."), "{cm:?}");
    let issued = cloud.issued();
    assert_eq!(issued, 3, "exactly one more token for the three queries");
    assert_eq!(tokens.fetches(), 3);
    let seen = cloud.take_seen();
    assert!(
        seen.len() == 6 && seen.iter().all(|s| s.status == 401),
        "one retry per query: {seen:?}"
    );
    drop(prometheus);
    drop(envoy);
}

#[tokio::test]
async fn token_and_permission_failures_are_errors_without_tokens() {
    let cloud = FakeCloudMonitoring::start(PROJECT, None).await;
    let tokens = TokenSource::new(&AuthConfig::Metadata {
        host: Some(cloud.metadata_host()),
    })
    .expect("metadata token source");

    // Another project: Google's 403, its message in the error.
    let other = MetricsSource::for_spec_with(
        &cloud_spec(cloud.address_of("someone-else")),
        None,
        Some(tokens.clone()),
    )
    .expect("source");
    let values = other
        .queries(
            &[QuerySpec {
                name: "x".into(),
                query: "vector(1)".into(),
                ..QuerySpec::default()
            }],
            &TemplateVars::default(),
        )
        .await;
    let err = values[0].value.clone().unwrap_err();
    println!("another project: {err}");
    assert!(
        err.contains("HTTP 403") && err.contains("PERMISSION_DENIED: Permission monitoring"),
        "{err}"
    );
    assert!(!err.contains("ya29."), "{err}");
    let seen = cloud.take_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].bearer.as_deref(),
        Some("ya29.fake-metadata-token-1")
    );

    // No metadata server: an authentication error naming the source.
    let closed = free_port().expect("free port");
    let nowhere = TokenSource::new(&AuthConfig::Metadata {
        host: Some(format!("127.0.0.1:{closed}")),
    })
    .unwrap();
    let source =
        MetricsSource::for_spec_with(&cloud_spec(cloud.address()), None, Some(nowhere)).unwrap();
    let err = source.counters(&["a".to_string()]).await.unwrap_err();
    println!("no metadata server: {err}");
    assert!(matches!(err, AnalysisError::Auth { .. }), "{err:?}");
    assert!(
        err.to_string().contains("metadata server") && err.to_string().contains("Cloud Monitoring"),
        "{err}"
    );
    assert!(cloud.take_seen().is_empty(), "no query without a token");
}
