//! Schema violations as findings, at the offending field's position.

use super::validate::{Problem, Violation};
use crate::finding::{Finding, Severity};
use crate::policy::rules;
use crate::source::{Location, SourceFile};
use crate::yaml::Node;

/// The findings of a document's violations. A missing field is placed at its parent; an
/// unknown one at its key.
pub fn of(violations: &[Violation], file: &SourceFile, root: &Node) -> Vec<Finding> {
    violations
        .iter()
        .map(|v| {
            let rule = match v.problem {
                Problem::Unknown => &rules::unknown_field::RULE,
                Problem::Rule(_) | Problem::RuleError(_) => &rules::validation_rule::RULE,
                _ => &rules::openapi_schema::RULE,
            };
            let severity = if v.problem.is_warning() {
                Severity::Warning
            } else {
                Severity::Error
            };
            let point_at_key = matches!(v.problem, Problem::Unknown);
            Finding {
                rule: rule.code,
                name: rule.name,
                severity,
                location: Location {
                    file: file.path.clone(),
                    pos: root.locate(&v.path, point_at_key),
                },
                field: (!v.path.is_root()).then(|| v.path.clone()),
                message: v.to_string(),
                snippet: None,
            }
        })
        .collect()
}
