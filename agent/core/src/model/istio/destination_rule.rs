//! DestinationRule: a host's traffic policy (load balancing, connection pool, outlier
//! detection, TLS) and its named subsets.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{nullable, PortSelector, WorkloadSelector};

/// DestinationRule spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DestinationRuleSpec {
    /// Host the rule applies to.
    pub host: String,
    /// Traffic policy (JSON; typed view [`TrafficPolicy`]).
    pub traffic_policy: Option<Value>,
    /// Named subsets.
    #[serde(deserialize_with = "nullable")]
    pub subsets: Vec<Subset>,
    /// Visibility.
    #[serde(deserialize_with = "nullable")]
    pub export_to: Vec<String>,
    /// Workloads the rule applies to (none: every client that sees it).
    pub workload_selector: Option<WorkloadSelector>,
}

/// A named subset of a DestinationRule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Subset {
    /// Subset name.
    pub name: String,
    /// Pod labels.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// Traffic policy (JSON; typed view [`TrafficPolicy`]).
    pub traffic_policy: Option<Value>,
}

/// Typed view of a traffic policy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<ClientTlsSettings>,
    /// Per-port policies.
    #[serde(deserialize_with = "nullable")]
    pub port_level_settings: Vec<PortTrafficPolicy>,
    /// Tunnelling.
    pub tunnel: Option<TunnelSettings>,
    /// Upstream PROXY protocol.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Retry budget.
    pub retry_budget: Option<RetryBudget>,
}

/// A policy for one port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PortTrafficPolicy {
    /// The port.
    pub port: Option<PortSelector>,
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Outlier detection.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS.
    pub tls: Option<ClientTlsSettings>,
}

/// Load balancing: `simple` or `consistentHash`, plus locality and warmup settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LoadBalancerSettings {
    /// `LEAST_REQUEST`, `ROUND_ROBIN`, ...
    pub simple: Option<String>,
    /// Consistent hashing.
    pub consistent_hash: Option<ConsistentHash>,
    /// Locality load balancing.
    pub locality_lb_setting: Option<LocalityLbSetting>,
    /// Deprecated warmup duration.
    pub warmup_duration_secs: Option<String>,
    /// Warmup.
    pub warmup: Option<Warmup>,
}

/// Consistent hashing: one hash key, and `ringHash` or `maglev`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsistentHash {
    /// Hash a header.
    pub http_header_name: Option<String>,
    /// Hash a cookie.
    pub http_cookie: Option<HttpCookie>,
    /// Hash the source IP.
    pub use_source_ip: Option<bool>,
    /// Hash a query parameter.
    pub http_query_parameter_name: Option<String>,
    /// Ring hash.
    pub ring_hash: Option<RingHash>,
    /// Maglev.
    pub maglev: Option<Maglev>,
    /// Deprecated ring size.
    pub minimum_ring_size: Option<i64>,
}

/// The cookie of a consistent hash.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpCookie {
    /// Name (required).
    pub name: Option<String>,
    /// Path.
    pub path: Option<String>,
    /// Lifetime (a duration; 0 is a session cookie).
    pub ttl: Option<String>,
    /// Extra attributes.
    #[serde(deserialize_with = "nullable")]
    pub attributes: Vec<CookieAttribute>,
}

/// A cookie attribute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CookieAttribute {
    /// Name.
    pub name: Option<String>,
    /// Value.
    pub value: Option<String>,
}

/// Ring hash settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RingHash {
    /// Minimum ring size.
    pub minimum_ring_size: Option<i64>,
}

/// Maglev settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Maglev {
    /// Table size (a prime below 5,000,011).
    pub table_size: Option<i64>,
}

/// Locality load balancing.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalityLbSetting {
    /// Weighted distribution by locality.
    #[serde(deserialize_with = "nullable")]
    pub distribute: Vec<LocalityDistribute>,
    /// Failover between regions.
    #[serde(deserialize_with = "nullable")]
    pub failover: Vec<LocalityFailover>,
    /// Labels that order endpoints for failover.
    #[serde(deserialize_with = "nullable")]
    pub failover_priority: Vec<String>,
    /// On or off.
    pub enabled: Option<bool>,
}

/// Traffic from one locality, shared among others.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalityDistribute {
    /// Origin locality (`region/zone/subzone`, `*` last).
    pub from: Option<String>,
    /// Destination localities and weights (summing to 100).
    #[serde(deserialize_with = "nullable")]
    pub to: BTreeMap<String, i64>,
}

