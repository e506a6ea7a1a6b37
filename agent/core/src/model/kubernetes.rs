//! Kubernetes object metadata, and the core and GKE kinds meshcd reads for references.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The part of `metadata` meshcd uses.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// Name.
    pub name: Option<String>,
    /// Namespace (default `default` for namespaced kinds).
    pub namespace: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Service spec (only what reference checks need).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// Ports.
    pub ports: Vec<Value>,
    /// Selector.
    pub selector: BTreeMap<String, String>,
    /// Type.
    #[serde(rename = "type")]
    pub service_type: Option<String>,
}

/// GCPBackend spec (Cloud Service Mesh custom resource).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GcpBackendSpec {
    /// The backend service it stands for. GKE's examples spell the field `backendservice`;
    /// both spellings are read.
    #[serde(alias = "backendservice")]
    pub backend_service: Option<GcpBackendService>,
}

/// `spec.backendService` of a GCPBackend.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GcpBackendService {
    /// 1–49 characters: lowercase letters, digits, hyphens.
    pub name: Option<String>,
    /// `global` for the mesh.
    pub location: Option<String>,
    /// Project id, 6–30 characters.
    pub project: Option<String>,
}
