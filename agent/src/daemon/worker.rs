//! The reconcile worker: takes one trigger at a time from the queue, runs the reconciler,
//! records the result, and applies the error policy.
//!
//! Error policy (kube-rs `error_policy`, kept apart from the reconciler):
//! - success: the backoff resets; [`Next::RequeueAfter`] schedules a [`Trigger::Requeue`];
//! - retryable error: a [`Trigger::Retry`] is scheduled after the next backoff delay (1 s, 2 s,
//!   4 s... up to `retry.max`, with jitter). While it is scheduled, poll triggers are dropped
//!   (the retry covers them) but other triggers (watch, webhook, schedule, manual) run at once;
//! - non-retryable error: nothing is scheduled; the next trigger runs.
//!
//! Any trigger that runs cancels a scheduled retry or requeue (its run decides anew). A
//! reconcile that panics counts as a retryable error; the worker keeps going.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::Shared;
use crate::config::RetryConfig;
use crate::engine::reconcile::report;
use crate::engine::{Next, Outcome, Reconcile, ReconcileError, Trigger};

/// Runs until the queue is closed. A reconcile in progress when the queue closes finishes
/// first (the caller bounds the wait).
pub(super) async fn run<R: Reconcile>(reconciler: Arc<R>, shared: Arc<Shared>, retry: RetryConfig) {
    let mut backoff = Backoff::new(retry.initial, retry.max);
    let mut timer: Option<(Instant, Trigger)> = None;
    loop {
        let trigger = tokio::select! {
            next = shared.queue.next() => match next {
                Some(trigger) => trigger,
                None => break,
            },
            () = sleep_until(timer.as_ref().map(|(at, _)| *at)), if timer.is_some() => {
                match timer.take() {
                    Some((_, trigger)) => trigger,
                    None => continue,
                }
            }
        };
        if trigger == Trigger::Poll && matches!(timer, Some((_, Trigger::Retry { .. }))) {
            tracing::debug!("poll skipped: a retry is scheduled");
            continue;
        }
        // Whatever scheduled retry or requeue there was, this run replaces it.
        shared.status.set_next_retry(None);

        shared.status.started(&trigger);
        let started = Instant::now();
        let result = reconcile_in_task(&reconciler, trigger.clone()).await;
        let elapsed = started.elapsed();
        shared
            .metrics
            .record(&trigger, elapsed.as_secs_f64(), &result);
        shared.status.finished(&trigger, elapsed, &result);

        timer = match &result {
            Ok(outcome) => {
                backoff.reset();
                tracing::info!(
                    %trigger,
                    action = outcome.action.as_str(),
                    commit = %outcome.commit,
                    changes = outcome.changes,
                    summary = %outcome.message,
                    "reconciled"
                );
                match outcome.next {
                    Next::AwaitChange => None,
                    Next::RequeueAfter(delay) => Some((Instant::now() + delay, Trigger::Requeue)),
                }
            }
            Err(error) if error.is_retryable() => {
                let delay = backoff.next_delay();
                let attempt = backoff.failures();
                tracing::warn!(%trigger, error = %report(error), retry_in = ?delay, attempt, "reconcile failed");
                shared
                    .status
                    .set_next_retry(Some((Utc::now() + to_chrono(delay), attempt)));
                Some((Instant::now() + delay, Trigger::Retry { attempt }))
            }
            Err(error) => {
                tracing::warn!(%trigger, error = %report(error), "reconcile failed; waiting for the next trigger");
                None
            }
        };
    }
}

