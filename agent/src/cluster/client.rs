//! [`ClusterClient`]: get, list, server-side apply and delete the kinds of [`super::kinds`]
//! through kube-rs, connected from a kubeconfig or in-cluster.
//!
//! kube's own retry layer is switched off (it would retry 429/503/504 up to 15 times with
//! growing pauses, hiding a sick API server for minutes): callers retry what
//! [`ClusterError::retryable`] says is worth it, on their own schedule. Requests time out after
//! [`READ_TIMEOUT`] unless the configuration sets a read timeout.

use std::fmt;
use std::time::Duration;

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::Status;
use kube::Client;
use meshcd_core::model::{Kind, ResourceId};
use serde_json::{Map, Value};

use super::config::{load_config, ClusterOptions};
use super::kinds::{api_resource, api_resource_at};
use super::{chain, ClusterError, MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// How long a request may wait for the API server's answer, unless the configuration says.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Objects asked for per page when listing.
const PAGE_SIZE: u32 = 500;

/// Metadata the server sets; taken out of a document before it is applied (an apply carrying
/// `managedFields` is refused, and a `resourceVersion` would turn into a precondition).
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// A connection to one Kubernetes API server. Cheap to clone; the clones share connections.
#[derive(Clone)]
pub struct ClusterClient {
    client: Client,
    server: String,
    default_namespace: String,
    field_manager: String,
    force_conflicts: bool,
}

impl fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterClient")
            .field("server", &self.server)
            .field("default_namespace", &self.default_namespace)
            .field("field_manager", &self.field_manager)
            .field("force_conflicts", &self.force_conflicts)
            .finish_non_exhaustive()
    }
}

impl ClusterClient {
    /// Loads the configuration `options` name (a kubeconfig and context, or the in-cluster
    /// service account) and makes a client. Nothing is sent to the server yet.
    pub async fn connect(options: &ClusterOptions) -> Result<ClusterClient, ClusterError> {
        let mut config = load_config(options).await?;
        config.default_retry = false;
        if config.read_timeout.is_none() {
            config.read_timeout = Some(READ_TIMEOUT);
        }
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let default_namespace = config.default_namespace.clone();
        let client = Client::try_from(config).map_err(|e| {
            ClusterError::Config(format!("cannot make a client for {server}: {}", chain(&e)))
        })?;
        Ok(ClusterClient {
            client,
            server,
            default_namespace,
            field_manager: options.field_manager.clone(),
            force_conflicts: options.force_conflicts,
        })
    }

    /// The API server's URL.
    pub fn server(&self) -> String {
        self.server.clone()
    }

    /// The namespace of the context (`default` when it names none), used for documents
    /// without `metadata.namespace`.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// The server-side apply field manager.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// Whether applies take over fields other managers own.
    pub fn force_conflicts(&self) -> bool {
        self.force_conflicts
    }

    /// The same client (same connections) applying with `force` conflicts.
    pub fn with_force_conflicts(&self, force: bool) -> ClusterClient {
        ClusterClient {
            force_conflicts: force,
            ..self.clone()
        }
    }

