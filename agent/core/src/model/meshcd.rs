//! meshcd's own kinds (`meshcd.dev/v1alpha1`): RolloutPolicy and Backend.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rollout::AnalysisSpec;

/// How weight changes of the selected routes roll out.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutPolicySpec {
    /// Which routes the policy governs.
    pub selector: Selector,
    /// Canary shares to stop at, in percent, increasing (e.g. `[1, 10, 50, 100]`).
    pub steps: Vec<i64>,
    /// Alternative to `steps`: grow the canary by this many percent each step...
    pub step_weight: Option<i64>,
    /// ...up to this share, then go to the desired weights (default 100).
    pub max_weight: Option<i64>,
    /// How long each step bakes before it is judged, e.g. `30s`, `5m`.
    pub bake_time: Option<String>,
    /// Analysis that judges each step (provider and conditions); unset: the default analysis.
    pub analysis: Option<AnalysisSpec>,
    /// `rollback` (default) or `pause`.
    pub on_failure: Option<String>,
    /// `pause` (default), `rollback` or `continue`.
    pub on_inconclusive: Option<String>,
    /// Webhooks called before each step, after promotion and on rollback.
    pub hooks: Hooks,
}

/// Webhooks of a RolloutPolicy. Each is POSTed the rollout's facts as JSON.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Hooks {
    /// Called before each step's weights are applied; a non-2xx answer (or no answer) halts
    /// the rollout: it pauses at the weights it has.
    pub pre_step: Vec<Hook>,
    /// Called once the desired weights are live and judged.
    pub post_promotion: Vec<Hook>,
    /// Called after a rollback.
    pub on_rollback: Vec<Hook>,
}

/// One webhook.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Hook {
    /// Name shown in progress and errors (default: the URL's host and path).
    pub name: Option<String>,
    /// URL to POST to.
    pub url: String,
    /// How long the call may take (default 10s).
    pub timeout: Option<String>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
}

/// Selects routes by name, hostname or label; a route matches when any list matches.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Selector {
    /// Route names.
    pub routes: Vec<String>,
    /// Hostnames the route serves (exact, or `*.suffix`).
    pub hostnames: Vec<String>,
    /// Labels the route carries, all of them.
    pub match_labels: BTreeMap<String, String>,
}

/// Endpoints of a backend name, for targets that need addresses (such as a local Envoy).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct BackendSpec {
    /// Other names the backend answers to (backendServices paths, Istio hosts).
    pub aliases: Vec<String>,
    /// Addresses.
    pub endpoints: Vec<Endpoint>,
    /// `http` (default), `http2` or `tcp`.
    pub protocol: Option<String>,
}

/// One endpoint.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Endpoint {
    /// IP address or host name.
    pub address: String,
    /// Port.
    pub port: i64,
}
