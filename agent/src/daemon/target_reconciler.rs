//! [`TargetReconciler`]: Git → policy → target, verified, recorded. The reconcile behind
//! `meshcd run` and `meshcd apply`, the same for every [`Target`] (Envoy, Cloud Service Mesh,
//! Kubernetes, rendered files).
//!
//! # One reconcile
//! 1. Resolve the revision to a commit and read its snapshot (cached by commit id).
//! 2. A commit refused before is refused again at once (its findings are cached).
//! 3. Load, check policy, translate (cached by commit id). Policy or translation errors:
//!    `Refused`; nothing is applied, the audit log says why, the commit is marked failed.
//! 4. Read what the target really holds (Envoy: `/config_dump`, about 2 ms; an API: list/get)
//!    and diff it against the desired configuration. Equal and already recorded: `Unchanged` (the near-zero-cost path: a ref
//!    lookup, two admin calls and a comparison).
//! 5. Different while the recorded commit is this one: drift. With `selfHeal` it is corrected
//!    (`DriftCorrected`), else reported (`DriftDetected`) and left alone.
//! 6. Otherwise apply (Envoy: validate, clusters, routes, verify, clean up, see
//!    [`crate::envoy::publish`]; resource targets: one call per changed resource, see
//!    [`crate::target::resources`]) and record the apply and an audit entry in one
//!    transaction. Resources Git no longer has are deleted only by targets that prune
//!    ([`Target::prunes`]); the others keep them and say so.
//!
//! Weight-only changes become rollouts ([`crate::rollout`]): step 4's plan starts a rollout for
//! each weight move no rollout covers yet, and what is published is the desired configuration
//! with each running rollout's current weights put on top. The rollouts then advance between
//! reconciles ([`TargetReconciler::tick`]): each step's weights are published (Envoy: on the
//! fast path, no `envoy --mode validate` when only weights differ from the last validated
//! configuration; resource targets: one patch of the route's weights).
//!
//! Cancellation: every `.await` is a cancellation point. Dropped before publishing, nothing
//! changed; dropped during publishing, `publish` restores the previous files; dropped after
//! publishing but before recording, the next reconcile finds Envoy equal to the desired state
//! and records it then.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use meshcd_core::finding::Counts;
use meshcd_core::model::ResourceId;
use meshcd_core::plan::windows::{held_changes_with, Held};
use meshcd_core::plan::{Action, Plan};
use meshcd_core::policy::windows::Windows;
use meshcd_core::{Loaded, Severity};
use sha2::{Digest, Sha256};

use super::reconcile::{Outcome, OutcomeAction, Reconcile, ReconcileError, Trigger};
use crate::cli::PolicyArgs;
use crate::commands::load_and_check_with;
use crate::rollout::{Book, GateError, RolloutEvent};
use crate::source::{short_commit, GitSource, RepoSpec, Revision, SnapshotCache};
use crate::store::{AppliedRecord, AppliedResource, AuditAction, AuditEntry, ChangeCounts, Store};
use crate::target::envoy::with_config_backends;
use crate::target::{ApplyReport, EnvoyTarget, Target};
use meshcd_core::rollout::machine::Gate;

/// How long a commit held back by a change window waits at most before it is looked at again
/// (sooner when the window says when it opens).
const WINDOW_RECHECK: std::time::Duration = std::time::Duration::from_secs(300);

/// Reconciles a Git revision into a local Envoy.
pub type EnvoyReconciler = TargetReconciler<EnvoyTarget>;

/// Options of an [`EnvoyReconciler`] (the same for every target).
pub type EnvoyReconcilerOptions = ReconcilerOptions;

/// Reconciles a Git revision into a target.
pub struct TargetReconciler<T: Target> {
    inner: Arc<Inner<T>>,
}

impl<T: Target> Clone for TargetReconciler<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T: Target> {
    spec: RepoSpec,
    rev: Option<String>,
    path: String,
    cache_dir: PathBuf,
    snapshots: Arc<SnapshotCache>,
    target: T,
    store: Arc<Store>,
    self_heal: bool,
    backends: BTreeMap<String, Vec<String>>,
    memory: tokio::sync::Mutex<Memory<T>>,
    book: tokio::sync::Mutex<Book>,
    /// When a failed publish of rollout weights may be retried.
    retry_at: std::sync::Mutex<Option<std::time::Instant>>,
}

