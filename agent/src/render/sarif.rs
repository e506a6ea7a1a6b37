//! SARIF 2.1.0, as GitHub code scanning accepts it: one run, the built-in rules as the driver's
//! rules, one result per finding located at file:line:col.
//!
//! The document passes Microsoft's SARIF multitool `validate` with its GitHub rules (`--rule-kind
//! Ghas`, GH1001–GH2012; `tests/it/sarif.rs` checks each of them): every rule carries
//! `shortDescription`, `fullDescription`, `help` (text and Markdown) and `helpUri` (its section
//! of `docs/rules.md`), every result a `partialFingerprints` and a `uri` relative to the
//! repository root (`uriBaseId` `%SRCROOT%`) with a region.

use std::collections::HashMap;

use meshcd_core::policy::docs::RuleDocs;
use meshcd_core::policy::rules;
use meshcd_core::{Finding, Severity};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Where Rego policies are documented: the rule descriptors of `rego:` findings point here.
const REGO_DOCS_URL: &str = "https://github.com/meshcd/meshcd/blob/main/README.md#rego-policies";

/// The base every result's `uri` is relative to: the repository's root (the name CodeQL and
/// GitHub code scanning use for it).
const SRCROOT: &str = "%SRCROOT%";

/// The key of meshcd's fingerprint in `partialFingerprints` (versioned: a new way of computing
/// it takes a new key, so code scanning does not match old alerts against new hashes).
pub const FINGERPRINT_KEY: &str = "meshcdFindingHash/v1";

/// The SARIF document for a set of findings. The driver's rules are the built-in ones, then
/// every other rule code found (Rego policies, `rego:<package>.<rule>`), so each result's
/// `ruleIndex` points at its own rule.
pub fn render(findings: &[Finding]) -> Value {
    let mut rule_list: Vec<Value> = rules::ALL
        .iter()
        .map(|rule| builtin_rule(&rule.docs()))
        .collect();
    let mut codes: Vec<&str> = rules::ALL.iter().map(|r| r.code).collect();
    for finding in findings {
        if !codes.contains(&finding.rule) {
            codes.push(finding.rule);
            rule_list.push(policy_rule(finding));
        }
    }
    let fingerprints = fingerprints(findings);
    let results: Vec<Value> = findings
        .iter()
        .zip(fingerprints)
        .map(|(f, fingerprint)| {
            json!({
                "ruleId": f.rule,
                "ruleIndex": codes.iter().position(|c| *c == f.rule).unwrap_or(0),
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.location.file, "uriBaseId": SRCROOT},
                        "region": {"startLine": f.location.pos.line, "startColumn": f.location.pos.column},
                    }
                }],
                "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
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
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/meshcd/meshcd",
                "rules": rule_list,
            }},
            "originalUriBaseIds": {SRCROOT: {"description": {
                "text": "The root of the repository meshcd read: result paths are relative to it.",
            }}},
            "results": results,
        }],
    })
}

/// A built-in rule's descriptor, from its docs.
fn builtin_rule(docs: &RuleDocs) -> Value {
    let rule = docs.rule;
    let url = docs.url();
    let mirrors = docs.upstream_line();
    let mut tags: Vec<&str> = docs.upstream.iter().map(|u| u.source.id()).collect();
    tags.dedup();
    json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": docs.description()},
        "help": {
            "text": format!("{}\n\nMirrors: {mirrors}.\n\nDocumentation: {url}", docs.description()),
            "markdown": format!("{}\n\n[Documentation]({url})", docs.markdown("####")),
        },
        "helpUri": url,
        "properties": {"tags": tags},
    })
}

/// The descriptor of a rule that is not built in: a Rego policy's (or `rego:error`).
fn policy_rule(finding: &Finding) -> Value {
    let what = if finding.rule == "rego:error" {
        "A Rego policy of the repository (`policies/`) or given with `--policy` could not be \
         compiled or evaluated; the finding is at the policy's own file and line."
            .to_string()
    } else {
        format!(
            "Rego policy `{}`: rule `{}` of the repository's policies (`policies/`) or of a \
             `--policy` path. Its messages say what it requires.",
            finding.name, finding.rule
        )
    };
    json!({
        "id": finding.rule,
        "name": finding.name,
        "shortDescription": {"text": format!("Rego policy {}", finding.name)},
        "fullDescription": {"text": what},
        "help": {
            "text": format!("{what}\n\nDocumentation: {REGO_DOCS_URL}"),
            "markdown": format!("{what}\n\n[Rego policies]({REGO_DOCS_URL})"),
        },
        "helpUri": REGO_DOCS_URL,
        "properties": {"tags": ["rego"]},
    })
}

/// One fingerprint per finding, stable while the finding is the same finding: a hash of its
/// rule, file, field (or, without one, nothing) and message, so moving lines does not make a
/// new alert. Findings with the same hash are told apart by their order, `<hash>:<n>`, as
/// GitHub's own `primaryLocationLineHash` does.
fn fingerprints(findings: &[Finding]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    findings
        .iter()
        .map(|f| {
            let mut hash = Sha256::new();
            for part in [
                f.rule,
                f.location.file.as_str(),
                &f.field
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                f.message.as_str(),
            ] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            let hash = hex::encode(&hash.finalize()[..16]);
            let n = seen.entry(hash.clone()).or_insert(0);
            *n += 1;
            format!("{hash}:{n}")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshcd_core::{Location, Pos};

    fn finding(line: u32, message: &str) -> Finding {
        Finding {
            rule: "MC101",
            name: "weight-negative",
            severity: Severity::Error,
            location: Location {
                file: "routes/a.yaml".into(),
                pos: Pos::new(line, 3),
            },
            field: None,
            message: message.into(),
            snippet: None,
        }
    }

    #[test]
    fn fingerprints_ignore_lines_and_tell_repeats_apart() {
        let moved = fingerprints(&[finding(3, "a"), finding(9, "b")]);
        let before = fingerprints(&[finding(7, "a"), finding(1, "b")]);
        assert_eq!(moved, before);
        assert_ne!(moved[0], moved[1]);
        let repeated = fingerprints(&[finding(3, "a"), finding(4, "a")]);
        assert_eq!(
            repeated[0].strip_suffix(":1"),
            repeated[1].strip_suffix(":2")
        );
    }

    #[test]
    fn every_builtin_rule_has_help_and_a_help_uri() {
        for rule in rules::ALL {
            let descriptor = builtin_rule(&rule.docs());
            for field in [
                "/fullDescription/text",
                "/help/text",
                "/help/markdown",
                "/helpUri",
            ] {
                let value = descriptor.pointer(field).and_then(Value::as_str);
                assert!(
                    value.is_some_and(|v| !v.trim().is_empty()),
                    "{}: {field} is {value:?}",
                    rule.code
                );
            }
        }
    }
}
