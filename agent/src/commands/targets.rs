//! Opening the target a `meshcd.yaml` configures (`envoy`, `gcp`, `kubernetes`, `render`), for
//! the commands that act on it (`plan --target`, `apply`, `run`).

use std::sync::Arc;

use super::{cannot_run, Failure};
use crate::config::{Config, EnvoyConfig, TargetConfig};
use crate::engine::check::{read_schemas, PolicyOptions, SchemaSet};
use crate::engine::ReconcilerOptions;
use crate::errors::report;
use crate::store::{state_path_in, Store};
use crate::targets::envoy::EnvoyTarget;
use crate::targets::EnvoyTargetOptions;

/// Runs `$body` with `$target` bound to the target `$config` configures (opened; `$manage`:
/// whether a configured Envoy may be started and supervised). Evaluates to `Err` when no target
/// is configured or it cannot be opened.
#[macro_export]
macro_rules! with_target {
    ($config:expr, $manage:expr, $target:ident => $body:expr) => {{
        let config: &$crate::config::Config = $config;
        match &config.target {
            Some($crate::config::TargetConfig::Envoy(envoy)) => {
                let $target = $crate::commands::targets::open_envoy(envoy, $manage).await?;
                $body
            }
            Some($crate::config::TargetConfig::Gcp(gcp)) => {
                let $target = $crate::targets::gcp::GcpRoutes::open(gcp)
                    .map_err($crate::commands::cannot_run)?;
                $body
            }
            Some($crate::config::TargetConfig::Kubernetes(kubernetes)) => {
                let $target = $crate::targets::kubernetes::ClusterResources::open(kubernetes)
                    .await
                    .map_err($crate::commands::cannot_run)?;
                $body
            }
            Some($crate::config::TargetConfig::Render(render)) => {
                let $target = $crate::targets::render::RenderDir::target(&render.dir);
                $body
            }
            None => Err($crate::commands::targets::no_target(config)),
        }
    }};
}

/// The error for a configuration without a target.
pub fn no_target(config: &Config) -> Failure {
    cannot_run(anyhow::anyhow!(
        "{} has no `target` (envoy, gcp, kubernetes or render): nothing to apply to",
        config.file.display()
    ))
}

/// The Envoy of `target.envoy` (`manage`: whether it may be started and supervised).
pub async fn open_envoy(envoy: &EnvoyConfig, manage: bool) -> Result<EnvoyTarget, Failure> {
    EnvoyTarget::open(&EnvoyTargetOptions::from_config(envoy, manage))
        .await
        .map_err(cannot_run)
}

/// The schemas reconciles check documents against: the built-in ones and the CRDs of `crds`.
/// A CRD that cannot be read or used stops here, with its file and field.
pub fn config_schemas(config: &Config) -> Result<Arc<SchemaSet>, Failure> {
    let schemas = read_schemas(&PolicyOptions {
        crd_paths: config.crds.clone(),
        ..Default::default()
    })
    .map_err(|e| cannot_run(anyhow::Error::new(e).context("crds")))?;
    if let Some(problem) = schemas.problems.first() {
        return Err(cannot_run(anyhow::anyhow!(
            "crds: {problem}{}",
            match schemas.problems.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            }
        )));
    }
    Ok(Arc::new(schemas))
}

/// The reconciler options of a configuration (`self_heal` as given), with its schemas
/// ([`config_schemas`]).
pub fn reconciler_options(config: &Config, self_heal: bool) -> Result<ReconcilerOptions, Failure> {
    let schemas = config_schemas(config)?;
    Ok(ReconcilerOptions {
        repo: config.repo.clone(),
        rev: config.rev.clone(),
        path: config.path.clone(),
        cache_dir: config.cache_dir(),
        self_heal,
        backends: config
            .target
            .as_ref()
            .and_then(TargetConfig::envoy)
            .map(|e| e.backends.clone())
            .unwrap_or_default(),
        schemas,
    })
}

/// Opens the state store of a configuration; `hint` is added to the error (e.g. how to ask a
/// running daemon instead).
pub fn open_store(config: &Config, hint: &str) -> Result<Arc<Store>, Failure> {
    Store::open(state_path_in(&config.state_dir))
        .map(Arc::new)
        .map_err(|e| cannot_run(anyhow::anyhow!("{}{hint}", report(&e))))
}
