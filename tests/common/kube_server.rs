//! A local fake Kubernetes API server for tests. No real API server can run here (no kind, k3s
//! or internet), so this one serves the part of the Kubernetes API that clients of custom
//! resources use, for the Istio and Gateway API CRDs, following the API's documented protocol.
//! It is not a mock of meshcd: it knows nothing about meshcd and answers any client as an API
//! server would.
//!
//! - `GET /apis/{group}/{version}/namespaces/{ns}/{plural}/{name}`: the object, or a 404
//!   `NotFound` Status naming it.
//! - `GET /apis/{group}/{version}/namespaces/{ns}/{plural}` and, for all namespaces,
//!   `GET /apis/{group}/{version}/{plural}`: a `<Kind>List`, filtered by `labelSelector`
//!   (equality-based: `k=v`, `k==v`, `k!=v`, `k`, `!k`) and paged by `limit`/`continue`.
//! - `PATCH .../{name}` with `Content-Type: application/apply-patch+yaml`, `fieldManager` and
//!   optional `force=true`: server-side apply. Field ownership is tracked per manager for every
//!   leaf field (maps by key; a list is one atomic leaf, as SSA treats lists without list-map
//!   keys such as `spec.http`). A field another manager owns with a different value is a
//!   conflict: 409 `Conflict` Status listing every conflicting field and manager, unless
//!   `force=true`, which moves ownership to the applier. Fields the applier owned and now
//!   omits are removed (unless another manager owns them too). `status` is left alone.
//!   `uid`, `creationTimestamp`, `resourceVersion` (bumped on change), `generation` (bumped on
//!   changes outside `metadata`/`status`) and `managedFields` are set. 201 on create, 200 else.
//!   The body's apiVersion and kind must be the URL's, its name the URL's (400 otherwise).
//! - `DELETE .../{name}`: removes the object and answers it; 404 `NotFound` when absent.
//! - `GET /apis/{group}/{version}`: the `APIResourceList` discovery document.
//!
//! Every request needs `Authorization: Bearer <token>` (the kubeconfig's), else 401
//! `Unauthorized`. Errors are `metav1.Status` bodies, except for a group/version no installed
//! CRD serves, which gets the API server's plain-text `404 page not found`; a kind whose CRD is
//! "not installed" ([`FakeKube::without_kind`]) in a served group/version gets a 404 Status
//! without details. Versions convert by apiVersion only (the CRD schemas are the same). All
//! namespaces exist. Every request is recorded ([`FakeKube::requests`]).
//!
//! The server runs on its own thread and runtime on `127.0.0.1:0`, so it works from async tests
//! and from tests that run the `meshcd` binary alike; it stops on drop.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value as Json};

/// A CustomResourceDefinition the server knows: all namespaced; `versions[0]` is the storage
/// version.
struct Crd {
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
}

const ISTIO_NETWORKING: &[&str] = &["v1", "v1beta1", "v1alpha3"];

/// The CRDs installed at start.
const CRDS: &[Crd] = &[
    Crd {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "VirtualService",
        plural: "virtualservices",
    },
    Crd {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "DestinationRule",
        plural: "destinationrules",
    },
    Crd {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "ServiceEntry",
        plural: "serviceentries",
    },
    Crd {
        group: "networking.istio.io",
        versions: ISTIO_NETWORKING,
        kind: "WorkloadEntry",
        plural: "workloadentries",
    },
    Crd {
        group: "security.istio.io",
        versions: &["v1", "v1beta1"],
        kind: "PeerAuthentication",
        plural: "peerauthentications",
    },
    Crd {
        group: "gateway.networking.k8s.io",
        versions: &["v1", "v1beta1"],
        kind: "HTTPRoute",
        plural: "httproutes",
    },
    Crd {
        group: "gateway.networking.k8s.io",
        versions: &["v1", "v1alpha2"],
        kind: "GRPCRoute",
        plural: "grpcroutes",
    },
    Crd {
        group: "gateway.networking.k8s.io",
        versions: &["v1beta1", "v1alpha2"],
        kind: "ReferenceGrant",
        plural: "referencegrants",
    },
    Crd {
        group: "gateway.networking.k8s.io",
        versions: &["v1alpha2"],
        kind: "TCPRoute",
        plural: "tcproutes",
    },
    Crd {
        group: "gateway.networking.k8s.io",
        versions: &["v1alpha2", "v1alpha3"],
        kind: "TLSRoute",
        plural: "tlsroutes",
    },
    Crd {
        group: "gateway.networking.k8s.io",
        versions: &["v1alpha2"],
        kind: "UDPRoute",
        plural: "udproutes",
    },
];

