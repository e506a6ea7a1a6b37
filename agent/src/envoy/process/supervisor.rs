//! The supervisor thread: runs Envoy (one it spawned, or one it adopted), restarts it when it
//! exits, records each Envoy it starts in the pid file, and stops it when asked.
//!
//! Envoy does not depend on meshcd to keep running: it is spawned in its own process group (a
//! signal to meshcd's group, such as a terminal's Ctrl-C or hang-up, does not reach it), with no
//! parent-death signal (std's `Command` sets none, and the tokio `kill_on_drop` is not used), and
//! with its stderr in a file rather than a pipe to meshcd. So when meshcd dies without stopping
//! it (`kill -9`, out of memory, a panic), Envoy goes on serving; a restarted meshcd adopts it
//! (see [`super::adopt`]). Only a stop request (meshcd's orderly shutdown) stops it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::adopt::Expected;
use super::logs::{stderr_file, LogBuffer};
use super::pidfile::{boot_id, log_path, pid_path, sha256_hex, PidRecord, ProcessInfo};
use super::{EnvoyOptions, Shared, STOP_GRACE};
use crate::envoy::{files, EnvoyError};

/// How often the supervisor checks whether Envoy is still running.
const POLL: Duration = Duration::from_millis(20);
/// A run at least this long resets the restart back-off.
const HEALTHY_RUN: Duration = Duration::from_secs(10);
/// The longest pause between two restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How to run Envoy, and where to record and log it.
#[derive(Debug, Clone)]
pub(super) struct CommandSpec {
    pub(super) binary: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) admin_port: u16,
    pub(super) bootstrap_sha256: String,
    pub(super) bootstrap: PathBuf,
    pub(super) pid_file: PathBuf,
    pub(super) log_file: PathBuf,
}

impl CommandSpec {
    /// How this meshcd runs Envoy with `options` in `config_dir` (absolute).
    pub(super) fn new(options: &EnvoyOptions, config_dir: &Path) -> Result<Self, EnvoyError> {
        let bootstrap = config_dir.join(files::BOOTSTRAP_FILE);
        Ok(Self {
            binary: options.binary.clone(),
            args: super::arguments(options, &bootstrap),
            admin_port: options.admin_port,
            bootstrap_sha256: sha256_hex(&files::bootstrap_bytes(
                config_dir,
                options.admin_port,
                options.ads_socket.as_deref(),
            )?),
            pid_file: pid_path(config_dir),
            log_file: log_path(config_dir),
            bootstrap,
        })
    }

    /// What an Envoy to adopt must have been started with.
    pub(super) fn expected(&self) -> Expected {
        Expected {
            command: self.command(),
            bootstrap_sha256: self.bootstrap_sha256.clone(),
            bootstrap: self.bootstrap.clone(),
            boot_id: boot_id(),
        }
    }

    /// The command line: the binary, then the arguments.
    pub(super) fn command(&self) -> Vec<String> {
        std::iter::once(self.binary.to_string_lossy().into_owned())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Starts Envoy (stderr appended to the log file, in its own process group) and records it
    /// in the pid file.
    fn spawn(&self) -> std::io::Result<Child> {
        let stderr = stderr_file(&self.log_file).map_err(std::io::Error::other)?;
        let mut command = Command::new(&self.binary);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let child = command.spawn()?;
        self.record(child.id());
        Ok(child)
    }

    /// Writes the pid file for `pid` (a warning if it cannot: Envoy runs, but a restarted meshcd
    /// will replace it instead of adopting it).
    fn record(&self, pid: u32) {
        let Some(info) = ProcessInfo::read(pid) else {
            tracing::warn!(pid, "Envoy exited at once; not recording it");
            return;
        };
        let record = PidRecord {
            pid,
            start_time: info.start_time,
            boot_id: boot_id(),
            admin_port: self.admin_port,
            command: self.command(),
            bootstrap_sha256: self.bootstrap_sha256.clone(),
        };
        if let Err(e) = record.write(&self.pid_file) {
            tracing::warn!(pid, "cannot write Envoy's pid file (a restarted meshcd will replace this Envoy instead of adopting it): {e}");
        }
    }
}

/// The Envoy being supervised.
#[derive(Debug)]
pub(super) enum Running {
    /// Spawned by this meshcd: its child.
    Child(Child),
    /// Adopted: started by an earlier meshcd, known by its pid and start time.
    Adopted {
        /// The pid.
        pid: u32,
        /// Its start time (clock ticks since boot).
        start_time: u64,
    },
}

impl Running {
    pub(super) fn pid(&self) -> u32 {
        match self {
            Self::Child(child) => child.id(),
            Self::Adopted { pid, .. } => *pid,
        }
    }

    /// `Some(status)` once it exited.
    fn exited(&mut self) -> Option<String> {
        match self {
            Self::Child(child) => match child.try_wait() {
                Ok(None) => None,
                Ok(Some(status)) => Some(status.to_string()),
                Err(e) => Some(format!("unknown ({e})")),
            },
            Self::Adopted { pid, start_time } => (!ProcessInfo::is_running(*pid, *start_time))
                .then(|| "exited (adopted: its status went to its parent)".to_string()),
        }
    }

