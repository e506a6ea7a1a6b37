//! End-to-end tests of Rego policies with the `meshcd` binary on real Git repositories: the
//! repository's `policies/` at the revision and `--policy` paths in `validate`, exceptions,
//! policy errors at their file and line, namespaces, and `meshcd policy test`.

use std::path::Path;

use crate::common::{meshcd, project_root, Run, TestRepo};

/// A clean networkservices route with an owner, and the Backends it names.
const ROUTE: &str = "\
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: web
hostnames:
- web.meshapps.internal
meshes:
- projects/my-project/locations/global/meshes/mesh
labels:
  team: web
rules:
- action:
    destinations:
    - serviceName: projects/my-project/locations/global/backendServices/web
";

const BACKEND: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: web
spec:
  endpoints: [{address: 127.0.0.1, port: 18081}]
";

/// A repository with the clean route, its Backend and the shipped policies.
fn repo_with_policies() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("routes/web.yaml", ROUTE)
        .write("meshcd/backends.yaml", BACKEND)
        .copy_from_project("policies", "policies");
    repo.commit("route and policies");
    repo
}

fn validate(repo: &TestRepo, extra: &[&str]) -> Run {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec!["validate", "--repo", repo.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    meshcd(&args, cache.path())
}

/// `(rule, file:line:col)` of each finding of `validate --format json`.
fn findings(run: &Run) -> Vec<(String, String)> {
    run.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                format!(
                    "{}:{}:{}",
                    f["file"].as_str().unwrap(),
                    f["line"],
                    f["column"]
                ),
            )
        })
        .collect()
}