/// The content type of a server-side apply.
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// A request the server received.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The query parameters (the last one wins when repeated).
    pub query: BTreeMap<String, String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The body parsed as JSON or YAML; `Null` when empty, a string when neither parses.
    pub body: Json,
}

/// A running fake API server on 127.0.0.1.
pub struct FakeKube {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Mutex<Inner>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeKube {
    /// Starts a server on a free port, every CRD installed, no objects.
    pub async fn start() -> FakeKube {
        FakeKube::start_blocking()
    }

    /// [`FakeKube::start`] for tests without a runtime.
    pub fn start_blocking() -> FakeKube {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let token = format!(
            "fake-{:016x}",
            RandomState::new().hash_one(std::time::SystemTime::now())
        );
        let shared = Arc::new(Mutex::new(Inner::new(token)));
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-kube".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the fake API server");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = Router::new().fallback(handle).with_state(state);
                    tokio::select! {
                        result = axum::serve(listener, app) => result.expect("serve"),
                        _ = stop => {}
                    }
                });
            })
            .expect("spawn the fake API server");
        FakeKube {
            url,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The bearer token the server accepts.
    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    /// Writes `dir/kubeconfig`: cluster `fake` at [`FakeKube::url`], a user with the server's
    /// token, context `fake` (namespace `default`) as the current context.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        self.write_kubeconfig(&dir.join("kubeconfig"), &self.token())
    }

    /// Like [`FakeKube::kubeconfig`] with another token, as `dir/kubeconfig-token`.
    pub fn kubeconfig_with_token(&self, dir: &Path, token: &str) -> PathBuf {
        self.write_kubeconfig(&dir.join("kubeconfig-token"), token)
    }

    fn write_kubeconfig(&self, path: &Path, token: &str) -> PathBuf {
        let text = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: fake\n  \
               cluster:\n    \
                 server: {url}\n\
             users:\n\
             - name: fake\n  \
               user:\n    \
                 token: {token}\n\
             contexts:\n\
             - name: fake\n  \
               context:\n    \
                 cluster: fake\n    \
                 user: fake\n    \
                 namespace: default\n\
             current-context: fake\n",
            url = self.url,
        );
        std::fs::write(path, text).expect("write the kubeconfig");
        path.to_path_buf()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// The stored object `plural` `namespace/name` (at the CRD's storage version).
    pub fn object(&self, plural: &str, namespace: &str, name: &str) -> Option<Json> {
        let inner = self.lock();
        let stored = inner.objects.get(&key(plural, namespace, name))?;
        Some(stored.object.clone())
    }

    /// Every stored object of `plural`, in namespace/name order.
    pub fn objects(&self, plural: &str) -> Vec<Json> {
        let inner = self.lock();
        inner
            .objects
            .iter()
            .filter(|((p, _, _), _)| p == plural)
            .map(|(_, stored)| stored.object.clone())
            .collect()
    }

    /// Apply `body` as another field manager (e.g. "kubectl" or "istio-operator"), as a person
    /// would behind meshcd's back: ownership of the fields it sets moves to that manager.
    ///
    /// A forced server-side apply at the body's apiVersion, into `metadata.namespace` (or
    /// `default`); not recorded as a request. Panics when the kind is not installed or the body
    /// is not a `plural` object with a name.
    pub fn apply_as(&self, manager: &str, plural: &str, body: Json) {
        let mut inner = self.lock();
        let crd = inner
            .installed(plural)
            .unwrap_or_else(|| panic!("{plural} is not installed"));
        let namespace = body["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = body["metadata"]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("apply_as: no metadata.name in {body}"))
            .to_string();
        let api_version = body["apiVersion"]
            .as_str()
            .map_or_else(|| storage_version(crd), str::to_string);
        assert_eq!(body["kind"], crd.kind, "apply_as: kind of {body}");
        if let Err(conflicts) =
            inner.apply(crd, &namespace, &name, manager, &api_version, &body, true)
        {
            panic!(
                "a forced apply conflicted: {}",
                conflict_message(&conflicts)
            );
        }
    }

    /// Sets the `status` of an object, as a controller would through the status subresource:
    /// bumps the resourceVersion, not the generation. Panics when there is no such object.
    pub fn set_status(&self, plural: &str, namespace: &str, name: &str, status: Json) {
        let mut inner = self.lock();
        let revision = inner.next_revision();
        let stored = inner
            .objects
            .get_mut(&key(plural, namespace, name))
            .unwrap_or_else(|| panic!("no {plural} {namespace}/{name}"));
        stored.object["status"] = status;
        stored.object["metadata"]["resourceVersion"] = json!(revision.to_string());
    }

    /// Makes the CRD of `plural` "not installed": its objects go, and its collection answers
    /// 404.
    pub fn without_kind(&self, plural: &str) {
        assert!(
            CRDS.iter().any(|c| c.plural == plural),
            "unknown plural {plural}"
        );
        let mut inner = self.lock();
        inner.removed.insert(plural.to_string());
        inner.objects.retain(|(p, _, _), _| p != plural);
    }

    /// Installs the CRD of `plural` again.
    pub fn with_kind(&self, plural: &str) {
        self.lock().removed.remove(plural);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A field path: map keys from the object's root.
type FieldPath = Vec<String>;

/// Who owns which field of an object, and when each manager last applied.
type Owners = BTreeMap<FieldPath, BTreeSet<String>>;

/// A field manager's entry in `managedFields`.
#[derive(Debug, Clone, PartialEq)]
struct Manager {
    name: String,
    api_version: String,
    time: String,
}

/// An object and its field ownership.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    object: Json,
    owners: Owners,
    /// In order of first apply.
    managers: Vec<Manager>,
}

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Conflict {
    manager: String,
    path: FieldPath,
}

/// The server's state.
struct Inner {
    token: String,
    /// Plurals whose CRD is not installed.
    removed: BTreeSet<String>,
    /// By (plural, namespace, name).
    objects: BTreeMap<(String, String, String), Stored>,
    requests: Vec<Request>,
    /// The last resourceVersion handed out (one counter for everything, like etcd's).
    revision: u64,
    uids: u64,
}

fn key(plural: &str, namespace: &str, name: &str) -> (String, String, String) {
    (plural.to_string(), namespace.to_string(), name.to_string())
}

fn storage_version(crd: &Crd) -> String {
    format!("{}/{}", crd.group, crd.versions[0])
}

impl Inner {
    fn new(token: String) -> Inner {
        Inner {
            token,
            removed: BTreeSet::new(),
            objects: BTreeMap::new(),
            requests: Vec::new(),
            revision: 1000,
            uids: 0,
        }
    }

    fn next_revision(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    fn installed(&self, plural: &str) -> Option<&'static Crd> {
        CRDS.iter()
            .find(|c| c.plural == plural && !self.removed.contains(c.plural))
    }

    /// True when some installed CRD serves `group/version`.
    fn serves(&self, group: &str, version: &str) -> bool {
        CRDS.iter().any(|c| {
            c.group == group && c.versions.contains(&version) && !self.removed.contains(c.plural)
        })
    }

    /// Server-side apply of `body` by `manager` to `namespace/name`; stores and returns the
    /// object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        crd: &'static Crd,
        namespace: &str,
        name: &str,
        manager: &str,
        api_version: &str,
        body: &Json,
        force: bool,
    ) -> Result<(Json, bool), Vec<Conflict>> {
        let key = key(crd.plural, namespace, name);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let old = self.objects.get(&key).cloned();
        let created = old.is_none();
        let base = match &old {
            Some(stored) => stored.clone(),
            None => {
                self.uids += 1;
                Stored {
                    object: json!({
                        "apiVersion": storage_version(crd),
                        "kind": crd.kind,
                        "metadata": {
                            "name": name,
                            "namespace": namespace,
                            "uid": format!("6b1f0000-0000-4000-8000-{:012x}", self.uids),
                            "resourceVersion": "",
                            "generation": 0,
                            "creationTimestamp": now,
                        },
                    }),
                    owners: Owners::new(),
                    managers: Vec::new(),
                }
            }
        };
        let mut new = merge(&base, manager, body, force)?;
        if !created && same(&base, &new) {
            return Ok((base.object, false));
        }
        match new.managers.iter_mut().find(|m| m.name == manager) {
            Some(entry) => {
                entry.api_version = api_version.to_string();
                entry.time = now;
            }
            None => new.managers.push(Manager {
                name: manager.to_string(),
                api_version: api_version.to_string(),
                time: now,
            }),
        }
        new.managers
            .retain(|m| new.owners.values().any(|owners| owners.contains(&m.name)));
        let revision = self.next_revision();
        let generation = base.object["metadata"]["generation"].as_i64().unwrap_or(0);
        let generation = if created || spec_of(&base.object) != spec_of(&new.object) {
            generation + 1
        } else {
            generation
        };
        let managed_fields = managed_fields(&new);
        let metadata = new.object["metadata"]
            .as_object_mut()
            .expect("metadata is a map");
        metadata.insert("resourceVersion".into(), json!(revision.to_string()));
        metadata.insert("generation".into(), json!(generation));
        metadata.insert("managedFields".into(), managed_fields);
        let object = new.object.clone();
        self.objects.insert(key, new);
        Ok((object, created))
    }
}