/// Failover from one region to another.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalityFailover {
    /// From region.
    pub from: Option<String>,
    /// To region.
    pub to: Option<String>,
}

/// Warmup of new endpoints.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Warmup {
    /// Duration (required).
    pub duration: Option<String>,
    /// Starting share, 0 to 100.
    pub minimum_percent: Option<f64>,
    /// Curve, at least 1.
    pub aggression: Option<f64>,
}

/// Connection pool.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    pub http: Option<HttpSettings>,
}

/// TCP connection pool settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpSettings {
    /// Maximum connections.
    pub max_connections: Option<i64>,
    /// Connect timeout (a duration).
    pub connect_timeout: Option<String>,
    /// Keepalive.
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum connection lifetime (a duration).
    pub max_connection_duration: Option<String>,
    /// Idle timeout (a duration; 0s disables it).
    pub idle_timeout: Option<String>,
}

/// TCP keepalive.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpKeepalive {
    /// Probes.
    pub probes: Option<i64>,
    /// Idle time before probes (a duration).
    pub time: Option<String>,
    /// Time between probes (a duration).
    pub interval: Option<String>,
}

/// HTTP connection pool settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpSettings {
    /// Pending HTTP/1 requests.
    pub http1_max_pending_requests: Option<i64>,
    /// Concurrent requests.
    pub http2_max_requests: Option<i64>,
    /// Requests per connection.
    pub max_requests_per_connection: Option<i64>,
    /// Outstanding retries.
    pub max_retries: Option<i64>,
    /// Idle timeout (a duration).
    pub idle_timeout: Option<String>,
    /// `DEFAULT`, `DO_NOT_UPGRADE` or `UPGRADE`.
    pub h2_upgrade_policy: Option<String>,
    /// Keep the client's protocol.
    pub use_client_protocol: Option<bool>,
    /// Concurrent HTTP/2 streams.
    pub max_concurrent_streams: Option<i64>,
}

/// Outlier detection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OutlierDetection {
    /// Separate local-origin failures.
    pub split_external_local_origin_errors: Option<bool>,
    /// Local-origin failures before ejection.
    pub consecutive_local_origin_failures: Option<i64>,
    /// Gateway errors before ejection.
    pub consecutive_gateway_errors: Option<i64>,
    /// 5xx errors before ejection.
    pub consecutive_5xx_errors: Option<i64>,
    /// Deprecated error count.
    pub consecutive_errors: Option<i64>,
    /// Sweep interval (a duration).
    pub interval: Option<String>,
    /// Minimum ejection time (a duration).
    pub base_ejection_time: Option<String>,
    /// Maximum share of hosts ejected, 0 to 100.
    pub max_ejection_percent: Option<i64>,
    /// Minimum healthy share, 0 to 100.
    pub min_health_percent: Option<i64>,
}

/// Upstream TLS settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientTlsSettings {
    /// `DISABLE`, `SIMPLE`, `MUTUAL` or `ISTIO_MUTUAL`.
    pub mode: Option<String>,
    /// Client certificate file.
    pub client_certificate: Option<String>,
    /// Private key file.
    pub private_key: Option<String>,
    /// CA certificates file.
    pub ca_certificates: Option<String>,
    /// Secret with the certificates.
    pub credential_name: Option<String>,
    /// Names to verify.
    #[serde(deserialize_with = "nullable")]
    pub subject_alt_names: Vec<String>,
    /// SNI.
    pub sni: Option<String>,
    /// Skip verification.
    pub insecure_skip_verify: Option<bool>,
    /// CRL file.
    pub ca_crl: Option<String>,
}

/// Tunnelling settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TunnelSettings {
    /// `CONNECT` or `POST`.
    pub protocol: Option<String>,
    /// Host to tunnel to (required).
    pub target_host: Option<String>,
    /// Port to tunnel to (required).
    pub target_port: Option<i64>,
}

/// Upstream PROXY protocol.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyProtocol {
    /// `V1` or `V2`.
    pub version: Option<String>,
}

/// Retry budget.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RetryBudget {
    /// Share of active requests, 0 to 100.
    pub percent: Option<f64>,
    /// Minimum retry concurrency.
    pub min_retry_concurrency: Option<i64>,
}
