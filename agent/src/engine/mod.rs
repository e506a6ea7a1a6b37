//! The engine: what one reconcile does (load and check a revision, plan it against the target,
//! decide, apply, record) and the rollouts that walk weight changes step by step.
//!
//! Layer: below the daemon and the commands, above the targets, analysis, source and store. It
//! never imports `commands`, `cli` or `daemon`; the daemon drives it through [`Reconcile`].

pub mod check;
pub mod git_watch;
pub mod reconcile;
pub mod reconciler;
pub mod rollouts;

pub use git_watch::GitWatchReconciler;
pub use reconcile::{
    Next, Outcome, OutcomeAction, Reconcile, ReconcileError, Trigger, TriggerSink,
};
pub use reconciler::{ReconcilerOptions, TargetReconciler};
