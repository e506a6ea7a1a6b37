//! The registry: the snapshot each fleet's streams serve, the Envoys connected, what each
//! holds, and waiting for a version to be live on all of them.
//!
//! A fleet is the Envoys of one `node.cluster`; configured fleets get the part of the
//! configuration their route patterns select, every other Envoy (or, with fleets configured,
//! only the local managed one) gets all of it. One publish gives every fleet the same version.
//! Streams read their fleet's published snapshot through a `watch` channel and report their progress
//! ([`Registry::update`]); the engine publishes ([`Registry::publish`]) and waits
//! ([`Registry::wait`]). The one lock guards plain maps and is never held across an `.await`
//! or any I/O; snapshots are encoded before it is taken.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use meshcd_core::envoy::{select_routes, EnvoyConfig, RouteSelector};
use serde::Serialize;
use tokio::sync::watch;

use super::snapshot::{Snapshot, SnapshotError};
use super::stream::Nack;

/// The snapshot streams serve, and whether the engine published it (a seeded one never removes
/// what an Envoy holds).
#[derive(Debug, Clone)]
pub struct Published {
    /// The snapshot.
    pub snapshot: Arc<Snapshot>,
    /// Published by the engine (not seeded at start).
    pub authoritative: bool,
}

/// A connected Envoy, as the status API and CSDS show it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// The connection's number (unique over the server's life).
    pub connection: u64,
    /// The Envoy's `node.id`.
    pub id: String,
    /// Its fleet: the Envoy's `node.cluster`.
    pub fleet: String,
    /// Where it connects from (`unix socket`, or an address).
    pub peer: String,
    /// The identity it was admitted as (a certificate's SAN or CN, `local` for the Unix
    /// socket, `loopback` for plain TCP on a loopback address).
    pub identity: String,
    /// When it connected.
    #[serde(with = "humantime_serde_compat")]
    pub connected_at: SystemTime,
    /// The last snapshot version live on it.
    pub live: Option<u64>,
    /// Its last rejection.
    pub nack: Option<NackStatus>,
    /// What it holds: type (`CDS`, `LDS`, `RDS`) → name → resource version (in CSDS, not in
    /// the status document: it is as long as the configuration).
    #[serde(skip)]
    pub held: BTreeMap<String, BTreeMap<String, String>>,
}

/// A rejection, for the status API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NackStatus {
    /// The rejected snapshot version.
    pub version: u64,
    /// The rejected type (`CDS`, `LDS`, `RDS`).
    pub kind: String,
    /// Envoy's reason.
    pub message: String,
}

impl From<&Nack> for NackStatus {
    fn from(nack: &Nack) -> Self {
        Self {
            version: nack.version,
            kind: nack.kind.short().to_string(),
            message: nack.message.clone(),
        }
    }
}

mod humantime_serde_compat {
    use std::time::SystemTime;

    pub fn serialize<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_seconds(*time).to_string())
    }
}

/// One fleet at a glance: how many Envoys hold which version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetSummary {
    /// Connected Envoys.
    pub envoys: usize,
    /// Snapshot version (`none` before the first) → how many Envoys hold it.
    pub versions: BTreeMap<String, usize>,
    /// Envoys whose last response was a rejection: node id → the rejection.
    pub rejected: BTreeMap<String, NackStatus>,
}

/// The xDS server at a glance, for `GET /api/v1/xds` and `meshcd status`.
#[derive(Debug, Clone, Serialize)]
pub struct XdsSummary {
    /// The version served now.
    pub served: u64,
    /// Whether the engine published it (false: restored at start, or empty).
    pub published: bool,
    /// Each fleet (an Envoy's `node.cluster`).
    pub fleets: BTreeMap<String, FleetSummary>,
    /// Every connected Envoy.
    pub envoys: Vec<NodeStatus>,
}

/// How a published version reached the Envoys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// How many connected Envoys hold it (all of them).
    pub envoys: usize,
}

