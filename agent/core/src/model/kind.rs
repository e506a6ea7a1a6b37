//! The kinds of resource meshcd understands, grouped by API family.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    /// Kubernetes-style kinds meshcd reads for references (Service, GCPBackend, and Cloud Run
    /// services, for the mesh they join).
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
    CloudRunService => (Kubernetes, "CloudRunService", "serving.knative.dev/v1", false),
}

impl Kind {
    /// The kind as its API spells it in `kind:`. The same as [`Kind::name`] except where two
    /// APIs share a spelling: a Cloud Run service is a Knative `Service`, named
    /// `CloudRunService` by meshcd to tell it from a Kubernetes `Service`.
    pub fn api_kind(self) -> &'static str {
        match self {
            Kind::CloudRunService => "Service",
            kind => kind.name(),
        }
    }

    /// Finds the kind for an `apiVersion` group and a `kind` name; `None` for kinds meshcd does
    /// not know. networkservices accepts both `HttpRoute` and `HTTPRoute` spellings; a Cloud
    /// Run service is a `Service` of `serving.knative.dev/v1` (what `gcloud run services
    /// describe --format export` writes) or of `run.googleapis.com/v1` or `/v2`.
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
            "serving.knative.dev" if version == "v1" && kind == "Service" => {
                Some(Kind::CloudRunService)
            }
            "run.googleapis.com" if matches!(version, "v1" | "v2") && kind == "Service" => {
                Some(Kind::CloudRunService)
            }
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
///
/// Written `Kind/namespace/name`, or `Kind/name` without a namespace (`HTTPRoute/web/web`,
/// `HttpRoute/checkout`): [`Display`](fmt::Display) writes that form, [`FromStr`] reads it
/// back, and serde uses it (a JSON string), so rollouts, the Envoy virtual hosts and the
/// daemon's API all name a route the same way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId {
    /// The resource's kind.
    pub kind: Kind,
    /// Kubernetes namespace; empty for networkservices and cluster-less kinds.
    pub namespace: String,
    /// The resource's name.
    pub name: String,
}

impl ResourceId {
    /// True when `text`, as a user types it, names this resource: the whole id
    /// (`HTTPRoute/web/web`), `namespace/name` (`web/web`) or the name alone (`web`).
    pub fn answers_to(&self, text: &str) -> bool {
        let full = self.to_string();
        full == text || full.ends_with(&format!("/{text}"))
    }
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

/// Why a text is not a [`ResourceId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseResourceIdError {
    /// Only a kind, or nothing.
    #[error(
        "`{0}` is not a resource id: it has no name (write `Kind/name` or `Kind/namespace/name`)"
    )]
    NoName(String),
    /// More than `Kind/namespace/name`.
    #[error(
        "`{0}` is not a resource id: it has more than three parts (write `Kind/name` or \
         `Kind/namespace/name`)"
    )]
    TooManyParts(String),
    /// `Kind//name` or `Kind/namespace/`.
    #[error("`{0}` is not a resource id: its namespace or name is empty")]
    EmptyPart(String),
    /// The first part names no kind meshcd knows (kinds are case-sensitive: `HTTPRoute` is
    /// Gateway API's, `HttpRoute` networkservices').
    #[error("`{text}` is not a resource id: `{kind}` is not a kind meshcd knows")]
    UnknownKind {
        /// The whole text.
        text: String,
        /// Its first part.
        kind: String,
    },
}

impl FromStr for ResourceId {
    type Err = ParseResourceIdError;

