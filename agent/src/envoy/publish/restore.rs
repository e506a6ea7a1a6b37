//! The files on disk before a publish, and putting them back when the publish fails or is
//! cancelled.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as Json;

use crate::envoy::files::{self, ResourceKind};
use crate::envoy::EnvoyError;
use crate::errors::report;

/// The files on disk before a publish.
#[derive(Debug)]
pub(super) struct Previous {
    pub(super) raw: Vec<(ResourceKind, Option<Vec<u8>>)>,
    pub(super) versions: Vec<u64>,
    pub(super) clusters: Vec<Json>,
    pub(super) listeners: Vec<Json>,
    pub(super) route_config: Option<Json>,
}

impl Previous {
    pub(super) fn read(dir: &Path) -> Result<Self, EnvoyError> {
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

    pub(super) fn max_version(&self) -> u64 {
        self.versions.iter().copied().max().unwrap_or(0)
    }

    pub(super) fn cluster_names(&self) -> BTreeSet<String> {
        self.clusters
            .iter()
            .filter_map(|c| Some(c.get("name")?.as_str()?.to_string()))
            .collect()
    }

    /// Puts the previous files back: routes and listeners first, then clusters (a route must not
    /// outlive its cluster).
    pub(super) fn restore(&self, dir: &Path) -> Result<(), EnvoyError> {
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
pub(super) struct RestoreGuard<'a> {
    pub(super) dir: &'a Path,
    pub(super) previous: &'a Previous,
    pub(super) armed: bool,
}

impl RestoreGuard<'_> {
    /// Restores now and returns `error`, extended if restoring failed too.
    pub(super) fn fail(&mut self, error: EnvoyError) -> EnvoyError {
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