/// What the last reconciles worked out, by commit, so repeating them costs nothing.
struct Memory<T: Target> {
    desired: Option<Arc<Desired<T>>>,
    refused: Option<(String, String)>,
}

impl<T: Target> Default for Memory<T> {
    fn default() -> Self {
        Self {
            desired: None,
            refused: None,
        }
    }
}

struct Desired<T: Target> {
    /// The revision's Rego policies (plan-level packages run on each reconcile's plan).
    policies: Arc<meshcd_core::policy::rego::Policies>,
    /// The revision's change windows, parsed once.
    windows: Windows,
    commit: String,
    revision: Revision,
    loaded: Arc<Loaded>,
    config: T::Config,
    state: T::State,
    warnings: usize,
}

/// Where the reconciler reads from and what it does with drift.
#[derive(Debug, Clone)]
pub struct ReconcilerOptions {
    /// Repository (path or URL).
    pub repo: String,
    /// Revision (`None`: HEAD).
    pub rev: Option<String>,
    /// Sub-folder.
    pub path: String,
    /// Folder for mirrors of remote repositories.
    pub cache_dir: PathBuf,
    /// Correct drift (true) or only report it.
    pub self_heal: bool,
    /// Endpoints from the agent's configuration (`target.envoy.backends`; empty for other
    /// targets).
    pub backends: BTreeMap<String, Vec<String>>,
}

impl<T: Target> TargetReconciler<T> {
    /// A reconciler over an opened target and store.
    pub fn new(options: ReconcilerOptions, target: T, store: Arc<Store>) -> Self {
        let book = Book::new(target.id(), store.clone(), target.analysis_address());
        Self {
            inner: Arc::new(Inner {
                spec: RepoSpec::parse(&options.repo),
                rev: options.rev,
                path: options.path,
                cache_dir: options.cache_dir,
                snapshots: Arc::new(SnapshotCache::default()),
                target,
                store,
                self_heal: options.self_heal,
                backends: options.backends,
                memory: tokio::sync::Mutex::default(),
                book: tokio::sync::Mutex::new(book),
                retry_at: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.inner.target
    }

    /// Advances the rollouts: reads metrics of the rollouts that are due, judges them, and
    /// publishes the weights of any step that moved. Cheap when nothing is due.
    pub async fn tick(&self) {
        self.inner.tick().await;
    }

    /// When [`Self::tick`] has work next (a rollout's measurement, or a publish to retry).
    pub async fn next_due(&self) -> Option<std::time::Instant> {
        let book = self.inner.book.lock().await;
        let retry = *self
            .inner
            .retry_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if book.needs_publish() {
            return Some(retry.unwrap_or_else(std::time::Instant::now));
        }
        book.next_due()
    }

    /// True while some rollout is pending, progressing or rolling back.
    pub async fn rollouts_moving(&self) -> bool {
        self.inner.book.lock().await.is_moving()
    }

    /// Every rollout, as progress events.
    pub async fn rollouts(&self) -> Vec<RolloutEvent> {
        self.inner.book.lock().await.snapshot()
    }

    /// Progress events as they happen.
    pub async fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RolloutEvent> {
        self.inner.book.lock().await.subscribe()
    }

    /// An operator gate (`promote`, `abort`, `pause`, `resume`) on the rollout of `route`; the
    /// weights it asks for are published at once.
    pub async fn gate(&self, route: &str, gate: Gate) -> Result<RolloutEvent, GateError> {
        let mut book = self.inner.book.lock().await;
        let event = book.gate(route, gate).await?;
        if book.needs_publish() {
            let _ = self.inner.publish_overrides(&mut book).await;
        }
        Ok(event)
    }

    /// The plan from what the target holds now to a revision, without applying it.
    pub async fn plan(&self) -> Result<(Revision, Plan), ReconcileError> {
        let inner = &self.inner;
        let desired = inner.desired().await?;
        let desired = match desired {
            Ok(desired) => desired,
            Err(message) => return Err(ReconcileError::permanent(message)),
        };
        let applied = inner
            .target
            .applied(&desired.state)
            .await
            .map_err(|e| ReconcileError::retryable(e.to_string()))?;
        let plan = inner.target.diff(&desired.state, &applied, &desired.loaded);
        Ok((desired.revision.clone(), plan))
    }
}

impl<T: Target> Reconcile for TargetReconciler<T> {
    async fn reconcile(&self, trigger: Trigger) -> Result<Outcome, ReconcileError> {
        tracing::debug!(%trigger, target = self.inner.target.id(), "reconciling");
        self.inner.reconcile().await
    }

    fn attach(&self, triggers: super::TriggerSender) {
        // Rollouts advance on their own clock, between reconciles.
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let wait = match this.next_due().await {
                    Some(at) => at.saturating_duration_since(std::time::Instant::now()),
                    None => std::time::Duration::from_millis(250),
                };
                tokio::time::sleep(wait.clamp(
                    std::time::Duration::from_millis(5),
                    std::time::Duration::from_millis(250),
                ))
                .await;
                this.tick().await;
            }
        });
        // A supervised Envoy reloads its files by itself after a restart; the reconcile that
        // follows verifies it serves the recorded commit again. (Other targets never restart.)
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let mut seen = inner.target.restarts();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let now = inner.target.restarts();
                if now != seen {
                    seen = now;
                    // Reconcile only once the new Envoy answers: before that, reading its
                    // applied state fails and the daemon would report a spurious error.
                    if let Err(error) = inner
                        .target
                        .wait_ready(std::time::Duration::from_secs(10))
                        .await
                    {
                        tracing::warn!(%error, "the target restarted but is not ready");
                    }
                    tracing::warn!(restarts = now, "the target restarted; reconciling");
                    if !triggers.send(Trigger::TargetRestarted).accepted() {
                        break;
                    }
                }
            }
        });
    }

    fn store(&self) -> Option<Arc<Store>> {
        Some(self.inner.store.clone())
    }

    fn rollouts(&self) -> Option<super::rollouts_api::RolloutHandle> {
        Some(super::rollouts_api::RolloutHandle(Arc::new(self.clone())))
    }

    fn describe_target(&self) -> String {
        self.inner.target.describe()
    }
}