/// The object without `metadata` and `status`: what `generation` counts changes of.
fn spec_of(object: &Json) -> Json {
    let mut spec = object.clone();
    if let Some(map) = spec.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    spec
}

/// True when an apply changed neither the object nor who owns what.
fn same(old: &Stored, new: &Stored) -> bool {
    old.owners == new.owners && old.object == new.object
}

/// `managedFields` for the owners of `stored`.
fn managed_fields(stored: &Stored) -> Json {
    let entries = stored.managers.iter().map(|manager| {
        let mut fields = Json::Object(Map::new());
        for (path, owners) in &stored.owners {
            if owners.contains(&manager.name) {
                let mut at = &mut fields;
                for segment in path {
                    at = at
                        .as_object_mut()
                        .expect("fieldsV1 maps")
                        .entry(format!("f:{segment}"))
                        .or_insert_with(|| json!({}));
                }
            }
        }
        json!({
            "manager": manager.name,
            "operation": "Apply",
            "apiVersion": manager.api_version,
            "time": manager.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        })
    });
    Json::Array(entries.collect())
}

/// Metadata fields that name the object or are the server's: not owned by appliers.
const NOT_APPLIED: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The leaf fields an apply sets: every non-map value (lists are atomic), and empty maps;
/// nulls set nothing. Leaves out `apiVersion`, `kind`, `status` and [`NOT_APPLIED`].
fn leaves(body: &Json) -> Vec<(FieldPath, Json)> {
    fn walk(path: FieldPath, value: &Json, out: &mut Vec<(FieldPath, Json)>) {
        match value {
            Json::Null => {}
            Json::Object(map) if !map.is_empty() => {
                for (key, value) in map {
                    let mut path = path.clone();
                    path.push(key.clone());
                    walk(path, value, out);
                }
            }
            _ => out.push((path, value.clone())),
        }
    }
    let mut out = Vec::new();
    for (key, value) in body.as_object().into_iter().flatten() {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for (field, value) in value.as_object().into_iter().flatten() {
                    if !NOT_APPLIED.contains(&field.as_str()) {
                        walk(vec![key.clone(), field.clone()], value, &mut out);
                    }
                }
            }
            _ => walk(vec![key.clone()], value, &mut out),
        }
    }
    out
}

