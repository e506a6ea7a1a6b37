//! What the targets that hold route *resources* share (Cloud Service Mesh, Kubernetes,
//! rendered files): the applied state is the resources the API holds, read back and loaded like
//! Git's, so [`meshcd_core::plan::plan`] diffs them field by field; a plan is carried out change
//! by change through a [`ResourceApi`]; a rollout step is the route's document with the step's
//! weights ([`meshcd_core::plan::weights::with_weights`]), sent as one update.
//!
//! Ownership: every resource meshcd creates carries a label saying so (the API's own
//! convention, see [`ResourceApi::managed_label`]), read back to find resources Git no longer
//! has; the label is removed before comparing, so it is never a difference.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use meshcd_core::model::{Kind, Resource, ResourceId};
use meshcd_core::plan::{Action, Change, Plan, WeightMap};
use meshcd_core::{Loaded, SourceFile};
use serde_json::Value as Json;

use super::{ApplyReport, Target, TargetError};

/// The label on networkservices resources meshcd created (Google Cloud label keys allow no
/// dots or slashes).
pub const GCP_MANAGED_LABEL: (&str, &str) = ("managed-by", "meshcd");

/// The label on Kubernetes resources meshcd created (the recommended label).
pub const KUBERNETES_MANAGED_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "meshcd");

/// A set of resources by id: what a revision asks a resource target to hold, or what it holds.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// The resources, by id.
    pub items: Arc<BTreeMap<ResourceId, Resource>>,
}

impl Resources {
    /// The resources of `loaded` that `manages` accepts (first of a duplicated id).
    pub fn of(loaded: &Loaded, manages: impl Fn(Kind) -> bool) -> Resources {
        let mut items = BTreeMap::new();
        for resource in &loaded.resources {
            if manages(resource.id.kind) {
                items
                    .entry(resource.id.clone())
                    .or_insert_with(|| resource.clone());
            }
        }
        Resources {
            items: Arc::new(items),
        }
    }

    /// The resource ids, in order.
    pub fn ids(&self) -> Vec<ResourceId> {
        self.items.keys().cloned().collect()
    }
}

