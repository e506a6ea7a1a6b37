//! The kinds meshcd applies to a Kubernetes cluster: their group, version and plural.

use kube::api::ApiResource;
use meshcd_core::model::Kind;

/// One kind served by a CustomResourceDefinition: `(kind, group, version, plural)`. All are
/// namespaced. The version is the one meshcd reads with (the API server converts).
const TABLE: &[(Kind, &str, &str, &str)] = &[
    (
        Kind::VirtualService,
        "networking.istio.io",
        "v1",
        "virtualservices",
    ),
    (
        Kind::DestinationRule,
        "networking.istio.io",
        "v1",
        "destinationrules",
    ),
    (
        Kind::ServiceEntry,
        "networking.istio.io",
        "v1",
        "serviceentries",
    ),
    (
        Kind::WorkloadEntry,
        "networking.istio.io",
        "v1",
        "workloadentries",
    ),
    (
        Kind::PeerAuthentication,
        "security.istio.io",
        "v1",
        "peerauthentications",
    ),
    (
        Kind::GwHttpRoute,
        "gateway.networking.k8s.io",
        "v1",
        "httproutes",
    ),
    (
        Kind::GwGrpcRoute,
        "gateway.networking.k8s.io",
        "v1",
        "grpcroutes",
    ),
    (
        Kind::ReferenceGrant,
        "gateway.networking.k8s.io",
        "v1beta1",
        "referencegrants",
    ),
    (
        Kind::GwTcpRoute,
        "gateway.networking.k8s.io",
        "v1alpha2",
        "tcproutes",
    ),
    (
        Kind::GwTlsRoute,
        "gateway.networking.k8s.io",
        "v1alpha2",
        "tlsroutes",
    ),
    (
        Kind::GwUdpRoute,
        "gateway.networking.k8s.io",
        "v1alpha2",
        "udproutes",
    ),
];

/// The group, version, kind and plural meshcd reads `kind` with; `None` for kinds it does not
/// manage in a Kubernetes cluster (networkservices, meshcd's own kinds, Service, GCPBackend).
pub fn api_resource(kind: Kind) -> Option<ApiResource> {
    let (_, group, version, plural) = TABLE.iter().find(|(k, ..)| *k == kind)?;
    Some(ApiResource {
        group: (*group).to_string(),
        version: (*version).to_string(),
        api_version: format!("{group}/{version}"),
        kind: kind.name().to_string(),
        plural: (*plural).to_string(),
    })
}

/// [`api_resource`] at another version of the same group: `api_version` is `group/version`
/// as a document states it. `None` when the kind is not managed or the group differs.
pub fn api_resource_at(kind: Kind, api_version: &str) -> Option<ApiResource> {
    let base = api_resource(kind)?;
    let (group, version) = api_version.rsplit_once('/')?;
    if group != base.group || version.is_empty() {
        return None;
    }
    Some(ApiResource {
        version: version.to_string(),
        api_version: api_version.to_string(),
        ..base
    })
}

/// Every kind [`api_resource`] knows, in [`Kind::ALL`] order.
pub fn cluster_kinds() -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|kind| api_resource(*kind).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshcd_core::model::Family;

    #[test]
    fn maps_istio_and_gateway_kinds_only() {
        for kind in Kind::ALL {
            let expected = matches!(kind.family(), Family::Istio | Family::GatewayApi);
            assert_eq!(api_resource(*kind).is_some(), expected, "{kind}");
        }
        let vs = api_resource(Kind::VirtualService).unwrap();
        assert_eq!(vs.api_version, "networking.istio.io/v1");
        assert_eq!(vs.plural, "virtualservices");
        assert_eq!(vs.kind, "VirtualService");
        let grant = api_resource(Kind::ReferenceGrant).unwrap();
        assert_eq!(grant.api_version, "gateway.networking.k8s.io/v1beta1");
        assert_eq!(api_resource(Kind::GwUdpRoute).unwrap().plural, "udproutes");
        assert_eq!(cluster_kinds().len(), 11);
    }

    #[test]
    fn the_table_agrees_with_the_kinds_api_versions() {
        for kind in cluster_kinds() {
            let resource = api_resource(kind).unwrap();
            assert_eq!(resource.api_version, kind.api_version(), "{kind}");
        }
    }

    #[test]
    fn other_versions_of_the_same_group() {
        let old = api_resource_at(Kind::VirtualService, "networking.istio.io/v1alpha3").unwrap();
        assert_eq!(old.version, "v1alpha3");
        assert_eq!(old.plural, "virtualservices");
        assert!(api_resource_at(Kind::VirtualService, "security.istio.io/v1").is_none());
        assert!(api_resource_at(Kind::NsHttpRoute, "networkservices.googleapis.com/v1").is_none());
    }
}
