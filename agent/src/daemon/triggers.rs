//! Where reconciles come from, and how they are coalesced: a one-slot [`TriggerQueue`] fed by
//! the poll timer, cron schedules, the `.git` watcher, webhooks and the manual endpoint.
//!
//! Coalescing contract: the queue holds at most one pending trigger. A trigger submitted while
//! another is pending is merged into it (the first one is kept, so metrics show what started
//! the wait), and the worker takes the pending trigger only when it is idle. Hence, however many
//! triggers arrive during a reconcile, exactly one follow-up reconcile runs after it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::status::Status;
use crate::config::ScheduleConfig;
use crate::engine::{Trigger, TriggerSink};

/// What happened to a submitted trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// It is the pending trigger now: a reconcile will run for it.
    Queued,
    /// Another trigger was already pending; this one was merged into it.
    Coalesced,
    /// The daemon is shutting down and takes no more triggers.
    Closed,
}

impl Submitted {
    /// True unless the queue was closed.
    pub fn accepted(self) -> bool {
        self != Submitted::Closed
    }
}

#[derive(Debug, Default)]
struct QueueState {
    pending: Option<Trigger>,
    closed: bool,
    seen: BTreeMap<&'static str, u64>,
    coalesced: u64,
}

/// The one-slot queue between trigger sources and the reconcile worker.
#[derive(Debug, Default)]
pub struct TriggerQueue {
    state: Mutex<QueueState>,
    wake: Notify,
}

impl TriggerQueue {
    /// An empty, open queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Submits a trigger: it becomes the pending one, or merges into the pending one.
    pub fn submit(&self, trigger: Trigger) -> Submitted {
        let mut state = self.lock();
        if state.closed {
            return Submitted::Closed;
        }
        *state.seen.entry(trigger.kind()).or_default() += 1;
        if state.pending.is_some() {
            state.coalesced += 1;
            return Submitted::Coalesced;
        }
        state.pending = Some(trigger);
        drop(state);
        self.wake.notify_one();
        Submitted::Queued
    }

    /// Waits for the pending trigger and takes it; `None` once the queue is closed (a pending
    /// trigger is dropped on close: shutdown starts no new reconcile).
    pub async fn next(&self) -> Option<Trigger> {
        loop {
            {
                let mut state = self.lock();
                if state.closed {
                    return None;
                }
                if let Some(trigger) = state.pending.take() {
                    return Some(trigger);
                }
            }
            // `notify_one` stores a permit when nobody waits, so a submit between the check
            // above and this await is not lost.
            self.wake.notified().await;
        }
    }

    /// Takes the pending trigger without waiting.
    pub fn try_next(&self) -> Option<Trigger> {
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        state.pending.take()
    }

    /// Stops taking triggers and wakes the worker so it can exit.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// How many triggers of each kind were submitted, and how many were merged into a pending
    /// one.
    pub fn counts(&self) -> (BTreeMap<&'static str, u64>, u64) {
        let state = self.lock();
        (state.seen.clone(), state.coalesced)
    }
}

/// A cloneable handle to submit triggers (given to reconcilers by
/// [`crate::engine::Reconcile::attach`]).
#[derive(Debug, Clone)]
pub struct TriggerSender {
    queue: Arc<TriggerQueue>,
}

impl TriggerSender {
    /// A sender into `queue`.
    pub fn new(queue: Arc<TriggerQueue>) -> Self {
        Self { queue }
    }

    /// Submits a trigger (see [`TriggerQueue::submit`]).
    pub fn send(&self, trigger: Trigger) -> Submitted {
        self.queue.submit(trigger)
    }
}

impl TriggerSink for TriggerSender {
    fn submit(&self, trigger: Trigger) -> bool {
        self.send(trigger).accepted()
    }
}

/// Submits [`Trigger::Poll`] every `interval` (the first one `interval` after start, since
/// startup reconciles anyway) until `shutdown` turns true. Publishes the next poll time.
pub fn spawn_poll(
    interval: Duration,
    sender: TriggerSender,
    status: Arc<Status>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            status.set_next_poll(Some(wall_clock_in(interval)));
            tokio::select! {
                _ = ticker.tick() => {
                    sender.send(Trigger::Poll);
                }
                _ = shutdown.changed() => break,
            }
        }
        status.set_next_poll(None);
    })
}

/// Longest single sleep of a schedule: it wakes at least this often to re-read the wall
/// clock, so a clock change (NTP step, suspend) delays a firing by at most this much.
const MAX_SCHEDULE_SLEEP: Duration = Duration::from_secs(60);

/// Submits [`Trigger::Schedule`] each time `schedule` fires, until `shutdown` turns true or
/// the schedule never fires again. Publishes the next firing time.
pub fn spawn_schedule(
    schedule: ScheduleConfig,
    sender: TriggerSender,
    status: Arc<Status>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut after = Utc::now();
        while let Some(at) = schedule.next_after(after) {
            status.set_next_schedule(&schedule.name, Some(at));
            // Sleep in slices until the wall clock reaches `at`.
            loop {
                let left = (at - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(left.min(MAX_SCHEDULE_SLEEP)) => {}
                    _ = shutdown.changed() => {
                        status.set_next_schedule(&schedule.name, None);
                        return;
                    }
                }
            }
            sender.send(Trigger::Schedule(schedule.name.clone()));
            after = at;
        }
        status.set_next_schedule(&schedule.name, None);
    })
}

fn wall_clock_in(delay: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn triggers_during_a_run_coalesce_into_one() {
        let queue = TriggerQueue::new();
        assert_eq!(queue.submit(Trigger::Startup), Submitted::Queued);
        assert_eq!(queue.next().await, Some(Trigger::Startup));
        // "Running" now: everything that arrives merges into one pending trigger.
        assert_eq!(queue.submit(Trigger::Poll), Submitted::Queued);
        for _ in 0..10 {
            assert_eq!(queue.submit(Trigger::Manual), Submitted::Coalesced);
        }
        assert_eq!(queue.next().await, Some(Trigger::Poll));
        assert_eq!(queue.try_next(), None);
        let (seen, coalesced) = queue.counts();
        assert_eq!(seen["manual"], 10);
        assert_eq!(seen["poll"], 1);
        assert_eq!(coalesced, 10);
    }

    #[tokio::test]
    async fn a_waiting_worker_wakes_and_close_ends_it() {
        let queue = Arc::new(TriggerQueue::new());
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::task::yield_now().await;
        queue.submit(Trigger::FileChange);
        assert_eq!(waiter.await.unwrap(), Some(Trigger::FileChange));

        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        queue.submit(Trigger::Manual);
        let got = waiter.await.unwrap();
        assert_eq!(got, Some(Trigger::Manual));
        queue.submit(Trigger::Poll);
        queue.close();
        assert_eq!(queue.next().await, None, "close drops the pending trigger");
        assert_eq!(queue.submit(Trigger::Poll), Submitted::Closed);
    }
}
