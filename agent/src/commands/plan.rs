//! `meshcd plan`: what would change to make the applied state match the desired revision.

use std::path::Path;

use meshcd_core::finding::Counts;
use serde_json::json;

use super::{load_and_check, open_source, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PlanArgs, PlanFormat};
use crate::render::{findings_text, plan_text, Style};
use crate::source::folder;

/// Exit status with `--detailed-exitcode` when the plan has changes.
pub const EXIT_CHANGES: u8 = 2;

/// Runs `plan` and returns the exit status.
pub fn run(args: &PlanArgs, cache_dir: &Path) -> Result<u8, Failure> {
    let source = open_source(&args.source, cache_dir)?;
    let desired_snapshot = source.snapshot(args.source.rev.as_deref(), &args.source.path)?;
    let applied_snapshot = match (&args.base, &args.applied) {
        (Some(base), _) => source.snapshot(Some(base), &args.source.path)?,
        (None, Some(dir)) => folder::snapshot(dir)?,
        (None, None) => unreachable!("clap requires --base or --applied"),
    };
    let (desired, findings) = load_and_check(&desired_snapshot);
    let counts = Counts::of(&findings);
    let (applied, applied_findings) = load_and_check(&applied_snapshot);
    let applied_errors = Counts::of(&applied_findings).errors;
    if applied_errors > 0 {
        tracing::warn!(
            errors = applied_errors,
            applied = %applied_snapshot.revision.label(),
            "the applied state has load errors: resources in those files are left out of the comparison"
        );
    }
    if counts.errors > 0 {
        // A revision with errors is never planned: a file that failed to load would show up as
        // deletions of everything it held.
        match args.format {
            PlanFormat::Text => {
                print!("{}", findings_text::render(&findings, Style::for_stdout()));
                println!(
                    "Plan refused: the desired revision {} has {}.",
                    desired_snapshot.revision.label(),
                    crate::render::plural(counts.errors, "error")
                );
            }
            PlanFormat::Json => {
                let value = json!({
                    "desired": desired_snapshot.revision,
                    "applied": applied_snapshot.revision,
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
        return Ok(EXIT_FINDINGS);
    }
    let plan = meshcd_core::plan::plan(&desired, &applied);
    match args.format {
        PlanFormat::Text => {
            if !findings.is_empty() {
                print!("{}", findings_text::render(&findings, Style::for_stdout()));
            }
            print!(
                "{}",
                plan_text::render(
                    &plan,
                    &desired_snapshot.revision.label(),
                    &applied_snapshot.revision.label(),
                    Style::for_stdout()
                )
            );
        }
        PlanFormat::Json => {
            let value = json!({
                "desired": desired_snapshot.revision,
                "applied": applied_snapshot.revision,
                "summary": plan.summary,
                "changes": plan.changes,
                "findings": findings,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
