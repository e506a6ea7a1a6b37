//! [`GitWatchReconciler`]: a target-less reconciler that follows Git and checks policy, so the
//! daemon runs end to end before the Envoy reconciler replaces it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use meshcd_core::finding::Counts;
use meshcd_core::{Loaded, Severity};

use super::check::{load_and_check_with, SchemaSet};
use super::reconcile::{Outcome, OutcomeAction, Reconcile, ReconcileError, Trigger};
use crate::config::Config;
use crate::source::{short_commit, GitSource, RepoSpec, SnapshotCache};

/// Follows a Git revision and runs the built-in policy on each new commit; applies nothing.
///
/// Each reconcile opens the repository (fetching a remote one into `<stateDir>/cache`) and
/// resolves the revision. When the commit is the one seen last, it returns at once, without
/// reading any file: [`OutcomeAction::Unchanged`] if that commit was accepted,
/// [`OutcomeAction::Refused`] again if it was refused. A new commit is loaded and checked:
/// policy errors give `Refused` (the last accepted commit stays "applied"); otherwise `Applied`,
/// with `changes` counting the resources that differ from the last accepted commit.
///
/// Errors: fetch, open and read failures are retryable; an unknown revision or a bad `path`
/// is not (it needs a push or a configuration change).
#[derive(Debug, Clone)]
pub struct GitWatchReconciler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    spec: RepoSpec,
    rev: Option<String>,
    path: String,
    cache_dir: PathBuf,
    snapshots: Arc<SnapshotCache>,
    schemas: Arc<SchemaSet>,
    memory: Mutex<Memory>,
}

/// What the reconciler remembers between runs.
#[derive(Debug, Default)]
struct Memory {
    /// The last commit seen, and the outcome it got.
    last: Option<Outcome>,
    /// The last accepted revision, to count changes against.
    accepted: Option<Arc<Loaded>>,
}

impl GitWatchReconciler {
    /// Follows `rev` (`None`: HEAD / the remote's default branch) of `repo` (a local path or a
    /// URL), reading files below `path`; remote mirrors go to `cache_dir`; documents are checked
    /// against `schemas` (the built-in ones and the user's CRDs).
    pub fn new(
        repo: &str,
        rev: Option<String>,
        path: String,
        cache_dir: PathBuf,
        schemas: Arc<SchemaSet>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                spec: RepoSpec::parse(repo),
                rev,
                path,
                cache_dir,
                snapshots: Arc::new(SnapshotCache::default()),
                schemas,
                memory: Mutex::default(),
            }),
        }
    }

    /// Follows what a daemon configuration names, checking against `schemas`.
    pub fn from_config(config: &Config, schemas: Arc<SchemaSet>) -> Self {
        Self::new(
            &config.repo,
            config.rev.clone(),
            config.path.clone(),
            config.cache_dir(),
            schemas,
        )
    }
}

impl Reconcile for GitWatchReconciler {
    async fn reconcile(&self, trigger: Trigger) -> Result<Outcome, ReconcileError> {
        let inner = self.inner.clone();
        tracing::debug!(%trigger, "reconciling (git watch)");
        tokio::task::spawn_blocking(move || inner.reconcile())
            .await
            .map_err(|source| ReconcileError::Task {
                what: "the reconcile task",
                source,
            })?
    }

    fn describe_target(&self) -> String {
        "none (follows Git and checks policy; applies nothing)".to_string()
    }
}

impl Inner {
    fn reconcile(&self) -> Result<Outcome, ReconcileError> {
        let source = GitSource::open(&self.spec, &self.cache_dir)
            .map_err(ReconcileError::from)?
            .with_cache(self.snapshots.clone());
        let commit = source
            .resolve(self.rev.as_deref())
            .map_err(ReconcileError::from)?
            .to_string();
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = memory.last.as_ref().filter(|l| l.commit == commit) {
            return Ok(match last.action {
                OutcomeAction::Refused => last.clone(),
                _ => Outcome::new(
                    commit.clone(),
                    OutcomeAction::Unchanged,
                    format!("already at {}", short_commit(&commit)),
                ),
            });
        }
        let snapshot = source
            .snapshot(Some(&commit), &self.path)
            .map_err(ReconcileError::from)?;
        let (loaded, findings) = load_and_check_with(&snapshot, &self.schemas);
        let counts = Counts::of(&findings);
        let outcome = if counts.errors > 0 {
            let first = findings
                .iter()
                .find(|f| f.severity == Severity::Error)
                .map(ToString::to_string)
                .unwrap_or_default();
            Outcome::new(
                commit.clone(),
                OutcomeAction::Refused,
                format!(
                    "{} has {} policy error(s); first: {first}",
                    short_commit(&commit),
                    counts.errors
                ),
            )
        } else {
            let empty = Loaded::default();
            let before = memory.accepted.as_deref().unwrap_or(&empty);
            let plan = meshcd_core::plan::plan(&loaded, before);
            let mut outcome = Outcome::new(
                commit.clone(),
                OutcomeAction::Applied,
                format!(
                    "{} accepted: {} resource(s), {} change(s), {} warning(s)",
                    short_commit(&commit),
                    loaded.resources.len(),
                    plan.changes.len(),
                    counts.warnings
                ),
            );
            outcome.changes = plan.changes.len();
            memory.accepted = Some(Arc::new(loaded));
            outcome
        };
        memory.last = Some(outcome.clone());
        Ok(outcome)
    }
}
