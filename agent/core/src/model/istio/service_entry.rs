//! ServiceEntry (a service added to the mesh's registry) and WorkloadEntry (one non-Kubernetes
//! workload, also the shape of a ServiceEntry's inline endpoints).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::nullable;

/// ServiceEntry spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntrySpec {
    /// Hosts.
    #[serde(deserialize_with = "nullable")]
    pub hosts: Vec<String>,
    /// Virtual IPs or CIDRs.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// Ports (JSON; typed view [`ServicePort`]).
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<Value>,
    /// `MESH_INTERNAL` or `MESH_EXTERNAL`.
    pub location: Option<String>,
    /// `NONE` (the default), `STATIC`, `DNS`, `DNS_ROUND_ROBIN` or `DYNAMIC_DNS`.
    pub resolution: Option<String>,
    /// Inline endpoints.
    #[serde(deserialize_with = "nullable")]
    pub endpoints: Vec<WorkloadEntrySpec>,
    /// Selects WorkloadEntries and pods (JSON; typed view [`EntryWorkloadSelector`]).
    pub workload_selector: Option<Value>,
    /// Visibility (`~` allowed: visible to no one but the service's own proxies).
    #[serde(deserialize_with = "nullable")]
    pub export_to: Vec<String>,
    /// Names the server certificate must carry.
    #[serde(deserialize_with = "nullable")]
    pub subject_alt_names: Vec<String>,
}

/// Typed view of a ServiceEntry port.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    /// Number (required).
    pub number: Option<i64>,
    /// Protocol (`HTTP`, `TCP`, `TLS`...; empty means sniffed).
    pub protocol: Option<String>,
    /// Name (required).
    pub name: Option<String>,
    /// Port on the endpoints.
    pub target_port: Option<i64>,
}

/// Typed view of a ServiceEntry's `workloadSelector` (`{labels: {...}}`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EntryWorkloadSelector {
    /// Labels a workload must carry.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
}

/// WorkloadEntry spec (also used for inline ServiceEntry endpoints).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkloadEntrySpec {
    /// Address: an IP, a DNS name or `unix://` socket.
    pub address: Option<String>,
    /// Port map, port name to number.
    #[serde(deserialize_with = "nullable")]
    pub ports: BTreeMap<String, i64>,
    /// Labels.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// Network.
    pub network: Option<String>,
    /// Locality (`region/zone/subzone`).
    pub locality: Option<String>,
    /// Load-balancing weight.
    pub weight: Option<i64>,
    /// Service account.
    pub service_account: Option<String>,
}
