//! What the daemon knows about itself: the last outcome and error, readiness, and the
//! `GET /api/v1/status` document.
//!
//! Readiness contract (`GET /readyz`): ready once a reconcile has succeeded, and for as long as
//! the last finished reconcile succeeded (drift that is only reported counts as success). A
//! refused commit or a failed reconcile makes the daemon unready until a later success. A
//! reconcile in progress does not change readiness.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::engine::reconcile::report;
use crate::engine::{Outcome, ReconcileError, Trigger};

/// The last failed reconcile, as the status API shows it.
#[derive(Debug, Clone)]
struct LastError {
    /// The error and its causes, on one line.
    message: String,
    /// Whether the daemon retries it.
    retryable: bool,
}
use crate::source::short_commit;

#[derive(Debug, Clone)]
struct Finished {
    trigger: String,
    at: DateTime<Utc>,
    duration: Duration,
}

#[derive(Debug, Default)]
struct State {
    applied_commit: Option<String>,
    last_outcome: Option<(Outcome, Finished)>,
    last_error: Option<(LastError, Finished)>,
    /// Why the last finished run left the daemon unready (`None`: it succeeded).
    not_ready: Option<String>,
    ever_succeeded: bool,
    in_progress: Option<(String, DateTime<Utc>)>,
    next_poll: Option<DateTime<Utc>>,
    next_retry: Option<(DateTime<Utc>, u32)>,
    next_schedules: BTreeMap<String, DateTime<Utc>>,
    reconciles: u64,
}

/// Static facts shown in the status document.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The target, as the reconciler describes it.
    pub target: String,
    /// The repository (URL credentials removed).
    pub repo: String,
    /// The revision followed (`HEAD` when unset).
    pub rev: String,
    /// The folder of the repository read.
    pub path: String,
}

/// Shared, lock-protected status of the daemon.
#[derive(Debug, Default)]
pub struct Status {
    identity: Identity,
    state: Mutex<State>,
}

