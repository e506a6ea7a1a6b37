//! VirtualService: hosts, gateways and ordered `http`, `tls` and `tcp` rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{nullable, Destination, Percent, StringMatch};

/// VirtualService spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualServiceSpec {
    /// Destination hosts the rules apply to; none makes it a delegate VirtualService.
    #[serde(deserialize_with = "nullable")]
    pub hosts: Vec<String>,
    /// Gateways; empty means `mesh`. `external-mesh` is Cloud Service Mesh's name for clients
    /// outside the cluster, such as Cloud Run.
    #[serde(deserialize_with = "nullable")]
    pub gateways: Vec<String>,
    /// Ordered HTTP rules.
    #[serde(deserialize_with = "nullable")]
    pub http: Vec<HttpRoute>,
    /// Ordered TLS (SNI) rules.
    #[serde(deserialize_with = "nullable")]
    pub tls: Vec<TlsRoute>,
    /// Ordered TCP rules.
    #[serde(deserialize_with = "nullable")]
    pub tcp: Vec<TcpRoute>,
    /// Namespaces the route is visible in (`.`, `*` or names; none means all).
    #[serde(deserialize_with = "nullable")]
    pub export_to: Vec<String>,
}

/// An HTTP rule of a VirtualService.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRoute {
    /// Rule name.
    pub name: Option<String>,
    /// Alternatives; only the last rule may lack a match.
    #[serde(rename = "match", deserialize_with = "nullable")]
    pub matches: Vec<HttpMatchRequest>,
    /// Weighted destinations.
    #[serde(deserialize_with = "nullable")]
    pub route: Vec<HttpRouteDestination>,
    /// A redirect: excludes `route`, `fault`, `rewrite`, `directResponse` (JSON; typed view
    /// [`HttpRedirect`]).
    pub redirect: Option<Value>,
    /// A fixed response.
    pub direct_response: Option<HttpDirectResponse>,
    /// Delegation to another VirtualService.
    pub delegate: Option<Delegate>,
    /// Rewrite of the path or authority.
    pub rewrite: Option<HttpRewrite>,
    /// Timeout (a duration).
    pub timeout: Option<String>,
    /// Retries.
    pub retries: Option<HttpRetry>,
    /// Fault injection (JSON; typed view [`HttpFaultInjection`]).
    pub fault: Option<Value>,
    /// Mirror destination.
    pub mirror: Option<Destination>,
    /// Mirror share of `mirror` (JSON; typed view [`Percent`]).
    pub mirror_percentage: Option<Value>,
    /// Deprecated whole-number mirror share.
    pub mirror_percent: Option<i64>,
    /// Deprecated whole-number mirror share, in the proto's own spelling.
    #[serde(rename = "mirror_percent")]
    pub mirror_percent_proto: Option<i64>,
    /// Several mirror destinations, each with its share.
    #[serde(deserialize_with = "nullable")]
    pub mirrors: Vec<HttpMirrorPolicy>,
    /// CORS.
    pub cors_policy: Option<CorsPolicy>,
    /// Header changes.
    pub headers: Option<Headers>,
}

/// A match of an HTTP rule (fields AND'd).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpMatchRequest {
    /// Match name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// URI match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<StringMatch>,
    /// Scheme match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<StringMatch>,
    /// Method match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<StringMatch>,
    /// Authority match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<StringMatch>,
    /// Header matches (`null` is refused by Istio).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub headers: BTreeMap<String, Option<StringMatch>>,
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Source labels (ignored for `external-mesh`).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    /// Gateways (ignored for `external-mesh`).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Query parameter matches.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub query_params: BTreeMap<String, Option<StringMatch>>,
    /// Case-insensitive URI match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_uri_case: Option<bool>,
    /// Headers that must not match.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub without_headers: BTreeMap<String, Option<StringMatch>>,
    /// Source namespace (ignored for `external-mesh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
    /// Prefix of the route's statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stat_prefix: Option<String>,
}

/// A weighted destination of an HTTP rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRouteDestination {
    /// Where to send traffic.
    pub destination: Destination,
    /// Relative weight; need not sum to 100.
    pub weight: Option<i64>,
    /// Header changes.
    pub headers: Option<Headers>,
}

/// Request and response header changes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Headers {
    /// Changes to the request.
    pub request: Option<HeaderOperations>,
    /// Changes to the response.
    pub response: Option<HeaderOperations>,
}

/// Header operations.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderOperations {
    /// Overwrite.
    #[serde(deserialize_with = "nullable")]
    pub set: BTreeMap<String, String>,
    /// Append.
    #[serde(deserialize_with = "nullable")]
    pub add: BTreeMap<String, String>,
    /// Remove.
    #[serde(deserialize_with = "nullable")]
    pub remove: Vec<String>,
}

/// A fixed response.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpDirectResponse {
    /// Status code (required).
    pub status: Option<i64>,
    /// Body.
    pub body: Option<HttpBody>,
}

/// A response body: `string` or base64 `bytes`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpBody {
    /// Text.
    pub string: Option<String>,
    /// Base64 bytes.
    pub bytes: Option<String>,
}

/// Delegation of an HTTP rule to another VirtualService.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Delegate {
    /// VirtualService name.
    pub name: Option<String>,
    /// Its namespace (default: this one).
    pub namespace: Option<String>,
}

