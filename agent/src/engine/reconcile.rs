//! The contract between the daemon and whatever makes the target match Git: [`Reconcile`].
//!
//! The daemon decides *when* to reconcile (triggers, coalescing, retries); a [`Reconcile`]
//! implementation decides *what* a reconcile does (load → policy → plan → apply → verify →
//! record). As in kube-rs, a successful run returns its next step ([`Next`]); failures go
//! to a separate error policy in the daemon (capped exponential backoff, see
//! `crate::daemon::backoff`), never to the reconciler itself.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use std::sync::Arc;

use super::rollouts::RolloutHandle;
use crate::source::SourceError;
use crate::store::StoreError;
use crate::targets::TargetError;

/// One reconcile: make the target hold what the configured Git revision wants.
///
/// # Contract
/// - **One at a time.** The daemon never runs two `reconcile` calls at once, so an
///   implementation needs no locking against itself. Triggers arriving during a run cause
///   exactly one follow-up run.
/// - **Idempotent.** A run may repeat work that a previous run did (a crash, a retry, a
///   coalesced trigger): running twice against the same commit and target must leave the same
///   state, and the second run should return [`OutcomeAction::Unchanged`] at near-zero cost.
/// - **Cancellation.** Every `.await` is a cancellation point: on shutdown the daemon waits for a
///   running reconcile for `shutdownTimeout`, then drops the future. A run must therefore keep
///   the target consistent across an interruption at any `.await` (persist progress before and
///   after each step), and must not block the async runtime (use `spawn_blocking` for Git).
/// - **Outcomes.** `Ok` means the run finished and its [`Outcome`] describes the target. A
///   commit refused by policy is `Ok` with [`OutcomeAction::Refused`] and must keep being
///   reported as `Refused` (not `Unchanged`) while it stays the desired commit.
///   [`OutcomeAction::Unchanged`] promises the target already holds an *accepted* commit.
/// - **Errors.** `Err` means the run could not finish. [`ReconcileError::retryable`] selects
///   the error policy: retry with backoff, or wait for the next trigger.
pub trait Reconcile: Send + Sync + 'static {
    /// Runs one reconcile, started by `trigger`.
    fn reconcile(
        &self,
        trigger: Trigger,
    ) -> impl Future<Output = Result<Outcome, ReconcileError>> + Send;

    /// Called once by the daemon before the first run, with a handle to submit triggers (for
    /// instance [`Trigger::TargetRestarted`] when a supervised Envoy restarts). The default
    /// ignores it.
    fn attach(&self, triggers: Arc<dyn TriggerSink>) {
        let _ = triggers;
    }

    /// The state store whose audit log `GET /api/v1/history` serves (the daemon holds the store,
    /// so `meshcd history` reads it through the daemon). The default has none.
    fn store(&self) -> Option<std::sync::Arc<crate::store::Store>> {
        None
    }

    /// The xDS server the target publishes through, for `/api/v1/xds`. The default has none.
    fn xds(&self) -> Option<std::sync::Arc<crate::xds::Registry>> {
        None
    }

    /// The rollouts this reconciler runs, for `/api/v1/rollouts` and `/metrics`. The default
    /// has none.
    fn rollouts(&self) -> Option<RolloutHandle> {
        None
    }

    /// A one-line description of the target, for `GET /api/v1/status` (e.g.
    /// `envoy admin=127.0.0.1:9901`). The default is `none`.
    fn describe_target(&self) -> String {
        "none".to_string()
    }
}

/// Where an engine submits triggers of its own (for instance [`Trigger::TargetRestarted`]): the
/// daemon's trigger queue, which coalesces them with the others.
pub trait TriggerSink: Send + Sync + 'static {
    /// Submits `trigger`; false once the daemon no longer takes triggers (it is stopping).
    fn submit(&self, trigger: Trigger) -> bool;
}

/// Why a reconcile runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The daemon started.
    Startup,
    /// The poll interval elapsed.
    Poll,
    /// The watched local repository's refs or HEAD changed (a commit, a checkout).
    FileChange,
    /// A verified push webhook for the configured branch.
    Webhook {
        /// `github` or `gitlab`.
        provider: String,
        /// The pushed ref (`refs/heads/main`), when the payload named one.
        git_ref: Option<String>,
    },
    /// A cron schedule fired; holds the schedule's name.
    Schedule(String),
    /// `POST /api/v1/reconcile`, or `meshcd run --once`.
    Manual,
    /// The target restarted and lost its configuration (sent by the reconciler through
    /// [`Reconcile::attach`]).
    TargetRestarted,
    /// A retry after a retryable error; `attempt` counts from 1.
    Retry {
        /// Which retry this is (1 for the first).
        attempt: u32,
    },
    /// The previous run asked to run again after a delay ([`Next::RequeueAfter`]).
    Requeue,
}

