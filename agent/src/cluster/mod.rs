//! A Kubernetes client for the Istio and Gateway API kinds meshcd manages: read, list, apply
//! (server-side apply) and delete custom resources in a cluster.
//!
//! - [`kinds`]: which meshcd [`Kind`](meshcd_core::model::Kind) lives at which
//!   group/version/plural ([`api_resource`]).
//! - [`config`]: [`ClusterOptions`], and loading a kubeconfig (with a context) or the in-cluster
//!   configuration from them.
//! - [`client`]: [`ClusterClient`], which gets, lists, applies and deletes.
//!
//! Everything meshcd applies carries the label [`MANAGED_BY_LABEL`]`=`[`MANAGED_BY_VALUE`], which
//! is how [`ClusterClient::list_managed`] finds what meshcd created. Applies are server-side
//! applies under one field manager (`meshcd` unless told otherwise): the API server tracks which
//! manager owns which field, and an apply that would change a field another manager (say
//! `kubectl`) set is refused with [`ClusterError::Conflict`] unless conflicts are forced.

pub mod client;
pub mod config;
pub mod kinds;

pub use client::ClusterClient;
pub use config::ClusterOptions;
pub use kinds::{api_resource, cluster_kinds};

/// The label meshcd puts on every object it applies.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The value of [`MANAGED_BY_LABEL`] on objects meshcd applies.
pub const MANAGED_BY_VALUE: &str = "meshcd";

/// The field manager meshcd applies as unless told otherwise.
pub const DEFAULT_FIELD_MANAGER: &str = "meshcd";

/// What can go wrong talking to a cluster.
///
/// `resource` strings name the object as `Kind/namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig or in-cluster configuration could not be loaded or used.
    #[error("Kubernetes configuration: {0}")]
    Config(String),
    /// A server-side apply was refused because another field manager owns fields it would
    /// change (HTTP 409).
    #[error(
        "{resource}: server-side apply conflict: {message}; another field manager owns these \
         fields: to take them over, run with `--force-conflicts` (or set `forceConflicts: true`)"
    )]
    Conflict {
        /// The object applied.
        resource: String,
        /// The server's message: the conflicting fields and their managers.
        message: String,
    },
    /// The cluster does not serve the kind: its CustomResourceDefinition is not installed (or
    /// does not serve that version).
    #[error("{kind} is not installed in the cluster (no CustomResourceDefinition serves it)")]
    KindNotInstalled {
        /// The kind, with the apiVersion asked for.
        kind: String,
    },
    /// The kind is not one meshcd applies to a Kubernetes cluster (networkservices and meshcd's
    /// own kinds, for instance).
    #[error("{kind} is not a kind meshcd manages in a Kubernetes cluster")]
    UnsupportedKind {
        /// The kind.
        kind: String,
    },
    /// The object to apply is not one the request can be made with (no name, a kind that does
    /// not match, ...); nothing was sent.
    #[error("{resource}: {message}")]
    Invalid {
        /// The object, as far as it could be named.
        resource: String,
        /// What is wrong.
        message: String,
    },
    /// The API server answered with an error status.
    #[error("{resource}: the API server answered {status}: {message}{}", status_hint(*status))]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The object or collection asked for.
        resource: String,
        /// The server's message.
        message: String,
    },
    /// The API server could not be reached, or its answer could not be read.
    #[error("Kubernetes API: {0}")]
    Transport(String),
}

impl ClusterError {
    /// True when trying again later may succeed: transport failures, 429 and 5xx answers.
    /// Conflicts, other 4xx answers and configuration errors need a change first.
    pub fn retryable(&self) -> bool {
        match self {
            ClusterError::Transport(_) => true,
            ClusterError::Api { status, .. } => *status == 429 || *status >= 500,
            ClusterError::Config(_)
            | ClusterError::Conflict { .. }
            | ClusterError::KindNotInstalled { .. }
            | ClusterError::UnsupportedKind { .. }
            | ClusterError::Invalid { .. } => false,
        }
    }
}

pub(crate) use crate::errors::report as chain;

/// A hint for the statuses whose cause is usually the configuration.
fn status_hint(status: u16) -> &'static str {
    match status {
        401 => " (the API server rejected the credentials: check the kubeconfig's user or token)",
        403 => " (the credentials are not allowed to do this: check RBAC)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as StdError;
    use std::fmt;

    #[test]
    fn chain_skips_repeated_sources() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "outer: {}", self.0)
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let err = Outer(std::io::Error::other("refused"));
        assert_eq!(chain(&err), "outer: refused");
    }
}
