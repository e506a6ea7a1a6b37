//! The per-route rollout state machine: Pending → Progressing(step) → Promoted | RolledBack,
//! with Paused beside Progressing.
//!
//! A [`Rollout`] is a value; [`Rollout::on`] takes an [`Event`] and returns the [`Effect`]s the
//! engine must carry out (apply weights, call hooks, mark the revision failed). The engine
//! persists the rollout *before* carrying out the effects and again after reporting their
//! result, so a crash at any point finds a record that says what the target should hold.
//!
//! # The weights the target holds
//! `want` is always one of the weights somebody chose: the applied weights before the rollout
//! (`plan.from`) or one of the plan's steps. `live` says whether the target was confirmed to
//! hold them. A step's bake starts when its weights are confirmed live (`since_ms`).
//!
//! # Transitions
//! | phase | event | next | effects |
//! |---|---|---|---|
//! | Pending | Start | Progressing(0), want = step 0 | PreStep hooks, Apply |
//! | Progressing, not live | Applied | Progressing, live, bake starts | Baseline |
//! | Progressing, live | Judged Continue | unchanged | — |
//! | Progressing(i), live | Judged Healthy, i < last | Progressing(i+1) | PreStep hooks, Apply |
//! | Progressing(last), live | Judged Healthy | Promoted | PostPromotion hooks, Finished |
//! | Progressing, live | Judged Failed, onFailure rollback | RollingBack, want = from | Apply |
//! | Progressing(i), live | Judged Failed, onFailure pause | Paused(i), want = last healthy | Apply |
//! | Progressing, live | Judged Inconclusive | as onInconclusive: Paused (weights kept), RollingBack, or as Healthy | |
//! | RollingBack | Applied | RolledBack | OnRollback hooks, MarkFailed, Finished |
//! | Progressing, Paused | Promote | Progressing(last), forced | Apply (no analysis: Applied → Promoted) |
//! | Progressing, Paused | Abort | RollingBack | Apply |
//! | Progressing | Pause | Paused(i), weights kept | — |
//! | Paused(i) | Resume | Progressing(i), not live | PreStep hooks, Apply |
//! | Progressing | HookFailed | Paused(i), want = last healthy | Apply |
//! | any active | Recover (after a restart) | same step, not live | Apply (bake restarts) |
//!
//! Events that make no sense in a phase (a verdict for a paused rollout, resume of a running
//! one) change nothing and return no effects; [`Rollout::on`] says so with `Err`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::actions::{OnFailure, OnInconclusive};
use super::judge::{ConditionReport, Judgement, Verdict};
use crate::model::ResourceId;
use crate::plan::{RolloutPlan, WeightMap};

/// Where a rollout is.
///
/// Persisted rollouts spell it in camelCase (`rollingBack`, the derived serde); users, progress
/// events and the daemon's API see the kebab-case name of [`Phase::as_str`] (`rolling-back`),
/// which [`FromStr`] reads and [`shown`] (de)serializes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Created, nothing applied yet.
    Pending,
    /// A step's weights are being applied (`live` false) or baking (`live` true).
    Progressing,
    /// Held for an operator (`meshcd resume`, `promote`, `abort`).
    Paused,
    /// The weights before the rollout are being restored.
    RollingBack,
    /// The desired weights are live and judged. Terminal.
    Promoted,
    /// Back at the weights before the rollout; the revision is marked failed. Terminal.
    RolledBack,
}

impl Phase {
    /// True for Promoted and RolledBack.
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Promoted | Phase::RolledBack)
    }

    /// Every phase, in the order a rollout meets them.
    pub const ALL: [Phase; 6] = [
        Phase::Pending,
        Phase::Progressing,
        Phase::Paused,
        Phase::RollingBack,
        Phase::Promoted,
        Phase::RolledBack,
    ];

    /// The name as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Progressing => "progressing",
            Phase::Paused => "paused",
            Phase::RollingBack => "rolling-back",
            Phase::Promoted => "promoted",
            Phase::RolledBack => "rolled-back",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not a phase's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a rollout phase (pending, progressing, paused, rolling-back, promoted, \
     rolled-back)"
)]
pub struct UnknownPhase(pub String);

impl FromStr for Phase {
    type Err = UnknownPhase;

    /// Reads the name [`Phase::as_str`] gives (`rolling-back`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| UnknownPhase(text.to_string()))
    }
}

/// Serde of a [`Phase`] as users see it (`"rolling-back"`), for progress events and the
/// daemon's API: `#[serde(with = "meshcd_core::rollout::machine::shown")]`.
pub mod shown {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Phase;

    /// Writes [`Phase::as_str`].
    pub fn serialize<S: Serializer>(phase: &Phase, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(phase.as_str())
    }

