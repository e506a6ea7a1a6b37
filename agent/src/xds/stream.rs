//! One Envoy's delta xDS stream as a pure state machine: requests and new snapshots in,
//! responses and events ([`Event::Live`], [`Event::Nacked`]) out. No I/O, no clock, so every
//! rule of the protocol below is unit-tested without a network.
//!
//! # The rules
//! - **What the Envoy holds** is tracked per type and name with the resource version: from the
//!   `initial_resource_versions` of its first request of a type (a reconnecting Envoy), then
//!   from every response it ACKs. Only resources whose version differs are sent.
//! - **One response in flight.** The next response is chosen only after the last one was ACKed
//!   or NACKed, in this order: new and changed clusters; listeners (changed and removed); route
//!   configurations (changed and removed); removed clusters. So a route never names a cluster
//!   the Envoy does not have yet, and a cluster goes only once no route uses it (make before
//!   break), the same order file delivery keeps.
//! - **Every requested type is answered**, with an empty response if need be: Envoy finishes
//!   its initial fetch (and says it is ready) only once each type it asked for was answered.
//! - **Subscriptions**: listeners and clusters are wildcard (a first request with no names, or
//!   `*`); route configurations are named by the listeners' connection managers and sent once
//!   the Envoy subscribes to them.
//! - **Live**: a snapshot is live on a stream when nothing of it is left to send, every route
//!   configuration in it is held at its version, and no response is in flight. That is the
//!   proof of delivery the engine waits for ([`Event::Live`]).
//! - **NACK**: a response answered with `error_detail` is recorded with Envoy's message
//!   ([`Event::Nacked`]); nothing more of that snapshot is sent (Envoy keeps its last accepted
//!   version of the rejected resources), and the resources of the rejected response count as
//!   unknown, so they are sent again from the next snapshot (the engine's revert).
//! - **A seeded snapshot removes nothing.** Until the engine has published (a snapshot restored
//!   from disk at start, or an empty one), resources the Envoy holds and the snapshot lacks are
//!   left alone: a restarted meshcd never takes routes away from the data plane.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource,
};

use super::snapshot::{Entry, ResourceType, Snapshot};

/// A rejected response: which snapshot, which type, and Envoy's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// The snapshot version the rejected response belonged to.
    pub version: u64,
    /// The type of the rejected response.
    pub kind: ResourceType,
    /// Envoy's message (`error_detail.message`).
    pub message: String,
}

/// Something the engine waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The snapshot of this version is live on the stream.
    Live(u64),
    /// A response of a snapshot was rejected.
    Nacked(Nack),
}

/// What is known of one resource type on the stream.
#[derive(Debug, Default, Clone)]
struct Subscription {
    /// A request of this type arrived.
    seen: bool,
    /// Every resource of the type is wanted.
    wildcard: bool,
    /// Resources wanted by name.
    names: BTreeSet<String>,
    /// What the Envoy holds: name → version.
    known: BTreeMap<String, String>,
    /// A response of this type was sent (the first one completes Envoy's initial fetch, so
    /// it goes out even when empty).
    answered: bool,
}

/// The response waiting for an answer.
#[derive(Debug, Clone)]
struct Pending {
    nonce: String,
    kind: ResourceType,
    version: u64,
    sent: Vec<(String, String)>,
    removed: Vec<String>,
}

/// The version a NACKed resource counts as holding: matches no real version.
const UNKNOWN: &str = "";

/// One stream's state.
#[derive(Debug, Default)]
pub struct StreamState {
    subs: [Subscription; 3],
    pending: Option<Pending>,
    target: Option<Arc<Snapshot>>,
    /// The snapshot may remove resources (false for a seeded one).
    authoritative: bool,
    blocked: Option<u64>,
    nonces: u64,
    live: Option<u64>,
    nack: Option<Nack>,
    /// Bumped whenever what the Envoy holds, the live version or the rejection changes, so
    /// the server reports the stream's progress only when there is news.
    revision: u64,
}

/// Which part of a type a step sends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Changes,
    Removals,
    Both,
}

const STEPS: [(ResourceType, Part); 4] = [
    (ResourceType::Cluster, Part::Changes),
    (ResourceType::Listener, Part::Both),
    (ResourceType::RouteConfiguration, Part::Both),
    (ResourceType::Cluster, Part::Removals),
];

impl StreamState {
    /// A new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last snapshot version live on the stream.
    pub fn live(&self) -> Option<u64> {
        self.live
    }

    /// The last rejection.
    pub fn nack(&self) -> Option<&Nack> {
        self.nack.as_ref()
    }

    /// A counter that moves whenever [`Self::held`], [`Self::live`] or [`Self::nack`] change.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// What the Envoy holds of one type (name → version), as far as the stream knows.
    pub fn held(&self, kind: ResourceType) -> &BTreeMap<String, String> {
        &self.subs[kind as usize].known
    }

    /// A new snapshot to move to; `authoritative` is false for a snapshot the engine has not
    /// published (seeded at start), which never removes anything.
    pub fn set_snapshot(&mut self, snapshot: Arc<Snapshot>, authoritative: bool) {
        if self.blocked.is_some_and(|v| v != snapshot.version) {
            self.blocked = None;
        }
        self.authoritative = authoritative;
        self.target = Some(snapshot);
    }