impl<T: Target> super::rollouts_api::RolloutControl for TargetReconciler<T> {
    fn list(&self) -> super::rollouts_api::BoxFuture<'_, Vec<RolloutEvent>> {
        Box::pin(self.rollouts())
    }

    fn gate<'a>(
        &'a self,
        route: &'a str,
        gate: Gate,
    ) -> super::rollouts_api::BoxFuture<'a, Result<RolloutEvent, GateError>> {
        Box::pin(TargetReconciler::gate(self, route, gate))
    }
}

impl<T: Target> Inner<T> {
    /// `plan` split into what this reconcile carries out and the deletions it keeps back (a
    /// target that does not prune keeps resources Git no longer has).
    fn split_kept(&self, plan: Plan) -> (Plan, Vec<meshcd_core::plan::Change>) {
        if self.target.prunes() {
            (plan, Vec::new())
        } else {
            plan.without_deletes()
        }
    }

    /// What of `plan` this reconcile carries out (see [`Self::split_kept`]).
    fn actionable(&self, plan: Plan) -> Plan {
        self.split_kept(plan).0
    }

    /// The desired configuration with every rollout's current weights on top. A rollout whose
    /// weights no longer fit the route (it changed shape) is dropped and the route applied as
    /// Git has it.
    async fn effective(&self, desired: &Desired<T>, book: &mut Book) -> T::Config {
        let mut config = desired.config.clone();
        for (route, splits, weights) in book.overrides() {
            if let Err(why) = self
                .target
                .set_weights(&mut config, &route, &splits, &weights)
            {
                book.abandon(&route, &why).await;
            }
        }
        config
    }

