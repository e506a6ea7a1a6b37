//! The `gcp` target: the Cloud Service Mesh service routing API
//! (`networkservices.googleapis.com/v1`) of one project and location, through
//! [`crate::gcp::GcpClient`] (tokens, retries, rate limit, long-running operations).
//!
//! - **Managed kinds**: HttpRoute, GrpcRoute, TcpRoute, TlsRoute. Meshes and Gateways are the
//!   platform team's: meshcd reads them to check that a route's `meshes` and `gateways` exist
//!   before creating it, and never writes them.
//! - **Applied state**: every route of the location that carries the label `managed-by: meshcd`
//!   or that Git names, read with list; output-only fields (`createTime`, `updateTime`,
//!   `selfLink`) and the label are ignored in the diff.
//! - **Updates** are PATCHes with an `updateMask` of the top-level fields that differ, so meshcd
//!   changes only what Git says (a rollout step is `updateMask=rules`). Routes Git no longer has
//!   are deleted only with `prune: true`.

use std::collections::BTreeSet;
use std::sync::Mutex;

use meshcd_core::model::{Kind, Resource, ResourceId};
use meshcd_core::plan::Action;
use serde_json::Value as Json;

use super::resources::{ResourceApi, ResourceTarget, GCP_MANAGED_LABEL};
use super::{Op, TargetError};
use crate::config::{GcpAuthConfig, GcpTargetConfig};
use crate::gcp::{AuthConfig, Collection, GcpClient, GcpOptions};

/// The `gcp` target.
pub type GcpTarget = ResourceTarget<GcpRoutes>;

/// The route collections of a project and location.
#[derive(Debug)]
pub struct GcpRoutes {
    id: String,
    client: GcpClient,
    prune: bool,
    /// Routes read without the managed label (adopted from an earlier tool): their next update
    /// also sets the label.
    unlabelled: Mutex<BTreeSet<ResourceId>>,
}

impl GcpRoutes {
    /// A client for `target.gcp`.
    pub fn open(config: &GcpTargetConfig) -> Result<GcpTarget, TargetError> {
        let auth = match &config.auth {
            GcpAuthConfig::Metadata { host } => AuthConfig::Metadata { host: host.clone() },
            GcpAuthConfig::ServiceAccountKey { path } => {
                AuthConfig::ServiceAccountKey { path: path.clone() }
            }
            GcpAuthConfig::AccessTokenEnv { variable } => AuthConfig::EnvToken {
                variable: variable.clone(),
            },
        };
        let mut options = GcpOptions::new(config.project.clone(), auth);
        options.location = config.location.clone();
        options.endpoint = config.endpoint.clone();
        options.requests_per_second = config.requests_per_second;
        options.operation_timeout = config.operation_timeout;
        let client =
            GcpClient::new(options).map_err(|source| TargetError::gcp(Op::Open, source))?;
        Ok(Self::with_client(client, config.prune))
    }

    /// The target over a client.
    pub fn with_client(client: GcpClient, prune: bool) -> GcpTarget {
        ResourceTarget::new(GcpRoutes {
            id: format!("gcp:{}", client.parent()),
            client,
            prune,
            unlabelled: Mutex::new(BTreeSet::new()),
        })
    }

    /// The client.
    pub fn client(&self) -> &GcpClient {
        &self.client
    }

    /// A route whose `name` is a full path of another project or location is refused: it is
    /// not this target's to write.
    fn check_parent(&self, resource: &Resource) -> Result<(), TargetError> {
        let name = resource
            .body
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or("");
        match other_parent(name, &self.client.parent()) {
            None => Ok(()),
            Some(parent) => Err(TargetError::Rejected {
                resource: located(resource),
                reason: format!(
                    "is named under {parent}, but this target writes {}",
                    self.client.parent()
                ),
            }),
        }
    }

