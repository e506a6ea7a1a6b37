//! The `envoy` target runtime: find, start and supervise a local Envoy, publish configuration to
//! it through watched files, and read back what it really serves.
//!
//! # Two deliveries
//!
//! `target.envoy.delivery: files` (this module) writes LDS, CDS and RDS files into a folder the
//! local Envoy watches; `delivery: ads` serves the same resources from meshcd's xDS server
//! ([`crate::xds`], delta ADS with ACK/NACK), to the local Envoy over a Unix socket and to any
//! number of remote Envoys over mTLS. Files stay the default for a single local Envoy:
//!
//! - **It survives restarts by itself.** After a crash or restart Envoy re-reads the current
//!   files on start, so the last published routes come back even while meshcd is down; an
//!   Envoy fed over ADS that restarts while meshcd is down starts empty.
//! - **It is as fast on one machine.** A renamed-in RDS file is live a few milliseconds after
//!   the rename (`cargo bench --bench envoy_reload`); `cargo bench --bench commit_to_live`
//!   measures commit-to-live with both deliveries side by side.
//!
//! ADS is the choice for fleets, and wherever an Envoy's own verdict is wanted: a NACK carries
//! Envoy's reason, so no `envoy --mode validate` runs before a publish.
//!
//! A managed Envoy also outlives meshcd itself: when meshcd dies (`kill -9`, out of memory, a
//! panic), Envoy goes on serving, and the restarted meshcd adopts it instead of replacing it
//! (see [`process`] and [`process::adopt`]).
//!
//! # Files: no per-version ACK/NACK
//!
//! An invalid update is silently kept out by Envoy (the old configuration keeps serving) and
//! only shows in counters (`http.<prefix>.rds.<name>.update_rejected`,
//! `cluster_manager.cds.update_rejected`, `listener_manager.lds.update_rejected`) and in
//! Envoy's log. So meshcd
//! 1. **validates before**: it runs `envoy --mode validate` on a static bootstrap with the new
//!    resources inlined, and publishes nothing if that fails;
//! 2. **verifies after**: it polls `/config_dump` until the served route configuration equals
//!    what it wrote (weights, virtual hosts, clusters; never the `version_info`, which Envoy does
//!    not update when only the version changes), and reads the rejection counters and the last
//!    log lines when it does not.
//!
//! # The contract of [`publish()`]
//!
//! `publish(dir, admin, config)` moves a running Envoy from the configuration in `dir` (the
//! *previous* one: whatever the files hold when it starts) to `config`, in this order:
//!
//! 1. **validate**: `envoy --mode validate` on a temporary static bootstrap outside the watched
//!    folder. Failure: [`EnvoyError::Invalid`] ([`EnvoyError::TimedOut`] if it runs too long);
//!    nothing was written to `dir`.
//! 2. **CDS (union)**: `cds.yaml` gets the previous clusters plus the new ones (new definitions
//!    win), then meshcd waits until Envoy has processed the file and every new cluster is active.
//!    A route is never published before the clusters it names.
//! 3. **LDS + RDS**: `rds.yaml`, then `lds.yaml`, each by an atomic rename (write a temporary
//!    file in the folder, fsync, rename: Envoy reloads on renames into the folder only, and any
//!    such rename reloads all three files).
//! 4. **verify**: poll `/config_dump` (every 2 ms, up to 2 s by default) until the served route
//!    configuration equals the written one and Envoy has processed the update.
//! 5. **CDS (cleanup)**: `cds.yaml` without the clusters no longer used; only now, after no
//!    route names them.
//!
//! Failure in steps 2–4 (a rejection counter rises, the timeout passes, an I/O error): the
//! previous files are renamed back into place, so Envoy and any later restart of it load the last
//! good configuration. Envoy keeps serving the old version of a rejected resource by itself; but
//! LDS, CDS and RDS are separate, so when, say, a listener is rejected, the routes of the same
//! update may have been taken for the few milliseconds until the restore. meshcd therefore waits
//! (up to the verify timeout) until the previous routes are served again and says so in the
//! error. The error is [`EnvoyError::Rejected`] with the counters, that outcome and the relevant
//! log lines ([`EnvoyError::TimedOut`] when nothing was rejected but the new routes were not
//! served in time; or [`EnvoyError::Io`] / [`EnvoyError::Unreachable`] / [`EnvoyError::Admin`]).
//! Rejected and invalid configurations are permanent ([`EnvoyError::is_retryable`] is false):
//! the same configuration fails the same way until a new commit changes it. A failure in step 5
//! does not undo the publish: the new routes are live and verified; the unused clusters stay
//! until the next publish and the report says so in [`PublishReport::cleanup_warning`].
//!
//! **Idempotency**: `cds.yaml` and `lds.yaml` are rewritten only when their content changes;
//! `rds.yaml` is always rewritten (with a new `version_info`), because its reload is what the
//! verification waits for. Publishing the same configuration again therefore costs one reload in
//! which Envoy finds nothing changed (no listener or cluster is drained), and passes.
//!
//! **Cancellation**: dropping the `publish` future before the new routes are verified restores
//! the previous files (synchronously, in a drop guard) if any were written, so a cancelled
//! publish leaves the old configuration on disk and, a few milliseconds later, serving. Once the
//! routes are verified the publish stands; a cancellation during step 5 only leaves the unused
//! clusters in `cds.yaml`, and the next publish removes them. Publishes through one
//! [`ConfigDir`] are serialized by a lock inside it; two `ConfigDir` values (or two processes) on
//! one folder are not coordinated.