/// True when one path is a prefix of the other (or they are equal).
fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn is_empty_map(value: &Json) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}

/// True when setting `path` to `value` in `object` changes what the field `owned` holds.
fn changes(object: &Json, path: &[String], value: &Json, owned: &[String]) -> bool {
    if owned.len() < path.len() {
        // An ancestor: it stays a map if it is one.
        !get(object, owned).is_some_and(Json::is_object)
    } else if is_empty_map(value) {
        // `{}` merges into a map already there.
        !get(object, path).is_some_and(Json::is_object)
    } else {
        get(object, owned) != get(value, &owned[path.len()..])
    }
}

/// The apply of `body` by `manager` to `base`: the new object and owners, or the conflicts.
fn merge(base: &Stored, manager: &str, body: &Json, force: bool) -> Result<Stored, Vec<Conflict>> {
    let applied = leaves(body);
    let mut conflicts = BTreeSet::new();
    for (path, value) in &applied {
        for (owned, owners) in &base.owners {
            if related(path, owned) && changes(&base.object, path, value, owned) {
                for owner in owners.iter().filter(|o| *o != manager) {
                    conflicts.insert(Conflict {
                        manager: owner.clone(),
                        path: owned.clone(),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts.into_iter().collect());
    }

    let mut new = base.clone();
    let paths: BTreeSet<&FieldPath> = applied.iter().map(|(path, _)| path).collect();
    // Fields the manager owned and no longer sets: released, and removed when nobody else
    // owns them.
    let released: Vec<FieldPath> = new
        .owners
        .iter()
        .filter(|(path, owners)| owners.contains(manager) && !paths.contains(path))
        .map(|(path, _)| path.clone())
        .collect();
    for path in released {
        let owners = new.owners.get_mut(&path).expect("owned path");
        owners.remove(manager);
        if owners.is_empty() {
            new.owners.remove(&path);
            if !paths.iter().any(|p| related(p, &path)) {
                remove(&mut new.object, &path, &new.owners);
            }
        }
    }
    // The fields it sets: fields this changes lose their owners (forced conflicts, or paths
    // replaced by a value of another shape); the manager owns what it set.
    for (path, value) in &applied {
        let touched: Vec<FieldPath> = new
            .owners
            .keys()
            .filter(|owned| related(path, owned) && changes(&new.object, path, value, owned))
            .cloned()
            .collect();
        for owned in touched {
            if owned == *path {
                new.owners.get_mut(&owned).expect("owned path").clear();
            } else {
                new.owners.remove(&owned);
            }
        }
        if !(is_empty_map(value) && get(&new.object, path).is_some_and(Json::is_object)) {
            set(&mut new.object, path, value.clone());
        }
        new.owners
            .entry(path.clone())
            .or_default()
            .insert(manager.to_string());
    }
    new.owners.retain(|_, owners| !owners.is_empty());
    Ok(new)
}

fn get<'a>(value: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter()
        .try_fold(value, |value, key| value.as_object()?.get(key))
}

fn get_mut<'a>(value: &'a mut Json, path: &[String]) -> Option<&'a mut Json> {
    path.iter()
        .try_fold(value, |value, key| value.as_object_mut()?.get_mut(key))
}

/// Sets `path` to `new`, making maps on the way.
fn set(value: &mut Json, path: &[String], new: Json) {
    let mut at = value;
    for key in path {
        if !at.is_object() {
            *at = json!({});
        }
        at = at
            .as_object_mut()
            .expect("a map")
            .entry(key.clone())
            .or_insert(Json::Null);
    }
    *at = new;
}

/// Removes `path`, then the maps it leaves empty that nobody owns (never `metadata` itself).
fn remove(value: &mut Json, path: &[String], owners: &Owners) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    if let Some(Json::Object(map)) = get_mut(value, parent) {
        map.remove(last);
    }
    for len in (1..path.len()).rev() {
        let at = &path[..len];
        if at == ["metadata"]
            || owners.contains_key(at)
            || !get(value, at).is_some_and(is_empty_map)
        {
            break;
        }
        let (last, parent) = at.split_last().expect("non-empty");
        if let Some(Json::Object(map)) = get_mut(value, parent) {
            map.remove(last);
        }
    }
}