    /// Reads what [`serialize`] writes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Phase, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What happens to a rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Begin (from Pending).
    Start,
    /// The target confirmed it holds `want`.
    Applied,
    /// The judge's verdict on the current step.
    Judged(Judgement),
    /// An operator gate.
    Manual(Gate),
    /// A pre-step hook refused (non-2xx, or no answer); the text says which and why.
    HookFailed(String),
    /// meshcd restarted and found this rollout active.
    Recover,
}

/// Operator gates: `meshcd promote|abort|pause|resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    /// Go to the desired weights now, without further analysis.
    Promote,
    /// Roll back to the weights before the rollout; the revision is marked failed.
    Abort,
    /// Hold at the current weights.
    Pause,
    /// Continue a paused rollout with the step it stopped at (a fresh bake).
    Resume,
}

impl Gate {
    /// The name as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Promote => "promote",
            Gate::Abort => "abort",
            Gate::Pause => "pause",
            Gate::Resume => "resume",
        }
    }

    /// Parses `promote`, `abort`, `pause` or `resume`.
    pub fn parse(text: &str) -> Option<Gate> {
        [Gate::Promote, Gate::Abort, Gate::Pause, Gate::Resume]
            .into_iter()
            .find(|g| g.as_str() == text)
    }
}

/// Which hooks to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HookKind {
    /// Before a step's weights are applied; a refusal halts the rollout.
    PreStep,
    /// After promotion.
    PostPromotion,
    /// After a rollback.
    OnRollback,
}

/// What the engine must do after a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Call the policy's pre-step hooks before applying; report a refusal as
    /// [`Event::HookFailed`] (the Apply that follows is then not carried out).
    Hooks(HookKind),
    /// Make the target hold these weights for the route, then report [`Event::Applied`].
    Apply(WeightMap),
    /// Start measuring the step: read the counters that the step's window starts from.
    Baseline,
    /// Mark the rollout's revision as failed, with the reason.
    MarkFailed(String),
    /// The rollout ended (promoted or rolled back).
    Finished(Phase),
}

/// One line of a rollout's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Unix time, milliseconds.
    pub at_ms: u64,
    /// The step it concerns (0-based).
    pub step: usize,
    /// What happened, one line.
    pub message: String,
}

/// How many history lines a rollout keeps (the oldest go first).
pub const LOG_LIMIT: usize = 64;

/// A rollout of one route, as persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// The route (for Envoy, its virtual host is named by this id); a string on the wire
    /// (`HTTPRoute/web/web`).
    pub route: ResourceId,
    /// The commit whose weights the rollout moves towards.
    pub commit: String,
    /// From, steps, policy, canary, bake time and failure actions.
    pub plan: RolloutPlan,
    /// Where the target's weights sit in the route (each changing split's rule and keys).
    #[serde(default)]
    pub splits: Vec<(String, Vec<String>)>,
    /// Phase.
    pub phase: Phase,
    /// The step being applied or baked (Progressing), or to retry (Paused).
    pub step: usize,
    /// Steps judged healthy so far: the last good weights are those of step `passed - 1`, or
    /// `from` when none passed.
    pub passed: usize,
    /// The weights the target must hold now.
    pub want: WeightMap,
    /// The target confirmed it holds `want`.
    pub live: bool,
    /// When `want` went live (the bake of the current step started), Unix ms.
    pub since_ms: u64,
    /// Promotion requested by an operator: no analysis, finish once the last step is live.
    #[serde(default)]
    pub forced: bool,
    /// Re-applying after a restart of meshcd (until the target confirms).
    #[serde(default)]
    pub recovering: bool,
    /// Why the rollout is paused, rolling back or rolled back.
    #[serde(default)]
    pub reason: Option<String>,
    /// The judge's latest conditions (for progress displays).
    #[serde(default)]
    pub conditions: Vec<ConditionReport>,
    /// When the rollout was created, Unix ms.
    pub created_ms: u64,
    /// Last transition, Unix ms.
    pub updated_ms: u64,
    /// History, oldest first, at most [`LOG_LIMIT`] lines.
    #[serde(default)]
    pub log: Vec<LogEntry>,
}

/// Why an event was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{route} is {phase}: cannot {what}")]
pub struct NotNow {
    /// The route.
    pub route: ResourceId,
    /// Its phase.
    pub phase: Phase,
    /// The event.
    pub what: String,
}

