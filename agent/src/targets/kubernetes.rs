//! The `kubernetes` target: Istio and Gateway API resources applied to a cluster with
//! server-side apply (field manager `meshcd`), through [`crate::cluster::ClusterClient`].
//!
//! - **Applied state**: every resource Git names plus every resource of a managed kind that
//!   carries `app.kubernetes.io/managed-by: meshcd`, read with one list per kind (all
//!   namespaces, pages of 500): a kind Git uses is listed whole, the others by the label.
//! - **What is compared**: as server-side apply sees it, the fields meshcd applies. In maps the
//!   read object is cut down to the fields Git's document has plus the fields meshcd's field
//!   manager owns (`metadata.managedFields`), so fields other managers add are not differences;
//!   lists are meshcd's whole, so a field removed from Git inside one is a difference, while the
//!   values Gateway API CRDs fill in by default are not. Server metadata and `status` are
//!   ignored (see [`meshcd_core::plan::canonical`]).
//! - **Conflicts**: a field another manager owns with another value fails the apply with the
//!   server's message; `forceConflicts: true` takes the field over.
//! - **Prune**: resources meshcd created and Git no longer has are listed in every plan and
//!   deleted only with `prune: true`.

use meshcd_core::model::{Family, Kind, Resource, ResourceId};
use meshcd_core::plan::Action;
use serde_json::{Map, Value as Json};

use super::resources::{ResourceApi, ResourceTarget, KUBERNETES_MANAGED_LABEL};
use super::{Op, TargetError};
use crate::cluster::{api_resource, ClusterClient, ClusterOptions};
use crate::config::KubernetesTargetConfig;

/// The `kubernetes` target.
pub type KubernetesTarget = ResourceTarget<ClusterResources>;

/// The Istio and Gateway API resources of a cluster.
#[derive(Debug)]
pub struct ClusterResources {
    id: String,
    client: ClusterClient,
    prune: bool,
}

impl ClusterResources {
    /// Connects to the cluster of `target.kubernetes` (nothing is sent yet).
    pub async fn open(config: &KubernetesTargetConfig) -> Result<KubernetesTarget, TargetError> {
        let options = ClusterOptions {
            kubeconfig: config.kubeconfig.clone(),
            context: config.context.clone(),
            field_manager: config.field_manager.clone(),
            force_conflicts: config.force_conflicts,
        };
        let client = ClusterClient::connect(&options)
            .await
            .map_err(|source| TargetError::cluster(Op::Open, source))?;
        Ok(Self::with_client(client, config.prune))
    }

    /// The target over a client.
    pub fn with_client(client: ClusterClient, prune: bool) -> KubernetesTarget {
        ResourceTarget::new(ClusterResources {
            id: format!("kubernetes:{}", client.server()),
            client,
            prune,
        })
    }
}

impl ResourceApi for ClusterResources {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!(
            "{} (server-side apply as `{}`{}{})",
            self.id,
            self.client.field_manager(),
            if self.client.force_conflicts() {
                ", forcing conflicts"
            } else {
                ""
            },
            if self.prune { ", prune on" } else { "" }
        )
    }

    fn manages(&self, kind: Kind) -> bool {
        matches!(kind.family(), Family::Istio | Family::GatewayApi) && api_resource(kind).is_some()
    }

    fn prunes(&self) -> bool {
        self.prune
    }

    async fn read(&self, wanted: &[ResourceId]) -> Result<Vec<(String, Json)>, TargetError> {
        // One list per kind (pages of 500) rather than a get per resource: a kind Git uses is
        // listed whole and cut down to what Git names plus what meshcd labelled; the other
        // kinds only by the label.
        let wanted: std::collections::BTreeSet<(Kind, String, String)> = wanted
            .iter()
            .filter(|id| self.manages(id.kind))
            .map(|id| (id.kind, self.namespace_of(id), id.name.clone()))
            .collect();
        let (key, value) = KUBERNETES_MANAGED_LABEL;
        let mut documents: Vec<(String, Json)> = Vec::new();
        let kinds: Vec<Kind> = Kind::ALL
            .iter()
            .copied()
            .filter(|k| self.manages(*k))
            .collect();
        for kind in kinds {
            let used = wanted.iter().any(|(k, _, _)| *k == kind);
            let objects = if used {
                self.client.list_all(kind).await
            } else {
                self.client.list_managed(kind).await
            }
            .map_err(|source| TargetError::cluster(Op::Read(Some(kind)), source))?;
            for object in objects {
                let namespace = text(&object, "/metadata/namespace");
                let name = text(&object, "/metadata/name");
                let labelled = object
                    .pointer("/metadata/labels")
                    .and_then(|l| l.get(key))
                    .and_then(Json::as_str)
                    == Some(value);
                if labelled || wanted.contains(&(kind, namespace.clone(), name.clone())) {
                    documents.push((origin(kind, &namespace, &name), object));
                }
            }
        }
        Ok(documents)
    }

    async fn create(&self, resource: &Resource, body: &Json) -> Result<(), TargetError> {
        self.apply(resource, body, Action::Create).await
    }

    async fn update(
        &self,
        resource: &Resource,
        body: &Json,
        _fields: &[String],
    ) -> Result<(), TargetError> {
        // Server-side apply sends the whole intent; the server changes what differs.
        self.apply(resource, body, Action::Update).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), TargetError> {
        let namespace = self.namespace_of(id);
        self.client
            .delete(id.kind, &namespace, &id.name)
            .await
            .map_err(|source| {
                TargetError::cluster(
                    Op::Change {
                        action: Action::Delete,
                        id: id.clone(),
                        at: None,
                    },
                    source,
                )
            })
    }

    fn normalize(&self, document: Json, desired: Option<&Resource>) -> Json {
        let Some(desired) = desired else {
            return document;
        };
        let owned = owned_fields(&document, self.client.field_manager());
        project(document, &desired.body, owned.as_ref())
    }
}

