//! Snapshots: one version of a fleet's configuration, encoded once and shared by every stream.
//!
//! A [`Snapshot`] holds the listeners, clusters and route configurations of one
//! [`EnvoyConfig`], each encoded as an `Any` with a *resource version*: the first 16 hex digits
//! of the SHA-256 of its encoding. Content-addressed versions are what makes delta xDS cheap:
//! a stream sends a resource only when the version the Envoy holds differs, so a weight change
//! sends one route configuration and nothing else, and a meshcd that restarts with the same
//! configuration sends nothing at all to Envoys that reconnect (they tell their versions in
//! `initial_resource_versions`). [`Snapshot::build`] reuses the encoding of every resource whose
//! JSON is unchanged from the previous snapshot, so only changed resources are encoded.

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::google::protobuf::Any;
use meshcd_core::envoy::EnvoyConfig;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::encode::{self, EncodeError};

/// The xDS resource types meshcd serves, in the order a change is sent: clusters before the
/// listeners and routes that use them (and removed clusters last, see [`super::stream`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    /// CDS.
    Cluster,
    /// LDS.
    Listener,
    /// RDS.
    RouteConfiguration,
}

impl ResourceType {
    /// Every type, in sending order.
    pub const ALL: [Self; 3] = [Self::Cluster, Self::Listener, Self::RouteConfiguration];

    /// The type URL of the type's resources and discovery requests.
    pub fn type_url(self) -> &'static str {
        match self {
            Self::Cluster => meshcd_core::envoy::CLUSTER_TYPE,
            Self::Listener => meshcd_core::envoy::LISTENER_TYPE,
            Self::RouteConfiguration => meshcd_core::envoy::ROUTE_CONFIG_TYPE,
        }
    }

    /// The type of a type URL, if meshcd serves it.
    pub fn from_type_url(url: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.type_url() == url)
    }

    /// The short name (`CDS`, `LDS`, `RDS`).
    pub fn short(self) -> &'static str {
        match self {
            Self::Cluster => "CDS",
            Self::Listener => "LDS",
            Self::RouteConfiguration => "RDS",
        }
    }

    /// True for the types an Envoy asks for as a whole (wildcard): listeners and clusters.
    pub fn is_wildcard(self) -> bool {
        !matches!(self, Self::RouteConfiguration)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.short())
    }
}

/// One encoded resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its version: a hash of its encoding.
    pub version: String,
    /// The encoded resource.
    pub any: Any,
    /// The JSON it was encoded from (for CSDS and reuse).
    pub json: Arc<Json>,
}

/// The resources of one type, by name.
pub type Resources = BTreeMap<String, Arc<Entry>>;

/// One version of a fleet's configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The snapshot's version, increasing over the server's life (`system_version_info`).
    pub version: u64,
    resources: [Resources; 3],
}

/// Why a configuration cannot become a snapshot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind} `{name}`: {source}")]
pub struct SnapshotError {
    /// The resource type.
    pub kind: ResourceType,
    /// The resource's name.
    pub name: String,
    /// Why it cannot be encoded.
    #[source]
    pub source: EncodeError,
}

impl Snapshot {
    /// The snapshot of `config` as version `version`, reusing the encodings of `previous`
    /// wherever a resource's JSON is unchanged.
    pub fn build(
        config: &EnvoyConfig,
        version: u64,
        previous: Option<&Snapshot>,
    ) -> Result<Self, SnapshotError> {
        let mut snapshot = Snapshot {
            version,
            resources: Default::default(),
        };
        let listeners = config.listeners.iter().map(|l| (name_of(l), l));
        let clusters = config.clusters.iter().map(|(n, c)| (n.clone(), c));
        let routes = std::iter::once((name_of(&config.route_config), &config.route_config));
        let all: [(ResourceType, Vec<(String, &Json)>); 3] = [
            (ResourceType::Cluster, clusters.collect()),
            (ResourceType::Listener, listeners.collect()),
            (ResourceType::RouteConfiguration, routes.collect()),
        ];
        for (kind, items) in all {
            for (name, json) in items {
                let reused = previous
                    .and_then(|p| p.get(kind, &name))
                    .filter(|e| e.json.as_ref() == json);
                let entry = match reused {
                    Some(entry) => entry.clone(),
                    None => Arc::new(encode_entry(json).map_err(|source| SnapshotError {
                        kind,
                        name: name.clone(),
                        source,
                    })?),
                };
                snapshot.resources[kind.index()].insert(name, entry);
            }
        }
        Ok(snapshot)
    }