/// `.spec.http`
fn field_string(path: &[String]) -> String {
    path.iter().map(|segment| format!(".{segment}")).collect()
}

/// The API server's message for apply conflicts.
fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [conflict] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with \"{}\": {}",
            conflict.manager,
            field_string(&conflict.path)
        );
    }
    let mut by_manager: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for conflict in conflicts {
        by_manager
            .entry(&conflict.manager)
            .or_default()
            .push(field_string(&conflict.path));
    }
    let mut lines = Vec::new();
    for (manager, paths) in by_manager {
        lines.push(format!("conflicts with \"{manager}\":"));
        lines.extend(paths.into_iter().map(|path| format!("- {path}")));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// A `metav1.Status` failure.
fn status(code: StatusCode, reason: &str, message: &str, details: Option<Json>) -> Response {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    body["code"] = json!(code.as_u16());
    (code, axum::Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    status(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

/// The API server's answer for paths nothing serves.
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

fn not_found(crd: &Crd, name: &str) -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{}.{} \"{name}\" not found", crd.plural, crd.group),
        Some(json!({"name": name, "group": crd.group, "kind": crd.plural})),
    )
}

fn ok(code: StatusCode, body: Json) -> Response {
    (code, axum::Json(body)).into_response()
}

/// The object as served at `api_version`: conversion only changes the apiVersion.
fn present(object: &Json, api_version: &str) -> Json {
    let mut object = object.clone();
    object["apiVersion"] = json!(api_version);
    object
}

/// Parses a body as JSON, else YAML; `Null` when empty.
fn parse_body(body: &[u8]) -> Option<Json> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(Json::Null);
    }
    serde_json::from_slice(body)
        .ok()
        .or_else(|| serde_yaml_ng::from_slice(body).ok())
}

