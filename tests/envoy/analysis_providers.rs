//! The analysis providers against real parts: a real Envoy (found like in `envoy_runtime.rs`)
//! splitting traffic 50/50 between two loopback backends, a real Prometheus (Debian package
//! `prometheus`) scraping that Envoy, and HTTP probes against a loopback backend. The test
//! sends a bounded number of requests itself and checks that every provider counts exactly
//! those.
//!
//! These tests fail (never skip) when Envoy or Prometheus is missing.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::backend::Backend;
use crate::common::envoy::{split, TestEnvoy};
use crate::common::prometheus::Prometheus;
use meshcd::analysis::{AnalysisError, EnvoyStats, MetricsSource, PrometheusClient, TemplateVars};
use meshcd::envoy::process::free_port;
use meshcd_core::rollout::analysis::{AnalysisSpec, ProbeSpec, Provider, QuerySpec};
use meshcd_core::rollout::sample::{Counters, Histogram, Sample};

/// The stable cluster: a name without dots.
const STABLE: &str = "stable";
/// The canary cluster: a name with dots, as Istio routes give them (Prometheus sees it mangled).
const CANARY: &str = "canary.shop.svc.cluster.local";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// What the test saw of one backend: requests answered, and of those 5xx.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    requests: u64,
    failures: u64,
}

/// Sends `n` requests through Envoy's listener, one after the other; counts the answers by the
/// backend that gave them (its `x-backend` header), mapped to its cluster name.
async fn traffic(client: &reqwest::Client, port: u16, n: usize, seen: &mut BTreeMap<String, Seen>) {
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
        let entry = seen.entry(cluster.to_string()).or_default();
        entry.requests += 1;
        if status >= 500 {
            entry.failures += 1;
        }
    }
}

/// Requests of a window whose latency lies above `ms` (in buckets whose lower edge is at least
/// `ms`).
fn mass_above(latency: &Histogram, ms: f64) -> u64 {
    latency
        .counts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && latency.bounds_ms[i - 1] >= ms)
        .map(|(_, c)| c)
        .sum()
}

fn window(
    now: &BTreeMap<String, Counters>,
    base: &BTreeMap<String, Counters>,
) -> BTreeMap<String, Sample> {
    now.iter()
        .map(|(name, counters)| (name.clone(), counters.since(&base[name])))
        .collect()
}