    async fn tick(&self) {
        let desired = self.memory.lock().await.desired.clone();
        let closed = |route: &ResourceId| -> Option<String> {
            let desired = desired.as_ref().filter(|d| !d.windows.is_empty())?;
            let windows = &desired.windows;
            let resource = desired.loaded.resources.iter().find(|r| r.id == *route)?;
            let state = windows.state(&meshcd_core::ir::route(resource)?, Utc::now());
            (!state.open).then(|| state.reason.unwrap_or_default())
        };
        let mut book = self.book.lock().await;
        if !book.tick(closed).await {
            return;
        }
        let due = self
            .retry_at
            .lock()
            .map(|at| at.is_none_or(|at| at <= std::time::Instant::now()))
            .unwrap_or(true);
        if due {
            let _ = self.publish_overrides(&mut book).await;
        }
    }

    /// Publishes the current desired configuration with the rollouts' weights, and tells the
    /// book when the target confirmed them. A failure is retried after a second.
    async fn publish_overrides(&self, book: &mut Book) -> Result<ApplyReport, String> {
        let Some(desired) = self.memory.lock().await.desired.clone() else {
            return Err("no desired revision yet".into());
        };
        let config = self.effective(&desired, book).await;
        let result = if T::APPLIES_WHOLE_CONFIG {
            // Envoy: the whole configuration is published, no read-back needed on this hot path.
            let state = self.target.state_of(&config);
            let plan = Plan {
                changes: Vec::new(),
                summary: Default::default(),
            };
            self.target.apply(&config, &state, &plan).await
        } else {
            match self.target.applied(&desired.state).await {
                Ok(applied) => {
                    let plan = self.actionable(self.target.diff(
                        &self.target.state_of(&config),
                        &applied,
                        &desired.loaded,
                    ));
                    self.target.apply(&config, &applied, &plan).await
                }
                Err(error) => Err(error),
            }
        };
        match result {
            Ok(report) => {
                *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::debug!(
                    total_ms = report.total_ms,
                    validated = report.validated,
                    "rollout weights published"
                );
                book.applied().await;
                Ok(report)
            }
            Err(error) => {
                tracing::warn!(%error, "publishing rollout weights failed; retrying in 1s");
                *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(std::time::Instant::now() + std::time::Duration::from_secs(1));
                Err(error.to_string())
            }
        }
    }

    /// The desired configuration of the current revision: `Ok(Err(message))` when the revision
    /// is refused (policy or translation errors).
    async fn desired(&self) -> Result<Result<Arc<Desired<T>>, String>, ReconcileError> {
        let spec = self.spec.clone();
        let rev = self.rev.clone();
        let path = self.path.clone();
        let cache_dir = self.cache_dir.clone();
        let snapshots = self.snapshots.clone();
        let (snapshot, policies) = tokio::task::spawn_blocking(move || {
            let source = GitSource::open(&spec, &cache_dir)?.with_cache(snapshots);
            let commit = source.resolve(rev.as_deref())?.to_string();
            let snapshot = source.snapshot(Some(&commit), &path)?;
            // Rego policies of the repository's `policies/` at this commit.
            let policies = crate::commands::policy::read(
                &source,
                &snapshot,
                &PolicyArgs::default(),
            )
            .map_err(|failure| {
                crate::source::SourceError::Read(format!("reading policies: {}", failure.error))
            });
            Ok::<_, crate::source::SourceError>((snapshot, policies))
        })
        .await
        .map_err(|e| ReconcileError::retryable(format!("reading the repository failed: {e}")))?
        .map_err(ReconcileError::from)?;
        let policies = policies.map_err(ReconcileError::from)?;
        let commit = snapshot.revision.commit.clone();
        let mut memory = self.memory.lock().await;
        if let Some((refused, message)) = &memory.refused {
            if *refused == commit {
                return Ok(Err(message.clone()));
            }
        }
        if let Some(desired) = memory.desired.as_ref().filter(|d| d.commit == commit) {
            return Ok(Ok(desired.clone()));
        }
        let (loaded, findings) =
            load_and_check_with(&with_config_backends(&snapshot, &self.backends), &policies);
        let counts = Counts::of(&findings);
        let refusal = if counts.errors > 0 {
            let first = findings
                .iter()
                .find(|f| f.severity == Severity::Error)
                .map(ToString::to_string)
                .unwrap_or_default();
            Some(format!(
                "{} refused: {} policy error(s); first: {first}",
                short_commit(&commit),
                counts.errors
            ))
        } else {
            None
        };
        let config = match refusal {
            Some(message) => Err(message),
            None => self.target.desired(&loaded).map_err(|errors| {
                let first = errors.first().cloned().unwrap_or_default();
                format!(
                    "{} refused: {} route(s) cannot be applied to {}; first: {first}",
                    short_commit(&commit),
                    errors.len(),
                    self.target.id()
                )
            }),
        };
        match config {
            Err(message) => {
                self.record_refusal(&snapshot.revision, &message).await;
                memory.refused = Some((commit, message.clone()));
                Ok(Err(message))
            }
            Ok(config) => {
                let state = self.target.state_of(&config);
                let desired = Arc::new(Desired {
                    policies: Arc::new(policies),
                    windows: Windows::from_loaded(&loaded),
                    commit: commit.clone(),
                    revision: snapshot.revision.clone(),
                    loaded: Arc::new(loaded),
                    config,
                    state,
                    warnings: counts.warnings,
                });
                memory.desired = Some(desired.clone());
                Ok(Ok(desired))
            }
        }
    }

