//! Running Envoy: start it from a dedicated long-lived thread, capture its log, wait until it is
//! ready, supervise (restart on exit), stop it; or attach to an Envoy someone else runs.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::admin::AdminClient;
use super::files;
use super::EnvoyError;

/// How many of Envoy's log lines [`LogBuffer`] keeps.
pub const LOG_LINES: usize = 200;
/// How long [`EnvoyProcess::stop`] waits after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the supervisor checks whether Envoy is still running.
const POLL: Duration = Duration::from_millis(20);
/// A run at least this long resets the restart back-off.
const HEALTHY_RUN: Duration = Duration::from_secs(10);
/// The longest pause between two restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How to start a local Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// The Envoy binary (see [`super::find_envoy`]).
    pub binary: PathBuf,
    /// The configuration folder: `bootstrap.yaml` and the watched resource files.
    pub config_dir: PathBuf,
    /// The admin port on 127.0.0.1; 0 picks a free one.
    pub admin_port: u16,
    /// Envoy's `--log-level`.
    pub log_level: String,
    /// Restart Envoy when it exits.
    pub supervise: bool,
    /// How long to wait for `/ready` to say `LIVE`.
    pub ready_timeout: Duration,
    /// Envoy's `--concurrency` (worker threads); `None` keeps Envoy's default (one per core).
    pub concurrency: Option<u32>,
    /// More command-line arguments.
    pub extra_args: Vec<String>,
}

impl EnvoyOptions {
    /// Defaults: log level `info`, supervised, 10 s to get ready.
    pub fn new(
        binary: impl Into<PathBuf>,
        config_dir: impl Into<PathBuf>,
        admin_port: u16,
    ) -> Self {
        Self {
            binary: binary.into(),
            config_dir: config_dir.into(),
            admin_port,
            log_level: "info".to_string(),
            supervise: true,
            ready_timeout: Duration::from_secs(10),
            concurrency: None,
            extra_args: Vec::new(),
        }
    }
}

/// The last [`LOG_LINES`] lines of Envoy's log (its stderr), shared between the reader threads and
/// whoever reports errors.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    inner: Arc<Mutex<Ring>>,
}

#[derive(Debug)]
struct Ring {
    lines: VecDeque<String>,
    capacity: usize,
    /// Lines ever pushed; the number of the next line.
    total: u64,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(LOG_LINES)
    }
}

impl LogBuffer {
    /// An empty buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Ring {
                lines: VecDeque::with_capacity(capacity.min(1024)),
                capacity: capacity.max(1),
                total: 0,
            })),
        }
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a line, dropping the oldest if full.
    pub fn push(&self, line: String) {
        let mut ring = self.ring();
        if ring.lines.len() == ring.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line);
        ring.total += 1;
    }

    /// Every line kept, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.ring().lines.iter().cloned().collect()
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let ring = self.ring();
        ring.lines
            .iter()
            .skip(ring.lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// A position: [`Self::since`] returns the lines pushed after it.
    pub fn mark(&self) -> u64 {
        self.ring().total
    }

    /// The lines pushed after `mark` that are still kept.
    pub fn since(&self, mark: u64) -> Vec<String> {
        let ring = self.ring();
        let new = ring.total.saturating_sub(mark);
        let kept = ring.lines.len();
        let skip = kept.saturating_sub(usize::try_from(new).unwrap_or(usize::MAX));
        ring.lines.iter().skip(skip).cloned().collect()
    }
}

#[derive(Debug, Default)]
struct Shared {
    /// The running Envoy's pid, 0 if none.
    pid: AtomicU32,
    /// Restarts done by the supervisor.
    restarts: AtomicU64,
    /// Exits seen.
    exits: AtomicU64,
    /// The last exit status.
    last_exit: Mutex<Option<String>>,
}

