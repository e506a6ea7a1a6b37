//! `meshcd validate --format sarif` and `meshcd report --format sarif` on real Git repositories,
//! validated against the official OASIS SARIF 2.1.0 JSON schema (vendored in
//! `tests/schemas/sarif-schema-2.1.0.json`, see `tests/schemas/README.md` for its origin) with the
//! `jsonschema` crate, formats (`uri`, `uri-reference`) checked too.
//!
//! Besides the schema, each document is held to what GitHub code scanning expects of an upload,
//! twice: by Microsoft's SARIF multitool (`validate` with its GitHub rules, GH1001–GH2012, and
//! its SARIF rules; installed by `scripts/find-sarif-multitool.sh`, found through
//! `MESHCD_SARIF_MULTITOOL`), and by the same conditions checked here in Rust: every result names
//! a `ruleId` that `tool.driver.rules` defines, its `ruleIndex` points at that same rule, rule
//! ids are unique, every rule has a short and a full description, help and an absolute
//! `helpUri` (GH2012), every result a message (GH1015), `partialFingerprints` and a location
//! whose `uri` is relative (no scheme, no leading `/`, no `..`; GH1005, GH1006) to the
//! `%SRCROOT%` base, with `startLine >= 1` (and `startColumn >= 1`; GH1003), and no array is over
//! code scanning's limits (GH1004).
//!
//! Repositories: every file of `samples/invalid/` (all built-in rules firing at once), the
//! shipped Rego policies with a resource-policy denial and a Rego syntax error, and a pull
//! request whose plan a plan policy (`max-traffic-shift`) denies.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{meshcd, project_root, Run, TestRepo};
use serde_json::Value;

/// The pattern of the two `language` properties as the OASIS file writes it: its stray `]` is
/// a literal only under ECMA-262's Annex B (web-compatibility) grammar, and `jsonschema` checks a
/// schema's patterns against the strict grammar, so it refuses the file as it is.
const LANGUAGE_PATTERN: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
/// The same regular expression with that `]` escaped: it matches exactly the same strings.
const LANGUAGE_PATTERN_ESCAPED: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#;

/// The vendored schema (kept byte for byte), compiled once, with [`LANGUAGE_PATTERN`] escaped in
/// memory. meshcd never writes `language`, so this changes nothing it is checked against.
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = project_root().join("tests/schemas/sarif-schema-2.1.0.json");
        let text = std::fs::read_to_string(&path).expect("read the vendored SARIF schema");
        assert_eq!(
            text.matches(LANGUAGE_PATTERN).count(),
            2,
            "{LANGUAGE_PATTERN}"
        );
        let text = text.replace(LANGUAGE_PATTERN, LANGUAGE_PATTERN_ESCAPED);
        let schema: Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
        assert_eq!(
            schema["title"],
            "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
        );
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the SARIF schema does not compile: {e}"))
    })
}

/// The schema's complaints about a document, one line each (empty when it is valid).
fn schema_errors(document: &Value) -> Vec<String> {
    validator()
        .iter_errors(document)
        .map(|e| {
            format!(
                "{} at {} (schema {})",
                e,
                e.instance_path(),
                e.schema_path()
            )
        })
        .collect()
}

