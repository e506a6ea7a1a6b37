//! One section per rollout: the route and its canary, the policy (bake time, what failures do),
//! a Mermaid chart of the steps, the weights per step as a table, and the analysis that gates
//! each step.

use std::collections::BTreeSet;
use std::fmt::Write;

use meshcd_core::model::meshcd::RolloutPolicySpec;
use meshcd_core::model::Resource;
use meshcd_core::plan::{default_policy, Change, Plan, RolloutPlan, DEFAULT_POLICY_NAME};
use meshcd_core::rollout::{duration, AnalysisSpec, Provider};

use super::split::Block;
use super::text::{cell, code};
use super::{analysis, mermaid};
use crate::render::plural;

/// Rollouts with at most this many steps show every share in their title.
const PATH_STEPS: usize = 8;

/// One block per rollout, in plan order; the first carries the section title.
pub fn blocks(plan: &Plan, resources: &[Resource]) -> Vec<Block> {
    plan.changes
        .iter()
        .filter_map(|change| change.rollout.as_ref().map(|r| (change, r)))
        .enumerate()
        .map(|(i, (change, rollout))| {
            let section = section(change, rollout, resources);
            if i == 0 {
                Block::new(format!("\n### Rollouts\n{section}"))
            } else {
                Block {
                    text: section,
                    resume: "\n### Rollouts (continued)\n".into(),
                }
            }
        })
        .collect()
}

fn section(change: &Change, rollout: &RolloutPlan, resources: &[Resource]) -> String {
    let policy = policy(resources, &rollout.policy);
    let analysis = policy
        .analysis
        .clone()
        .unwrap_or_else(AnalysisSpec::default_analysis);
    let share =
        |weights: &meshcd_core::plan::WeightMap| weights.get(&rollout.canary).copied().unwrap_or(0);
    let shares: Vec<String> = std::iter::once(&rollout.from)
        .chain(&rollout.steps)
        .map(|w| format!("{}%", share(w)))
        .collect();
    let path = if rollout.steps.len() <= PATH_STEPS {
        shares.join(" → ")
    } else {
        format!(
            "{} → … → {} in {}",
            shares[0],
            shares[shares.len() - 1],
            plural(rollout.steps.len(), "step")
        )
    };
    let mut out = format!(
        "\n#### 🚦 {}: canary {} {path}\n\n",
        code(&change.id().to_string()),
        code(&rollout.canary),
    );
    let named = if rollout.policy == DEFAULT_POLICY_NAME {
        "The default policy (no RolloutPolicy selects this route)".to_string()
    } else {
        format!("Policy {}", code(&rollout.policy))
    };
    let _ = writeln!(
        out,
        "{named}: each step bakes **{}**; on failure **{}**, when inconclusive **{}**.\n",
        duration::format(rollout.bake_time),
        rollout.on_failure,
        rollout.on_inconclusive
    );
    let gated = analysis.provider != Provider::None;
    let _ = write!(out, "```mermaid\n{}```\n\n", mermaid::chart(rollout, gated));
    out.push_str(&table(rollout));
    let _ = writeln!(out, "\n{}", analysis::describe(&analysis));
    if let Some(hooks) = analysis::hooks(&policy.hooks) {
        let _ = writeln!(out, "\n{hooks}");
    }
    out
}

/// The RolloutPolicy a rollout names among the head's resources (the first in file order), or
/// the default policy.
fn policy(resources: &[Resource], name: &str) -> RolloutPolicySpec {
    meshcd_core::plan::select::policy_named(resources, name)
        .cloned()
        .unwrap_or_else(default_policy)
}

/// Shares per step: one row per step, one column per backend, the canary's marked.
fn table(rollout: &RolloutPlan) -> String {
    let keys: BTreeSet<&String> = std::iter::once(&rollout.from)
        .chain(&rollout.steps)
        .flat_map(|w| w.keys())
        .collect();
    let header: Vec<String> = keys
        .iter()
        .map(|k| {
            let name = cell(&code(k));
            if **k == rollout.canary {
                format!("{name} (canary)")
            } else {
                name
            }
        })
        .collect();
    let mut out = format!(
        "| | {} |\n|:--|{}\n",
        header.join(" | "),
        "--:|".repeat(keys.len())
    );
    let rows = std::iter::once(("now".to_string(), &rollout.from)).chain(
        rollout
            .steps
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("step {}", i + 1), w)),
    );
    for (title, weights) in rows {
        let shares: Vec<String> = keys
            .iter()
            .map(|k| weights.get(*k).map_or("–".into(), |s| format!("{s}%")))
            .collect();
        let _ = writeln!(out, "| {title} | {} |", shares.join(" | "));
    }
    out
}
