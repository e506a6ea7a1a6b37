//! A rollout drawn as a Mermaid `flowchart LR` (GitHub and GitLab render it): one node per
//! step with the canary's share in bold and the other backends' below, forward edges labelled
//! with the bake time and gate, dotted edges for what a failed or inconclusive step does, and
//! the promoted end. A rollout of more than 8 steps draws its first 3 and last 2, with one node
//! for the steps between.
//!
//! ```text
//! flowchart LR
//!   s0(["now<br/><b>green 1%</b><br/>blue 99%"])
//!   s1["step 1<br/><b>green 50%</b><br/>blue 50%"]
//!   s2["step 2<br/><b>green 100%</b><br/>blue 0%"]
//!   promoted(["promoted"])
//!   s0 --> s1
//!   s1 -->|"30s bake, healthy"| s2
//!   s2 -->|"30s bake, healthy"| promoted
//!   s1 & s2 -.->|"failure: rollback"| s0
//!   s1 & s2 -.->|"inconclusive: pause"| paused(["paused"])
//! ```

use std::fmt::Write;

use meshcd_core::plan::{RolloutPlan, WeightMap};
use meshcd_core::rollout::{duration, OnFailure, OnInconclusive};

/// Rollouts with more steps than this draw their first [`HEAD_STEPS`] and last [`TAIL_STEPS`]
/// with one node for those between (the table lists them all).
const MAX_DRAWN: usize = 8;
const HEAD_STEPS: usize = 3;
const TAIL_STEPS: usize = 2;

/// The chart's source (without the fence). `gated`: the steps are judged by an analysis (not
/// only baked).
pub fn chart(rollout: &RolloutPlan, gated: bool) -> String {
    let mut out = String::from("flowchart LR\n");
    let _ = writeln!(
        out,
        "  s0([\"{}\"])",
        node("now", &rollout.from, &rollout.canary)
    );
    let count = rollout.steps.len();
    // The nodes drawn after `s0`, by id.
    let mut drawn: Vec<String> = Vec::new();
    for (i, step) in rollout.steps.iter().enumerate() {
        let n = i + 1;
        if count > MAX_DRAWN && n > HEAD_STEPS && n <= count - TAIL_STEPS {
            if n == HEAD_STEPS + 1 {
                let hidden = count - HEAD_STEPS - TAIL_STEPS;
                let _ = writeln!(out, "  more[\"… {hidden} more steps\"]");
                drawn.push("more".into());
            }
            continue;
        }
        let _ = writeln!(
            out,
            "  s{n}[\"{}\"]",
            node(&format!("step {n}"), step, &rollout.canary)
        );
        drawn.push(format!("s{n}"));
    }
    out.push_str("  promoted([\"promoted\"])\n");
    let Some(first) = drawn.first() else {
        out.push_str("  s0 --> promoted\n");
        return out;
    };
    let gate = if gated {
        format!(
            "{} bake, healthy",
            label(&duration::format(rollout.bake_time))
        )
    } else {
        format!("{} bake", label(&duration::format(rollout.bake_time)))
    };
    let _ = writeln!(out, "  s0 --> {first}");
    for (i, id) in drawn.iter().enumerate() {
        let next = drawn.get(i + 1).map_or("promoted", String::as_str);
        let _ = writeln!(out, "  {id} -->|\"{gate}\"| {next}");
    }
    if gated {
        let steps = drawn.join(" & ");
        for (when, (action, target)) in outcomes(rollout) {
            // `continue` goes on as a pass does: not drawn.
            let Some(target) = target else {
                continue;
            };
            let _ = writeln!(
                out,
                "  {steps} -.->|\"{when}: {}\"| {target}",
                label(action)
            );
        }
    }
    out
}

/// Where a step that failed or was inconclusive goes: the action's word and the node it leads
/// to (`None` for `continue`).
type Outcome = (&'static str, Option<&'static str>);

const BACK: &str = "s0";
const PAUSED: &str = "paused([\"paused\"])";