    /// Takes one request in. Returns the event it completes, if any.
    pub fn on_request(&mut self, request: &DeltaDiscoveryRequest) -> Option<Event> {
        let kind = ResourceType::from_type_url(&request.type_url)?;
        let sub = &mut self.subs[kind as usize];
        if !sub.seen {
            sub.seen = true;
            self.revision += 1;
            sub.known = request
                .initial_resource_versions
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            if kind.is_wildcard() && request.resource_names_subscribe.is_empty() {
                sub.wildcard = true;
            }
        }
        for name in &request.resource_names_subscribe {
            if name == "*" {
                sub.wildcard = true;
            } else {
                sub.names.insert(name.clone());
            }
        }
        for name in &request.resource_names_unsubscribe {
            if name == "*" {
                sub.wildcard = false;
            } else {
                sub.names.remove(name);
                if sub.known.remove(name).is_some() {
                    self.revision += 1;
                }
            }
        }
        let answered = self.pending.as_ref().is_some_and(|p| {
            !request.response_nonce.is_empty() && p.nonce == request.response_nonce
        });
        if !answered {
            return None;
        }
        let pending = self.pending.take()?;
        self.revision += 1;
        let sub = &mut self.subs[pending.kind as usize];
        match &request.error_detail {
            Some(status) => {
                for (name, _) in &pending.sent {
                    sub.known.insert(name.clone(), UNKNOWN.to_string());
                }
                let nack = Nack {
                    version: pending.version,
                    kind: pending.kind,
                    message: status.message.clone(),
                };
                self.blocked = Some(pending.version);
                self.nack = Some(nack.clone());
                Some(Event::Nacked(nack))
            }
            None => {
                sub.known.extend(pending.sent);
                for name in pending.removed {
                    sub.known.remove(&name);
                }
                None
            }
        }
    }

    /// The next response to send, if one is due, and the event reaching a live snapshot makes.
    pub fn next_response(&mut self) -> (Option<DeltaDiscoveryResponse>, Option<Event>) {
        if self.pending.is_some() {
            return (None, None);
        }
        let Some(target) = self.target.clone() else {
            return (None, None);
        };
        if self.blocked == Some(target.version) {
            return (None, None);
        }
        for (kind, part) in STEPS {
            let (changed, removed) = self.delta(&target, kind, part);
            let sub = &mut self.subs[kind as usize];
            let first = sub.seen && !sub.answered && part != Part::Removals;
            if changed.is_empty() && removed.is_empty() && !first {
                continue;
            }
            sub.answered = true;
            self.nonces += 1;
            let nonce = self.nonces.to_string();
            self.pending = Some(Pending {
                nonce: nonce.clone(),
                kind,
                version: target.version,
                sent: changed
                    .iter()
                    .map(|(n, e)| (n.clone(), e.version.clone()))
                    .collect(),
                removed: removed.clone(),
            });
            let response = DeltaDiscoveryResponse {
                system_version_info: target.version.to_string(),
                resources: changed
                    .into_iter()
                    .map(|(name, entry)| Resource {
                        name,
                        version: entry.version.clone(),
                        resource: Some(entry.any.clone()),
                        ..Default::default()
                    })
                    .collect(),
                type_url: kind.type_url().to_string(),
                removed_resources: removed,
                nonce,
                ..Default::default()
            };
            return (Some(response), None);
        }
        if !self.holds_routes(&target) || self.live == Some(target.version) {
            return (None, None);
        }
        self.live = Some(target.version);
        self.revision += 1;
        (None, Some(Event::Live(target.version)))
    }

    /// What of `kind` differs between the snapshot and what the Envoy holds.
    fn delta(
        &self,
        target: &Snapshot,
        kind: ResourceType,
        part: Part,
    ) -> (Vec<(String, Arc<Entry>)>, Vec<String>) {
        let sub = &self.subs[kind as usize];
        if !sub.seen {
            return (Vec::new(), Vec::new());
        }
        let wanted = |name: &str| sub.wildcard || sub.names.contains(name);
        let resources = target.resources(kind);
        let changed = if part == Part::Removals {
            Vec::new()
        } else {
            resources
                .iter()
                .filter(|(name, entry)| {
                    wanted(name) && sub.known.get(*name) != Some(&entry.version)
                })
                .map(|(name, entry)| (name.clone(), entry.clone()))
                .collect()
        };
        let removed = if part == Part::Changes || !self.authoritative {
            Vec::new()
        } else {
            sub.known
                .keys()
                .filter(|name| !resources.contains_key(*name))
                .cloned()
                .collect()
        };
        (changed, removed)
    }

    /// Every route configuration of the snapshot is held at its version (when the snapshot
    /// has listeners that ask for them).
    fn holds_routes(&self, target: &Snapshot) -> bool {
        if target.resources(ResourceType::Listener).is_empty() {
            return true;
        }
        let held = &self.subs[ResourceType::RouteConfiguration as usize].known;
        target
            .resources(ResourceType::RouteConfiguration)
            .iter()
            .all(|(name, entry)| held.get(name) == Some(&entry.version))
    }
}

#[cfg(test)]
mod tests;
