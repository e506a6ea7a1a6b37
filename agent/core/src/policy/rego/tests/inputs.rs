//! The shapes of `input`: a resource as conftest users expect it, and the plan.

use serde_json::json;

use super::*;
use crate::policy::rego::{plan_input, resource_input};

#[test]
fn a_headerless_networkservices_route_gets_kind_metadata_and_spec() {
    let r = revision(&[("routes/web.yaml", NS_ROUTE)]);
    let input = resource_input(&r.resources[0], &r.resources);
    assert_eq!(input["kind"], "HttpRoute");
    assert_eq!(input["apiVersion"], "networkservices.googleapis.com/v1");
    assert_eq!(
        input["metadata"],
        json!({"name": "web", "labels": {"team": "web"}})
    );
    assert_eq!(input["spec"]["hostnames"], json!(["web.example.internal"]));
    assert_eq!(input["hostnames"], json!(["web.example.internal"]));
    assert_eq!(input["file"], "routes/web.yaml");
    assert_eq!(input["line"], 1);
    assert_eq!(input["family"], "networkservices");
    assert_eq!(input["id"], "HttpRoute/web");
    assert_eq!(input["route"]["meshes"], json!(["prod"]));
    assert_eq!(input["route"]["rolloutPolicy"], json!(null));
    assert_eq!(
        input["route"]["rules"][0]["backends"][1],
        json!({"key": "web-green", "name": "web-green", "namespace": "", "weight": 1, "share": 1})
    );
}

#[test]
fn an_istio_route_keeps_its_document_and_says_where_it_attaches() {
    let policy = "\
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: ads-canary
spec:
  selector:
    hostnames: [ads.ads.svc.cluster.local]
";
    let r = revision(&[("vs.yaml", VIRTUAL_SERVICE), ("policy.yaml", policy)]);
    let vs = r.resources.iter().find(|r| r.file == "vs.yaml").unwrap();
    let input = resource_input(vs, &r.resources);
    assert_eq!(input["metadata"]["labels"], json!({"app": "ads"}));
    assert_eq!(input["spec"]["gateways"], json!(["mesh", "external-mesh"]));
    assert_eq!(input["id"], "VirtualService/ads/ads");
    assert_eq!(input["route"]["meshes"], json!(["*"]));
    assert_eq!(input["route"]["externalMesh"], json!(true));
    assert_eq!(input["route"]["rolloutPolicy"], "ads-canary");
    let rp = r
        .resources
        .iter()
        .find(|r| r.file == "policy.yaml")
        .unwrap();
    assert_eq!(resource_input(rp, &r.resources)["route"], json!(null));
}

#[test]
fn the_plan_input_has_changes_summary_and_resources() {
    let applied = revision(&[("ns.yaml", NS_ROUTE)]);
    let desired = revision(&[(
        "ns.yaml",
        &NS_ROUTE
            .replace("99", "70")
            .replace("weight: 1\n", "weight: 30\n"),
    )]);
    let plan = crate::plan::plan(&desired, &applied);
    let input = plan_input(&plan, &desired);
    let change = &input["changes"][0];
    assert_eq!(change["action"], "update");
    assert_eq!(change["id"], "HttpRoute/web");
    assert_eq!(change["namespace"], "");
    assert_eq!(
        change["rollout"]["from"],
        json!({"web": 99, "web-green": 1})
    );
    assert_eq!(change["traffic"], json!({"shift": 29, "maxStep": 20}));
    assert_eq!(input["summary"]["rollouts"], 1);
    assert_eq!(input["resources"][0]["id"], "HttpRoute/web");
}