    /// The resources of one type.
    pub fn resources(&self, kind: ResourceType) -> &Resources {
        &self.resources[kind.index()]
    }

    /// One resource.
    pub fn get(&self, kind: ResourceType, name: &str) -> Option<&Arc<Entry>> {
        self.resources[kind.index()].get(name)
    }

    /// The snapshot for one Envoy whose listeners bind `address` instead of the configured one
    /// (an Envoy's node metadata `meshcd.dev/listen-address`: the VM's own address). Only the
    /// listeners are encoded again, reusing `previous` (this Envoy's last one) where unchanged.
    pub fn with_listen_address(
        &self,
        address: &str,
        previous: Option<&Snapshot>,
    ) -> Result<Self, SnapshotError> {
        let mut local = self.clone();
        let listeners = &mut local.resources[ResourceType::Listener.index()];
        for (name, entry) in listeners.iter_mut() {
            let mut json = entry.json.as_ref().clone();
            match json.pointer_mut("/address/socket_address/address") {
                Some(value) => *value = Json::String(address.to_string()),
                None => continue,
            }
            let reused = previous
                .and_then(|p| p.get(ResourceType::Listener, name))
                .filter(|e| e.json.as_ref() == &json);
            *entry = match reused {
                Some(entry) => entry.clone(),
                None => Arc::new(encode_entry(&json).map_err(|source| SnapshotError {
                    kind: ResourceType::Listener,
                    name: name.clone(),
                    source,
                })?),
            };
        }
        Ok(local)
    }

    /// The same resources under another version number.
    pub fn with_version(&self, version: u64) -> Self {
        Self {
            version,
            resources: self.resources.clone(),
        }
    }

    /// The configuration the snapshot holds, back as JSON.
    #[cfg(test)]
    pub fn to_config(&self) -> Option<EnvoyConfig> {
        let route_config = self
            .resources(ResourceType::RouteConfiguration)
            .values()
            .next()?
            .json
            .as_ref()
            .clone();
        Some(EnvoyConfig {
            listeners: self
                .resources(ResourceType::Listener)
                .values()
                .map(|e| e.json.as_ref().clone())
                .collect(),
            clusters: self
                .resources(ResourceType::Cluster)
                .iter()
                .map(|(n, e)| (n.clone(), e.json.as_ref().clone()))
                .collect(),
            route_config,
        })
    }
}

