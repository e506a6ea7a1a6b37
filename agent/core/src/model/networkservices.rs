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
    pub query_parameters: Vec<QueryParameterMatch>,
}

/// A query parameter match: exactly one of `exactMatch`, `regexMatch` and `presentMatch`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryParameterMatch {
    /// The parameter's name.
    pub query_parameter: Option<String>,
    /// Exact value.
    pub exact_match: Option<String>,
    /// RE2 regular expression.
    pub regex_match: Option<String>,
    /// Presence.
    pub present_match: Option<bool>,
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
    /// Integer range, start inclusive, end exclusive.
    pub range_match: Option<IntegerRange>,
    /// Inverts the match.
    pub invert_match: Option<bool>,
}

impl HeaderMatch {
    /// The match types set (the API's `MatchType` oneof), by field name.
    pub fn match_types(&self) -> Vec<&'static str> {
        [
            ("exactMatch", self.exact_match.is_some()),
            ("regexMatch", self.regex_match.is_some()),
            ("prefixMatch", self.prefix_match.is_some()),
            ("presentMatch", self.present_match.is_some()),
            ("suffixMatch", self.suffix_match.is_some()),
            ("rangeMatch", self.range_match.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// An integer range of a header match: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct IntegerRange {
    /// First value in the range.
    pub start: Option<i64>,
    /// First value past the range.
    pub end: Option<i64>,
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
    pub request_header_modifier: Option<HeaderModifier>,
    /// Response header changes.
    pub response_header_modifier: Option<HeaderModifier>,
    /// Path and host rewrite.
    pub url_rewrite: Option<UrlRewrite>,
    /// Request timeout, e.g. `30s`.
    pub timeout: Option<String>,
    /// Retry policy.
    pub retry_policy: Option<RetryPolicy>,
    /// Mirroring.
    pub request_mirror_policy: Option<RequestMirrorPolicy>,
    /// CORS.
    pub cors_policy: Option<CorsPolicy>,
    /// Cookie-based session affinity.
    pub stateful_session_affinity: Option<StatefulSessionAffinity>,
    /// A fixed response.
    pub direct_response: Option<DirectResponse>,
    /// Idle timeout.
    pub idle_timeout: Option<String>,
}

/// Header changes: `set` replaces, `add` appends, `remove` drops.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderModifier {
    /// Headers to overwrite.
    pub set: BTreeMap<String, String>,
    /// Headers to add.
    pub add: BTreeMap<String, String>,
    /// Header names to remove.
    pub remove: Vec<String>,
}

/// A rewrite of the request before it is forwarded.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct UrlRewrite {
    /// Replaces the matched part of the path.
    pub path_prefix_rewrite: Option<String>,
    /// Replaces the host header.
    pub host_rewrite: Option<String>,
}

/// Mirroring of requests to a shadow destination.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestMirrorPolicy {
    /// The shadow destination (its weight is ignored).
    pub destination: Option<Destination>,
    /// Share of requests mirrored, 0–100.
    pub mirror_percent: Option<f64>,
}

/// CORS settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CorsPolicy {
    /// Allowed origins.
    pub allow_origins: Vec<String>,
    /// Allowed origins, as RE2 regular expressions.
    pub allow_origin_regexes: Vec<String>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: Vec<String>,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: Vec<String>,
    /// `Access-Control-Expose-Headers`.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age`, in seconds (a string in the API).
    pub max_age: Option<Value>,
    /// `Access-Control-Allow-Credentials`.
    pub allow_credentials: Option<bool>,
    /// Turns the policy off.
    pub disabled: Option<bool>,
}

/// Cookie-based stateful session affinity.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSessionAffinity {
    /// Lifetime of the session cookie, `0s`–`86400s` (required).
    pub cookie_ttl: Option<String>,
}

/// A fixed response: a status and at most one of the two bodies.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DirectResponse {
    /// HTTP status (required).
    pub status: Option<i64>,
    /// Body as text, at most 1024 characters.
    pub string_body: Option<String>,
    /// Body as base64 bytes, at most 4096 bytes.
    pub bytes_body: Option<String>,
}

/// A weighted backend service.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// `projects/P/locations/global/backendServices/NAME`.
    pub service_name: Option<String>,
    /// Weight: all destinations weighted, or none (equal split).
    pub weight: Option<i64>,
    /// Request header changes for this destination (HttpRoute only).
    pub request_header_modifier: Option<HeaderModifier>,
    /// Response header changes for this destination (HttpRoute only).
    pub response_header_modifier: Option<HeaderModifier>,
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
    pub delay: Option<FaultDelay>,
    /// Abort `{httpStatus, percentage}`.
    pub abort: Option<FaultAbort>,
}

