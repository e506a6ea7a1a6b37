//! A plan for people: a summary line, then per change its field diff, rollout steps and the
//! unified diff of the canonical YAML.

use std::fmt::Write;

use meshcd_core::plan::{Action, Change, Plan, WeightMap};
use meshcd_core::rollout::duration;

use super::{plural, Style};

/// Renders a plan.
pub fn render(plan: &Plan, desired: &str, applied: &str, style: Style) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        let _ = writeln!(
            out,
            "No changes: {applied} (applied) already matches {desired} (desired)."
        );
        return out;
    }
    for change in &plan.changes {
        render_change(&mut out, change, style);
    }
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "{} {} to create, {} to update ({}), {} to delete; {} unchanged. {desired} (desired) vs {applied} (applied).",
        style.bold("Plan:"),
        s.create,
        s.update,
        plural(s.rollouts, "rollout"),
        s.delete,
        s.unchanged,
    );
    out
}

fn render_change(out: &mut String, change: &Change, style: Style) {
    let id = if change.namespace.is_empty() {
        format!("{}/{}", change.kind, change.name)
    } else {
        format!("{}/{}/{}", change.kind, change.namespace, change.name)
    };
    let head = match change.action {
        Action::Create => style.added(&format!("+ create {id}")),
        Action::Update => style.warning(&format!("~ update {id}")),
        Action::Delete => style.removed(&format!("- delete {id}")),
    };
    let _ = writeln!(out, "{head}  ({}, {})", change.family, change.file);
    for field in &change.fields {
        let show = |v: &Option<serde_json::Value>| {
            v.as_ref().map_or("(absent)".to_string(), |v| v.to_string())
        };
        let _ = writeln!(
            out,
            "    {}: {} → {}",
            field.path,
            show(&field.before),
            show(&field.after)
        );
    }
    if let Some(rollout) = &change.rollout {
        let _ = writeln!(
            out,
            "  {} policy {}, canary {}, bake {} per step, on failure {}, when inconclusive {}",
            style.note("rollout:"),
            rollout.policy,
            rollout.canary,
            duration::format(rollout.bake_time),
            rollout.on_failure,
            rollout.on_inconclusive
        );
        let _ = writeln!(out, "    from    {}", weights(&rollout.from));
        for (i, step) in rollout.steps.iter().enumerate() {
            let _ = writeln!(out, "    step {:<2} {}", i + 1, weights(step));
        }
    }
    if !change.diff.is_empty() {
        for line in change.diff.lines() {
            let painted = if line.starts_with('+') && !line.starts_with("+++") {
                style.added(line)
            } else if line.starts_with('-') && !line.starts_with("---") {
                style.removed(line)
            } else if line.starts_with("@@") {
                style.note(line)
            } else {
                line.to_string()
            };
            let _ = writeln!(out, "    {painted}");
        }
    }
    out.push('\n');
}

fn weights(map: &WeightMap) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}%"))
        .collect::<Vec<_>>()
        .join("  ")
}
