//! Rego policies for the commands: reading them (the repository's `policies/` at the revision
//! and `--policy` paths), adding their findings to a revision's or a plan's, and
//! `meshcd policy test`.

use std::fmt::Write;

use meshcd_core::policy::rego::{self, Options, Policies, TestOutcome, TestResult};
use meshcd_core::Finding;
use serde_json::json;

use super::{Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{PolicyArgs, PolicyTestArgs, PolicyTestFormat};
use crate::engine::check::{
    compile_policies, read_policies, read_schemas, PolicyOptions, SchemaSet,
};
use crate::render::{findings_text, Style};
use crate::source::{policy_files, GitSource, Snapshot};

/// The engine's policy options of `--policy`, `--namespace` and `--all-namespaces`.
pub fn options(args: &PolicyArgs) -> PolicyOptions {
    PolicyOptions {
        extra_paths: args.policy.clone(),
        namespaces: args.namespace.clone(),
        all_namespaces: args.all_namespaces,
        crd_paths: args.crd.clone(),
    }
}

/// Reads the policies of a revision (see [`crate::engine::check::read_policies`]) and the
/// CRDs of `--crd` (see [`crate::engine::check::read_schemas`]).
pub fn read(
    source: &GitSource,
    snapshot: &Snapshot,
    args: &PolicyArgs,
) -> Result<(Policies, SchemaSet), Failure> {
    let options = options(args);
    let schemas = read_schemas(&options)?;
    Ok((read_policies(Some(source), snapshot, &options)?, schemas))
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
    let policies = compile_policies(&files, &options);
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
