//! Loading and checking a revision: the one function every command and the daemon use to turn a
//! snapshot into a typed, checked revision (built-in rules, the Rego policies of the repository
//! and of the options, the change windows it declares).

use std::path::PathBuf;

use meshcd_core::finding::{attach_snippets, sort_findings};
use meshcd_core::plan::Plan;
use meshcd_core::policy::rego::{self, Options, Policies};
use meshcd_core::policy::windows::Windows;
use meshcd_core::schema::{crd, Schemas};
use meshcd_core::{Finding, Loaded, SourceFile};

use crate::source::{policy_files, GitSource, Snapshot, SourceError};

/// Which Rego policies a check evaluates besides the built-in rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOptions {
    /// Files or folders of `.rego` policies read from disk, in addition to the repository's
    /// `policies/` at the revision.
    pub extra_paths: Vec<PathBuf>,
    /// The package namespaces evaluated (empty: `main` and `meshcd`).
    pub namespaces: Vec<String>,
    /// Evaluate every package, whatever its namespace.
    pub all_namespaces: bool,
    /// Files or folders of CustomResourceDefinitions: documents of their kinds are checked
    /// against their schemas and CEL rules (instead of the built-in ones).
    pub crd_paths: Vec<PathBuf>,
}

impl PolicyOptions {
    /// The Rego evaluation options these stand for.
    pub fn rego(&self) -> Options {
        let mut options = Options {
            all_namespaces: self.all_namespaces,
            ..Options::default()
        };
        if !self.namespaces.is_empty() {
            options.namespaces = self.namespaces.clone();
        }
        options
    }
}

/// A revision loaded and checked.
#[derive(Debug)]
pub struct Checked {
    /// The typed revision.
    pub loaded: Loaded,
    /// Every finding (built-in rules and Rego resource packages), sorted, with snippets.
    pub findings: Vec<Finding>,
    /// The compiled policies (their plan-level packages judge plans later).
    pub policies: Policies,
    /// The revision's change windows, parsed once.
    pub windows: Windows,
}

/// Reads the Rego policies that apply to `snapshot`: the repository's `policies/` at its commit
/// (none for a snapshot read from a folder) and `options.extra_paths`. Test files are left out.
pub fn read_policies(
    source: Option<&GitSource>,
    snapshot: &Snapshot,
    options: &PolicyOptions,
) -> Result<Policies, SourceError> {
    let mut files = Vec::new();
    if let Some(source) = source.filter(|_| !snapshot.revision.commit.is_empty()) {
        files.extend(source.policy_files(&snapshot.revision.commit)?);
    }
    for path in &options.extra_paths {
        files.extend(policy_files::from_disk(path)?);
    }
    files.retain(|f| !rego::is_test_path(&f.path));
    Ok(compile_policies(&files, &options.rego()))
}

/// The schemas a check uses: the built-in ones and the CRDs of `options.crd_paths`, with the
/// problems of CRDs that cannot be used (error findings at the CRD's field).
#[derive(Debug, Clone, Default)]
pub struct SchemaSet {
    /// The schemas.
    pub schemas: Schemas,
    /// CRDs that could not be read or compiled.
    pub problems: Vec<Finding>,
}

/// Reads the CRDs of `options.crd_paths` from disk. A path that does not exist is an error;
/// a path without any CRD too (it is surely a mistake), naming the path.
pub fn read_schemas(options: &PolicyOptions) -> Result<SchemaSet, SourceError> {
    let mut files = Vec::new();
    for path in &options.crd_paths {
        let found = policy_files::yaml_from_disk(path)?;
        files.extend(found);
    }
    let (crds, mut problems) = crd::load(&files);
    if !options.crd_paths.is_empty() && crds.is_empty() && problems.is_empty() {
        return Err(SourceError::BadPath {
            path: options
                .crd_paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            reason: "holds no CustomResourceDefinition".into(),
        });
    }
    attach_snippets(&mut problems, &files);
    tracing::debug!(kinds = crds.kinds().count(), "CRDs read");
    Ok(SchemaSet {
        schemas: Schemas::with_crds(crds),
        problems,
    })
}

/// Compiles policy files (errors become findings of the policies, not failures).
pub fn compile_policies(files: &[SourceFile], options: &Options) -> Policies {
    let policies = Policies::compile(files, options);
    tracing::debug!(
        files = files.len(),
        packages = ?policies.packages(),
        errors = policies.errors().len(),
        "Rego policies"
    );
    policies
}

/// Loads a snapshot and runs the built-in rules: the loaded revision and all its findings (with
/// snippets).
pub fn load_and_check(snapshot: &Snapshot) -> (Loaded, Vec<Finding>) {
    load_and_check_with(snapshot, &SchemaSet::default())
}

/// [`load_and_check`] against `schemas` (the built-in ones and the user's CRDs).
pub fn load_and_check_with(snapshot: &Snapshot, schemas: &SchemaSet) -> (Loaded, Vec<Finding>) {
    let loaded = meshcd_core::load::load_with(snapshot.files.as_ref().clone(), &schemas.schemas);
    let mut findings = meshcd_core::policy::check(&loaded);
    attach_snippets(&mut findings, &loaded.files);
    findings.extend(schemas.problems.iter().cloned());
    sort_findings(&mut findings);
    (loaded, findings)
}

/// Loads and checks a revision against the built-in rules, `schemas` and `policies` (their
/// compile errors and the findings of their resource packages), and parses its change windows.
pub fn check_revision(snapshot: &Snapshot, policies: Policies, schemas: &SchemaSet) -> Checked {
    let (loaded, mut findings) = load_and_check_with(snapshot, schemas);
    add_resource_findings(&policies, &loaded, &mut findings);
    let windows = Windows::from_loaded(&loaded);
    Checked {
        loaded,
        findings,
        policies,
        windows,
    }
}

/// Adds the findings of the policies' resource packages to `findings` (sorted).
pub fn add_resource_findings(policies: &Policies, loaded: &Loaded, findings: &mut Vec<Finding>) {
    let mut found = rego::check_resources(policies, loaded);
    attach_snippets(&mut found, &loaded.files);
    findings.extend(found);
    sort_findings(findings);
}

/// Adds the findings of the policies' plan packages on `plan` to `findings` (sorted).
pub fn add_plan_findings(
    policies: &Policies,
    desired: &Loaded,
    plan: &Plan,
    findings: &mut Vec<Finding>,
) {
    let mut found = rego::check_plan(policies, desired, plan);
    attach_snippets(&mut found, &desired.files);
    findings.extend(found);
    sort_findings(findings);
}
