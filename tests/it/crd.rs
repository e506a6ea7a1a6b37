//! `meshcd validate --crd`: the user's own CustomResourceDefinitions, their OpenAPI schema and
//! CEL rules evaluated as the API server would, on a real Git repository through the binary.

use crate::common::{meshcd, TestRepo};

/// A CRD of the user's own kind, with a bound, a default and two CEL rules (one pointing at a
/// sub-field, one a transition rule that a repository cannot evaluate).
const WIDGET_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            x-kubernetes-validations:
            - rule: "self.mode != 'fixed' || has(self.limit)"
              message: a fixed widget needs a limit
              fieldPath: .mode
            - rule: "self.size == oldSelf.size"
              message: size is immutable
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
              mode: {type: string, enum: [auto, fixed], default: fixed}
              limit: {type: integer}
"#;

fn widget(spec: &str) -> String {
    format!("apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w}}\nspec: {spec}\n")
}

fn validate_json(repo: &TestRepo, crd: &str) -> (i32, serde_json::Value) {
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let run = meshcd(
        &["validate", "--repo", path, "--crd", crd, "--format", "json"],
        cache.path(),
    );
    (run.code, run.json())
}

fn findings(json: &serde_json::Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{} {}",
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["line"],
                f["column"],
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_users_crd_checks_its_kind_and_its_cel_rules() {
    let crds = tempfile::tempdir().unwrap();
    std::fs::write(crds.path().join("widgets.yaml"), WIDGET_CRD).unwrap();
    let crd = crds.path().to_str().unwrap();
    let repo = TestRepo::new();
    repo.write(
        "routes/ok.yaml",
        &widget("{size: 3, mode: fixed, limit: 5}"),
    );
    repo.commit("valid widget");
    let (code, json) = validate_json(&repo, crd);
    assert_eq!(
        (code, findings(&json)),
        (0, vec![]),
        "a valid widget passes"
    );

    // `mode` defaults to `fixed`, so the rule needs `limit`; `size` is over its bound.
    repo.write("routes/ok.yaml", &widget("{size: 30}"));
    repo.commit("invalid widget");
    let (code, json) = validate_json(&repo, crd);
    assert_eq!(code, 1);
    let found = findings(&json);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("MC009 error 4:7 `spec.mode`: a fixed widget needs a limit"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("MC008 error 4:14 `spec.size` must be at most 10"),
        "{found:#?}"
    );
}

#[test]
fn without_the_crd_the_kind_is_unknown_and_a_broken_crd_is_an_error() {
    let repo = TestRepo::new();
    repo.write("routes/w.yaml", &widget("{size: 30}"));
    repo.commit("widget");
    let cache = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let run = meshcd(
        &["validate", "--repo", path, "--format", "json"],
        cache.path(),
    );
    assert_eq!(run.code, 0, "an unknown kind is only a warning");
    assert!(findings(&run.json())[0].starts_with("MC003 warning"));

    let crds = tempfile::tempdir().unwrap();
    let broken = WIDGET_CRD.replace("self.mode != 'fixed'", "self.mode !=");
    std::fs::write(crds.path().join("widgets.yaml"), broken).unwrap();
    let (code, json) = validate_json(&repo, crds.path().to_str().unwrap());
    assert_eq!(code, 1);
    let found = findings(&json);
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("MC008 error 20:21 CRD cannot be used")),
        "{found:#?}"
    );

    let empty = tempfile::tempdir().unwrap();
    let run = meshcd(
        &[
            "validate",
            "--repo",
            path,
            "--crd",
            empty.path().to_str().unwrap(),
        ],
        cache.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("holds no CustomResourceDefinition"),
        "{}",
        run.stderr
    );
}

/// `meshcd run` checks the same way when `meshcd.yaml` lists the CRDs (`crds:`): a commit the
/// user's CRD rejects is refused, one it accepts is applied, and an unusable `crds` entry stops
/// the daemon before it starts.
#[test]
fn the_daemon_checks_documents_against_the_crds_of_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let crd = dir.path().join("widget-crd.yaml");
    std::fs::write(&crd, WIDGET_CRD).unwrap();
    for (spec, code, word) in [
        ("{size: 11, mode: auto}", 1, "refused"),
        ("{size: 3, mode: auto}", 0, "applied"),
    ] {
        let repo = TestRepo::new();
        repo.write("widgets/w.yaml", &widget(spec));
        let commit = repo.commit("a widget");
        let config = dir.path().join("meshcd.yaml");
        std::fs::write(
            &config,
            format!(
                "repo: {}\nrev: main\nstateDir: {}\ncrds: [{}]\n",
                repo.path().display(),
                dir.path().join(format!("state-{code}")).display(),
                crd.display()
            ),
        )
        .unwrap();
        let run = meshcd(
            &["run", "--once", "--config", config.to_str().unwrap()],
            dir.path(),
        );
        assert_eq!(run.code, code, "{spec}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.starts_with(&format!("{word} {commit}")),
            "{}",
            run.stdout
        );
        if code == 1 {
            assert!(run.stdout.contains("MC008"), "{}", run.stdout);
        }
    }
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        format!(
            "repo: .\ncrds: [{}]\n",
            dir.path().join("missing").display()
        ),
    )
    .unwrap();
    let run = meshcd(
        &["run", "--once", "--config", broken.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("crds"), "{}", run.stderr);
}
