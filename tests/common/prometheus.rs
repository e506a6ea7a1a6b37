//! A real Prometheus server for tests (Debian package `prometheus`), scraping one Envoy's admin
//! `/stats/prometheus` every second, with its data in a temporary folder and its web API on a free
//! loopback port. Killed (and waited for) on drop.
//!
//! The binary comes from `MESHCD_PROMETHEUS` or `PATH`. When there is none the test fails (never
//! skips) and says how to install it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a starting Prometheus may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    url: String,
    dir: TempDir,
}

/// The `prometheus` binary: `MESHCD_PROMETHEUS`, else the first on `PATH`. Panics, saying how to
/// install it, when there is none.
pub fn prometheus_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MESHCD_PROMETHEUS").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "MESHCD_PROMETHEUS={} is not a file; install Prometheus with \
             `apt-get install -y --no-install-recommends prometheus` or fix the variable",
            path.display()
        );
        return path;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "these tests need a real Prometheus, and none was found (MESHCD_PROMETHEUS is unset \
             and `prometheus` is not on PATH): install it with \
             `apt-get install -y --no-install-recommends prometheus` (Debian package \
             `prometheus`), or set MESHCD_PROMETHEUS to the binary"
        )
    })
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Prometheus {
    /// Starts Prometheus scraping `http://{target}/stats/prometheus` (`target` such as
    /// `127.0.0.1:9901`) every second, and waits until `/-/ready` answers 200 and the target has
    /// been scraped once (`up == 1`). Prometheus applies new scrape targets on a 5 s tick, so the
    /// first scrape comes up to about 5 s after start; from then on every second.
    pub async fn start(target: &str) -> Self {
        let binary = prometheus_binary();
        let dir = tempfile::tempdir().expect("temp dir for Prometheus");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  \
                 evaluation_interval: 1s\nscrape_configs:\n- job_name: envoy\n  \
                 metrics_path: /stats/prometheus\n  static_configs:\n  - targets: [\"{target}\"]\n"
            ),
        )
        .expect("write prometheus.yml");
        let data = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let port = free_port();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut prometheus = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        prometheus.wait_ready().await;
        prometheus.wait_scraped().await;
        prometheus
    }

    async fn wait_scraped(&mut self) {
        let http = http_client();
        let started = Instant::now();
        loop {
            self.assert_running();
            let answer: Option<serde_json::Value> = match http
                .get(format!("{}/api/v1/query", self.url))
                .query(&[("query", "up{job=\"envoy\"}")])
                .send()
                .await
            {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            let up = answer
                .as_ref()
                .and_then(|a| a.pointer("/data/result/0/value/1"))
                .and_then(|v| v.as_str())
                == Some("1");
            if up {
                return;
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "Prometheus at {} has not scraped its target after {READY_TIMEOUT:?} (last \
                 answer {answer:?}); its log:\n{}",
                self.url,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "Prometheus exited while starting ({status}); its log:\n{}",
                self.log()
            );
        }
    }

    async fn wait_ready(&mut self) {
        let http = http_client();
        let started = Instant::now();
        loop {
            self.assert_running();
            let ready = http
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "Prometheus at {} not ready after {READY_TIMEOUT:?}; its log:\n{}",
                self.url,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
