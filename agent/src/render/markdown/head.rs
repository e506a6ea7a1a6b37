//! The top of the report: the verdict, what was compared, and the summary table per route
//! family with a total.

use std::fmt::Write;

use super::split::Block;
use super::summary::{ReportSummary, Tally};
use super::text::{code, plain};
use super::{ReportInput, Side};
use crate::render::plural;

/// The first block of the first comment.
pub fn block(input: &ReportInput<'_>, summary: &ReportSummary, verdict: &str) -> Block {
    let mut out = format!("### {verdict}\n\n");
    let _ = write!(
        out,
        "Head {} compared with {} {}",
        side(input, input.head),
        plain(&input.base.role),
        side(input, input.base)
    );
    if summary.planned {
        let _ = write!(out, "; {} unchanged", plural(summary.unchanged, "resource"));
    }
    out.push_str(".\n\n");
    out.push_str(
        "| route family | created | updated | deleted | rollouts | errors | warnings |\n\
         |:--|--:|--:|--:|--:|--:|--:|\n",
    );
    for family in &summary.families {
        out.push_str(&row(family.title, &family.counts, summary.planned, false));
    }
    out.push_str(&row("total", &summary.total, summary.planned, true));
    if !input.held.is_empty() {
        out.push_str("\n> ⏸ **Change windows:** applied now, these changes would wait:\n");
        for held in input.held {
            let _ = writeln!(out, "> - {}: {}", code(&held.resource), plain(&held.reason));
        }
    }
    if !summary.planned && summary.translation_errors > 0 {
        out.push_str("\n> **No plan:** the live target cannot serve the head revision.\n");
    } else if !summary.planned {
        out.push_str(
            "\n> **No plan:** files of the head revision fail to load, and the resources they \
             hold would show up as deleted. Fix the errors below to see the changes.\n",
        );
    }
    Block::new(out)
}

/// `` `abc1234` (message) ``, the id linked to the commit when the host is known.
fn side(input: &ReportInput<'_>, side: &Side) -> String {
    let name = code(&side.name);
    let mut out = match input.links {
        Some(links) if !side.commit.is_empty() => {
            format!("[{name}]({})", links.commit(&side.commit))
        }
        _ => name,
    };
    if !side.title.is_empty() {
        let _ = write!(out, " ({})", plain(&side.title));
    }
    out
}

/// One table row; change counts show as `–` when there is no plan.
fn row(title: &str, t: &Tally, planned: bool, bold: bool) -> String {
    let change = |n: usize| if planned { n.to_string() } else { "–".into() };
    let cells = [
        title.to_string(),
        change(t.created),
        change(t.updated),
        change(t.deleted),
        change(t.rollouts),
        t.errors.to_string(),
        t.warnings.to_string(),
    ];
    let cells: Vec<String> = if bold {
        cells.iter().map(|c| format!("**{c}**")).collect()
    } else {
        cells.to_vec()
    };
    format!("| {} |\n", cells.join(" | "))
}
