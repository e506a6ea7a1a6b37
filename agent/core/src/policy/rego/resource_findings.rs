//! Resource packages over every resource of a revision: their messages as findings at the
//! resource (or the field a message names).

use std::collections::BTreeSet;

use regorus::Value;
use serde_json::{Map, Value as Json};

use crate::finding::{sort_findings, Finding, Severity};
use crate::load::Loaded;
use crate::model::{Family, Resource};
use crate::path::FieldPath;
use crate::source::Location;

use super::compile::{Level, PackageRules, Policies, RuleKind, RuleRef};
use super::evaluate::{self, Failed};
use super::{errors, input};

/// The compile errors of `policies` and the findings of their resource packages over every
/// resource of `loaded`, sorted. Snippets of resource findings are left for
/// [`attach_snippets`](crate::finding::attach_snippets) with the revision's files; policy
/// errors carry theirs.
pub fn check_resources(policies: &Policies, loaded: &Loaded) -> Vec<Finding> {
    let mut findings = policies.errors.clone();
    let Some(engine) = &policies.engine else {
        return findings;
    };
    let packages: Vec<&PackageRules> = policies
        .packages
        .iter()
        .filter(|p| p.level == Level::Resource)
        .collect();
    if packages.is_empty() {
        return findings;
    }
    let mut engine = engine.clone();
    // Rules that failed once (per package) are not run again: one finding, bounded time.
    let mut disabled: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); packages.len()];
    let mut exception_failed = vec![false; packages.len()];
    for resource in &loaded.resources {
        let value = Value::from(input::resource_input(resource, &loaded.resources));
        engine.set_input(value);
        for (p, package) in packages.iter().enumerate() {
            let verdict = evaluate::package(&mut engine, package, &disabled[p]);
            for hit in verdict.hits {
                let rule = &package.rules[hit.rule];
                findings.push(resource_finding(resource, rule, hit.message, &hit.details));
            }
            for failure in verdict.failures {
                if let Some(index) = failure.rule {
                    disabled[p].insert(index);
                } else if std::mem::replace(&mut exception_failed[p], true) {
                    continue;
                }
                findings.push(failure_finding(policies, package, &failure));
            }
        }
    }
    sort_findings(&mut findings);
    findings
}

/// The severity of a rule's findings.
pub(crate) fn severity(rule: &RuleRef) -> Severity {
    match rule.kind {
        RuleKind::Deny | RuleKind::Violation => Severity::Error,
        RuleKind::Warn => Severity::Warning,
    }
}

/// A finding about a resource: at its document, or at the message's `field`.
pub(crate) fn resource_finding(
    resource: &Resource,
    rule: &RuleRef,
    message: String,
    details: &Map<String, Json>,
) -> Finding {
    let field = details
        .get("field")
        .and_then(Json::as_str)
        .map(|f| document_path(resource, f));
    let location = match &field {
        Some(path) => resource.locate(path),
        None => Location {
            file: resource.file.clone(),
            pos: resource.pos,
        },
    };
    Finding {
        rule: rule.code,
        name: rule.label,
        severity: severity(rule),
        location,
        field: field.filter(|f| !f.is_root()),
        message,
        snippet: None,
    }
}

/// A field path as policies write it (`spec.rules[0]`, `metadata.labels` for every family) in
/// the document: networkservices fields, its name and labels included, sit at the root.
fn document_path(resource: &Resource, field: &str) -> FieldPath {
    let field = field.strip_prefix("input.").unwrap_or(field);
    if resource.id.kind.family() == Family::NetworkServices {
        let rest = field
            .strip_prefix("spec.")
            .or_else(|| field.strip_prefix("metadata."))
            .unwrap_or(field);
        return FieldPath::parse(rest);
    }
    FieldPath::parse(field)
}

/// An error finding for a rule (or the package's `exception` rule) that failed.
pub(crate) fn failure_finding(
    policies: &Policies,
    package: &PackageRules,
    failure: &Failed,
) -> Finding {
    let (what, fallback) = match failure.rule {
        Some(index) => {
            let rule = &package.rules[index];
            (
                format!("Rego error in {}", rule.code.trim_start_matches("rego:")),
                rule.location.clone(),
            )
        }
        None => (
            format!("Rego error in {}.exception", package.name),
            package
                .rules
                .first()
                .map(|r| r.location.clone())
                .unwrap_or_else(|| Location {
                    file: String::new(),
                    pos: crate::source::Pos::START,
                }),
        ),
    };
    errors::finding(&failure.error, &what, fallback, &policies.files)
}
