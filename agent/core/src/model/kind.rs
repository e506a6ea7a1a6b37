//! The kinds of resource meshcd understands, grouped by API family.

use std::fmt;

use serde::Serialize;

/// An API family: each has its own weight semantics and validation rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Cloud Service Mesh service routing API, `networkservices.googleapis.com/v1`.
    NetworkServices,
    /// Istio `networking.istio.io` and `security.istio.io`.
    Istio,
    /// Kubernetes Gateway API, `gateway.networking.k8s.io`.
    GatewayApi,
    /// meshcd's own kinds, `meshcd.dev/v1alpha1`.
    Meshcd,
    /// Kubernetes core and GKE kinds meshcd reads for references (Service, GCPBackend).
    Kubernetes,
}

impl Family {
    /// Short name used in output (`networkservices`, `istio`, `gateway-api`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::NetworkServices => "networkservices",
            Family::Istio => "istio",
            Family::GatewayApi => "gateway-api",
            Family::Meshcd => "meshcd",
            Family::Kubernetes => "kubernetes",
        }
    }
}

impl Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! kinds {
    ($( $variant:ident => ($family:ident, $name:literal, $api:literal, $route:literal) ),* $(,)?) => {
        /// A resource kind meshcd understands.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $(
                #[doc = concat!("`", $api, "` ", $name)]
                $variant,
            )*
        }

        impl Kind {
            /// Every kind, in a fixed order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// The family the kind belongs to.
            pub fn family(self) -> Family {
                match self { $(Kind::$variant => Family::$family),* }
            }

            /// The kind's name as its API spells it.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name),* }
            }

            /// The canonical `apiVersion` for the kind.
            pub fn api_version(self) -> &'static str {
                match self { $(Kind::$variant => $api),* }
            }

            /// True for kinds that route traffic (they carry hosts, rules and weights).
            pub fn is_route(self) -> bool {
                match self { $(Kind::$variant => $route),* }
            }
        }
    };
}

kinds! {
    NsHttpRoute => (NetworkServices, "HttpRoute", "networkservices.googleapis.com/v1", true),
    NsGrpcRoute => (NetworkServices, "GrpcRoute", "networkservices.googleapis.com/v1", true),
    NsTcpRoute => (NetworkServices, "TcpRoute", "networkservices.googleapis.com/v1", true),
    NsTlsRoute => (NetworkServices, "TlsRoute", "networkservices.googleapis.com/v1", true),
    NsMesh => (NetworkServices, "Mesh", "networkservices.googleapis.com/v1", false),
    NsGateway => (NetworkServices, "Gateway", "networkservices.googleapis.com/v1", false),
    VirtualService => (Istio, "VirtualService", "networking.istio.io/v1", true),
    DestinationRule => (Istio, "DestinationRule", "networking.istio.io/v1", false),
    ServiceEntry => (Istio, "ServiceEntry", "networking.istio.io/v1", false),
    WorkloadEntry => (Istio, "WorkloadEntry", "networking.istio.io/v1", false),
    PeerAuthentication => (Istio, "PeerAuthentication", "security.istio.io/v1", false),
    GwHttpRoute => (GatewayApi, "HTTPRoute", "gateway.networking.k8s.io/v1", true),
    GwGrpcRoute => (GatewayApi, "GRPCRoute", "gateway.networking.k8s.io/v1", true),
    GwTcpRoute => (GatewayApi, "TCPRoute", "gateway.networking.k8s.io/v1alpha2", true),
    GwTlsRoute => (GatewayApi, "TLSRoute", "gateway.networking.k8s.io/v1alpha2", true),
    GwUdpRoute => (GatewayApi, "UDPRoute", "gateway.networking.k8s.io/v1alpha2", true),
    ReferenceGrant => (GatewayApi, "ReferenceGrant", "gateway.networking.k8s.io/v1beta1", false),
    RolloutPolicy => (Meshcd, "RolloutPolicy", "meshcd.dev/v1alpha1", false),
    Backend => (Meshcd, "Backend", "meshcd.dev/v1alpha1", false),
    ChangeWindow => (Meshcd, "ChangeWindow", "meshcd.dev/v1alpha1", false),
    Service => (Kubernetes, "Service", "v1", false),
    GcpBackend => (Kubernetes, "GCPBackend", "networking.gke.io/v1", false),
}