impl Rollout {
    /// A pending rollout of `route` towards `commit`'s weights. `plan.steps` must not be empty
    /// (a plan from [`crate::plan::rollout_steps`] never is).
    pub fn new(
        route: ResourceId,
        commit: impl Into<String>,
        plan: RolloutPlan,
        splits: Vec<(String, Vec<String>)>,
        now_ms: u64,
    ) -> Rollout {
        Rollout {
            route,
            commit: commit.into(),
            want: plan.from.clone(),
            plan,
            splits,
            phase: Phase::Pending,
            step: 0,
            passed: 0,
            live: true,
            since_ms: now_ms,
            forced: false,
            recovering: false,
            reason: None,
            conditions: Vec::new(),
            created_ms: now_ms,
            updated_ms: now_ms,
            log: Vec::new(),
        }
    }

    /// Number of steps (the last is the desired weights).
    pub fn steps(&self) -> usize {
        self.plan.steps.len()
    }

    /// The desired weights (the last step).
    pub fn target(&self) -> &WeightMap {
        self.plan.steps.last().unwrap_or(&self.plan.from)
    }

    /// The weights of step `i` (`from` when out of range).
    pub fn step_weights(&self, i: usize) -> &WeightMap {
        self.plan.steps.get(i).unwrap_or(&self.plan.from)
    }

    /// The last weights judged good: those of the last passed step, or `from`.
    pub fn last_good(&self) -> &WeightMap {
        match self.passed {
            0 => &self.plan.from,
            n => self.step_weights(n - 1),
        }
    }

    /// The canary's share now, in percent.
    pub fn canary_share(&self) -> u64 {
        self.want.get(&self.plan.canary).copied().unwrap_or(0)
    }

    /// Still running or waiting (not Promoted, not RolledBack).
    pub fn is_active(&self) -> bool {
        !self.phase.is_terminal()
    }

    /// True when the engine should read metrics and judge now: Progressing, live, not forced.
    pub fn is_baking(&self) -> bool {
        self.phase == Phase::Progressing && self.live && !self.forced
    }

    /// Takes an event at `now_ms` and returns the effects to carry out (see the module docs).
    pub fn on(&mut self, event: Event, now_ms: u64) -> Result<Vec<Effect>, NotNow> {
        let effects = match (self.phase, event) {
            (Phase::Pending, Event::Start) => self.go_to_step(0, now_ms, "started"),
            (Phase::Progressing | Phase::RollingBack | Phase::Paused, Event::Applied)
                if !self.live =>
            {
                self.live = true;
                self.since_ms = now_ms;
                let after_restart = if std::mem::take(&mut self.recovering) {
                    " (after a restart of meshcd; the bake starts again)"
                } else {
                    ""
                };
                match self.phase {
                    Phase::RollingBack => {
                        let reason = self.reason.clone().unwrap_or_default();
                        self.phase = Phase::RolledBack;
                        self.note(now_ms, format!("rolled back: {reason}"));
                        vec![
                            Effect::Hooks(HookKind::OnRollback),
                            Effect::MarkFailed(reason),
                            Effect::Finished(Phase::RolledBack),
                        ]
                    }
                    Phase::Progressing if self.forced => {
                        self.passed = self.steps();
                        self.phase = Phase::Promoted;
                        self.note(now_ms, "promoted by an operator".into());
                        vec![
                            Effect::Hooks(HookKind::PostPromotion),
                            Effect::Finished(Phase::Promoted),
                        ]
                    }
                    Phase::Progressing => {
                        let share = self.canary_share();
                        self.note(
                            now_ms,
                            format!("step live: canary at {share}%{after_restart}"),
                        );
                        vec![Effect::Baseline]
                    }
                    _ => Vec::new(),
                }
            }
            (Phase::Progressing, Event::Judged(judgement)) if self.is_baking() => {
                self.judged(judgement, now_ms)
            }
            (Phase::Progressing, Event::HookFailed(why)) => {
                self.pause_at_last_good(now_ms, format!("halted by a pre-step hook: {why}"))
            }
            (Phase::Progressing | Phase::Paused, Event::Manual(Gate::Promote)) => {
                let last = self.steps().saturating_sub(1);
                self.forced = true;
                self.phase = Phase::Progressing;
                self.step = last;
                self.want = self.step_weights(last).clone();
                self.live = false;
                self.reason = None;
                self.note(now_ms, "promotion requested by an operator".into());
                vec![Effect::Apply(self.want.clone())]
            }
            (Phase::Progressing | Phase::Paused | Phase::Pending, Event::Manual(Gate::Abort)) => {
                self.roll_back(now_ms, "aborted by an operator".into())
            }
            (Phase::Progressing, Event::Manual(Gate::Pause)) if !self.forced => {
                self.phase = Phase::Paused;
                self.reason = Some("paused by an operator".into());
                self.note(now_ms, "paused by an operator".into());
                Vec::new()
            }
            (Phase::Paused, Event::Manual(Gate::Resume)) => {
                self.reason = None;
                self.go_to_step(self.step, now_ms, "resumed by an operator")
            }
            (phase, Event::Recover) if !phase.is_terminal() => self.recover(now_ms),
            (phase, event) => {
                return Err(NotNow {
                    route: self.route.clone(),
                    phase,
                    what: describe(&event),
                })
            }
        };
        self.updated_ms = now_ms;
        Ok(effects)
    }

