//! One rollout the engine drives: the persisted state machine plus what it needs at run time
//! (analysis, hooks, the clusters to measure, the counters a step started from).

use std::collections::BTreeMap;
use std::time::Instant;

use meshcd_core::model::meshcd::{Hooks, RolloutPolicySpec};
use meshcd_core::plan::select::policy_named;
use meshcd_core::rollout::machine::Rollout;
use meshcd_core::rollout::{AnalysisSpec, Counters};
use meshcd_core::Loaded;

use super::events::RolloutEvent;

/// A rollout with its run-time companions.
pub struct Tracked {
    /// The persisted state machine.
    pub rollout: Rollout,
    /// How steps are judged.
    pub analysis: AnalysisSpec,
    /// Webhooks.
    pub hooks: Hooks,
    /// Bake time of each step.
    pub bake: std::time::Duration,
    /// The canary's metric name (for Envoy, its cluster).
    pub canary: String,
    /// The stable backends' metric names.
    pub stable: Vec<String>,
    /// Counters when the current step went live (`None` until read).
    pub baseline: Option<BTreeMap<String, Counters>>,
    /// When metrics are read next.
    pub next_check: Instant,
    /// The target still has to be given `rollout.want`.
    pub pending_apply: bool,
    /// The step passed, but a change window holds the next one back (why).
    pub waiting: Option<String>,
}

impl Tracked {
    /// Wraps a rollout; `loaded` is the revision whose RolloutPolicy (named in the plan) gives
    /// analysis and hooks (the default analysis when the policy is `default`, gone, or sets
    /// none); `clusters` maps the plan's backend keys to metric names.
    pub fn new(rollout: Rollout, loaded: &Loaded, clusters: &[(String, String)]) -> Tracked {
        let policy: Option<&RolloutPolicySpec> =
            policy_named(&loaded.resources, &rollout.plan.policy);
        let analysis = policy
            .and_then(|p| p.analysis.clone())
            .unwrap_or_else(AnalysisSpec::default_analysis);
        let hooks = policy.map(|p| p.hooks.clone()).unwrap_or_default();
        let bake = rollout.plan.bake_time;
        let canary = clusters
            .iter()
            .find(|(key, _)| *key == rollout.plan.canary)
            .map(|(_, cluster)| cluster.clone())
            .unwrap_or_else(|| rollout.plan.canary.clone());
        let mut stable: Vec<String> = clusters
            .iter()
            .map(|(_, cluster)| cluster.clone())
            .filter(|cluster| *cluster != canary)
            .collect();
        stable.sort();
        stable.dedup();
        Tracked {
            rollout,
            analysis,
            hooks,
            bake,
            canary,
            stable,
            baseline: None,
            next_check: Instant::now(),
            pending_apply: false,
            waiting: None,
        }
    }

    /// The rollout as a progress event at `now_ms`.
    pub fn event(&self, now_ms: u64) -> RolloutEvent {
        let mut event = RolloutEvent::of(&self.rollout, self.bake.as_millis() as u64, now_ms);
        event.waiting = self.waiting.clone();
        event
    }

    /// Every metric name this rollout reads: canary first.
    pub fn backends(&self) -> Vec<String> {
        std::iter::once(self.canary.clone())
            .chain(self.stable.iter().cloned())
            .collect()
    }
}
