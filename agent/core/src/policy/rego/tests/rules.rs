//! conftest semantics: which rules run, severities, messages, places, exceptions, namespaces.

use super::*;
use crate::policy::rego::{check_plan, check_resources};
use crate::Severity;

#[test]
fn deny_messages_point_at_the_resource() {
    let p = policies(&[(
        "policies/names.rego",
        "package main\n\ndeny contains msg if {\n  input.kind == \"VirtualService\"\n  msg := sprintf(\"%s in %s\", [input.metadata.name, input.file])\n}\n",
    )]);
    let r = revision(&[("routes/ads.yaml", VIRTUAL_SERVICE)]);
    let findings = check_resources(&p, &r);
    assert_eq!(
        lines(&findings),
        vec!["rego:main.deny names error routes/ads.yaml:1:1 ads in routes/ads.yaml"]
    );
}

#[test]
fn warn_is_a_warning_and_violation_an_error() {
    let p = policies(&[(
        "p.rego",
        "package main\n\nwarn contains \"w\" if input.kind == \"VirtualService\"\n\nviolation contains {\"msg\": \"v\", \"extra\": 1} if input.kind == \"VirtualService\"\n",
    )]);
    let findings = check_resources(&p, &revision(&[("a.yaml", VIRTUAL_SERVICE)]));
    let got: Vec<(&str, Severity, &str)> = findings
        .iter()
        .map(|f| (f.rule, f.severity, f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("rego:main.violation", Severity::Error, "v"),
            ("rego:main.warn", Severity::Warning, "w"),
        ]
    );
}

#[test]
fn a_message_field_points_at_that_field() {
    let p = policies(&[(
        "p.rego",
        "package main\n\ndeny contains {\"msg\": \"hosts\", \"field\": \"spec.hostnames[0]\"} if input.route != null\n\ndeny contains {\"msg\": \"weights\", \"field\": \"spec.http[0].route[1].weight\"} if input.kind == \"VirtualService\"\n",
    )]);
    let r = revision(&[("ns.yaml", NS_ROUTE), ("vs.yaml", VIRTUAL_SERVICE)]);
    let findings = check_resources(&p, &r);
    // networkservices fields sit at the document root: `spec.hostnames` is `hostnames`.
    assert_eq!(
        lines(&findings),
        vec![
            "rego:main.deny p error ns.yaml:2:13 hosts",
            "rego:main.deny p error vs.yaml:9:3 hosts",
            "rego:main.deny p error vs.yaml:16:15 weights",
        ]
    );
    assert_eq!(
        findings[2]
            .field
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("spec.http[0].route[1].weight")
    );
}

#[test]
fn exceptions_skip_the_rules_they_name() {
    let policy = "package main\n\
        deny contains \"plain\" if true\n\
        deny_owner contains \"owner\" if true\n\
        warn_owner contains \"owner warning\" if true\n\
        exception contains rules if {\n  input.metadata.name == \"ads\"\n  rules := [\"owner\"]\n}\n";
    let p = policies(&[("p.rego", policy)]);
    let r = revision(&[("a.yaml", VIRTUAL_SERVICE), ("b.yaml", NS_ROUTE)]);
    let messages: Vec<String> = check_resources(&p, &r)
        .iter()
        .map(|f| format!("{} {}", f.location.file, f.message))
        .collect();
    assert_eq!(
        messages,
        vec![
            "a.yaml plain",
            "b.yaml plain",
            "b.yaml owner",
            "b.yaml owner warning"
        ]
    );
    // The empty name is the plain rule; a full rule name works too.
    let p = policies(&[(
        "p.rego",
        "package main\ndeny contains \"plain\" if true\nwarn_x contains \"x\" if true\nexception contains \"\" if true\nexception contains \"warn_x\" if true\n",
    )]);
    assert!(check_resources(&p, &r).is_empty());
}

#[test]
fn only_packages_under_the_namespaces_run() {
    let files = [
        (
            "a.rego",
            "package main.routes\ndeny contains \"main.routes\" if true\n",
        ),
        (
            "b.rego",
            "package meshcd\ndeny contains \"meshcd\" if true\n",
        ),
        ("c.rego", "package other\ndeny contains \"other\" if true\n"),
        (
            "d.rego",
            "package mainframe\ndeny contains \"mainframe\" if true\n",
        ),
    ];
    let r = revision(&[("a.yaml", VIRTUAL_SERVICE)]);
    let run = |options: &Options| -> Vec<String> {
        check_resources(&policies_with(&files, options), &r)
            .into_iter()
            .map(|f| f.message)
            .collect()
    };
    assert_eq!(run(&Options::default()), vec!["main.routes", "meshcd"]);
    let only_other = Options {
        namespaces: vec!["other".into()],
        ..Options::default()
    };
    assert_eq!(run(&only_other), vec!["other"]);
    let all = Options {
        all_namespaces: true,
        ..Options::default()
    };
    assert_eq!(
        run(&all),
        vec!["main.routes", "mainframe", "meshcd", "other"]
    );
}

#[test]
fn rego_v0_policies_are_read_too() {
    let p = policies(&[(
        "old.rego",
        "package main\n\ndeny[msg] {\n  input.kind == \"VirtualService\"\n  msg := \"v0\"\n}\n",
    )]);
    assert!(p.errors().is_empty(), "{:?}", p.errors());
    let findings = check_resources(&p, &revision(&[("a.yaml", VIRTUAL_SERVICE)]));
    assert_eq!(findings[0].message, "v0");
}

#[test]
fn plan_packages_see_the_plan_not_resources() {
    let p = policies(&[(
        "policies/plan.rego",
        "package main.plan\n\n\
         deny contains {\"msg\": \"moves\", \"id\": c.id} if {\n  some c in input.changes\n  c.traffic.shift > 20\n}\n\n\
         warn contains sprintf(\"%d changes\", [count(input.changes)]) if count(input.changes) > 0\n",
    )]);
    let applied = revision(&[("ns.yaml", NS_ROUTE)]);
    let desired = revision(&[(
        "ns.yaml",
        &NS_ROUTE
            .replace("99", "50")
            .replace("weight: 1\n", "weight: 50\n"),
    )]);
    assert!(check_resources(&p, &desired).is_empty());
    let plan = crate::plan::plan(&desired, &applied);
    assert_eq!(
        lines(&check_plan(&p, &desired, &plan)),
        vec![
            // Named by id: at the route. Naming nothing: at the rule in the policy.
            "rego:main.plan.deny plan error ns.yaml:1:1 moves",
            "rego:main.plan.warn plan warning policies/plan.rego:8:1 1 changes",
        ]
    );
}

#[test]
fn test_files_are_not_evaluated_against_resources() {
    let p = policies(&[(
        "policies/a_test.rego",
        "package main\ndeny contains \"from a test file\" if true\ntest_x if true\n",
    )]);
    assert!(p.is_empty());
    assert_eq!(p.test_count(), 1);
    assert!(check_resources(&p, &revision(&[("a.yaml", VIRTUAL_SERVICE)])).is_empty());
}

#[test]
fn policies_can_move_between_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Policies>();
}
