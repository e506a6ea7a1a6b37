//! Evaluating a package's rules against one input, conftest style: exceptions first, then
//! every deny/violation/warn rule not excepted, each result read as messages.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use regorus::{Engine, Value};
use serde_json::{Map, Value as Json};

use super::compile::{PackageRules, RuleRef};

/// One message of one rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hit {
    /// Index of the rule in its package.
    pub rule: usize,
    /// The message.
    pub message: String,
    /// The message object's other fields (`field`, `id`, `kind`, `name`, `file`, ...).
    pub details: Map<String, Json>,
}

/// A rule that failed to evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    /// Index of the rule in its package; `None` for the `exception` rule.
    pub rule: Option<usize>,
    /// regorus's error text.
    pub error: String,
}

/// What one package said about one input.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Messages, in rule order.
    pub hits: Vec<Hit>,
    /// Rules that errored.
    pub failures: Vec<Failed>,
}

/// Runs `f`, turning a panic inside the Rego engine into an error (bad input must never bring
/// meshcd down).
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(format!("internal error in the Rego engine: {what}"))
        }
    }
}

/// Evaluates one rule path; `Undefined` when the rule produced nothing.
pub(crate) fn eval(engine: &mut Engine, path: &str) -> Result<Value, String> {
    guard(|| {
        engine
            .eval_rule(path.to_string())
            .map_err(|e| format!("{e:#}"))
    })
}

/// Evaluates a package's rules against the engine's current input. Rules whose index is in
/// `skip` (disabled after an earlier failure) are not run.
pub(crate) fn package(
    engine: &mut Engine,
    package: &PackageRules,
    skip: &BTreeSet<usize>,
) -> Verdict {
    let mut verdict = Verdict::default();
    let excepted = if package.has_exception {
        match eval(engine, &format!("{}.exception", package.query)) {
            Ok(value) => exception_names(&to_json(&value)),
            Err(error) => {
                verdict.failures.push(Failed { rule: None, error });
                BTreeSet::new()
            }
        }
    } else {
        BTreeSet::new()
    };
    for (index, rule) in package.rules.iter().enumerate() {
        if skip.contains(&index) || is_excepted(rule, &excepted) {
            continue;
        }
        match eval(engine, &format!("{}.{}", package.query, rule.name)) {
            Ok(value) => {
                for (message, details) in messages(&to_json(&value), &rule.name) {
                    verdict.hits.push(Hit {
                        rule: index,
                        message,
                        details,
                    });
                }
            }
            Err(error) => verdict.failures.push(Failed {
                rule: Some(index),
                error,
            }),
        }
    }
    verdict
}

/// A regorus value as JSON (`null` for undefined).
pub(crate) fn to_json(value: &Value) -> Json {
    if *value == Value::Undefined {
        return Json::Null;
    }
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// The rule names an `exception` value lists: strings, or arrays of strings, at any depth of
/// one set/array.
fn exception_names(value: &Json) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut add = |v: &Json| match v {
        Json::String(s) => {
            names.insert(s.clone());
        }
        Json::Array(items) => {
            for item in items {
                if let Json::String(s) = item {
                    names.insert(s.clone());
                }
            }
        }
        _ => {}
    };
    match value {
        Json::Array(items) => items.iter().for_each(&mut add),
        other => add(other),
    }
    names
}

fn is_excepted(rule: &RuleRef, names: &BTreeSet<String>) -> bool {
    names.contains(rule.short_name()) || names.contains(&rule.name)
}

/// The messages of a rule's value: a set/array of messages, or one message. A message is a
/// string, an object with `msg`, or `true` (named after the rule).
pub(crate) fn messages(value: &Json, rule: &str) -> Vec<(String, Map<String, Json>)> {
    match value {
        Json::Array(items) => items.iter().filter_map(|m| message(m, rule)).collect(),
        other => message(other, rule).into_iter().collect(),
    }
}

fn message(value: &Json, rule: &str) -> Option<(String, Map<String, Json>)> {
    match value {
        Json::Null | Json::Bool(false) => None,
        Json::Bool(true) => Some((rule.to_string(), Map::new())),
        Json::String(s) => Some((s.clone(), Map::new())),
        Json::Object(map) => {
            let mut details = map.clone();
            let text = match details.remove("msg") {
                Some(Json::String(s)) => s,
                Some(other) => other.to_string(),
                None => Json::Object(map.clone()).to_string(),
            };
            Some((text, details))
        }
        other => Some((other.to_string(), Map::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_take_strings_objects_and_true() {
        let value = json!(["plain", {"msg": "with field", "field": "spec.hosts"}, true, false]);
        let got = messages(&value, "deny_x");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, "plain");
        assert_eq!(got[1].0, "with field");
        assert_eq!(got[1].1["field"], json!("spec.hosts"));
        assert_eq!(got[2].0, "deny_x");
        assert!(messages(&Json::Null, "deny").is_empty());
        assert_eq!(messages(&json!("one"), "deny")[0].0, "one");
    }

    #[test]
    fn exceptions_accept_names_and_lists() {
        let names = exception_names(&json!([["a", "b"], "c", 3]));
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            vec!["a".to_string(), "b".into(), "c".into()]
        );
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let result: Result<(), String> = guard(|| panic!("boom"));
        assert_eq!(
            result.unwrap_err(),
            "internal error in the Rego engine: boom"
        );
    }
}
