//! `meshcd run` with a real, managed Envoy, end to end: the real binary follows a real Git
//! repository (watched `.git`, no polling), starts its own Envoy on free loopback ports, and
//! routes `target.meshapps.internal` between two loopback backends (`target`, `target-green`).
//!
//! One test per scenario, run one at a time (a lock), each with its own repository, daemon and
//! Envoy: a commit moves traffic; a refused commit applies nothing and is audited; a killed
//! Envoy comes back with its routes; drift behind meshcd's back is planned and reported, not
//! corrected; an unchanged commit is skipped; SIGTERM stops the daemon and its Envoy.
//!
//! Waits are bounded polls (every 50 ms, at most [`WAIT`]); a timeout fails with the last status
//! and the daemon's log. Every process started here is stopped on drop, even when a test fails,
//! and each test checks that no process naming its Envoy folder is left.
//!
//! Envoy comes from `MESHCD_ENVOY`, a `.venv` under the repository root (`scripts/test.sh`
//! makes one), or wherever `meshcd` itself finds one. Without it these tests fail, never skip.

#[path = "common/backend.rs"]
mod backend;
mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use backend::Backend;
use common::{meshcd, project_root, TestRepo};
use meshcd::envoy::process::free_port;
use meshcd::envoy::{find_envoy, install_hint};
use serde_json::{json, Value};
use tempfile::TempDir;

/// Longest any wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
/// How often waits poll.
const TICK: Duration = Duration::from_millis(50);
/// The host the route serves.
const HOST: &str = "target.meshapps.internal";
/// Backend services, as the route names them.
const TARGET: &str = "projects/p/locations/global/backendServices/target";
const GREEN: &str = "projects/p/locations/global/backendServices/target-green";

/// Scenarios run one at a time: each starts an Envoy, and the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Envoy binary: `MESHCD_ENVOY`, `.venv/lib/python3*/site-packages/envoy/_bin/envoy` under
/// the repository root, or meshcd's own lookup (`PATH`, meshcd's home). Fails without one.
fn envoy_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MESHCD_ENVOY").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "MESHCD_ENVOY={} is not a file; install Envoy with: {}",
            path.display(),
            install_hint()
        );
        return path;
    }
    let lib = project_root().join(".venv/lib");
    let mut pythons: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path())
        .collect();
    pythons.sort();
    for python in pythons.iter().rev() {
        let candidate = python.join("site-packages/envoy/_bin/envoy");
        if candidate.is_file() {
            return candidate;
        }
    }
    match find_envoy(None) {
        Ok(path) => path,
        Err(error) => panic!(
            "these tests need a real Envoy 1.40: set MESHCD_ENVOY, run scripts/test.sh (it \
             installs one into .venv), or install it with: {}\n{error}",
            install_hint()
        ),
    }
}

/// A RolloutPolicy that moves `target-route`'s weights in one step, without metrics.
const ONE_STEP_POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: one-step}
spec:
  selector: {routes: [target-route]}
  steps: [100]
  bakeTime: 0s
  analysis: {provider: none}
";

/// The route: `target` / `target-green` by weight (relative, networkservices style).
fn route(target: i64, green: i64) -> String {
    format!(
        "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: target-route
description: {HOST}, blue (target) / green (target-green)
hostnames:
- {HOST}
meshes:
- projects/p/locations/global/meshes/mesh
rules:
- action:
    destinations:
    - serviceName: {TARGET}
      weight: {target}
    - serviceName: {GREEN}
      weight: {green}
"
    )
}