impl Status {
    /// A status with nothing run yet.
    pub fn new(identity: Identity) -> Self {
        Self {
            identity,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A reconcile started.
    pub fn started(&self, trigger: &Trigger) {
        self.lock().in_progress = Some((trigger.to_string(), Utc::now()));
    }

    /// A reconcile finished; records its result and clears the in-progress marker.
    pub fn finished(
        &self,
        trigger: &Trigger,
        duration: Duration,
        result: &Result<Outcome, ReconcileError>,
    ) {
        let mut state = self.lock();
        state.in_progress = None;
        state.reconciles += 1;
        let finished = Finished {
            trigger: trigger.to_string(),
            at: Utc::now(),
            duration,
        };
        match result {
            Ok(outcome) => {
                let success = outcome.action.is_success();
                if success {
                    state.applied_commit = Some(outcome.commit.clone());
                    state.ever_succeeded = true;
                    state.last_error = None;
                    state.not_ready = None;
                } else {
                    state.not_ready = Some(format!(
                        "commit {} was refused: {}",
                        short_commit(&outcome.commit),
                        outcome.message
                    ));
                }
                state.last_outcome = Some((outcome.clone(), finished));
            }
            Err(error) => {
                let error = LastError {
                    message: report(error),
                    retryable: error.is_retryable(),
                };
                state.not_ready = Some(format!("the last reconcile failed: {}", error.message));
                state.last_error = Some((error, finished));
            }
        }
    }

    /// Publishes the next poll time.
    pub fn set_next_poll(&self, at: Option<DateTime<Utc>>) {
        self.lock().next_poll = at;
    }

    /// Publishes the next retry (time and attempt), or clears it.
    pub fn set_next_retry(&self, retry: Option<(DateTime<Utc>, u32)>) {
        self.lock().next_retry = retry;
    }

    /// Publishes the next firing of a schedule, or clears it.
    pub fn set_next_schedule(&self, name: &str, at: Option<DateTime<Utc>>) {
        let mut state = self.lock();
        match at {
            Some(at) => state.next_schedules.insert(name.to_string(), at),
            None => state.next_schedules.remove(name),
        };
    }

    /// `Ok` when ready; otherwise why not, in one line.
    pub fn readiness(&self) -> Result<(), String> {
        let state = self.lock();
        match &state.not_ready {
            None if state.ever_succeeded => Ok(()),
            None => Err("no reconcile has succeeded yet".to_string()),
            Some(reason) => Err(reason.clone()),
        }
    }

    /// The `GET /api/v1/status` document. `triggers` are the counts by kind, `coalesced` the
    /// number of triggers merged into a pending one.
    pub fn document(&self, triggers: &BTreeMap<&'static str, u64>, coalesced: u64) -> Value {
        let ready = self.readiness();
        let state = self.lock();
        let last_outcome = state.last_outcome.as_ref().map(|(outcome, run)| {
            json!({
                "trigger": run.trigger,
                "action": outcome.action.as_str(),
                "commit": outcome.commit,
                "changes": outcome.changes,
                "message": outcome.message,
                "drift": outcome.drift,
                "finishedAt": time(run.at),
                "durationSeconds": run.duration.as_secs_f64(),
            })
        });
        let last_error = state.last_error.as_ref().map(|(error, run)| {
            json!({
                "trigger": run.trigger,
                "message": error.message,
                "retryable": error.retryable,
                "at": time(run.at),
            })
        });
        let next_retry = state
            .next_retry
            .map(|(at, attempt)| json!({"at": time(at), "attempt": attempt}));
        let in_progress = state
            .in_progress
            .as_ref()
            .map(|(trigger, since)| json!({"trigger": trigger, "since": time(*since)}));
        let schedules: BTreeMap<&String, String> = state
            .next_schedules
            .iter()
            .map(|(name, at)| (name, time(*at)))
            .collect();
        json!({
            "target": self.identity.target,
            "repo": self.identity.repo,
            "rev": self.identity.rev,
            "path": self.identity.path,
            "appliedCommit": state.applied_commit,
            "ready": ready.is_ok(),
            "notReadyReason": ready.err(),
            "lastOutcome": last_outcome,
            "lastError": last_error,
            "nextPoll": state.next_poll.map(time),
            "nextRetry": next_retry,
            "nextSchedules": schedules,
            "inProgress": in_progress,
            "reconciles": state.reconciles,
            "triggersSeen": triggers,
            "triggersCoalesced": coalesced,
        })
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::reconcile::OutcomeAction;

    fn finish(status: &Status, result: Result<Outcome, ReconcileError>) {
        status.finished(&Trigger::Poll, Duration::from_millis(5), &result);
    }

    #[test]
    fn readiness_follows_the_last_finished_run() {
        let status = Status::default();
        assert!(status.readiness().is_err());
        finish(&status, Err(ReconcileError::retryable("fetch failed")));
        assert!(status.readiness().unwrap_err().contains("fetch failed"));
        finish(
            &status,
            Ok(Outcome::new("a".repeat(40), OutcomeAction::Applied, "")),
        );
        assert_eq!(status.readiness(), Ok(()));
        finish(
            &status,
            Ok(Outcome::new(
                "b".repeat(40),
                OutcomeAction::DriftDetected,
                "",
            )),
        );
        assert_eq!(status.readiness(), Ok(()), "reported drift is still ready");
        finish(
            &status,
            Ok(Outcome::new(
                "c".repeat(40),
                OutcomeAction::Refused,
                "MC101",
            )),
        );
        assert!(status
            .readiness()
            .unwrap_err()
            .contains("ccccccc was refused: MC101"));
        let document = status.document(&BTreeMap::new(), 0);
        assert_eq!(document["appliedCommit"], "b".repeat(40));
        assert_eq!(document["lastOutcome"]["action"], "refused");
        finish(
            &status,
            Ok(Outcome::new("d".repeat(40), OutcomeAction::Applied, "")),
        );
        assert_eq!(status.readiness(), Ok(()));
        finish(&status, Err(ReconcileError::retryable("fetch failed")));
        finish(
            &status,
            Ok(Outcome::new(
                "e".repeat(40),
                OutcomeAction::Refused,
                "MC102",
            )),
        );
        assert!(
            status.readiness().unwrap_err().contains("MC102"),
            "the latest reason wins"
        );
    }
}