    /// The object `kind` `namespace/name` as the server holds it (at the kind table's version),
    /// `None` when there is none.
    ///
    /// # Errors
    /// [`ClusterError::KindNotInstalled`] when the cluster does not serve the kind.
    pub async fn get(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, ClusterError> {
        let resource = describe(kind, namespace, name);
        let api_resource = supported(kind)?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource);
        match api.get(name).await {
            Ok(object) => to_json(object, &api_resource, &resource).map(Some),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                // An object that does not exist is answered with a NotFound naming it; anything
                // else (a bare 404 page, a NotFound without details) may be a missing CRD.
                if names_object(&status, name) || !self.missing(&api_resource, namespace).await? {
                    Ok(None)
                } else {
                    Err(not_installed(&api_resource))
                }
            }
            Err(e) => Err(self.error(&resource, e)),
        }
    }

    /// Every object of `kind`, in all namespaces, labelled
    /// [`MANAGED_BY_LABEL`]`=`[`MANAGED_BY_VALUE`]; empty when the cluster does not serve the
    /// kind.
    pub async fn list_managed(&self, kind: Kind) -> Result<Vec<Value>, ClusterError> {
        self.list(
            kind,
            Some(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")),
        )
        .await
    }

    /// Every object of `kind`, in all namespaces (one request a page of 500, where a get per
    /// object would be one request each); empty when the cluster does not serve the kind.
    pub async fn list_all(&self, kind: Kind) -> Result<Vec<Value>, ClusterError> {
        self.list(kind, None).await
    }

    async fn list(&self, kind: Kind, labels: Option<&str>) -> Result<Vec<Value>, ClusterError> {
        let api_resource = supported(kind)?;
        let resource = format!("{kind} (all namespaces)");
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &api_resource);
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(labels) = labels {
            params = params.labels(labels);
        }
        let mut objects = Vec::new();
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 404 => return Ok(Vec::new()),
                Err(e) => return Err(self.error(&resource, e)),
            };
            for object in page.items {
                objects.push(to_json(object, &api_resource, &resource)?);
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params.continue_token = Some(token),
                _ => return Ok(objects),
            }
        }
    }

    /// Server-side applies `body` (a `kind` document as Git holds it, at the apiVersion it
    /// states) under the client's field manager, with the managed-by label added and
    /// server-set metadata and `status` left out. Returns the object the server then holds.
    ///
    /// A document without `metadata.namespace` goes to [`Self::default_namespace`].
    ///
    /// # Errors
    /// [`ClusterError::Conflict`] when another field manager owns a field this apply would
    /// change (unless conflicts are forced), [`ClusterError::KindNotInstalled`] when the cluster
    /// does not serve the kind at that version, [`ClusterError::Invalid`] for a document that
    /// is not a `kind` with a name.
    pub async fn apply(&self, kind: Kind, body: &Value) -> Result<Value, ClusterError> {
        let target = self.target(kind, body)?;
        let sent = prepare(body, &target.namespace).map_err(|message| ClusterError::Invalid {
            resource: target.resource.clone(),
            message,
        })?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &target.namespace, &target.api_resource);
        let mut params = PatchParams::apply(&self.field_manager);
        if self.force_conflicts {
            params = params.force();
        }
        match api.patch(&target.name, &params, &Patch::Apply(&sent)).await {
            Ok(object) => to_json(object, &target.api_resource, &target.resource),
            Err(kube::Error::Api(status)) if status.code == 409 => Err(ClusterError::Conflict {
                resource: target.resource,
                message: conflict_message(&status),
            }),
            Err(kube::Error::Api(status))
                if status.code == 404
                    && status
                        .details
                        .as_ref()
                        .is_none_or(|d| d.kind != "namespaces") =>
            {
                Err(not_installed(&target.api_resource))
            }
            Err(e) => Err(self.error(&target.resource, e)),
        }
    }

    /// Deletes `kind` `namespace/name`; an object that is not there (or a kind the cluster
    /// does not serve) is fine.
    pub async fn delete(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<(), ClusterError> {
        let resource = describe(kind, namespace, name);
        let api_resource = supported(kind)?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.error(&resource, e)),
        }
    }

    /// True when the collection `namespace`/`api_resource` answers 404: the kind is not served.
    async fn missing(
        &self,
        api_resource: &ApiResource,
        namespace: &str,
    ) -> Result<bool, ClusterError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, api_resource);
        match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => Ok(false),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(true),
            Err(e) => Err(self.error(&format!("{} in {namespace}", api_resource.kind), e)),
        }
    }

    /// Where `body` goes: checks its apiVersion and kind against `kind`, and its name.
    fn target(&self, kind: Kind, body: &Value) -> Result<Target, ClusterError> {
        let invalid =
            |resource: String, message: String| ClusterError::Invalid { resource, message };
        let Some(object) = body.as_object() else {
            return Err(invalid(
                kind.to_string(),
                "the document is not a mapping".into(),
            ));
        };
        let metadata = object.get("metadata").and_then(Value::as_object);
        let name = metadata
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let namespace = match metadata.and_then(|m| m.get("namespace")) {
            None | Some(Value::Null) => self.default_namespace.clone(),
            Some(Value::String(ns)) if !ns.is_empty() => ns.clone(),
            Some(other) => {
                return Err(invalid(
                    describe(kind, "?", name),
                    format!("metadata.namespace must be a name, not {other}"),
                ))
            }
        };
        let resource = describe(kind, &namespace, name);
        if name.is_empty() {
            return Err(invalid(resource, "metadata.name is missing".into()));
        }
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let stated = object.get("kind").and_then(Value::as_str).unwrap_or("");
        if Kind::from_api(api_version, stated) != Some(kind) {
            return Err(invalid(
                resource,
                format!("the document is `{api_version}` `{stated}`, not a {kind}"),
            ));
        }
        let Some(api_resource) = api_resource_at(kind, api_version) else {
            return Err(match api_resource(kind) {
                None => unsupported(kind),
                Some(_) => invalid(resource, format!("unknown apiVersion `{api_version}`")),
            });
        };
        Ok(Target {
            api_resource,
            namespace,
            name: name.to_string(),
            resource,
        })
    }

    /// A kube error as a [`ClusterError`] about `resource`.
    fn error(&self, resource: &str, err: kube::Error) -> ClusterError {
        match err {
            kube::Error::Api(status) => ClusterError::Api {
                status: status.code,
                resource: resource.to_string(),
                message: status_message(&status),
            },
            kube::Error::Auth(e) => {
                ClusterError::Config(format!("credentials for {}: {}", self.server, chain(&e)))
            }
            kube::Error::BuildRequest(e) => ClusterError::Invalid {
                resource: resource.to_string(),
                message: chain(&e),
            },
            kube::Error::SerdeError(e) => ClusterError::Transport(format!(
                "{resource}: cannot read the answer of {}: {e}",
                self.server
            )),
            other => ClusterError::Transport(format!(
                "{resource}: cannot reach {}: {}",
                self.server,
                chain(&other)
            )),
        }
    }
}

