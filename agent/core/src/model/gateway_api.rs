//! Kubernetes Gateway API (`gateway.networking.k8s.io`) routes and ReferenceGrant.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The spec of any Gateway API route kind. HTTPRoute, GRPCRoute, TCPRoute, TLSRoute and
/// UDPRoute share this shape; fields a kind does not have stay empty.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteSpec {
    /// Gateways (or a Service, for mesh routing) the route attaches to; at most 32.
    pub parent_refs: Vec<ParentRef>,
    /// Hostnames; at most 16.
    pub hostnames: Vec<String>,
    /// Rules; at most 16 (L4 routes: exactly one).
    pub rules: Vec<RouteRule>,
}

/// A parent reference.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ParentRef {
    /// API group (default `gateway.networking.k8s.io`).
    pub group: Option<String>,
    /// Kind (default `Gateway`).
    pub kind: Option<String>,
    /// Namespace (default: the route's).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Listener name.
    pub section_name: Option<String>,
    /// Port.
    pub port: Option<i64>,
}

/// A route rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteRule {
    /// Rule name.
    pub name: Option<String>,
    /// Matches; at most 64 per rule.
    pub matches: Vec<RouteMatch>,
    /// Filters; at most 16.
    pub filters: Vec<Filter>,
    /// Weighted backends; at most 16.
    pub backend_refs: Vec<BackendRef>,
    /// Timeouts.
    pub timeouts: Option<Value>,
    /// Retry.
    pub retry: Option<Value>,
    /// Session persistence.
    pub session_persistence: Option<Value>,
}

/// A match (HTTP or gRPC).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteMatch {
    /// HTTP path match `{type, value}`.
    pub path: Option<PathMatch>,
    /// Header matches.
    pub headers: Vec<NamedMatch>,
    /// Query parameter matches.
    pub query_params: Vec<NamedMatch>,
    /// HTTP method.
    pub method: Option<Value>,
}

/// A path match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PathMatch {
    /// `Exact`, `PathPrefix` (default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// The path (default `/`).
    pub value: Option<String>,
}

/// A header or query parameter match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NamedMatch {
    /// `Exact` (default) or `RegularExpression`.
    #[serde(rename = "type")]
    pub match_type: Option<String>,
    /// Header or parameter name.
    pub name: String,
    /// Value.
    pub value: Option<String>,
}

/// A filter.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    /// `RequestHeaderModifier`, `RequestRedirect`, `URLRewrite`, ...
    #[serde(rename = "type")]
    pub filter_type: String,
    /// Redirect settings.
    pub request_redirect: Option<RequestRedirect>,
    /// Rewrite settings.
    #[serde(rename = "urlRewrite")]
    pub url_rewrite: Option<UrlRewrite>,
    /// Header changes.
    pub request_header_modifier: Option<Value>,
    /// Header changes.
    pub response_header_modifier: Option<Value>,
    /// Mirroring.
    pub request_mirror: Option<Value>,
    /// Extension.
    pub extension_ref: Option<Value>,
}

/// A RequestRedirect filter.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestRedirect {
    /// `http` or `https`.
    pub scheme: Option<String>,
    /// Hostname.
    pub hostname: Option<String>,
    /// Path modifier.
    pub path: Option<PathModifier>,
    /// Port.
    pub port: Option<i64>,
    /// 301, 302, 303, 307 or 308.
    pub status_code: Option<i64>,
}

/// A URLRewrite filter.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct UrlRewrite {
    /// Hostname.
    pub hostname: Option<String>,
    /// Path modifier.
    pub path: Option<PathModifier>,
}

/// A path modifier.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PathModifier {
    /// `ReplaceFullPath` or `ReplacePrefixMatch`.
    #[serde(rename = "type")]
    pub modifier_type: String,
    /// Full path.
    pub replace_full_path: Option<String>,
    /// Prefix.
    pub replace_prefix_match: Option<String>,
}

/// A weighted backend.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendRef {
    /// Group (default core).
    pub group: Option<String>,
    /// Kind (default `Service`).
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Namespace (default: the route's; another one needs a ReferenceGrant).
    pub namespace: Option<String>,
    /// Port.
    pub port: Option<i64>,
    /// Weight: default 1, range 0–1,000,000.
    pub weight: Option<i64>,
    /// Filters.
    pub filters: Vec<Filter>,
}

/// ReferenceGrant spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    pub from: Vec<BTreeMap<String, String>>,
    /// What may be referred to.
    pub to: Vec<BTreeMap<String, String>>,
}
