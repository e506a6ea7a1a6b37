//! `meshcd plan`: what would change to make the applied state match the desired revision.
//!
//! [`super::compare`] reads both sides, checks the desired one and plans; `meshcd report` shares
//! it.

use std::path::Path;

use meshcd_core::finding::Counts;
use meshcd_core::plan::Plan;
use meshcd_core::Finding;
use serde_json::json;

use super::compare::{compare, AppliedFrom, AppliedSide, Comparison, Outcome, RefuseOn};
use super::{Failure, EXIT_CHANGES, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PlanArgs, PlanOutputFormat};
use crate::render::{findings_text, plan_text, Style};
use crate::source::Revision;

/// Runs `plan` and returns the exit status.
pub fn run(args: &PlanArgs, cache_dir: &Path) -> Result<u8, Failure> {
    if args.format == PlanOutputFormat::Markdown {
        return super::report::run_for_plan(args, cache_dir);
    }
    let comparison = compare(
        &args.source,
        &AppliedFrom::from(args),
        RefuseOn::AnyError,
        cache_dir,
    )?;
    Ok(match &comparison.outcome {
        Outcome::Planned(plan) => print_plan(args, plan, &comparison),
        Outcome::Refused => refuse(args, &comparison.desired, &comparison.findings),
        Outcome::Untranslatable(errors) => {
            for error in errors {
                eprintln!("error: {error}");
            }
            EXIT_FINDINGS
        }
    })
}

/// Prints a plan (with any warnings) and returns the exit status.
fn print_plan(args: &PlanArgs, plan: &Plan, comparison: &Comparison) -> u8 {
    let findings = &comparison.findings;
    let held = meshcd_core::plan::windows::held_changes(
        plan,
        &comparison.loaded,
        args.at.unwrap_or_else(chrono::Utc::now),
    );
    let applied = comparison.applied.as_ref();
    match args.format {
        // Markdown is `report`'s (see `run`).
        PlanOutputFormat::Text | PlanOutputFormat::Markdown => {
            if !findings.is_empty() {
                print!("{}", findings_text::render(findings, Style::for_stdout()));
            }
            print!(
                "{}",
                plan_text::render(
                    plan,
                    &comparison.desired.label(),
                    &applied.map(AppliedSide::label).unwrap_or_default(),
                    Style::for_stdout()
                )
            );
            if !held.is_empty() {
                println!("Held back by change windows (applied now, these would wait):");
                for h in &held {
                    println!("  {}: {}", h.resource, h.reason);
                }
            }
        }
        PlanOutputFormat::Json => {
            let value = json!({
                "desired": comparison.desired,
                "applied": applied.map(AppliedSide::to_json),
                "summary": plan.summary,
                "changes": plan.changes,
                "findings": findings,
                "held": held,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
    }
    if Counts::of(findings).errors > 0 {
        // Plan-level policies (Rego packages judging the plan) found errors.
        EXIT_FINDINGS
    } else if args.detailed_exitcode && !plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

/// A revision with errors is never planned: a file that failed to load would show up as
/// deletions of everything it held. Prints the findings and returns exit status 1.
fn refuse(args: &PlanArgs, desired: &Revision, findings: &[Finding]) -> u8 {
    let counts = Counts::of(findings);
    match args.format {
        // Markdown is `report`'s (see `run`).
        PlanOutputFormat::Text | PlanOutputFormat::Markdown => {
            print!("{}", findings_text::render(findings, Style::for_stdout()));
            println!(
                "Plan refused: the desired revision {} has {}.",
                desired.label(),
                crate::render::plural(counts.errors, "error")
            );
        }
        PlanOutputFormat::Json => {
            let value = json!({
                "desired": desired,
                "refused": true,
                "findings": findings,
                "changes": [],
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
    }
    EXIT_FINDINGS
}