/// What failed and inconclusive steps do, merged when they do the same.
fn outcomes(rollout: &RolloutPlan) -> Vec<(&'static str, Outcome)> {
    let failure: Outcome = match rollout.on_failure {
        OnFailure::Rollback => (OnFailure::Rollback.as_str(), Some(BACK)),
        OnFailure::Pause => (OnFailure::Pause.as_str(), Some(PAUSED)),
    };
    let inconclusive: Outcome = match rollout.on_inconclusive {
        OnInconclusive::Rollback => (OnInconclusive::Rollback.as_str(), Some(BACK)),
        OnInconclusive::Pause => (OnInconclusive::Pause.as_str(), Some(PAUSED)),
        OnInconclusive::Continue => (OnInconclusive::Continue.as_str(), None),
    };
    if failure == inconclusive {
        vec![("failure or inconclusive", failure)]
    } else {
        vec![("failure", failure), ("inconclusive", inconclusive)]
    }
}

/// A node's label: its title, the canary's share in bold, then the other backends'.
fn node(title: &str, weights: &WeightMap, canary: &str) -> String {
    let mut lines = vec![label(title)];
    if let Some(share) = weights.get(canary) {
        lines.push(format!("<b>{} {share}%</b>", label(canary)));
    }
    lines.extend(
        weights
            .iter()
            .filter(|(key, _)| key.as_str() != canary)
            .map(|(key, share)| format!("{} {share}%", label(key))),
    );
    lines.join("<br/>")
}

/// Text inside a quoted Mermaid label: quotes and angle brackets as Mermaid entities.
fn label(text: &str) -> String {
    text.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout() -> RolloutPlan {
        let map = |pairs: &[(&str, u64)]| -> WeightMap {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        RolloutPlan {
            policy: "p".into(),
            canary: "green".into(),
            bake_time: std::time::Duration::from_secs(30),
            on_failure: OnFailure::Rollback,
            on_inconclusive: OnInconclusive::Pause,
            from: map(&[("blue", 99), ("green", 1)]),
            steps: vec![
                map(&[("blue", 50), ("green", 50)]),
                map(&[("blue", 0), ("green", 100)]),
            ],
            splits: Vec::new(),
        }
    }

    #[test]
    fn the_chart_matches_the_module_docs() {
        let expected = "flowchart LR
  s0([\"now<br/><b>green 1%</b><br/>blue 99%\"])
  s1[\"step 1<br/><b>green 50%</b><br/>blue 50%\"]
  s2[\"step 2<br/><b>green 100%</b><br/>blue 0%\"]
  promoted([\"promoted\"])
  s0 --> s1
  s1 -->|\"30s bake, healthy\"| s2
  s2 -->|\"30s bake, healthy\"| promoted
  s1 & s2 -.->|\"failure: rollback\"| s0
  s1 & s2 -.->|\"inconclusive: pause\"| paused([\"paused\"])
";
        assert_eq!(chart(&rollout(), true), expected);
    }

    #[test]
    fn long_rollouts_draw_their_ends() {
        let mut long = rollout();
        long.steps = (1..=10u64)
            .map(|i| {
                [
                    ("blue".to_string(), 100 - i * 10),
                    ("green".to_string(), i * 10),
                ]
                .into_iter()
                .collect()
            })
            .collect();
        let chart = chart(&long, true);
        assert!(chart.contains("  more[\"… 5 more steps\"]\n"), "{chart}");
        assert!(
            chart.contains("  s3 -->|\"30s bake, healthy\"| more\n"),
            "{chart}"
        );
        assert!(
            chart.contains("  more -->|\"30s bake, healthy\"| s9\n"),
            "{chart}"
        );
        assert!(!chart.contains("s4["), "{chart}");
        assert!(
            chart.contains("s1 & s2 & s3 & more & s9 & s10 -.->"),
            "{chart}"
        );
    }

    #[test]
    fn labels_cannot_break_out_of_their_quotes() {
        assert_eq!(label("a\"b<c>#"), "a#quot;b#lt;c#gt;#35;");
    }
}