/// A rewrite of the path or authority.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRewrite {
    /// New path or prefix.
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// Regex rewrite of the path.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// A regex rewrite: `match` (RE2) and `rewrite`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RegexRewrite {
    /// The pattern.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// The replacement.
    pub rewrite: Option<String>,
}

/// Retry policy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRetry {
    /// Number of retries; 0 disables retries.
    pub attempts: Option<i64>,
    /// Timeout of each attempt (a duration).
    pub per_try_timeout: Option<String>,
    /// Comma-separated retry conditions.
    pub retry_on: Option<String>,
    /// Retry to other localities.
    pub retry_remote_localities: Option<bool>,
    /// Avoid previously tried hosts.
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Minimum time between attempts (a duration).
    pub backoff: Option<String>,
}

/// CORS policy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CorsPolicy {
    /// Allowed origins.
    #[serde(deserialize_with = "nullable")]
    pub allow_origins: Vec<StringMatch>,
    /// Deprecated exact origins.
    #[serde(deserialize_with = "nullable")]
    pub allow_origin: Vec<String>,
    /// Allowed methods.
    #[serde(deserialize_with = "nullable")]
    pub allow_methods: Vec<String>,
    /// Allowed request headers.
    #[serde(deserialize_with = "nullable")]
    pub allow_headers: Vec<String>,
    /// Response headers browsers may read.
    #[serde(deserialize_with = "nullable")]
    pub expose_headers: Vec<String>,
    /// Preflight cache time (a duration, whole seconds).
    pub max_age: Option<String>,
    /// Allow credentials.
    pub allow_credentials: Option<bool>,
    /// `FORWARD` or `IGNORE` for preflights that match no origin.
    pub unmatched_preflights: Option<String>,
}

/// A mirror destination and its share.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpMirrorPolicy {
    /// Where copies go.
    pub destination: Option<Destination>,
    /// Share mirrored.
    pub percentage: Option<Percent>,
}

/// A TLS (SNI) rule of a VirtualService.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsRoute {
    /// Matches (required, each with SNI hosts).
    #[serde(rename = "match", deserialize_with = "nullable")]
    pub matches: Vec<TlsMatchAttributes>,
    /// Weighted destinations.
    #[serde(deserialize_with = "nullable")]
    pub route: Vec<RouteDestination>,
}

/// A TCP rule of a VirtualService.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct TcpRoute {
    /// Matches.
    #[serde(rename = "match", deserialize_with = "nullable")]
    pub matches: Vec<L4MatchAttributes>,
    /// Weighted destinations.
    #[serde(deserialize_with = "nullable")]
    pub route: Vec<RouteDestination>,
}

/// A weighted destination of a TCP or TLS rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteDestination {
    /// Where to send traffic.
    pub destination: Destination,
    /// Relative weight.
    pub weight: Option<i64>,
}

/// A TCP match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct L4MatchAttributes {
    /// Destination IPs or CIDRs.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub destination_subnets: Vec<String>,
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Source labels.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    /// Gateways.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Source namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
    /// Deprecated source subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_subnet: Option<String>,
}

/// A TLS match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsMatchAttributes {
    /// SNI hosts (required).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub sni_hosts: Vec<String>,
    /// Destination IPs or CIDRs.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub destination_subnets: Vec<String>,
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Source labels.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub source_labels: BTreeMap<String, String>,
    /// Gateways.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    /// Source namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
}

/// Typed view of an HTTP rule's `redirect`. `redirectCode` stays JSON: the `value-range` rule
/// (MC503) checks it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRedirect {
    /// New path.
    pub uri: Option<String>,
    /// New authority.
    pub authority: Option<String>,
    /// New port.
    pub port: Option<i64>,
    /// `FROM_PROTOCOL_DEFAULT` or `FROM_REQUEST_PORT`.
    pub derive_port: Option<String>,
    /// `http` or `https`.
    pub scheme: Option<String>,
    /// Status code (3xx).
    pub redirect_code: Option<Value>,
}

/// Typed view of an HTTP rule's `fault`. Percentages and `httpStatus` stay JSON: MC503 checks
/// their ranges.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpFaultInjection {
    /// Delay.
    pub delay: Option<FaultDelay>,
    /// Abort.
    pub abort: Option<FaultAbort>,
}

/// A fault delay: `fixedDelay` (or the unsupported `exponentialDelay`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultDelay {
    /// Delay (a duration).
    pub fixed_delay: Option<String>,
    /// Exponential delay (a duration; Istio refuses it).
    pub exponential_delay: Option<String>,
    /// Share of requests delayed.
    pub percentage: Option<Percent>,
    /// Deprecated whole-number share.
    pub percent: Option<Value>,
}

/// A fault abort: one of `httpStatus`, `grpcStatus`, `http2Error`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultAbort {
    /// HTTP status.
    pub http_status: Option<Value>,
    /// gRPC status name (`UNAVAILABLE`).
    pub grpc_status: Option<String>,
    /// HTTP/2 error (Istio refuses it).
    pub http2_error: Option<String>,
    /// Share of requests aborted.
    pub percentage: Option<Percent>,
}
