//! Publishing an [`EnvoyConfig`] to a running Envoy through its watched files: validate, clusters
//! first, then listeners and routes, verify what is served, then remove unused clusters.
//!
//! The contract (ordering, failure at each step, idempotency, cancellation) is in the
//! [module documentation of `envoy`](super). By concern:
//! - `prepare.rs`: the configuration in the form it is written (types, RDS pointed at the folder);
//! - `validate.rs`: `envoy --mode validate` before anything is written;
//! - `verify.rs`: writing each file and waiting until Envoy serves it (or rejects it);
//! - `restore.rs`: the previous files, put back when a publish fails or is cancelled;
//! - `shape.rs`: what is compared between the written and the served routes.

mod prepare;
mod restore;

mod validate;
mod verify;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::admin::AdminClient;
use super::files;
use super::process::LogBuffer;
pub use super::shape::RouteShape;
use super::EnvoyError;
use crate::errors::report;
use restore::{Previous, RestoreGuard};
use verify::Step;

/// The Envoy resources meshcd publishes, as `meshcd_core::envoy::translate` produces them.
///
/// Listeners whose HTTP connection manager uses RDS (or names no routes at all) are pointed at
/// the `route_config` in this folder's `rds.yaml`, whatever `config_source` they carry;
/// `route_config` may be `null` when no listener needs routes.
pub use meshcd_core::envoy::EnvoyConfig;

/// Timing knobs of [`publish_with`].
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// How long to wait for Envoy to serve the new routes.
    pub verify_timeout: Duration,
    /// How long to wait for new clusters to become active (and removed ones to go).
    pub cds_timeout: Duration,
    /// How long `envoy --mode validate` may run.
    pub validate_timeout: Duration,
    /// How often to poll the admin interface while waiting.
    pub poll_interval: Duration,
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            verify_timeout: Duration::from_secs(2),
            cds_timeout: Duration::from_secs(5),
            validate_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(2),
        }
    }
}

/// What a successful [`publish`] did and how long each phase took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishReport {
    /// The `version_info` written to the files.
    pub version: String,
    /// Whether `envoy --mode validate` ran (false on the weights-only fast path).
    pub validated: bool,
    /// `envoy --mode validate` (about 0 on the fast path).
    pub validate_ms: f64,
    /// Writing the union of clusters until the new ones are active.
    pub cds_ms: f64,
    /// From renaming `rds.yaml` until Envoy serves it.
    pub rds_live_ms: f64,
    /// Removing unused clusters.
    pub cleanup_ms: f64,
    /// The whole publish.
    pub total_ms: f64,
    /// Clusters that were not there before.
    pub added_clusters: Vec<String>,
    /// Clusters removed because nothing uses them any more.
    pub removed_clusters: Vec<String>,
    /// Set when the routes are live but removing unused clusters failed (they stay until the next
    /// publish).
    pub cleanup_warning: Option<String>,
}

/// The folder a local Envoy watches, with what publishing to it needs: the Envoy binary (for
/// `--mode validate`) and, optionally, Envoy's log (for rejection reasons).
///
/// Publishes through one `ConfigDir` are serialized.
#[derive(Debug)]
pub struct ConfigDir {
    path: PathBuf,
    envoy_binary: PathBuf,
    logs: Option<LogBuffer>,
    /// Serializes publishes; holds the last `version_info` written.
    last_version: tokio::sync::Mutex<u64>,
    /// The last configuration `envoy --mode validate` accepted and Envoy then served: a
    /// configuration that differs from it only in weights skips validation (the fast path of
    /// rollout steps; see [`publish_with`]).
    validated: std::sync::Mutex<Option<EnvoyConfig>>,
}

impl ConfigDir {
    /// The folder `path` (made absolute), validating with `envoy_binary`.
    pub fn new(path: &Path, envoy_binary: &Path) -> Result<Self, EnvoyError> {
        Ok(Self {
            path: files::absolute_dir(path)?,
            envoy_binary: envoy_binary.to_path_buf(),
            logs: None,
            last_version: tokio::sync::Mutex::new(0),
            validated: std::sync::Mutex::new(None),
        })
    }

