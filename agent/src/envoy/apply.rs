//! Publishing an [`EnvoyConfig`] to a running Envoy through its watched files: validate, clusters
//! first, then listeners and routes, verify what is served, then remove unused clusters.
//!
//! The contract (ordering, failure at each step, idempotency, cancellation) is in the
//! [module documentation of `envoy`](super).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use super::admin::{regex_escape, AdminClient, Stats};
use super::files::{self, ResourceKind};
use super::process::LogBuffer;
use super::EnvoyError;
use crate::errors::report;

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
    let prepared = prepare(config, &dir.path)?;

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
        && meshcd_core::envoy::weights_are_valid(&config.route_config);
    if !weights_only {
        validate(&dir.envoy_binary, &prepared, options.validate_timeout).await?;
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

/// The configuration as it will be written: `@type`s added, RDS pointed at `rds.yaml`,
/// `validate_clusters` on.
#[derive(Debug)]
struct Prepared {
    listeners: Vec<Json>,
    clusters: BTreeMap<String, Json>,
    route_config: Option<Json>,
    route_name: Option<String>,
    listener_names: Vec<String>,
}

fn invalid(reason: impl Into<String>) -> EnvoyError {
    EnvoyError::Invalid {
        reason: reason.into(),
    }
}

fn prepare(config: &EnvoyConfig, dir: &Path) -> Result<Prepared, EnvoyError> {
    let (route_config, route_name) = match &config.route_config {
        Json::Null => (None, None),
        Json::Object(map) => {
            let name = map
                .get("name")
                .and_then(Json::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid("the route configuration has no name"))?
                .to_string();
            let mut map = map.clone();
            // Without it a route naming a missing cluster is accepted and its share gets 503.
            map.entry("validate_clusters").or_insert(Json::Bool(true));
            let typed = files::with_type(Json::Object(map), ResourceKind::Routes.type_url());
            (Some(typed), Some(name))
        }
        other => {
            return Err(invalid(format!(
                "the route configuration is not an object: {other}"
            )))
        }
    };
    let mut clusters = BTreeMap::new();
    for (name, cluster) in &config.clusters {
        let Json::Object(map) = cluster else {
            return Err(invalid(format!("cluster {name} is not an object")));
        };
        let mut map = map.clone();
        match map.get("name").and_then(Json::as_str) {
            None => {
                map.insert("name".into(), Json::String(name.clone()));
            }
            Some(inner) if inner != name => {
                return Err(invalid(format!(
                    "cluster {name} is named {inner:?} inside its definition"
                )))
            }
            Some(_) => {}
        }
        let typed = files::with_type(Json::Object(map), ResourceKind::Clusters.type_url());
        clusters.insert(name.clone(), typed);
    }
    let rds = match &route_name {
        Some(name) => Some(json!({
            "route_config_name": name,
            "config_source": files::config_source(dir, ResourceKind::Routes)?,
        })),
        None => None,
    };
    let mut listeners = Vec::with_capacity(config.listeners.len());
    let mut listener_names = Vec::new();
    for listener in &config.listeners {
        let name = listener
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid("a listener has no name"))?;
        listener_names.push(name.to_string());
        let mut listener = files::with_type(listener.clone(), ResourceKind::Listeners.type_url());
        point_rds(&mut listener, rds.as_ref(), name)?;
        listeners.push(listener);
    }
    Ok(Prepared {
        listeners,
        clusters,
        route_config,
        route_name,
        listener_names,
    })
}

fn is_http_connection_manager(value: &serde_json::Map<String, Json>) -> bool {
    value
        .get("@type")
        .and_then(Json::as_str)
        .is_some_and(|t| t.ends_with(".HttpConnectionManager"))
}