    /// Reads `Kind/name` or `Kind/namespace/name`, the form [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let (kind_name, namespace, name) = match parts.as_slice() {
            [kind, name] => (*kind, "", *name),
            [kind, namespace, name] => {
                if namespace.is_empty() {
                    return Err(ParseResourceIdError::EmptyPart(text.to_string()));
                }
                (*kind, *namespace, *name)
            }
            [_] => return Err(ParseResourceIdError::NoName(text.to_string())),
            _ => return Err(ParseResourceIdError::TooManyParts(text.to_string())),
        };
        if name.is_empty() {
            return Err(ParseResourceIdError::EmptyPart(text.to_string()));
        }
        let kind = Kind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == kind_name)
            .ok_or_else(|| ParseResourceIdError::UnknownKind {
                text: text.to_string(),
                kind: kind_name.to_string(),
            })?;
        Ok(ResourceId {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

impl Serialize for ResourceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn id(kind: Kind, namespace: &str, name: &str) -> ResourceId {
        ResourceId {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn ids_parse_from_their_display_form() {
        assert_eq!(
            "HTTPRoute/web/web".parse(),
            Ok(id(Kind::GwHttpRoute, "web", "web"))
        );
        assert_eq!(
            "HttpRoute/checkout".parse(),
            Ok(id(Kind::NsHttpRoute, "", "checkout"))
        );
        assert_eq!(
            "Backend/target".parse(),
            Ok(id(Kind::Backend, "", "target"))
        );
    }

    #[test]
    fn malformed_ids_say_what_is_wrong() {
        let error = |text: &str| text.parse::<ResourceId>().unwrap_err().to_string();
        assert_eq!(
            error("HttpRoute"),
            "`HttpRoute` is not a resource id: it has no name (write `Kind/name` or \
             `Kind/namespace/name`)"
        );
        assert_eq!(
            error(""),
            "`` is not a resource id: it has no name (write `Kind/name` or `Kind/namespace/name`)"
        );
        assert_eq!(
            error("HTTPRoute/a/b/c"),
            "`HTTPRoute/a/b/c` is not a resource id: it has more than three parts (write \
             `Kind/name` or `Kind/namespace/name`)"
        );
        assert_eq!(
            error("HttpRoute/"),
            "`HttpRoute/` is not a resource id: its namespace or name is empty"
        );
        assert_eq!(
            error("HTTPRoute//web"),
            "`HTTPRoute//web` is not a resource id: its namespace or name is empty"
        );
        assert_eq!(
            error("HttpRoutes/web"),
            "`HttpRoutes/web` is not a resource id: `HttpRoutes` is not a kind meshcd knows"
        );
    }

    #[test]
    fn ids_are_json_strings_and_refuse_malformed_ones() {
        let web = id(Kind::GwHttpRoute, "web", "web");
        let json = serde_json::to_string(&web).expect("serializes");
        assert_eq!(json, "\"HTTPRoute/web/web\"");
        assert_eq!(serde_json::from_str::<ResourceId>(&json).ok(), Some(web));
        let error = serde_json::from_str::<ResourceId>("\"Route/web\"").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`Route` is not a kind meshcd knows"),
            "{error}"
        );
    }

    #[test]
    fn users_name_an_id_in_full_by_namespace_and_name_or_by_name() {
        let web = id(Kind::GwHttpRoute, "shop", "web");
        for text in ["HTTPRoute/shop/web", "shop/web", "web"] {
            assert!(web.answers_to(text), "{text}");
        }
        for text in [
            "HTTPRoute/web",
            "other/web",
            "we",
            "HttpRoute/shop/web",
            "b",
        ] {
            assert!(!web.answers_to(text), "{text}");
        }
        let checkout = id(Kind::NsHttpRoute, "", "checkout");
        for text in ["HttpRoute/checkout", "checkout"] {
            assert!(checkout.answers_to(text), "{text}");
        }
        assert!(!checkout.answers_to("/checkout"));
        assert!(!checkout.answers_to("HTTPRoute/checkout"));
    }

    fn any_id() -> impl Strategy<Value = ResourceId> {
        (
            proptest::sample::select(Kind::ALL),
            "([a-z0-9][a-z0-9-]{0,8})?",
            "[a-z0-9][a-z0-9.-]{0,12}",
        )
            .prop_map(|(kind, namespace, name)| ResourceId {
                kind,
                namespace,
                name,
            })
    }

    proptest! {
        /// Parsing what `Display` wrote gives the id back, and so does serde.
        #[test]
        fn display_and_parse_go_both_ways(id in any_id()) {
            let text = id.to_string();
            prop_assert_eq!(text.parse::<ResourceId>(), Ok(id.clone()));
            prop_assert!(id.answers_to(&text));
            prop_assert!(id.answers_to(&id.name));
            let json = serde_json::to_string(&id).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<ResourceId>(&json).ok(), Some(id));
        }
    }

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
        assert_eq!(
            Kind::from_api("serving.knative.dev/v1", "Service"),
            Some(Kind::CloudRunService)
        );
        assert_eq!(
            Kind::from_api("run.googleapis.com/v2", "Service"),
            Some(Kind::CloudRunService)
        );
        for kind in Kind::ALL {
            assert_eq!(
                Kind::from_api(kind.api_version(), kind.api_kind()),
                Some(*kind),
                "{kind}"
            );
        }
    }
}
