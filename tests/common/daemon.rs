//! `meshcd run` with a real, managed Envoy, for end-to-end tests: the real binary follows a real
//! Git repository (watched `.git`, no polling), starts its own Envoy on free loopback ports, and
//! routes `target.meshapps.internal` between two loopback backends (`target`, `target-green`).
//!
//! - [`Daemon`]: a running `meshcd run` (start, status, metrics, rollouts and gates, bounded
//!   waits, SIGTERM, `kill -9`); stopped on drop together with any process naming its Envoy
//!   folder.
//! - [`Setup`]: two backends, a repository whose first commit holds the route, the backends and
//!   a RolloutPolicy, a `meshcd.yaml`, and a daemon that applied the first commit.
//! - Traffic: [`traffic`] (n requests, one after the other), [`Load`] (a fixed request rate from
//!   worker threads, counted per backend, until stopped or its deadline), [`served_weights`]
//!   (what Envoy serves, from its admin `/config_dump`).
//!
//! Waits are bounded polls (every [`TICK`], at most [`WAIT`] unless told); a timeout fails with
//! the last status and the daemon's log. Envoy comes from `MESHCD_ENVOY`, a `.venv` under the
//! repository root (`scripts/test.sh` makes one), or wherever `meshcd` itself finds one;
//! without it these tests fail, never skip.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use meshcd::envoy::process::free_port;
use meshcd::envoy::{find_envoy, install_hint};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::backend::Backend;
use super::{meshcd, project_root, TestRepo};

/// Longest any wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);
/// How often waits poll.
pub const TICK: Duration = Duration::from_millis(50);
/// The host the route serves.
pub const HOST: &str = "target.meshapps.internal";
/// Backend services, as the route names them.
pub const TARGET: &str = "projects/p/locations/global/backendServices/target";
pub const GREEN: &str = "projects/p/locations/global/backendServices/target-green";

/// Scenarios run one at a time: each starts an Envoy, and the machine has two cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Envoy binary: `MESHCD_ENVOY`, `.venv/lib/python3*/site-packages/envoy/_bin/envoy` under
/// the repository root, or meshcd's own lookup (`PATH`, meshcd's home). Fails without one.
pub fn envoy_binary() -> PathBuf {
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
pub const ONE_STEP_POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: one-step}
spec:
  selector: {routes: [target-route]}
  steps: [100]
  bakeTime: 0s
  analysis: {provider: none}
";