type Shared = Arc<Mutex<Inner>>;

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let request = Request {
        method: method.to_string(),
        path: uri.path().to_string(),
        query,
        content_type,
        body: parse_body(&body)
            .unwrap_or_else(|| Json::String(String::from_utf8_lossy(&body).into_owned())),
    };
    let mut inner = shared.lock().unwrap_or_else(|e| e.into_inner());
    inner.requests.push(request.clone());
    let expected = format!("Bearer {}", inner.token);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorization != Some(expected.as_str()) {
        return status(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Unauthorized",
            None,
        );
    }
    inner.route(&method, &request, &body)
}

impl Inner {
    fn route(&mut self, method: &Method, request: &Request, body: &[u8]) -> Response {
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match segments.as_slice() {
            ["apis", group, version] if method == Method::GET => self.discovery(group, version),
            ["apis", group, version, plural] => {
                self.collection(method, request, group, version, None, plural)
            }
            ["apis", group, version, "namespaces", namespace, plural] => {
                self.collection(method, request, group, version, Some(*namespace), plural)
            }
            ["apis", group, version, "namespaces", namespace, plural, name] => {
                let crd = match self.resolve(group, version, plural) {
                    Ok(crd) => crd,
                    Err(response) => return *response,
                };
                let api_version = format!("{group}/{version}");
                if method == Method::GET {
                    self.get(crd, &api_version, namespace, name)
                } else if method == Method::PATCH {
                    self.patch(crd, &api_version, namespace, name, request, body)
                } else if method == Method::DELETE {
                    self.delete(crd, &api_version, namespace, name)
                } else {
                    not_allowed(method)
                }
            }
            _ => page_not_found(),
        }
    }

