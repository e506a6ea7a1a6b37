//! `meshcd run`: the daemon that keeps a target in sync with Git.
//!
//! It owns *when* to reconcile: triggers ([`triggers`]: startup, poll, `.git` watch, webhooks,
//! cron schedules, `POST /api/v1/reconcile`), coalesced so that one reconcile runs at a time
//! and triggers arriving during a run cause exactly one follow-up run; the error policy
//! ([`backoff`], the worker); the HTTP server ([`server`]); and shutdown. *What* a reconcile
//! does belongs to a [`Reconcile`] implementation.
//!
//! Shutdown contract: on SIGTERM or SIGINT the daemon stops taking triggers and closes the
//! HTTP server, waits up to `shutdownTimeout` for a running reconcile to finish (then drops
//! it, see [`Reconcile`]'s cancellation contract), and returns `Ok`.

pub mod backoff;
pub mod metrics;
pub mod rollouts_api;
pub mod server;
pub mod status;
pub mod triggers;
pub mod watch;
pub mod webhook;
mod worker;

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use triggers::TriggerSender;

use crate::config::{Config, WebhookConfig};
use crate::engine::rollouts::RolloutHandle;
use crate::engine::{Reconcile, Trigger};
use crate::source::RepoSpec;
use metrics::Metrics;
use status::{Identity, Status};
use triggers::TriggerQueue;

/// How long the HTTP server and trigger sources get to stop after the reconcile is done.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// State shared by the worker, the trigger sources and the HTTP handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) queue: Arc<TriggerQueue>,
    pub(crate) status: Arc<Status>,
    pub(crate) metrics: Metrics,
    pub(crate) webhook: WebhookConfig,
    /// The reconciler's state store, for `GET /api/v1/history`.
    pub(crate) store: Option<Arc<crate::store::Store>>,
    /// The reconciler's rollouts, for `/api/v1/rollouts` and `/metrics`.
    pub(crate) rollouts: Option<RolloutHandle>,
    /// The target's xDS server, for `GET /api/v1/xds`.
    pub(crate) xds: Option<Arc<crate::xds::Registry>>,
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot handle signals")]
    Signals(#[source] std::io::Error),
}

/// Runs the daemon until SIGTERM or SIGINT, then shuts down as described in the module
/// documentation. Must be called inside a Tokio runtime with I/O and time enabled.
///
/// Once the HTTP port is bound it prints `meshcd: listening on http://ADDR` to stdout (with the
/// real port when `server.listen` asks for port 0).
pub async fn run<R: Reconcile>(config: Config, reconciler: R) -> Result<(), DaemonError> {
    let signals = signals()?;
    run_until(config, reconciler, signals).await
}

