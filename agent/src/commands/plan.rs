//! `meshcd plan`: what would change to make the applied state match the desired revision.
//!
//! [`compare`] reads both sides, checks the desired one and plans; `meshcd report` shares it.

use std::path::Path;

use meshcd_core::finding::Counts;
use meshcd_core::plan::Plan;
use meshcd_core::{Finding, Loaded};
use serde_json::json;

use super::{cannot_run, open_source, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PlanArgs, PlanOutputFormat, PolicyArgs, SourceArgs, TargetKind};
use crate::render::{findings_text, plan_text, Style};
use crate::source::{folder, Revision, Snapshot};
use crate::target::envoy::with_config_backends;
use crate::target::Target;

/// Exit status with `--detailed-exitcode` when the plan has changes.
pub const EXIT_CHANGES: u8 = 2;

/// Where the applied state is read from: `--base`, `--applied` or `--target` (with `--config`).
#[derive(Debug, Clone, Copy)]
pub struct AppliedFrom<'a> {
    /// Another revision of the same repository.
    pub base: Option<&'a str>,
    /// A folder of previously rendered resources.
    pub applied: Option<&'a Path>,
    /// A live target, as configured in `config`.
    pub target: Option<TargetKind>,
    /// The meshcd configuration naming the target (default `meshcd.yaml`).
    pub config: Option<&'a Path>,
    /// Rego policies besides the repository's.
    pub policy: &'a PolicyArgs,
}

impl<'a> From<&'a PlanArgs> for AppliedFrom<'a> {
    fn from(args: &'a PlanArgs) -> Self {
        Self {
            base: args.base.as_deref(),
            applied: args.applied.as_deref(),
            target: args.target,
            config: args.config.as_deref(),
            policy: &args.policy,
        }
    }
}

/// Which errors of the desired revision keep it from being planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefuseOn {
    /// Any error: `plan` never plans a revision with errors.
    AnyError,
    /// Only load errors (a file that failed to load would show up as deleting everything it
    /// held); a revision that loads is planned even with policy errors, so `report` can show
    /// both.
    LoadErrors,
}

/// The applied side of a comparison.
#[derive(Debug, Clone)]
pub enum AppliedSide {
    /// Another revision, or a folder.
    Snapshot(Revision),
    /// A live target, by id (e.g. `envoy:127.0.0.1:9901`).
    Target(String),
}

impl AppliedSide {
    /// As `plan --format json` shows it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AppliedSide::Snapshot(revision) => json!(revision),
            AppliedSide::Target(id) => json!({ "target": id }),
        }
    }

    /// A short label: a short commit id, a folder or a target id.
    pub fn label(&self) -> String {
        match self {
            AppliedSide::Snapshot(revision) => revision.label(),
            AppliedSide::Target(id) => id.clone(),
        }
    }
}

/// What came of comparing the desired revision with the applied state.
#[derive(Debug)]
pub enum Outcome {
    /// The plan.
    Planned(Plan),
    /// Not planned: the desired revision has errors of the kind [`RefuseOn`] names.
    Refused,
    /// The target cannot take the desired revision: why, one line per error.
    Untranslatable(Vec<String>),
}

/// The desired revision read, checked and compared with the applied state.
#[derive(Debug)]
pub struct Comparison {
    /// The desired revision.
    pub desired: Revision,
    /// The applied side; `None` when the desired revision was refused before a target was read.
    pub applied: Option<AppliedSide>,
    /// The desired revision, loaded.
    pub loaded: Loaded,
    /// Every finding of the desired revision (with snippets).
    pub findings: Vec<Finding>,
    /// The plan, or why there is none.
    pub outcome: Outcome,
}

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

