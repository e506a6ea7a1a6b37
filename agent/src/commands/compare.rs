//! The comparison `meshcd plan` and `meshcd report` share: read the desired revision and the
//! applied state (another revision, a folder, or a live target), check the desired revision, and
//! plan unless it is refused.

use std::path::Path;

use meshcd_core::finding::Counts;
use meshcd_core::plan::Plan;
use meshcd_core::policy::rego::Policies;
use meshcd_core::{Finding, Loaded};
use serde_json::json;

use super::{cannot_run, open_source, Failure};
use crate::cli::{PlanArgs, PolicyArgs, SourceArgs, TargetKind};
use crate::config::{load_config, Config, TargetConfig, TargetKind as ConfigTargetKind};
use crate::engine::check::{add_plan_findings, check_revision, SchemaSet};
use crate::source::{folder, Revision, Snapshot};
use crate::targets::envoy::with_config_backends;
use crate::targets::Target;

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

/// Reads the desired revision of `source` and the applied state `from` names, checks the
/// desired revision, and plans unless it has errors of the kind `refuse_on` names. With
/// `--target`, what `source` leaves unsaid (repository, revision, folder) comes from the
/// configuration file.
pub fn compare(
    source: &SourceArgs,
    from: &AppliedFrom<'_>,
    refuse_on: RefuseOn,
    cache_dir: &Path,
) -> Result<Comparison, Failure> {
    let config = match from.target {
        Some(wanted) => Some(target_config(from, wanted)?),
        None => None,
    };
    let source = match &config {
        Some(config) => source.or_config(config),
        None => source.clone(),
    };
    let repository = open_source(&source, cache_dir)?;
    let desired_snapshot = repository.snapshot(source.rev.as_deref(), source.path())?;
    let (policies, schemas) = super::policy::read(&repository, &desired_snapshot, from.policy)?;
    if let Some(config) = config {
        return compare_with_target(&config, &desired_snapshot, (policies, &schemas), refuse_on);
    }
    let applied_snapshot = match (from.base, from.applied) {
        (Some(base), _) => repository.snapshot(Some(base), source.path())?,
        (None, Some(dir)) => folder::snapshot(dir)?,
        (None, None) => unreachable!("clap requires --base, --applied or --target"),
    };
    let checked = check_revision(&desired_snapshot, policies, &schemas);
    let (desired, mut findings) = (checked.loaded, checked.findings);
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
        add_plan_findings(&checked.policies, &desired, &plan, &mut findings);
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

/// The configuration of `--config` (default `meshcd.yaml`), which must configure a target of
/// the kind `--target` asks for.
fn target_config(from: &AppliedFrom<'_>, wanted: TargetKind) -> Result<Config, Failure> {
    let config_path = from.config.unwrap_or(Path::new("meshcd.yaml"));
    let config = load_config(config_path).map_err(cannot_run)?;
    let wanted = ConfigTargetKind::from(wanted);
    let configured = config.target.as_ref().map(TargetConfig::kind);
    if configured != Some(wanted) {
        return Err(cannot_run(anyhow::anyhow!(
            "{} has no `target.{wanted}`{}",
            config_path.display(),
            configured
                .map(|k| format!(" (it configures `target.{k}`: use --target {k})"))
                .unwrap_or_default()
        )));
    }
    Ok(config)
}

/// True when a revision with these findings is not planned.
fn stops(refuse_on: RefuseOn, loaded: &Loaded, findings: &[Finding]) -> bool {
    match refuse_on {
        RefuseOn::AnyError => Counts::of(findings).errors > 0,
        RefuseOn::LoadErrors => loaded.has_errors(),
    }
}

/// `--target KIND`: the desired revision against what the target of `--config` holds.
fn compare_with_target(
    config: &Config,
    snapshot: &Snapshot,
    (policies, schemas): (Policies, &SchemaSet),
    refuse_on: RefuseOn,
) -> Result<Comparison, Failure> {
    let backends = config
        .target
        .as_ref()
        .and_then(TargetConfig::envoy)
        .map(|e| e.backends.clone())
        .unwrap_or_default();
    let snapshot = &with_config_backends(snapshot, &backends);
    let checked = check_revision(snapshot, policies, schemas);
    let (desired, findings, policies) = (checked.loaded, checked.findings, checked.policies);
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
        crate::with_target!(config, false, target => {
            plan_against(&target, &mut comparison, &policies).await?;
            Ok(comparison)
        })
    })
}

/// Reads what `target` holds and plans the comparison's revision against it.
async fn plan_against<T: Target>(
    target: &T,
    comparison: &mut Comparison,
    policies: &Policies,
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
    let applied = target.applied(&desired).await.map_err(|e| {
        cannot_run(anyhow::Error::new(e).context(format!("reading what {} holds", target.id())))
    })?;
    let plan = target.diff(&desired, &applied, &comparison.loaded);
    if !target.prunes() && plan.summary.delete > 0 {
        eprintln!(
            "note: prune is off for {}: the {} delete(s) listed are not carried out",
            target.id(),
            plan.summary.delete
        );
    }
    add_plan_findings(
        policies,
        &comparison.loaded,
        &plan,
        &mut comparison.findings,
    );
    comparison.outcome = Outcome::Planned(plan);
    Ok(())
}
