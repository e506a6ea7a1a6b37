//! `meshcd plan`: what would change to make the applied state match the desired revision.

use std::path::Path;

use meshcd_core::finding::Counts;
use serde_json::json;

use super::{cannot_run, load_and_check, open_source, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PlanArgs, PlanFormat};
use crate::render::{findings_text, plan_text, Style};
use crate::source::{folder, Revision, Snapshot};
use crate::target::envoy::with_config_backends;
use crate::target::{EnvoyTarget, EnvoyTargetOptions};
use meshcd_core::envoy::EnvoyState;

/// Exit status with `--detailed-exitcode` when the plan has changes.
pub const EXIT_CHANGES: u8 = 2;

/// Runs `plan` and returns the exit status.
pub fn run(args: &PlanArgs, cache_dir: &Path) -> Result<u8, Failure> {
    let source = open_source(&args.source, cache_dir)?;
    let desired_snapshot = source.snapshot(args.source.rev.as_deref(), &args.source.path)?;
    if args.target.is_some() {
        return plan_against_envoy(args, &desired_snapshot);
    }
    let applied_snapshot = match (&args.base, &args.applied) {
        (Some(base), _) => source.snapshot(Some(base), &args.source.path)?,
        (None, Some(dir)) => folder::snapshot(dir)?,
        (None, None) => unreachable!("clap requires --base, --applied or --target"),
    };
    let (desired, findings) = load_and_check(&desired_snapshot);
    let counts = Counts::of(&findings);
    if counts.errors > 0 {
        return Ok(refuse(args, &desired_snapshot.revision, &findings));
    }
    // The applied side is only loaded: its policy findings are not the plan's concern, but a
    // file that failed to load is missing from the comparison, and the user is told.
    let applied = meshcd_core::load(applied_snapshot.files.as_ref().clone());
    if applied.has_errors() {
        tracing::warn!(
            errors = Counts::of(&applied.findings).errors,
            applied = %applied_snapshot.revision.label(),
            "the applied state has load errors: resources in those files are left out of the comparison"
        );
    }
    let plan = meshcd_core::plan::plan(&desired, &applied);
    Ok(print_plan(
        args,
        &plan,
        &findings,
        json!(desired_snapshot.revision),
        json!(applied_snapshot.revision),
        &desired_snapshot.revision.label(),
        &applied_snapshot.revision.label(),
    ))
}

/// Prints a plan (with any warnings) and returns the exit status.
fn print_plan(
    args: &PlanArgs,
    plan: &meshcd_core::plan::Plan,
    findings: &[meshcd_core::Finding],
    desired: serde_json::Value,
    applied: serde_json::Value,
    desired_label: &str,
    applied_label: &str,
) -> u8 {
    match args.format {
        PlanFormat::Text => {
            if !findings.is_empty() {
                print!("{}", findings_text::render(findings, Style::for_stdout()));
            }
            print!(
                "{}",
                plan_text::render(plan, desired_label, applied_label, Style::for_stdout())
            );
        }
        PlanFormat::Json => {
            let value = json!({
                "desired": desired,
                "applied": applied,
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
    if args.detailed_exitcode && !plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

/// A revision with errors is never planned: a file that failed to load would show up as
/// deletions of everything it held. Prints the findings and returns exit status 1.
fn refuse(args: &PlanArgs, desired: &Revision, findings: &[meshcd_core::Finding]) -> u8 {
    let counts = Counts::of(findings);
    match args.format {
        PlanFormat::Text => {
            print!("{}", findings_text::render(findings, Style::for_stdout()));
            println!(
                "Plan refused: the desired revision {} has {}.",
                desired.label(),
                crate::render::plural(counts.errors, "error")
            );
        }
        PlanFormat::Json => {
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

/// `plan --target envoy`: the desired revision against what the Envoy of `--config` serves.
fn plan_against_envoy(args: &PlanArgs, snapshot: &Snapshot) -> Result<u8, Failure> {
    let config_path = args
        .config
        .as_deref()
        .unwrap_or(std::path::Path::new("meshcd.yaml"));
    let config = crate::daemon::load_config(config_path).map_err(cannot_run)?;
    let Some(envoy) = config.target.envoy else {
        return Err(cannot_run(anyhow::anyhow!(
            "{} has no `target.envoy`",
            config_path.display()
        )));
    };
    let snapshot = &with_config_backends(snapshot, &envoy.backends);
    let (desired, findings) = load_and_check(snapshot);
    if Counts::of(&findings).errors > 0 {
        return Ok(refuse(args, &snapshot.revision, &findings));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let target = EnvoyTarget::open(&EnvoyTargetOptions::from_config(&envoy, false))
            .await
            .map_err(cannot_run)?;
        let config = match target.desired(&desired) {
            Ok(config) => config,
            Err(errors) => {
                for error in &errors {
                    eprintln!("error: {error}");
                }
                return Ok(EXIT_FINDINGS);
            }
        };
        let applied = target.applied().await.map_err(cannot_run)?;
        let plan = meshcd_core::envoy::diff(&EnvoyState::from_config(&config), &applied, &desired);
        Ok(print_plan(
            args,
            &plan,
            &findings,
            json!(snapshot.revision),
            json!({"target": target.id()}),
            &snapshot.revision.label(),
            target.id(),
        ))
    })
}