/// Like [`run`], but stops when `shutdown` completes instead of on a signal.
pub async fn run_until<R, F>(config: Config, reconciler: R, shutdown: F) -> Result<(), DaemonError>
where
    R: Reconcile,
    F: Future<Output = ()> + Send,
{
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);

    let queue = Arc::new(TriggerQueue::new());
    let sender = TriggerSender::new(queue.clone());
    let spec = config.repo_spec();
    let status = Arc::new(Status::new(Identity {
        target: reconciler.describe_target(),
        repo: spec.display(),
        rev: config.rev.clone().unwrap_or_else(|| "HEAD".into()),
        path: config.path.clone(),
    }));
    let shared = Arc::new(Shared {
        queue: queue.clone(),
        status: status.clone(),
        metrics: Metrics::new(),
        webhook: config.webhook.clone(),
        store: reconciler.store(),
        rollouts: reconciler.rollouts(),
        xds: reconciler.xds(),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

    let server = {
        let router = server::router(shared.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(%error, "the HTTP server failed");
            }
        })
    };
    tracing::info!(%local, "listening");
    println!("meshcd: listening on http://{local}");
    let _ = std::io::stdout().flush();

    let mut sources: Vec<JoinHandle<()>> = Vec::new();
    if let Some(interval) = config.poll_interval {
        sources.push(triggers::spawn_poll(
            interval,
            sender.clone(),
            status.clone(),
            stop_rx.clone(),
        ));
    }
    for schedule in &config.schedules {
        sources.push(triggers::spawn_schedule(
            schedule.clone(),
            sender.clone(),
            status.clone(),
            stop_rx.clone(),
        ));
    }
    match (&spec, config.watch) {
        (RepoSpec::Local(path), true) => {
            match watch::spawn_git_watch(Path::new(path), sender.clone(), stop_rx.clone()) {
                Ok(task) => sources.push(task),
                Err(error) => tracing::warn!(
                    error = %crate::errors::report(&error),
                    "not watching the repository; polling only"
                ),
            }
        }
        (RepoSpec::Remote(_), true) => {
            tracing::debug!("watch applies to local repositories only; use webhooks or polling");
        }
        (_, false) => {}
    }

    let reconciler = Arc::new(reconciler);
    reconciler.attach(Arc::new(sender.clone()));
    queue.submit(Trigger::Startup);
    let mut worker = tokio::spawn(worker::run(reconciler, shared.clone(), config.retry));

    tokio::select! {
        () = shutdown => {}
        // The worker only ends on its own if it panicked; shut down then too.
        _ = &mut worker => tracing::error!("the reconcile worker stopped"),
    }
    tracing::info!("shutting down");
    queue.close();
    let _ = stop_tx.send(true);
    if !worker.is_finished()
        && tokio::time::timeout(config.shutdown_timeout, &mut worker)
            .await
            .is_err()
    {
        tracing::warn!(
            timeout = ?config.shutdown_timeout,
            "the running reconcile did not finish in time; abandoning it"
        );
        worker.abort();
    }
    for task in sources.into_iter().chain(std::iter::once(server)) {
        if tokio::time::timeout(STOP_GRACE, task).await.is_err() {
            tracing::warn!("a background task did not stop in time");
        }
    }
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT. The handlers are installed before this returns,
/// so a signal arriving later is never lost to the default action.
fn signals() -> Result<impl Future<Output = ()> + Send, DaemonError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::Notify;

    use super::*;
    use crate::config::{RetryConfig, ServerConfig};
    use crate::engine::{Outcome, OutcomeAction, ReconcileError};

    /// Signals when its run starts, then takes `work` to finish.
    struct Slow {
        started: Arc<Notify>,
        finished: Arc<AtomicBool>,
        work: Duration,
    }

    impl Reconcile for Slow {
        async fn reconcile(&self, _trigger: Trigger) -> Result<Outcome, ReconcileError> {
            self.started.notify_one();
            tokio::time::sleep(self.work).await;
            self.finished.store(true, Ordering::SeqCst);
            Ok(Outcome::new("c0ffee", OutcomeAction::Applied, ""))
        }
    }

    fn config(shutdown_timeout: Duration) -> Config {
        Config {
            file: "meshcd.yaml".into(),
            repo: "/nonexistent/repo".into(),
            rev: None,
            path: String::new(),
            poll_interval: None,
            watch: false,
            self_heal: false,
            server: ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
            webhook: WebhookConfig::default(),
            schedules: Vec::new(),
            retry: RetryConfig {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
            },
            shutdown_timeout,
            state_dir: "/nonexistent/state".into(),
            target: None,
            crds: Vec::new(),
        }
    }

    async fn shut_down_during_a_run(work: Duration, timeout: Duration) -> bool {
        let started = Arc::new(Notify::new());
        let finished = Arc::new(AtomicBool::new(false));
        let slow = Slow {
            started: started.clone(),
            finished: finished.clone(),
            work,
        };
        let stop = async move { started.notified().await };
        let daemon = run_until(config(timeout), slow, stop);
        let result = tokio::time::timeout(Duration::from_secs(20), daemon).await;
        assert!(matches!(result, Ok(Ok(()))), "{result:?}");
        finished.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn shutdown_lets_the_running_reconcile_finish() {
        assert!(shut_down_during_a_run(Duration::from_millis(300), Duration::from_secs(10)).await);
    }

    #[tokio::test]
    async fn shutdown_abandons_a_reconcile_after_the_timeout() {
        assert!(
            !shut_down_during_a_run(Duration::from_secs(3600), Duration::from_millis(100)).await
        );
    }
}