impl Shared {
    fn last_exit(&self) -> Option<String> {
        self.last_exit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[derive(Debug)]
struct Managed {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    supervise: bool,
}

/// A local Envoy meshcd started (and supervises), or one it attached to.
///
/// Dropping it stops a started Envoy (SIGTERM, then SIGKILL after [`STOP_GRACE`]).
#[derive(Debug)]
pub struct EnvoyProcess {
    admin: AdminClient,
    logs: LogBuffer,
    config_dir: Option<PathBuf>,
    managed: Option<Managed>,
}

impl EnvoyProcess {
    /// Writes `bootstrap.yaml` into the configuration folder, starts Envoy with
    /// `-c bootstrap.yaml --disable-hot-restart --base-id <admin port>` from a dedicated thread
    /// that lives as long as this value (Envoy may die with the thread that spawned it), and waits
    /// until `/ready` says `LIVE`.
    pub async fn start(options: EnvoyOptions) -> Result<Self, EnvoyError> {
        let mut options = options;
        if options.admin_port == 0 {
            options.admin_port = free_port()?;
        }
        let bootstrap = files::write_bootstrap(&options.config_dir, options.admin_port)?;
        let config_dir = files::absolute_dir(&options.config_dir)?;
        stop_leftovers(&bootstrap);
        let spec = CommandSpec::new(&options, &bootstrap);
        let admin = AdminClient::loopback(options.admin_port)?;
        let logs = LogBuffer::default();
        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = std::sync::mpsc::channel();
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let thread = {
            let (logs, shared, supervise) = (logs.clone(), shared.clone(), options.supervise);
            std::thread::Builder::new()
                .name(format!("envoy-{}", options.admin_port))
                .spawn(move || supervisor(spec, logs, shared, stop_rx, first_tx, supervise))
                .map_err(|e| EnvoyError::Spawn {
                    binary: options.binary.clone(),
                    message: format!("cannot start the supervisor thread: {e}"),
                })?
        };
        let mut process = Self {
            admin,
            logs,
            config_dir: Some(config_dir),
            managed: Some(Managed {
                stop: Some(stop_tx),
                thread: Some(thread),
                shared,
                supervise: options.supervise,
            }),
        };
        let first = first_rx.await.unwrap_or_else(|_| {
            Err("the supervisor thread ended before starting Envoy".to_string())
        });
        if let Err(message) = first {
            process.stop();
            return Err(EnvoyError::Spawn {
                binary: options.binary,
                message,
            });
        }
        if let Err(e) = process.wait_ready_inner(options.ready_timeout, true).await {
            process.stop();
            return Err(e);
        }
        tracing::info!(admin = process.admin.base_url(), pid = ?process.pid(), "Envoy is ready");
        Ok(process)
    }

    /// Attaches to an Envoy someone else runs (no process management: [`Self::stop`] does
    /// nothing, [`Self::restarts`] is 0, the log is empty). Fails if its admin interface does not
    /// answer.
    pub async fn attach(admin_url: &str) -> Result<Self, EnvoyError> {
        let admin = AdminClient::new(admin_url)?;
        let info = admin.server_info().await?;
        let config_dir = Path::new(&info.config_path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        Ok(Self {
            admin,
            logs: LogBuffer::default(),
            config_dir,
            managed: None,
        })
    }

    /// Waits until `/ready` says `LIVE`. A supervised Envoy that exited meanwhile is waited for
    /// (the supervisor restarts it); an unsupervised one that exited fails at once.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), EnvoyError> {
        self.wait_ready_inner(timeout, false).await
    }

    async fn wait_ready_inner(&self, timeout: Duration, starting: bool) -> Result<(), EnvoyError> {
        let started = Instant::now();
        let exits_before = self
            .managed
            .as_ref()
            .map_or(0, |m| m.shared.exits.load(Ordering::SeqCst));
        loop {
            if let Some(managed) = &self.managed {
                let exits = managed.shared.exits.load(Ordering::SeqCst);
                let gone = managed.shared.pid.load(Ordering::SeqCst) == 0;
                if (starting && exits > exits_before) || (!managed.supervise && gone) {
                    return Err(self.not_ready(
                        started.elapsed(),
                        format!(
                            "Envoy exited ({})",
                            managed
                                .shared
                                .last_exit()
                                .unwrap_or_else(|| "unknown status".into())
                        ),
                    ));
                }
            }
            let last = match self.admin.ready().await {
                Ok(state) if state == "LIVE" => return Ok(()),
                Ok(state) => format!("state {state}"),
                Err(e) => crate::errors::report(&e),
            };
            if started.elapsed() >= timeout {
                return Err(self.not_ready(started.elapsed(), last));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn not_ready(&self, waited: Duration, why: String) -> EnvoyError {
        EnvoyError::NotReady {
            admin_url: self.admin.base_url().to_string(),
            waited,
            why,
            logs: important_lines(&self.logs.tail(LOG_LINES), 12).join("\n"),
        }
    }

    /// The admin client.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// The admin base URL, such as `http://127.0.0.1:9901`.
    pub fn admin_url(&self) -> &str {
        self.admin.base_url()
    }

    /// Envoy's log (empty when attached).
    pub fn logs(&self) -> LogBuffer {
        self.logs.clone()
    }

    /// The configuration folder (when attached: the folder of the bootstrap Envoy reports).
    pub fn config_dir(&self) -> Option<&Path> {
        self.config_dir.as_deref()
    }

    /// The running Envoy's pid; `None` when attached, stopped, or between a crash and its restart.
    pub fn pid(&self) -> Option<u32> {
        let pid = self.managed.as_ref()?.shared.pid.load(Ordering::SeqCst);
        (pid != 0).then_some(pid)
    }

    /// How many times the supervisor restarted Envoy.
    pub fn restarts(&self) -> u64 {
        self.managed
            .as_ref()
            .map_or(0, |m| m.shared.restarts.load(Ordering::SeqCst))
    }

    /// Whether this is an attached Envoy (not managed by meshcd).
    pub fn is_attached(&self) -> bool {
        self.managed.is_none()
    }

    /// Stops a started Envoy: SIGTERM, up to [`STOP_GRACE`], then SIGKILL; waits for the
    /// supervisor thread. Blocks; idempotent; does nothing when attached.
    pub fn stop(&mut self) {
        let Some(managed) = &mut self.managed else {
            return;
        };
        drop(managed.stop.take()); // disconnecting is the stop signal
        if let Some(thread) = managed.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the Envoy supervisor thread panicked");
            }
        }
    }
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `max` lines of `lines` that are warnings, errors or meshcd's own notes (a starting
/// Envoy logs dozens of informational lines); the last `max` lines if there are none.
pub fn important_lines(lines: &[String], max: usize) -> Vec<String> {
    let important: Vec<&String> = lines
        .iter()
        .filter(|l| {
            // Envoy prints some errors, and continuation lines, without a log prefix.
            !l.starts_with('[')
                || ["[warning]", "[error]", "[critical]", "[meshcd]"]
                    .iter()
                    .any(|level| l.contains(level))
        })
        .collect();
    let chosen: Vec<&String> = if important.is_empty() {
        lines.iter().collect()
    } else {
        important
    };
    chosen[chosen.len().saturating_sub(max)..]
        .iter()
        .map(|l| (*l).clone())
        .collect()
}

/// A free TCP port on 127.0.0.1 (bound, then released: another process may still take it).
pub fn free_port() -> Result<u16, EnvoyError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| EnvoyError::io("127.0.0.1:0", e))
}

#[derive(Debug)]
struct CommandSpec {
    binary: PathBuf,
    args: Vec<String>,
}

impl CommandSpec {
    fn new(options: &EnvoyOptions, bootstrap: &Path) -> Self {
        let mut args = vec![
            "-c".to_string(),
            bootstrap.to_string_lossy().into_owned(),
            "--disable-hot-restart".to_string(),
            "--base-id".to_string(),
            options.admin_port.to_string(),
            "--log-level".to_string(),
            options.log_level.clone(),
        ];
        if let Some(concurrency) = options.concurrency {
            args.push("--concurrency".to_string());
            args.push(concurrency.to_string());
        }
        args.extend(options.extra_args.iter().cloned());
        Self {
            binary: options.binary.clone(),
            args,
        }
    }

    fn spawn(&self, logs: &LogBuffer) -> std::io::Result<Child> {
        let mut child = Command::new(&self.binary)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(stderr) = child.stderr.take() {
            let logs = logs.clone();
            let pid = child.id();
            let reader = std::thread::Builder::new()
                .name(format!("envoy-log-{pid}"))
                .spawn(move || {
                    let mut reader = std::io::BufReader::new(stderr);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match reader.read_until(b'\n', &mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {
                                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                                tracing::trace!(target: "envoy", "{text}");
                                logs.push(text);
                            }
                        }
                    }
                });
            if let Err(e) = reader {
                tracing::warn!("cannot start the Envoy log reader: {e}");
            }
        }
        Ok(child)
    }
}

/// The supervisor thread: spawns Envoy (so that Envoy's parent thread lives as long as it runs),
/// restarts it when it exits (if `supervise`), stops it when `stop` disconnects.
fn supervisor(
    spec: CommandSpec,
    logs: LogBuffer,
    shared: Arc<Shared>,
    stop: Receiver<()>,
    first: tokio::sync::oneshot::Sender<Result<u32, String>>,
    supervise: bool,
) {
    let mut child = match spec.spawn(&logs) {
        Ok(child) => child,
        Err(e) => {
            let _ = first.send(Err(e.to_string()));
            return;
        }
    };
    shared.pid.store(child.id(), Ordering::SeqCst);
    let _ = first.send(Ok(child.id()));
    let mut started = Instant::now();
    let mut quick_failures: u32 = 0;
    loop {
        if stop_requested(&stop, POLL) {
            terminate(&mut child);
            shared.pid.store(0, Ordering::SeqCst);
            return;
        }
        let status = match child.try_wait() {
            Ok(None) => continue,
            Ok(Some(status)) => status.to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        shared.pid.store(0, Ordering::SeqCst);
        *shared
            .last_exit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(status.clone());
        shared.exits.fetch_add(1, Ordering::SeqCst);
        logs.push(format!("[meshcd] Envoy exited: {status}"));
        tracing::warn!("Envoy exited: {status}");
        if !supervise {
            // Stay alive until asked to stop (nothing left to manage).
            let _ = stop.recv();
            return;
        }
        // Restart: at once after a healthy run; after a short one (such as a failed start, which
        // `start` reports itself) with a back-off doubling from 100 ms.
        loop {
            let backoff = if started.elapsed() >= HEALTHY_RUN {
                quick_failures = 0;
                Duration::ZERO
            } else {
                quick_failures = quick_failures.saturating_add(1);
                (Duration::from_millis(50) * 2u32.saturating_pow(quick_failures.min(16)))
                    .min(MAX_BACKOFF)
            };
            if stop_requested(&stop, backoff) {
                return;
            }
            started = Instant::now();
            match spec.spawn(&logs) {
                Ok(new) => {
                    child = new;
                    shared.pid.store(child.id(), Ordering::SeqCst);
                    let restarts = shared.restarts.fetch_add(1, Ordering::SeqCst) + 1;
                    logs.push(format!("[meshcd] Envoy restarted (restart {restarts})"));
                    tracing::info!(restarts, "Envoy restarted");
                    break;
                }
                Err(e) => {
                    logs.push(format!("[meshcd] cannot restart Envoy: {e}"));
                    tracing::error!("cannot restart Envoy: {e}");
                }
            }
        }
    }
}

/// Waits up to `timeout` for a stop request (a message or the sender dropped).
fn stop_requested(stop: &Receiver<()>, timeout: Duration) -> bool {
    match stop.recv_timeout(timeout) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        Err(RecvTimeoutError::Timeout) => false,
    }
}

/// Stops Envoys left running with this bootstrap by a meshcd that died without stopping them
/// (`kill -9`; under systemd, `KillMode=control-group` does this already). Such an Envoy holds
/// the admin and listener ports, so a new one could not start, and it would answer in the new
/// one's place without being supervised. Found through `/proc/<pid>/cmdline` (Linux; elsewhere
/// nothing is found). Its routes are not lost: the new Envoy loads the same files.
fn stop_leftovers(bootstrap: &std::path::Path) {
    let wanted = bootstrap.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let uses_bootstrap = args
            .windows(2)
            .any(|pair| pair[0] == b"-c" && pair[1] == wanted.as_bytes());
        if !uses_bootstrap {
            continue;
        }
        tracing::warn!(pid, "stopping an Envoy left running by an earlier meshcd");
        signal_pid(pid, "-TERM");
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && std::path::Path::new(&format!("/proc/{pid}")).exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            signal_pid(pid, "-KILL");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn signal_pid(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM (through `kill`, as this crate has no unsafe code), up to [`STOP_GRACE`], then SIGKILL.
fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let termed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if termed {
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        tracing::warn!("Envoy did not stop within {STOP_GRACE:?} of SIGTERM; killing it");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_buffer_keeps_the_last_lines() {
        let logs = LogBuffer::new(3);
        let mark = logs.mark();
        for i in 0..5 {
            logs.push(format!("line {i}"));
        }
        assert_eq!(logs.lines(), ["line 2", "line 3", "line 4"]);
        assert_eq!(logs.tail(2), ["line 3", "line 4"]);
        assert_eq!(logs.since(mark), ["line 2", "line 3", "line 4"]);
        let mark = logs.mark();
        logs.push("line 5".into());
        assert_eq!(logs.since(mark), ["line 5"]);
    }
}
