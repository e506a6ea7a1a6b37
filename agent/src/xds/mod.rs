//! meshcd's xDS control plane: serves Envoy's aggregated discovery service (delta, v3) to any
//! number of Envoys, local (a Unix socket) or remote (TCP with mTLS), with per-version ACK/NACK,
//! and the client status discovery service (CSDS).
//!
//! # Why delta xDS (and not state of the world)
//! - **Only what changed travels.** A resource is sent when the version an Envoy holds differs
//!   from the served one; versions are hashes of the encoded resource ([`snapshot`]), so a
//!   weight change sends one route configuration to each Envoy and a re-sent identical
//!   configuration sends nothing. State of the world would send every cluster again whenever
//!   one changes.
//! - **Reconnects are free.** An Envoy that reconnects (meshcd restarted, a network blip) tells
//!   what it holds in `initial_resource_versions`; when that is what meshcd serves, nothing is
//!   sent and nothing is drained.
//! - **Removals are explicit** (`removed_resources`), so make-before-break order is the server's
//!   choice: new clusters, then listeners and routes, then removed clusters ([`stream`]).
//!
//! # Flow
//! The engine publishes an [`EnvoyConfig`](meshcd_core::envoy::EnvoyConfig) (the same JSON
//! file delivery writes) to the [`Registry`]; it is encoded once ([`encode`], reusing unchanged
//! resources) into a [`Snapshot`], which every stream serves ([`server`]). Each stream is a pure
//! state machine ([`stream`]) reporting back what its Envoy holds, whether the snapshot is live
//! on it, and Envoy's reason when it rejects one. [`Registry::wait`] is the proof of delivery: a
//! version is live when every connected Envoy ACKed all of it; a NACK fails the wait with the
//! node and Envoy's message.
//!
//! # Who may connect
//! The Unix socket is created with mode 0600 (the local managed Envoy runs as meshcd's user).
//! TCP needs mTLS ([`tls`]): a client certificate signed by the configured CA whose identity is
//! admitted; a node that is not admitted is refused at the handshake and gets nothing. Plain TCP
//! is allowed only on a loopback address.

pub mod csds;
pub mod encode;
pub mod metrics;
pub mod registry;
pub mod server;
pub mod snapshot;
pub mod stream;
pub mod tls;

pub use metrics::FleetMetrics;
pub use registry::{
    Delivery, DeliveryError, FleetSummary, NodeStatus, Published, Registry, XdsSummary, LOCAL_FLEET,
};
pub use server::{XdsOptions, XdsServer};
pub use snapshot::{ResourceType, Snapshot, SnapshotError};
pub use tls::{Admission, TlsFiles};

/// Why the xDS server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum XdsError {
    /// A listener could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address or socket path.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Plain TCP was asked for off a loopback address.
    #[error(
        "xDS on {address} needs mTLS (`xds.tls`): plain TCP is only allowed on a loopback address"
    )]
    PlainOffLoopback {
        /// The address.
        address: String,
    },
    /// The TLS files are unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}
