//! Cloud Service Mesh service routing API (`networkservices.googleapis.com/v1`), in the YAML form
//! `gcloud network-services <kind> import` takes: fields at the top level, camelCase.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// HttpRoute: hostnames, meshes/gateways and ordered rules.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRoute {
    /// Full or short name (`projects/P/locations/global/httpRoutes/N` or `N`).
    pub name: Option<String>,
    /// Free text, at most 1024 characters.
    pub description: Option<String>,
    /// Hosts the route serves (required).
    pub hostnames: Vec<String>,
    /// Meshes the route attaches to.
    pub meshes: Vec<String>,
    /// Gateways the route attaches to.
    pub gateways: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Ordered rules: the first that matches wins.
    pub rules: Vec<HttpRouteRule>,
}

/// One rule of an HttpRoute: matches are OR'd, a rule without matches matches everything.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteRule {
    /// Alternatives; empty matches everything.
    pub matches: Vec<HttpRouteMatch>,
    /// What to do with a matched request.
    pub action: Option<HttpRouteAction>,
}

/// A request match: fields inside are AND'd.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteMatch {
    /// Exact path.
    pub full_path_match: Option<String>,
    /// Path prefix.
    pub prefix_match: Option<String>,
    /// RE2 regular expression on the path.
    pub regex_match: Option<String>,
    /// Case-insensitive path matching.
    pub ignore_case: Option<bool>,
    /// Header matches.
    pub headers: Vec<HeaderMatch>,
    /// Query parameter matches.
    pub query_parameters: Vec<Value>,
}

/// A header match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderMatch {
    /// Header name.
    pub header: Option<String>,
    /// Exact value.
    pub exact_match: Option<String>,
    /// RE2 regular expression.
    pub regex_match: Option<String>,
    /// Prefix.
    pub prefix_match: Option<String>,
    /// Presence.
    pub present_match: Option<bool>,
    /// Suffix.
    pub suffix_match: Option<String>,
    /// Integer range.
    pub range_match: Option<Value>,
    /// Inverts the match.
    pub invert_match: Option<bool>,
}

/// What an HttpRoute rule does.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteAction {
    /// Weighted destinations.
    pub destinations: Vec<Destination>,
    /// A redirect instead of forwarding.
    pub redirect: Option<Redirect>,
    /// Fault injection.
    pub fault_injection_policy: Option<FaultInjectionPolicy>,
    /// Request header changes.
    pub request_header_modifier: Option<Value>,
    /// Response header changes.
    pub response_header_modifier: Option<Value>,
    /// Path and host rewrite.
    pub url_rewrite: Option<Value>,
    /// Request timeout, e.g. `30s`.
    pub timeout: Option<String>,
    /// Retry policy.
    pub retry_policy: Option<RetryPolicy>,
    /// Mirroring.
    pub request_mirror_policy: Option<Value>,
    /// CORS.
    pub cors_policy: Option<Value>,
    /// Cookie-based session affinity.
    pub stateful_session_affinity: Option<Value>,
    /// A fixed response.
    pub direct_response: Option<Value>,
    /// Idle timeout.
    pub idle_timeout: Option<String>,
}

/// A weighted backend service.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// `projects/P/locations/global/backendServices/NAME`.
    pub service_name: Option<String>,
    /// Weight: all destinations weighted, or none (equal split).
    pub weight: Option<i64>,
    /// Request header changes for this destination.
    pub request_header_modifier: Option<Value>,
    /// Response header changes for this destination.
    pub response_header_modifier: Option<Value>,
}

/// An HTTP redirect.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Redirect {
    /// Host to redirect to.
    pub host_redirect: Option<String>,
    /// Path to redirect to; excludes `prefixRewrite`.
    pub path_redirect: Option<String>,
    /// Prefix rewrite; excludes `pathRedirect`.
    pub prefix_rewrite: Option<String>,
    /// `MOVED_PERMANENTLY_DEFAULT` (301), `FOUND` (302), `SEE_OTHER` (303),
    /// `TEMPORARY_REDIRECT` (307), `PERMANENT_REDIRECT` (308).
    pub response_code: Option<String>,
    /// Switch to https.
    pub https_redirect: Option<bool>,
    /// Drop the query.
    pub strip_query: Option<bool>,
    /// Port to redirect to.
    pub port_redirect: Option<i64>,
}