/// What GitHub code scanning would reject or mislocate, beyond the schema: the conditions of the
/// multitool's GitHub rules (named in each message), checked without it.
fn code_scanning_problems(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let runs = document["runs"].as_array().expect("runs");
    if runs.is_empty() || runs.len() > 20 {
        problems.push(format!("GH1013: {} runs", runs.len()));
    }
    let text_of = |value: &Value| value["text"].as_str().is_some_and(|t| !t.trim().is_empty());
    for (r, run) in runs.iter().enumerate() {
        if run["tool"]["driver"]["name"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            problems.push(format!("GH1018: run {r} has no tool.driver.name"));
        }
        let rules = run["tool"]["driver"]["rules"]
            .as_array()
            .expect("tool.driver.rules");
        let ids: Vec<&str> = rules
            .iter()
            .map(|rule| rule["id"].as_str().expect("rule id"))
            .collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        if unique.len() != ids.len() {
            problems.push(format!("run {r}: duplicate rule ids in {ids:?}"));
        }
        for (rule, id) in rules.iter().zip(&ids) {
            for field in ["shortDescription", "fullDescription", "help"] {
                if !text_of(&rule[field]) {
                    problems.push(format!("GH2012: rule {id} has no {field}.text"));
                }
            }
            if rule["help"]["markdown"].as_str().is_none_or(str::is_empty) {
                problems.push(format!("rule {id} has no help.markdown"));
            }
            if !rule["helpUri"]
                .as_str()
                .is_some_and(|uri| uri.starts_with("https://"))
            {
                problems.push(format!(
                    "rule {id}: helpUri {} is not absolute",
                    rule["helpUri"]
                ));
            }
        }
        let results = run["results"].as_array().expect("results");
        for (what, count) in [("rules", rules.len()), ("results", results.len())] {
            if count > 1000 {
                problems.push(format!("GH1004: run {r} has {count} {what}"));
            }
        }
        for (i, result) in results.iter().enumerate() {
            let at = format!("run {r} result {i}");
            let Some(rule_id) = result["ruleId"].as_str() else {
                problems.push(format!("{at}: no ruleId"));
                continue;
            };
            if !ids.contains(&rule_id) {
                problems.push(format!(
                    "{at}: ruleId {rule_id} is not in tool.driver.rules"
                ));
            }
            match result["ruleIndex"].as_u64() {
                Some(index) if ids.get(index as usize) == Some(&rule_id) => {}
                other => problems.push(format!(
                    "{at}: ruleIndex {other:?} does not point at rule {rule_id} ({:?})",
                    other.and_then(|i| ids.get(i as usize))
                )),
            }
            if !text_of(&result["message"]) {
                problems.push(format!("GH1007/GH1015: {at}: no message text"));
            }
            if result["partialFingerprints"]
                .as_object()
                .is_none_or(|f| f.is_empty() || f.values().any(|v| !v.is_string()))
            {
                problems.push(format!("{at}: no partialFingerprints"));
            }
            let locations = result["locations"].as_array().cloned().unwrap_or_default();
            if locations.is_empty() || locations.len() > 10 {
                problems.push(format!(
                    "GH1001/GH1004: {at}: {} locations",
                    locations.len()
                ));
            }
            for location in &locations {
                let physical = &location["physicalLocation"];
                let artifact = &physical["artifactLocation"];
                match artifact["uri"].as_str() {
                    Some(uri) if is_relative_path_uri(uri) => {}
                    other => problems.push(format!(
                        "GH1005/GH1006: {at}: uri {other:?} is not a relative path"
                    )),
                }
                match artifact["uriBaseId"].as_str() {
                    Some(base) if run["originalUriBaseIds"].get(base).is_some() => {}
                    other => problems.push(format!(
                        "{at}: uriBaseId {other:?} is not in run.originalUriBaseIds"
                    )),
                }
                let region = &physical["region"];
                if region["startLine"].as_u64().is_none_or(|line| line < 1) {
                    problems.push(format!(
                        "GH1003: {at}: startLine {} < 1",
                        region["startLine"]
                    ));
                }
                if !region["startColumn"].is_null()
                    && region["startColumn"].as_u64().is_none_or(|c| c < 1)
                {
                    problems.push(format!("{at}: startColumn {} < 1", region["startColumn"]));
                }
            }
        }
    }
    problems
}

/// The multitool's settings for GitHub code scanning: its GitHub rules GH1001–GH1007 are off
/// unless a configuration turns them on (as the `policies/github.config.xml` of
/// microsoft/sarif-sdk does); GH1011–GH2012 run with `--rule-kind Ghas`.
const MULTITOOL_GITHUB_CONFIG: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Properties>
  <Properties Key="GH1001.ProvideRequiredLocationProperties.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="GH1002.InlineThreadFlowLocations.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="GH1003.ProvideRequiredRegionProperties.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="GH1004.ReviewArraysThatExceedConfigurableDefaults.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="GH1005.LocationsMustBeRelativeUrisOrFilePaths.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="GH1006.ProvideCheckoutPath.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="GH1007.ProvideFullyFormattedMessageStrings.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
  <Properties Key="SARIF2007.ExpressPathsRelativeToRepoRoot.Options"><Property Key="RuleEnabled" Value="Error" /></Properties>
