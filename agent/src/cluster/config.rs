//! [`ClusterOptions`] and loading kube's client configuration from them: a kubeconfig file and
//! context, `KUBECONFIG` / `~/.kube/config`, or the in-cluster service account. Errors say which
//! file and context, and why.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::Config;

use super::{chain, ClusterError, DEFAULT_FIELD_MANAGER};

/// How to reach a cluster and how to apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The kubeconfig file. `None`: `KUBECONFIG` or `~/.kube/config`, and when there is none
    /// the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None` for its `current-context`.
    pub context: Option<String>,
    /// The server-side apply field manager (`meshcd` by default).
    pub field_manager: String,
    /// Take over fields other managers own instead of failing with a conflict.
    pub force_conflicts: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            kubeconfig: None,
            context: None,
            field_manager: DEFAULT_FIELD_MANAGER.to_string(),
            force_conflicts: false,
        }
    }
}

/// The client configuration `options` name.
pub(crate) async fn load_config(options: &ClusterOptions) -> Result<Config, ClusterError> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let (kubeconfig, source) = match &options.kubeconfig {
        Some(path) => {
            let source = format!("kubeconfig {}", path.display());
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| read_error(&source, e))?;
            (kubeconfig, source)
        }
        None if options.context.is_some() => {
            let source = default_kubeconfig();
            let kubeconfig = Kubeconfig::read().map_err(|e| read_error(&source, e))?;
            (kubeconfig, source)
        }
        None => {
            return Config::infer().await.map_err(|e| {
                ClusterError::Config(format!(
                    "no usable {} and not running in a cluster: {}",
                    default_kubeconfig(),
                    chain(&e)
                ))
            })
        }
    };
    check_context(&kubeconfig, options.context.as_deref(), &source)?;
    let at = match &options.context {
        Some(context) => format!("{source}, context \"{context}\""),
        None => source,
    };
    Config::from_custom_kubeconfig(kubeconfig, &kube_options)
        .await
        .map_err(|e| ClusterError::Config(format!("{at}: {}", chain(&e))))
}

/// Where kube looks for a kubeconfig when none is named.
fn default_kubeconfig() -> String {
    match std::env::var_os("KUBECONFIG") {
        Some(paths) if !paths.is_empty() => {
            format!("kubeconfig {} (KUBECONFIG)", paths.to_string_lossy())
        }
        _ => "kubeconfig ~/.kube/config".to_string(),
    }
}

/// A kubeconfig that could not be read or parsed.
fn read_error(source: &str, err: KubeconfigError) -> ClusterError {
    ClusterError::Config(match err {
        KubeconfigError::ReadConfig(io, path) => {
            format!("cannot read kubeconfig {}: {io}", path.display())
        }
        KubeconfigError::FindPath => {
            format!("cannot find the {source}: no home folder")
        }
        other => format!("cannot load {source}: {}", chain(&other)),
    })
}

/// Checks that the context asked for (or the current context) is in the kubeconfig.
fn check_context(
    kubeconfig: &Kubeconfig,
    context: Option<&str>,
    source: &str,
) -> Result<(), ClusterError> {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let wanted = match context {
        Some(context) => context,
        None => match kubeconfig.current_context.as_deref() {
            Some(current) if !current.is_empty() => current,
            _ => {
                return Err(ClusterError::Config(format!(
                    "{source} sets no current-context: choose a context (it has: {})",
                    list(&names)
                )))
            }
        },
    };
    if names.contains(&wanted) {
        Ok(())
    } else {
        Err(ClusterError::Config(format!(
            "{source} has no context \"{wanted}\" (it has: {})",
            list(&names)
        )))
    }
}

/// `a, b, c`, or `none`.
fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}