    /// Checks that the meshes and gateways a route attaches to exist.
    async fn check_references(&self, resource: &Resource, op: &Op) -> Result<(), TargetError> {
        for (field, collection) in [
            ("meshes", Collection::Meshes),
            ("gateways", Collection::Gateways),
        ] {
            let names = resource
                .body
                .get(field)
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            for name in names.iter().filter_map(Json::as_str) {
                let short = name.rsplit('/').next().unwrap_or(name);
                if self
                    .client
                    .get(collection, short)
                    .await
                    .map_err(|source| TargetError::gcp(op.clone(), source))?
                    .is_none()
                {
                    return Err(TargetError::Rejected {
                        resource: located(resource),
                        reason: format!(
                            "attaches to {name}, which does not exist in {}",
                            self.client.parent()
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

impl ResourceApi for GcpRoutes {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "{} (Cloud Service Mesh routes{})",
            self.id,
            if self.prune { ", prune on" } else { "" }
        )
    }

    fn manages(&self, kind: Kind) -> bool {
        collection(kind).is_some()
    }

    fn prunes(&self) -> bool {
        self.prune
    }

    async fn read(&self, wanted: &[ResourceId]) -> Result<Vec<(String, Json)>, TargetError> {
        let (key, value) = GCP_MANAGED_LABEL;
        let mut documents = Vec::new();
        let mut unlabelled = BTreeSet::new();
        for kind in [
            Kind::NsHttpRoute,
            Kind::NsGrpcRoute,
            Kind::NsTcpRoute,
            Kind::NsTlsRoute,
        ] {
            let Some(c) = collection(kind) else { continue };
            let routes = self
                .client
                .list(c)
                .await
                .map_err(|source| TargetError::gcp(Op::Read(Some(kind)), source))?;
            for mut route in routes {
                let full = route.get("name").and_then(Json::as_str).unwrap_or("");
                let short = full.rsplit('/').next().unwrap_or(full).to_string();
                let id = ResourceId {
                    kind,
                    namespace: String::new(),
                    name: short,
                };
                let labelled = route
                    .pointer(&format!("/labels/{key}"))
                    .and_then(Json::as_str)
                    == Some(value);
                if !labelled && !wanted.contains(&id) {
                    continue;
                }
                if !labelled {
                    unlabelled.insert(id);
                }
                let origin = format!("gcp:{full}");
                if let Json::Object(map) = &mut route {
                    map.insert("apiVersion".into(), Json::from(kind.api_version()));
                    map.insert("kind".into(), Json::from(kind.name()));
                }
                documents.push((origin, route));
            }
        }
        *self.unlabelled.lock().unwrap_or_else(|e| e.into_inner()) = unlabelled;
        Ok(documents)
    }

    async fn create(&self, resource: &Resource, body: &Json) -> Result<(), TargetError> {
        let c = collection(resource.id.kind).ok_or_else(|| not_managed(resource))?;
        self.check_parent(resource)?;
        let op = Op::change(Action::Create, resource);
        self.check_references(resource, &op).await?;
        self.client
            .create(c, &resource.id.name, &outgoing(body))
            .await
            .map_err(|source| TargetError::gcp(op, source))
    }

    async fn update(
        &self,
        resource: &Resource,
        body: &Json,
        fields: &[String],
    ) -> Result<(), TargetError> {
        let c = collection(resource.id.kind).ok_or_else(|| not_managed(resource))?;
        self.check_parent(resource)?;
        let op = Op::change(Action::Update, resource);
        if fields.iter().any(|f| f == "meshes" || f == "gateways") {
            self.check_references(resource, &op).await?;
        }
        let mut mask: Vec<&str> = fields.iter().map(String::as_str).collect();
        let adopted = self
            .unlabelled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&resource.id);
        if adopted && !mask.contains(&"labels") {
            mask.push("labels");
        }
        if mask.is_empty() {
            return Ok(());
        }
        self.client
            .patch(c, &resource.id.name, &outgoing(body), &mask)
            .await
            .map_err(|source| TargetError::gcp(op, source))
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), TargetError> {
        let Some(c) = collection(id.kind) else {
            return Ok(());
        };
        self.client.delete(c, &id.name).await.map_err(|source| {
            TargetError::gcp(
                Op::Change {
                    action: Action::Delete,
                    id: id.clone(),
                    at: None,
                },
                source,
            )
        })
    }
}

/// The API collection of a managed kind.
pub fn collection(kind: Kind) -> Option<Collection> {
    Some(match kind {
        Kind::NsHttpRoute => Collection::HttpRoutes,
        Kind::NsGrpcRoute => Collection::GrpcRoutes,
        Kind::NsTcpRoute => Collection::TcpRoutes,
        Kind::NsTlsRoute => Collection::TlsRoutes,
        _ => return None,
    })
}

/// The `projects/P/locations/L` of a full route name when it is not `parent`; `None` for a
/// short name or one under `parent`.
fn other_parent(name: &str, parent: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["projects", project, "locations", location, _, _] => {
            let named = format!("projects/{project}/locations/{location}");
            (named != parent).then_some(named)
        }
        _ => None,
    }
}

/// The request body: Git's document without meshcd's header fields and the name (the URL
/// carries it).
fn outgoing(body: &Json) -> Json {
    let mut body = body.clone();
    if let Json::Object(map) = &mut body {
        for key in ["apiVersion", "kind", "metadata", "name"] {
            map.remove(key);
        }
    }
    body
}

fn not_managed(resource: &Resource) -> TargetError {
    TargetError::Rejected {
        resource: resource.id.to_string(),
        reason: "is not a route the gcp target manages".into(),
    }
}

/// `file:line: Kind/name`.
fn located(resource: &Resource) -> String {
    format!("{}:{}: {}", resource.file, resource.pos.line, resource.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_name_under_another_project_is_not_this_targets() {
        let parent = "projects/p/locations/global";
        assert_eq!(other_parent("route", parent), None);
        assert_eq!(
            other_parent("projects/p/locations/global/httpRoutes/route", parent),
            None
        );
        assert_eq!(
            other_parent("projects/q/locations/global/httpRoutes/route", parent),
            Some("projects/q/locations/global".to_string())
        );
    }

    #[test]
    fn the_request_body_has_no_header_and_no_name() {
        let body = serde_json::json!({
            "apiVersion": "networkservices.googleapis.com/v1", "kind": "HttpRoute",
            "name": "r", "hostnames": ["a"], "rules": []
        });
        assert_eq!(
            outgoing(&body),
            serde_json::json!({"hostnames": ["a"], "rules": []})
        );
    }
}