fn name_of(resource: &Json) -> String {
    resource
        .get("name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

fn encode_entry(json: &Json) -> Result<Entry, EncodeError> {
    let any = encode::encode(json)?;
    let digest = Sha256::digest(&any.value);
    Ok(Entry {
        version: hex::encode(&digest[..8]),
        any,
        json: Arc::new(json.clone()),
    })
}

/// A small configuration (one listener, clusters `a` and `b`, one route splitting
/// `weight`/`100 - weight`), for tests.
#[cfg(test)]
pub(crate) fn test_config(weight: u32) -> EnvoyConfig {
    let cluster = |name: &str| {
        serde_json::json!({"@type": ResourceType::Cluster.type_url(), "name": name,
            "connect_timeout": "1s", "type": "STATIC"})
    };
    EnvoyConfig {
        listeners: vec![
            serde_json::json!({"@type": ResourceType::Listener.type_url(),
            "name": "meshcd_http",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}}}),
        ],
        clusters: [
            ("a".to_string(), cluster("a")),
            ("b".to_string(), cluster("b")),
        ]
        .into_iter()
        .collect(),
        route_config: serde_json::json!({"@type": ResourceType::RouteConfiguration.type_url(),
            "name": "meshcd_http", "virtual_hosts": [{"name": "v", "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
                {"name": "a", "weight": weight}, {"name": "b", "weight": 100 - weight}]}}}]}]}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(weight: u32) -> EnvoyConfig {
        test_config(weight)
    }

    #[test]
    fn versions_follow_content_and_unchanged_resources_are_reused() {
        let first = Snapshot::build(&config(90), 1, None).expect("builds");
        let again = Snapshot::build(&config(90), 2, None).expect("builds");
        let moved = Snapshot::build(&config(50), 3, Some(&first)).expect("builds");
        let route = |s: &Snapshot| {
            s.get(ResourceType::RouteConfiguration, "meshcd_http")
                .cloned()
        };
        assert_eq!(
            route(&first).map(|e| e.version.clone()),
            route(&again).map(|e| e.version.clone())
        );
        assert_ne!(
            route(&first).map(|e| e.version.clone()),
            route(&moved).map(|e| e.version.clone())
        );
        let a = |s: &Snapshot| s.get(ResourceType::Cluster, "a").cloned().expect("a");
        assert!(
            Arc::ptr_eq(&a(&first), &a(&moved)),
            "unchanged cluster encoded again"
        );
        assert_eq!(moved.resources(ResourceType::Cluster).len(), 2);
        assert_eq!(moved.to_config(), Some(config(50)));
    }

    #[test]
    fn a_listen_address_changes_only_the_listeners() {
        let served = Snapshot::build(&config(90), 1, None).expect("builds");
        let local = served
            .with_listen_address("127.0.0.2", None)
            .expect("localizes");
        let listener = local
            .get(ResourceType::Listener, "meshcd_http")
            .expect("listener");
        assert_eq!(
            listener.json["address"]["socket_address"]["address"],
            "127.0.0.2"
        );
        assert_ne!(
            Some(&listener.version),
            served
                .get(ResourceType::Listener, "meshcd_http")
                .map(|e| &e.version)
        );
        let a = |s: &Snapshot| s.get(ResourceType::Cluster, "a").cloned().expect("a");
        assert!(Arc::ptr_eq(&a(&served), &a(&local)));
        let again = served
            .with_listen_address("127.0.0.2", Some(&local))
            .expect("localizes");
        let l = |s: &Snapshot| {
            s.get(ResourceType::Listener, "meshcd_http")
                .cloned()
                .expect("l")
        };
        assert!(Arc::ptr_eq(&l(&local), &l(&again)), "encoded again");
    }

    #[test]
    fn every_resource_of_the_translation_fixture_encodes() {
        // The fixture with every field the Envoy translation knows (HTTP, gRPC, TCP, TLS
        // routes, CORS, sessions, faults, mirrors ...): every `@type` it emits must be among
        // the descriptors, and every field must follow the protobuf JSON mapping.
        let text = include_str!("../../core/src/envoy/fixtures/kitchen.yaml");
        let loaded = meshcd_core::load(vec![meshcd_core::SourceFile::new("kitchen.yaml", text)]);
        let settings = meshcd_core::envoy::EnvoySettings {
            rds_source: meshcd_core::envoy::RdsSource::Ads,
            ..Default::default()
        };
        let config = meshcd_core::envoy::translate(&loaded, &settings).expect("translates");
        let snapshot = Snapshot::build(&config, 1, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            snapshot.resources(ResourceType::Cluster).len(),
            config.clusters.len()
        );
        assert!(
            snapshot.resources(ResourceType::Listener).len() > 1,
            "HTTP and layer-4 listeners"
        );
    }

    #[test]
    fn an_unencodable_resource_names_itself() {
        let mut bad = config(90);
        bad.clusters.insert(
            "c".into(),
            json!({"@type": ResourceType::Cluster.type_url(), "name": "c", "connect_timeout": "x"}),
        );
        let error = Snapshot::build(&bad, 1, None).expect_err("refused");
        assert_eq!(
            (error.kind, error.name.as_str()),
            (ResourceType::Cluster, "c")
        );
        assert!(error.to_string().starts_with("CDS `c`: "), "{error}");
    }
}
