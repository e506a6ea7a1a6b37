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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use envoy_types::pb::envoy::r#type::matcher::v3::StringMatcher;

    use super::*;
    use crate::xds::snapshot::test_config;
    use crate::xds::stream::Nack;

    fn matcher(pattern: MatchPattern) -> NodeMatcher {
        NodeMatcher {
            node_id: Some(StringMatcher {
                match_pattern: Some(pattern),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn node_matchers_select_envoys_by_id() {
        assert!(matches(&[], "edge-1"));
        assert!(matches(
            &[matcher(MatchPattern::Exact("edge-1".into()))],
            "edge-1"
        ));
        assert!(!matches(
            &[matcher(MatchPattern::Exact("edge-1".into()))],
            "edge-10"
        ));
        assert!(matches(
            &[matcher(MatchPattern::Prefix("edge-".into()))],
            "edge-10"
        ));
        assert!(matches(
            &[matcher(MatchPattern::Suffix("-10".into()))],
            "edge-10"
        ));
        assert!(matches(
            &[matcher(MatchPattern::Contains("ge-1".into()))],
            "edge-10"
        ));
    }

    #[test]
    fn each_resource_says_whether_it_is_the_served_one_and_whether_it_was_rejected() {
        let registry = Arc::new(Registry::new(None).expect("registry"));
        let version = registry.publish(&test_config(90)).expect("publishes");
        let served = registry.current().snapshot;
        let routes = served
            .get(ResourceType::RouteConfiguration, "meshcd_http")
            .expect("routes")
            .version
            .clone();
        let synced = registry.connect("e1", "edge", "unix socket", "local");
        let stale = registry.connect("e2", "edge", "unix socket", "local");
        let held = |version: String| -> BTreeMap<String, BTreeMap<String, String>> {
            [(
                ResourceType::RouteConfiguration.short().to_string(),
                [("meshcd_http".to_string(), version)].into(),
            )]
            .into()
        };
        registry.update(synced, Some(version), None, held(routes.clone()));
        let nack = Nack {
            version,
            kind: ResourceType::RouteConfiguration,
            message: "weights".into(),
        };
        registry.update(stale, None, Some(&nack), held("old".into()));
        let csds = Csds::new(registry);
        let answer = csds.answer(&ClientStatusRequest::default());
        let by_node: BTreeMap<String, &GenericXdsConfig> = answer
            .config
            .iter()
            .map(|c| {
                let id = c.node.as_ref().map(|n| n.id.clone()).unwrap_or_default();
                (id, &c.generic_xds_configs[0])
            })
            .collect();
        let e1 = by_node["e1"];
        assert_eq!(e1.version_info, routes);
        assert_eq!(e1.config_status, ConfigStatus::Synced as i32);
        assert_eq!(e1.client_status, ClientResourceStatus::Acked as i32);
        assert!(e1.xds_config.is_some());
        let e2 = by_node["e2"];
        assert_eq!(e2.config_status, ConfigStatus::Stale as i32);
        assert_eq!(e2.client_status, ClientResourceStatus::Nacked as i32);
        assert!(
            e2.xds_config.is_none(),
            "a stale copy is not the served resource"
        );
        assert_eq!(
            e2.error_state.as_ref().map(|e| e.details.as_str()),
            Some("weights")
        );
        let only = csds.answer(&ClientStatusRequest {
            node_matchers: vec![matcher(MatchPattern::Exact("e2".into()))],
            exclude_resource_contents: true,
            ..Default::default()
        });
        assert_eq!(only.config.len(), 1);
    }
}