/// Why a published version did not reach every Envoy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// An Envoy rejected it.
    #[error("Envoy `{node}` (fleet `{fleet}`) rejected {kind} of version {version}: {message}")]
    Rejected {
        /// The Envoy's node id.
        node: String,
        /// Its fleet.
        fleet: String,
        /// The rejected type (`CDS`, `LDS`, `RDS`).
        kind: String,
        /// The version.
        version: u64,
        /// Envoy's reason.
        message: String,
    },
    /// Some Envoys did not confirm it in time.
    #[error("not confirmed within {} by: {}", humantime::format_duration(*.waited), .waiting.join(", "))]
    TimedOut {
        /// How long it waited.
        waited: Duration,
        /// The node ids still without it.
        waiting: Vec<String>,
    },
}

/// The fleet of the local managed Envoy (its bootstrap's `node.cluster`): always served every
/// route, since applied state is read back from it.
pub const LOCAL_FLEET: &str = meshcd_core::envoy::LOCAL_NODE;

/// One fleet's routes and the snapshot its streams serve.
#[derive(Debug)]
struct Fleet {
    /// `None`: every route.
    selector: Option<RouteSelector>,
    published: watch::Sender<Published>,
}

impl Fleet {
    fn new(selector: Option<RouteSelector>, snapshot: Snapshot) -> Self {
        Self {
            selector,
            published: watch::Sender::new(Published {
                snapshot: Arc::new(snapshot),
                authoritative: false,
            }),
        }
    }

    /// The fleet's part of `config` (borrowed as it is when the fleet gets every route: no
    /// copy of a large configuration on every publish).
    fn config<'c>(&self, config: &'c EnvoyConfig) -> Cow<'c, EnvoyConfig> {
        match &self.selector {
            Some(selector) => Cow::Owned(select_routes(config, selector)),
            None => Cow::Borrowed(config),
        }
    }
}

/// The registry (see the module docs).
#[derive(Debug)]
pub struct Registry {
    /// The snapshot of every route: the local Envoy's, and every Envoy's when no fleets are
    /// configured.
    all: Fleet,
    /// Configured fleets; when there are some, an Envoy of another fleet is refused.
    fleets: BTreeMap<String, Fleet>,
    nodes: Mutex<BTreeMap<u64, NodeStatus>>,
    changed: watch::Sender<u64>,
    versions: AtomicU64,
    connections: AtomicU64,
    metrics: Arc<super::metrics::FleetMetrics>,
}

impl Registry {
    /// A registry serving `seed` (what was last published, restored from disk, or empty) until
    /// the engine publishes; every Envoy gets every route.
    pub fn new(seed: Option<&EnvoyConfig>) -> Result<Self, SnapshotError> {
        Self::with_fleets(seed, BTreeMap::new())
    }

    /// A registry whose configured fleets (an Envoy's `node.cluster`) serve the routes their
    /// selectors select; Envoys of other fleets are refused, except the local one
    /// ([`LOCAL_FLEET`]), which gets every route. No fleets: every Envoy gets every route.
    pub fn with_fleets(
        seed: Option<&EnvoyConfig>,
        fleets: BTreeMap<String, RouteSelector>,
    ) -> Result<Self, SnapshotError> {
        let seeded = |selector: Option<RouteSelector>| -> Result<Fleet, SnapshotError> {
            let mut fleet = Fleet::new(selector, Snapshot::default().with_version(1));
            if let Some(config) = seed {
                let snapshot = Snapshot::build(&fleet.config(config), 1, None)?;
                fleet = Fleet::new(fleet.selector, snapshot);
            }
            Ok(fleet)
        };
        let mut built = BTreeMap::new();
        for (name, selector) in fleets {
            built.insert(name, seeded(Some(selector))?);
        }
        Ok(Self {
            all: seeded(None)?,
            fleets: built,
            nodes: Mutex::new(BTreeMap::new()),
            changed: watch::Sender::new(0),
            versions: AtomicU64::new(1),
            connections: AtomicU64::new(0),
            metrics: Arc::default(),
        })
    }

