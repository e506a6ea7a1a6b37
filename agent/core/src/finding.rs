//! Findings: what a check found, where, and how bad it is.

use std::fmt;

use serde::Serialize;

use crate::path::FieldPath;
use crate::source::{Location, SourceFile};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks apply; `validate` exits 1.
    Error,
    /// Reported; blocks only with `--deny-warnings`.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable rule code, e.g. `MC101`.
    pub rule: &'static str,
    /// Rule name, e.g. `weight-negative`.
    pub name: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Where: file, line, column.
    #[serde(flatten)]
    pub location: Location,
    /// The field the finding is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<FieldPath>,
    /// What is wrong and, where it helps, what to do.
    pub message: String,
    /// The source line with a caret under the column (filled by [`attach_snippets`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} [{} {}] {}",
            self.location, self.severity, self.rule, self.name, self.message
        )
    }
}

/// Sorts findings by file, position and rule, and drops exact duplicates.
pub fn sort_findings(findings: &mut Vec<Finding>) {
    findings
        .sort_by(|a, b| (&a.location, a.rule, &a.message).cmp(&(&b.location, b.rule, &b.message)));
    findings.dedup();
}

/// Fills each finding's snippet from the files it points into.
pub fn attach_snippets(findings: &mut [Finding], files: &[SourceFile]) {
    for finding in findings {
        if finding.snippet.is_none() {
            finding.snippet = files
                .iter()
                .find(|f| f.path == finding.location.file)
                .and_then(|f| f.snippet(finding.location.pos));
        }
    }
}

/// Counts of errors and warnings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
}

impl Counts {
    /// Counts the findings by severity.
    pub fn of(findings: &[Finding]) -> Self {
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        Self {
            errors,
            warnings: findings.len() - errors,
        }
    }
}