    /// The CRD serving `group/version/plural`, or the API server's 404.
    fn resolve(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Result<&'static Crd, Box<Response>> {
        if !self.serves(group, version) {
            return Err(Box::new(page_not_found()));
        }
        CRDS.iter()
            .find(|c| {
                c.group == group
                    && c.plural == plural
                    && c.versions.contains(&version)
                    && !self.removed.contains(c.plural)
            })
            .ok_or_else(|| {
                Box::new(status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the server could not find the requested resource",
                    Some(json!({})),
                ))
            })
    }

    fn discovery(&self, group: &str, version: &str) -> Response {
        if !self.serves(group, version) {
            return page_not_found();
        }
        let resources: Vec<Json> = CRDS
            .iter()
            .filter(|c| {
                c.group == group
                    && c.versions.contains(&version)
                    && !self.removed.contains(c.plural)
            })
            .map(|c| {
                json!({
                    "name": c.plural,
                    "singularName": c.kind.to_ascii_lowercase(),
                    "namespaced": true,
                    "kind": c.kind,
                    "verbs": ["delete", "get", "list", "patch"],
                })
            })
            .collect();
        ok(
            StatusCode::OK,
            json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": format!("{group}/{version}"),
                "resources": resources,
            }),
        )
    }

    fn collection(
        &self,
        method: &Method,
        request: &Request,
        group: &str,
        version: &str,
        namespace: Option<&str>,
        plural: &str,
    ) -> Response {
        let crd = match self.resolve(group, version, plural) {
            Ok(crd) => crd,
            Err(response) => return *response,
        };
        if method != Method::GET {
            return not_allowed(method);
        }
        let selector = match request.query.get("labelSelector") {
            Some(text) => match parse_selector(text) {
                Ok(selector) => selector,
                Err(message) => return bad_request(&message),
            },
            None => Vec::new(),
        };
        let limit = match request.query.get("limit").map(|l| l.parse::<usize>()) {
            None | Some(Ok(0)) => usize::MAX,
            Some(Ok(limit)) => limit,
            Some(Err(_)) => return bad_request("limit must be a number"),
        };
        let after = request.query.get("continue").map(|token| {
            let (namespace, name) = token.split_once('/').unwrap_or(("", token));
            (namespace.to_string(), name.to_string())
        });
        let api_version = format!("{group}/{version}");
        let matching: Vec<(&(String, String, String), &Stored)> = self
            .objects
            .iter()
            .filter(|((p, ns, name), stored)| {
                p == plural
                    && namespace.is_none_or(|n| n == ns.as_str())
                    && after
                        .as_ref()
                        .is_none_or(|(a_ns, a_name)| (ns, name) > (a_ns, a_name))
                    && selector.iter().all(|r| r.matches(&stored.object))
            })
            .collect();
        let page: Vec<Json> = matching
            .iter()
            .take(limit)
            .map(|(_, stored)| present(&stored.object, &api_version))
            .collect();
        let mut metadata = json!({"resourceVersion": self.revision.to_string()});
        if matching.len() > page.len() {
            let ((_, ns, name), _) = matching[page.len() - 1];
            metadata["continue"] = json!(format!("{ns}/{name}"));
            metadata["remainingItemCount"] = json!(matching.len() - page.len());
        }
        ok(
            StatusCode::OK,
            json!({
                "apiVersion": api_version,
                "kind": format!("{}List", crd.kind),
                "metadata": metadata,
                "items": page,
            }),
        )
    }

    fn get(&self, crd: &Crd, api_version: &str, namespace: &str, name: &str) -> Response {
        match self.objects.get(&key(crd.plural, namespace, name)) {
            Some(stored) => ok(StatusCode::OK, present(&stored.object, api_version)),
            None => not_found(crd, name),
        }
    }

    fn delete(&mut self, crd: &Crd, api_version: &str, namespace: &str, name: &str) -> Response {
        match self.objects.remove(&key(crd.plural, namespace, name)) {
            Some(stored) => {
                self.next_revision();
                ok(StatusCode::OK, present(&stored.object, api_version))
            }
            None => not_found(crd, name),
        }
    }

    fn patch(
        &mut self,
        crd: &'static Crd,
        api_version: &str,
        namespace: &str,
        name: &str,
        request: &Request,
        body: &[u8],
    ) -> Response {
        let media_type = request
            .content_type
            .as_deref()
            .and_then(|t| t.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if media_type != APPLY_PATCH {
            return status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format ({media_type}): this \
                     server implements server-side apply only ({APPLY_PATCH})"
                ),
                None,
            );
        }
        let Some(manager) = request.query.get("fieldManager").filter(|m| !m.is_empty()) else {
            return bad_request("PATCH requests with an apply patch require a fieldManager");
        };
        let force = match request.query.get("force").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return bad_request(&format!("invalid force value {other:?}")),
        };
        // JSON is YAML; try the stricter parser first.
        let parsed = serde_json::from_slice::<Json>(body)
            .or_else(|_| serde_yaml_ng::from_slice::<Json>(body).map_err(|e| e.to_string()));
        let object: Json = match parsed {
            Ok(object @ Json::Object(_)) => object,
            Ok(other) => return bad_request(&format!("the apply patch is not an object: {other}")),
            Err(e) => return bad_request(&format!("error decoding YAML: {e}")),
        };
        let body_api_version = object["apiVersion"].as_str().unwrap_or("");
        if body_api_version != api_version {
            return bad_request(&format!(
                "the API version in the data ({body_api_version}) does not match the expected \
                 API version ({api_version})"
            ));
        }
        let body_kind = object["kind"].as_str().unwrap_or("");
        if body_kind != crd.kind {
            return bad_request(&format!(
                "the kind in the data ({body_kind}) does not match the expected kind ({})",
                crd.kind
            ));
        }
        let body_name = object["metadata"]["name"].as_str().unwrap_or("");
        if body_name != name {
            return bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            ));
        }
        match &object["metadata"]["namespace"] {
            Json::Null => {}
            Json::String(ns) if ns == namespace => {}
            _ => {
                return bad_request(
                    "the namespace of the provided object does not match the namespace sent on \
                     the request",
                )
            }
        }
        if let Some(expected) = object["metadata"]["resourceVersion"].as_str() {
            let current = self
                .objects
                .get(&key(crd.plural, namespace, name))
                .and_then(|s| s.object["metadata"]["resourceVersion"].as_str());
            if current != Some(expected) {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on {}.{} \"{name}\": the object has been \
                         modified; please apply your changes to the latest version and try again",
                        crd.plural, crd.group
                    ),
                    Some(json!({"name": name, "group": crd.group, "kind": crd.plural})),
                );
            }
        }
        let manager = manager.clone();
        match self.apply(crd, namespace, name, &manager, api_version, &object, force) {
            Ok((object, created)) => {
                let code = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                ok(code, present(&object, api_version))
            }
            Err(conflicts) => {
                let causes: Vec<Json> = conflicts
                    .iter()
                    .map(|c| {
                        json!({
                            "reason": "FieldManagerConflict",
                            "message": format!("conflict with \"{}\"", c.manager),
                            "field": field_string(&c.path),
                        })
                    })
                    .collect();
                status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    &conflict_message(&conflicts),
                    Some(json!({"causes": causes})),
                )
            }
        }
    }
}

