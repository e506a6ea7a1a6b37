//! Running Envoy: start it from a dedicated long-lived thread, log it to a file, wait until it
//! is ready, supervise it (restart on exit), stop it; adopt an Envoy an earlier meshcd left
//! running; or attach to an Envoy someone else runs.
//!
//! # The data plane outlives the control plane
//!
//! A started Envoy does not die with meshcd (see `supervisor.rs`), and is recorded in
//! `run/envoy.pid.json` in its folder. When meshcd dies without stopping it (`kill -9`, out of
//! memory, a panic), Envoy goes on serving the last published configuration; the next
//! [`EnvoyProcess::start`] on the same folder adopts it when it can verify it (see [`adopt`]), and
//! starts a new one otherwise, saying why. Only an orderly stop ([`EnvoyProcess::stop`], or
//! dropping the value outside a panic) stops Envoy and removes the pid file.

pub mod adopt;
pub mod logs;
pub mod pidfile;
mod supervisor;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use logs::{FollowFrom, LogBuffer, LOG_LINES};

use super::admin::AdminClient;
use super::files;
use super::EnvoyError;
use adopt::NotAdoptable;
use pidfile::PidRecord;
use supervisor::{CommandSpec, Detach, First, Running};

/// How long [`EnvoyProcess::stop`] waits after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long an adopted Envoy may take to serve what its files hold before meshcd says it does not.
const ADOPT_SETTLE: Duration = Duration::from_secs(2);
/// How much of an adopted Envoy's log file is read at adoption.
const ADOPTED_LOG_TAIL: u64 = 64 * 1024;

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
    /// Take listeners and clusters from meshcd's xDS server on this Unix socket (delta ADS)
    /// instead of the watched files.
    pub ads_socket: Option<PathBuf>,
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
            ads_socket: None,
        }
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
    stop: Option<Sender<Detach>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    supervise: bool,
}

/// How a managed Envoy came to be supervised by this meshcd.
#[derive(Debug)]
pub enum Origin {
    /// This meshcd started it.
    Started {
        /// Why no Envoy left running was adopted instead (`None`: none was looked for, as the
        /// admin port was to be picked and no pid file named one).
        not_adopted: Option<NotAdoptable>,
    },
    /// An earlier meshcd started it and left it running; this one adopted it.
    Adopted {
        /// Differences between what it served at adoption and what its files hold (empty: it
        /// served them).
        differences: Vec<String>,
    },
}

/// A local Envoy meshcd started or adopted (and supervises), or one it attached to.
///
/// Dropping it stops a managed Envoy (SIGTERM, then SIGKILL after [`STOP_GRACE`]), except while
/// the thread panics: then Envoy is left running, for the next meshcd to adopt.
#[derive(Debug)]
pub struct EnvoyProcess {
    admin: AdminClient,
    logs: LogBuffer,
    config_dir: Option<PathBuf>,
    managed: Option<Managed>,
    origin: Option<Origin>,
}

