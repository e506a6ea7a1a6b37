//! The typed model: one struct tree per API, apart from the YAML it came from.

pub mod cloud_run;
pub mod gateway_api;
pub mod istio;
pub mod kind;
pub mod kubernetes;
pub mod meshcd;
pub mod networkservices;
pub mod resource_name;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use kind::{Family, Kind, ResourceId};

use crate::finding::{Finding, Severity};
use crate::path::FieldPath;
use crate::source::{Location, Pos};
use crate::yaml::Node;

/// The typed content of a resource.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Spec {
    NsHttpRoute(networkservices::HttpRoute),
    NsGrpcRoute(networkservices::GrpcRoute),
    NsTcpRoute(networkservices::TcpRoute),
    NsTlsRoute(networkservices::TlsRoute),
    NsMesh(networkservices::Mesh),
    NsGateway(networkservices::Gateway),
    VirtualService(istio::VirtualServiceSpec),
    DestinationRule(istio::DestinationRuleSpec),
    ServiceEntry(istio::ServiceEntrySpec),
    WorkloadEntry(istio::WorkloadEntrySpec),
    PeerAuthentication(istio::PeerAuthenticationSpec),
    /// Any Gateway API route kind; the kind is in the resource id.
    GwRoute(gateway_api::RouteSpec),
    ReferenceGrant(gateway_api::ReferenceGrantSpec),
    RolloutPolicy(Box<meshcd::RolloutPolicySpec>),
    Backend(meshcd::BackendSpec),
    ChangeWindow(meshcd::ChangeWindowSpec),
    Service(kubernetes::ServiceSpec),
    GcpBackend(kubernetes::GcpBackendSpec),
    CloudRunService(cloud_run::CloudRunServiceSpec),
}

/// One resource loaded from a document, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Kind, namespace and name.
    pub id: ResourceId,
    /// File the resource was read from.
    pub file: String,
    /// Index of its document in the file.
    pub doc_index: usize,
    /// Where the document starts.
    pub pos: Pos,
    /// Labels (`metadata.labels`, or `labels` for networkservices).
    pub labels: BTreeMap<String, String>,
    /// The typed content.
    pub spec: Spec,
    /// The document as written, as JSON.
    pub body: serde_json::Value,
    /// The document's YAML tree, to locate fields.
    pub tree: Arc<Node>,
    /// Whether the document said what it is (`apiVersion`/`kind`) or was recognized by shape.
    pub explicit_header: bool,
}

impl Resource {
    /// The location of a field of this resource (its value, or the nearest existing parent).
    pub fn locate(&self, path: &FieldPath) -> Location {
        Location {
            file: self.file.clone(),
            pos: self.tree.locate(path, false),
        }
    }

    /// A finding about a field of this resource.
    pub fn finding(
        &self,
        rule: &crate::policy::Rule,
        severity: Severity,
        path: &FieldPath,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: rule.code,
            name: rule.name,
            severity,
            location: self.locate(path),
            field: (!path.is_root()).then(|| path.clone()),
            message: message.into(),
            snippet: None,
        }
    }

    /// The path under which the typed content sits in the document: `spec` for Kubernetes-style
    /// kinds, the root for networkservices and Cloud Run v2 services (whose fields are
    /// top-level).
    pub fn spec_path(&self) -> FieldPath {
        match (self.id.kind.family(), &self.spec) {
            (Family::NetworkServices, _) => FieldPath::root(),
            (_, Spec::CloudRunService(s)) if s.form == cloud_run::Form::AdminV2 => {
                FieldPath::root()
            }
            _ => FieldPath::root().key("spec"),
        }
    }
}
