//! The reconcile's decisions, as pure functions: given the desired revision's plan against what
//! the target holds, what the store recorded, the rollouts, the change windows and the time,
//! what is to be done. No I/O, no clock: [`super`] gathers the facts and carries the decision
//! out.
//!
//! A reconcile decides twice: [`admit`] before the rollouts are brought in line with the
//! revision (a commit that plan-level policy refuses or a change window holds back starts no
//! rollout), and [`decide`] after, on the plan that carries the rollouts' weights.

use std::time::Duration;

use chrono::{DateTime, Utc};
use meshcd_core::plan::windows::{held_changes_with, Held};
use meshcd_core::plan::{Change, Plan};
use meshcd_core::policy::windows::Windows;
use meshcd_core::{Finding, Loaded};

use super::messages;
use crate::engine::rollouts::View;
use crate::source::short_commit;

/// How long a commit held back by a change window waits at most before it is looked at again
/// (sooner when the window says when it opens).
pub const WINDOW_RECHECK: Duration = Duration::from_secs(300);

/// Why a commit is not acted on now ([`admit`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    /// The commit is refused (plan-level policy): nothing is applied.
    Refused {
        /// Why, one line.
        message: String,
    },
    /// A change window holds the commit back: look again after `wait`.
    Waiting {
        /// Why, one line.
        message: String,
        /// When to look again.
        wait: Duration,
        /// How many changes wait.
        changes: usize,
    },
}

/// What a reconcile does with the target ([`decide`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The target holds the recorded commit (with the rollouts' weights): nothing to do.
    Unchanged {
        /// One line for the status.
        message: String,
    },
    /// The target differs from the recorded commit and self-heal is off: report only.
    DriftDetected {
        /// What differs.
        plan: Plan,
        /// One line.
        message: String,
    },
    /// Carry out `plan` (possibly empty: only the rollouts' weights to publish, or only the
    /// record to write), then record the commit.
    Apply {
        /// The changes.
        plan: Plan,
        /// The target held the recorded commit once and drifted from it (self-heal).
        drift: bool,
        /// Whether anything is written to the target (a plan, or rollout weights).
        write: bool,
    },
}

/// The facts [`admit`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The desired commit.
    pub commit: &'a str,
    /// The plan from what the target holds to the desired revision (what this reconcile acts
    /// on).
    pub plan: &'a Plan,
    /// The errors of the plan-level Rego policies on `plan`.
    pub plan_errors: &'a [Finding],
    /// The desired revision.
    pub loaded: &'a Loaded,
    /// Its change windows.
    pub windows: &'a Windows,
    /// The rollouts now.
    pub rollouts: &'a View,
    /// The time.
    pub now: DateTime<Utc>,
}

/// Refused by plan-level policy, held back by a change window, or `None`: go on. Routes whose
/// rollout is under way are judged step by step instead of waiting whole.
pub fn admit(facts: &Admission<'_>) -> Option<Hold> {
    if let Some(first) = facts.plan_errors.first() {
        return Some(Hold::Refused {
            message: format!(
                "{} refused: {} plan policy error(s); first: {first}",
                short_commit(facts.commit),
                facts.plan_errors.len()
            ),
        });
    }
    let held: Vec<Held> = held_changes_with(facts.windows, facts.plan, facts.loaded, facts.now)
        .into_iter()
        .filter(|h| {
            let ongoing = facts.plan.changes.iter().any(|c| {
                c.id().to_string() == h.resource
                    && c.rollout
                        .as_ref()
                        .is_some_and(|r| facts.rollouts.continues(&c.id(), r))
            });
            !ongoing
        })
        .collect();
    let first = held.first()?;
    let mut message = format!(
        "{} waits for a change window: {}: {}",
        short_commit(facts.commit),
        first.resource,
        first.reason
    );
    if held.len() > 1 {
        message.push_str(&format!(" (and {} more route(s))", held.len() - 1));
    }
    let opens = held.iter().filter_map(|h| h.until).max();
    let wait = opens
        .and_then(|at| (at - facts.now).to_std().ok())
        .unwrap_or(WINDOW_RECHECK)
        .clamp(Duration::from_secs(1), WINDOW_RECHECK);
    Some(Hold::Waiting {
        message,
        wait,
        changes: facts.plan.changes.len(),
    })
}

/// The facts [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Outlook<'a> {
    /// The desired commit.
    pub commit: &'a str,
    /// The target's id.
    pub target: &'a str,
    /// The plan from what the target holds to the desired revision with the rollouts' weights
    /// on top.
    pub plan: &'a Plan,
    /// Deletions a target that does not prune keeps back.
    pub kept: &'a [Change],
    /// The store recorded this commit as applied.
    pub recorded: bool,
    /// Drift is corrected.
    pub self_heal: bool,
    /// The rollouts, after they were brought in line with the revision.
    pub rollouts: &'a View,
}

/// What to do with the target.
pub fn decide(facts: &Outlook<'_>) -> Decision {
    let publish = facts.rollouts.needs_publish();
    if facts.plan.is_empty() && facts.recorded && !publish {
        let held = messages::held(&facts.rollouts.rolled_back(facts.commit));
        let message = if facts.rollouts.is_moving() {
            format!(
                "{} is live; rollouts in progress{held}",
                short_commit(facts.commit)
            )
        } else {
            format!(
                "{} is live{held}{}",
                short_commit(facts.commit),
                messages::kept(facts.kept)
            )
        };
        return Decision::Unchanged { message };
    }
    let drift = facts.recorded && !facts.plan.is_empty();
    if drift && !facts.self_heal {
        return Decision::DriftDetected {
            plan: facts.plan.clone(),
            message: format!(
                "drift: {} differs from {} in {} place(s) ({}); selfHeal is off, left alone",
                facts.target,
                short_commit(facts.commit),
                facts.plan.changes.len(),
                messages::changed_names(facts.plan)
            ),
        };
    }
    Decision::Apply {
        plan: facts.plan.clone(),
        drift,
        write: !facts.plan.is_empty() || publish,
    }
}

#[cfg(test)]
mod tests;