fn not_allowed(method: &Method) -> Response {
    status(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("the server does not allow this method on the requested resource ({method})"),
        None,
    )
}

/// One equality-based label requirement.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

impl Requirement {
    fn matches(&self, object: &Json) -> bool {
        let label = |key: &str| {
            object["metadata"]["labels"][key]
                .as_str()
                .map(str::to_string)
        };
        match self {
            Requirement::Equals(key, value) => label(key).as_deref() == Some(value),
            Requirement::NotEquals(key, value) => label(key).as_deref() != Some(value),
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::Absent(key) => label(key).is_none(),
        }
    }
}

/// Parses an equality-based label selector (`a=b,c!=d,e,!f`).
fn parse_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut requirements = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains('(') {
            return Err(format!(
                "unable to parse requirement {part:?}: set-based selectors are not supported"
            ));
        }
        let requirement = if let Some(key) = part.strip_prefix('!') {
            Requirement::Absent(key.trim().to_string())
        } else if let Some((key, value)) = part.split_once("!=") {
            Requirement::NotEquals(key.trim().to_string(), value.trim().to_string())
        } else if let Some((key, value)) = part.split_once("==") {
            Requirement::Equals(key.trim().to_string(), value.trim().to_string())
        } else if let Some((key, value)) = part.split_once('=') {
            Requirement::Equals(key.trim().to_string(), value.trim().to_string())
        } else {
            Requirement::Exists(part.to_string())
        };
        let key = match &requirement {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::Exists(k)
            | Requirement::Absent(k) => k,
        };
        if key.is_empty() {
            return Err(format!("unable to parse requirement {part:?}: no key"));
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}
