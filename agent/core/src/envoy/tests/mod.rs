//! Tests of the Envoy target's pure half: translation, state normalization, plans.

mod diff;
mod http_filters;
mod layer4;
mod robustness;
mod state;
mod translation;

use serde_json::Value as Json;

use super::{translate, EnvoyConfig, EnvoySettings, TranslateError};
use crate::load::{load, Loaded};
use crate::source::SourceFile;

/// The cloud-run-mesh sample (networkservices HttpRoute and GrpcRoute, Backends, a policy).
pub(super) const CLOUD_RUN_MESH: &[(&str, &str)] = &[
    (
        "mesh.yaml",
        include_str!("../../../../../samples/cloud-run-mesh/mesh.yaml"),
    ),
    (
        "meshcd/backends.yaml",
        include_str!("../../../../../samples/cloud-run-mesh/meshcd/backends.yaml"),
    ),
    (
        "meshcd/rollout-policy.yaml",
        include_str!("../../../../../samples/cloud-run-mesh/meshcd/rollout-policy.yaml"),
    ),
    (
        "routes/payments-grpc-route.yaml",
        include_str!("../../../../../samples/cloud-run-mesh/routes/payments-grpc-route.yaml"),
    ),
    (
        "routes/route-target23.yaml",
        include_str!("../../../../../samples/cloud-run-mesh/routes/route-target23.yaml"),
    ),
    (
        "routes/target-route.yaml",
        include_str!("../../../../../samples/cloud-run-mesh/routes/target-route.yaml"),
    ),
];

/// The istio-external-mesh sample (VirtualService with subsets, DestinationRule; no Backends).
pub(super) const ISTIO_EXTERNAL_MESH: &[(&str, &str)] = &[
    (
        "destination-rule.yaml",
        include_str!("../../../../../samples/istio-external-mesh/destination-rule.yaml"),
    ),
    (
        "meshcd/rollout-policy.yaml",
        include_str!("../../../../../samples/istio-external-mesh/meshcd/rollout-policy.yaml"),
    ),
    (
        "peer-authentication.yaml",
        include_str!("../../../../../samples/istio-external-mesh/peer-authentication.yaml"),
    ),
    (
        "service.yaml",
        include_str!("../../../../../samples/istio-external-mesh/service.yaml"),
    ),
    (
        "virtual-service.yaml",
        include_str!("../../../../../samples/istio-external-mesh/virtual-service.yaml"),
    ),
];

/// The gateway-api-canary sample (HTTPRoute, Services, a label-selected policy; no Backends).
pub(super) const GATEWAY_API_CANARY: &[(&str, &str)] = &[
    (
        "httproute.yaml",
        include_str!("../../../../../samples/gateway-api-canary/httproute.yaml"),
    ),
    (
        "meshcd/rollout-policy.yaml",
        include_str!("../../../../../samples/gateway-api-canary/meshcd/rollout-policy.yaml"),
    ),
    (
        "services.yaml",
        include_str!("../../../../../samples/gateway-api-canary/services.yaml"),
    ),
];

/// Backends for the Istio sample's two subsets (the sample has none).
pub(super) const ISTIO_BACKENDS: &str = "apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata: {name: ads-v1}
spec:
  aliases: [ads.ads.svc.cluster.local/v1]
  endpoints: [{address: 127.0.0.1, port: 18091}]
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata: {name: ads-v2}
spec:
  aliases: [ads.ads.svc.cluster.local/v2]
  endpoints: [{address: localhost, port: 18092}]
";

/// Backends for the Gateway API sample's two Services (the sample has none).
pub(super) const GATEWAY_BACKENDS: &str = "apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata: {name: store}
spec:
  endpoints: [{address: 127.0.0.1, port: 18093}]
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata: {name: store-canary}
spec:
  aliases: [store/store-canary]
  endpoints: [{address: 127.0.0.1, port: 18094}]
";

/// Every translatable field at least once (see `fixtures/README.md`).
pub(super) const KITCHEN: &str = include_str!("../fixtures/kitchen.yaml");

/// Loads files; the revision must load without errors other than the Gateway API schema's:
/// some fixtures keep what the API server would reject (a Service backend without `port`, an
/// empty header value) to test how the translation copes with it.
pub(super) fn revision(files: &[(&str, &str)]) -> Loaded {
    use crate::finding::Severity;
    use crate::policy::rules::{openapi_schema, validation_rule};
    let loaded = load(
        files
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect(),
    );
    let schema = [openapi_schema::RULE.code, validation_rule::RULE.code];
    assert!(
        !loaded
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error && !schema.contains(&f.rule)),
        "{:#?}",
        loaded.findings
    );
    loaded
}

/// Loads files, adding one more.
pub(super) fn revision_with(files: &[(&str, &str)], extra: (&str, &str)) -> Loaded {
    let mut all = files.to_vec();
    all.push(extra);
    revision(&all)
}

/// Translates with the default settings, which must succeed.
pub(super) fn translated(loaded: &Loaded) -> EnvoyConfig {
    translate(loaded, &EnvoySettings::default())
        .unwrap_or_else(|errors| panic!("translation failed: {errors:#?}"))
}

/// Translates one YAML file with the default settings, which must succeed.
pub(super) fn translated_yaml(text: &str) -> EnvoyConfig {
    translated(&revision(&[("routes.yaml", text)]))
}

/// Translates, which must fail; the errors as `field: message`.
pub(super) fn errors_of(loaded: &Loaded) -> Vec<TranslateError> {
    match translate(loaded, &EnvoySettings::default()) {
        Ok(config) => panic!("translation succeeded: {config:#?}"),
        Err(errors) => errors,
    }
}

/// The virtual host of that name.
pub(super) fn vhost<'c>(config: &'c EnvoyConfig, name: &str) -> &'c Json {
    config.route_config["virtual_hosts"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == name))
        .unwrap_or_else(|| panic!("no virtual host {name}: {:#}", config.route_config))
}

/// The route of that name in a virtual host.
pub(super) fn route<'c>(config: &'c EnvoyConfig, vhost_name: &str, route: &str) -> &'c Json {
    vhost(config, vhost_name)["routes"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == route))
        .unwrap_or_else(|| panic!("no route {route} in {vhost_name}"))
}

/// The `(cluster, weight)` pairs of a route's weighted clusters.
pub(super) fn weights(route: &Json) -> Vec<(String, u64)> {
    route["route"]["weighted_clusters"]["clusters"]
        .as_array()
        .map(|clusters| {
            clusters
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["weight"].as_u64().unwrap_or(u64::MAX),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
