//! One collapsible `<details>` section per changed resource: what happens to it, its file
//! (linked at the head commit, or the base commit for a deletion), the fields that change, and
//! its unified diff in a `diff` fence.

use std::fmt::Write;

use meshcd_core::plan::{Action, Change, Plan};

use super::split::Block;
use super::text::{code, fence_for, html};
use super::ReportInput;

/// Changed fields listed before "and N more".
const FIELDS_SHOWN: usize = 5;

/// One block per change, in plan order; the first carries the section title.
pub fn blocks(plan: &Plan, input: &ReportInput<'_>) -> Vec<Block> {
    plan.changes
        .iter()
        .enumerate()
        .map(|(i, change)| {
            let section = section(change, input);
            if i == 0 {
                Block::new(format!("\n### Changes\n{section}"))
            } else {
                Block {
                    text: section,
                    resume: "\n### Changes (continued)\n".into(),
                }
            }
        })
        .collect()
}

fn section(change: &Change, input: &ReportInput<'_>) -> String {
    let (icon, verb) = match change.action {
        Action::Create => ("➕", "create"),
        Action::Update => ("✏️", "update"),
        Action::Delete => ("➖", "delete"),
    };
    let (added, removed) = line_counts(&change.diff);
    let rollout = if change.rollout.is_some() {
        " · 🚦 rollout"
    } else {
        ""
    };
    let mut out = format!(
        "\n<details>\n<summary>{icon} {verb} <code>{}</code> · {} · +{added} −{removed}{rollout}</summary>\n\n",
        html(&change.id().to_string()),
        change.family.as_str(),
    );
    let _ = write!(out, "In {}", file(change, input));
    if !change.fields.is_empty() {
        let shown: Vec<String> = change
            .fields
            .iter()
            .take(FIELDS_SHOWN)
            .map(|f| code(&f.path.to_string()))
            .collect();
        let _ = write!(out, ", changes {}", shown.join(", "));
        if change.fields.len() > FIELDS_SHOWN {
            let _ = write!(out, " and {} more", change.fields.len() - FIELDS_SHOWN);
        }
    }
    out.push_str(".\n\n");
    let fence = fence_for(&change.diff);
    let _ = write!(out, "{fence}diff\n{}", change.diff);
    if !change.diff.is_empty() && !change.diff.ends_with('\n') {
        out.push('\n');
    }
    let _ = write!(out, "{fence}\n\n</details>\n");
    out
}

/// The change's file, linked at the commit that has it when the host is known.
fn file(change: &Change, input: &ReportInput<'_>) -> String {
    let commit = match change.action {
        Action::Delete => &input.base.commit,
        Action::Create | Action::Update => &input.head.commit,
    };
    let name = code(&change.file);
    match input.links {
        Some(links) if !commit.is_empty() => {
            format!("[{name}]({})", links.file(commit, &change.file, None))
        }
        _ => name,
    }
}

/// Lines added and removed by a unified diff (its `---`/`+++` headers not counted).
fn line_counts(diff: &str) -> (usize, usize) {
    let hunks = diff.lines().skip_while(|line| !line.starts_with("@@"));
    hunks.fold((0, 0), |(added, removed), line| match line.chars().next() {
        Some('+') => (added + 1, removed),
        Some('-') => (added, removed + 1),
        _ => (added, removed),
    })
}
