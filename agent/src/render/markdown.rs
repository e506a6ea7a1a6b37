//! The pull-request report in GitHub-flavoured Markdown, split into comments that fit a limit.
//!
//! In order: a one-line verdict and the summary table per route family (always in the first
//! comment); errors translating for a live target; policy findings with `file:line` linked to
//! the head commit; each rollout with its step plan, a Mermaid chart and the analysis that
//! gates it; one collapsible `<details>` section per changed resource with its unified diff.
//! The output depends only on its input: everything is sorted and nothing is timed.

mod analysis;
mod changes;
mod findings;
mod head;
mod links;
mod mermaid;
mod rollouts;
mod split;
mod summary;
mod text;

use meshcd_core::model::Resource;
use meshcd_core::plan::Plan;
use meshcd_core::Finding;
use serde::Serialize;

pub use links::RepoLinks;
pub use summary::{FamilyTally, ReportSummary, Tally};

/// GitHub's limit on one comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// One side of the comparison, as the report names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Side {
    /// What it is: `head`, `base`, `applied folder`, `live target`.
    pub role: String,
    /// Its name: a short commit id, a folder, a target id.
    pub name: String,
    /// The full commit id when it is a commit (for links), else empty.
    pub commit: String,
    /// The first line of the commit message, else empty.
    pub title: String,
}

/// What a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The head (desired) revision.
    pub head: &'a Side,
    /// What the head is compared with.
    pub base: &'a Side,
    /// The plan; `None` when the head was not planned (its files fail to load).
    pub plan: Option<&'a Plan>,
    /// The head's policy findings.
    pub findings: &'a [Finding],
    /// The head's resources (for the RolloutPolicies and the families of findings).
    pub resources: &'a [Resource],
    /// Errors translating the head for a live target.
    pub translation_errors: &'a [String],
    /// Where files and commits are shown on the web, when known.
    pub links: Option<&'a RepoLinks>,
    /// Changes a change window would hold back at the time the report judges them.
    pub held: &'a [meshcd_core::plan::windows::Held],
}

/// A rendered report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The one-line verdict.
    pub verdict: String,
    /// The numbers behind it.
    pub summary: ReportSummary,
    /// The comments to post, in order; each fits the limit.
    pub comments: Vec<String>,
}

/// Renders the report as comments of at most `max_chars` characters (at least 2,000).
pub fn render(input: &ReportInput<'_>, max_chars: usize) -> Report {
    let summary = ReportSummary::of(
        input.plan,
        input.findings,
        input.resources,
        input.translation_errors.len(),
    );
    let mut verdict = summary.verdict();
    if !input.held.is_empty() && !summary.blocked() {
        verdict.push_str(&format!(
            "; ⏸ {} held by a change window",
            crate::render::plural(input.held.len(), "change")
        ));
    }
    let mut blocks = vec![head::block(input, &summary, &verdict)];
    blocks.extend(findings::translation_blocks(input.translation_errors));
    blocks.extend(findings::blocks(input));
    if let Some(plan) = input.plan {
        blocks.extend(rollouts::blocks(plan, input.resources));
        blocks.extend(changes::blocks(plan, input));
    }
    Report {
        verdict,
        summary,
        comments: split::split(&blocks, max_chars),
    }
}