/// meshcd `Backend`s for the two test backends.
fn backends(target_port: u16, green_port: u16) -> String {
    format!(
        "apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: target
spec:
  aliases:
  - {TARGET}
  endpoints:
  - address: 127.0.0.1
    port: {target_port}
  protocol: http
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: target-green
spec:
  aliases:
  - {GREEN}
  endpoints:
  - address: 127.0.0.1
    port: {green_port}
  protocol: http
"
    )
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP/1.1 over loopback.

/// One request with `Connection: close`: status and body, or why it failed.
fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head in {text:?}"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((code, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sends `n` requests for [`HOST`] to Envoy's listener; counts the answers by body (`<status>`
/// for non-200 answers, `error: ...` when there was none).
fn traffic(port: u16, n: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let key = match try_http(loopback(port), "GET", "/", HOST, Duration::from_secs(2)) {
            Ok((200, body)) => body,
            Ok((code, _)) => code.to_string(),
            Err(e) => format!("error: {e}"),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn share(counts: &BTreeMap<String, usize>, name: &str) -> f64 {
    let total: usize = counts.values().sum();
    counts.get(name).copied().unwrap_or(0) as f64 / total.max(1) as f64
}

/// Envoy's admin `/ready` answers `LIVE`.
fn envoy_live(admin_port: u16) -> bool {
    matches!(
        try_http(loopback(admin_port), "GET", "/ready", "localhost", Duration::from_secs(1)),
        Ok((200, body)) if body.trim() == "LIVE"
    )
}

/// The weights Envoy serves for [`HOST`] (cluster name → weight), read from `/config_dump`.
fn served_weights(admin_port: u16) -> Option<BTreeMap<String, u64>> {
    let (code, body) = try_http(
        loopback(admin_port),
        "GET",
        "/config_dump?resource=dynamic_route_configs",
        "localhost",
        Duration::from_secs(2),
    )
    .ok()?;
    if code != 200 {
        return None;
    }
    let dump: Value = serde_json::from_str(&body).ok()?;
    dump["configs"].as_array()?.iter().find_map(|config| {
        config["route_config"]["virtual_hosts"]
            .as_array()?
            .iter()
            .find(|vhost| serves_host(vhost))
            .and_then(weights_of_vhost)
    })
}

fn serves_host(vhost: &Value) -> bool {
    vhost["domains"]
        .as_array()
        .is_some_and(|domains| domains.iter().any(|d| d == HOST))
}

fn weights_of_vhost(vhost: &Value) -> Option<BTreeMap<String, u64>> {
    let clusters = vhost
        .pointer("/routes/0/route/weighted_clusters/clusters")?
        .as_array()?;
    Some(
        clusters
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or_default().to_string(),
                    // Proto JSON leaves out a weight of 0.
                    c["weight"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
    )
}

fn weights(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Sum of `meshcd_reconcile_total` samples whose labels contain every one of `labels`.
fn reconciles(metrics: &str, labels: &[&str]) -> u64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("meshcd_reconcile_total{") && labels.iter().all(|x| l.contains(x))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// Pids of processes whose command line mentions `pattern` (`pgrep -f`; a regex, so a temp
/// folder's `.` matches itself too).
fn pgrep(pattern: &str) -> Vec<u32> {
    let output = Command::new("pgrep")
        .args(["-f", pattern])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .filter(|pid| *pid != std::process::id())
        .collect()
}

fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The command line of a process (for messages).
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_else(|_| "?".into())
}

/// A running `meshcd run`. Dropping it stops it (SIGTERM, then SIGKILL) and kills by pid any
/// process still naming its Envoy folder (an Envoy orphaned by a SIGKILLed daemon).
struct Daemon {
    child: Mutex<Child>,
    exited: Option<ExitStatus>,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    work_dir: PathBuf,
}

impl Daemon {
    fn start(config: &Path, work_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshcd"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "meshcd=debug,warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start meshcd run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        // The first line comes once Envoy is ready and the port is bound (or never: EOF).
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let mut daemon = Self {
            child: Mutex::new(child),
            exited: None,
            addr: loopback(0),
            stderr,
            work_dir: work_dir.to_path_buf(),
        };
        match line
            .trim()
            .strip_prefix("meshcd: listening on http://")
            .and_then(|a| a.parse().ok())
        {
            Some(addr) => daemon.addr = addr,
            None => {
                daemon.stop();
                panic!(
                    "meshcd run did not start: first stdout line {line:?}\nstderr:\n{}",
                    daemon.log_tail()
                );
            }
        }
        daemon
    }

    fn log_tail(&self) -> String {
        let log = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn request(&self, method: &str, path: &str) -> Result<(u16, String), String> {
        try_http(
            self.addr,
            method,
            path,
            "localhost",
            Duration::from_secs(10),
        )
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path)
            .unwrap_or_else(|e| self.fail(&format!("GET {path} failed: {e}")))
    }

    fn status(&self) -> Value {
        let (code, body) = self.get("/api/v1/status");
        if code != 200 {
            self.fail(&format!("/api/v1/status answered {code}: {body}"));
        }
        serde_json::from_str(&body).unwrap_or_else(|e| self.fail(&format!("status: {e}: {body}")))
    }

    fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics");
        if code != 200 {
            self.fail(&format!("/metrics answered {code}"));
        }
        body
    }

    fn reconcile_now(&self) {
        let (code, body) = self
            .request("POST", "/api/v1/reconcile")
            .unwrap_or_else(|e| self.fail(&format!("POST /api/v1/reconcile failed: {e}")));
        if code != 202 {
            self.fail(&format!("POST /api/v1/reconcile answered {code}: {body}"));
        }
    }

    /// Fails the test with `message`, the last status and the daemon's log.
    fn fail(&self, message: &str) -> ! {
        let status = match self.request("GET", "/api/v1/status") {
            Ok((_, body)) => serde_json::from_str::<Value>(&body)
                .map(|v| format!("{v:#}"))
                .unwrap_or(body),
            Err(e) => format!("(no status: {e})"),
        };
        panic!(
            "{message}\nlast status: {status}\nmeshcd stderr (last lines):\n{}",
            self.log_tail()
        );
    }

    fn exited_early(&self) -> Option<ExitStatus> {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_wait()
            .ok()
            .flatten()
    }

    /// Polls `check` every [`TICK`] until it holds; fails after [`WAIT`] or if the daemon exits.
    fn wait_until(&self, what: &str, mut check: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited_early() {
                self.fail(&format!(
                    "meshcd exited ({status}) while waiting for {what}"
                ));
            }
            if check(self) {
                return;
            }
            if start.elapsed() >= WAIT {
                self.fail(&format!("timed out after {WAIT:?} waiting for {what}"));
            }
            std::thread::sleep(TICK);
        }
    }

    /// Waits until the daemon's last finished reconcile is for `commit` with `action`.
    fn wait_for_outcome(&self, commit: &str, action: &str) -> Value {
        let mut last = Value::Null;
        self.wait_until(&format!("{action} of {}", &commit[..7]), |d| {
            last = d.status();
            last["lastOutcome"]["commit"] == commit && last["lastOutcome"]["action"] == action
        });
        last
    }

    /// Waits until `commit` is applied (outcome `applied`, appliedCommit, ready).
    fn wait_applied(&self, commit: &str) -> Value {
        let status = self.wait_for_outcome(commit, "applied");
        if status["appliedCommit"] != commit || status["ready"] != true {
            self.fail(&format!("{commit} applied, but the status disagrees"));
        }
        status
    }

    /// SIGTERM, then waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.lock().unwrap_or_else(|e| e.into_inner()).id();
        assert!(signal(pid, "-TERM"), "kill -TERM {pid} failed");
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(status) = self.exited_early() {
                self.exited = Some(status);
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "meshcd did not stop within {WAIT:?} of SIGTERM\nstderr:\n{}",
            self.log_tail()
        );
    }

    /// Stops the daemon whatever state it is in, then any process left naming its Envoy folder.
    fn stop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if self.exited.is_none() && child.try_wait().ok().flatten().is_none() {
            signal(child.id(), "-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
        drop(child);
        for pid in pgrep(&self.work_dir.display().to_string()) {
            eprintln!(
                "daemon_envoy: killing stray process {pid} ({})",
                cmdline(pid)
            );
            signal(pid, "-KILL");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// The setup every scenario starts from.

/// Two backends, a repository, a `meshcd.yaml` and a daemon that applied the first commit.
/// Field order is drop order: the daemon (and its Envoy) stops first.
struct Setup {
    daemon: Daemon,
    target: Backend,
    green: Backend,
    repo: TestRepo,
    /// The first commit.
    first: String,
    config: PathBuf,
    state_dir: PathBuf,
    work_dir: PathBuf,
    admin_port: u16,
    http_port: u16,
    tmp: TempDir,
}

impl Setup {
    /// Starts everything with the route at `target`/`green` and waits until it is applied.
    fn start(target_weight: i64, green_weight: i64) -> Self {
        let envoy = envoy_binary();
        let target = Backend::start("target");
        let green = Backend::start("target-green");
        let repo = TestRepo::new();
        repo.write(
            "routes/target-route.yaml",
            &route(target_weight, green_weight),
        );
        repo.write(
            "meshcd/backends.yaml",
            &backends(target.port(), green.port()),
        );
        // These scenarios are about applying commits, not canaries: weight moves go in one
        // time-based step (tests/rollouts.rs covers step-by-step rollouts).
        repo.write("meshcd/rollout-policy.yaml", ONE_STEP_POLICY);
        let first = repo.commit(&format!("target {target_weight} / green {green_weight}"));

        let tmp = tempfile::tempdir().expect("temp dir");
        let state_dir = tmp.path().join("state");
        let work_dir = tmp.path().join("envoy");
        let admin_port = free_port().expect("free port");
        let http_port = free_port().expect("free port");
        let config = tmp.path().join("meshcd.yaml");
        std::fs::write(
            &config,
            format!(
                "repo: {repo}
rev: main
pollInterval: 0s
watch: true
selfHeal: false
shutdownTimeout: 5s
server:
  listen: \"127.0.0.1:0\"
stateDir: {state}
target:
  envoy:
    manage: true
    binary: {envoy}
    adminPort: {admin_port}
    httpPort: {http_port}
    workDir: {work}
",
                repo = repo.path().display(),
                state = state_dir.display(),
                envoy = envoy.display(),
                work = work_dir.display(),
            ),
        )
        .expect("write meshcd.yaml");
        let daemon = Daemon::start(&config, &work_dir);
        daemon.wait_until("the first commit applied to a fresh Envoy", |d| {
            let status = d.status();
            if let Some(error) = status["lastError"]["message"].as_str() {
                if error.contains("not found in config dump") {
                    d.fail(
                        "BUG: the first reconcile against a freshly started Envoy fails: Envoy \
                         answers `GET /config_dump?resource=dynamic_route_configs` with 404 \
                         `dynamic_route_configs not found in config dump` while it holds no route \
                         configuration yet, and meshcd (AdminClient::config_dump, via \
                         EnvoyTarget::applied) takes that for an error instead of an empty \
                         state, so nothing is ever applied",
                    );
                }
            }
            status["lastOutcome"]["commit"] == first.as_str()
                && status["lastOutcome"]["action"] == "applied"
        });
        daemon.wait_applied(&first);
        Self {
            daemon,
            target,
            green,
            repo,
            first,
            config,
            state_dir,
            work_dir,
            admin_port,
            http_port,
            tmp,
        }
    }

    /// Commits a new route and returns the commit.
    fn commit_route(&self, target: i64, green: i64) -> String {
        self.repo
            .write("routes/target-route.yaml", &route(target, green));
        self.repo
            .commit(&format!("target {target} / green {green}"))
    }

    fn traffic(&self, n: usize) -> BTreeMap<String, usize> {
        traffic(self.http_port, n)
    }

    /// Asserts that all of `n` requests reach `backend`.
    fn assert_all(&self, backend: &str, n: usize, when: &str) {
        let counts = self.traffic(n);
        if counts.get(backend) != Some(&n) {
            self.daemon.fail(&format!(
                "{when}: expected all {n} requests to reach `{backend}`, got {counts:?}"
            ));
        }
    }

    /// Waits until 20 requests in a row all reach `backend`.
    fn wait_all(&self, backend: &str, when: &str) {
        let mut counts = BTreeMap::new();
        self.daemon
            .wait_until(&format!("{when}: all traffic on `{backend}`"), |_| {
                counts = self.traffic(20);
                counts.get(backend) == Some(&20)
            });
    }

    fn envoy_pids(&self) -> Vec<u32> {
        pgrep(&self.work_dir.join("bootstrap.yaml").display().to_string())
    }

    fn plan_against_envoy(&self) -> Value {
        let run = meshcd(
            &[
                "plan",
                "--target",
                "envoy",
                "--config",
                path_str(&self.config),
                "--repo",
                path_str(self.repo.path()),
                "--format",
                "json",
            ],
            &self.tmp.path().join("cache"),
        );
        assert_eq!(
            run.code, 0,
            "meshcd plan --target envoy failed\nstdout:\n{}\nstderr:\n{}",
            run.stdout, run.stderr
        );
        run.json()
    }

    /// SIGTERM; asserts exit 0 and that no process names the Envoy folder any more.
    fn shut_down(&mut self) {
        let status = self.daemon.terminate();
        assert_eq!(
            status.code(),
            Some(0),
            "meshcd run did not exit 0 on SIGTERM ({status})\nstderr:\n{}",
            self.daemon.log_tail()
        );
        let left: Vec<String> = pgrep(&self.work_dir.display().to_string())
            .into_iter()
            .map(|pid| format!("{pid}: {}", cmdline(pid)))
            .collect();
        assert!(
            left.is_empty(),
            "BUG: processes still running with the Envoy folder after meshcd exited 0 on \
             SIGTERM (the managed Envoy must stop with the daemon):\n{}\nmeshcd stderr:\n{}",
            left.join("\n"),
            self.daemon.log_tail()
        );
    }

    /// `meshcd history --state-dir <stateDir> --format json` (the daemon must have stopped).
    fn history(&self) -> Vec<Value> {
        let run = meshcd(
            &[
                "history",
                "--state-dir",
                path_str(&self.state_dir),
                "--format",
                "json",
                "--limit",
                "0",
            ],
            &self.tmp.path().join("cache"),
        );
        assert_eq!(run.code, 0, "meshcd history failed: {}", run.stderr);
        run.json()["entries"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no `entries` in {}", run.stdout))
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// The audit entries with `action` for `commit`.
fn entries<'e>(history: &'e [Value], action: &str, commit: &str) -> Vec<&'e Value> {
    history
        .iter()
        .filter(|e| e["action"] == action && e["commit"] == commit)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

/// Scenario 1: commits move traffic: 100/0 → 0/100 → 90/10.
#[test]
fn a_commit_moves_traffic() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let status = s.daemon.status();
    assert_eq!(status["lastOutcome"]["trigger"], "startup", "{status:#}");
    assert!(
        status["target"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("127.0.0.1:{}", s.http_port))),
        "{status:#}"
    );
    s.assert_all("target", 100, "100/0 at start");
    assert_eq!(s.green.requests(), 0, "green got requests at 100/0");
    assert_eq!(
        served_weights(s.admin_port),
        Some(weights(&[("target", 100), ("target-green", 0)]))
    );

    let to_green = s.commit_route(0, 100);
    let status = s.daemon.wait_applied(&to_green);
    assert_eq!(
        status["lastOutcome"]["trigger"], "file_change",
        "{status:#}"
    );
    assert_eq!(status["lastOutcome"]["changes"], 1, "{status:#}");
    s.assert_all("target-green", 100, "after the 0/100 commit");

    let canary = s.commit_route(90, 10);
    s.daemon.wait_applied(&canary);
    let counts = s.traffic(200);
    let (blue, green) = (share(&counts, "target"), share(&counts, "target-green"));
    assert!(
        (blue - 0.9).abs() <= 0.1
            && (green - 0.1).abs() <= 0.1
            && counts.get("target").copied().unwrap_or(0)
                + counts.get("target-green").copied().unwrap_or(0)
                == 200,
        "90/10: {counts:?}"
    );
    assert!(green > 0.0, "90/10: nothing reached green: {counts:?}");

    s.shut_down();
    println!("a_commit_moves_traffic: {:?}", started.elapsed());
}

/// Scenario 2: a commit refused by policy applies nothing; the daemon says so and audits it.
#[test]
fn an_invalid_commit_applies_nothing() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    s.assert_all("target", 50, "100/0 at start");
    let rds_before = std::fs::read(s.work_dir.join("rds.yaml")).expect("rds.yaml");

    let bad = s.commit_route(-5, 100);
    let status = s.daemon.wait_for_outcome(&bad, "refused");
    assert_eq!(status["appliedCommit"], s.first.as_str(), "{status:#}");
    assert_eq!(status["ready"], false, "{status:#}");
    let message = status["lastOutcome"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(&format!("{} refused", &bad[..7])) && message.contains("policy error"),
        "the status says why: {message}"
    );
    let (code, body) = s.daemon.get("/readyz");
    assert_eq!(code, 503, "{body}");
    let readiness: Value = serde_json::from_str(&body).expect("readyz JSON");
    assert!(
        readiness["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&format!("commit {} was refused", &bad[..7]))),
        "{body}"
    );

    // Nothing reached Envoy: same files, same weights, same traffic.
    assert_eq!(
        std::fs::read(s.work_dir.join("rds.yaml")).expect("rds.yaml"),
        rds_before,
        "rds.yaml changed for a refused commit"
    );
    assert_eq!(
        served_weights(s.admin_port),
        Some(weights(&[("target", 100), ("target-green", 0)]))
    );
    s.assert_all("target", 100, "after the refused commit");
    assert_eq!(
        s.green.requests(),
        0,
        "green got requests: the refused weights reached Envoy"
    );

    // Asking again refuses again (never `unchanged` while the refused commit is desired).
    s.daemon.reconcile_now();
    s.daemon
        .wait_until("a manual reconcile of the refused commit", |d| {
            reconciles(&d.metrics(), &["trigger=\"manual\"", "result=\"refused\""]) >= 1
        });
    assert_eq!(s.daemon.get("/readyz").0, 503);

    // While the daemon runs it holds the store: `meshcd history` reads it through the daemon,
    // and reading the file directly says so.
    let server = format!("http://{}", s.daemon.addr);
    let cache = s.tmp.path().join("cache");
    let live = meshcd(
        &[
            "history", "--server", &server, "--format", "json", "--limit", "0",
        ],
        &cache,
    );
    assert_eq!(live.code, 0, "history --server failed: {}", live.stderr);
    let live_entries = live.json()["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !entries(&live_entries, "rejected", &bad).is_empty()
            && !entries(&live_entries, "apply", &s.first).is_empty(),
        "the daemon's history lists the apply and the rejection: {live_entries:#?}"
    );
    let locked = meshcd(&["history", "--state-dir", path_str(&s.state_dir)], &cache);
    assert_eq!(locked.code, 2, "{}", locked.stdout);
    assert!(
        locked.stderr.contains("--server"),
        "the error says how to read it: {}",
        locked.stderr
    );

    // After it stops, the file can be read directly.
    s.shut_down();
    let history = s.history();
    let show = || serde_json::to_string_pretty(&history).unwrap_or_default();
    assert_eq!(
        entries(&history, "apply", &s.first).len(),
        1,
        "one apply of the first commit: {}",
        show()
    );
    let rejected = entries(&history, "rejected", &bad);
    assert!(
        !rejected.is_empty(),
        "a rejected entry for {bad}: {}",
        show()
    );
    assert!(
        rejected[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("refused")),
        "{}",
        show()
    );
    assert!(
        entries(&history, "apply", &bad).is_empty(),
        "the refused commit was never applied: {}",
        show()
    );
    println!("an_invalid_commit_applies_nothing: {:?}", started.elapsed());
}

/// Scenario 3: Envoy killed with SIGKILL: the supervisor restarts it, and it serves the last
/// routes again.
#[test]
fn a_killed_envoy_gets_its_routes_back() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let to_green = s.commit_route(0, 100);
    s.daemon.wait_applied(&to_green);
    s.assert_all("target-green", 50, "after the 0/100 commit");
    let target_requests = s.target.requests();

    let pids = s.envoy_pids();
    assert_eq!(
        pids.len(),
        1,
        "one Envoy for {}: {pids:?}",
        s.work_dir.display()
    );
    let old = pids[0];
    assert!(signal(old, "-KILL"), "kill -9 {old}");

    let mut now = Vec::new();
    s.daemon
        .wait_until("Envoy restarted and LIVE on its admin port", |_| {
            now = s.envoy_pids();
            now.len() == 1 && now[0] != old && envoy_live(s.admin_port)
        });
    s.wait_all("target-green", "after the restart");
    s.assert_all("target-green", 100, "after the restart");
    assert_eq!(
        served_weights(s.admin_port),
        Some(weights(&[("target", 0), ("target-green", 100)]))
    );
    assert_eq!(
        s.target.requests(),
        target_requests,
        "the restarted Envoy sent requests to `target` (weight 0)"
    );

    // The daemon noticed, checked, and is ready with the applied commit.
    s.daemon.wait_until("a reconcile after the restart", |d| {
        reconciles(&d.metrics(), &["trigger=\"target_restarted\""]) >= 1
    });
    s.daemon
        .wait_until("a successful reconcile after the restart", |d| {
            let status = d.status();
            status["ready"] == true
                && status["appliedCommit"] == to_green.as_str()
                && status["lastOutcome"]["commit"] == to_green.as_str()
                && status["lastOutcome"]["action"] == "unchanged"
                && status["lastError"].is_null()
        });
    let metrics = s.daemon.metrics();
    let failed = reconciles(
        &metrics,
        &["trigger=\"target_restarted\"", "result=\"error\""],
    );
    if failed > 0 {
        let log = s
            .daemon
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("restart") || l.contains("reconcile failed"))
            .collect();
        panic!(
            "BUG: the reconcile triggered by the Envoy restart failed ({failed}x), which made the \
             daemon unready and counted an error until the retry: EnvoyReconciler::attach sends \
             Trigger::TargetRestarted as soon as the restart count changes, before the new Envoy \
             answers on its admin port, and the reconcile does not wait for it \
             (EnvoyTarget::wait_ready exists for this). Expected: the restart reconcile waits \
             for Envoy and ends `unchanged`.\nlog:\n{}\n{metrics}",
            lines.join("\n")
        );
    }

    s.shut_down();
    println!(
        "a_killed_envoy_gets_its_routes_back: {:?}",
        started.elapsed()
    );
}

/// Scenario 4: drift made behind meshcd's back shows in `plan --target envoy` and is
/// reported by the daemon, not corrected (`selfHeal: false`).
#[test]
fn drift_is_detected_and_left_alone() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    s.assert_all("target", 50, "100/0 at start");

    // Rewrite the served routes to 30/70: a new file renamed into the watched folder.
    let rds = s.work_dir.join("rds.yaml");
    let mut file: Value =
        serde_json::from_slice(&std::fs::read(&rds).expect("rds.yaml")).expect("rds.yaml JSON");
    let mut edited = 0;
    for resource in file["resources"].as_array_mut().expect("resources") {
        for vhost in resource["virtual_hosts"].as_array_mut().expect("vhosts") {
            if !serves_host(vhost) {
                continue;
            }
            for route in vhost["routes"].as_array_mut().expect("routes") {
                let clusters = route
                    .pointer_mut("/route/weighted_clusters/clusters")
                    .and_then(Value::as_array_mut)
                    .expect("weighted clusters");
                for cluster in clusters {
                    let weight = match cluster["name"].as_str() {
                        Some("target") => 30,
                        Some("target-green") => 70,
                        other => panic!("unexpected cluster {other:?} in {}", rds.display()),
                    };
                    cluster["weight"] = json!(weight);
                    edited += 1;
                }
            }
        }
    }
    assert_eq!(edited, 2, "two weights edited in {file:#}");
    file["version_info"] = json!("edited-by-hand");
    let tmp = s.work_dir.join(".rds.yaml.by-hand");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file).unwrap()).expect("write");
    std::fs::rename(&tmp, &rds).expect("rename into the watched folder");
    let drifted = weights(&[("target", 30), ("target-green", 70)]);
    s.daemon
        .wait_until("Envoy serving the hand-made 30/70", |_| {
            served_weights(s.admin_port).as_ref() == Some(&drifted)
        });
    let counts = s.traffic(200);
    assert!(
        (share(&counts, "target-green") - 0.7).abs() <= 0.1,
        "30/70 by hand: {counts:?}"
    );

    // `plan --target envoy` reads Envoy, not the store: it shows the way back to 100/0.
    let plan = s.plan_against_envoy();
    let changes = plan["changes"].as_array().expect("changes");
    let change = changes
        .iter()
        .find(|c| c["name"] == "target-route")
        .unwrap_or_else(|| panic!("no change of target-route in {plan:#}"));
    assert_eq!(changes.len(), 1, "only the route drifted: {plan:#}");
    assert_eq!(change["action"], "update", "{change:#}");
    let rollout = &change["rollout"];
    assert_eq!(
        rollout["from"],
        json!({"target": 30, "target-green": 70}),
        "the rollout starts from the drifted weights: {change:#}"
    );
    assert_eq!(
        rollout["steps"].as_array().and_then(|s| s.last()),
        Some(&json!({"target": 100, "target-green": 0})),
        "and ends at the committed ones: {change:#}"
    );

    // The daemon reports it on the next reconcile, and leaves it.
    s.daemon.reconcile_now();
    s.daemon.wait_until("drift_detected", |d| {
        reconciles(
            &d.metrics(),
            &["trigger=\"manual\"", "result=\"drift_detected\""],
        ) >= 1
    });
    let status = s.daemon.status();
    let outcome = &status["lastOutcome"];
    assert_eq!(outcome["action"], "drift_detected", "{status:#}");
    assert_eq!(outcome["drift"], true, "{status:#}");
    assert_eq!(outcome["commit"], s.first.as_str(), "{status:#}");
    assert!(
        outcome["message"]
            .as_str()
            .is_some_and(|m| m.contains("selfHeal is off")),
        "{status:#}"
    );
    assert_eq!(status["appliedCommit"], s.first.as_str(), "{status:#}");
    assert_eq!(
        s.daemon.get("/readyz").0,
        200,
        "reported drift is still ready"
    );
    let metrics = s.daemon.metrics();
    assert!(
        metrics.lines().any(|l| l == "meshcd_drift 1"),
        "meshcd_drift 1 expected:\n{metrics}"
    );
    assert_eq!(
        served_weights(s.admin_port).as_ref(),
        Some(&drifted),
        "selfHeal is off: the drift must stay"
    );
    let counts = s.traffic(100);
    assert!(
        (share(&counts, "target-green") - 0.7).abs() <= 0.15,
        "still 30/70 after the reconcile: {counts:?}"
    );

    s.shut_down();
    let history = s.history();
    assert!(
        !entries(&history, "drift-detected", &s.first).is_empty(),
        "the drift is in the audit log: {history:#?}"
    );
    assert!(
        entries(&history, "drift-corrected", &s.first).is_empty(),
        "nothing was corrected: {history:#?}"
    );
    println!("drift_is_detected_and_left_alone: {:?}", started.elapsed());
}