/// Points every HTTP connection manager in `value` that does not carry its routes inline at
/// `rds`.
fn point_rds(value: &mut Json, rds: Option<&Json>, listener: &str) -> Result<(), EnvoyError> {
    match value {
        Json::Object(map) => {
            if is_http_connection_manager(map) && !map.contains_key("route_config") {
                let rds = rds.ok_or_else(|| {
                    invalid(format!(
                        "listener {listener} needs routes (RDS) but there is no route configuration"
                    ))
                })?;
                map.remove("scoped_routes");
                map.insert("rds".into(), rds.clone());
                return Ok(());
            }
            for child in map.values_mut() {
                point_rds(child, rds, listener)?;
            }
        }
        Json::Array(items) => {
            for child in items {
                point_rds(child, rds, listener)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Inlines `route_config` where an HTTP connection manager uses RDS (for the static bootstrap).
fn inline_rds(value: &mut Json, route_config: &Json) {
    match value {
        Json::Object(map) => {
            if is_http_connection_manager(map) && map.remove("rds").is_some() {
                map.insert("route_config".into(), route_config.clone());
                return;
            }
            for child in map.values_mut() {
                inline_rds(child, route_config);
            }
        }
        Json::Array(items) => {
            for child in items {
                inline_rds(child, route_config);
            }
        }
        _ => {}
    }
}

/// `resource` without its top-level `@type` (a static resource is not an `Any`).
fn untyped(resource: &Json) -> Json {
    let mut resource = resource.clone();
    if let Json::Object(map) = &mut resource {
        map.remove("@type");
    }
    resource
}

/// The static bootstrap `envoy --mode validate` checks: the new resources inlined.
fn validation_bootstrap(prepared: &Prepared) -> Json {
    let route_config = prepared.route_config.as_ref().map(untyped);
    let listeners: Vec<Json> = prepared
        .listeners
        .iter()
        .map(|listener| {
            let mut listener = untyped(listener);
            if let Some(route_config) = &route_config {
                inline_rds(&mut listener, route_config);
            }
            listener
        })
        .collect();
    let clusters: Vec<Json> = prepared.clusters.values().map(untyped).collect();
    json!({
        "node": { "id": "meshcd-validate", "cluster": "meshcd" },
        "static_resources": { "listeners": listeners, "clusters": clusters },
    })
}

/// Runs `envoy --mode validate` on the static form of `prepared`.
async fn validate(binary: &Path, prepared: &Prepared, timeout: Duration) -> Result<(), EnvoyError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "meshcd-validate-{}-{}.json",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let text = serde_json::to_vec(&validation_bootstrap(prepared))
        .map_err(|e| invalid(format!("cannot serialize the configuration: {e}")))?;
    // Removed however this function ends, cancellation included.
    let _remove = RemoveOnDrop(path.clone());
    fs_err::write(&path, text).map_err(|e| EnvoyError::io(&path, e))?;
    let run = tokio::process::Command::new(binary)
        .arg("--mode")
        .arg("validate")
        .arg("-c")
        .arg(&path)
        .args(["--disable-hot-restart", "--log-level", "warn"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, run).await;
    let output = match output {
        Err(_) => {
            return Err(EnvoyError::TimedOut {
                reason: format!(
                    "`{} --mode validate` did not finish within {timeout:?}",
                    binary.display()
                ),
            })
        }
        Ok(Err(e)) => {
            return Err(EnvoyError::Spawn {
                binary: binary.to_path_buf(),
                message: format!("--mode validate: {e}"),
            })
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(invalid(validation_reason(
        &stderr,
        &output.status.to_string(),
    )))
}

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Envoy's reason from `--mode validate` output.
fn validation_reason(stderr: &str, status: &str) -> String {
    const MARKER: &str = "error initializing configuration '";
    for line in stderr.lines().rev() {
        if let Some(at) = line.find(MARKER) {
            let rest = &line[at + MARKER.len()..];
            return match rest.find("': ") {
                Some(end) => rest[end + 3..].trim().to_string(),
                None => rest.trim().to_string(),
            };
        }
    }
    let important: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("[critical]") || l.contains("[error]"))
        .collect();
    let lines = if important.is_empty() {
        let all: Vec<&str> = stderr.lines().collect();
        all[all.len().saturating_sub(5)..].to_vec()
    } else {
        important
    };
    format!(
        "envoy --mode validate exited with {status}: {}",
        lines.join(" | ")
    )
}

/// The files on disk before a publish.
#[derive(Debug)]
struct Previous {
    raw: Vec<(ResourceKind, Option<Vec<u8>>)>,
    versions: Vec<u64>,
    clusters: Vec<Json>,
    listeners: Vec<Json>,
    route_config: Option<Json>,
}

impl Previous {
    fn read(dir: &Path) -> Result<Self, EnvoyError> {
        let mut raw = Vec::new();
        let mut versions = Vec::new();
        let mut clusters = Vec::new();
        let mut route_config = None;
        let mut listeners = Vec::new();
        for kind in ResourceKind::ALL {
            raw.push((kind, files::read_raw(&kind.path(dir))?));
            if let Some(file) = files::read_resources(dir, kind)? {
                versions.push(file.version_info.parse().unwrap_or(0));
                match kind {
                    ResourceKind::Clusters => clusters = file.resources,
                    ResourceKind::Routes => route_config = file.resources.into_iter().next(),
                    ResourceKind::Listeners => listeners = file.resources,
                }
            }
        }
        Ok(Self {
            raw,
            versions,
            clusters,
            listeners,
            route_config,
        })
    }

    fn max_version(&self) -> u64 {
        self.versions.iter().copied().max().unwrap_or(0)
    }

    fn cluster_names(&self) -> BTreeSet<String> {
        self.clusters
            .iter()
            .filter_map(|c| Some(c.get("name")?.as_str()?.to_string()))
            .collect()
    }

    /// Puts the previous files back: routes and listeners first, then clusters (a route must not
    /// outlive its cluster).
    fn restore(&self, dir: &Path) -> Result<(), EnvoyError> {
        for kind in [
            ResourceKind::Routes,
            ResourceKind::Listeners,
            ResourceKind::Clusters,
        ] {
            let bytes = self
                .raw
                .iter()
                .find(|(k, _)| *k == kind)
                .and_then(|(_, b)| b.as_ref());
            match bytes {
                Some(bytes) => files::write_atomic(&kind.path(dir), bytes)?,
                None => files::write_resources(dir, kind, "0", &[])?,
            }
        }
        Ok(())
    }
}

/// Restores the previous files when a publish fails or is cancelled (dropped) after writing.
struct RestoreGuard<'a> {
    dir: &'a Path,
    previous: &'a Previous,
    armed: bool,
}

impl RestoreGuard<'_> {
    /// Restores now and returns `error`, extended if restoring failed too.
    fn fail(&mut self, error: EnvoyError) -> EnvoyError {
        self.armed = false;
        match self.previous.restore(self.dir) {
            Ok(()) => error,
            Err(restore) => {
                let reason = format!(
                    "{}; restoring the previous files failed too: {}",
                    report(&error),
                    report(&restore)
                );
                match error {
                    EnvoyError::Rejected { .. } => EnvoyError::Rejected { reason },
                    EnvoyError::TimedOut { .. } => EnvoyError::TimedOut { reason },
                    _ => EnvoyError::Io {
                        path: self.dir.to_path_buf(),
                        source: std::io::Error::other(reason),
                    },
                }
            }
        }
    }
}

impl Drop for RestoreGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            tracing::warn!("publish cancelled: restoring the previous Envoy configuration files");
            if let Err(e) = self.previous.restore(self.dir) {
                tracing::error!(
                    "cannot restore the previous Envoy configuration files: {}",
                    report(&e)
                );
            }
        }
    }
}

