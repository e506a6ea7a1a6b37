//! Istio `networking.istio.io` and `security.istio.io` resources (v1, v1beta1, v1alpha3).
//!
//! Every field of VirtualService, DestinationRule, ServiceEntry, WorkloadEntry and
//! PeerAuthentication is known here (field lists from the `networking/v1alpha3` and
//! `security/v1beta1` protos and Istio's CRDs), so a valid document has no unknown field. A few
//! fields stay JSON because other parts of meshcd read them as JSON (the Envoy translation, the
//! `value-range` rule): `DestinationRule` traffic policies, an HTTP rule's `redirect`, `fault`
//! and `mirrorPercentage`, and a ServiceEntry's `ports` and `workloadSelector`. Each has a typed
//! view here ([`TrafficPolicy`], [`HttpRedirect`], [`HttpFaultInjection`], [`Percent`],
//! [`ServicePort`], [`EntryWorkloadSelector`]) that validation reads with [`view`].

mod destination_rule;
mod security;
mod service_entry;
mod virtual_service;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::path::FieldPath;

/// gRPC status names by number (`UNAVAILABLE` is 14): what a fault abort's `grpcStatus` may
/// name, and what Envoy's config takes as numbers.
pub const GRPC_STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

pub use destination_rule::*;
pub use security::*;
pub use service_entry::*;
pub use virtual_service::*;

/// The gateway name that means "sidecars in the mesh".
pub const MESH_GATEWAY: &str = "mesh";
/// The Cloud Service Mesh gateway name for clients outside the cluster (Cloud Run).
pub const EXTERNAL_MESH_GATEWAY: &str = "external-mesh";

/// A destination host, subset and port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Destination {
    /// Service host, short (`ads`) or fully qualified (`ads.prod.svc.cluster.local`).
    pub host: String,
    /// Subset from a DestinationRule.
    pub subset: Option<String>,
    /// Port `{number}`.
    pub port: Option<PortSelector>,
}

/// A port by number (`{number: 8080}`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PortSelector {
    /// Port number.
    pub number: Option<i64>,
}

/// A string match: one of `exact`, `prefix` or `regex` (RE2); none means "present".
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", default)]
pub struct StringMatch {
    /// The whole value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// A prefix of the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// An RE2 regular expression over the whole value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// A percentage (`{value: 12.5}`); the value is kept as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Percent {
    /// 0 to 100, fractions allowed.
    pub value: Option<Value>,
}

/// `security.istio.io` and `DestinationRule` workload selector: `{matchLabels: {...}}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadSelector {
    /// Labels a workload must carry.
    #[serde(deserialize_with = "nullable")]
    pub match_labels: BTreeMap<String, String>,
}

/// Reads a field written as `null` (`key:` with nothing after it) as its default, as the API
/// server does, instead of refusing the document.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Why a JSON-kept field cannot be read as its typed view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {message}")]
pub struct ViewError {
    /// Path below the field (`abort.grpcStatus`), empty for the field itself.
    pub path: FieldPath,
    /// What is wrong.
    pub message: String,
}

/// A typed view of a field the model keeps as JSON, with the paths (below the field) of the
/// keys the view does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct View<T> {
    /// The typed value.
    pub value: T,
    /// Unknown keys, as paths below the field (`connectionPool.tcp.maxConection`).
    pub unknown: Vec<FieldPath>,
}

/// Reads a JSON-kept field as its typed view `T`.
pub fn view<T: DeserializeOwned>(value: &Value) -> Result<View<T>, ViewError> {
    let mut unknown = Vec::new();
    let result: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut |path| {
            unknown.push(FieldPath::from(&path))
        }));
    match result {
        Ok(value) => Ok(View { value, unknown }),
        Err(error) => Err(ViewError {
            path: FieldPath::from(error.path()),
            message: error.inner().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn views_read_typed_fields_and_name_unknown_keys() {
        let policy: View<TrafficPolicy> = view(&json!({
            "connectionPool": {"tcp": {"maxConnections": 10, "maxConection": 3}},
            "tls": {"mode": "SIMPLE"}
        }))
        .expect("reads");
        assert_eq!(
            policy
                .value
                .connection_pool
                .and_then(|c| c.tcp)
                .and_then(|t| t.max_connections),
            Some(10)
        );
        assert_eq!(
            policy.unknown,
            vec![FieldPath::parse("connectionPool.tcp.maxConection")]
        );
        let error = view::<TrafficPolicy>(&json!({"tls": {"mode": 3}})).unwrap_err();
        assert_eq!(error.path, FieldPath::parse("tls.mode"));
    }
}
