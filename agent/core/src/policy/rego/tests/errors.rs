//! Broken policies: syntax, compile and runtime errors become findings at the `.rego` file's
//! line and column, the other files still run, and evaluation is bounded in time.

use std::time::Duration;

use super::*;
use crate::policy::rego::{check_resources, MAX_POLICY_BYTES};
use crate::Severity;

const GOOD: (&str, &str) = (
    "policies/good.rego",
    "package main\ndeny contains \"good\" if input.kind == \"VirtualService\"\n",
);

#[test]
fn a_syntax_error_is_reported_at_its_line_and_the_rest_still_runs() {
    let bad = (
        "policies/bad.rego",
        "package main.bad\n\nimport rego.v1\n\ndeny contains msg if {\n  msg := sprintf(\"%s\", [input.kind]\n}\n",
    );
    let p = policies(&[bad, GOOD]);
    let findings = check_resources(&p, &revision(&[("a.yaml", VIRTUAL_SERVICE)]));
    assert_eq!(findings.len(), 2, "{findings:#?}");
    let error = &findings[1];
    assert_eq!(error.rule, "rego:error");
    assert_eq!(error.severity, Severity::Error);
    assert_eq!(error.location.file, "policies/bad.rego");
    assert_eq!(error.location.pos, crate::Pos::new(6, 7), "{error:#?}");
    assert!(
        error.message.starts_with("Rego syntax error: "),
        "{}",
        error.message
    );
    assert_eq!(
        error.snippet.as_deref(),
        Some("  msg := sprintf(\"%s\", [input.kind]\n      ^")
    );
    assert_eq!(findings[0].message, "good");
}

#[test]
fn errors_found_while_evaluating_are_reported_at_their_expression() {
    // regorus finds unknown functions, unsafe variables and recursion when a rule runs.
    let bad = (
        "policies/undefined.rego",
        "package main.undefined\n\ndeny contains msg if {\n  msg := no_such_function(input.kind)\n}\n",
    );
    let p = policies(&[bad, GOOD]);
    assert!(p.errors().is_empty());
    let findings = check_resources(
        &p,
        &revision(&[("a.yaml", VIRTUAL_SERVICE), ("b.yaml", NS_ROUTE)]),
    );
    assert_eq!(
        lines(&findings),
        vec![
            "rego:main.deny good error a.yaml:1:1 good",
            "rego:error rego-error error policies/undefined.rego:4:26 Rego error in \
             main.undefined.deny: could not find function no_such_function",
        ]
    );
}

#[test]
fn a_runtime_error_is_reported_once_at_the_rule() {
    let conflict = (
        "policies/conflict.rego",
        "package main\n\ndeny := \"a\" if input.kind\n\ndeny := \"b\" if input.kind\n",
    );
    let p = policies(&[conflict]);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    let r = revision(&[("a.yaml", VIRTUAL_SERVICE), ("b.yaml", NS_ROUTE)]);
    let findings = check_resources(&p, &r);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, "rego:error");
    assert_eq!(findings[0].location.file, "policies/conflict.rego");
    assert!(
        findings[0].message.starts_with("Rego error in main.deny: "),
        "{}",
        findings[0].message
    );
}

#[test]
fn a_slow_policy_is_stopped_by_the_time_limit() {
    let slow = (
        "policies/slow.rego",
        "package main\n\ndeny contains \"never\" if {\n  r := numbers.range(1, 20000)\n  some a in r\n  some b in r\n  a * b == -1\n}\n",
    );
    let options = Options {
        time_limit: Duration::from_millis(50),
        ..Options::default()
    };
    let p = policies_with(&[slow], &options);
    let r = revision(&[("a.yaml", VIRTUAL_SERVICE), ("b.yaml", NS_ROUTE)]);
    let started = std::time::Instant::now();
    let findings = check_resources(&p, &r);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].message.contains("time limit"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[0].location.file, "policies/slow.rego");
}

#[test]
fn oversized_and_empty_inputs_never_panic() {
    let huge = "#".repeat(MAX_POLICY_BYTES + 1);
    let p = policies(&[
        ("big.rego", &huge),
        ("empty.rego", ""),
        ("junk.rego", "\u{0}\u{fffd}{{{"),
    ]);
    let errors = lines(p.errors());
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("big.rego:1:1 policy file of"));
    assert!(check_resources(&p, &revision(&[("a.yaml", VIRTUAL_SERVICE)])).len() == 3);
    assert!(Policies::empty().is_empty());
}