pub mod admin;
pub mod binary;
pub mod files;
pub mod process;
pub mod publish;
pub mod shape;

use std::path::PathBuf;
use std::time::Duration;

pub use admin::{AdminClient, ServerInfo, Stats};
pub use binary::{find_envoy, install_hint, Lookup};
pub use process::{EnvoyOptions, EnvoyProcess, LogBuffer};
pub use publish::{
    publish, publish_with, ConfigDir, EnvoyConfig, PublishOptions, PublishReport, RouteShape,
};

/// Everything that can go wrong while finding, running, or configuring Envoy.
#[derive(Debug, thiserror::Error)]
pub enum EnvoyError {
    /// No Envoy binary was found; `looked` lists every place searched, with why it did not fit.
    #[error("Envoy not found; looked in:\n{}\ninstall it: {}", bullets(.looked), install_hint())]
    NotFound {
        /// The places looked at, in order, each with the reason it was not used.
        looked: Vec<String>,
    },
    /// Reading or writing a file failed.
    #[error("{}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Envoy process could not be started.
    #[error("cannot start {}: {message}", .binary.display())]
    Spawn {
        /// The binary that was run.
        binary: PathBuf,
        /// Why it could not start.
        message: String,
    },
    /// meshcd's xDS server for this Envoy could not start (a socket or address it cannot
    /// bind, unusable TLS files).
    #[error("cannot start the xDS server: {message}")]
    Serve {
        /// Why, with its causes.
        message: String,
    },
    /// Envoy did not become ready (`/ready` = `LIVE`) in time, or exited while starting.
    #[error(
        "Envoy at {admin_url} not ready after {waited:?}: {why}\nlast Envoy log lines:\n{logs}"
    )]
    NotReady {
        /// The admin address polled.
        admin_url: String,
        /// How long meshcd waited.
        waited: Duration,
        /// The last state seen or the exit status.
        why: String,
        /// The last lines of Envoy's log.
        logs: String,
    },
    /// Envoy's admin interface did not answer (connection refused, reset, timed out).
    #[error("no answer from Envoy's admin interface at {url}")]
    Unreachable {
        /// The full URL requested.
        url: String,
        /// The HTTP client's error (without the URL).
        #[source]
        source: reqwest::Error,
    },
    /// Envoy's admin interface answered, but not as expected (an HTTP error status, a body that
    /// is not JSON or not the expected shape).
    #[error("Envoy admin request {url} failed: {message}")]
    Admin {
        /// The full URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The configuration does not pass `envoy --mode validate` (or is not well formed); nothing
    /// was published.
    #[error("invalid Envoy configuration: {reason}")]
    Invalid {
        /// Envoy's message.
        reason: String,
    },
    /// Envoy rejected the published configuration (a rejection counter rose). The previous
    /// configuration keeps serving and is back on disk.
    #[error("Envoy rejected the configuration: {reason}")]
    Rejected {
        /// Counters, what was served instead, and the relevant Envoy log lines.
        reason: String,
    },
    /// A step did not finish in time: `envoy --mode validate` ran too long, or Envoy did not
    /// serve the published configuration before the timeout while no rejection counter rose.
    /// After a publish, the previous configuration keeps serving and is back on disk.
    #[error("Envoy did not finish in time: {reason}")]
    TimedOut {
        /// What was waited for, and (after a publish) what was served instead.
        reason: String,
    },
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl EnvoyError {
    /// An [`EnvoyError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// True when trying again later may succeed: Envoy not answering or not ready (it may be
    /// restarting), a step that timed out, a process that could not be started, an I/O error
    /// that may pass. False when the configuration itself is at fault (`--mode validate`
    /// refused it, or Envoy rejected it): the same configuration would fail the same way, so
    /// it waits for a new commit. Also false when no Envoy binary was found.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Invalid { .. } | Self::Rejected { .. } | Self::NotFound { .. } => false,
            Self::Io { source, .. } => crate::errors::io_retryable(source),
            Self::Unreachable { .. }
            | Self::Admin { .. }
            | Self::NotReady { .. }
            | Self::Spawn { .. }
            | Self::Serve { .. }
            | Self::TimedOut { .. } => true,
        }
    }
}