impl ClusterResources {
    fn namespace_of(&self, id: &ResourceId) -> String {
        if id.namespace.is_empty() {
            self.client.default_namespace().to_string()
        } else {
            id.namespace.clone()
        }
    }

    async fn apply(
        &self,
        resource: &Resource,
        body: &Json,
        action: Action,
    ) -> Result<(), TargetError> {
        let mut body = body.clone();
        if let Some(metadata) = body.get_mut("metadata").and_then(Json::as_object_mut) {
            if !metadata.contains_key("namespace") {
                metadata.insert(
                    "namespace".into(),
                    Json::from(self.namespace_of(&resource.id)),
                );
            }
        }
        self.client
            .apply(resource.id.kind, &body)
            .await
            .map(|_| ())
            .map_err(|source| TargetError::cluster(Op::change(action, resource), source))
    }
}

/// `kubernetes:VirtualService/ns/name`.
fn origin(kind: Kind, namespace: &str, name: &str) -> String {
    format!("kubernetes:{kind}/{namespace}/{name}")
}

fn text(value: &Json, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string()
}

/// The `fieldsV1` set of the `Apply` entry of `manager` in `metadata.managedFields`.
fn owned_fields(document: &Json, manager: &str) -> Option<Json> {
    document
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|entry| {
            entry.get("manager").and_then(Json::as_str) == Some(manager)
                && entry.get("operation").and_then(Json::as_str) == Some("Apply")
        })?
        .get("fieldsV1")
        .cloned()
}

/// `applied` cut down to what meshcd's apply decides, compared with `desired`:
/// - in maps (where server-side apply tracks each field), the fields `desired` has or `owned`
///   (a `fieldsV1` set: `f:name` keys) lists: fields other managers added are not meshcd's;
/// - inside lists (atomic: meshcd owns the whole value), every field but the values a CRD
///   schema fills in by default ([`is_schema_default`]), so a field removed from Git is a
///   difference and a defaulted one is not.
///
/// Lists are compared element by element when their lengths agree, whole otherwise.
fn project(applied: Json, desired: &Json, owned: Option<&Json>) -> Json {
    project_in(applied, desired, owned, false)
}

fn project_in(applied: Json, desired: &Json, owned: Option<&Json>, in_list: bool) -> Json {
    match (applied, desired) {
        (Json::Object(applied), Json::Object(desired)) => {
            let mut kept = Map::new();
            for (key, value) in applied {
                let owned_child = owned.and_then(|o| o.get(format!("f:{key}")));
                match desired.get(&key) {
                    Some(wanted) => {
                        kept.insert(key, project_in(value, wanted, owned_child, in_list));
                    }
                    None if owned_child.is_some() => {
                        kept.insert(key, value);
                    }
                    None if in_list && !is_schema_default(&key, &value) => {
                        kept.insert(key, value);
                    }
                    None => {}
                }
            }
            Json::Object(kept)
        }
        (Json::Array(applied), Json::Array(desired)) if applied.len() == desired.len() => {
            Json::Array(
                applied
                    .into_iter()
                    .zip(desired)
                    .map(|(a, d)| project_in(a, d, None, true))
                    .collect(),
            )
        }
        (applied, _) => applied,
    }
}

/// Values the Gateway API CRD schemas set when a field is left out (`backendRefs[].group: ""`,
/// `kind: Service`, `weight: 1`; `parentRefs[].group`/`kind`; a match's `type: PathPrefix` or
/// `Exact`; a rule's `matches` of `/`). Istio's CRDs set none.
fn is_schema_default(key: &str, value: &Json) -> bool {
    match (key, value) {
        ("group", Json::String(g)) => g.is_empty() || g == "gateway.networking.k8s.io",
        ("kind", Json::String(k)) => k == "Service" || k == "Gateway",
        ("weight", v) => v.as_u64() == Some(1),
        ("type", Json::String(t)) => t == "PathPrefix" || t == "Exact",
        ("matches", v) => *v == serde_json::json!([{"path": {"type": "PathPrefix", "value": "/"}}]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_other_managers_fields_are_not_differences_but_removed_fields_are() {
        let applied = json!({
            "metadata": {"name": "r", "labels": {"from-a-controller": "x"}},
            "spec": {
                "rules": [{
                    "backendRefs": [{"name": "a", "port": 80, "weight": 1, "group": "", "kind": "Service"}],
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "timeout": {"request": "5s"}
                }],
                "addedByOther": true
            }
        });
        let desired = json!({
            "metadata": {"name": "r"},
            "spec": {"rules": [{"backendRefs": [{"name": "a", "port": 80}]}]}
        });
        let owned = json!({"f:spec": {"f:rules": {}}});
        let projected = project(applied, &desired, Some(&owned));
        assert_eq!(
            projected,
            json!({
                "metadata": {"name": "r"},
                "spec": {"rules": [{
                    "backendRefs": [{"name": "a", "port": 80}],
                    "timeout": {"request": "5s"}
                }]}
            }),
            "schema defaults and another manager's fields dropped; a field removed from Git kept"
        );
    }

    #[test]
    fn a_list_of_another_length_is_compared_whole() {
        let applied = json!({"spec": {"http": [{"route": 1, "x": 2}, {"route": 2}]}});
        let desired = json!({"spec": {"http": [{"route": 1}]}});
        let projected = project(applied.clone(), &desired, None);
        assert_eq!(projected, applied);
    }
}