impl EnvoyProcess {
    /// Adopts the Envoy an earlier meshcd started in this configuration folder when it still
    /// runs and can be verified (see [`adopt`]); otherwise writes `bootstrap.yaml`, stops any
    /// Envoy left running on it, and starts Envoy with `-c bootstrap.yaml --disable-hot-restart
    /// --base-id <admin port>` (stderr to `run/envoy.log`, recorded in `run/envoy.pid.json`)
    /// from a dedicated thread that lives as long as this value. Either way, waits until `/ready`
    /// says `LIVE`.
    ///
    /// With `admin_port` 0, the port of the recorded Envoy is used (a free one if there is none).
    pub async fn start(options: EnvoyOptions) -> Result<Self, EnvoyError> {
        let mut options = options;
        let config_dir = files::absolute_dir(&options.config_dir)?;
        let pid_file = pidfile::pid_path(&config_dir);
        let pick_port = options.admin_port == 0;
        if pick_port {
            options.admin_port = match PidRecord::read(&pid_file) {
                Ok(Some(record)) => record.admin_port,
                _ => 0,
            };
        }
        let mut not_adopted = None;
        if options.admin_port != 0 {
            let spec = CommandSpec::new(&options, &config_dir)?;
            let admin = AdminClient::loopback(options.admin_port)?;
            match adopt::find(&spec.pid_file, &spec.expected(), &admin).await {
                Ok(record) => return Self::adopt(options, config_dir, spec, admin, record).await,
                Err(why @ NotAdoptable::NoRecord { .. }) => {
                    tracing::debug!("no Envoy left running to adopt ({why}); starting one");
                    not_adopted = Some(why);
                }
                Err(why) => {
                    tracing::warn!(
                        "not adopting the Envoy left running in {}: {}; starting a new one",
                        config_dir.display(),
                        crate::errors::report(&why)
                    );
                    not_adopted = Some(why);
                }
            }
        }
        if pick_port {
            options.admin_port = free_port()?;
        }
        let spec = CommandSpec::new(&options, &config_dir)?;
        let admin = AdminClient::loopback(options.admin_port)?;
        let bootstrap = config_dir.join(files::BOOTSTRAP_FILE);

        files::write_bootstrap_with(
            &config_dir,
            options.admin_port,
            options.ads_socket.as_deref(),
        )?;
        supervisor::stop_leftovers(&bootstrap);
        let logs = LogBuffer::following(&spec.log_file, FollowFrom::End)?;
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let mut process = Self::supervised(
            &options,
            config_dir,
            spec,
            admin,
            logs,
            First::Spawn(first_tx),
            Origin::Started { not_adopted },
        )?;
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

    /// Supervises the verified Envoy of `record`, and says whether it serves what its files
    /// hold.
    async fn adopt(
        options: EnvoyOptions,
        config_dir: PathBuf,
        spec: CommandSpec,
        admin: AdminClient,
        record: PidRecord,
    ) -> Result<Self, EnvoyError> {
        let differences = settle(&admin, &config_dir).await;
        let logs = LogBuffer::following(&spec.log_file, FollowFrom::Tail(ADOPTED_LOG_TAIL))?;
        logs.push(format!(
            "[meshcd] adopted Envoy {} left running by an earlier meshcd",
            record.pid
        ));
        if differences.is_empty() {
            tracing::info!(
                pid = record.pid,
                admin = admin.base_url(),
                "adopted the Envoy left running by an earlier meshcd; it serves the published configuration"
            );
        } else {
            tracing::warn!(
                pid = record.pid,
                admin = admin.base_url(),
                "adopted the Envoy left running by an earlier meshcd; it does not serve what its files hold ({}); the next reconcile publishes the desired configuration",
                differences.join("; ")
            );
        }
        let running = Running::Adopted {
            pid: record.pid,
            start_time: record.start_time,
        };
        Self::supervised(
            &options,
            config_dir,
            spec,
            admin,
            logs,
            First::Adopt(running),
            Origin::Adopted { differences },
        )
    }

    /// Starts the supervisor thread.
    fn supervised(
        options: &EnvoyOptions,
        config_dir: PathBuf,
        spec: CommandSpec,
        admin: AdminClient,
        logs: LogBuffer,
        first: First,
        origin: Origin,
    ) -> Result<Self, EnvoyError> {
        let shared = Arc::new(Shared::default());
        if let First::Adopt(running) = &first {
            // Known at once (a spawned Envoy's pid is stored once it runs).
            shared.pid.store(running.pid(), Ordering::SeqCst);
        }
        let (stop_tx, stop_rx) = std::sync::mpsc::channel();
        let thread = {
            let (logs, shared, supervise) = (logs.clone(), shared.clone(), options.supervise);
            std::thread::Builder::new()
                .name(format!("envoy-{}", options.admin_port))
                .spawn(move || {
                    supervisor::supervisor(spec, logs, shared, stop_rx, first, supervise)
                })
                .map_err(|e| EnvoyError::Spawn {
                    binary: options.binary.clone(),
                    message: format!("cannot start the supervisor thread: {e}"),
                })?
        };
        Ok(Self {
            admin,
            logs,
            config_dir: Some(config_dir),
            managed: Some(Managed {
                stop: Some(stop_tx),
                thread: Some(thread),
                shared,
                supervise: options.supervise,
            }),
            origin: Some(origin),
        })
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
            origin: None,
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

    /// How this managed Envoy came to be supervised (`None` when attached).
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// Stops a managed Envoy: SIGTERM, up to [`STOP_GRACE`], then SIGKILL; removes its pid file;
    /// waits for the supervisor thread. Blocks; idempotent; does nothing when attached.
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

    /// Leaves a managed Envoy running, unsupervised, with its pid file, for the next meshcd on
    /// this folder to adopt (what happens when meshcd dies). Idempotent; does nothing when
    /// attached or stopped.
    pub fn detach(&mut self) {
        let Some(managed) = &mut self.managed else {
            return;
        };
        if let Some(stop) = managed.stop.take() {
            let _ = stop.send(Detach);
        }
        if let Some(thread) = managed.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the Envoy supervisor thread panicked");
            }
        }
    }
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(
                "meshcd is panicking: leaving Envoy running for the next meshcd to adopt"
            );
            self.detach();
        } else {
            self.stop();
        }
    }
}

/// Polls until the adopted Envoy serves what its files hold, up to [`ADOPT_SETTLE`] (a publish
/// cut short by meshcd's death may still be loading); returns the differences left.
async fn settle(admin: &AdminClient, dir: &Path) -> Vec<String> {
    let started = Instant::now();
    loop {
        let differences = match adopt::served_differences(admin, dir).await {
            Ok(differences) => differences,
            Err(e) => vec![format!("cannot compare: {e}")],
        };
        if differences.is_empty() || started.elapsed() >= ADOPT_SETTLE {
            return differences;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Envoy's arguments (after the binary).
fn arguments(options: &EnvoyOptions, bootstrap: &Path) -> Vec<String> {
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
    args
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
