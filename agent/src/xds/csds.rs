//! The client status discovery service (CSDS): which Envoy holds which version of each
//! resource, as Traffic Director answers it, so standard Envoy tooling can ask meshcd.
//!
//! For every connected Envoy (or those whose node id a request's `node_matchers` name: exact,
//! prefix, suffix or contains), one `ClientConfig` lists each resource it holds with its
//! version; `SYNCED` when that is the version served now, `STALE` when not yet; `NACKED` with
//! Envoy's message for a rejected type. The resource itself comes along unless the request sets
//! `exclude_resource_contents` (and only while it is the one served).

use std::pin::Pin;
use std::sync::Arc;

use envoy_types::pb::envoy::admin::v3::ClientResourceStatus;
use envoy_types::pb::envoy::admin::v3::UpdateFailureState;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::matcher::v3::NodeMatcher;
use envoy_types::pb::envoy::service::status::v3::client_config::GenericXdsConfig;
use envoy_types::pb::envoy::service::status::v3::client_status_discovery_service_server::ClientStatusDiscoveryService;
use envoy_types::pb::envoy::service::status::v3::{
    ClientConfig, ClientStatusRequest, ClientStatusResponse, ConfigStatus,
};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::registry::{NodeStatus, Registry};
use super::snapshot::ResourceType;

/// The CSDS service over the registry.
#[derive(Debug, Clone)]
pub struct Csds {
    registry: Arc<Registry>,
}

impl Csds {
    /// CSDS for the Envoys of `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }

    /// The answer to one request (pure but for reading the registry).
    pub fn answer(&self, request: &ClientStatusRequest) -> ClientStatusResponse {
        let config = self
            .registry
            .nodes()
            .iter()
            .filter(|node| matches(&request.node_matchers, &node.id))
            .filter_map(|node| {
                let served = self.registry.current_for(&node.fleet)?.snapshot;
                Some(client_config(
                    node,
                    &served,
                    request.exclude_resource_contents,
                ))
            })
            .collect();
        ClientStatusResponse { config }
    }
}

fn matches(matchers: &[NodeMatcher], id: &str) -> bool {
    matchers.is_empty()
        || matchers.iter().any(|m| {
            match m.node_id.as_ref().and_then(|s| s.match_pattern.as_ref()) {
                Some(MatchPattern::Exact(x)) => id == x,
                Some(MatchPattern::Prefix(x)) => id.starts_with(x.as_str()),
                Some(MatchPattern::Suffix(x)) => id.ends_with(x.as_str()),
                Some(MatchPattern::Contains(x)) => id.contains(x.as_str()),
                Some(_) => false,
                None => true,
            }
        })
}

fn client_config(
    node: &NodeStatus,
    served: &crate::xds::snapshot::Snapshot,
    exclude_contents: bool,
) -> ClientConfig {
    let mut configs = Vec::new();
    for kind in ResourceType::ALL {
        let held = node.held.get(kind.short());
        let nack = node.nack.as_ref().filter(|n| n.kind == kind.short());
        for (name, version) in held.into_iter().flatten() {
            let current = served.get(kind, name);
            let synced = current.is_some_and(|e| &e.version == version);
            configs.push(GenericXdsConfig {
                type_url: kind.type_url().to_string(),
                name: name.clone(),
                version_info: version.clone(),
                xds_config: current
                    .filter(|_| synced && !exclude_contents)
                    .map(|e| e.any.clone()),
                config_status: if synced {
                    ConfigStatus::Synced
                } else {
                    ConfigStatus::Stale
                } as i32,
                client_status: if nack.is_some() {
                    ClientResourceStatus::Nacked
                } else {
                    ClientResourceStatus::Acked
                } as i32,
                error_state: nack.map(|n| UpdateFailureState {
                    details: n.message.clone(),
                    version_info: n.version.to_string(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    ClientConfig {
        node: Some(Node {
            id: node.id.clone(),
            cluster: node.fleet.clone(),
            ..Default::default()
        }),
        generic_xds_configs: configs,
        ..Default::default()
    }
}

type Boxed<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl ClientStatusDiscoveryService for Csds {
    type StreamClientStatusStream = Boxed<ClientStatusResponse>;

    async fn stream_client_status(
        &self,
        request: Request<Streaming<ClientStatusRequest>>,
    ) -> Result<Response<Self::StreamClientStatusStream>, Status> {
        let this = self.clone();
        let answers = request
            .into_inner()
            .map(move |request| request.map(|r| this.answer(&r)));
        Ok(Response::new(Box::pin(answers)))
    }

    async fn fetch_client_status(
        &self,
        request: Request<ClientStatusRequest>,
    ) -> Result<Response<ClientStatusResponse>, Status> {
        Ok(Response::new(self.answer(request.get_ref())))
    }
}
