//! The desired state of a reconcile: the configured revision read from Git, loaded, checked
//! against policy and translated for the target, remembered by commit so that an unchanged
//! commit costs a ref lookup.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use meshcd_core::finding::Counts;
use meshcd_core::policy::rego::Policies;
use meshcd_core::policy::windows::Windows;
use meshcd_core::{Loaded, Severity};

use crate::engine::check::{check_revision, read_policies, Checked, PolicyOptions, SchemaSet};
use crate::engine::reconcile::ReconcileError;
use crate::source::{short_commit, GitSource, RepoSpec, Revision, SnapshotCache, SourceError};
use crate::targets::envoy::with_config_backends;
use crate::targets::Target;

/// A revision that passed policy, translated for the target.
pub struct Desired<T: Target> {
    /// The revision's Rego policies (plan-level packages run on each reconcile's plan).
    pub policies: Arc<Policies>,
    /// The revision's change windows, parsed once.
    pub windows: Windows,
    /// The commit id.
    pub commit: String,
    /// The revision.
    pub revision: Revision,
    /// The loaded revision.
    pub loaded: Arc<Loaded>,
    /// The target's configuration of it.
    pub config: T::Config,
    /// What the target holds when it holds `config`.
    pub state: T::State,
    /// Policy warnings.
    pub warnings: usize,
}

/// A revision refused by policy or translation.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The commit id.
    pub commit: String,
    /// The revision.
    pub revision: Revision,
    /// Why, one line.
    pub message: String,
}

/// The configured revision's desired state, or why it is refused.
pub enum Wanted<T: Target> {
    /// Accepted.
    Accepted(Arc<Desired<T>>),
    /// Refused; `new` is true the first time this commit is refused.
    Refused(Refusal, bool),
}

/// Where the desired state comes from, and what the last reconciles worked out.
pub struct Source {
    spec: RepoSpec,
    rev: Option<String>,
    path: String,
    cache_dir: PathBuf,
    snapshots: Arc<SnapshotCache>,
    backends: BTreeMap<String, Vec<String>>,
    schemas: Arc<SchemaSet>,
}

/// The last accepted and the last refused revision (held only to clone or replace them).
pub struct Memory<T: Target> {
    desired: Mutex<Option<Arc<Desired<T>>>>,
    refused: Mutex<Option<Refusal>>,
}

impl<T: Target> Default for Memory<T> {
    fn default() -> Self {
        Self {
            desired: Mutex::new(None),
            refused: Mutex::new(None),
        }
    }
}

impl<T: Target> Memory<T> {
    /// The last accepted revision.
    pub fn desired(&self) -> Option<Arc<Desired<T>>> {
        self.desired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn refused(&self) -> Option<Refusal> {
        self.refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Source {
    /// A source of revisions.
    pub fn new(
        spec: RepoSpec,
        rev: Option<String>,
        path: String,
        cache_dir: PathBuf,
        backends: BTreeMap<String, Vec<String>>,
        schemas: Arc<SchemaSet>,
    ) -> Self {
        Self {
            spec,
            rev,
            path,
            cache_dir,
            snapshots: Arc::new(SnapshotCache::default()),
            backends,
            schemas,
        }
    }

    /// The configured revision's desired state for `target`: read from Git (on the blocking
    /// pool), then taken from `memory` when the commit is known, else checked and translated.
    pub async fn wanted<T: Target>(
        &self,
        target: &T,
        memory: &Memory<T>,
    ) -> Result<Wanted<T>, ReconcileError> {
        let spec = self.spec.clone();
        let rev = self.rev.clone();
        let path = self.path.clone();
        let cache_dir = self.cache_dir.clone();
        let snapshots = self.snapshots.clone();
        let (snapshot, policies) = tokio::task::spawn_blocking(move || {
            let source = GitSource::open(&spec, &cache_dir)?.with_cache(snapshots);
            let commit = source.resolve(rev.as_deref())?.to_string();
            let snapshot = source.snapshot(Some(&commit), &path)?;
            // The Rego policies of the repository's `policies/` at this commit.
            let policies = read_policies(Some(&source), &snapshot, &PolicyOptions::default())?;
            Ok::<_, SourceError>((snapshot, policies))
        })
        .await
        .map_err(|source| ReconcileError::Task {
            what: "reading the repository",
            source,
        })??;
        let commit = snapshot.revision.commit.clone();
        if let Some(refused) = memory.refused().filter(|r| r.commit == commit) {
            return Ok(Wanted::Refused(refused, false));
        }
        if let Some(desired) = memory.desired().filter(|d| d.commit == commit) {
            return Ok(Wanted::Accepted(desired));
        }
        let Checked {
            loaded,
            findings,
            policies,
            windows,
        } = check_revision(
            &with_config_backends(&snapshot, &self.backends),
            policies,
            &self.schemas,
        );
        let counts = Counts::of(&findings);
        let refusal = if counts.errors > 0 {
            let first = findings
                .iter()
                .find(|f| f.severity == Severity::Error)
                .map(ToString::to_string)
                .unwrap_or_default();
            Err(format!(
                "{} refused: {} policy error(s); first: {first}",
                short_commit(&commit),
                counts.errors
            ))
        } else {
            Ok(())
        };
        let config = refusal.and_then(|()| {
            target.desired(&loaded).map_err(|errors| {
                let first = errors.first().cloned().unwrap_or_default();
                format!(
                    "{} refused: {} route(s) cannot be applied to {}; first: {first}",
                    short_commit(&commit),
                    errors.len(),
                    target.id()
                )
            })
        });
        match config {
            Err(message) => {
                let refusal = Refusal {
                    commit,
                    revision: snapshot.revision.clone(),
                    message,
                };
                *memory.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(refusal.clone());
                Ok(Wanted::Refused(refusal, true))
            }
            Ok(config) => {
                let state = target.state_of(&config);
                let desired = Arc::new(Desired {
                    policies: Arc::new(policies),
                    windows,
                    commit,
                    revision: snapshot.revision.clone(),
                    loaded: Arc::new(loaded),
                    config,
                    state,
                    warnings: counts.warnings,
                });
                *memory.desired.lock().unwrap_or_else(|e| e.into_inner()) = Some(desired.clone());
                Ok(Wanted::Accepted(desired))
            }
        }
    }
}
