//! The policies' own tests, as `opa test` runs them: every `test_*` rule of a `*_test.rego`
//! file passes when it evaluates to something other than `false` (undefined fails).

use serde::Serialize;

use crate::source::Location;

use super::compile::Policies;
use super::evaluate;

/// How a test ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "error", rename_all = "lowercase")]
pub enum TestOutcome {
    /// The rule evaluated to a value other than `false`.
    Pass,
    /// The rule was undefined or `false`.
    Fail,
    /// The rule could not be evaluated: regorus's message.
    Error(String),
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// Dotted package name, e.g. `main.owner_label_test`.
    pub package: String,
    /// The rule's name, e.g. `test_route_without_owner_is_denied`.
    pub name: String,
    /// Where the rule is declared.
    #[serde(flatten)]
    pub location: Location,
    /// Pass, fail or error.
    #[serde(flatten)]
    pub outcome: TestOutcome,
}

/// Runs every test of `policies`, in file and line order. Policy errors are not tests: see
/// [`Policies::errors`].
pub fn run_tests(policies: &Policies) -> Vec<TestResult> {
    let Some(engine) = &policies.engine else {
        return Vec::new();
    };
    let mut engine = engine.clone();
    policies
        .tests
        .iter()
        .map(|test| {
            let outcome = match evaluate::eval(&mut engine, &test.query) {
                Ok(value) => match evaluate::to_json(&value) {
                    serde_json::Value::Null | serde_json::Value::Bool(false) => TestOutcome::Fail,
                    _ => TestOutcome::Pass,
                },
                Err(error) => TestOutcome::Error(super::errors::parse(&error).message),
            };
            TestResult {
                package: test.package.clone(),
                name: test.name.clone(),
                location: test.location.clone(),
                outcome,
            }
        })
        .collect()
}
