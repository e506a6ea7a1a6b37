//! SARIF 2.1.0, as GitHub code scanning accepts it: one run, the built-in rules as the driver's
//! rules, one result per finding located at file:line:col.

use meshcd_core::policy::rules;
use meshcd_core::{Finding, Severity};
use serde_json::{json, Value};

/// The SARIF document for a set of findings. The driver's rules are the built-in ones, then
/// every other rule code found (Rego policies, `rego:<package>.<rule>`), so each result's
/// `ruleIndex` points at its own rule.
pub fn render(findings: &[Finding]) -> Value {
    let mut rule_list: Vec<Value> = rules::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
            })
        })
        .collect();
    let mut codes: Vec<&str> = rules::ALL.iter().map(|r| r.code).collect();
    for finding in findings {
        if !codes.contains(&finding.rule) {
            codes.push(finding.rule);
            rule_list.push(json!({
                "id": finding.rule,
                "name": finding.name,
                "shortDescription": {"text": format!("Rego policy {}", finding.name)},
            }));
        }
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "ruleIndex": codes.iter().position(|c| *c == f.rule).unwrap_or(0),
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.file},
                        "region": {"startLine": f.location.pos.line, "startColumn": f.location.pos.column},
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "meshcd",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/meshcd/meshcd",
                "rules": rule_list,
            }},
            "results": results,
        }],
    })
}
