//! The Envoy target's pure half: routes → Envoy v3 resources, and Envoy state → plans.
//!
//! meshcd's embedded default target is a local Envoy configured through file-based xDS (LDS,
//! CDS and RDS files renamed into a watched folder). This module does no I/O: [`translate()`]
//! turns a loaded revision into an [`EnvoyConfig`] (the HTTP listener and one listener per port
//! of TCP, TLS and UDP routes, one cluster per backend, one route configuration),
//! [`EnvoyState`] normalizes both that config and what Envoy's admin `/config_dump` reports,
//! and [`diff()`] compares two states as a meshcd [`Plan`](crate::plan::Plan).
//!
//! # Names
//! - **Virtual hosts**: one per HTTP or gRPC route resource, named after the resource id,
//!   `<Kind>/<namespace>/<name>` or `<Kind>/<name>` without a namespace (`HttpRoute/target-route`,
//!   `VirtualService/ads/ads`, `HTTPRoute/store/store`); [`vhost_name`] and [`parse_vhost_name`]
//!   go both ways. Kind names are unique among route kinds (`HttpRoute` is networkservices,
//!   `HTTPRoute` Gateway API).
//! - **Routes** inside a virtual host are named after the rule they come from, relative to the
//!   spec (`rules[0]`, `http[1]`); a rule with several matches gives one route per match,
//!   `rules[0].matches[1]`.
//! - **Filter chains** of TCP and TLS routes: [`chain_name`], the virtual host name of the route,
//!   `#` and the rule (and match) it comes from (`TCPRoute/db/pg#rules[0]`,
//!   `TlsRoute/sni#rules[1].matches[0]`); [`parse_chain_name`] reads it back. A UDP listener
//!   names its route the same way in its metadata (`filter_metadata.meshcd.route`).
//! - **Listeners**: `meshcd_http` (settings' `http_port`), `meshcd_tcp_<port>`,
//!   `meshcd_tls_<port>` and `meshcd_udp_<port>`.
//! - **Clusters**: see [`cluster_name`]: the backend's name (networkservices: the backend
//!   service's short name; Istio: the fully qualified host; Gateway API: the object name), with
//!   `_<subset>` appended for an Istio subset, every character outside `[A-Za-z0-9._-]` replaced
//!   by `_` (`target`, `target-green`, `ads.ads.svc.cluster.local_v2`).
//!
//! # Endpoints
//! A cluster's endpoints come from, in order: a meshcd `Backend` whose `metadata.name` or one of
//! whose `spec.aliases` equals one of the backend's names (networkservices: short name or full
//! `serviceName`; Istio: `host` or `host/subset`, as written or fully qualified, or the cluster
//! name; Gateway API: `name`, `namespace/name` or `name.namespace.svc.cluster.local`); else an
//! Istio ServiceEntry for the host (inline `endpoints`, WorkloadEntries its `workloadSelector`
//! selects, or the host itself with `resolution: DNS`), filtered by the subset's labels from the
//! DestinationRule. Otherwise translation fails: declare a meshcd Backend.
//!
//! # What is translated
//! Every field of HTTP and gRPC routes of the three families that Envoy can express: path,
//! header, query parameter, method and gRPC method matches; weighted destinations with each
//! family's weight semantics; redirects, direct responses, URL rewrites, header modifiers,
//! timeouts, retries, fault injection and mirroring; CORS (networkservices and Istio
//! `corsPolicy`, the Gateway API `CORS` filter) as the CORS filter's per-route policy; session
//! affinity (networkservices `statefulSessionAffinity`, Gateway API `sessionPersistence`) as the
//! stateful session filter's per-route cookie or header; Istio DestinationRule load balancing
//! and outlier detection. The listener gets the CORS, fault and stateful session filters only
//! when some route uses them. Gateway API rules are ordered by the API's match precedence
//! (exact path, longest prefix, method, most headers, most query parameters); the other
//! families keep rule order.
//!
//! TCP, TLS and UDP routes get listeners of their own (`translate/l4.rs` says how): TCPRoute
//! (networkservices and Gateway API) as `tcp_proxy` filter chains with weighted clusters, each
//! matching networkservices' destination `address` range on its `port`, or everything on each
//! Gateway API parentRef's `port`; TLSRoute (both families) as TLS passthrough, chains matching
//! the SNI (`server_names`) and networkservices' ALPN after a `tls_inspector`, on the ports of
//! a networkservices TlsRoute's Gateways (the settings' `tls_port` for a mesh) or each Gateway
//! API parentRef's `port`; Gateway API UDPRoute as a `udp_proxy` to one cluster. Rollouts move
//! the weights of TCP and TLS routes like those of HTTP routes ([`set_route_weights`]).
//!
//! Anything else is a [`TranslateError`] naming the resource, the field and why: Istio
//! `delegate` and `tcp`/`tls` rules, source-based matches (`sourceLabels`, `sourceNamespace`,
//! `gateways`, `port`), Gateway API `ExtensionRef` filters and `backendRequest` timeouts,
//! DestinationRule `consistentHash` and other policies beside load balancing and outlier
//! detection; networkservices TcpRoute `originalDestination` (on meshcd's listener, with no
//! traffic interception, the original destination is Envoy itself); a Gateway API layer-4
//! parentRef without `port` (meshcd does not load Gateways to find a `sectionName`'s port); a
//! UDPRoute sending traffic to more than one backend (Envoy 1.40's `udp_proxy` has no weighted
//! clusters); session `idleTimeout`, and an `absoluteTimeout` Envoy cannot enforce (on a session
//! cookie or a header). Nothing is dropped silently.
//!
//! A Gateway API split whose weights are all zero answers `500` (`direct_response`), as the API
//! asks, since Envoy rejects an all-zero weighted cluster; a TCP or TLS one closes connections.
//! Envoy's TCP proxy takes no cluster of weight 0: those are left out of it and listed with the
//! others in the chain's metadata (see `weights.rs`). Two route resources claiming the same
//! hostname cannot share Envoy's route table and are an error; so are two claiming the same SNI
//! or address range on a port, a port shared by TCP and TLS routes or taken by the HTTP
//! listener, and matches of one TCP or TLS route that Envoy (most specific first) would order
//! unlike the API (first match first).
//!
//! Wildcard hostnames (`*.example.com`) are kept as they are; exact hostnames also get a
//! `host:*` domain, since Envoy matches the `Host` header with its port. (A domain takes one
//! wildcard only, so a wildcard hostname matches a `Host` header without a port.)