impl Kind {
    /// Finds the kind for an `apiVersion` group and a `kind` name; `None` for kinds meshcd does
    /// not know. networkservices accepts both `HttpRoute` and `HTTPRoute` spellings.
    pub fn from_api(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
        let k = kind.to_ascii_lowercase();
        match group {
            "networkservices.googleapis.com" if version == "v1" => match k.as_str() {
                "httproute" => Some(Kind::NsHttpRoute),
                "grpcroute" => Some(Kind::NsGrpcRoute),
                "tcproute" => Some(Kind::NsTcpRoute),
                "tlsroute" => Some(Kind::NsTlsRoute),
                "mesh" => Some(Kind::NsMesh),
                "gateway" => Some(Kind::NsGateway),
                _ => None,
            },
            "networking.istio.io" if matches!(version, "v1" | "v1beta1" | "v1alpha3") => match kind
            {
                "VirtualService" => Some(Kind::VirtualService),
                "DestinationRule" => Some(Kind::DestinationRule),
                "ServiceEntry" => Some(Kind::ServiceEntry),
                "WorkloadEntry" => Some(Kind::WorkloadEntry),
                _ => None,
            },
            "security.istio.io" if matches!(version, "v1" | "v1beta1") => {
                (kind == "PeerAuthentication").then_some(Kind::PeerAuthentication)
            }
            "gateway.networking.k8s.io"
                if matches!(version, "v1" | "v1beta1" | "v1alpha2" | "v1alpha3") =>
            {
                match kind {
                    "HTTPRoute" => Some(Kind::GwHttpRoute),
                    "GRPCRoute" => Some(Kind::GwGrpcRoute),
                    "TCPRoute" => Some(Kind::GwTcpRoute),
                    "TLSRoute" => Some(Kind::GwTlsRoute),
                    "UDPRoute" => Some(Kind::GwUdpRoute),
                    "ReferenceGrant" => Some(Kind::ReferenceGrant),
                    _ => None,
                }
            }
            "meshcd.dev" if version == "v1alpha1" => match kind {
                "RolloutPolicy" => Some(Kind::RolloutPolicy),
                "Backend" => Some(Kind::Backend),
                "ChangeWindow" => Some(Kind::ChangeWindow),
                _ => None,
            },
            "" if version == "v1" && kind == "Service" => Some(Kind::Service),
            "networking.gke.io" if kind == "GCPBackend" => Some(Kind::GcpBackend),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Identifies one resource: its kind, namespace (empty where the API has none) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ResourceId {
    /// The resource's kind.
    pub kind: Kind,
    /// Kubernetes namespace; empty for networkservices and cluster-less kinds.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The resource's name.
    pub name: String,
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_api_versions_of_every_family() {
        assert_eq!(
            Kind::from_api("networkservices.googleapis.com/v1", "HTTPRoute"),
            Some(Kind::NsHttpRoute)
        );
        assert_eq!(
            Kind::from_api("networkservices.googleapis.com/v1", "HttpRoute"),
            Some(Kind::NsHttpRoute)
        );
        assert_eq!(
            Kind::from_api("networking.istio.io/v1alpha3", "VirtualService"),
            Some(Kind::VirtualService)
        );
        assert_eq!(
            Kind::from_api("security.istio.io/v1beta1", "PeerAuthentication"),
            Some(Kind::PeerAuthentication)
        );
        assert_eq!(
            Kind::from_api("gateway.networking.k8s.io/v1", "HTTPRoute"),
            Some(Kind::GwHttpRoute)
        );
        assert_eq!(Kind::from_api("v1", "Service"), Some(Kind::Service));
        assert_eq!(Kind::from_api("apps/v1", "Deployment"), None);
        for kind in Kind::ALL {
            assert_eq!(
                Kind::from_api(kind.api_version(), kind.name()),
                Some(*kind),
                "{kind}"
            );
        }
    }
}
