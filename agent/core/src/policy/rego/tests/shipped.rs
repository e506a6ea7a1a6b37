//! The policies shipped in `policies/`: their own tests pass, and each one passes and fails on
//! real route YAML and real plans.

use super::*;
use crate::policy::rego::{check_plan, check_resources, run_tests, TestOutcome};

const SHIPPED: [(&str, &str); 8] = [
    (
        "policies/require-owner-label.rego",
        include_str!("../../../../../../policies/require-owner-label.rego"),
    ),
    (
        "policies/require-owner-label_test.rego",
        include_str!("../../../../../../policies/require-owner-label_test.rego"),
    ),
    (
        "policies/no-external-mesh-without-timeout.rego",
        include_str!("../../../../../../policies/no-external-mesh-without-timeout.rego"),
    ),
    (
        "policies/no-external-mesh-without-timeout_test.rego",
        include_str!("../../../../../../policies/no-external-mesh-without-timeout_test.rego"),
    ),
    (
        "policies/max-traffic-shift.rego",
        include_str!("../../../../../../policies/max-traffic-shift.rego"),
    ),
    (
        "policies/max-traffic-shift_test.rego",
        include_str!("../../../../../../policies/max-traffic-shift_test.rego"),
    ),
    (
        "policies/prod-needs-rollout-policy.rego",
        include_str!("../../../../../../policies/prod-needs-rollout-policy.rego"),
    ),
    (
        "policies/prod-needs-rollout-policy_test.rego",
        include_str!("../../../../../../policies/prod-needs-rollout-policy_test.rego"),
    ),
];

/// The shipped policies without their tests, as `validate` reads them.
fn shipped() -> Policies {
    let files: Vec<(&str, &str)> = SHIPPED
        .iter()
        .copied()
        .filter(|(path, _)| !path.ends_with("_test.rego"))
        .collect();
    policies(&files)
}

/// `(code, file:line:col)` of each finding.
fn places(findings: &[crate::Finding]) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| (f.rule.to_string(), f.location.to_string()))
        .collect()
}

#[test]
fn the_shipped_policy_tests_pass() {
    let p = policies(&SHIPPED);
    assert!(p.errors().is_empty(), "{:#?}", p.errors());
    let results = run_tests(&p);
    assert_eq!(results.len(), 19);
    let failed: Vec<_> = results
        .iter()
        .filter(|r| r.outcome != TestOutcome::Pass)
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn a_failing_or_broken_test_is_reported() {
    let mut files = SHIPPED.to_vec();
    files.push((
        "policies/broken_test.rego",
        "package main.broken_test\n\nimport data.main.owner_label\n\n\
         test_wrong if {\n  count(owner_label.deny_missing_owner) == 5 with input as {}\n}\n\n\
         test_errors if {\n  x := {\"a\": 1}\n  y := x.a + \"b\"\n  y == 1\n}\n",
    ));
    let results = run_tests(&policies(&files));
    let broken: Vec<(&str, &TestOutcome)> = results
        .iter()
        .filter(|r| r.package == "main.broken_test")
        .map(|r| (r.name.as_str(), &r.outcome))
        .collect();
    assert_eq!(broken.len(), 2);
    assert_eq!(broken[0], ("test_wrong", &TestOutcome::Fail));
    assert_eq!(broken[1].0, "test_errors");
    assert!(
        matches!(broken[1].1, TestOutcome::Fail | TestOutcome::Error(_)),
        "{broken:?}"
    );
}

#[test]
fn require_owner_label() {
    let p = shipped();
    let no_owner = revision(&[("routes/ads.yaml", VIRTUAL_SERVICE)]);
    let findings = check_resources(&p, &no_owner);
    let owner: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "rego:main.owner_label.deny_missing_owner")
        .collect();
    assert_eq!(owner.len(), 1, "{findings:#?}");
    assert_eq!(owner[0].name, "require-owner-label");
    assert_eq!(owner[0].location.to_string(), "routes/ads.yaml:7:5");
    assert_eq!(
        owner[0].message,
        "VirtualService/ads/ads has no owner: add a label owner or team"
    );
    let with_team = VIRTUAL_SERVICE.replace("app: ads", "team: ads");
    let findings = check_resources(&p, &revision(&[("routes/ads.yaml", &with_team)]));
    assert!(findings.iter().all(|f| !f.rule.contains("owner_label")));
    // The exception in the policy exempts one route by id.
    let legacy = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: legacy-store, namespace: legacy}
