//! `--crd`: documents checked against the Gateway API v1.6.1 standard CRDs as published
//! (read from `../shared/upstream/gateway-api-v1.6.1`, or `MESHCD_GATEWAY_API_CRDS`), their
//! OpenAPI schemas and CEL rules evaluated as the API server evaluates them.

use meshcd_core::finding::Severity;
use meshcd_core::schema::{crd, CrdSet, Schemas};
use meshcd_core::{load::load_with, SourceFile};

use crate::upstream::gateway_api_crds;

fn crds() -> CrdSet {
    let (set, problems) = crd::load(&gateway_api_crds());
    assert!(problems.is_empty(), "the upstream CRDs load: {problems:#?}");
    set
}

/// The findings of one document checked against the upstream CRDs, as `CODE line:col message`.
fn check(yaml: &str) -> Vec<String> {
    let loaded = load_with(
        vec![SourceFile::new("route.yaml", yaml)],
        &Schemas::with_crds(crds()),
    );
    loaded
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} {} {}", f.rule, f.location.pos, f.message))
        .collect()
}

#[test]
fn every_upstream_kind_and_served_version_is_read() {
    let set = crds();
    let mut kinds: Vec<String> = set
        .kinds()
        .map(|k| format!("{} {}", k.kind, k.served_versions().join(",")))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            "GRPCRoute v1",
            "HTTPRoute v1,v1beta1",
            "ReferenceGrant v1,v1beta1",
            "TCPRoute v1",
            "TLSRoute v1",
            "UDPRoute v1",
        ]
    );
}

#[test]
fn a_valid_route_passes() {
    let findings = check(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: web}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [web.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /api}}]\n    filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier: {set: [{name: x-a, value: b}]}\n    backendRefs:\n    - {name: web-v1, port: 8080, weight: 90}\n    - {name: web-v2, port: 8080, weight: 10}\n",
    );
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn schema_violations_point_at_the_field() {
    let findings = check(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web}\nspec:\n  rules:\n  - backendRefs:\n    - {name: web-v1, port: 800080}\n    matches:\n    - method: NOTREAL\n",
    );
    assert_eq!(findings.len(), 2, "{findings:#?}");
    assert!(findings[0].starts_with("MC008 7:28 "), "{findings:#?}");
    assert!(findings[0].contains("at most 65535"), "{findings:#?}");
    assert!(findings[1].starts_with("MC008 9:15 "), "{findings:#?}");
}

#[test]
fn cel_rules_are_evaluated_after_defaults() {
    // No port on a Service backend: `group` and `kind` default to a core Service, for which the
    // CRD's rule requires a port.
    let findings = check(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web}\nspec:\n  rules:\n  - backendRefs:\n    - name: web-v1\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].starts_with("MC009 7:7 "), "{findings:#?}");
}

#[test]
fn a_version_the_crds_do_not_serve_is_an_error() {
    let findings = check(
        "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TLSRoute\nmetadata: {name: t}\nspec:\n  hostnames: [a.example.com]\n  rules: [{backendRefs: [{name: a, port: 443}]}]\n",
    );
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(findings[0].contains("not served"), "{findings:#?}");
}