    fn go_to_step(&mut self, step: usize, now_ms: u64, why: &str) -> Vec<Effect> {
        self.phase = Phase::Progressing;
        self.step = step.min(self.steps().saturating_sub(1));
        self.want = self.step_weights(self.step).clone();
        self.live = false;
        self.conditions.clear();
        let share = self.canary_share();
        self.note(
            now_ms,
            format!(
                "{why}: step {}/{} (canary {share}%)",
                self.step + 1,
                self.steps()
            ),
        );
        vec![
            Effect::Hooks(HookKind::PreStep),
            Effect::Apply(self.want.clone()),
        ]
    }

    fn judged(&mut self, judgement: Judgement, now_ms: u64) -> Vec<Effect> {
        self.conditions = judgement.conditions.clone();
        match judgement.verdict {
            Verdict::Continue => Vec::new(),
            Verdict::Healthy => self.step_passed(now_ms, &judgement.reason),
            Verdict::Failed => {
                let reason = format!("step {} failed: {}", self.step + 1, judgement.reason);
                match self.plan.on_failure {
                    OnFailure::Pause => self.pause_at_last_good(now_ms, reason),
                    OnFailure::Rollback => self.roll_back(now_ms, reason),
                }
            }
            Verdict::Inconclusive => {
                let reason = format!("step {} inconclusive: {}", self.step + 1, judgement.reason);
                match self.plan.on_inconclusive {
                    OnInconclusive::Rollback => self.roll_back(now_ms, reason),
                    OnInconclusive::Continue => {
                        self.note(now_ms, format!("{reason}; continuing (onInconclusive)"));
                        self.step_passed(now_ms, "inconclusive, continued")
                    }
                    OnInconclusive::Pause => {
                        self.phase = Phase::Paused;
                        self.note(now_ms, reason.clone());
                        self.reason = Some(reason);
                        Vec::new()
                    }
                }
            }
        }
    }

    fn step_passed(&mut self, now_ms: u64, why: &str) -> Vec<Effect> {
        self.passed = self.step + 1;
        let last = self.steps().saturating_sub(1);
        if self.step >= last {
            self.phase = Phase::Promoted;
            self.note(now_ms, format!("promoted: {why}"));
            return vec![
                Effect::Hooks(HookKind::PostPromotion),
                Effect::Finished(Phase::Promoted),
            ];
        }
        self.note(now_ms, format!("step {} healthy: {why}", self.step + 1));
        self.go_to_step(self.step + 1, now_ms, "next")
    }

    fn roll_back(&mut self, now_ms: u64, reason: String) -> Vec<Effect> {
        self.phase = Phase::RollingBack;
        self.want = self.plan.from.clone();
        self.live = false;
        self.forced = false;
        self.note(now_ms, format!("rolling back: {reason}"));
        self.reason = Some(reason);
        vec![Effect::Apply(self.want.clone())]
    }

    fn pause_at_last_good(&mut self, now_ms: u64, reason: String) -> Vec<Effect> {
        self.phase = Phase::Paused;
        let good = self.last_good().clone();
        self.note(now_ms, format!("paused: {reason}"));
        self.reason = Some(reason);
        if good == self.want && self.live {
            return Vec::new();
        }
        self.want = good;
        self.live = false;
        vec![Effect::Apply(self.want.clone())]
    }

    fn recover(&mut self, now_ms: u64) -> Vec<Effect> {
        self.live = false;
        self.recovering = true;
        self.note(
            now_ms,
            format!(
                "meshcd restarted: re-applying the weights of the {} phase{}",
                self.phase.as_str(),
                if self.phase == Phase::Progressing {
                    "; the step's bake starts again"
                } else {
                    ""
                }
            ),
        );
        if self.phase == Phase::Pending {
            return self.go_to_step(0, now_ms, "started");
        }
        vec![Effect::Apply(self.want.clone())]
    }

    fn note(&mut self, at_ms: u64, message: String) {
        if self.log.len() >= LOG_LIMIT {
            self.log.remove(0);
        }
        self.log.push(LogEntry {
            at_ms,
            step: self.step,
            message,
        });
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::Start => "start".into(),
        Event::Applied => "take an applied confirmation".into(),
        Event::Judged(_) => "take a verdict".into(),
        Event::Manual(gate) => gate.as_str().into(),
        Event::HookFailed(_) => "take a hook failure".into(),
        Event::Recover => "recover".into(),
    }
}

#[cfg(test)]
mod tests;