#[test]
fn validate_passes_a_clean_route_under_the_shipped_policies() {
    let repo = repo_with_policies();
    let run = validate(&repo, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn validate_reports_rego_denials_at_the_resource_and_exits_1() {
    let repo = repo_with_policies();
    repo.write("routes/web.yaml", &ROUTE.replace("team: web", "app: web"));
    repo.commit("no owner");
    let text = validate(&repo, &[]);
    assert_eq!(text.code, 1, "{}{}", text.stdout, text.stderr);
    assert!(
        text.stdout.contains(
            "error[rego:main.owner_label.deny_missing_owner]: HttpRoute/web has no owner: \
             add a label owner or team\n  --> routes/web.yaml:9:3\n"
        ),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("^ require-owner-label"),
        "{}",
        text.stdout
    );
    let json = validate(&repo, &["--format", "json"]);
    assert_eq!(json.code, 1);
    assert_eq!(
        findings(&json),
        vec![(
            "rego:main.owner_label.deny_missing_owner".to_string(),
            "routes/web.yaml:9:3".to_string()
        )]
    );
    let finding = &json.json()["findings"][0];
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["name"], "require-owner-label");
    assert_eq!(finding["field"], "labels");

    // SARIF lists the Rego rule among the driver's rules, and the result points at it.
    let sarif = validate(&repo, &["--format", "sarif"]).json();
    let run = &sarif["runs"][0];
    let result = &run["results"][0];
    let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(
        run["tool"]["driver"]["rules"][index]["id"], result["ruleId"],
        "{sarif:#}"
    );
    assert_eq!(result["ruleId"], "rego:main.owner_label.deny_missing_owner");
}

#[test]
fn rego_warnings_pass_unless_warnings_are_denied() {
    let repo = repo_with_policies();
    repo.write(
        "policies/description.rego",
        "package main.description\n\nwarn contains \"routes should say what they do: add a description\" if {\n  input.route != null\n  not input.spec.description\n}\n",
    );
    repo.commit("warn on missing descriptions");
    let run = validate(&repo, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["warnings"], 1);
    assert_eq!(run.json()["findings"][0]["severity"], "warning");
    assert_eq!(
        run.json()["findings"][0]["rule"],
        "rego:main.description.warn"
    );
    assert_eq!(validate(&repo, &["--deny-warnings"]).code, 1);
}

#[test]
fn an_exception_silences_a_deny() {
    let repo = repo_with_policies();
    let legacy = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: legacy-store
  namespace: legacy
spec:
  rules:
  - backendRefs: [{name: web, port: 80}]
";
    repo.write("routes/legacy.yaml", legacy);
    repo.commit("an exempt route without owner");
    let run = validate(&repo, &["--format", "json"]);
    let rego: Vec<_> = findings(&run)
        .into_iter()
        .filter(|(rule, _)| rule.starts_with("rego:"))
        .collect();
    assert!(rego.is_empty(), "{rego:?}");
    // The same route under another name is not exempt.
    repo.write(
        "routes/legacy.yaml",
        &legacy.replace("legacy-store", "store"),
    );
    repo.commit("not exempt");
    let run = validate(&repo, &["--format", "json"]);
    assert_eq!(run.code, 1);
    assert!(findings(&run).contains(&(
        "rego:main.owner_label.deny_missing_owner".to_string(),
        "routes/legacy.yaml:4:3".to_string()
    )));
}

#[test]
fn a_syntax_error_is_reported_at_its_file_and_line() {
    let repo = repo_with_policies();
    repo.write(
        "policies/broken.rego",
        "package main.broken\n\ndeny contains msg if {\n  msg := sprintf(\"%s\", [input.kind]\n}\n",
    );
    repo.write("routes/web.yaml", &ROUTE.replace("team: web", "app: web"));
    repo.commit("a broken policy");
    let text = validate(&repo, &[]);
    assert_eq!(text.code, 1, "{}{}", text.stdout, text.stderr);
    assert!(
        text.stdout
            .contains("error[rego:error]: Rego syntax error: "),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("--> policies/broken.rego:4:"),
        "{}",
        text.stdout
    );
    // The other policies still run.
    assert!(text
        .stdout
        .contains("rego:main.owner_label.deny_missing_owner"));
    assert_eq!(text.stderr, "");
}

#[test]
fn policies_are_read_at_the_revision_not_the_working_copy() {
    let repo = repo_with_policies();
    repo.write(
        "policies/no-web.rego",
        "package main.no_web\n\ndeny contains \"no route may be called web\" if input.metadata.name == \"web\"\n",
    );
    repo.commit("forbid web");
    repo.tag("strict");
    repo.remove("policies/no-web.rego");
    repo.commit("allow web again");
    assert_eq!(validate(&repo, &[]).code, 0);
    assert_eq!(validate(&repo, &["--rev", "strict"]).code, 1);
    // Uncommitted policies are not read.
    repo.write(
        "policies/uncommitted.rego",
        "package main.u\ndeny contains \"x\" if true\n",
    );
    assert_eq!(validate(&repo, &[]).code, 0);
    // `--path` limits the route files, not the repository's policies.
    assert_eq!(
        validate(&repo, &["--rev", "strict", "--path", "routes"]).code,
        1
    );
}

#[test]
fn policy_paths_from_disk_add_policies() {
    let repo = repo_with_policies();
    let extra = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(extra.path().join("team")).unwrap();
    std::fs::write(
        extra.path().join("team/web.rego"),
        "package main.team\n\nwarn contains \"team policy\" if input.kind == \"HttpRoute\"\n",
    )
    .unwrap();
    std::fs::write(
        extra.path().join("team/web_test.rego"),
        "package main.team_test\n\ndeny contains \"test files are not evaluated\" if true\n",
    )
    .unwrap();
    let folder = extra.path().to_str().unwrap();
    let run = validate(&repo, &["--policy", folder, "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let rules = findings(&run);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].0, "rego:main.team.warn");
    let file = extra.path().join("team/web.rego");
    let run = validate(
        &repo,
        &["--policy", file.to_str().unwrap(), "--deny-warnings"],
    );
    assert_eq!(run.code, 1);
    let missing = validate(&repo, &["--policy", "/nonexistent/policies"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn namespaces_choose_the_packages() {
    let repo = repo_with_policies();
    repo.write(
        "policies/team.rego",
        "package team.routes\n\ndeny contains \"team namespace\" if input.metadata.name == \"web\"\n",
    );
    repo.commit("a policy outside the default namespaces");
    assert_eq!(validate(&repo, &[]).code, 0);
    assert_eq!(validate(&repo, &["--namespace", "team"]).code, 1);
    assert_eq!(validate(&repo, &["--all-namespaces"]).code, 1);
}

fn policy_test(paths: &[&Path], extra: &[&str]) -> Run {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec!["policy", "test"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend_from_slice(extra);
    meshcd(&args, cache.path())
}

#[test]
fn policy_test_passes_on_the_shipped_policies() {
    let run = policy_test(&[&project_root().join("policies")], &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.ends_with("\n19 passed, 0 failed\n"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("PASS  main.owner_label_test.test_exempt_route_is_excepted  "));
    let json = policy_test(
        &[&project_root().join("policies")],
        &["--format", "json", "--run", "owner"],
    );
    assert_eq!(json.code, 0);
    assert_eq!(json.json()["summary"]["passed"], 6);
}

#[test]
fn policy_test_fails_on_a_broken_test() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for file in ["require-owner-label.rego", "require-owner-label_test.rego"] {
        std::fs::copy(
            project_root().join("policies").join(file),
            policies.join(file),
        )
        .unwrap();
    }
    std::fs::write(
        policies.join("broken_test.rego"),
        "package main.broken_test\n\nimport data.main.owner_label\n\ntest_owner_is_optional if {\n  count(owner_label.deny_missing_owner) == 0 with input as {\"route\": {}, \"id\": \"x\", \"metadata\": {}}\n}\n",
    )
    .unwrap();
    let run = policy_test(&[&policies], &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("FAIL  main.broken_test.test_owner_is_optional  "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("\n6 passed, 1 failed\n"),
        "{}",
        run.stdout
    );

    // A syntax error fails the run too, reported at its line.
    std::fs::write(
        policies.join("broken_test.rego"),
        "package main.broken_test\n\ntest_x if {\n",
    )
    .unwrap();
    let run = policy_test(&[&policies], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[rego:error]"), "{}", run.stdout);

    // No tests at all, or a path that does not exist.
    let empty = tempfile::tempdir().unwrap();
    let run = policy_test(&[empty.path()], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no tests found"), "{}", run.stderr);
    assert_eq!(policy_test(&[&dir.path().join("missing")], &[]).code, 2);
}

/// Plan-level policies judge `meshcd plan` and `meshcd report`: moving 50 % of a route's
/// traffic in one commit breaks the shipped `max-traffic-shift` (20 %); 10 % does not.
#[test]
fn plan_policies_judge_plan_and_report() {
    let split = |a: u32, b: u32| {
        format!(
            "{ROUTE}      weight: {a}\n    - serviceName: projects/my-project/locations/global/backendServices/web-canary\n      weight: {b}\n"
        )
    };
    let repo = TestRepo::new();
    repo.write("routes/web.yaml", &split(100, 0))
        .write(
            "meshcd/backends.yaml",
            &format!(
                "{BACKEND}---\n{}",
                BACKEND.replace("name: web", "name: web-canary")
            ),
        )
        .copy_from_project("policies", "policies");
    repo.commit("web 100/0");
    repo.branch("base");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();

    repo.write("routes/web.yaml", &split(90, 10));
    repo.commit("web 90/10");
    let plan = meshcd(&["plan", "--repo", path, "--base", "base"], cache.path());
    assert_eq!(
        plan.code, 0,
        "a 10 % move is fine: {}{}",
        plan.stdout, plan.stderr
    );

    repo.write("routes/web.yaml", &split(50, 50));
    repo.commit("web 50/50");
    let plan = meshcd(&["plan", "--repo", path, "--base", "base"], cache.path());
    assert_eq!(plan.code, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("rego:main.plan.traffic_shift.deny")
            && plan
                .stdout
                .contains("moves 50 % of its traffic in one commit"),
        "{}",
        plan.stdout
    );
    let report = meshcd(&["report", "--repo", path, "--base", "base"], cache.path());
    assert_eq!(report.code, 1, "{}", report.stderr);
    assert!(
        report.stdout.starts_with("### ❌ 1 policy error blocks"),
        "{}",
        report.stdout
    );
}