    /// The counters every Envoy streams (its metrics service stat sink), summed over the fleet.
    pub fn metrics(&self) -> &Arc<super::metrics::FleetMetrics> {
        &self.metrics
    }

    fn every_fleet(&self) -> impl Iterator<Item = (&str, &Fleet)> {
        std::iter::once(("", &self.all)).chain(self.fleets.iter().map(|(n, f)| (n.as_str(), f)))
    }

    /// Encodes `config` (each fleet's part of it, reusing what did not change) and serves it to
    /// every stream. Returns the new version, the same for every fleet. Nothing is served when
    /// one fleet's part does not encode.
    pub fn publish(&self, config: &EnvoyConfig) -> Result<u64, SnapshotError> {
        let version = self.versions.fetch_add(1, Ordering::SeqCst) + 1;
        let mut built = Vec::new();
        for (_, fleet) in self.every_fleet() {
            let previous = fleet.published.borrow().snapshot.clone();
            let snapshot = Snapshot::build(&fleet.config(config), version, Some(&previous))?;
            built.push((fleet, snapshot));
        }
        for (fleet, snapshot) in built {
            fleet.published.send_replace(Published {
                snapshot: Arc::new(snapshot),
                authoritative: true,
            });
        }
        Ok(version)
    }

    /// Every fleet's snapshot (`""` for the one of every route), to restore later.
    pub fn snapshots(&self) -> BTreeMap<String, Arc<Snapshot>> {
        self.every_fleet()
            .map(|(name, fleet)| (name.to_string(), fleet.published.borrow().snapshot.clone()))
            .collect()
    }

    /// Serves `snapshots` (from [`Registry::snapshots`]) again under a new version (after a
    /// rejection: the streams send the resources they count as unknown). Returns the version.
    pub fn restore(&self, snapshots: &BTreeMap<String, Arc<Snapshot>>) -> u64 {
        let version = self.versions.fetch_add(1, Ordering::SeqCst) + 1;
        for (name, fleet) in self.every_fleet() {
            if let Some(snapshot) = snapshots.get(name) {
                fleet.published.send_replace(Published {
                    snapshot: Arc::new(snapshot.with_version(version)),
                    authoritative: true,
                });
            }
        }
        version
    }

    /// What the streams of the Envoys that get every route serve now.
    pub fn current(&self) -> Published {
        self.all.published.borrow().clone()
    }

    /// What the streams of a fleet serve now (`None`: the fleet is refused).
    pub fn current_for(&self, fleet: &str) -> Option<Published> {
        self.fleet(fleet).map(|f| f.published.borrow().clone())
    }

    /// A receiver of every snapshot published for an Envoy of `fleet`; `None` when the fleet
    /// is not configured (fleets are, and it is not the local Envoy's).
    pub fn subscribe(&self, fleet: &str) -> Option<watch::Receiver<Published>> {
        self.fleet(fleet).map(|f| f.published.subscribe())
    }

    fn fleet(&self, name: &str) -> Option<&Fleet> {
        match self.fleets.get(name) {
            Some(fleet) => Some(fleet),
            None if self.fleets.is_empty() || name == LOCAL_FLEET => Some(&self.all),
            None => None,
        }
    }

    /// Registers a connected Envoy; returns its connection number.
    pub fn connect(&self, id: &str, fleet: &str, peer: &str, identity: &str) -> u64 {
        let connection = self.connections.fetch_add(1, Ordering::SeqCst) + 1;
        self.lock().insert(
            connection,
            NodeStatus {
                connection,
                id: id.to_string(),
                fleet: fleet.to_string(),
                peer: peer.to_string(),
                identity: identity.to_string(),
                connected_at: SystemTime::now(),
                live: None,
                nack: None,
                held: BTreeMap::new(),
            },
        );
        self.changed.send_modify(|n| *n += 1);
        connection
    }

