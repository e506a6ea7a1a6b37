//! Rego policies for the commands: reading them (the repository's `policies/` at the revision
//! and `--policy` paths), adding their findings to a revision's or a plan's, and
//! `meshcd policy test`.

use std::fmt::Write;

use meshcd_core::finding::{attach_snippets, sort_findings};
use meshcd_core::plan::Plan;
use meshcd_core::policy::rego::{self, Options, Policies, TestOutcome, TestResult};
use meshcd_core::{Finding, Loaded, SourceFile};
use serde_json::json;

use super::{Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PolicyArgs, PolicyTestArgs, PolicyTestFormat};
use crate::render::{findings_text, Style};
use crate::source::{policy_files, GitSource, Snapshot};

/// The evaluation options `--namespace` and `--all-namespaces` ask for.
pub fn options(args: &PolicyArgs) -> Options {
    let mut options = Options {
        all_namespaces: args.all_namespaces,
        ..Options::default()
    };
    if !args.namespace.is_empty() {
        options.namespaces = args.namespace.clone();
    }
    options
}

/// The policies that check `snapshot`: the `.rego` files of the repository's `policies/`
/// folder at the snapshot's commit (none for a folder snapshot), then those of each
/// `--policy` path; `*_test.rego` files are left out. Exit 2 when a `--policy` path cannot
/// be read.
pub fn read(
    source: &GitSource,
    snapshot: &Snapshot,
    args: &PolicyArgs,
) -> Result<Policies, Failure> {
    let mut files = Vec::new();
    if !snapshot.revision.commit.is_empty() {
        files.extend(source.policy_files(&snapshot.revision.commit)?);
    }
    for path in &args.policy {
        files.extend(policy_files::from_disk(path)?);
    }
    files.retain(|f| !rego::is_test_path(&f.path));
    Ok(compile(&files, &options(args)))
}

/// Compiles policy files, logging which packages run.
pub fn compile(files: &[SourceFile], options: &Options) -> Policies {
    let policies = Policies::compile(files, options);
    tracing::debug!(
        files = files.len(),
        packages = ?policies.packages(),
        errors = policies.errors().len(),
        "Rego policies"
    );
    policies
}

/// Adds the policies' errors and resource findings over `loaded` to `findings` (with
/// snippets), sorted.
pub fn check_resources(policies: &Policies, loaded: &Loaded, findings: &mut Vec<Finding>) {
    let mut found = rego::check_resources(policies, loaded);
    attach_snippets(&mut found, &loaded.files);
    findings.extend(found);
    sort_findings(findings);
}

/// Adds the findings of the policies' plan packages over `plan` (whose desired revision is
/// `desired`) to `findings` (with snippets), sorted.
pub fn check_plan(policies: &Policies, desired: &Loaded, plan: &Plan, findings: &mut Vec<Finding>) {
    let mut found = rego::check_plan(policies, desired, plan);
    attach_snippets(&mut found, &desired.files);
    findings.extend(found);
    sort_findings(findings);
}

/// Runs `meshcd policy test` and returns the exit status.
pub fn test(args: &PolicyTestArgs) -> Result<u8, Failure> {
    let mut files = Vec::new();
    for path in &args.paths {
        files.extend(policy_files::from_disk(path)?);
    }
    let options = Options {
        all_namespaces: true,
        ..Options::default()
    };
    let policies = compile(&files, &options);
    let results: Vec<TestResult> = rego::run_tests(&policies)
        .into_iter()
        .filter(|r| {
            args.run
                .as_deref()
                .is_none_or(|run| format!("{}.{}", r.package, r.name).contains(run))
        })
        .collect();
    let passed = results
        .iter()
        .filter(|r| r.outcome == TestOutcome::Pass)
        .count();
    let failed = results.len() - passed;
    let errors = policies.errors();
    let output = match args.format {
        PolicyTestFormat::Text => text(&results, errors, passed, failed),
        PolicyTestFormat::Json => {
            let value = json!({
                "summary": {"passed": passed, "failed": failed},
                "errors": errors,
                "tests": results,
            });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            )
        }
    };
    print!("{output}");
    if results.is_empty() {
        eprintln!(
            "error: no tests found: write rules named test_* in files named *_test.rego \
             (see policies/README.md)"
        );
    }
    let ok = failed == 0 && errors.is_empty() && !results.is_empty();
    Ok(if ok { EXIT_OK } else { EXIT_FINDINGS })
}

/// `PASS file:line package.test` lines, the policy errors, and `N passed, N failed`.
fn text(results: &[TestResult], errors: &[Finding], passed: usize, failed: usize) -> String {
    let style = Style::for_stdout();
    let mut out = findings_text::render(errors, style);
    for result in results {
        let (label, detail) = match &result.outcome {
            TestOutcome::Pass => (style.added("PASS "), String::new()),
            TestOutcome::Fail => (style.error("FAIL "), String::new()),
            TestOutcome::Error(message) => (style.error("ERROR"), format!(": {message}")),
        };
        let _ = writeln!(
            out,
            "{label} {}.{}  {}{detail}",
            result.package, result.name, result.location
        );
    }
    if !results.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}