/// What the waiting steps share.
struct Step<'a> {
    admin: &'a AdminClient,
    logs: Option<&'a LogBuffer>,
    log_mark: u64,
    options: &'a PublishOptions,
}

/// A counter that must not rise, and the one that shows the update was processed.
#[derive(Debug, Default, Clone, Copy)]
struct UpdateCounters {
    attempt: u64,
    rejected: u64,
    failure: u64,
}

impl UpdateCounters {
    fn read(stats: &Stats, prefix_suffix: &str) -> Self {
        Self {
            attempt: stats.sum_suffix(&format!("{prefix_suffix}.update_attempt")),
            rejected: stats.sum_suffix(&format!("{prefix_suffix}.update_rejected")),
            failure: stats.sum_suffix(&format!("{prefix_suffix}.update_failure")),
        }
    }

    /// A description of a rejection since `before`, if any.
    fn rejection(&self, before: &Self, what: &str) -> Option<String> {
        let mut parts = Vec::new();
        if self.rejected > before.rejected {
            parts.push(format!(
                "{what}.update_rejected rose from {} to {}",
                before.rejected, self.rejected
            ));
        }
        if self.failure > before.failure {
            parts.push(format!(
                "{what}.update_failure rose from {} to {}",
                before.failure, self.failure
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

const CDS: &str = "cluster_manager.cds";
const LDS: &str = "listener_manager.lds";

impl Step<'_> {
    /// The relevant Envoy log lines since the publish started.
    fn log_excerpt(&self) -> String {
        let Some(logs) = self.logs else {
            return String::new();
        };
        let relevant: Vec<String> = logs
            .since(self.log_mark)
            .into_iter()
            .filter(|l| {
                l.contains("rejected")
                    || l.contains("[warning]")
                    || l.contains("[error]")
                    || l.contains("[critical]")
            })
            .collect();
        if relevant.is_empty() {
            return String::new();
        }
        let tail = &relevant[relevant.len().saturating_sub(10)..];
        format!("\nEnvoy log:\n{}", tail.join("\n"))
    }

    fn rejected(&self, what: String) -> EnvoyError {
        EnvoyError::Rejected {
            reason: format!("{what}{}", self.log_excerpt()),
        }
    }

    fn timed_out(&self, what: String) -> EnvoyError {
        EnvoyError::TimedOut {
            reason: format!("{what}{}", self.log_excerpt()),
        }
    }

    /// Writes `clusters` and waits until Envoy processed the file, all of them are active and
    /// none of `gone` is. With `unchanged` (the file already holds `clusters`), writes only if
    /// some of them are not active.
    async fn publish_clusters(
        &self,
        dir: &Path,
        version: &str,
        clusters: &BTreeMap<String, Json>,
        gone: &[String],
        unchanged: bool,
    ) -> Result<(), EnvoyError> {
        if unchanged {
            let active = self.admin.active_clusters().await?;
            if clusters.keys().all(|name| active.contains_key(name)) {
                return Ok(());
            }
        }
        let filter = format!("^{}\\.update_", regex_escape(CDS));
        let before = UpdateCounters::read(&self.admin.stats(&filter).await?, CDS);
        let resources: Vec<Json> = clusters.values().cloned().collect();
        files::write_resources(dir, ResourceKind::Clusters, version, &resources)?;
        let deadline = Instant::now() + self.options.cds_timeout;
        loop {
            let now = UpdateCounters::read(&self.admin.stats(&filter).await?, CDS);
            if let Some(rejection) = now.rejection(&before, CDS) {
                return Err(self.rejected(format!("clusters (version {version}): {rejection}")));
            }
            let mut waiting_for = Vec::new();
            if now.attempt > before.attempt {
                let active = self.admin.active_clusters().await?;
                waiting_for.extend(
                    clusters
                        .keys()
                        .filter(|name| !active.contains_key(*name))
                        .map(|name| format!("{name} (not active)")),
                );
                waiting_for.extend(
                    gone.iter()
                        .filter(|name| active.contains_key(*name))
                        .map(|name| format!("{name} (still active)")),
                );
                if waiting_for.is_empty() {
                    return Ok(());
                }
            } else {
                waiting_for.push(format!(
                    "Envoy to read {}",
                    ResourceKind::Clusters.file_name()
                ));
            }
            if Instant::now() >= deadline {
                return Err(self.timed_out(format!(
                    "clusters (version {version}) not applied within {:?}: waiting for {}",
                    self.options.cds_timeout,
                    waiting_for.join(", ")
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Writes `rds.yaml` then (if `write_listeners`) `lds.yaml` and waits until Envoy serves
    /// them; returns the milliseconds from the first rename until then. `rds.yaml` is always
    /// written, even unchanged: its reload is what verification waits for.
    async fn publish_routes(
        &self,
        dir: &Path,
        version: &str,
        prepared: &Prepared,
        write_listeners: bool,
    ) -> Result<f64, EnvoyError> {
        let rds_stat = prepared
            .route_name
            .as_ref()
            .map(|name| format!(".rds.{name}"));
        let filter = match &prepared.route_name {
            Some(name) => format!(
                "rds\\.{}\\.update_|^{}\\.update_",
                regex_escape(name),
                regex_escape(LDS)
            ),
            None => format!("^{}\\.update_", regex_escape(LDS)),
        };
        let stats = self.admin.stats(&filter).await?;
        let lds_before = UpdateCounters::read(&stats, LDS);
        let rds_before = rds_stat.as_deref().map(|s| UpdateCounters::read(&stats, s));
        let expected = prepared.route_config.as_ref().map(RouteShape::of);

        let routes: Vec<Json> = prepared.route_config.iter().cloned().collect();
        files::write_resources(dir, ResourceKind::Routes, version, &routes)?;
        let renamed = Instant::now();
        if write_listeners {
            files::write_resources(dir, ResourceKind::Listeners, version, &prepared.listeners)?;
        }

        let deadline = renamed + self.options.verify_timeout;
        let mut served_summary = String::from("nothing read yet");
        loop {
            let stats = self.admin.stats(&filter).await?;
            let lds_now = UpdateCounters::read(&stats, LDS);
            if let Some(rejection) = lds_now.rejection(&lds_before, LDS) {
                return Err(self.rejected(format!("listeners (version {version}): {rejection}")));
            }
            let processed = match (&rds_stat, &rds_before) {
                (Some(stat), Some(before)) => {
                    let now = UpdateCounters::read(&stats, stat);
                    let attempt = format!("{stat}.update_attempt");
                    let what = stats
                        .values
                        .keys()
                        .find(|name| name.ends_with(&attempt))
                        .map_or_else(
                            || format!("http.<prefix>{stat}"),
                            |name| name.trim_end_matches(".update_attempt").to_string(),
                        );
                    if let Some(rejection) = now.rejection(before, &what) {
                        return Err(
                            self.rejected(format!("routes (version {version}): {rejection}"))
                        );
                    }
                    now.attempt > before.attempt && lds_now.attempt > lds_before.attempt
                }
                _ => lds_now.attempt > lds_before.attempt,
            };
            if processed {
                let routes_ok = match (&expected, &prepared.route_name) {
                    (Some(expected), Some(name)) => {
                        let served = self.served_route(name).await?;
                        served_summary = served.as_ref().map_or_else(
                            || format!("no route configuration {name}"),
                            |s| s.summary(),
                        );
                        served.as_ref() == Some(expected)
                    }
                    _ => true,
                };
                let listeners_ok = if routes_ok {
                    let states = self.admin.listener_states().await?;
                    let waiting: Vec<&String> = prepared
                        .listener_names
                        .iter()
                        .filter(|n| states.get(*n) != Some(&true))
                        .collect();
                    if !waiting.is_empty() {
                        served_summary = format!("listeners not active yet: {waiting:?}");
                    }
                    waiting.is_empty()
                } else {
                    false
                };
                if routes_ok && listeners_ok {
                    return Ok(ms(renamed));
                }
            } else {
                served_summary = "Envoy has not read the new files yet".to_string();
            }
            if Instant::now() >= deadline {
                let expected = expected.as_ref().map_or_else(String::new, |e| e.summary());
                return Err(self.timed_out(format!(
                    "routes (version {version}) not served within {:?}; wanted {expected}; \
                     served {served_summary}",
                    self.options.verify_timeout
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// After a rejected publish and the restore: waits until Envoy serves the previous routes
    /// again (another resource type of the same update may have been taken meanwhile) and says
    /// so in the error.
    async fn confirm_restored(&self, previous: &Previous, error: EnvoyError) -> EnvoyError {
        let (reason, rebuild): (String, fn(String) -> EnvoyError) = match error {
            EnvoyError::Rejected { reason } => (reason, |reason| EnvoyError::Rejected { reason }),
            EnvoyError::TimedOut { reason } => (reason, |reason| EnvoyError::TimedOut { reason }),
            other => return other,
        };
        let Some((name, shape)) = previous.route_config.as_ref().and_then(|rc| {
            let name = rc.get("name")?.as_str()?.to_string();
            Some((name, RouteShape::of(rc)))
        }) else {
            return rebuild(reason);
        };
        let deadline = Instant::now() + self.options.verify_timeout;
        let outcome = loop {
            match self.served_route(&name).await {
                Ok(Some(served)) if served == shape => {
                    break format!("the previous routes ({}) serve again", shape.summary())
                }
                Ok(served) if Instant::now() >= deadline => {
                    break format!(
                        "the previous routes are back on disk, but Envoy serves {}",
                        served.map_or_else(|| "no routes".to_string(), |s| s.summary())
                    )
                }
                Err(e) if Instant::now() >= deadline => {
                    break format!("the previous routes are back on disk ({})", report(&e))
                }
                _ => tokio::time::sleep(self.options.poll_interval).await,
            }
        };
        let reason = match reason.find("\nEnvoy log:") {
            Some(at) => format!("{}; {outcome}{}", &reason[..at], &reason[at..]),
            None => format!("{reason}; {outcome}"),
        };
        rebuild(reason)
    }

    async fn served_route(&self, name: &str) -> Result<Option<RouteShape>, EnvoyError> {
        let configs = self.admin.config_dump_routes().await?;
        Ok(configs
            .iter()
            .filter_map(|c| c.get("route_config"))
            .find(|rc| rc.get("name").and_then(Json::as_str) == Some(name))
            .map(RouteShape::of))
    }
}

/// What verification compares between the written and the served route configuration: the
/// virtual hosts (name, domains) and, per route, its destination clusters and weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteShape {
    vhosts: BTreeMap<String, (BTreeSet<String>, Vec<Target>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Cluster(String),
    Weighted(Vec<(String, u64)>),
    /// Redirects, direct responses, header-named clusters: compared by kind only.
    Other(String),
}

impl RouteShape {
    /// The shape of a `RouteConfiguration` in Envoy v3 JSON.
    pub fn of(route_config: &Json) -> Self {
        let mut vhosts = BTreeMap::new();
        for vhost in route_config
            .get("virtual_hosts")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = vhost
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let domains = vhost
                .get("domains")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_string))
                .collect();
            let routes = vhost
                .get("routes")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .map(Target::of)
                .collect();
            vhosts.insert(name, (domains, routes));
        }
        Self { vhosts }
    }

    /// A one-line description, e.g. `svc: [a=80 b=20]`.
    pub fn summary(&self) -> String {
        self.vhosts
            .iter()
            .map(|(name, (_, routes))| {
                let routes: Vec<String> = routes.iter().map(Target::summary).collect();
                format!("{name}: [{}]", routes.join("; "))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Target {
    fn of(route: &Json) -> Self {
        if let Some(action) = route.get("route") {
            if let Some(cluster) = action.get("cluster").and_then(Json::as_str) {
                return Self::Cluster(cluster.to_string());
            }
            if let Some(weighted) = action.get("weighted_clusters") {
                let clusters = weighted
                    .get("clusters")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let name = c.get("name").and_then(Json::as_str).unwrap_or("");
                        let weight = match c.get("weight") {
                            Some(Json::Number(n)) => n.as_u64().unwrap_or(0),
                            Some(Json::String(s)) => s.parse().unwrap_or(0),
                            _ => 0,
                        };
                        (name.to_string(), weight)
                    })
                    .collect();
                return Self::Weighted(clusters);
            }
            return Self::Other("route".to_string());
        }
        for kind in [
            "redirect",
            "direct_response",
            "filter_action",
            "non_forwarding_action",
        ] {
            if route.get(kind).is_some() {
                return Self::Other(kind.to_string());
            }
        }
        Self::Other("unknown".to_string())
    }

    fn summary(&self) -> String {
        match self {
            Self::Cluster(name) => name.clone(),
            Self::Weighted(clusters) => clusters
                .iter()
                .map(|(name, weight)| format!("{name}={weight}"))
                .collect::<Vec<_>>()
                .join(" "),
            Self::Other(kind) => kind.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hcm() -> Json {
        json!({
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "meshcd",
                "rds": { "route_config_name": "whatever" },
                "http_filters": [],
            }
        })
    }

    fn config() -> EnvoyConfig {
        EnvoyConfig {
            listeners: vec![json!({"name": "main", "filter_chains": [{"filters": [hcm()]}]})],
            clusters: [("a".to_string(), json!({"connect_timeout": "1s"}))].into(),
            route_config: json!({"name": "routes", "virtual_hosts": [{
                "name": "svc", "domains": ["svc"],
                "routes": [{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
                    {"name": "a", "weight": 100}]}}}]}]}),
        }
    }

    #[test]
    fn prepare_points_rds_at_the_file_and_types_resources() {
        let prepared = prepare(&config(), Path::new("/cfg")).expect("prepare");
        let rds = &prepared.listeners[0]["filter_chains"][0]["filters"][0]["typed_config"]["rds"];
        assert_eq!(rds["route_config_name"], "routes");
        assert_eq!(
            rds["config_source"]["path_config_source"]["path"],
            "/cfg/rds.yaml"
        );
        assert_eq!(
            prepared.listeners[0]["@type"],
            ResourceKind::Listeners.type_url()
        );
        assert_eq!(prepared.clusters["a"]["name"], "a");
        let route_config = prepared.route_config.as_ref().expect("routes");
        assert_eq!(route_config["validate_clusters"], true);

        let bootstrap = validation_bootstrap(&prepared);
        let listener = &bootstrap["static_resources"]["listeners"][0];
        assert!(listener.get("@type").is_none());
        let typed = &listener["filter_chains"][0]["filters"][0]["typed_config"];
        assert!(typed.get("rds").is_none());
        assert_eq!(typed["route_config"]["name"], "routes");
        assert!(typed["route_config"].get("@type").is_none());
    }

    #[test]
    fn prepare_rejects_malformed_input() {
        let mut bad = config();
        bad.route_config = Json::Null;
        assert!(matches!(
            prepare(&bad, Path::new("/cfg")),
            Err(EnvoyError::Invalid { .. })
        ));
        let mut bad = config();
        bad.clusters.insert("b".into(), json!({"name": "c"}));
        assert!(matches!(
            prepare(&bad, Path::new("/cfg")),
            Err(EnvoyError::Invalid { .. })
        ));
    }

    #[test]
    fn shapes_compare_weights_and_ignore_field_order() {
        let written = config().route_config;
        let served = json!({"@type": "x", "name": "routes", "validate_clusters": true, "virtual_hosts": [{
            "routes": [{"route": {"weighted_clusters": {"clusters": [{"weight": 100, "name": "a"}]}},
                        "match": {"prefix": "/"}}],
            "domains": ["svc"], "name": "svc"}]});
        assert_eq!(RouteShape::of(&written), RouteShape::of(&served));
        assert_eq!(RouteShape::of(&written).summary(), "svc: [a=100]");
        let other = json!({"virtual_hosts": [{"name": "svc", "domains": ["svc"], "routes": [
            {"route": {"weighted_clusters": {"clusters": [{"name": "a", "weight": 99}]}}}]}]});
        assert_ne!(RouteShape::of(&written), RouteShape::of(&other));
    }

    #[test]
    fn validation_reason_takes_envoys_message() {
        let stderr = "[info] loading\n[2026][1][critical][main] [server.cc:76] error initializing configuration '/tmp/x.json': route: unknown weighted cluster 'nope'\n";
        assert_eq!(
            validation_reason(stderr, "exit status: 1"),
            "route: unknown weighted cluster 'nope'"
        );
        assert!(validation_reason("boom\n", "exit status: 1").contains("boom"));
    }
}