    /// Records a stream's progress: its live version, its last rejection and what it holds
    /// (type → name → version, built by the caller, outside the lock).
    pub fn update(
        &self,
        connection: u64,
        live: Option<u64>,
        nack: Option<&Nack>,
        held: BTreeMap<String, BTreeMap<String, String>>,
    ) {
        if let Some(node) = self.lock().get_mut(&connection) {
            node.live = live;
            node.nack = nack.map(NackStatus::from);
            node.held = held;
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Forgets a stream that ended.
    pub fn disconnect(&self, connection: u64) {
        self.lock().remove(&connection);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Every connected Envoy.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        self.lock().values().cloned().collect()
    }

    /// The server at a glance.
    pub fn summary(&self) -> XdsSummary {
        let published = self.current();
        let envoys = self.nodes();
        let mut fleets: BTreeMap<String, FleetSummary> = BTreeMap::new();
        for node in &envoys {
            let fleet = fleets.entry(node.fleet.clone()).or_default();
            fleet.envoys += 1;
            let version = node
                .live
                .map_or_else(|| "none".to_string(), |v| v.to_string());
            *fleet.versions.entry(version).or_default() += 1;
            if let Some(nack) = &node.nack {
                fleet.rejected.insert(node.id.clone(), nack.clone());
            }
        }
        XdsSummary {
            served: published.snapshot.version,
            published: published.authoritative,
            fleets,
            envoys,
        }
    }

    /// Waits until every connected Envoy holds `version` (or a later one), or one rejects it.
    /// Envoys that disconnect stop counting; ones that connect meanwhile count too. The node
    /// ids in `required` must be connected (the local managed Envoy, whose admin interface
    /// applied state is read from).
    pub async fn wait(
        &self,
        version: u64,
        timeout: Duration,
        required: &[&str],
    ) -> Result<Delivery, DeliveryError> {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            let (waiting, envoys) = {
                let nodes = self.lock();
                if let Some((node, nack)) = nodes.values().find_map(|n| {
                    n.nack
                        .as_ref()
                        .filter(|k| k.version == version)
                        .map(|k| (n, k))
                }) {
                    return Err(DeliveryError::Rejected {
                        node: node.id.clone(),
                        fleet: node.fleet.clone(),
                        kind: nack.kind.clone(),
                        version,
                        message: nack.message.clone(),
                    });
                }
                let mut waiting: Vec<String> = nodes
                    .values()
                    .filter(|n| n.live.is_none_or(|live| live < version))
                    .map(|n| n.id.clone())
                    .collect();
                for id in required {
                    if !nodes.values().any(|n| n.id == *id) {
                        waiting.push(format!("{id} (not connected)"));
                    }
                }
                (waiting, nodes.len())
            };
            if waiting.is_empty() {
                return Ok(Delivery { envoys });
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return Err(DeliveryError::TimedOut {
                    waited: timeout,
                    waiting,
                });
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, NodeStatus>> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::snapshot::{test_config, ResourceType};

    #[test]
    fn fleets_get_their_routes_and_unknown_fleets_are_refused() {
        let mut config = test_config(90);
        config.route_config["virtual_hosts"][0]["name"] = serde_json::json!("HTTPRoute/store/cart");
        let fleets = [
            (
                "edge".to_string(),
                RouteSelector::new(vec!["store/*".into()]),
            ),
            (
                "other".to_string(),
                RouteSelector::new(vec!["shop/*".into()]),
            ),
        ]
        .into();
        let registry = Registry::with_fleets(None, fleets).expect("registry");
        assert!(registry.subscribe("edge").is_some());
        assert!(
            registry.subscribe(LOCAL_FLEET).is_some(),
            "the local Envoy is always served"
        );
        assert!(
            registry.subscribe("stranger").is_none(),
            "an unconfigured fleet is refused"
        );
        let version = registry.publish(&config).expect("publishes");
        let edge = registry.current_for("edge").expect("edge").snapshot;
        let other = registry.current_for("other").expect("other").snapshot;
        assert_eq!(edge.version, version);
        assert_eq!(other.version, version);
        assert_eq!(edge.resources(ResourceType::Cluster).len(), 2);
        assert!(other.resources(ResourceType::Cluster).is_empty());
        let vhosts = |s: &Snapshot| {
            s.get(ResourceType::RouteConfiguration, "meshcd_http")
                .map(|e| e.json["virtual_hosts"].as_array().map_or(0, Vec::len))
        };
        assert_eq!((vhosts(&edge), vhosts(&other)), (Some(1), Some(0)));
        let saved = registry.snapshots();
        registry.publish(&test_config(10)).expect("publishes");
        let back = registry.restore(&saved);
        assert_eq!(
            registry
                .current_for("edge")
                .map(|p| p.snapshot.resources(ResourceType::Cluster).clone()),
            Some(edge.resources(ResourceType::Cluster).clone())
        );
        assert_eq!(registry.current().snapshot.version, back);
        assert!(Registry::new(None)
            .expect("open")
            .subscribe("anything")
            .is_some());
    }

    #[tokio::test]
    async fn waits_for_every_envoy_and_reports_a_rejection() {
        let registry = Arc::new(Registry::new(None).expect("empty"));
        assert_eq!(
            registry.wait(1, Duration::from_millis(10), &[]).await,
            Ok(Delivery { envoys: 0 }),
            "no Envoy: nothing to wait for"
        );
        let a = registry.connect("a", "edge", "unix socket", "local");
        let b = registry.connect("b", "edge", "unix socket", "local");
        let version = registry.publish(&test_config(90)).expect("publishes");
        assert!(registry.current().authoritative);
        let none = BTreeMap::new;
        registry.update(a, Some(version), None, none());
        let timed_out = registry
            .wait(version, Duration::from_millis(20), &["a"])
            .await;
        assert!(
            matches!(&timed_out, Err(DeliveryError::TimedOut { waiting, .. }) if waiting == &["b"]),
            "{timed_out:?}"
        );
        let waiter = {
            let registry = registry.clone();
            tokio::spawn(async move {
                registry
                    .wait(version, Duration::from_secs(30), &["a"])
                    .await
            })
        };
        tokio::task::yield_now().await;
        registry.update(b, Some(version), None, none());
        assert_eq!(waiter.await.expect("joins"), Ok(Delivery { envoys: 2 }));

        let next = registry.publish(&test_config(50)).expect("publishes");
        let nack = Nack {
            version: next,
            kind: ResourceType::RouteConfiguration,
            message: "no".into(),
        };
        registry.update(b, Some(version), Some(&nack), none());
        let rejected = registry.wait(next, Duration::from_secs(30), &[]).await;
        assert_eq!(
            rejected.map_err(|e| e.to_string()),
            Err(format!(
                "Envoy `b` (fleet `edge`) rejected RDS of version {next}: no"
            ))
        );
        let summary = registry.summary();
        assert_eq!(summary.served, next);
        let edge = &summary.fleets["edge"];
        assert_eq!(edge.envoys, 2);
        assert_eq!(edge.versions, [(version.to_string(), 2)].into());
        assert_eq!(edge.rejected.keys().collect::<Vec<_>>(), vec!["b"]);
        registry.disconnect(b);
        registry.update(a, Some(next), None, none());
        assert_eq!(
            registry.wait(next, Duration::from_secs(30), &["a"]).await,
            Ok(Delivery { envoys: 1 })
        );
        let missing = registry
            .wait(next, Duration::from_millis(10), &["local"])
            .await;
        assert!(
            matches!(&missing, Err(DeliveryError::TimedOut { waiting, .. }) if waiting == &["local (not connected)"]),
            "{missing:?}"
        );
    }
}