</Properties>
"#;

/// Microsoft's SARIF multitool: `MESHCD_SARIF_MULTITOOL`, else where
/// `scripts/find-sarif-multitool.sh` installs it.
fn multitool() -> PathBuf {
    let path = std::env::var_os("MESHCD_SARIF_MULTITOOL")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            project_root().join(
                ".venv/sarif-multitool/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool",
            )
        });
    assert!(
        path.is_file(),
        "these tests need Microsoft's SARIF multitool ({} is not a file): run \
         scripts/test.sh, or `. scripts/find-sarif-multitool.sh` (npm install of \
         @microsoft/sarif-multitool-linux into ./.venv), or set MESHCD_SARIF_MULTITOOL",
        path.display()
    );
    path
}

/// What the multitool's `validate` reports of a document at level error or warning, with its
/// GitHub rules and its SARIF rules: `(rule, message)`, one per problem.
fn multitool_problems(document: &Value) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("meshcd.sarif");
    let output = dir.path().join("validation.sarif");
    let config = dir.path().join("github.config.xml");
    std::fs::write(&input, serde_json::to_string_pretty(document).unwrap()).unwrap();
    std::fs::write(&config, MULTITOOL_GITHUB_CONFIG).unwrap();
    let run = Command::new(multitool())
        .arg("validate")
        .args(["--rule-kind", "Ghas;Sarif"])
        .arg("--config")
        .arg(&config)
        .args(["--level", "Error;Warning"])
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .output()
        .expect("run the SARIF multitool");
    let log = std::fs::read_to_string(&output).unwrap_or_else(|e| {
        panic!(
            "the multitool wrote no log ({e}): {}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let log: Value = serde_json::from_str(&log).expect("the multitool's log is JSON");
    let run = &log["runs"][0];
    // A broken configuration or input is a notification, not a result: count those too.
    let notifications = run["invocations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|invocation| {
            [
                "toolExecutionNotifications",
                "toolConfigurationNotifications",
            ]
            .into_iter()
            .flat_map(move |key| invocation[key].as_array().into_iter().flatten())
        })
        .filter(|n| n["level"] != "note")
        .map(|n| ("notification".to_string(), n["message"]["text"].to_string()));
    run["results"]
        .as_array()
        .into_iter()
        .flatten()
        // SARIF's default level is `warning`.
        .filter(|result| result["level"] != "note" && result["level"] != "none")
        .map(|result| {
            (
                result["ruleId"].as_str().unwrap_or("?").to_string(),
                result["message"].to_string(),
            )
        })
        .chain(notifications)
        .collect()
}

/// A repository-relative path as a URI reference: no scheme, not absolute, no `..`, no
/// backslashes, no empty segments.
fn is_relative_path_uri(uri: &str) -> bool {
    let scheme = uri
        .split_once(':')
        .is_some_and(|(before, _)| !before.contains('/'));
    !uri.is_empty()
        && !scheme
        && !uri.starts_with('/')
        && !uri.contains('\\')
        && uri.split('/').all(|s| !s.is_empty() && s != "..")
}

/// Parses stdout as SARIF and checks it against the schema and code scanning (the multitool's
/// GitHub rules, and the same conditions here).
fn checked(run: &Run) -> Value {
    let document = run.json();
    let errors = schema_errors(&document);
    assert!(
        errors.is_empty(),
        "SARIF fails the 2.1.0 schema:\n{}\n{}",
        errors.join("\n"),
        run.stdout
    );
    let problems = code_scanning_problems(&document);
    assert!(
        problems.is_empty(),
        "SARIF code scanning would not accept:\n{}\n{}",
        problems.join("\n"),
        run.stdout
    );
    let problems = multitool_problems(&document);
    assert!(
        problems.is_empty(),
        "the SARIF multitool (GitHub rules) refuses:\n{problems:#?}\n{}",
        run.stdout
    );
    assert_eq!(document["version"], "2.1.0");
    assert_eq!(document["runs"][0]["tool"]["driver"]["name"], "meshcd");
    document
}

fn run_meshcd(repo: &TestRepo, command: &str, extra: &[&str]) -> Run {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec![command, "--repo", repo.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    meshcd(&args, cache.path())
}

/// `(ruleId, uri:startLine)` of every result.
fn results(document: &Value) -> Vec<(String, String)> {
    document["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            let physical = &result["locations"][0]["physicalLocation"];
            (
                result["ruleId"].as_str().unwrap().to_string(),
                format!(
                    "{}:{}",
                    physical["artifactLocation"]["uri"].as_str().unwrap(),
                    physical["region"]["startLine"]
                ),
            )
        })
        .collect()
}

/// The rule `id` as the driver defines it.
fn rule<'a>(document: &'a Value, id: &str) -> &'a Value {
    document["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["id"] == id)
        .unwrap_or_else(|| panic!("no rule {id}"))
}