/// Reads Envoy's counters until every backend's latency histogram has caught up with its request
/// count (the histogram refreshes at each stats flush, every second), or panics after `limit`.
async fn envoy_settled(
    source: &MetricsSource,
    backends: &[String],
    base: &BTreeMap<String, Counters>,
    limit: Duration,
) -> (BTreeMap<String, Counters>, Duration) {
    let started = Instant::now();
    loop {
        let now = source.counters(backends).await.expect("Envoy counters");
        let settled = window(&now, base)
            .values()
            .all(|s| s.latency.total() == s.requests);
        if settled {
            return (now, started.elapsed());
        }
        assert!(
            started.elapsed() < limit,
            "latency histograms never caught up with the request counters: {:#?}",
            window(&now, base)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads Prometheus until it agrees with `expect` (requests and failures; with `histograms`,
/// the whole counters), or panics after 20 s. Returns how long after `since` it agreed, and the
/// counters it gave.
async fn prometheus_caught_up(
    prom: &MetricsSource,
    backends: &[String],
    expect: &BTreeMap<String, Counters>,
    since: Instant,
    histograms: bool,
) -> (Duration, BTreeMap<String, Counters>) {
    let started = Instant::now();
    loop {
        let got = prom.counters(backends).await.expect("Prometheus counters");
        let agrees = backends.iter().all(|b| {
            if histograms {
                got[b] == expect[b]
            } else {
                (got[b].requests, got[b].failures) == (expect[b].requests, expect[b].failures)
            }
        });
        if agrees {
            return (since.elapsed(), got);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Prometheus never caught up with Envoy:\nPrometheus {got:#?}\nEnvoy {expect:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test]
async fn envoy_stats_and_prometheus_count_what_the_test_sent() {
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
    let client = client();
    let backends = vec![CANARY.to_string(), STABLE.to_string()];
    let source = MetricsSource::for_spec(&AnalysisSpec::default_analysis(), Some(&admin))
        .expect("envoy source");
    assert_eq!(source.provider(), Provider::Envoy);

    // 1. Two hundred requests; the canary answers 503 during the second hundred.
    let base = source.counters(&backends).await.expect("base counters");
    let mut seen = BTreeMap::new();
    traffic(&client, port, 100, &mut seen).await;
    canary.set_status(503);
    traffic(&client, port, 100, &mut seen).await;
    canary.set_status(200);
    println!("sent: {seen:?}");
    assert!(
        seen[CANARY].failures > 0 && seen[STABLE].requests > 0,
        "{seen:?}"
    );

    // Counters are exact at once; the histograms follow at the next stats flush.
    let now = source.counters(&backends).await.expect("counters");
    for (name, sample) in window(&now, &base) {
        assert_eq!(
            (sample.requests, sample.failures),
            (seen[&name].requests, seen[&name].failures),
            "{name}: Envoy counted {sample:?}, the test {:?}",
            seen[&name]
        );
    }
    let (now, flush_wait) = envoy_settled(&source, &backends, &base, Duration::from_secs(5)).await;
    println!(
        "histograms caught up {:.0} ms after the traffic",
        millis(flush_wait)
    );
    for (name, sample) in window(&now, &base) {
        assert_eq!(
            sample.latency.total(),
            seen[&name].requests,
            "{name}: {sample:?}"
        );
        assert_eq!(sample.requests, seen[&name].requests, "{name}: {sample:?}");
    }

    // What one read costs (one admin request for both clusters).
    let mut reads: Vec<Duration> = Vec::new();
    for _ in 0..100 {
        let t = Instant::now();
        source.counters(&backends).await.expect("counters");
        reads.push(t.elapsed());
    }
    reads.sort();
    println!(
        "one Envoy stats read (2 clusters, keep-alive): min {:.2} / median {:.2} / p95 {:.2} / max {:.2} ms",
        millis(reads[0]),
        millis(reads[50]),
        millis(reads[95]),
        millis(reads[99])
    );

    // 2. A slow canary: its window's latency mass lies above 100 ms.
    let prom = MetricsSource::for_spec(
        &AnalysisSpec {
            provider: Provider::Prometheus,
            address: Some(prometheus.url().to_string()),
            ..AnalysisSpec::default()
        },
        Some(&admin),
    )
    .expect("prometheus source");
    canary.set_delay(Duration::from_millis(150));
    let base = now;
    let mut slow = BTreeMap::new();
    traffic(&client, port, 30, &mut slow).await;
    let traffic_end = Instant::now();
    canary.set_delay(Duration::ZERO);
    let exact = source.counters(&backends).await.expect("counters");
    let (counters_lag, _) =
        prometheus_caught_up(&prom, &backends, &exact, traffic_end, false).await;
    let (now, _) = envoy_settled(&source, &backends, &base, Duration::from_secs(5)).await;
    let samples = window(&now, &base);
    println!("slow canary: sent {slow:?}, Envoy: {samples:?}");
    let canary_window = &samples[CANARY];
    assert_eq!(canary_window.requests, slow[CANARY].requests);
    assert!(canary_window.requests > 0, "{slow:?}");
    assert_eq!(
        mass_above(&canary_window.latency, 100.0),
        canary_window.requests,
        "every slow canary request took more than 100 ms: {canary_window:?}"
    );
    let stable_window = &samples[STABLE];
    assert!(
        mass_above(&stable_window.latency, 100.0) * 2 < stable_window.requests.max(1),
        "the stable backend is not slow: {stable_window:?}"
    );
    for (name, sample) in &samples {
        assert_eq!(sample.failures, 0, "{name}: {sample:?}");
    }

    // 3. The same counters, histograms included, through Prometheus once it has scraped them.
    let (all_lag, last) = prometheus_caught_up(&prom, &backends, &now, traffic_end, true).await;
    for b in &backends {
        assert_eq!(last[b], now[b], "{b}");
    }
    // How long Prometheus lags behind Envoy's counters: a few bursts of ten requests.
    let mut lags = vec![counters_lag];
    for _ in 0..4 {
        traffic(&client, port, 10, &mut BTreeMap::new()).await;
        let end = Instant::now();
        let exact = source.counters(&backends).await.expect("counters");
        lags.push(
            prometheus_caught_up(&prom, &backends, &exact, end, false)
                .await
                .0,
        );
    }
    println!(
        "Prometheus lag after the last request (scrape every 1 s): counters {:?} ms; with the \
         histograms {:.0} ms",
        lags.iter().map(|d| millis(*d).round()).collect::<Vec<_>>(),
        millis(all_lag)
    );
    let mut reads = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        prom.counters(&backends).await.expect("counters");
        reads.push(started.elapsed());
    }
    reads.sort();
    println!(
        "one Prometheus counters read (3 queries): min {:.2} / median {:.2} / max {:.2} ms",
        millis(reads[0]),
        millis(reads[10]),
        millis(reads[20])
    );

    // 4. Custom queries.
    let vars = TemplateVars {
        canary: CANARY.into(),
        stable: vec![STABLE.into()],
        route: "svc".into(),
        namespace: "shop".into(),
        window: Duration::from_secs(30),
    };
    let query = |name: &str, query: &str| QuerySpec {
        name: name.into(),
        query: query.into(),
        ..QuerySpec::default()
    };
    let queries = vec![
        query(
            "stable-requests",
            r#"sum(envoy_cluster_upstream_rq_completed{envoy_cluster_name=~"{{stable}}"})"#,
        ),
        query(
            "stable-requests-in-window",
            r#"max(max_over_time(envoy_cluster_upstream_rq_completed{envoy_cluster_name=~"{{stable}}"}[{{window}}]))"#,
        ),
        query("two-series", "up or vector(1)"),
        query("no-data", r#"sum(meshcd_nothing{route="{{route}}"})"#),
        query("broken", "sum(rate(up[{{window}}])"),
        query("typo", r#"x{b="{{canry}}"}"#),
    ];
    let values = prom.queries(&queries, &vars).await;
    println!("queries: {values:#?}");
    let value = |name: &str| {
        values
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no value for {name}"))
            .value
            .clone()
    };
    // No traffic since Prometheus last caught up: it has the latest count.
    let latest = source.counters(&backends).await.expect("counters");
    let stable_requests = latest[STABLE].requests as f64;
    assert_eq!(value("stable-requests"), Ok(stable_requests));
    assert_eq!(value("stable-requests-in-window"), Ok(stable_requests));
    let two = value("two-series").unwrap_err();
    assert!(
        two.contains("two-series") && two.contains("2 series"),
        "{two}"
    );
    let none = value("no-data").unwrap_err();
    assert!(
        none.contains("no-data") && none.contains("no series"),
        "{none}"
    );
    let broken = value("broken").unwrap_err();
    assert!(
        broken.contains("broken") && broken.contains("refused by Prometheus"),
        "{broken}"
    );
    let typo = value("typo").unwrap_err();
    assert!(
        typo.contains("typo") && typo.contains("{{canry}}"),
        "{typo}"
    );

    // 5. Errors say what is wrong.
    let err = EnvoyStats::new(&admin)
        .unwrap()
        .counters(&[STABLE.to_string(), "nope".to_string()])
        .await
        .unwrap_err();
    println!("unknown cluster: {err}");
    assert!(
        matches!(&err, AnalysisError::UnknownBackends { backends, .. } if backends == &["nope"]),
        "{err:?}"
    );
    // Envoy's admin is not a Prometheus: an HTTP status, with the start of what it said.
    let err = PrometheusClient::new(&admin)
        .unwrap()
        .counters(&backends)
        .await
        .unwrap_err();
    println!("not a Prometheus: {err}");
    assert!(
        matches!(err, AnalysisError::Status { status: 404, .. }),
        "{err:?}"
    );
    drop(prometheus);
    drop(envoy);
}

#[tokio::test]
async fn unreachable_services_are_errors_without_credentials() {
    let closed = free_port().expect("free port");
    let url = format!("http://meshcd:hunter2@127.0.0.1:{closed}");
    let err = EnvoyStats::new(&url)
        .unwrap()
        .counters(&["a".to_string()])
        .await
        .unwrap_err();
    println!("{err}");
    assert!(matches!(err, AnalysisError::Unreachable { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{closed}")),
        "{err}"
    );
    let err = PrometheusClient::new(&url)
        .unwrap()
        .query("up")
        .await
        .unwrap_err();
    println!("{err}");
    assert!(matches!(err, AnalysisError::Unreachable { .. }), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn probes_count_successes_failures_and_timeouts() {
    let canary = Backend::start("canary");
    let mut headers = BTreeMap::new();
    headers.insert("x-canary".to_string(), "always".to_string());
    let spec = AnalysisSpec {
        provider: Provider::Http,
        probe: Some(ProbeSpec {
            url: format!("http://127.0.0.1:{}/healthz", canary.port()),
            method: Some("get".into()),
            headers,
            expect_status: vec![200],
            timeout: Some("100ms".into()),
            per_interval: Some(5),
        }),
        ..AnalysisSpec::default()
    };
    let source = MetricsSource::for_spec(&spec, None).expect("probe source");
    let backends = vec![CANARY.to_string(), STABLE.to_string()];
    let base = source.counters(&backends).await.expect("counters");
    assert_eq!(base.keys().collect::<Vec<_>>(), [CANARY], "the canary only");

    let healthy = source.probe_round().await.expect("a probe round");
    println!("healthy: {healthy:?}");
    assert_eq!((healthy.sent, healthy.succeeded, healthy.failed), (5, 5, 0));
    assert_eq!(canary.requests(), 5);

    canary.set_status(503);
    let failing = source.probe_round().await.expect("a probe round");
    println!("failing: {failing:?}");
    assert_eq!((failing.sent, failing.succeeded, failing.failed), (5, 0, 5));
    assert_eq!(failing.first_failure.as_deref(), Some("HTTP 503"));

    canary.set_status(200);
    canary.set_delay(Duration::from_millis(400));
    let started = Instant::now();
    let slow = source.probe_round().await.expect("a probe round");
    println!("slow: {slow:?} in {:?}", started.elapsed());
    assert_eq!((slow.sent, slow.failed), (5, 5));
    assert!(
        slow.first_failure
            .as_deref()
            .unwrap_or("")
            .contains("no answer within 100ms"),
        "{slow:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(390),
        "probes run at once, bounded"
    );
    canary.set_delay(Duration::ZERO);

    let now = source.counters(&backends).await.expect("counters");
    let sample = now[CANARY].since(&base[CANARY]);
    println!("probe sample: {sample:?}");
    assert_eq!((sample.requests, sample.failures), (15, 10));
    assert_eq!(sample.latency.total(), 15, "timeouts are latencies too");
    assert_eq!(mass_above(&sample.latency, 100.0), 5, "{sample:?}");

    // Nothing listening: a failure, not a latency.
    let closed = free_port().expect("free port");
    let prober = MetricsSource::for_spec(
        &AnalysisSpec {
            provider: Provider::Http,
            probe: Some(ProbeSpec {
                url: format!("http://127.0.0.1:{closed}/"),
                ..ProbeSpec::default()
            }),
            ..AnalysisSpec::default()
        },
        None,
    )
    .unwrap();
    let round = prober.probe_round().await.expect("a probe round");
    println!("closed port: {round:?}");
    assert_eq!((round.sent, round.failed), (1, 1));
    let counters = prober.counters(&backends).await.unwrap();
    assert_eq!(counters[CANARY].latency.total(), 0);
}
