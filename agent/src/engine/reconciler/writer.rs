//! The target's writer: one task that carries out every write to the target, one at a time,
//! so that a reconcile's apply and a rollout step's weights never race. It takes the
//! reconcile's applies as jobs and publishes rollout weights on its own when the rollouts'
//! [`View`] asks for them; readers never wait for it.
//!
//! Contract: a write is confirmed to the rollouts ([`Rollouts::applied`]) only after the target
//! confirmed it; a failed publish of rollout weights is tried again after [`RETRY`]. The task
//! holds the reconciler weakly and stops when the reconciler is dropped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use meshcd_core::plan::Plan;
use tokio::sync::{mpsc, oneshot, watch};

use super::Inner;
use crate::engine::rollouts::View;
use crate::targets::{ApplyReport, Target, TargetError};

/// How long a failed publish of rollout weights waits before it is tried again.
pub const RETRY: Duration = Duration::from_secs(1);

/// A write the reconcile asks for.
pub struct Job<T: Target> {
    /// The configuration to hold.
    pub config: T::Config,
    /// What the target holds now.
    pub applied: T::State,
    /// The changes from `applied` to `config`.
    pub plan: Plan,
    /// The rollouts' view the configuration carries the weights of.
    pub generation: u64,
    /// The answer.
    pub reply: oneshot::Sender<Result<ApplyReport, TargetError>>,
}

/// Runs the writer until the reconciler is dropped.
pub async fn run<T: Target>(
    inner: Weak<Inner<T>>,
    mut jobs: mpsc::Receiver<Job<T>>,
    mut view: watch::Receiver<Arc<View>>,
) {
    let mut published = 0u64;
    let mut retry_at: Option<Instant> = None;
    loop {
        let wake = retry_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            job = jobs.recv() => {
                let Some(job) = job else { break };
                let Some(inner) = inner.upgrade() else { break };
                let result = inner.target.apply(&job.config, &job.applied, &job.plan).await;
                if result.is_ok() {
                    published = published.max(job.generation);
                    inner.rollouts.applied(job.generation);
                }
                let _ = job.reply.send(result);
            }
            changed = view.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep_until(wake.into()) => retry_at = None,
        }
        let current = view.borrow_and_update().clone();
        if !current.needs_publish() || current.generation <= published || retry_at.is_some() {
            continue;
        }
        let Some(inner) = inner.upgrade() else { break };
        match inner.publish(&current).await {
            Ok(Some(report)) => {
                tracing::debug!(
                    total_ms = report.total_ms,
                    validated = report.validated,
                    "rollout weights published"
                );
                published = current.generation;
                inner.rollouts.applied(current.generation);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(
                    error = %crate::engine::reconcile::report(&error),
                    "publishing rollout weights failed; retrying in 1 s"
                );
                retry_at = Some(Instant::now() + RETRY);
            }
        }
    }
}