/// Fault injection.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultInjectionPolicy {
    /// Delay `{fixedDelay, percentage}`.
    pub delay: Option<Percentaged>,
    /// Abort `{httpStatus, percentage}`.
    pub abort: Option<Percentaged>,
}

/// The part of a fault that carries a percentage and maybe a status.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Percentaged {
    /// 0–100.
    pub percentage: Option<i64>,
    /// For aborts: 200–599.
    pub http_status: Option<i64>,
    /// For delays.
    pub fixed_delay: Option<String>,
}

/// Retries.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RetryPolicy {
    /// Conditions such as `5xx`, `connect-failure`.
    pub retry_conditions: Vec<String>,
    /// Must be > 0.
    pub num_retries: Option<i64>,
    /// Timeout of each try.
    pub per_try_timeout: Option<String>,
}

/// GrpcRoute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRoute {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// `host[:port]` hostnames.
    pub hostnames: Vec<String>,
    /// Meshes.
    pub meshes: Vec<String>,
    /// Gateways.
    pub gateways: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Rules, first match wins.
    pub rules: Vec<GrpcRouteRule>,
}

/// A GrpcRoute rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteRule {
    /// Matches (method and headers).
    pub matches: Vec<Value>,
    /// Action.
    pub action: Option<GrpcRouteAction>,
}

/// A GrpcRoute action.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteAction {
    /// Weighted destinations.
    pub destinations: Vec<Destination>,
    /// Fault injection.
    pub fault_injection_policy: Option<FaultInjectionPolicy>,
    /// Timeout.
    pub timeout: Option<String>,
    /// Retries.
    pub retry_policy: Option<RetryPolicy>,
    /// Session affinity.
    pub stateful_session_affinity: Option<Value>,
    /// Idle timeout.
    pub idle_timeout: Option<String>,
}

/// TcpRoute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRoute {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Meshes.
    pub meshes: Vec<String>,
    /// Gateways.
    pub gateways: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Rules.
    pub rules: Vec<TcpRouteRule>,
}

/// A TcpRoute rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRouteRule {
    /// `{address: CIDR, port}` matches.
    pub matches: Vec<TcpMatch>,
    /// Action.
    pub action: Option<TcpRouteAction>,
}

/// A TcpRoute match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpMatch {
    /// IPv4 CIDR.
    pub address: Option<String>,
    /// Port, as a string in the API.
    pub port: Option<Value>,
}

/// A TcpRoute action: destinations or originalDestination, never both.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRouteAction {
    /// Weighted destinations.
    pub destinations: Vec<Destination>,
    /// Send to the original destination.
    pub original_destination: Option<bool>,
    /// Idle timeout.
    pub idle_timeout: Option<String>,
}

/// TlsRoute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRoute {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Meshes.
    pub meshes: Vec<String>,
    /// Gateways.
    pub gateways: Vec<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Rules.
    pub rules: Vec<TlsRouteRule>,
}

/// A TlsRoute rule: matches and destinations are required.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRouteRule {
    /// SNI and ALPN matches.
    pub matches: Vec<TlsMatch>,
    /// Action.
    pub action: Option<TlsRouteAction>,
}

/// A TlsRoute match: sniHost and/or alpn.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsMatch {
    /// SNI hosts.
    pub sni_host: Vec<String>,
    /// ALPN protocols.
    pub alpn: Vec<String>,
}

/// A TlsRoute action.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRouteAction {
    /// Weighted destinations.
    pub destinations: Vec<Destination>,
    /// Idle timeout.
    pub idle_timeout: Option<String>,
}

/// Mesh.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Mesh {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Port the sidecar intercepts on (default 15001).
    pub interception_port: Option<i64>,
    /// `NONE` or `DEBUG_HEADERS`.
    pub envoy_headers: Option<String>,
}

/// Gateway.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Gateway {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `OPEN_MESH` or `SECURE_WEB_GATEWAY`.
    #[serde(rename = "type")]
    pub gateway_type: Option<String>,
    /// Ports (required).
    pub ports: Vec<i64>,
    /// Scope: Gateways of one scope merge.
    pub scope: Option<String>,
}

/// The short name of a networkservices resource path such as
/// `projects/p/locations/global/httpRoutes/r` (its last segment).
pub fn short_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