    /// Reads rejection reasons from `logs` (see [`super::EnvoyProcess::logs`]).
    pub fn with_logs(mut self, logs: LogBuffer) -> Self {
        self.logs = Some(logs);
        self
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The binary used for validation.
    pub fn envoy_binary(&self) -> &Path {
        &self.envoy_binary
    }
}

/// Publishes `config` with the default [`PublishOptions`]; see [`publish_with`].
pub async fn publish(
    dir: &ConfigDir,
    admin: &AdminClient,
    config: &EnvoyConfig,
) -> Result<PublishReport, EnvoyError> {
    publish_with(dir, admin, config, &PublishOptions::default()).await
}

/// Validates `config`, publishes it to the Envoy behind `admin` through the files in `dir`, and
/// verifies that Envoy serves it. The steps and what each failure leaves behind are described in
/// the [`envoy` module documentation](super#the-contract-of-publish).
pub async fn publish_with(
    dir: &ConfigDir,
    admin: &AdminClient,
    config: &EnvoyConfig,
    options: &PublishOptions,
) -> Result<PublishReport, EnvoyError> {
    let mut last_version = dir.last_version.lock().await;
    let started = Instant::now();
    let prepared = prepare::prepare(config, &dir.path)?;

    // (a) Validate; nothing is written to the watched folder. A configuration that differs
    // from the last validated and served one only in weights (a rollout step), with every
    // split's weights present and summing to more than 0 within a u32, skips it: Envoy's
    // verdict would be the same, and the verification in (d) still catches a rejection and
    // restores the previous files.
    let t = Instant::now();
    let weights_only = dir
        .validated
        .lock()
        .map(|last| {
            last.as_ref()
                .is_some_and(|last| meshcd_core::envoy::same_but_weights(last, config))
        })
        .unwrap_or(false)
        && meshcd_core::envoy::all_weights_are_valid(config);
    if !weights_only {
        validate::validate(&dir.envoy_binary, &prepared, options.validate_timeout).await?;
    }
    let validate_ms = ms(t);

    // What is on disk now is the previous configuration: keep it to restore on failure.
    let previous = Previous::read(&dir.path)?;
    let version = previous.max_version().max(*last_version) + 1;
    *last_version = version;
    let version_text = version.to_string();
    let old_clusters = previous.cluster_names();
    let added: Vec<String> = prepared
        .clusters
        .keys()
        .filter(|name| !old_clusters.contains(*name))
        .cloned()
        .collect();
    let removed: Vec<String> = old_clusters
        .iter()
        .filter(|name| !prepared.clusters.contains_key(*name))
        .cloned()
        .collect();

    let mut guard = RestoreGuard {
        dir: &dir.path,
        previous: &previous,
        armed: true,
    };
    let log_mark = dir.logs.as_ref().map_or(0, LogBuffer::mark);
    let step = Step {
        admin,
        logs: dir.logs.as_ref(),
        log_mark,
        options,
    };

    // (b) Clusters: the union of old and new, until every new one is active.
    let t = Instant::now();
    let mut union: BTreeMap<String, Json> = previous
        .clusters
        .iter()
        .filter_map(|c| Some((c.get("name")?.as_str()?.to_string(), c.clone())))
        .collect();
    let before = union.clone();
    union.extend(prepared.clusters.clone());
    // The file already holds exactly these clusters (and no duplicates): no need to rewrite it.
    let unchanged = union == before && before.len() == previous.clusters.len();
    let result = step
        .publish_clusters(&dir.path, &version_text, &union, &[], unchanged)
        .await;
    if let Err(e) = result {
        return Err(guard.fail(e));
    }
    let cds_ms = ms(t);

    // (c) Routes, then listeners; (d) verify that Envoy serves them.
    let listeners_unchanged = previous.listeners == prepared.listeners;
    let result = step
        .publish_routes(&dir.path, &version_text, &prepared, !listeners_unchanged)
        .await;
    let rds_live_ms = match result {
        Ok(rds_live_ms) => rds_live_ms,
        Err(e) => {
            let e = guard.fail(e);
            return Err(step.confirm_restored(&previous, e).await);
        }
    };
    guard.armed = false;

    // (e) Clusters no longer used.
    let t = Instant::now();
    let mut cleanup_warning = None;
    if !removed.is_empty() {
        *last_version = version + 1;
        let cleanup_version = (version + 1).to_string();
        if let Err(e) = step
            .publish_clusters(
                &dir.path,
                &cleanup_version,
                &prepared.clusters,
                &removed,
                false,
            )
            .await
        {
            let e = report(&e);
            tracing::warn!("routes are live, but removing unused clusters failed: {e}");
            cleanup_warning = Some(e);
        }
    }
    let cleanup_ms = ms(t);
    if let Ok(mut last) = dir.validated.lock() {
        *last = Some(config.clone());
    }

    Ok(PublishReport {
        version: version_text,
        validated: !weights_only,
        validate_ms,
        cds_ms,
        rds_live_ms,
        cleanup_ms,
        total_ms: ms(started),
        added_clusters: added,
        removed_clusters: removed,
        cleanup_warning,
    })
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
