//! [`TargetReconciler`]: Git → policy → target, verified, recorded. The reconcile behind
//! `meshcd run` and `meshcd apply`, the same for every [`Target`] (Envoy, Cloud Service Mesh,
//! Kubernetes, rendered files).
//!
//! # One reconcile
//! 1. Resolve the revision to a commit and read its snapshot ([`desired`]; cached by commit id).
//!    A commit refused before is refused again at once.
//! 2. Load, check policy, translate (cached by commit id). Policy or translation errors:
//!    `Refused`; nothing is applied, the audit log says why, the commit is marked failed.
//! 3. Read what the target really holds (Envoy: `/config_dump`, about 2 ms; an API: list/get)
//!    and diff it against the desired configuration.
//! 4. Decide ([`decide::admit`]): refused by plan-level policy, or held back by a change window.
//! 5. Bring the rollouts in line with the plan ([`crate::engine::rollouts`]): weight moves start
//!    rollouts, and what is applied is the desired configuration with each rollout's current
//!    weights on top.
//! 6. Decide ([`decide::decide`]): unchanged (the near-zero-cost path: a ref lookup, a read of
//!    the target and a comparison), drift reported (`selfHeal` off), or apply.
//! 7. Apply through the target's [`writer`] (Envoy: validate, clusters, routes, verify, see
//!    [`crate::envoy::publish`]; resource targets: one call per changed resource, see
//!    [`crate::targets::resources`]), then record the apply and an audit entry in one
//!    transaction ([`record`]). Resources Git no longer has are deleted only by targets that
//!    prune ([`Target::prunes`]); the others keep them and say so.
//!
//! Rollouts advance between reconciles, on their own clock: the rollout driver judges each step
//! and the writer publishes the weights of a step that moved (Envoy: on the fast path, no
//! `envoy --mode validate` when only weights differ from the last validated configuration;
//! resource targets: one patch of the route's weights).
//!
//! # What survives an interruption
//! Every `.await` is a cancellation point. Dropped before the write, nothing changed; dropped
//! during the write, Envoy's `publish` restores the previous files; dropped after the write but
//! before recording, the next reconcile finds the target equal to the desired state and
//! records it then. A rollout's state is persisted before each of its effects.

pub mod decide;
mod desired;
pub mod messages;
mod record;
mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use meshcd_core::plan::Plan;
use meshcd_core::rollout::machine::Gate;
use meshcd_core::Severity;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::reconcile::{
    Next, Outcome, OutcomeAction, Reconcile, ReconcileError, Trigger, TriggerSink,
};
use super::rollouts::book::moves_of;
use super::rollouts::driver::SyncRequest;
use super::rollouts::{
    BoxFuture, Closed, GateError, Names, RolloutControl, RolloutEvent, RolloutHandle, Rollouts,
    View,
};
use crate::source::{short_commit, RepoSpec, Revision};
use crate::store::{AuditAction, Store};
use crate::targets::{ApplyReport, Target, TargetError};
use decide::{Admission, Decision, Hold, Outlook};
pub use desired::Desired;
use desired::{Memory, Source, Wanted};

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

/// The parts of a reconciler; the writer task holds it weakly.
pub(crate) struct Inner<T: Target> {
    source: Source,
    target: Arc<T>,
    store: Arc<Store>,
    self_heal: bool,
    memory: Memory<T>,
    rollouts: Rollouts,
    writes: mpsc::Sender<writer::Order<T>>,
    /// Reconciles under way (the writer leaves rollout weights to them meanwhile).
    reconciles: std::sync::atomic::AtomicUsize,
}

/// Counts a reconcile as running while it lives, also when its future is dropped; when it
/// ends, the writer looks again at the weights it left to the reconcile.
struct Running<'a, T: Target>(&'a Inner<T>);

impl<'a, T: Target> Running<'a, T> {
    fn new(inner: &'a Inner<T>) -> Self {
        inner
            .reconciles
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(inner)
    }
}

impl<T: Target> Drop for Running<'_, T> {
    fn drop(&mut self) {
        self.0
            .reconciles
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        let _ = self.0.writes.try_send(writer::Order::Wake);
    }
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
    /// The schemas documents are checked against: the built-in ones, and the CRDs of `crds`
    /// in `meshcd.yaml`.
    pub schemas: Arc<crate::engine::check::SchemaSet>,
}