    async fn reconcile(&self) -> Result<Outcome, ReconcileError> {
        let desired = match self.desired().await? {
            Ok(desired) => desired,
            Err(message) => {
                let commit = self
                    .memory
                    .lock()
                    .await
                    .refused
                    .as_ref()
                    .map(|(c, _)| c.clone())
                    .unwrap_or_default();
                return Ok(Outcome::new(commit, OutcomeAction::Refused, message));
            }
        };
        let target_id = self.target.id().to_string();
        let applied = self
            .target
            .applied(&desired.state)
            .await
            .map_err(|e| ReconcileError::retryable(e.to_string()))?;
        // Rollouts: weight moves of this commit start (or go on); what is published is the
        // desired configuration with each rollout's current weights on top.
        let (full, kept) =
            self.split_kept(self.target.diff(&desired.state, &applied, &desired.loaded));
        // Plan-level Rego policies judge what this reconcile would change.
        let plan_errors: Vec<_> =
            meshcd_core::policy::rego::check_plan(&desired.policies, &desired.loaded, &full)
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
        if let Some(first) = plan_errors.first() {
            let message = format!(
                "{} refused: {} plan policy error(s); first: {first}",
                short_commit(&desired.commit),
                plan_errors.len()
            );
            self.record_refusal(&desired.revision, &message).await;
            return Ok(Outcome::new(
                desired.commit.clone(),
                OutcomeAction::Refused,
                message,
            ));
        }
        let mut book = self.book.lock().await;
        let names = |route: &ResourceId, splits: &[(String, Vec<String>)]| {
            self.target.metric_names(&desired.config, route, splits)
        };
        book.recover(&desired.loaded, &names).await;
        // Change windows: a commit that changes a route a window holds back waits, whole
        // (routes with a rollout under way are judged step by step instead).
        let now = Utc::now();
        let held: Vec<Held> = held_changes_with(&desired.windows, &full, &desired.loaded, now)
            .into_iter()
            .filter(|h| {
                let ongoing = full.changes.iter().any(|c| {
                    c.id().to_string() == h.resource
                        && c.rollout
                            .as_ref()
                            .is_some_and(|r| book.continues(&c.id(), r))
                });
                !ongoing
            })
            .collect();
        if let Some(first) = held.first() {
            let mut message = format!(
                "{} waits for a change window: {}: {}",
                short_commit(&desired.commit),
                first.resource,
                first.reason
            );
            if held.len() > 1 {
                message.push_str(&format!(" (and {} more route(s))", held.len() - 1));
            }
            let opens = held.iter().filter_map(|h| h.until).max();
            let wait = opens
                .and_then(|at| (at - now).to_std().ok())
                .unwrap_or(WINDOW_RECHECK)
                .clamp(std::time::Duration::from_secs(1), WINDOW_RECHECK);
            let mut outcome = Outcome::new(desired.commit.clone(), OutcomeAction::Waiting, message);
            outcome.changes = full.changes.len();
            outcome.next = super::reconcile::Next::RequeueAfter(wait);
            return Ok(outcome);
        }
        let store = self.store.clone();
        let id = target_id.clone();
        let last = tokio::task::spawn_blocking(move || store.last_applied(&id))
            .await
            .map_err(|e| ReconcileError::retryable(e.to_string()))?
            .map_err(|e| ReconcileError::retryable(e.to_string()))?;
        let recorded = last.as_ref().is_some_and(|l| l.commit == desired.commit);
        // A weight drift of the recorded commit starts a rollout back only with selfHeal: with
        // it off, drift is reported and left alone.
        book.sync(
            &desired.commit,
            &full,
            &desired.loaded,
            &names,
            |change| change.kind.is_route().then(|| change.id()),
            !recorded || self.self_heal,
        )
        .await;
        let effective = self.effective(&desired, &mut book).await;
        let plan = if book.overrides().is_empty() {
            full
        } else {
            self.actionable(self.target.diff(
                &self.target.state_of(&effective),
                &applied,
                &desired.loaded,
            ))
        };
        let held: String = book
            .rolled_back(&desired.commit)
            .iter()
            .map(|(route, why)| format!("; {route} held at its earlier weights ({why})"))
            .collect();
        if plan.is_empty() && recorded && !book.needs_publish() {
            let moving = book.is_moving();
            return Ok(Outcome::new(
                desired.commit.clone(),
                OutcomeAction::Unchanged,
                if moving {
                    format!(
                        "{} is live; rollouts in progress{held}",
                        short_commit(&desired.commit)
                    )
                } else {
                    format!(
                        "{} is live{held}{}",
                        short_commit(&desired.commit),
                        kept_note(&kept)
                    )
                },
            ));
        }
        let drift = recorded && !plan.is_empty();
        if drift && !self.self_heal {
            let message = format!(
                "drift: {} differs from {} in {} place(s) ({}); selfHeal is off, left alone",
                self.target.id(),
                short_commit(&desired.commit),
                plan.changes.len(),
                changed_names(&plan)
            );
            let mut outcome = Outcome::new(
                desired.commit.clone(),
                OutcomeAction::DriftDetected,
                message.clone(),
            );
            outcome.drift = true;
            outcome.changes = plan.changes.len();
            self.audit(&desired, AuditAction::DriftDetected, &plan, &message)
                .await;
            return Ok(outcome);
        }
        let report = if plan.is_empty() && !book.needs_publish() {
            None
        } else {
            Some(
                self.target
                    .apply(&effective, &applied, &plan)
                    .await
                    .map_err(|e| {
                        let message = format!("{} not applied: {e}", short_commit(&desired.commit));
                        ReconcileError {
                            message,
                            retryable: e.retryable,
                        }
                    })?,
            )
        };
        book.applied().await;
        let rollouts = book
            .snapshot()
            .iter()
            .filter(|r| !r.phase.is_terminal())
            .count();
        drop(book);
        let mut message = match (&report, drift) {
            (Some(r), true) => format!(
                "drift corrected: {} holds {} again ({} change(s), live in {} ms)",
                self.target.id(),
                short_commit(&desired.commit),
                plan.changes.len(),
                r.total_ms
            ),
            (Some(r), false) => format!(
                "{} applied: {} change(s), verified live in {} ms",
                short_commit(&desired.commit),
                plan.changes.len(),
                r.total_ms
            ),
            (None, _) => format!(
                "{} recorded: {} already holds it",
                short_commit(&desired.commit),
                self.target.id()
            ),
        };
        if desired.warnings > 0 {
            message.push_str(&format!("; {} policy warning(s)", desired.warnings));
        }
        if rollouts > 0 {
            message.push_str(&format!("; {rollouts} rollout(s) in progress"));
        }
        message.push_str(&held);
        message.push_str(&kept_note(&kept));
        let action = if drift {
            AuditAction::DriftCorrected
        } else {
            AuditAction::Apply
        };
        self.record_apply(&desired, &effective, &plan, action, &message)
            .await?;
        let mut outcome = Outcome::new(
            desired.commit.clone(),
            if drift {
                OutcomeAction::DriftCorrected
            } else {
                OutcomeAction::Applied
            },
            message,
        );
        outcome.changes = plan.changes.len();
        outcome.drift = drift;
        Ok(outcome)
    }

