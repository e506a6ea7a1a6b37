//! PeerAuthentication: the mTLS mode workloads accept.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{nullable, WorkloadSelector};

/// PeerAuthentication spec.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PeerAuthenticationSpec {
    /// Workload selector; none means the whole namespace (the whole mesh in the root
    /// namespace).
    pub selector: Option<WorkloadSelector>,
    /// `{mode: STRICT|PERMISSIVE|DISABLE|UNSET}`.
    pub mtls: Option<Mtls>,
    /// Per-port modes, by port number (needs a selector).
    #[serde(deserialize_with = "nullable")]
    pub port_level_mtls: BTreeMap<String, Mtls>,
}

/// An mTLS mode.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Mtls {
    /// `STRICT`, `PERMISSIVE`, `DISABLE` or `UNSET`.
    pub mode: Option<String>,
}