impl<T: Target> TargetReconciler<T> {
    /// A reconciler over an opened target and store. Starts the rollout driver and the
    /// target's writer, so it needs a Tokio runtime.
    pub fn new(options: ReconcilerOptions, target: T, store: Arc<Store>) -> Self {
        let fleet = target.xds().map(|registry| registry.metrics().clone());
        let rollouts =
            Rollouts::spawn(target.id(), target.analysis_address(), fleet, store.clone());
        let (writes, jobs) = mpsc::channel(1);
        let inner = Arc::new(Inner {
            source: Source::new(
                RepoSpec::parse(&options.repo),
                options.rev,
                options.path,
                options.cache_dir,
                options.backends,
                options.schemas,
            ),
            target: Arc::new(target),
            store,
            self_heal: options.self_heal,
            memory: Memory::default(),
            rollouts,
            writes,
            reconciles: std::sync::atomic::AtomicUsize::new(0),
        });
        tokio::spawn(writer::run(
            Arc::downgrade(&inner),
            jobs,
            inner.rollouts.watch(),
        ));
        Self { inner }
    }

    /// The target.
    pub fn target(&self) -> &T {
        &self.inner.target
    }

    /// The rollouts of this target.
    pub fn rollout_driver(&self) -> &Rollouts {
        &self.inner.rollouts
    }

    /// True while some rollout is pending, progressing or rolling back.
    pub fn rollouts_moving(&self) -> bool {
        self.inner.rollouts.view().is_moving()
    }

    /// Every rollout, as progress events.
    pub fn rollouts(&self) -> Vec<RolloutEvent> {
        self.inner.rollouts.view().events()
    }

    /// Progress events as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<RolloutEvent> {
        self.inner.rollouts.subscribe()
    }

    /// An operator gate (`promote`, `abort`, `pause`, `resume`) on the rollout of `route`; the
    /// weights it asks for are published by the writer at once.
    pub async fn gate(&self, route: &str, gate: Gate) -> Result<RolloutEvent, GateError> {
        self.inner.rollouts.gate(route, gate).await
    }

    /// The plan from what the target holds now to a revision, without applying it.
    pub async fn plan(&self) -> Result<(Revision, Plan), ReconcileError> {
        let inner = &self.inner;
        let desired = match inner.source.wanted(&*inner.target, &inner.memory).await? {
            Wanted::Accepted(desired) => desired,
            Wanted::Refused(refusal, _) => return Err(ReconcileError::Refused(refusal.message)),
        };
        let applied = inner.read_applied(&desired).await?;
        let plan = inner.target.diff(&desired.state, &applied, &desired.loaded);
        Ok((desired.revision.clone(), plan))
    }
}

impl<T: Target> Reconcile for TargetReconciler<T> {
    async fn reconcile(&self, trigger: Trigger) -> Result<Outcome, ReconcileError> {
        tracing::debug!(%trigger, target = self.inner.target.id(), "reconciling");
        self.inner.reconcile().await
    }

    fn attach(&self, triggers: Arc<dyn TriggerSink>) {
        // A supervised Envoy reloads its files by itself after a restart; the reconcile that
        // follows verifies it serves the recorded commit again. (Other targets never restart.)
        let target = self.inner.target.clone();
        tokio::spawn(async move {
            let mut seen = target.restarts();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let now = target.restarts();
                if now != seen {
                    seen = now;
                    // Reconcile only once the new Envoy answers: before that, reading its
                    // applied state fails and the daemon would report a spurious error.
                    if let Err(error) = target.wait_ready(std::time::Duration::from_secs(10)).await
                    {
                        tracing::warn!(
                            error = %crate::errors::report(&error),
                            "the target restarted but is not ready"
                        );
                    }
                    tracing::warn!(restarts = now, "the target restarted; reconciling");
                    if !triggers.submit(Trigger::TargetRestarted) {
                        break;
                    }
                }
            }
        });
    }

    fn store(&self) -> Option<Arc<Store>> {
        Some(self.inner.store.clone())
    }

    fn rollouts(&self) -> Option<RolloutHandle> {
        Some(RolloutHandle(Arc::new(self.clone())))
    }

    fn describe_target(&self) -> String {
        self.inner.target.describe()
    }

    fn xds(&self) -> Option<Arc<crate::xds::Registry>> {
        self.inner.target.xds()
    }
}

