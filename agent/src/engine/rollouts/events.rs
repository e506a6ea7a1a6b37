//! Rollout events: what `meshcd apply --format json` prints line by line, what
//! `meshcd status --watch` draws, and what hooks receive.

use meshcd_core::model::ResourceId;
use meshcd_core::plan::WeightMap;
use meshcd_core::rollout::duration;
use meshcd_core::rollout::machine::{LogEntry, Phase, Rollout};
use meshcd_core::rollout::ConditionReport;
use serde::{Deserialize, Serialize};

/// A rollout's state at one moment, for machines (one JSON object per line) and displays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutEvent {
    /// The route (`HTTPRoute/web/web` on the wire).
    pub route: ResourceId,
    /// The commit the rollout moves towards.
    pub commit: String,
    /// The RolloutPolicy (or `default`).
    pub policy: String,
    /// Where the rollout is; on the wire `pending`, `progressing`, `paused`, `rolling-back`,
    /// `promoted` or `rolled-back`.
    #[serde(with = "meshcd_core::rollout::machine::shown")]
    pub phase: Phase,
    /// Current step, 1-based.
    pub step: usize,
    /// Number of steps.
    pub steps: usize,
    /// The canary's backend key.
    pub canary: String,
    /// The canary's share now, in percent.
    pub canary_weight: u64,
    /// The weights the target holds (or is being given).
    pub weights: WeightMap,
    /// Whether the target confirmed them.
    pub live: bool,
    /// Time left in the current step's bake, milliseconds (while baking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bake_remaining_ms: Option<u64>,
    /// Conditions observed against their thresholds.
    pub conditions: Vec<ConditionReport>,
    /// Why it is paused, rolling back or rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The latest history line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<LogEntry>,
    /// The step passed, but a change window holds the next one back (why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

impl RolloutEvent {
    /// The event for a rollout at `now_ms`.
    pub fn of(rollout: &Rollout, bake_ms: u64, now_ms: u64) -> RolloutEvent {
        let bake_remaining_ms = rollout
            .is_baking()
            .then(|| (rollout.since_ms + bake_ms).saturating_sub(now_ms));
        RolloutEvent {
            route: rollout.route.clone(),
            commit: rollout.commit.clone(),
            policy: rollout.plan.policy.clone(),
            phase: rollout.phase,
            step: rollout.step + 1,
            steps: rollout.steps(),
            canary: rollout.plan.canary.clone(),
            canary_weight: rollout.canary_share(),
            weights: rollout.want.clone(),
            live: rollout.live,
            bake_remaining_ms,
            conditions: rollout.conditions.clone(),
            reason: rollout.reason.clone(),
            last: rollout.log.last().cloned(),
            waiting: None,
        }
    }
}

/// One line for a terminal: route, phase, step, weights, conditions and the bake's time left.
///
/// `HTTPRoute/web/web  progressing  step 2/4  web-canary 10%  success-rate 100.0% (>= 99%) ✓
/// requests 37 (>= 50) …  bake 12s left`
pub fn progress_line(event: &RolloutEvent) -> String {
    let mut line = format!(
        "{}  {}  step {}/{}  {} {}%{}",
        event.route,
        event.phase,
        event.step,
        event.steps,
        event.canary,
        event.canary_weight,
        if event.live { "" } else { " (applying)" }
    );
    for condition in &event.conditions {
        let mark = match condition.ok {
            Some(true) => "ok",
            Some(false) => "FAIL",
            None => "…",
        };
        line.push_str(&format!(
            "  {} {} ({}) {mark}",
            condition.name,
            condition.observed.as_deref().unwrap_or("-"),
            condition.threshold
        ));
    }
    if let Some(left) = event.bake_remaining_ms {
        line.push_str(&format!(
            "  bake {} left",
            duration::format(std::time::Duration::from_millis(left - left % 1000))
        ));
    }
    if let Some(reason) = &event.reason {
        line.push_str(&format!("  ({reason})"));
    }
    if let Some(why) = &event.waiting {
        line.push_str(&format!("  waiting for a change window: {why}"));
    }
    line
}