/// A delay injected into a share of requests.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultDelay {
    /// How long, e.g. `2s`.
    pub fixed_delay: Option<String>,
    /// 0–100.
    pub percentage: Option<i64>,
}

/// An abort injected into a share of requests.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultAbort {
    /// 200–599.
    pub http_status: Option<i64>,
    /// 0–100.
    pub percentage: Option<i64>,
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
    /// Matches (method and headers); none matches every call.
    pub matches: Vec<GrpcRouteMatch>,
    /// Action (required).
    pub action: Option<GrpcRouteAction>,
}

/// A GrpcRoute match: its method and headers are AND'd.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteMatch {
    /// The method to match.
    pub method: Option<MethodMatch>,
    /// Header matches.
    pub headers: Vec<GrpcHeaderMatch>,
}

/// A gRPC method match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MethodMatch {
    /// `EXACT` (the default) or `REGULAR_EXPRESSION`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// The service, e.g. `payments.v1.Payments` (required).
    pub grpc_service: Option<String>,
    /// The method, e.g. `Refund` (required).
    pub grpc_method: Option<String>,
    /// Case-sensitive matching (default true); not with `REGULAR_EXPRESSION`.
    pub case_sensitive: Option<bool>,
}

/// A gRPC header match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcHeaderMatch {
    /// `EXACT` (the default) or `REGULAR_EXPRESSION`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// Header name (required).
    pub key: Option<String>,
    /// Value or pattern (required).
    pub value: Option<String>,
}

/// A GrpcRoute action.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRouteAction {
    /// Weighted destinations.
    pub destinations: Vec<RouteDestination>,
    /// Fault injection.
    pub fault_injection_policy: Option<FaultInjectionPolicy>,
    /// Timeout.
    pub timeout: Option<String>,
    /// Retries (no per-try timeout in gRPC routes).
    pub retry_policy: Option<GrpcRetryPolicy>,
    /// Session affinity.
    pub stateful_session_affinity: Option<StatefulSessionAffinity>,
    /// Idle timeout.
    pub idle_timeout: Option<String>,
}

/// Retries of a GrpcRoute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcRetryPolicy {
    /// Conditions such as `unavailable`, `connect-failure`.
    pub retry_conditions: Vec<String>,
    /// Must be > 0.
    pub num_retries: Option<i64>,
}

/// A weighted backend service of a GrpcRoute, TcpRoute or TlsRoute.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteDestination {
    /// `projects/P/locations/global/backendServices/NAME` (required).
    pub service_name: Option<String>,
    /// Weight: all destinations weighted, or none (equal split).
    pub weight: Option<i64>,
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
    pub destinations: Vec<RouteDestination>,
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
    /// Target proxies the route attaches to (listed by the v1 discovery document).
    pub target_proxies: Vec<String>,
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
    pub destinations: Vec<RouteDestination>,
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
    /// Ports, 1–65535 (required; one for `SECURE_WEB_GATEWAY`).
    pub ports: Vec<i64>,
    /// Scope: Gateways of one scope merge. At most 64 characters.
    pub scope: Option<String>,
    /// Addresses the gateway listens on (`SECURE_WEB_GATEWAY`).
    pub addresses: Vec<String>,
    /// Listen on every port (discovery document field).
    pub all_ports: Option<bool>,
    /// Accept clients from every region (discovery document field).
    pub allow_global_access: Option<bool>,
    /// ServerTlsPolicy URL.
    pub server_tls_policy: Option<String>,
    /// Certificate URLs (`SECURE_WEB_GATEWAY`).
    pub certificate_urls: Vec<String>,
    /// GatewaySecurityPolicy URL (`SECURE_WEB_GATEWAY`).
    pub gateway_security_policy: Option<String>,
    /// VPC network (`SECURE_WEB_GATEWAY`).
    pub network: Option<String>,
    /// Subnetwork (`SECURE_WEB_GATEWAY`).
    pub subnetwork: Option<String>,
    /// `IPV4` (the default) or `IPV6`.
    pub ip_version: Option<String>,
    /// `NONE` or `DEBUG_HEADERS`.
    pub envoy_headers: Option<String>,
    /// `EXPLICIT_ROUTING_MODE` or `NEXT_HOP_ROUTING_MODE` (`SECURE_WEB_GATEWAY`).
    pub routing_mode: Option<String>,
}

/// Top-level fields the API server sets and ignores on input (`gcloud ... export` writes them).
pub const OUTPUT_ONLY: &[&str] = &["selfLink", "createTime", "updateTime", "etag"];

/// The short name of a networkservices resource path such as
/// `projects/p/locations/global/httpRoutes/r` (its last segment).
pub fn short_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