impl<T: Target> RolloutControl for TargetReconciler<T> {
    fn list(&self) -> BoxFuture<'_, Vec<RolloutEvent>> {
        let events = self.rollouts();
        Box::pin(async move { events })
    }

    fn gate<'a>(
        &'a self,
        route: &'a str,
        gate: Gate,
    ) -> BoxFuture<'a, Result<RolloutEvent, GateError>> {
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

    async fn read_applied(&self, desired: &Desired<T>) -> Result<T::State, ReconcileError> {
        self.target
            .applied(&desired.state)
            .await
            .map_err(|source| ReconcileError::ReadTarget {
                target: self.target.id().to_string(),
                source,
            })
    }

    /// Metric names of a rollout's backends in the desired configuration.
    fn names(self: &Arc<Self>, desired: &Arc<Desired<T>>) -> Names {
        let (target, desired) = (self.target.clone(), desired.clone());
        Arc::new(move |route, splits| target.metric_names(&desired.config, route, splits))
    }

    /// Which routes the revision's change windows hold back now.
    fn closed(desired: &Arc<Desired<T>>) -> Closed {
        let desired = desired.clone();
        Arc::new(move |route| {
            if desired.windows.is_empty() {
                return None;
            }
            let resource = desired.loaded.resources.iter().find(|r| r.id == *route)?;
            let state = desired
                .windows
                .state(&meshcd_core::ir::route(resource)?, Utc::now());
            (!state.open).then(|| state.reason.unwrap_or_default())
        })
    }

    /// The desired configuration with the rollouts' weights of `view` on top. A rollout whose
    /// weights no longer fit the route (it changed shape) is dropped and the route applied as
    /// Git has it; the returned view is the one the configuration carries.
    async fn effective(&self, desired: &Desired<T>, mut view: Arc<View>) -> (T::Config, Arc<View>) {
        loop {
            let mut config = desired.config.clone();
            let mut misfit = None;
            for (route, splits, weights) in view.overrides() {
                if let Err(why) = self
                    .target
                    .set_weights(&mut config, &route, &splits, &weights)
                {
                    misfit = Some((route, why));
                    break;
                }
            }
            match misfit {
                None => return (config, view),
                Some((route, why)) => view = self.rollouts.abandon(&route, &why).await,
            }
        }
    }

    /// Publishes the current desired configuration with the rollouts' weights of `view` (the
    /// writer's own writes). `None` when there is no accepted revision yet.
    async fn publish(&self, view: &Arc<View>) -> Result<Option<ApplyReport>, ReconcileError> {
        let Some(desired) = self.memory.desired() else {
            return Ok(None);
        };
        let (config, _) = self.effective(&desired, view.clone()).await;
        let commit = short_commit(&desired.commit).to_string();
        let apply = |source| ReconcileError::Apply { commit, source };
        let result = if T::APPLIES_WHOLE_CONFIG {
            // Envoy: the whole configuration is published, no read-back needed on this hot path.
            let state = self.target.state_of(&config);
            let nothing = Plan {
                changes: Vec::new(),
                summary: Default::default(),
            };
            self.target.apply(&config, &state, &nothing).await
        } else {
            let applied = self.read_applied(&desired).await?;
            let (plan, _) = self.split_kept(self.target.diff(
                &self.target.state_of(&config),
                &applied,
                &desired.loaded,
            ));
            self.target.apply(&config, &applied, &plan).await
        };
        result.map(Some).map_err(apply)
    }

    /// Hands a write to the writer and waits for the target's answer.
    async fn write(
        &self,
        config: T::Config,
        applied: T::State,
        plan: Plan,
        generation: u64,
    ) -> Result<ApplyReport, TargetError> {
        let (reply, answer) = oneshot::channel();
        let job = writer::Job {
            config,
            applied,
            plan,
            generation,
            reply,
        };
        if self.writes.send(writer::Order::Write(job)).await.is_err() {
            return Err(TargetError::retryable("the target's writer has stopped"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(TargetError::retryable("the target's writer has stopped")))
    }

    /// True while a reconcile runs.
    pub(crate) fn reconciling(&self) -> bool {
        self.reconciles.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    async fn reconcile(self: &Arc<Self>) -> Result<Outcome, ReconcileError> {
        let _running = Running::new(self);
        self.run().await
    }

    async fn run(self: &Arc<Self>) -> Result<Outcome, ReconcileError> {
        let target_id = self.target.id().to_string();
        let desired = match self.source.wanted(&*self.target, &self.memory).await? {
            Wanted::Accepted(desired) => desired,
            Wanted::Refused(refusal, new) => {
                if new {
                    record::refusal(&self.store, &target_id, &refusal.revision, &refusal.message)
                        .await;
                }
                return Ok(Outcome::new(
                    refusal.commit,
                    OutcomeAction::Refused,
                    refusal.message,
                ));
            }
        };
        self.rollouts.set_windows(Self::closed(&desired));
        let applied = self.read_applied(&desired).await?;
        let (full, kept) =
            self.split_kept(self.target.diff(&desired.state, &applied, &desired.loaded));
        // Plan-level Rego policies judge what this reconcile would change.
        let plan_errors: Vec<_> =
            meshcd_core::policy::rego::check_plan(&desired.policies, &desired.loaded, &full)
                .into_iter()
                .filter(|f| f.severity == Severity::Error)
                .collect();
        let names = self.names(&desired);
        let view = self
            .rollouts
            .recover(desired.loaded.clone(), names.clone())
            .await;
        let admission = Admission {
            commit: &desired.commit,
            plan: &full,
            plan_errors: &plan_errors,
            loaded: &desired.loaded,
            windows: &desired.windows,
            rollouts: &view,
            now: Utc::now(),
        };
        if let Some(hold) = decide::admit(&admission) {
            return Ok(self.held_back(&desired, hold).await);
        }
        let recorded = record::last_applied(&self.store, &target_id)
            .await?
            .as_deref()
            == Some(&desired.commit);
        // A weight drift of the recorded commit starts a rollout back only with selfHeal: with
        // it off, drift is reported and left alone.
        let (moves, touched) =
            moves_of(&full, |change| change.kind.is_route().then(|| change.id()));
        let view = self
            .rollouts
            .sync(SyncRequest {
                commit: desired.commit.clone(),
                moves,
                touched,
                loaded: desired.loaded.clone(),
                names,
                start_new: !recorded || self.self_heal,
            })
            .await;
        let (effective, view) = self.effective(&desired, view).await;
        let plan = if view.overrides().is_empty() {
            full
        } else {
            self.split_kept(self.target.diff(
                &self.target.state_of(&effective),
                &applied,
                &desired.loaded,
            ))
            .0
        };
        let decision = decide::decide(&Outlook {
            commit: &desired.commit,
            target: &target_id,
            plan: &plan,
            kept: &kept,
            recorded,
            self_heal: self.self_heal,
            rollouts: &view,
        });
        match decision {
            Decision::Unchanged { message } => Ok(Outcome::new(
                desired.commit.clone(),
                OutcomeAction::Unchanged,
                message,
            )),
            Decision::DriftDetected { plan, message } => {
                record::audit(
                    &self.store,
                    &target_id,
                    &desired.revision,
                    AuditAction::DriftDetected,
                    &plan,
                    &message,
                )
                .await;
                let mut outcome = Outcome::new(
                    desired.commit.clone(),
                    OutcomeAction::DriftDetected,
                    message,
                );
                outcome.drift = true;
                outcome.changes = plan.changes.len();
                Ok(outcome)
            }
            Decision::Apply { plan, drift, write } => {
                let report = if write {
                    let report = self
                        .write(effective.clone(), applied, plan.clone(), view.generation)
                        .await
                        .map_err(|source| ReconcileError::Apply {
                            commit: short_commit(&desired.commit).to_string(),
                            source,
                        })?;
                    Some(report)
                } else {
                    None
                };
                let now = self.rollouts.view();
                let message = messages::Applied {
                    commit: &desired.commit,
                    target: &target_id,
                    changes: plan.changes.len(),
                    report: report.as_ref(),
                    drift,
                    warnings: desired.warnings,
                    rollouts: now.unfinished(),
                    rolled_back: &now.rolled_back(&desired.commit),
                    kept: &kept,
                }
                .message();
                let action = if drift {
                    AuditAction::DriftCorrected
                } else {
                    AuditAction::Apply
                };
                record::applied(
                    &self.store,
                    &*self.target,
                    &desired,
                    &effective,
                    &plan,
                    action,
                    &message,
                )
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
        }
    }

    /// The outcome of a commit [`decide::admit`] stopped.
    async fn held_back(&self, desired: &Desired<T>, hold: Hold) -> Outcome {
        match hold {
            Hold::Refused { message } => {
                record::refusal(&self.store, self.target.id(), &desired.revision, &message).await;
                Outcome::new(desired.commit.clone(), OutcomeAction::Refused, message)
            }
            Hold::Waiting {
                message,
                wait,
                changes,
            } => {
                let mut outcome =
                    Outcome::new(desired.commit.clone(), OutcomeAction::Waiting, message);
                outcome.changes = changes;
                outcome.next = Next::RequeueAfter(wait);
                outcome
            }
        }
    }
}
