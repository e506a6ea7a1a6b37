//! Opening the target a `meshcd.yaml` configures (`envoy`, `gcp`, `kubernetes`, `render`), for
//! the commands that act on it (`plan --target`, `apply`, `run`).

use std::sync::Arc;

use super::{cannot_run, Failure};
use crate::daemon::{Config, ReconcilerOptions};
use crate::store::{state_path_in, Store};
use crate::target::envoy::EnvoyTarget;
use crate::target::gcp::{GcpRoutes, GcpTarget};
use crate::target::kubernetes::{ClusterResources, KubernetesTarget};
use crate::target::render::{RenderDir, RenderTarget};
use crate::target::EnvoyTargetOptions;

/// Runs `$body` with `$target` bound to the target `$config` configures (opened; `$manage`:
/// whether a configured Envoy may be started and supervised). Evaluates to `Err` when no target
/// is configured or it cannot be opened.
#[macro_export]
macro_rules! with_target {
    ($config:expr, $manage:expr, $target:ident => $body:expr) => {{
        let config: &$crate::daemon::Config = $config;
        match config.target.kind() {
            Some("envoy") => {
                let $target = $crate::commands::targets::open_envoy(config, $manage).await?;
                $body
            }
            Some("gcp") => {
                let $target = $crate::commands::targets::open_gcp(config)?;
                $body
            }
            Some("kubernetes") => {
                let $target = $crate::commands::targets::open_kubernetes(config).await?;
                $body
            }
            Some("render") => {
                let $target = $crate::commands::targets::open_render(config)?;
                $body
            }
            _ => Err($crate::commands::targets::no_target(config)),
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

/// The Envoy of `target.envoy`.
pub async fn open_envoy(config: &Config, manage: bool) -> Result<EnvoyTarget, Failure> {
    let envoy = config
        .target
        .envoy
        .as_ref()
        .ok_or_else(|| no_target(config))?;
    EnvoyTarget::open(&EnvoyTargetOptions::from_config(envoy, manage))
        .await
        .map_err(cannot_run)
}

/// The Cloud Service Mesh API of `target.gcp` (no request is sent yet).
pub fn open_gcp(config: &Config) -> Result<GcpTarget, Failure> {
    let gcp = config
        .target
        .gcp
        .as_ref()
        .ok_or_else(|| no_target(config))?;
    GcpRoutes::open(gcp).map_err(cannot_run)
}

/// The cluster of `target.kubernetes` (no request is sent yet).
pub async fn open_kubernetes(config: &Config) -> Result<KubernetesTarget, Failure> {
    let kubernetes = config
        .target
        .kubernetes
        .as_ref()
        .ok_or_else(|| no_target(config))?;
    ClusterResources::open(kubernetes).await.map_err(cannot_run)
}

/// The folder of `target.render`.
pub fn open_render(config: &Config) -> Result<RenderTarget, Failure> {
    let render = config
        .target
        .render
        .as_ref()
        .ok_or_else(|| no_target(config))?;
    Ok(RenderDir::target(&render.dir))
}

/// The reconciler options of a configuration (`self_heal` as given).
pub fn reconciler_options(config: &Config, self_heal: bool) -> ReconcilerOptions {
    ReconcilerOptions {
        repo: config.repo.clone(),
        rev: config.rev.clone(),
        path: config.path.clone(),
        cache_dir: config.cache_dir(),
        self_heal,
        backends: config
            .target
            .envoy
            .as_ref()
            .map(|e| e.backends.clone())
            .unwrap_or_default(),
    }
}

/// Opens the state store of a configuration; `hint` is added to the error (e.g. how to ask a
/// running daemon instead).
pub fn open_store(config: &Config, hint: &str) -> Result<Arc<Store>, Failure> {
    Store::open(state_path_in(&config.state_dir))
        .map(Arc::new)
        .map_err(|e| cannot_run(anyhow::anyhow!("{e}{hint}")))
}