/// Runs one reconcile in its own task, so that a panic becomes a retryable error instead of
/// ending the worker. The task is aborted if the worker is dropped (shutdown timeout).
async fn reconcile_in_task<R: Reconcile>(
    reconciler: &Arc<R>,
    trigger: Trigger,
) -> Result<Outcome, ReconcileError> {
    let reconciler = reconciler.clone();
    let task = tokio::spawn(async move { reconciler.reconcile(trigger).await });
    let guard = AbortOnDrop(task.abort_handle());
    let result = task.await;
    drop(guard);
    result.unwrap_or_else(|error| {
        Err(ReconcileError::retryable(if error.is_panic() {
            "the reconcile panicked (a bug: please report it)".to_string()
        } else {
            format!("the reconcile task stopped: {error}")
        }))
    })
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

fn to_chrono(delay: Duration) -> chrono::Duration {
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use tokio::sync::Semaphore;

    use super::*;
    use crate::config::WebhookConfig;
    use crate::daemon::metrics::Metrics;
    use crate::daemon::status::Status;
    use crate::daemon::triggers::TriggerQueue;
    use crate::engine::reconcile::OutcomeAction;

    type Scripted = Result<Outcome, ReconcileError>;

    /// Records the triggers it ran for; each run waits for a permit of `gate`, then returns the
    /// next scripted result (`Unchanged` once the script is empty).
    struct Fake {
        gate: Semaphore,
        runs: Mutex<Vec<Trigger>>,
        script: Mutex<VecDeque<Scripted>>,
    }

    impl Reconcile for Fake {
        async fn reconcile(&self, trigger: Trigger) -> Scripted {
            self.runs.lock().unwrap().push(trigger);
            if let Ok(permit) = self.gate.acquire().await {
                permit.forget();
            }
            let next = self.script.lock().unwrap().pop_front();
            next.unwrap_or_else(|| Ok(unchanged()))
        }
    }

    fn unchanged() -> Outcome {
        Outcome::new("c0ffee", OutcomeAction::Unchanged, "")
    }

    fn setup(script: Vec<Scripted>, permits: usize) -> (Arc<Fake>, Arc<Shared>) {
        let fake = Arc::new(Fake {
            gate: Semaphore::new(permits),
            runs: Mutex::default(),
            script: Mutex::new(script.into()),
        });
        let shared = Arc::new(Shared {
            queue: Arc::new(TriggerQueue::new()),
            status: Arc::new(Status::default()),
            metrics: Metrics::new(),
            webhook: WebhookConfig::default(),
            store: None,
            rollouts: None,
            xds: None,
        });
        (fake, shared)
    }

    fn retry(initial_ms: u64, max_ms: u64) -> RetryConfig {
        RetryConfig {
            initial: Duration::from_millis(initial_ms),
            max: Duration::from_millis(max_ms),
        }
    }

    /// Waits (bounded) until `count` runs have started.
    async fn wait_for_runs(fake: &Fake, count: usize) {
        for _ in 0..1000 {
            if fake.runs.lock().unwrap().len() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {count} runs, saw {:?}", fake.runs.lock().unwrap());
    }

    fn runs(fake: &Fake) -> Vec<Trigger> {
        fake.runs.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn triggers_during_a_run_cause_exactly_one_follow_up() {
        let (fake, shared) = setup(vec![], 0);
        let worker = tokio::spawn(run(fake.clone(), shared.clone(), retry(1000, 8000)));
        shared.queue.submit(Trigger::Startup);
        wait_for_runs(&fake, 1).await;
        // The first run is blocked on the gate: pile up triggers.
        shared.queue.submit(Trigger::FileChange);
        for _ in 0..20 {
            shared.queue.submit(Trigger::Manual);
        }
        fake.gate.add_permits(10);
        wait_for_runs(&fake, 2).await;
        // Give a (wrong) third run every chance to start.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(runs(&fake), [Trigger::Startup, Trigger::FileChange]);
        shared.queue.close();
        worker.await.unwrap();
    }

    #[tokio::test]
    async fn retryable_errors_back_off_and_polls_wait_for_the_retry() {
        let boom = || Err(ReconcileError::retryable("boom"));
        let (fake, shared) = setup(vec![boom(), boom(), boom()], 100);
        let worker = tokio::spawn(run(fake.clone(), shared.clone(), retry(40, 120)));
        let start = Instant::now();
        shared.queue.submit(Trigger::Startup);
        wait_for_runs(&fake, 1).await;
        // A poll during the backoff is dropped: the retry covers it.
        shared.queue.submit(Trigger::Poll);
        wait_for_runs(&fake, 4).await;
        let elapsed = start.elapsed();
        // Delays 40, 80, 120 (capped) ms, each shortened by at most 20 %.
        assert!(
            elapsed >= Duration::from_millis(240 * 8 / 10),
            "{elapsed:?}"
        );
        assert_eq!(
            runs(&fake),
            [
                Trigger::Startup,
                Trigger::Retry { attempt: 1 },
                Trigger::Retry { attempt: 2 },
                Trigger::Retry { attempt: 3 },
            ]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(shared.status.readiness(), Ok(()));
        shared.queue.close();
        worker.await.unwrap();
    }

    #[tokio::test]
    async fn other_triggers_run_at_once_during_a_backoff_and_success_resets_it() {
        let boom = || Err(ReconcileError::retryable("boom"));
        let (fake, shared) = setup(vec![boom(), Ok(unchanged()), boom()], 100);
        // A retry would come only after 10 s: anything run sooner came from a trigger.
        let worker = tokio::spawn(run(fake.clone(), shared.clone(), retry(10_000, 60_000)));
        shared.queue.submit(Trigger::Startup);
        wait_for_runs(&fake, 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        shared.queue.submit(Trigger::Manual);
        wait_for_runs(&fake, 2).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        shared.queue.submit(Trigger::FileChange);
        wait_for_runs(&fake, 3).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            runs(&fake),
            [Trigger::Startup, Trigger::Manual, Trigger::FileChange]
        );
        // The failure after a success is the first again.
        let document = shared.status.document(&Default::default(), 0);
        assert_eq!(document["nextRetry"]["attempt"], 1, "{document:#}");
        shared.queue.close();
        worker.await.unwrap();
    }

    #[tokio::test]
    async fn permanent_errors_wait_and_requeue_runs_again() {
        let mut requeue = unchanged();
        requeue.next = Next::RequeueAfter(Duration::from_millis(30));
        let (fake, shared) = setup(
            vec![
                Ok(requeue),
                Err(ReconcileError::permanent("no such revision")),
            ],
            100,
        );
        let worker = tokio::spawn(run(fake.clone(), shared.clone(), retry(10, 10)));
        shared.queue.submit(Trigger::Startup);
        wait_for_runs(&fake, 2).await;
        // No retry follows a permanent error, however long we wait.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(runs(&fake), [Trigger::Startup, Trigger::Requeue]);
        let reason = shared.status.readiness().unwrap_err();
        assert!(reason.contains("no such revision"), "{reason}");
        shared.queue.close();
        worker.await.unwrap();
    }

    /// Panics on its first run, then succeeds.
    struct PanicsOnce(std::sync::atomic::AtomicBool);

    impl Reconcile for PanicsOnce {
        async fn reconcile(&self, _trigger: Trigger) -> Scripted {
            if !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
                panic!("a bug in a reconciler");
            }
            Ok(unchanged())
        }
    }

    #[tokio::test]
    async fn a_panicking_reconcile_is_retried() {
        let (_, shared) = setup(vec![], 0);
        let reconciler = Arc::new(PanicsOnce(Default::default()));
        let worker = tokio::spawn(run(reconciler, shared.clone(), retry(10, 10)));
        shared.queue.submit(Trigger::Startup);
        for _ in 0..1000 {
            if shared.status.readiness().is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let metrics = shared.metrics.encode();
        assert!(
            metrics.contains("meshcd_reconcile_total{trigger=\"startup\",result=\"error\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("meshcd_reconcile_total{trigger=\"retry\",result=\"unchanged\"} 1"),
            "{metrics}"
        );
        shared.queue.close();
        worker.await.unwrap();
    }
}