/// Reads the desired revision of `source` and the applied state `from` names, checks the
/// desired revision, and plans unless it has errors of the kind `refuse_on` names.
pub fn compare(
    source: &SourceArgs,
    from: &AppliedFrom<'_>,
    refuse_on: RefuseOn,
    cache_dir: &Path,
) -> Result<Comparison, Failure> {
    let repository = open_source(source, cache_dir)?;
    let desired_snapshot = repository.snapshot(source.rev.as_deref(), &source.path)?;
    let policies = super::policy::read(&repository, &desired_snapshot, from.policy)?;
    if from.target.is_some() {
        return compare_with_target(from, &desired_snapshot, &policies, refuse_on);
    }
    let applied_snapshot = match (from.base, from.applied) {
        (Some(base), _) => repository.snapshot(Some(base), &source.path)?,
        (None, Some(dir)) => folder::snapshot(dir)?,
        (None, None) => unreachable!("clap requires --base, --applied or --target"),
    };
    let (desired, mut findings) = super::load_and_check_with(&desired_snapshot, &policies);
    let applied_side = AppliedSide::Snapshot(applied_snapshot.revision.clone());
    let outcome = if stops(refuse_on, &desired, &findings) {
        Outcome::Refused
    } else {
        // The applied side is only loaded: its policy findings are not the plan's concern, but
        // a file that failed to load is missing from the comparison, and the user is told.
        let applied = meshcd_core::load(applied_snapshot.files.as_ref().clone());
        if applied.has_errors() {
            tracing::warn!(
                errors = Counts::of(&applied.findings).errors,
                applied = %applied_snapshot.revision.label(),
                "the applied state has load errors: resources in those files are left out of the comparison"
            );
        }
        let plan = meshcd_core::plan::plan(&desired, &applied);
        super::policy::check_plan(&policies, &desired, &plan, &mut findings);
        Outcome::Planned(plan)
    };
    Ok(Comparison {
        desired: desired_snapshot.revision,
        applied: Some(applied_side),
        loaded: desired,
        findings,
        outcome,
    })
}

/// True when a revision with these findings is not planned.
fn stops(refuse_on: RefuseOn, loaded: &Loaded, findings: &[Finding]) -> bool {
    match refuse_on {
        RefuseOn::AnyError => Counts::of(findings).errors > 0,
        RefuseOn::LoadErrors => loaded.has_errors(),
    }
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

/// `--target KIND`: the desired revision against what the target of `--config` holds.
fn compare_with_target(
    from: &AppliedFrom<'_>,
    snapshot: &Snapshot,
    policies: &meshcd_core::policy::rego::Policies,
    refuse_on: RefuseOn,
) -> Result<Comparison, Failure> {
    let config_path = from.config.unwrap_or(Path::new("meshcd.yaml"));
    let config = crate::daemon::load_config(config_path).map_err(cannot_run)?;
    let wanted = from.target.map(TargetKind::as_str).unwrap_or("envoy");
    if config.target.kind() != Some(wanted) {
        return Err(cannot_run(anyhow::anyhow!(
            "{} has no `target.{wanted}`{}",
            config_path.display(),
            config
                .target
                .kind()
                .map(|k| format!(" (it configures `target.{k}`: use --target {k})"))
                .unwrap_or_default()
        )));
    }
    let backends = config
        .target
        .envoy
        .as_ref()
        .map(|e| e.backends.clone())
        .unwrap_or_default();
    let snapshot = &with_config_backends(snapshot, &backends);
    let (desired, findings) = super::load_and_check_with(snapshot, policies);
    let mut comparison = Comparison {
        desired: snapshot.revision.clone(),
        applied: None,
        loaded: desired,
        findings,
        outcome: Outcome::Refused,
    };
    if stops(refuse_on, &comparison.loaded, &comparison.findings) {
        return Ok(comparison);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        crate::with_target!(&config, false, target => {
            plan_against(&target, &mut comparison, policies).await?;
            Ok(comparison)
        })
    })
}

/// Reads what `target` holds and plans the comparison's revision against it.
async fn plan_against<T: Target>(
    target: &T,
    comparison: &mut Comparison,
    policies: &meshcd_core::policy::rego::Policies,
) -> Result<(), Failure> {
    comparison.applied = Some(AppliedSide::Target(target.id().to_string()));
    let config = match target.desired(&comparison.loaded) {
        Ok(config) => config,
        Err(errors) => {
            comparison.outcome = Outcome::Untranslatable(errors);
            return Ok(());
        }
    };
    let desired = target.state_of(&config);
    let applied = target
        .applied(&desired)
        .await
        .map_err(|e| cannot_run(anyhow::anyhow!("{}: {e}", target.id())))?;
    let plan = target.diff(&desired, &applied, &comparison.loaded);
    if !target.prunes() && plan.summary.delete > 0 {
        eprintln!(
            "note: prune is off for {}: the {} delete(s) listed are not carried out",
            target.id(),
            plan.summary.delete
        );
    }
    super::policy::check_plan(
        policies,
        &comparison.loaded,
        &plan,
        &mut comparison.findings,
    );
    comparison.outcome = Outcome::Planned(plan);
    Ok(())
}