mod diff;
mod fleet;
mod state;
mod translate;
mod weights;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub use diff::diff;
pub use fleet::{select_routes, RouteSelector};
pub use state::EnvoyState;
pub use translate::{
    chain_name, cluster_name, parse_chain_name, parse_vhost_name, translate, vhost_name,
};
pub use weights::{
    all_weights_are_valid, same_but_weights, set_route_weights, split_clusters, weights_are_valid,
};

use crate::model::{Resource, ResourceId};
use crate::path::FieldPath;
use crate::source::Location;

/// `@type` of a listener.
pub const LISTENER_TYPE: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
/// `@type` of a cluster.
pub const CLUSTER_TYPE: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
/// `@type` of a route configuration.
pub const ROUTE_CONFIG_TYPE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/// The node id and cluster (its fleet) in the bootstrap of the Envoy meshcd manages itself.
pub const LOCAL_NODE: &str = "meshcd";

/// The node metadata key whose string value is the address an Envoy's listeners bind instead
/// of the configured one (an Envoy of a fleet on its own VM address, or several on one host).
pub const LISTEN_ADDRESS_METADATA: &str = "meshcd.dev/listen-address";

/// The name of meshcd's HTTP listener.
pub const LISTENER_NAME: &str = "meshcd_http";

/// Where and how the local Envoy listens, and where its RDS file lives. Fields left out of a
/// configuration file take their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvoySettings {
    /// Address of the HTTP listener (default `127.0.0.1`).
    pub listen_address: String,
    /// Port of the HTTP listener (default `10000`).
    pub http_port: u16,
    /// Port of the TLS listener of networkservices TlsRoutes attached to a mesh (default `443`;
    /// TlsRoutes of a networkservices Gateway use the Gateway's ports).
    pub tls_port: u16,
    /// Name of the route configuration the listener asks RDS for (default `meshcd_http`).
    pub route_config_name: String,
    /// `connect_timeout` of every cluster, as a duration such as `1s` or `250ms` (default `1s`).
    pub cluster_connect_timeout: String,
    /// Path of the RDS file; its folder is the watched directory (default
    /// `/var/lib/meshcd/envoy/rds.yaml`). The runtime sets it to where it writes the file.
    pub rds_path: String,
    /// Where the listener's connection manager takes its routes from (default: the RDS file).
    pub rds_source: RdsSource,
}

