//! An in-memory resource API: a [`ResourceApi`] that holds documents in a map, for fast engine
//! tests (as vector's mock sinks) and for trying a configuration without a cluster. It behaves
//! like the resource targets (ownership label, update masks, prune), and it fails or holds its
//! writes on demand, so drift, self-heal, prune, change windows, superseded rollouts and a slow
//! target are tested in milliseconds. The real APIs have their own tests against servers that
//! follow their protocols.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use meshcd_core::model::{Family, Kind, Resource, ResourceId};
use serde_json::Value as Json;
use tokio::sync::{watch, Semaphore};

use super::resources::{ResourceApi, ResourceTarget};
use super::TargetError;

/// A target over an in-memory API.
pub type MemoryTarget = ResourceTarget<MemoryApi>;

/// The in-memory API; clones share the same documents.
#[derive(Clone)]
pub struct MemoryApi {
    id: String,
    prune: bool,
    state: Arc<State>,
}

impl std::fmt::Debug for MemoryApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryApi").field("id", &self.id).finish()
    }
}

#[derive(Default)]
struct State {
    documents: Mutex<BTreeMap<ResourceId, Json>>,
    failures: Mutex<VecDeque<TargetError>>,
    hold: Mutex<Option<WriteHold>>,
    writes: Mutex<Vec<Write>>,
}

/// One write the API took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A resource was created.
    Create(ResourceId),
    /// A resource was updated; the fields of the update mask.
    Update(ResourceId, Vec<String>),
    /// A resource was deleted.
    Delete(ResourceId),
}

/// Holds the API's writes until released: each write waits for a permit.
#[derive(Clone)]
pub struct WriteHold {
    permits: Arc<Semaphore>,
    waiting: watch::Sender<usize>,
}

impl WriteHold {
    /// Lets every held write, and every later one, through.
    pub fn release(&self) {
        self.permits.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Waits until at least one write is held.
    pub async fn entered(&self) {
        let mut waiting = self.waiting.subscribe();
        let _ = waiting.wait_for(|n| *n > 0).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryApi {
    /// An empty API named `memory:NAME`; `prune`: resources meshcd created that Git no longer
    /// has are deleted.
    pub fn new(name: &str, prune: bool) -> Self {
        Self {
            id: format!("memory:{name}"),
            prune,
            state: Arc::default(),
        }
    }

    /// A target over this API (sharing its documents).
    pub fn target(&self) -> MemoryTarget {
        ResourceTarget::new(self.clone())
    }

    /// The documents held, by id.
    pub fn documents(&self) -> BTreeMap<ResourceId, Json> {
        lock(&self.state.documents).clone()
    }

    /// Changes a held document behind meshcd's back (drift); false when there is none.
    pub fn edit(&self, id: &ResourceId, change: impl FnOnce(&mut Json)) -> bool {
        match lock(&self.state.documents).get_mut(id) {
            Some(document) => {
                change(document);
                true
            }
            None => false,
        }
    }

    /// Puts a document in as if someone else created it.
    pub fn insert(&self, id: ResourceId, document: Json) {
        lock(&self.state.documents).insert(id, document);
    }

    /// Every write so far, in order.
    pub fn writes(&self) -> Vec<Write> {
        lock(&self.state.writes).clone()
    }

    /// The next write fails with `error` (then the next queued one, and so on).
    pub fn fail_next_write(&self, error: TargetError) {
        lock(&self.state.failures).push_back(error);
    }

    /// From now on, writes wait until the returned hold is released.
    pub fn hold_writes(&self) -> WriteHold {
        let hold = WriteHold {
            permits: Arc::new(Semaphore::new(0)),
            waiting: watch::channel(0).0,
        };
        *lock(&self.state.hold) = Some(hold.clone());
        hold
    }

    /// Whether `document` carries the label of resources meshcd created.
    fn is_managed(&self, kind: Kind, document: &Json) -> bool {
        let (key, value) = self.managed_label(kind);
        document
            .pointer("/metadata/labels")
            .and_then(|labels| labels.get(key))
            .and_then(Json::as_str)
            == Some(value)
    }

    /// Waits out a hold, then takes a queued failure if any.
    async fn write(&self, write: Write, document: Option<Json>) -> Result<(), TargetError> {
        let hold = lock(&self.state.hold).clone();
        if let Some(hold) = hold {
            hold.waiting.send_modify(|n| *n += 1);
            let permit = hold.permits.acquire().await;
            hold.waiting.send_modify(|n| *n -= 1);
            drop(permit);
        }
        if let Some(error) = lock(&self.state.failures).pop_front() {
            return Err(error);
        }
        let id = match &write {
            Write::Create(id) | Write::Update(id, _) | Write::Delete(id) => id.clone(),
        };
        {
            let mut documents = lock(&self.state.documents);
            match document {
                Some(document) => documents.insert(id, document),
                None => documents.remove(&id),
            };
        }
        lock(&self.state.writes).push(write);
        Ok(())
    }
}

impl ResourceApi for MemoryApi {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!("{} (in memory)", self.id)
    }

    fn manages(&self, kind: Kind) -> bool {
        // Kubernetes-style documents, which carry their `apiVersion` and `kind`.
        matches!(kind.family(), Family::Istio | Family::GatewayApi)
    }

    fn prunes(&self) -> bool {
        self.prune
    }

    async fn read(&self, wanted: &[ResourceId]) -> Result<Vec<(String, Json)>, TargetError> {
        // As the real APIs answer: what Git names, and what carries meshcd's label.
        Ok(lock(&self.state.documents)
            .iter()
            .filter(|(id, document)| wanted.contains(id) || self.is_managed(id.kind, document))
            .map(|(id, document)| (format!("{}/{id}", self.id), document.clone()))
            .collect())
    }

    async fn create(&self, resource: &Resource, body: &Json) -> Result<(), TargetError> {
        self.write(Write::Create(resource.id.clone()), Some(body.clone()))
            .await
    }

    async fn update(
        &self,
        resource: &Resource,
        body: &Json,
        fields: &[String],
    ) -> Result<(), TargetError> {
        let write = Write::Update(resource.id.clone(), fields.to_vec());
        self.write(write, Some(body.clone())).await
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), TargetError> {
        self.write(Write::Delete(id.clone()), None).await
    }
}
