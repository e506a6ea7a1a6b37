//! Cloud Run services, as far as the mesh is concerned: the mesh their revisions join.
//!
//! Two forms are read. The Knative one (`serving.knative.dev/v1` `Service`, as `gcloud run
//! services describe --format export` writes it and `gcloud run services replace` takes it)
//! names the mesh in the revision template's `run.googleapis.com/mesh` annotation. The Cloud
//! Run Admin API v2 one (top-level fields, `name: projects/P/locations/L/services/S`) names it
//! in `template.serviceMesh.mesh`. Every other field is the Cloud Run API's business and is
//! accepted as written.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::path::FieldPath;

/// The revision-template annotation that puts a Cloud Run service in a mesh (Knative form).
pub const MESH_ANNOTATION: &str = "run.googleapis.com/mesh";

/// The form a Cloud Run service was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `serving.knative.dev/v1` `Service`: `metadata` and `spec`.
    Knative,
    /// Cloud Run Admin API v2: top-level `name`, `template`, ...
    AdminV2,
}

/// What meshcd reads of a Cloud Run service.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudRunServiceSpec {
    /// The form it was written in.
    pub form: Form,
    /// The mesh its revisions join, if any.
    pub mesh: Option<MeshRef>,
}

/// A reference to a mesh, with where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshRef {
    /// `projects/P/locations/global/meshes/M`, as written.
    pub name: String,
    /// The field that holds it.
    pub path: FieldPath,
}

/// The Knative form's `spec`, as far as meshcd reads it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct KnativeSpec {
    /// The revision template.
    pub template: Option<KnativeTemplate>,
}

/// `spec.template` of the Knative form.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct KnativeTemplate {
    /// Revision metadata.
    pub metadata: Option<KnativeTemplateMeta>,
}

/// `spec.template.metadata` of the Knative form.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct KnativeTemplateMeta {
    /// Revision annotations, `run.googleapis.com/mesh` among them.
    pub annotations: BTreeMap<String, String>,
}

impl KnativeSpec {
    /// The typed spec: the mesh annotation of the revision template, if any.
    pub fn into_spec(self) -> CloudRunServiceSpec {
        let mesh = self
            .template
            .and_then(|t| t.metadata)
            .and_then(|m| m.annotations.get(MESH_ANNOTATION).cloned())
            .map(|name| MeshRef {
                name,
                path: FieldPath::root()
                    .key("spec")
                    .key("template")
                    .key("metadata")
                    .key("annotations")
                    .key(MESH_ANNOTATION),
            });
        CloudRunServiceSpec {
            form: Form::Knative,
            mesh,
        }
    }
}

/// The Admin API v2 form, as far as meshcd reads it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminV2Service {
    /// `projects/P/locations/L/services/S`, or the service ID.
    pub name: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The revision template.
    pub template: Option<AdminV2Template>,
}

/// `template` of the v2 form.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct AdminV2Template {
    /// Cloud Service Mesh settings.
    pub service_mesh: Option<ServiceMesh>,
}

/// `template.serviceMesh` of the v2 form.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceMesh {
    /// `projects/P/locations/global/meshes/M`.
    pub mesh: Option<String>,
}

impl AdminV2Service {
    /// The typed spec: `template.serviceMesh.mesh`, if any.
    pub fn to_spec(&self) -> CloudRunServiceSpec {
        let mesh = self
            .template
            .as_ref()
            .and_then(|t| t.service_mesh.as_ref())
            .and_then(|s| s.mesh.clone())
            .map(|name| MeshRef {
                name,
                path: FieldPath::root()
                    .key("template")
                    .key("serviceMesh")
                    .key("mesh"),
            });
        CloudRunServiceSpec {
            form: Form::AdminV2,
            mesh,
        }
    }
}
