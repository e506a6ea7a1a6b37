//! The valid corpus of `tests/corpus/v1/`: every field of each networkservices v1 kind, with
//! the apiVersion/kind header and in the header-less form `gcloud ... export` writes, and Cloud
//! Run services in their Knative and Admin API v2 forms. It must load as the kinds it holds,
//! with no error and no unknown field; the only findings are MC504 warnings on the
//! output-only fields of the exported files.

use std::collections::BTreeMap;
use std::path::Path;

use meshcd_core::model::cloud_run::Form;
use meshcd_core::model::{Kind, Spec};
use meshcd_core::{policy, Severity, SourceFile};

fn corpus() -> Vec<SourceFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/v1");
    let mut files = Vec::new();
    for folder in ["networkservices", "cloud-run"] {
        let dir = root.join(folder);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {dir:?}: {e}"))
            .map(|entry| entry.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let name = path.file_name().expect("a file name").to_string_lossy();
            files.push(SourceFile::new(format!("{folder}/{name}"), text));
        }
    }
    files
}

#[test]
fn the_v1_corpus_loads_with_only_output_only_warnings() {
    let loaded = meshcd_core::load::load(corpus());
    let findings = policy::check(&loaded);
    let unexpected: Vec<String> = findings
        .iter()
        .filter(|f| {
            f.severity == Severity::Error
                || f.rule != "MC504"
                || !f.location.file.ends_with("-export.yaml")
        })
        .map(ToString::to_string)
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    // Each exported file has createTime, updateTime and selfLink.
    assert_eq!(findings.len(), 6 * 3, "{findings:#?}");

    let mut kinds: BTreeMap<(Kind, bool), Vec<String>> = BTreeMap::new();
    for resource in &loaded.resources {
        kinds
            .entry((resource.id.kind, resource.explicit_header))
            .or_default()
            .push(resource.id.name.clone());
    }
    let names = |kind, header| kinds.get(&(kind, header)).cloned().unwrap_or_default();
    for (kind, with, without) in [
        (Kind::NsHttpRoute, "web", "shop"),
        (Kind::NsGrpcRoute, "payments", "ledger"),
        (Kind::NsTcpRoute, "postgres", "redis"),
        (Kind::NsTlsRoute, "secure", "vault"),
        (Kind::NsMesh, "mesh", "staging"),
        (Kind::NsGateway, "swg", "edge"),
    ] {
        assert_eq!(
            names(kind, true),
            vec![with.to_string()],
            "{kind} with a header"
        );
        assert_eq!(
            names(kind, false),
            vec![without.to_string()],
            "{kind} without"
        );
    }
    assert_eq!(names(Kind::CloudRunService, true), vec!["client", "cart"]);
    assert_eq!(names(Kind::CloudRunService, false), vec!["checkout"]);
}

#[test]
fn cloud_run_services_name_the_mesh_they_join() {
    let loaded = meshcd_core::load::load(corpus());
    let meshes: BTreeMap<&str, (Form, &str, String)> = loaded
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::CloudRunService(s) => {
                let mesh = s.mesh.as_ref().expect("every corpus service joins a mesh");
                Some((
                    r.id.name.as_str(),
                    (s.form, mesh.name.as_str(), mesh.path.to_string()),
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        meshes.get("client"),
        Some(&(
            Form::Knative,
            "projects/my-project/locations/global/meshes/mesh",
            "spec.template.metadata.annotations.run.googleapis.com/mesh".to_string()
        ))
    );
    assert_eq!(
        meshes.get("checkout"),
        Some(&(
            Form::AdminV2,
            "projects/my-project/locations/global/meshes/mesh",
            "template.serviceMesh.mesh".to_string()
        ))
    );
    assert_eq!(meshes.get("cart").map(|m| m.0), Some(Form::AdminV2));
    let client = loaded
        .resources
        .iter()
        .find(|r| r.id.name == "client")
        .expect("client");
    assert_eq!(client.id.namespace, "123456789012");
    assert_eq!(client.id.to_string(), "CloudRunService/123456789012/client");
}
