//! [`View`]: a snapshot of every rollout of a target, published by the rollout driver after each
//! change. Readers (the status API, `meshcd status`, the reconcile, the target writer) read it
//! without waiting for the driver.

use meshcd_core::model::ResourceId;
use meshcd_core::plan::{RolloutPlan, WeightMap};
use meshcd_core::rollout::machine::Phase;

use super::book::Override;
use super::events::RolloutEvent;

/// Every rollout of a target at one moment.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Bumped whenever a rollout asks the target for new weights; a publish of this view's
    /// [`View::overrides`] confirms the rollouts that asked at or before it.
    pub generation: u64,
    /// The rollouts, by route.
    pub rollouts: Vec<RolloutView>,
}

/// One rollout, as readers see it.
#[derive(Debug, Clone)]
pub struct RolloutView {
    /// Its progress event.
    pub event: RolloutEvent,
    /// Where its weights sit in the route.
    pub splits: Vec<(String, Vec<String>)>,
    /// The weights the target must hold now.
    pub want: WeightMap,
    /// The weights the rollout ends at.
    pub target: WeightMap,
    /// Its phase.
    pub phase: Phase,
    /// Pending, progressing, paused or rolling back.
    pub active: bool,
    /// The target has not yet confirmed `want`.
    pub pending_apply: bool,
    /// The generation at which `want` was asked for.
    pub want_generation: u64,
}

impl View {
    /// Every rollout's progress event.
    pub fn events(&self) -> Vec<RolloutEvent> {
        self.rollouts.iter().map(|r| r.event.clone()).collect()
    }

    /// The weights to put on top of the desired configuration: every rollout whose route must
    /// not (yet) hold the desired weights, with its splits.
    pub fn overrides(&self) -> Vec<Override> {
        self.rollouts
            .iter()
            .filter(|r| r.want != r.target || r.phase == Phase::RolledBack)
            .map(|r| (r.event.route.clone(), r.splits.clone(), r.want.clone()))
            .collect()
    }

    /// True when some rollout waits for its weights to be published.
    pub fn needs_publish(&self) -> bool {
        self.rollouts.iter().any(|r| r.pending_apply)
    }

    /// True while a rollout is pending, progressing or rolling back, or waits for its weights
    /// (paused ones wait for an operator and do not count).
    pub fn is_moving(&self) -> bool {
        self.rollouts.iter().any(|r| {
            matches!(
                r.phase,
                Phase::Pending | Phase::Progressing | Phase::RollingBack
            ) || r.pending_apply
        })
    }

    /// The number of rollouts that have not ended.
    pub fn unfinished(&self) -> usize {
        self.rollouts
            .iter()
            .filter(|r| !r.phase.is_terminal())
            .count()
    }

    /// True when `plan` (a weight move of `route` from its current weights) only carries on
    /// the active rollout of the route: it ends at the same weights.
    pub fn continues(&self, route: &ResourceId, plan: &RolloutPlan) -> bool {
        self.rollouts
            .iter()
            .any(|r| r.event.route == *route && r.active && plan.steps.last() == Some(&r.target))
    }

    /// The rollouts of `commit` that rolled back, with their reasons (the route is held at its
    /// weights before the rollout until a new commit arrives).
    pub fn rolled_back(&self, commit: &str) -> Vec<(ResourceId, String)> {
        self.rollouts
            .iter()
            .filter(|r| r.phase == Phase::RolledBack && r.event.commit == commit)
            .map(|r| {
                (
                    r.event.route.clone(),
                    r.event.reason.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}