/// Scenario 5: reconciling an unchanged commit does nothing: no publish, no apply.
#[test]
fn an_unchanged_commit_is_skipped() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    let rds = s.work_dir.join("rds.yaml");
    let rds_before = std::fs::read(&rds).expect("rds.yaml");
    let before = s.daemon.metrics();
    let applied = reconciles(&before, &["result=\"applied\""]);
    let unchanged = reconciles(&before, &["trigger=\"manual\"", "result=\"unchanged\""]);
    assert_eq!(applied, 1, "{before}");
    assert_eq!(unchanged, 0, "{before}");

    for round in 1..=2u64 {
        s.daemon.reconcile_now();
        s.daemon
            .wait_until(&format!("unchanged reconcile #{round}"), |d| {
                reconciles(
                    &d.metrics(),
                    &["trigger=\"manual\"", "result=\"unchanged\""],
                ) >= unchanged + round
            });
    }
    let after = s.daemon.metrics();
    assert_eq!(
        reconciles(&after, &["trigger=\"manual\"", "result=\"unchanged\""]),
        unchanged + 2,
        "{after}"
    );
    assert_eq!(
        reconciles(&after, &["result=\"applied\""]),
        applied,
        "no new apply:\n{after}"
    );
    let status = s.daemon.status();
    assert_eq!(status["appliedCommit"], s.first.as_str(), "{status:#}");
    assert_eq!(status["lastOutcome"]["action"], "unchanged", "{status:#}");
    assert_eq!(
        std::fs::read(&rds).expect("rds.yaml"),
        rds_before,
        "nothing was published to Envoy"
    );
    s.assert_all("target", 50, "after the unchanged reconciles");

    s.shut_down();
    let history = s.history();
    assert_eq!(
        history.iter().filter(|e| e["action"] == "apply").count(),
        1,
        "one apply in the audit log: {history:#?}"
    );
    println!("an_unchanged_commit_is_skipped: {:?}", started.elapsed());
}

/// Scenario 6: SIGTERM stops the daemon (exit 0) and its Envoy.
#[test]
fn sigterm_stops_the_daemon_and_its_envoy() {
    let _serial = serial();
    let started = Instant::now();
    let mut s = Setup::start(100, 0);
    s.assert_all("target", 20, "100/0 at start");
    let pids = s.envoy_pids();
    assert_eq!(pids.len(), 1, "one Envoy: {pids:?}");
    assert!(envoy_live(s.admin_port));

    let stopping = Instant::now();
    s.shut_down();
    println!("stopped in {:?}", stopping.elapsed());
    for (what, addr) in [
        ("meshcd's HTTP port", s.daemon.addr),
        ("Envoy's admin port", loopback(s.admin_port)),
        ("Envoy's listener", loopback(s.http_port)),
    ] {
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err(),
            "{what} ({addr}) still accepts connections"
        );
    }
    assert!(
        !Path::new(&format!("/proc/{}", pids[0])).exists(),
        "Envoy {} is gone",
        pids[0]
    );
    println!(
        "sigterm_stops_the_daemon_and_its_envoy: {:?}",
        started.elapsed()
    );
}