/// The rule codes that `samples/invalid/` file names state (`MC101-weight-negative.yaml`).
fn sample_codes() -> BTreeSet<String> {
    std::fs::read_dir(project_root().join("samples/invalid"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| name.split('-').next().unwrap().to_string())
        .collect()
}

/// A repository holding every file of `samples/invalid/` under `routes/`.
fn invalid_samples_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.copy_from_project("samples/invalid", "routes");
    repo.commit("every built-in rule firing");
    repo
}

#[test]
fn validate_sarif_of_the_invalid_samples_matches_the_schema() {
    let repo = invalid_samples_repo();
    let run = run_meshcd(&repo, "validate", &["--format", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let document = checked(&run);
    let found = results(&document);
    let fired: BTreeSet<String> = found.iter().map(|(rule, _)| rule.clone()).collect();
    let missing: Vec<_> = sample_codes().difference(&fired).cloned().collect();
    assert!(missing.is_empty(), "rules that did not fire: {missing:?}");
    // Every result is in the file that was committed, at a line of it.
    for (rule, at) in &found {
        let (file, line) = at.rsplit_once(':').unwrap();
        let text = std::fs::read_to_string(repo.path().join(file))
            .unwrap_or_else(|e| panic!("{rule} at {at}: {e}"));
        let line: usize = line.parse().unwrap();
        assert!(line <= text.lines().count().max(1), "{rule} at {at}");
    }
    // The driver lists every built-in rule, so code scanning can show its documentation.
    for builtin in meshcd_core::policy::rules::ALL {
        let defined = rule(&document, builtin.code);
        let docs = builtin.docs();
        assert_eq!(defined["name"], builtin.name);
        assert_eq!(defined["shortDescription"]["text"], builtin.summary);
        assert_eq!(defined["fullDescription"]["text"], docs.description());
        assert_eq!(defined["helpUri"], docs.url());
        let help = defined["help"]["markdown"].as_str().unwrap();
        assert!(help.contains(&docs.example), "{}: {help}", builtin.code);
        assert!(help.contains(&docs.url()), "{}: {help}", builtin.code);
    }
    // Errors and warnings keep their level.
    let levels: BTreeSet<&str> = document["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["level"].as_str().unwrap())
        .collect();
    assert!(levels.contains("error"), "{levels:?}");
    assert!(levels.is_subset(&BTreeSet::from(["error", "warning", "note"])));
}

#[test]
fn report_sarif_of_the_invalid_samples_matches_the_schema() {
    let repo = TestRepo::new();
    repo.write("README.md", "routes\n");
    repo.commit("empty");
    repo.branch("base");
    repo.copy_from_project("samples/invalid", "routes");
    repo.commit("every built-in rule firing");
    let run = run_meshcd(&repo, "report", &["--base", "base", "--format", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let document = checked(&run);
    let validate = checked(&run_meshcd(&repo, "validate", &["--format", "sarif"]));
    // The report's findings are the head's, the same as validate's.
    assert_eq!(results(&document), results(&validate));
}

#[test]
fn a_clean_repository_gives_valid_sarif_with_no_results() {
    let repo = TestRepo::new();
    repo.copy_from_project("samples/cloud-run-mesh", "mesh");
    repo.commit("clean sample");
    let run = run_meshcd(&repo, "validate", &["--format", "sarif"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let document = checked(&run);
    assert_eq!(document["runs"][0]["results"], serde_json::json!([]));
}

/// A networkservices route, its owner label and weights replaceable.
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
      weight: 90
    - serviceName: projects/my-project/locations/global/backendServices/web-green
      weight: 10
";

const BACKENDS: &str = "\
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: web
spec:
  endpoints: [{address: 127.0.0.1, port: 18081}]
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata:
  name: web-green
spec:
  endpoints: [{address: 127.0.0.1, port: 18082}]
";

/// The route, its Backends and the shipped policies, committed (as in `tests/it/rego.rs`).
fn repo_with_policies() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("routes/web.yaml", ROUTE)
        .write("meshcd/backends.yaml", BACKENDS)
        .copy_from_project("policies", "policies");
    repo.commit("route and policies");
    repo
}

#[test]
fn rego_findings_in_validate_sarif_match_the_schema() {
    let repo = repo_with_policies();
    repo.write("routes/web.yaml", &ROUTE.replace("team: web", "app: web"));
    repo.write(
        "policies/broken.rego",
        "package main.broken\n\ndeny contains msg if {\n  msg := sprintf(\"%s\", [input.kind]\n}\n",
    );
    repo.commit("no owner, and a broken policy");
    let run = run_meshcd(&repo, "validate", &["--format", "sarif"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let document = checked(&run);
    let found = results(&document);
    assert!(
        found.contains(&(
            "rego:main.owner_label.deny_missing_owner".to_string(),
            "routes/web.yaml:9".to_string()
        )),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(rule, at)| rule == "rego:error" && at.starts_with("policies/broken.rego:4")),
        "{found:?}"
    );
    let owner = rule(&document, "rego:main.owner_label.deny_missing_owner");
    assert_eq!(owner["name"], "require-owner-label");
    // A warning from a policy is a SARIF warning.
    repo.remove("policies/broken.rego");
    repo.write("routes/web.yaml", ROUTE);
    repo.write(
        "policies/description.rego",
        "package main.description\n\nwarn contains \"routes should say what they do: add a description\" if {\n  input.route != null\n  not input.spec.description\n}\n",
    );
    repo.commit("warn on missing descriptions");
    let run = run_meshcd(&repo, "validate", &["--format", "sarif"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let document = checked(&run);
    let result = &document["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "rego:main.description.warn");
    assert_eq!(result["level"], "warning");
}

#[test]
fn a_plan_policy_finding_in_report_sarif_matches_the_schema() {
    let repo = repo_with_policies();
    repo.branch("base");
    // 90/10 to 40/60 moves 50 % of the traffic; `max-traffic-shift` allows 20.
    repo.write(
        "routes/web.yaml",
        &ROUTE
            .replace("weight: 90", "weight: 40")
            .replace("weight: 10", "weight: 60"),
    );
    repo.commit("move half the traffic");
    let run = run_meshcd(&repo, "report", &["--base", "base", "--format", "sarif"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let document = checked(&run);
    assert_eq!(
        results(&document),
        vec![(
            "rego:main.plan.traffic_shift.deny".to_string(),
            "routes/web.yaml:1".to_string()
        )]
    );
    assert_eq!(
        rule(&document, "rego:main.plan.traffic_shift.deny")["name"],
        "max-traffic-shift"
    );
}

/// A way to break a document, and what it breaks.
type Break = (&'static str, fn(&mut Value));

/// The schema and the code-scanning checks are not vacuous: documents broken the ways a
/// renderer could break them are refused.
#[test]
fn broken_sarif_is_refused() {
    let repo = invalid_samples_repo();
    let run = run_meshcd(&repo, "validate", &["--format", "sarif"]);
    let good = checked(&run);

    let schema_breaks: Vec<Break> = vec![
        ("no version", |d| {
            d.as_object_mut().unwrap().remove("version");
        }),
        ("version 2.0.0", |d| d["version"] = "2.0.0".into()),
        ("unknown level", |d| {
            d["runs"][0]["results"][0]["level"] = "fatal".into()
        }),
        ("startLine 0", |d| {
            d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
                0.into()
        }),
        ("message without text", |d| {
            d["runs"][0]["results"][0]["message"] = serde_json::json!({})
        }),
        ("no driver name", |d| {
            d["runs"][0]["tool"]["driver"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }),
        ("unknown property", |d| {
            d["runs"][0]["results"][0]["file"] = "routes/x.yaml".into()
        }),
        ("a language that is no language code", |d| {
            d["runs"][0]["language"] = "1x".into()
        }),
        ("uri that is no URI reference", |d| {
            d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"] = "routes/a b%zz.yaml".into()
        }),
    ];
    for (what, break_it) in schema_breaks {
        let mut document = good.clone();
        break_it(&mut document);
        assert!(
            !schema_errors(&document).is_empty(),
            "the schema accepts SARIF with {what}"
        );
    }

    // The escaped `language` pattern still takes what the original takes.
    let mut document = good.clone();
    document["runs"][0]["language"] = "en-US".into();
    assert_eq!(schema_errors(&document), Vec::<String>::new());

    let scanning_breaks: Vec<Break> = vec![
        ("a ruleIndex off by one", |d| {
            let index = d["runs"][0]["results"][0]["ruleIndex"].as_u64().unwrap();
            d["runs"][0]["results"][0]["ruleIndex"] = (index + 1).into()
        }),
        ("an undefined ruleId", |d| {
            d["runs"][0]["results"][0]["ruleId"] = "MC999".into()
        }),
        ("an absolute uri", |d| {
            d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"] = "file:///tmp/routes/a.yaml".into()
        }),
        ("an absolute path", |d| {
            d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"] = "/tmp/routes/a.yaml".into()
        }),
        ("a duplicate rule", |d| {
            let first = d["runs"][0]["tool"]["driver"]["rules"][0].clone();
            d["runs"][0]["tool"]["driver"]["rules"]
                .as_array_mut()
                .unwrap()
                .push(first);
        }),
    ];
    for (what, break_it) in scanning_breaks {
        let mut document = good.clone();
        break_it(&mut document);
        assert!(
            !code_scanning_problems(&document).is_empty(),
            "the code-scanning checks accept SARIF with {what}"
        );
    }
}

/// The multitool's GitHub rules are on: one document broken the ways each rule forbids gets
/// each rule's complaint, and the checks in Rust refuse each break too.
#[test]
fn the_multitool_refuses_what_github_refuses() {
    let repo = invalid_samples_repo();
    let good = checked(&run_meshcd(&repo, "validate", &["--format", "sarif"]));
    let breaks: Vec<Break> = vec![
        ("GH1001", |d| {
            d["runs"][0]["results"][0]
                .as_object_mut()
                .unwrap()
                .remove("locations");
        }),
        ("GH1003", |d| {
            d["runs"][0]["results"][1]["locations"][0]["physicalLocation"]
                .as_object_mut()
                .unwrap()
                .remove("region");
        }),
        ("GH1005", |d| {
            let artifact = &mut d["runs"][0]["results"][2]["locations"][0]["physicalLocation"]
                ["artifactLocation"];
            artifact["uri"] = "https://example.com/routes/a.yaml".into();
            artifact.as_object_mut().unwrap().remove("uriBaseId");
        }),
        ("GH1006", |d| {
            let artifact = &mut d["runs"][0]["results"][3]["locations"][0]["physicalLocation"]
                ["artifactLocation"];
            artifact["uri"] = "file:///tmp/routes/a.yaml".into();
            artifact.as_object_mut().unwrap().remove("uriBaseId");
        }),
        ("GH1007", |d| {
            d["runs"][0]["results"][4]["message"] = serde_json::json!({"id": "default"})
        }),
        ("GH2012", |d| {
            d["runs"][0]["tool"]["driver"]["rules"][0]
                .as_object_mut()
                .unwrap()
                .remove("fullDescription");
        }),
        ("GH2012", |d| {
            d["runs"][0]["tool"]["driver"]["rules"][1]
                .as_object_mut()
                .unwrap()
                .remove("help");
        }),
    ];
    let mut document = good.clone();
    for (_, break_it) in &breaks {
        break_it(&mut document);
    }
    let reported: BTreeSet<String> = multitool_problems(&document)
        .into_iter()
        .map(|(rule, _)| rule)
        .collect();
    for (rule, break_it) in &breaks {
        assert!(
            reported.contains(*rule),
            "{rule} not reported: {reported:?}"
        );
        let mut one = good.clone();
        break_it(&mut one);
        assert!(
            !code_scanning_problems(&one).is_empty(),
            "the checks in Rust accept what {rule} refuses"
        );
    }
}