/// Where the HTTP listener's routes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RdsSource {
    /// The RDS file at [`EnvoySettings::rds_path`] (file delivery).
    #[default]
    File,
    /// The aggregated discovery service the listener came from (xDS delivery).
    Ads,
}

impl EnvoySettings {
    /// Checks the settings a user can get wrong: the connect timeout must be a duration, the
    /// RDS path must name a file, the listen address must not be empty. [`translate()`] does not
    /// check them: a bad value reaches Envoy, which rejects it.
    pub fn validate(&self) -> Result<(), String> {
        if translate::value::duration(&self.cluster_connect_timeout).is_none() {
            return Err(format!(
                "cluster_connect_timeout `{}` is not a duration such as `1s` or `250ms`",
                self.cluster_connect_timeout
            ));
        }
        if self.rds_path.is_empty() || self.rds_path.ends_with('/') {
            return Err(format!("rds_path `{}` names no file", self.rds_path));
        }
        if self.listen_address.trim().is_empty() {
            return Err("listen_address is empty".into());
        }
        Ok(())
    }
}

impl Default for EnvoySettings {
    fn default() -> Self {
        Self {
            listen_address: "127.0.0.1".into(),
            http_port: 10000,
            tls_port: 443,
            route_config_name: "meshcd_http".into(),
            cluster_connect_timeout: "1s".into(),
            rds_path: "/var/lib/meshcd/envoy/rds.yaml".into(),
            rds_source: RdsSource::File,
        }
    }
}

/// The Envoy v3 resources of one revision, in JSON form (each top-level resource has its
/// `@type`). Deterministic: the same revision and settings give the same value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvoyConfig {
    /// Listeners (LDS): meshcd's HTTP listener first, then those of TCP, TLS and UDP routes by
    /// port.
    pub listeners: Vec<Json>,
    /// Clusters (CDS) by name.
    pub clusters: BTreeMap<String, Json>,
    /// The route configuration (RDS).
    pub route_config: Json,
}

/// Something of a revision the Envoy target cannot express.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, thiserror::Error)]
#[error("{location}: {resource}: {}{message}", field_prefix(.field))]
pub struct TranslateError {
    /// Where the field is (file, line, column).
    pub location: Location,
    /// The resource.
    pub resource: ResourceId,
    /// The field (root for the whole resource).
    pub field: FieldPath,
    /// Why it cannot be translated.
    pub message: String,
}

fn field_prefix(field: &FieldPath) -> String {
    if field.is_root() {
        String::new()
    } else {
        format!("{field}: ")
    }
}

impl TranslateError {
    /// An error about a field of a resource.
    pub fn new(resource: &Resource, field: &FieldPath, message: impl Into<String>) -> Self {
        Self {
            location: resource.locate(field),
            resource: resource.id.clone(),
            field: field.clone(),
            message: message.into(),
        }
    }
}