    /// SIGTERM (through `kill`, as this crate has no unsafe code), up to [`STOP_GRACE`], then
    /// SIGKILL. An adopted process is signalled only while it is still the recorded one.
    fn terminate(&mut self) {
        if self.exited().is_some() {
            return;
        }
        if signal_pid(self.pid(), "-TERM") {
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline {
                if self.exited().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            tracing::warn!("Envoy did not stop within {STOP_GRACE:?} of SIGTERM; killing it");
        }
        match self {
            Self::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Self::Adopted { pid, start_time } => {
                if ProcessInfo::is_running(*pid, *start_time) {
                    signal_pid(*pid, "-KILL");
                }
            }
        }
    }
}

/// How the supervisor begins.
pub(super) enum First {
    /// Spawn Envoy and report its pid (or why it could not start).
    Spawn(tokio::sync::oneshot::Sender<Result<u32, String>>),
    /// Supervise an adopted Envoy.
    Adopt(Running),
}

/// The message that tells the supervisor to leave Envoy running and end (meshcd is going away
/// without stopping it). Dropping the sender instead tells it to stop Envoy.
#[derive(Debug)]
pub(super) struct Detach;

/// What woke the supervisor.
enum Wake {
    /// The poll interval (or back-off) passed.
    Poll,
    /// [`Detach`].
    Detach,
    /// The sender is gone: stop Envoy.
    Stop,
}

/// Waits up to `timeout` for a message or the sender to go.
fn wait(stop: &Receiver<Detach>, timeout: Duration) -> Wake {
    match stop.recv_timeout(timeout) {
        Ok(Detach) => Wake::Detach,
        Err(RecvTimeoutError::Timeout) => Wake::Poll,
        Err(RecvTimeoutError::Disconnected) => Wake::Stop,
    }
}

/// The supervisor thread: spawns or adopts Envoy, restarts it when it exits (if `supervise`),
/// stops it (and removes the pid file) when `stop` disconnects, or leaves it running on
/// [`Detach`].
pub(super) fn supervisor(
    spec: CommandSpec,
    logs: LogBuffer,
    shared: Arc<Shared>,
    stop: Receiver<Detach>,
    first: First,
    supervise: bool,
) {
    let mut running = match first {
        First::Adopt(running) => running,
        First::Spawn(report) => match spec.spawn() {
            Ok(child) => {
                let _ = report.send(Ok(child.id()));
                Running::Child(child)
            }
            Err(e) => {
                let _ = report.send(Err(e.to_string()));
                return;
            }
        },
    };
    shared.pid.store(running.pid(), Ordering::SeqCst);
    let mut started = Instant::now();
    let mut quick_failures: u32 = 0;
    loop {
        logs.refresh();
        match wait(&stop, POLL) {
            Wake::Poll => {}
            Wake::Detach => {
                tracing::info!(pid = running.pid(), "leaving Envoy running");
                return;
            }
            Wake::Stop => {
                running.terminate();
                PidRecord::remove(&spec.pid_file);
                shared.pid.store(0, Ordering::SeqCst);
                return;
            }
        }
        let Some(status) = running.exited() else {
            continue;
        };
        shared.pid.store(0, Ordering::SeqCst);
        *shared
            .last_exit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(status.clone());
        shared.exits.fetch_add(1, Ordering::SeqCst);
        logs.refresh();
        logs.push(format!("[meshcd] Envoy exited: {status}"));
        tracing::warn!("Envoy exited: {status}");
        if !supervise {
            // Stay alive until asked to stop (nothing left to manage).
            if stop.recv().is_err() {
                PidRecord::remove(&spec.pid_file);
            }
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
            match wait(&stop, backoff) {
                Wake::Poll => {}
                Wake::Detach => return,
                Wake::Stop => {
                    PidRecord::remove(&spec.pid_file);
                    return;
                }
            }
            started = Instant::now();
            match spec.spawn() {
                Ok(child) => {
                    running = Running::Child(child);
                    shared.pid.store(running.pid(), Ordering::SeqCst);
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

/// Stops Envoys left running with this bootstrap that are not adopted (their pid file is stale,
/// names another process, or they do not answer; or an older meshcd left no pid file). Such an
/// Envoy holds the admin and listener ports, so a new one could not start, and it would answer in
/// the new one's place without being supervised. Found through `/proc/<pid>/cmdline` (Linux;
/// elsewhere nothing is found). Its routes are not lost: the new Envoy loads the same files.
pub(super) fn stop_leftovers(bootstrap: &Path) {
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
        let Some(info) = ProcessInfo::read(pid) else {
            continue;
        };
        let uses_bootstrap = info
            .command
            .windows(2)
            .any(|pair| pair[0] == "-c" && pair[1] == wanted);
        if !uses_bootstrap || info.zombie {
            continue;
        }
        tracing::warn!(
            pid,
            "stopping an Envoy left running by an earlier meshcd that cannot be adopted"
        );
        let mut leftover = Running::Adopted {
            pid,
            start_time: info.start_time,
        };
        leftover.terminate();
    }
}

fn signal_pid(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
