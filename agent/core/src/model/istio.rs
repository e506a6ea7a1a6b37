//! Istio `networking.istio.io` and `security.istio.io` resources (v1, v1beta1, v1alpha3).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// VirtualService spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualServiceSpec {
    /// Destination hosts the rules apply to.
    pub hosts: Vec<String>,
    /// Gateways; empty means `mesh`. `external-mesh` is Cloud Service Mesh's name for clients
    /// outside the cluster, such as Cloud Run.
    pub gateways: Vec<String>,
    /// Ordered HTTP rules.
    pub http: Vec<HttpRoute>,
    /// Ordered TLS rules.
    pub tls: Vec<Value>,
    /// Ordered TCP rules.
    pub tcp: Vec<Value>,
    /// Namespaces the route is visible in.
    pub export_to: Vec<String>,
}

/// An HTTP rule of a VirtualService.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRoute {
    /// Rule name.
    pub name: Option<String>,
    /// Alternatives; only the last rule may lack a match.
    #[serde(rename = "match")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    pub route: Vec<HttpRouteDestination>,
    /// A redirect: excludes `route`, `fault`, `rewrite`, `directResponse`.
    pub redirect: Option<Value>,
    /// A fixed response.
    pub direct_response: Option<Value>,
    /// Rewrite.
    pub rewrite: Option<Value>,
    /// Timeout.
    pub timeout: Option<String>,
    /// Retries.
    pub retries: Option<Value>,
    /// Fault injection.
    pub fault: Option<Value>,
    /// Mirror destination.
    pub mirror: Option<Value>,
    /// Mirror share.
    pub mirror_percentage: Option<Value>,
    /// CORS.
    pub cors_policy: Option<Value>,
    /// Header changes.
    pub headers: Option<Value>,
    /// Delegation to another VirtualService.
    pub delegate: Option<Value>,
}

/// A match of an HTTP rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpMatchRequest {
    /// Match name.
    pub name: Option<String>,
    /// URI match.
    pub uri: Option<Value>,
    /// Header matches.
    pub headers: BTreeMap<String, Value>,
    /// Port.
    pub port: Option<i64>,
    /// Source labels (ignored for `external-mesh`).
    pub source_labels: BTreeMap<String, String>,
    /// Gateways (ignored for `external-mesh`).
    pub gateways: Vec<String>,
    /// Source namespace (ignored for `external-mesh`).
    pub source_namespace: Option<String>,
    /// Method.
    pub method: Option<Value>,
    /// Query parameters.
    pub query_params: BTreeMap<String, Value>,
}

/// A weighted destination.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteDestination {
    /// Where to send traffic.
    pub destination: Destination,
    /// Relative weight; need not sum to 100.
    pub weight: Option<i64>,
    /// Header changes.
    pub headers: Option<Value>,
}

/// A destination host, subset and port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// Service host, short (`ads`) or fully qualified (`ads.prod.svc.cluster.local`).
    pub host: String,
    /// Subset from a DestinationRule.
    pub subset: Option<String>,
    /// Port `{number}`.
    pub port: Option<Value>,
}

/// DestinationRule spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DestinationRuleSpec {
    /// Host the rule applies to.
    pub host: String,
    /// Traffic policy (load balancing, TLS, outlier detection...).
    pub traffic_policy: Option<Value>,
    /// Named subsets.
    pub subsets: Vec<Subset>,
    /// Visibility.
    pub export_to: Vec<String>,
}

/// A named subset of a DestinationRule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Subset {
    /// Subset name.
    pub name: String,
    /// Pod labels.
    pub labels: BTreeMap<String, String>,
    /// Traffic policy.
    pub traffic_policy: Option<Value>,
}

/// ServiceEntry spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntrySpec {
    /// Hosts.
    pub hosts: Vec<String>,
    /// Addresses.
    pub addresses: Vec<String>,
    /// Ports.
    pub ports: Vec<Value>,
    /// `MESH_INTERNAL` or `MESH_EXTERNAL`.
    pub location: Option<String>,
    /// `NONE`, `STATIC`, `DNS`, `DNS_ROUND_ROBIN`.
    pub resolution: Option<String>,
    /// Inline endpoints.
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// Selects WorkloadEntries.
    pub workload_selector: Option<Value>,
    /// Visibility.
    pub export_to: Vec<String>,
}

/// WorkloadEntry spec (also used for inline ServiceEntry endpoints).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadEntrySpec {
    /// Address (IP or DNS name).
    pub address: Option<String>,
    /// Port map, name to number.
    pub ports: BTreeMap<String, i64>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Network.
    pub network: Option<String>,
    /// Locality.
    pub locality: Option<String>,
    /// Weight.
    pub weight: Option<i64>,
    /// Service account.
    pub service_account: Option<String>,
}

/// PeerAuthentication spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerAuthenticationSpec {
    /// Workload selector; none means the whole namespace.
    pub selector: Option<Value>,
    /// `{mode: STRICT|PERMISSIVE|DISABLE|UNSET}`.
    pub mtls: Option<Mtls>,
    /// Per-port modes.
    pub port_level_mtls: BTreeMap<String, Mtls>,
}

/// An mTLS mode.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Mtls {
    /// `STRICT`, `PERMISSIVE`, `DISABLE` or `UNSET`.
    pub mode: Option<String>,
}

/// The gateway name that means "sidecars in the mesh".
pub const MESH_GATEWAY: &str = "mesh";
/// The Cloud Service Mesh gateway name for clients outside the cluster (Cloud Run).
pub const EXTERNAL_MESH_GATEWAY: &str = "external-mesh";