/// The API of a resource target: read what it holds, create, update and delete one resource.
pub trait ResourceApi: Send + Sync + 'static {
    /// The target's id in the state store, e.g. `gcp:projects/p/locations/global`.
    fn id(&self) -> &str;

    /// One line for the status API.
    fn describe(&self) -> String {
        self.id().to_string()
    }

    /// Whether this API holds resources of `kind` (the others of a revision are not its
    /// business: a `kubernetes` target ignores networkservices routes).
    fn manages(&self, kind: Kind) -> bool;

    /// The label that marks resources of `kind` meshcd created, as `(key, value)` (labels
    /// live in `labels` at the top level for networkservices, `metadata.labels` otherwise).
    fn managed_label(&self, kind: Kind) -> (&'static str, &'static str) {
        if kind.family() == meshcd_core::model::Family::NetworkServices {
            GCP_MANAGED_LABEL
        } else {
            KUBERNETES_MANAGED_LABEL
        }
    }

    /// Whether resources meshcd created and Git no longer has are deleted.
    fn prunes(&self) -> bool;

    /// What the API holds: the resources `wanted` names that exist, and every resource that
    /// carries the managed label. Each as a document with `apiVersion` and `kind` (so it loads
    /// as the kind it is) and where it was read from, e.g. `gcp:…/httpRoutes/a`.
    fn read(
        &self,
        wanted: &[ResourceId],
    ) -> impl Future<Output = Result<Vec<(String, Json)>, TargetError>> + Send;

    /// Creates `resource` with the document `body` (Git's, weights of a rollout step put in,
    /// the managed label added).
    fn create(
        &self,
        resource: &Resource,
        body: &Json,
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Updates `resource` to `body`; `fields` are the top-level fields that differ (an update
    /// mask: the API changes only those).
    fn update(
        &self,
        resource: &Resource,
        body: &Json,
        fields: &[String],
    ) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// Deletes a resource (gone already is fine).
    fn delete(&self, id: &ResourceId) -> impl Future<Output = Result<(), TargetError>> + Send;

    /// The read document made comparable with Git's (the managed label is removed before this
    /// by [`ResourceTarget`]); the default leaves it as read.
    fn normalize(&self, document: Json, desired: Option<&Resource>) -> Json {
        let _ = desired;
        document
    }
}

/// A [`Target`] over a [`ResourceApi`].
pub struct ResourceTarget<A: ResourceApi> {
    api: A,
}

impl<A: ResourceApi> ResourceTarget<A> {
    /// Wraps an API.
    pub fn new(api: A) -> Self {
        Self { api }
    }

    /// The API.
    pub fn api(&self) -> &A {
        &self.api
    }

    /// The document to send for `resource`: its body with the managed label added.
    pub fn outgoing(&self, resource: &Resource) -> Json {
        let mut body = resource.body.clone();
        let (key, value) = self.api.managed_label(resource.id.kind);
        if key.is_empty() {
            return body;
        }
        if let Some(labels) = labels_mut(&mut body, resource.id.kind, true) {
            labels.insert(key.to_string(), Json::String(value.to_string()));
        }
        body
    }

    /// Loads read-back documents as resources, without the managed label; documents that do
    /// not load (a kind meshcd does not know, a shape it cannot read) are an error naming them.
    fn load_read(
        &self,
        documents: Vec<(String, Json)>,
        desired: &Resources,
    ) -> Result<Resources, TargetError> {
        let mut items = BTreeMap::new();
        for (origin, mut document) in documents {
            let kind = document_kind(&document);
            if let Some(kind) = kind {
                let (key, value) = self.api.managed_label(kind);
                strip_label(&mut document, kind, key, value);
            }
            let id_hint = kind
                .and_then(|kind| document_id(kind, &document))
                .and_then(|id| desired.items.get(&id));
            let document = self.api.normalize(document, id_hint);
            let text = serde_json::to_string(&document).unwrap_or_default();
            let loaded = meshcd_core::load(vec![SourceFile::new(origin.clone(), text)]);
            if let Some(error) = loaded
                .findings
                .iter()
                .find(|f| f.severity == meshcd_core::Severity::Error)
            {
                return Err(TargetError::Unreadable {
                    origin,
                    reason: error.message.clone(),
                });
            }
            for resource in loaded.resources {
                items.entry(resource.id.clone()).or_insert(resource);
            }
        }
        Ok(Resources {
            items: Arc::new(items),
        })
    }
}

impl<A: ResourceApi> Target for ResourceTarget<A> {
    type Config = Resources;
    type State = Resources;

    fn id(&self) -> &str {
        self.api.id()
    }

    fn describe(&self) -> String {
        self.api.describe()
    }

    fn desired(&self, loaded: &Loaded) -> Result<Resources, Vec<String>> {
        Ok(Resources::of(loaded, |kind| self.api.manages(kind)))
    }

    fn state_of(&self, config: &Resources) -> Resources {
        config.clone()
    }

    async fn applied(&self, desired: &Resources) -> Result<Resources, TargetError> {
        let documents = self.api.read(&desired.ids()).await?;
        self.load_read(documents, desired)
    }

    fn diff(&self, desired: &Resources, applied: &Resources, loaded: &Loaded) -> Plan {
        // RolloutPolicies (which decide how weight moves roll out) come from the revision.
        let policies = loaded
            .resources
            .iter()
            .filter(|r| r.id.kind.family() == meshcd_core::model::Family::Meshcd)
            .cloned();
        let wanted = Loaded {
            resources: desired.items.values().cloned().chain(policies).collect(),
            ..Loaded::default()
        };
        let held = Loaded {
            resources: applied.items.values().cloned().collect(),
            ..Loaded::default()
        };
        meshcd_core::plan::plan(&wanted, &held)
    }

    async fn apply(
        &self,
        config: &Resources,
        _applied: &Resources,
        plan: &Plan,
    ) -> Result<ApplyReport, TargetError> {
        let started = Instant::now();
        let mut operations = 0;
        for change in &plan.changes {
            let id = change.id();
            match change.action {
                Action::Delete => self.api.delete(&id).await?,
                Action::Create | Action::Update => {
                    let resource = config.items.get(&id).ok_or_else(|| TargetError::Rejected {
                        resource: id.to_string(),
                        reason: "is in the plan but not desired".into(),
                    })?;
                    let body = self.outgoing(resource);
                    if change.action == Action::Create {
                        self.api.create(resource, &body).await?;
                    } else {
                        self.api
                            .update(resource, &body, &top_fields(change))
                            .await?;
                    }
                }
            }
            operations += 1;
        }
        Ok(ApplyReport {
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
            operations,
            validated: false,
        })
    }

    fn set_weights(
        &self,
        config: &mut Resources,
        route: &ResourceId,
        splits: &[(String, Vec<String>)],
        weights: &WeightMap,
    ) -> Result<(), String> {
        let (id, resource) = config
            .items
            .get_key_value(route)
            .ok_or_else(|| format!("{route} is not in the revision"))?;
        let body = meshcd_core::plan::weights::with_weights(resource, splits, weights)?;
        let text = serde_json::to_string(&body).map_err(|e| e.to_string())?;
        let loaded = meshcd_core::load(vec![SourceFile::new(resource.file.clone(), text)]);
        let stepped = loaded
            .resources
            .into_iter()
            .find(|r| r.id == *id)
            .ok_or_else(|| format!("{route} with the step's weights does not load"))?;
        let id = id.clone();
        Arc::make_mut(&mut config.items).insert(id, stepped);
        Ok(())
    }

    fn prunes(&self) -> bool {
        self.api.prunes()
    }

    fn record(&self, config: &Resources) -> String {
        let ids: Vec<String> = config.items.keys().map(ToString::to_string).collect();
        serde_json::to_string(&ids).unwrap_or_default()
    }
}

/// The top-level fields an update changes (an update mask), from the change's field diff;
/// `metadata`/`spec` for Kubernetes-style kinds, `rules`, `labels`, … for networkservices.
pub fn top_fields(change: &Change) -> Vec<String> {
    let mut fields: Vec<String> = change
        .fields
        .iter()
        .filter_map(|f| {
            let path = f.path.to_string();
            let head = path.split(['.', '[']).next().unwrap_or("").to_string();
            (!head.is_empty()).then_some(head)
        })
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// The kind a read document says it is.
fn document_kind(document: &Json) -> Option<Kind> {
    let api_version = document.get("apiVersion")?.as_str()?;
    let kind = document.get("kind")?.as_str()?;
    Kind::from_api(api_version, kind)
}

/// The id a read document stands for: its kind, `metadata.namespace`, and its short name
/// (`metadata.name`, or the last segment of a networkservices `name`).
fn document_id(kind: Kind, document: &Json) -> Option<ResourceId> {
    let name = document
        .pointer("/metadata/name")
        .or_else(|| document.get("name"))
        .and_then(Json::as_str)?;
    let namespace = document
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .unwrap_or("");
    Some(ResourceId {
        kind,
        namespace: namespace.to_string(),
        name: name.rsplit('/').next().unwrap_or(name).to_string(),
    })
}

/// Removes the label `key: value` from a read document (and a labels map it leaves empty).
fn strip_label(document: &mut Json, kind: Kind, key: &str, value: &str) {
    if key.is_empty() {
        return;
    }
    let emptied = match labels_mut(document, kind, false) {
        Some(labels) if labels.get(key).and_then(Json::as_str) == Some(value) => {
            labels.remove(key);
            labels.is_empty()
        }
        _ => false,
    };
    if emptied {
        let parent = if kind.family() == meshcd_core::model::Family::NetworkServices {
            document.as_object_mut()
        } else {
            document.get_mut("metadata").and_then(Json::as_object_mut)
        };
        if let Some(parent) = parent {
            parent.remove("labels");
        }
    }
}

/// The labels map of a document (`labels` for networkservices, `metadata.labels` otherwise),
/// created when `create` is set.
fn labels_mut(
    document: &mut Json,
    kind: Kind,
    create: bool,
) -> Option<&mut serde_json::Map<String, Json>> {
    let parent = if kind.family() == meshcd_core::model::Family::NetworkServices {
        document.as_object_mut()?
    } else {
        let root = document.as_object_mut()?;
        if create && !root.contains_key("metadata") {
            root.insert("metadata".into(), Json::Object(Default::default()));
        }
        root.get_mut("metadata")?.as_object_mut()?
    };
    if create && !parent.contains_key("labels") {
        parent.insert("labels".into(), Json::Object(Default::default()));
    }
    let labels = parent.get_mut("labels")?.as_object_mut()?;
    Some(labels)
}