spec:
  rules:
  - backendRefs: [{name: store, port: 80}]
";
    let findings = check_resources(&p, &revision(&[("legacy.yaml", legacy)]));
    assert!(findings.is_empty(), "{findings:#?}");
    let other = legacy.replace("legacy-store", "store");
    let findings = check_resources(&p, &revision(&[("store.yaml", &other)]));
    assert_eq!(
        places(&findings),
        vec![(
            "rego:main.owner_label.deny_missing_owner".to_string(),
            "store.yaml:3:11".to_string()
        )]
    );
}

#[test]
fn no_external_mesh_without_timeout() {
    let p = shipped();
    let with_team = VIRTUAL_SERVICE.replace("app: ads", "team: ads");
    let findings = check_resources(&p, &revision(&[("vs.yaml", &with_team)]));
    assert_eq!(
        places(&findings),
        vec![(
            "rego:main.external_mesh_timeout.deny".to_string(),
            "vs.yaml:12:5".to_string()
        )]
    );
    let with_timeout = format!("{with_team}    timeout: 5s\n");
    assert!(check_resources(&p, &revision(&[("vs.yaml", &with_timeout)])).is_empty());
    let in_cluster_only = with_team.replace("[mesh, external-mesh]", "[mesh]");
    assert!(check_resources(&p, &revision(&[("vs.yaml", &in_cluster_only)])).is_empty());
}

/// The plan findings of the shipped policies for `desired` against `applied`.
fn plan_findings(applied: &[(&str, &str)], desired: &[(&str, &str)]) -> Vec<(String, String)> {
    let p = shipped();
    let desired = revision(desired);
    let plan = crate::plan::plan(&desired, &revision(applied));
    places(&check_plan(&p, &desired, &plan))
}

fn weights(route: &str, old: u64, new: u64) -> String {
    route
        .replace("weight: 99", &format!("weight: {old}"))
        .replace("weight: 1\n", &format!("weight: {new}\n"))
}

const BY_NAME: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: web-canary}
spec:
  selector: {routes: [web]}
  steps: [5, 20]
";

#[test]
fn max_traffic_shift() {
    let applied = [("ns.yaml", NS_ROUTE), ("policy.yaml", BY_NAME)];
    let small = weights(NS_ROUTE, 80, 20);
    assert!(plan_findings(&applied, &[("ns.yaml", &small), ("policy.yaml", BY_NAME)]).is_empty());
    let large = weights(NS_ROUTE, 50, 50);
    assert_eq!(
        plan_findings(&applied, &[("ns.yaml", &large), ("policy.yaml", BY_NAME)]),
        vec![(
            "rego:main.plan.traffic_shift.deny".to_string(),
            "ns.yaml:1:1".to_string()
        )]
    );
    let allowed = large.replace(
        "team: web",
        "team: web\n  meshcd.dev/allow-large-shift: \"true\"",
    );
    assert!(plan_findings(&applied, &[("ns.yaml", &allowed), ("policy.yaml", BY_NAME)]).is_empty());
}

#[test]
fn prod_needs_rollout_policy() {
    let applied = [("ns.yaml", NS_ROUTE)];
    let moved = weights(NS_ROUTE, 90, 10);
    // Mesh `prod` and no RolloutPolicy: denied at the route.
    assert_eq!(
        plan_findings(&applied, &[("ns.yaml", &moved)]),
        vec![(
            "rego:main.plan.prod_rollout_policy.deny".to_string(),
            "ns.yaml:1:1".to_string()
        )]
    );
    assert!(plan_findings(&applied, &[("ns.yaml", &moved), ("policy.yaml", BY_NAME)]).is_empty());
    // A mesh labelled env: prod counts as production whatever its name.
    let staging = |route: &str| route.replace("meshes/prod", "meshes/main");
    let mesh = "apiVersion: networkservices.googleapis.com/v1\nkind: Mesh\nname: main\nlabels: {env: prod}\n";
    let applied = [("ns.yaml", staging(NS_ROUTE))];
    let applied: Vec<(&str, &str)> = applied.iter().map(|(p, t)| (*p, t.as_str())).collect();
    assert!(plan_findings(&applied, &[("ns.yaml", &staging(&moved))]).is_empty());
    assert_eq!(
        plan_findings(
            &applied,
            &[("ns.yaml", &staging(&moved)), ("mesh.yaml", mesh)]
        )
        .len(),
        1
    );
}