/// The route: `target` / `target-green` by weight (relative, networkservices style).
pub fn route(target: i64, green: i64) -> String {
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
pub fn backends(target_port: u16, green_port: u16) -> String {
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
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    try_http_body(addr, method, path, host, "", timeout)
}

/// [`try_http`] with a JSON request body (none when `body` is empty).
pub fn try_http_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    host: &str,
    body: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{content_type}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
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

/// The body of a chunked HTTP/1.1 answer, its chunks joined.
pub fn dechunk(mut body: &str) -> String {
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

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sends `n` requests for [`HOST`] to Envoy's listener; counts the answers by body (`<status>`
/// for non-200 answers, `error: ...` when there was none).
pub fn traffic(port: u16, n: usize) -> BTreeMap<String, usize> {
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

pub fn share(counts: &BTreeMap<String, usize>, name: &str) -> f64 {
    let total: usize = counts.values().sum();
    counts.get(name).copied().unwrap_or(0) as f64 / total.max(1) as f64
}

/// Envoy's admin `/ready` answers `LIVE`.
pub fn envoy_live(admin_port: u16) -> bool {
    matches!(
        try_http(loopback(admin_port), "GET", "/ready", "localhost", Duration::from_secs(1)),
        Ok((200, body)) if body.trim() == "LIVE"
    )
}

/// The weights Envoy serves for [`HOST`] (cluster name → weight), read from `/config_dump`.
pub fn served_weights(admin_port: u16) -> Option<BTreeMap<String, u64>> {
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

pub fn serves_host(vhost: &Value) -> bool {
    vhost["domains"]
        .as_array()
        .is_some_and(|domains| domains.iter().any(|d| d == HOST))
}

pub fn weights_of_vhost(vhost: &Value) -> Option<BTreeMap<String, u64>> {
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

pub fn weights(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Sum of `meshcd_reconcile_total` samples whose labels contain every one of `labels`.
pub fn reconciles(metrics: &str, labels: &[&str]) -> u64 {
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
pub fn pgrep(pattern: &str) -> Vec<u32> {
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

pub fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The command line of a process (for messages).
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_else(|_| "?".into())
}

/// A running `meshcd run`. Dropping it stops it (SIGTERM, then SIGKILL) and kills by pid any
/// process still naming its Envoy folder (an Envoy orphaned by a SIGKILLed daemon).
pub struct Daemon {
    child: Mutex<Child>,
    exited: Option<ExitStatus>,
    /// Its HTTP API (`server.listen`).
    pub addr: SocketAddr,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
    work_dir: PathBuf,
    /// [`Daemon::stop`] ran to its end: dropping it does nothing more.
    stopped: bool,
}

impl Daemon {
    pub fn start(config: &Path, work_dir: &Path) -> Self {
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
            stopped: false,
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

    pub fn log_tail(&self) -> String {
        let log = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    pub fn request(&self, method: &str, path: &str) -> Result<(u16, String), String> {
        try_http(
            self.addr,
            method,
            path,
            "localhost",
            Duration::from_secs(10),
        )
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path)
            .unwrap_or_else(|e| self.fail(&format!("GET {path} failed: {e}")))
    }

    pub fn status(&self) -> Value {
        let (code, body) = self.get("/api/v1/status");
        if code != 200 {
            self.fail(&format!("/api/v1/status answered {code}: {body}"));
        }
        serde_json::from_str(&body).unwrap_or_else(|e| self.fail(&format!("status: {e}: {body}")))
    }

    pub fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics");
        if code != 200 {
            self.fail(&format!("/metrics answered {code}"));
        }
        body
    }

    pub fn reconcile_now(&self) {
        let (code, body) = self
            .request("POST", "/api/v1/reconcile")
            .unwrap_or_else(|e| self.fail(&format!("POST /api/v1/reconcile failed: {e}")));
        if code != 202 {
            self.fail(&format!("POST /api/v1/reconcile answered {code}: {body}"));
        }
    }

    /// Fails the test with `message`, the last status and the daemon's log.
    pub fn fail(&self, message: &str) -> ! {
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

    pub fn exited_early(&self) -> Option<ExitStatus> {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_wait()
            .ok()
            .flatten()
    }

    /// Polls `check` every [`TICK`] until it holds; fails after [`WAIT`] or if the daemon exits.
    pub fn wait_until(&self, what: &str, check: impl FnMut(&Self) -> bool) {
        self.wait_until_for(what, WAIT, check);
    }

    /// Polls `check` every [`TICK`] until it holds; fails after `timeout` or if the daemon
    /// exits.
    pub fn wait_until_for(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> bool,
    ) {
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
            if start.elapsed() >= timeout {
                self.fail(&format!("timed out after {timeout:?} waiting for {what}"));
            }
            std::thread::sleep(TICK);
        }
    }

    /// Waits until the daemon's last finished reconcile is for `commit` with `action`.
    pub fn wait_for_outcome(&self, commit: &str, action: &str) -> Value {
        let mut last = Value::Null;
        self.wait_until(&format!("{action} of {}", &commit[..7]), |d| {
            last = d.status();
            last["lastOutcome"]["commit"] == commit && last["lastOutcome"]["action"] == action
        });
        last
    }

    /// Waits until `commit` is applied (outcome `applied`, appliedCommit, ready).
    pub fn wait_applied(&self, commit: &str) -> Value {
        let status = self.wait_for_outcome(commit, "applied");
        if status["appliedCommit"] != commit || status["ready"] != true {
            self.fail(&format!("{commit} applied, but the status disagrees"));
        }
        status
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
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

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).id()
    }

    /// `kill -9` of the daemon alone (its Envoy is left running, orphaned), then waits
    /// (bounded) for the exit.
    pub fn kill9(&mut self) -> ExitStatus {
        let pid = self.pid();
        assert!(signal(pid, "-KILL"), "kill -KILL {pid} failed");
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(status) = self.exited_early() {
                self.exited = Some(status);
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("meshcd {pid} still runs {WAIT:?} after SIGKILL");
    }

    /// `GET /api/v1/rollouts`: every rollout the daemon holds.
    pub fn rollouts(&self) -> Vec<Value> {
        let (code, body) = self.get("/api/v1/rollouts");
        if code != 200 {
            self.fail(&format!("/api/v1/rollouts answered {code}: {body}"));
        }
        let list: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| self.fail(&format!("/api/v1/rollouts: {e}: {body}")));
        list["rollouts"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| self.fail(&format!("no `rollouts` list in {body}")))
    }

    /// The rollout of the route named `name` (its full name, or one ending with `/name`).
    pub fn rollout(&self, name: &str) -> Option<Value> {
        let suffix = format!("/{name}");
        self.rollouts().into_iter().find(|r| {
            r["route"]
                .as_str()
                .is_some_and(|route| route == name || route.ends_with(&suffix))
        })
    }

    /// `POST /api/v1/rollouts/{gate}` with `{"route": route}`: the status and the JSON answer.
    pub fn gate(&self, gate: &str, route: &str) -> (u16, Value) {
        let path = format!("/api/v1/rollouts/{gate}");
        let body = json!({ "route": route }).to_string();
        let (code, answer) = try_http_body(
            self.addr,
            "POST",
            &path,
            "localhost",
            &body,
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| self.fail(&format!("POST {path} failed: {e}")));
        let answer = serde_json::from_str(&answer).unwrap_or_else(|e| {
            self.fail(&format!(
                "POST {path} answered {code}, not JSON ({e}): {answer}"
            ))
        });
        (code, answer)
    }

    /// Every line of the daemon's log so far that contains `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        let log = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        log.lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Stops the daemon whatever state it is in, then any process left naming its Envoy folder.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
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
                "meshcd tests: killing stray process {pid} ({})",
                cmdline(pid)
            );
            signal(pid, "-KILL");
        }
        self.stopped = true;
    }
}

impl Daemon {
    /// After the daemon process is gone (e.g. [`Daemon::kill9`]): reaps it and forgets it,
    /// leaving every other process (its orphaned Envoy) running.
    pub fn forget(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.wait();
        drop(child);
        self.stopped = true;
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
pub struct Setup {
    pub daemon: Daemon,
    /// The stable backend (`target`).
    pub target: Backend,
    /// The other backend (`target-green`), the canary of the rollout scenarios.
    pub green: Backend,
    pub repo: TestRepo,
    /// The first commit.
    pub first: String,
    /// `meshcd.yaml`.
    pub config: PathBuf,
    pub state_dir: PathBuf,
    /// The managed Envoy's folder.
    pub work_dir: PathBuf,
    pub admin_port: u16,
    /// Envoy's listener.
    pub http_port: u16,
    pub tmp: TempDir,
}

impl Setup {
    /// Starts everything with the route at `target`/`green` and [`ONE_STEP_POLICY`] (weight
    /// moves in one time-based step), and waits until it is applied.
    pub fn start(target_weight: i64, green_weight: i64) -> Self {
        Self::start_with(target_weight, green_weight, ONE_STEP_POLICY, "")
    }

    /// Starts everything with the route at `target`/`green`, `policy` as
    /// `meshcd/rollout-policy.yaml` in the first commit and `extra_config` appended to
    /// `meshcd.yaml` (top-level keys), and waits until the first commit is applied.
    pub fn start_with(
        target_weight: i64,
        green_weight: i64,
        policy: &str,
        extra_config: &str,
    ) -> Self {
        Self::start_with_envoy(target_weight, green_weight, policy, extra_config, "")
    }

    /// [`Setup::start_with`], with `envoy_config` appended under `target.envoy` (keys indented
    /// by four).
    pub fn start_with_envoy(
        target_weight: i64,
        green_weight: i64,
        policy: &str,
        extra_config: &str,
        envoy_config: &str,
    ) -> Self {
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
        repo.write("meshcd/rollout-policy.yaml", policy);
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
{envoy_config}{extra_config}",
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
    pub fn commit_route(&self, target: i64, green: i64) -> String {
        self.repo
            .write("routes/target-route.yaml", &route(target, green));
        self.repo
            .commit(&format!("target {target} / green {green}"))
    }

    pub fn traffic(&self, n: usize) -> BTreeMap<String, usize> {
        traffic(self.http_port, n)
    }

    /// Asserts that all of `n` requests reach `backend`.
    pub fn assert_all(&self, backend: &str, n: usize, when: &str) {
        let counts = self.traffic(n);
        if counts.get(backend) != Some(&n) {
            self.daemon.fail(&format!(
                "{when}: expected all {n} requests to reach `{backend}`, got {counts:?}"
            ));
        }
    }

    /// Waits until 20 requests in a row all reach `backend`.
    pub fn wait_all(&self, backend: &str, when: &str) {
        let mut counts = BTreeMap::new();
        self.daemon
            .wait_until(&format!("{when}: all traffic on `{backend}`"), |_| {
                counts = self.traffic(20);
                counts.get(backend) == Some(&20)
            });
    }

    pub fn envoy_pids(&self) -> Vec<u32> {
        pgrep(&self.work_dir.join("bootstrap.yaml").display().to_string())
    }

    pub fn plan_against_envoy(&self) -> Value {
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
    pub fn shut_down(&mut self) {
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
    pub fn history(&self) -> Vec<Value> {
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

    /// Commits `policy` as `meshcd/rollout-policy.yaml` together with the route at
    /// `target`/`green`, and returns the commit.
    pub fn commit_route_and_policy(&self, target: i64, green: i64, policy: &str) -> String {
        self.repo
            .write("routes/target-route.yaml", &route(target, green))
            .write("meshcd/rollout-policy.yaml", policy);
        self.repo.commit(&format!(
            "target {target} / green {green}, with a new rollout policy"
        ))
    }

    /// Starts a new daemon on the same `meshcd.yaml` (same state folder, Envoy folder and
    /// ports) once the current one is gone: a daemon still running is stopped first, and
    /// every process left naming the Envoy folder (an Envoy orphaned by `kill -9`) is killed,
    /// as systemd's `KillMode` does before a restart.
    pub fn restart_daemon(&mut self) {
        self.daemon.stop();
        let daemon = Daemon::start(&self.config, &self.work_dir);
        // The old one is stopped: dropping it does not touch the new one's Envoy.
        drop(std::mem::replace(&mut self.daemon, daemon));
    }

    /// Starts a new daemon on the same `meshcd.yaml` after a `kill -9`, leaving the orphaned
    /// Envoy running: the new daemon must deal with it itself.
    pub fn restart_daemon_over_orphans(&mut self) {
        self.daemon.forget();
        let daemon = Daemon::start(&self.config, &self.work_dir);
        drop(std::mem::replace(&mut self.daemon, daemon));
    }

    /// Process ids of every process naming the Envoy folder.
    pub fn envoy_folder_pids(&self) -> Vec<u32> {
        pgrep(&self.work_dir.display().to_string())
    }

    /// Starts a [`Load`] of `rate` requests a second through Envoy's listener.
    pub fn load(&self, rate: f64) -> Load {
        Load::start(self.http_port, rate, LOAD_WORKERS, LOAD_DEADLINE)
    }
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// The audit entries with `action` for `commit`.
pub fn entries<'e>(history: &'e [Value], action: &str, commit: &str) -> Vec<&'e Value> {
    history
        .iter()
        .filter(|e| e["action"] == action && e["commit"] == commit)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A bounded load generator.

/// Worker threads of a [`Setup::load`]: enough to keep the rate while a slow canary holds
/// some of them for a few hundred milliseconds.
pub const LOAD_WORKERS: usize = 16;
/// The longest any [`Setup::load`] runs, even when nobody stops it.
pub const LOAD_DEADLINE: Duration = Duration::from_secs(120);
/// How long one request of a [`Load`] may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers a [`Load`] got from one backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answers {
    /// 2xx answers.
    pub ok: u64,
    /// Other statuses.
    pub failed: u64,
    /// When the first and the last answer ended (over the whole load, also in a window).
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// What a [`Load`] counted.
#[derive(Debug, Clone, Default)]
pub struct LoadCounts {
    /// Answers by backend (a backend answers with its name as the body).
    pub backends: BTreeMap<String, Answers>,
    /// Requests that got no answer, or one from Envoy itself (`no healthy upstream`, ...).
    pub other: u64,
    /// When the first and the last failed request (non-2xx, or no answer) ended.
    pub first_failure: Option<Instant>,
    pub last_failure: Option<Instant>,
}

impl LoadCounts {
    /// Requests that ended, whatever the outcome.
    pub fn total(&self) -> u64 {
        self.backends.values().map(|a| a.ok + a.failed).sum::<u64>() + self.other
    }

    /// Requests a backend answered, whatever the status.
    pub fn reached(&self, backend: &str) -> u64 {
        self.backends.get(backend).map_or(0, |a| a.ok + a.failed)
    }

    /// Failed requests as the client saw them: non-2xx answers and requests with no answer.
    pub fn failed(&self) -> u64 {
        self.backends.values().map(|a| a.failed).sum::<u64>() + self.other
    }

    /// The counts of the requests that ended after `earlier` was taken (a window).
    pub fn since(&self, earlier: &LoadCounts) -> LoadCounts {
        let backends = self
            .backends
            .iter()
            .map(|(name, now)| {
                let then = earlier.backends.get(name).copied().unwrap_or_default();
                (
                    name.clone(),
                    Answers {
                        ok: now.ok - then.ok,
                        failed: now.failed - then.failed,
                        ..*now
                    },
                )
            })
            .collect();
        LoadCounts {
            backends,
            other: self.other - earlier.other,
            first_failure: self.first_failure,
            last_failure: self.last_failure,
        }
    }

    /// The share of the requests of this window that `backend` answered (0 without requests).
    pub fn share(&self, backend: &str) -> f64 {
        self.reached(backend) as f64 / self.total().max(1) as f64
    }
}

/// A fixed rate of `GET /` requests for [`HOST`] through Envoy's listener, sent by worker
/// threads on a schedule (request `i` leaves at `start + i / rate`; a late worker catches up),
/// one connection per request. It stops when told ([`Load::stop`]), when dropped, or at its
/// deadline.
pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<LoadCounts>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    started: Instant,
    rate: f64,
}

impl Load {
    /// Starts `workers` threads sending `rate` requests a second to `127.0.0.1:port`, for at
    /// most `deadline`.
    pub fn start(port: u16, rate: f64, workers: usize, deadline: Duration) -> Load {
        assert!(rate > 0.0 && workers > 0);
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Mutex::new(LoadCounts::default()));
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let end = started + deadline;
        let threads = (0..workers)
            .map(|n| {
                let (stop, counts, next) = (stop.clone(), counts.clone(), next.clone());
                std::thread::Builder::new()
                    .name(format!("load-{n}"))
                    .spawn(move || loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let at = started + Duration::from_secs_f64(i as f64 / rate);
                        if at >= end {
                            return;
                        }
                        // Sleep until the slot, in short naps that notice `stop`.
                        loop {
                            if stop.load(Ordering::SeqCst) {
                                return;
                            }
                            let now = Instant::now();
                            if now >= at {
                                break;
                            }
                            std::thread::sleep((at - now).min(Duration::from_millis(20)));
                        }
                        let answer = try_http(loopback(port), "GET", "/", HOST, LOAD_TIMEOUT);
                        let ended = Instant::now();
                        let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
                        let failed = match answer {
                            Ok((code, body)) if is_backend_name(&body) => {
                                let answers = counts.backends.entry(body).or_default();
                                answers.first.get_or_insert(ended);
                                answers.last = Some(ended);
                                if (200..300).contains(&code) {
                                    answers.ok += 1;
                                    false
                                } else {
                                    answers.failed += 1;
                                    true
                                }
                            }
                            _ => {
                                counts.other += 1;
                                true
                            }
                        };
                        if failed {
                            counts.first_failure.get_or_insert(ended);
                            counts.last_failure = Some(ended);
                        }
                    })
                    .expect("spawn a load thread")
            })
            .collect();
        Load {
            stop,
            counts,
            threads: Mutex::new(threads),
            started,
            rate,
        }
    }

    /// What was counted so far.
    pub fn counts(&self) -> LoadCounts {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The rate asked for, requests a second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// When it started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Waits (bounded by [`WAIT`]) until `n` more requests ended than in `since`.
    pub fn wait_for_more(&self, since: &LoadCounts, n: u64) -> LoadCounts {
        let start = Instant::now();
        loop {
            let now = self.counts();
            if now.total() >= since.total() + n {
                return now;
            }
            assert!(
                start.elapsed() < WAIT,
                "the load generator ended fewer than {n} requests in {WAIT:?}: {now:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the workers (each ends its request in flight, bounded by its timeout) and
    /// returns the final counts.
    pub fn stop(&self) -> LoadCounts {
        self.stop.store(true, Ordering::SeqCst);
        let threads: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for thread in threads {
            let _ = thread.join();
        }
        self.counts()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A backend's answer is its name: one short word.
fn is_backend_name(body: &str) -> bool {
    !body.is_empty()
        && body.len() <= 64
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