    async fn record_apply(
        &self,
        desired: &Desired<T>,
        config: &T::Config,
        plan: &Plan,
        action: AuditAction,
        message: &str,
    ) -> Result<(), ReconcileError> {
        let record = AppliedRecord {
            commit: desired.commit.clone(),
            revision: desired.revision.label(),
            applied_at: Utc::now(),
            resources: desired
                .loaded
                .resources
                .iter()
                .map(|r| AppliedResource {
                    id: r.id.to_string(),
                    hash: hex::encode(&Sha256::digest(r.body.to_string().as_bytes())[..8]),
                })
                .collect(),
            config: self.target.record(config),
        };
        let entry = self.entry(desired, action, plan, message);
        let store = self.store.clone();
        let target = self.target.id().to_string();
        tokio::task::spawn_blocking(move || store.record_apply(&target, &record, &entry))
            .await
            .map_err(|e| ReconcileError::retryable(e.to_string()))?
            .map_err(|e| ReconcileError::retryable(format!("applied, but not recorded: {e}")))?;
        Ok(())
    }

    async fn audit(&self, desired: &Desired<T>, action: AuditAction, plan: &Plan, message: &str) {
        let entry = self.entry(desired, action, plan, message);
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || store.append_audit(&entry)).await;
        if !matches!(result, Ok(Ok(_))) {
            tracing::warn!("could not write the audit log");
        }
    }

    async fn record_refusal(&self, revision: &Revision, message: &str) {
        let mut entry = AuditEntry::new(self.target.id(), AuditAction::Rejected);
        entry.commit = revision.commit.clone();
        entry.author = revision.author.clone();
        entry.summary = revision.summary.clone();
        entry.message = message.to_string();
        let store = self.store.clone();
        let target = self.target.id().to_string();
        let commit = revision.commit.clone();
        let reason = message.to_string();
        let result = tokio::task::spawn_blocking(move || {
            store.append_audit(&entry)?;
            store.mark_failed(&target, &commit, &reason)
        })
        .await;
        if !matches!(result, Ok(Ok(_))) {
            tracing::warn!("could not record the refused revision");
        }
    }

    fn entry(
        &self,
        desired: &Desired<T>,
        action: AuditAction,
        plan: &Plan,
        message: &str,
    ) -> AuditEntry {
        let mut entry = AuditEntry::new(self.target.id(), action);
        entry.commit = desired.commit.clone();
        entry.author = desired.revision.author.clone();
        entry.summary = desired.revision.summary.clone();
        entry.changes = ChangeCounts {
            create: plan
                .changes
                .iter()
                .filter(|c| c.action == Action::Create)
                .count(),
            update: plan
                .changes
                .iter()
                .filter(|c| c.action == Action::Update)
                .count(),
            delete: plan
                .changes
                .iter()
                .filter(|c| c.action == Action::Delete)
                .count(),
        };
        entry.resources = plan
            .changes
            .iter()
            .map(|c| format!("{}/{}", c.kind, c.name))
            .collect();
        entry.message = message.to_string();
        entry
    }
}

/// `; 2 resource(s) not in Git kept (prune is off): HttpRoute/a, HttpRoute/b`, or nothing.
fn kept_note(kept: &[meshcd_core::plan::Change]) -> String {
    if kept.is_empty() {
        return String::new();
    }
    let names: Vec<String> = kept.iter().take(3).map(|c| c.id().to_string()).collect();
    format!(
        "; {} resource(s) not in Git kept (prune is off): {}{}",
        kept.len(),
        names.join(", "),
        if kept.len() > 3 { ", …" } else { "" }
    )
}

fn changed_names(plan: &Plan) -> String {
    plan.changes
        .iter()
        .take(3)
        .map(|c| format!("{} {}/{}", c.action, c.kind, c.name))
        .collect::<Vec<_>>()
        .join(", ")
}