/// Where an apply goes.
struct Target {
    /// The kind at the document's apiVersion.
    api_resource: ApiResource,
    namespace: String,
    name: String,
    /// `Kind/namespace/name`, for errors.
    resource: String,
}

/// The kind's resource, or [`ClusterError::UnsupportedKind`].
fn supported(kind: Kind) -> Result<ApiResource, ClusterError> {
    api_resource(kind).ok_or_else(|| unsupported(kind))
}

fn unsupported(kind: Kind) -> ClusterError {
    ClusterError::UnsupportedKind {
        kind: kind.to_string(),
    }
}

fn not_installed(api_resource: &ApiResource) -> ClusterError {
    ClusterError::KindNotInstalled {
        kind: format!("{} ({})", api_resource.kind, api_resource.api_version),
    }
}

/// `Kind/namespace/name`.
fn describe(kind: Kind, namespace: &str, name: &str) -> String {
    ResourceId {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
    .to_string()
}

/// True when a 404 says the object `name` does not exist (rather than its collection).
fn names_object(status: &Status, name: &str) -> bool {
    status.reason == "NotFound" && status.details.as_ref().is_some_and(|d| d.name == name)
}

/// The server's message, or its reason when it gave none.
fn status_message(status: &Status) -> String {
    if status.message.is_empty() {
        status.reason.clone()
    } else {
        status.message.clone()
    }
}

/// The message of a 409: the server's, which names the fields and managers; built from the
/// causes when the server gave no message.
fn conflict_message(status: &Status) -> String {
    if !status.message.is_empty() {
        return status.message.clone();
    }
    let causes: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| format!("{}: {}", c.message, c.field))
        .collect();
    if causes.is_empty() {
        status.reason.clone()
    } else {
        causes.join("; ")
    }
}

/// The document to send: `body` with the managed-by label, its namespace, and without
/// server-set metadata and `status`.
fn prepare(body: &Value, namespace: &str) -> Result<Value, String> {
    let mut sent = body.clone();
    let object = sent
        .as_object_mut()
        .ok_or("the document is not a mapping")?;
    object.remove("status");
    let metadata = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or("metadata is not a mapping")?;
    for field in SERVER_METADATA {
        metadata.remove(*field);
    }
    metadata.insert("namespace".into(), Value::String(namespace.to_string()));
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if labels.is_null() {
        *labels = Value::Object(Map::new());
    }
    let labels = labels
        .as_object_mut()
        .ok_or("metadata.labels is not a mapping")?;
    labels.insert(
        MANAGED_BY_LABEL.to_string(),
        Value::String(MANAGED_BY_VALUE.to_string()),
    );
    Ok(sent)
}

/// An object from the server as JSON, with its apiVersion and kind (list items may omit them).
fn to_json(
    object: DynamicObject,
    api_resource: &ApiResource,
    resource: &str,
) -> Result<Value, ClusterError> {
    let mut value = serde_json::to_value(object).map_err(|e| {
        ClusterError::Transport(format!(
            "{resource}: cannot encode the server's object: {e}"
        ))
    })?;
    if let Some(map) = value.as_object_mut() {
        if !map.contains_key("apiVersion") || !map.contains_key("kind") {
            let mut typed = Map::new();
            typed.insert(
                "apiVersion".into(),
                Value::String(api_resource.api_version.clone()),
            );
            typed.insert("kind".into(), Value::String(api_resource.kind.clone()));
            for (key, field) in std::mem::take(map) {
                if key != "apiVersion" && key != "kind" {
                    typed.insert(key, field);
                }
            }
            *map = typed;
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prepare_labels_and_strips_server_fields() {
        let body = json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "a", "resourceVersion": "7", "managedFields": [], "labels": null},
            "spec": {"hosts": ["a"]},
            "status": {"x": 1},
        });
        let sent = prepare(&body, "ns").unwrap();
        assert_eq!(
            sent,
            json!({
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "a", "namespace": "ns",
                             "labels": {"app.kubernetes.io/managed-by": "meshcd"}},
                "spec": {"hosts": ["a"]},
            })
        );
        let bad = json!({"metadata": {"name": "a", "labels": ["x"]}});
        assert!(prepare(&bad, "ns").is_err());
    }
}
