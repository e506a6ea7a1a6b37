//! The target's writer: one task that carries out every write to the target, one at a time,
//! so that a reconcile's apply and a rollout step's weights never race. It takes the
//! reconcile's applies as jobs and publishes rollout weights on its own when the rollouts'
//! [`View`] asks for them; readers never wait for it.
//!
//! While a reconcile is under way (`Inner::reconciling`) the writer does not publish rollout
//! weights on its own: the reconcile's write carries them, and a publish from a view the
//! reconcile had not yet seen would only write the same weights twice.
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

/// What the writer is asked to do.
pub enum Order<T: Target> {
    /// Carry out a reconcile's write.
    Write(Job<T>),
    /// Look at the rollouts again: a reconcile that held back the writer's own publishes ended.
    Wake,
}

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
    mut orders: mpsc::Receiver<Order<T>>,
    mut view: watch::Receiver<Arc<View>>,
) {
    let mut published = 0u64;
    let mut retry_at: Option<Instant> = None;
    loop {
        let wake = retry_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            order = orders.recv() => {
                let job = match order {
                    None => break,
                    Some(Order::Wake) => None,
                    Some(Order::Write(job)) => Some(job),
                };
                let Some(inner) = inner.upgrade() else { break };
                if let Some(job) = job {
                let result = inner.target.apply(&job.config, &job.applied, &job.plan).await;
                if result.is_ok() {
                    published = published.max(job.generation);
                    inner.rollouts.applied(job.generation);
                }
                let _ = job.reply.send(result);
                }
            }
            changed = view.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = tokio::time::sleep_until(wake.into()) => retry_at = None,
        }
        let Some(inner) = inner.upgrade() else { break };
        continue_publishing(&inner, &view, &mut published, &mut retry_at).await;
    }
}

/// Publishes the rollouts' weights when the view asks for weights not yet published, no retry
/// is pending and no reconcile is about to write (it carries the weights itself).
async fn continue_publishing<T: Target>(
    inner: &Inner<T>,
    view: &watch::Receiver<Arc<View>>,
    published: &mut u64,
    retry_at: &mut Option<Instant>,
) {
    let current = view.borrow().clone();
    if !current.needs_publish()
        || current.generation <= *published
        || retry_at.is_some()
        || inner.reconciling()
    {
        return;
    }
    match inner.publish(&current).await {
        Ok(Some(report)) => {
            tracing::debug!(
                total_ms = report.total_ms,
                validated = report.validated,
                "rollout weights published"
            );
            *published = current.generation;
            inner.rollouts.applied(current.generation);
        }
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(
                error = %crate::errors::report(&error),
                "publishing rollout weights failed; retrying in 1 s"
            );
            *retry_at = Some(Instant::now() + RETRY);
        }
    }
}
