//! Plan packages over a plan: their messages as findings at the resource a message names, else
//! at the rule in the policy file.

use std::collections::BTreeSet;

use regorus::Value;
use serde_json::{Map, Value as Json};

use crate::finding::{attach_snippets, sort_findings, Finding};
use crate::load::Loaded;
use crate::model::Resource;
use crate::plan::Plan;
use crate::source::{Location, Pos};

use super::compile::{Level, Policies, RuleRef};
use super::evaluate;
use super::input;
use super::resource_findings::{failure_finding, resource_finding, severity};

/// The findings of the plan packages of `policies` over `plan`, whose desired revision is
/// `desired` (sorted). Compile errors are not repeated here: [`super::check_resources`]
/// reports them.
pub fn check_plan(policies: &Policies, desired: &Loaded, plan: &Plan) -> Vec<Finding> {
    let mut findings = Vec::new();
    let Some(engine) = &policies.engine else {
        return findings;
    };
    let packages: Vec<_> = policies
        .packages
        .iter()
        .filter(|p| p.level == Level::Plan)
        .collect();
    if packages.is_empty() {
        return findings;
    }
    let mut engine = engine.clone();
    engine.set_input(Value::from(input::plan_input(plan, desired)));
    for package in packages {
        let verdict = evaluate::package(&mut engine, package, &BTreeSet::new());
        for hit in verdict.hits {
            let rule = &package.rules[hit.rule];
            findings.push(plan_finding(desired, plan, rule, hit.message, &hit.details));
        }
        for failure in verdict.failures {
            findings.push(failure_finding(policies, package, &failure));
        }
    }
    attach_snippets(&mut findings, &policies.files);
    sort_findings(&mut findings);
    findings
}

/// A plan finding: at the desired resource the message names (by `id`, or `kind` + `name` +
/// `namespace`), else at the `file` it names, else at the rule.
fn plan_finding(
    desired: &Loaded,
    plan: &Plan,
    rule: &RuleRef,
    message: String,
    details: &Map<String, Json>,
) -> Finding {
    if let Some(resource) = named_resource(&desired.resources, details) {
        return resource_finding(resource, rule, message, details);
    }
    let text = |key: &str| details.get(key).and_then(Json::as_str);
    // A deleted resource is only in the plan: its change names the applied file.
    let change_file = plan
        .changes
        .iter()
        .find(|c| Some(c.id().to_string().as_str()) == text("id"))
        .map(|c| c.file.clone());
    let location = match text("file").map(str::to_string).or(change_file) {
        Some(file) => Location {
            file,
            pos: Pos::START,
        },
        None => rule.location.clone(),
    };
    Finding {
        rule: rule.code,
        name: rule.label,
        severity: severity(rule),
        location,
        field: None,
        message,
        snippet: None,
    }
}

fn named_resource<'a>(
    resources: &'a [Resource],
    details: &Map<String, Json>,
) -> Option<&'a Resource> {
    let text = |key: &str| details.get(key).and_then(Json::as_str);
    if let Some(id) = text("id") {
        return resources.iter().find(|r| r.id.to_string() == id);
    }
    let (kind, name) = (text("kind")?, text("name")?);
    let namespace = text("namespace").unwrap_or("");
    resources.iter().find(|r| {
        r.id.kind.name().eq_ignore_ascii_case(kind)
            && r.id.name == name
            && (namespace.is_empty() || r.id.namespace == namespace)
    })
}