impl Trigger {
    /// The trigger's kind, as used in the `trigger` label of metrics and in the status API:
    /// `startup`, `poll`, `file_change`, `webhook`, `schedule`, `manual`, `target_restarted`,
    /// `retry`, `requeue`.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Poll => "poll",
            Trigger::FileChange => "file_change",
            Trigger::Webhook { .. } => "webhook",
            Trigger::Schedule(_) => "schedule",
            Trigger::Manual => "manual",
            Trigger::TargetRestarted => "target_restarted",
            Trigger::Retry { .. } => "retry",
            Trigger::Requeue => "requeue",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Webhook {
                provider,
                git_ref: Some(r),
            } => write!(f, "webhook ({provider}, {r})"),
            Trigger::Webhook { provider, .. } => write!(f, "webhook ({provider})"),
            Trigger::Schedule(name) => write!(f, "schedule {name}"),
            Trigger::Retry { attempt } => write!(f, "retry #{attempt}"),
            other => f.write_str(other.kind()),
        }
    }
}

/// What a finished reconcile did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeAction {
    /// A new commit was applied to the target.
    Applied,
    /// The target already held the desired (accepted) commit; nothing was done.
    Unchanged,
    /// The target drifted from Git and `selfHeal` is off: reported, not corrected.
    DriftDetected,
    /// The target drifted from Git and was put back.
    DriftCorrected,
    /// The desired commit failed policy and was not applied; the target keeps its state.
    Refused,
    /// The desired commit changes routes a change window holds back: nothing was applied; it
    /// is applied when the window opens.
    Waiting,
}

impl OutcomeAction {
    /// The `result` label of `meshcd_reconcile_total`: `applied`, `unchanged`,
    /// `drift_detected`, `drift_corrected`, `refused`, `waiting`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeAction::Applied => "applied",
            OutcomeAction::Unchanged => "unchanged",
            OutcomeAction::DriftDetected => "drift_detected",
            OutcomeAction::DriftCorrected => "drift_corrected",
            OutcomeAction::Refused => "refused",
            OutcomeAction::Waiting => "waiting",
        }
    }

    /// True when the target holds an accepted commit after the run (everything but
    /// [`OutcomeAction::Refused`]); drift that is only reported still counts as success.
    pub fn is_success(self) -> bool {
        !matches!(self, OutcomeAction::Refused)
    }
}

/// What the daemon should do after a successful run (kube-rs `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Next {
    /// Nothing more to do until the next trigger (poll, watch, webhook, schedule).
    #[default]
    AwaitChange,
    /// Run again after this delay (e.g. a canary step's bake time), unless a trigger comes
    /// first.
    RequeueAfter(Duration),
}

/// The result of a finished reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The desired commit the run looked at (full id).
    pub commit: String,
    /// What the run did.
    pub action: OutcomeAction,
    /// How many resources changed (0 for unchanged, refused and drift only reported).
    pub changes: usize,
    /// One line for people: what happened, or why the commit was refused.
    pub message: String,
    /// True when the target still differs from Git after the run (drift reported, not
    /// corrected); sets the `meshcd_drift` gauge.
    pub drift: bool,
    /// When to run again.
    pub next: Next,
}

impl Outcome {
    /// An outcome with no changes, no drift and [`Next::AwaitChange`].
    pub fn new(
        commit: impl Into<String>,
        action: OutcomeAction,
        message: impl Into<String>,
    ) -> Self {
        Self {
            commit: commit.into(),
            action,
            changes: 0,
            message: message.into(),
            drift: false,
            next: Next::AwaitChange,
        }
    }
}

/// A reconcile that could not finish. Its `Display` says what failed in this layer; the cause is
/// its [`std::error::Error::source`] (see [`report`] for the whole chain on one line).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The repository could not be read.
    #[error("reading the repository")]
    Source(#[from] SourceError),
    /// What the target holds could not be read.
    #[error("reading what {target} holds")]
    ReadTarget {
        /// The target's id.
        target: String,
        /// Why.
        #[source]
        source: TargetError,
    },
    /// The target did not take a change.
    #[error("{commit} not applied")]
    Apply {
        /// The short commit id.
        commit: String,
        /// Why.
        #[source]
        source: TargetError,
    },
    /// The change was applied, but the state store did not record it.
    #[error("applied, but not recorded")]
    Record(#[source] StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("{what} failed")]
    Task {
        /// The task.
        what: &'static str,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The desired revision is refused by policy (asked for its plan).
    #[error("{0}")]
    Refused(String),
    /// A failure described by its message alone (custom reconcilers and tests).
    #[error("{message}")]
    Other {
        /// What went wrong, in one line (no secrets).
        message: String,
        /// Whether trying again may help.
        retryable: bool,
    },
}

impl ReconcileError {
    /// A transient failure (network, a busy target): retried with backoff.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that retrying will not fix: waits for the next trigger.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            retryable: false,
        }
    }

    /// True: retry with capped exponential backoff. False: wait for the next trigger (the error
    /// needs a new commit or an operator: an unknown revision, a change the target rejects).
    ///
    /// Source errors that may pass (a repository being written, a remote that is down) are
    /// retried; an unknown revision or a bad path waits for the next trigger.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Source(error) => matches!(
                error,
                SourceError::Open { .. } | SourceError::Fetch { .. } | SourceError::Read(_)
            ),
            Self::ReadTarget { source, .. } | Self::Apply { source, .. } => source.is_retryable(),
            Self::Record(_) | Self::Task { .. } => true,
            Self::Refused(_) => false,
            Self::Other { retryable, .. } => *retryable,
        }
    }
}

pub use crate::errors::report;
