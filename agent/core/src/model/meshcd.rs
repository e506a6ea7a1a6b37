//! meshcd's own kinds (`meshcd.dev/v1alpha1`): RolloutPolicy, Backend and ChangeWindow.

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

/// When changes to the selected routes may be applied, like Argo CD sync windows. What the
/// fields mean together is in [`crate::policy::windows`]; MC304 checks them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ChangeWindowSpec {
    /// `allow` (changes only while an occurrence is active) or `deny` (no changes while one
    /// is); see [`WindowKind::parse`].
    pub kind: String,
    /// When occurrences start: cron, 5 fields (`minute hour day-of-month month day-of-week`),
    /// or 6 with seconds first.
    pub schedule: String,
    /// How long each occurrence lasts, e.g. `8h`, `62h`, `1h30m`.
    pub duration: String,
    /// IANA time zone the schedule is read in (default `UTC`).
    pub time_zone: Option<String>,
    /// Which routes the window applies to; empty: every route.
    pub selector: WindowSelector,
}

/// Whether a change window lets changes through or holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowKind {
    /// Changes are applied only while an occurrence of the window is active.
    Allow,
    /// Changes wait while an occurrence of the window is active.
    Deny,
}

impl WindowKind {
    /// Reads `allow` or `deny`; `None` for anything else.
    pub fn parse(text: &str) -> Option<WindowKind> {
        match text {
            "allow" => Some(WindowKind::Allow),
            "deny" => Some(WindowKind::Deny),
            _ => None,
        }
    }

    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::Allow => "allow",
            WindowKind::Deny => "deny",
        }
    }
}

/// Selects routes for a ChangeWindow: a route matches when any list matches it. Like a
/// RolloutPolicy's [`Selector`], plus `meshes`; unlike it, an empty selector selects every
/// route.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct WindowSelector {
    /// Route names (`name` or `namespace/name`).
    pub routes: Vec<String>,
    /// Hostnames the route serves (exact, or `*.suffix`).
    pub hostnames: Vec<String>,
    /// Labels the route carries, all of them.
    pub match_labels: BTreeMap<String, String>,
    /// Meshes and gateways the route attaches to: networkservices `meshes`/`gateways` (full
    /// path or short name), Istio `gateways` (`mesh` when none), Gateway API `parentRefs`
    /// (`name` or `namespace/name`).
    pub meshes: Vec<String>,
}

impl WindowSelector {
    /// True when no list is set (the window applies to every route).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
            && self.hostnames.is_empty()
            && self.match_labels.is_empty()
            && self.meshes.is_empty()
    }

    /// The route, hostname and label part, as a RolloutPolicy [`Selector`].
    pub fn route_selector(&self) -> Selector {
        Selector {
            routes: self.routes.clone(),
            hostnames: self.hostnames.clone(),
            match_labels: self.match_labels.clone(),
        }
    }
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
