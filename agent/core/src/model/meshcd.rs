//! meshcd's own kinds (`meshcd.dev/v1alpha1`): RolloutPolicy, Backend and ChangeWindow.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rollout::actions::{OnFailure, OnInconclusive, UnknownAction};
use crate::rollout::duration::{self, NotADuration};
use crate::rollout::AnalysisSpec;

/// How weight changes of the selected routes roll out: a RolloutPolicy's `spec`, typed.
///
/// Read from YAML as a [`RolloutPolicyWire`] and converted once, when the revision is loaded
/// ([`RolloutPolicySpec::try_from`]); a value that cannot be read is an MC303 error (see
/// [`crate::policy::rules::rollout_policy_invalid`]), never a default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutPolicySpec {
    /// Which routes the policy governs.
    pub selector: Selector,
    /// Canary shares to stop at, in percent, increasing (e.g. `[1, 10, 50, 100]`).
    pub steps: Vec<i64>,
    /// Alternative to `steps`: grow the canary by this many percent each step...
    pub step_weight: Option<i64>,
    /// ...up to this share, then go to the desired weights (default 100).
    pub max_weight: Option<i64>,
    /// How long each step bakes before it is judged (`bakeTime`, e.g. `30s`, `5m`).
    pub bake_time: Option<Duration>,
    /// Analysis that judges each step (provider and conditions); unset: the default analysis.
    pub analysis: Option<AnalysisSpec>,
    /// What to do when a step fails; unset: roll back.
    pub on_failure: Option<OnFailure>,
    /// What to do when a step is inconclusive; unset: pause.
    pub on_inconclusive: Option<OnInconclusive>,
    /// Webhooks called before each step, after promotion and on rollback.
    pub hooks: Hooks,
}

/// A RolloutPolicy's `spec` as written in YAML: [`RolloutPolicySpec`] with `bakeTime`,
/// `onFailure` and `onInconclusive` still text.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RolloutPolicyWire {
    /// See [`RolloutPolicySpec::selector`].
    pub selector: Selector,
    /// See [`RolloutPolicySpec::steps`].
    pub steps: Vec<i64>,
    /// See [`RolloutPolicySpec::step_weight`].
    pub step_weight: Option<i64>,
    /// See [`RolloutPolicySpec::max_weight`].
    pub max_weight: Option<i64>,
    /// A duration such as `30s`, `5m`, `1h30m` (see [`duration::parse_field`]).
    pub bake_time: Option<String>,
    /// See [`RolloutPolicySpec::analysis`].
    pub analysis: Option<AnalysisSpec>,
    /// `rollback` or `pause`.
    pub on_failure: Option<String>,
    /// `pause`, `rollback` or `continue`.
    pub on_inconclusive: Option<String>,
    /// See [`RolloutPolicySpec::hooks`].
    pub hooks: Hooks,
}

/// A field of a RolloutPolicy that cannot be read into its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPolicyField {
    /// `bakeTime` is not a duration.
    #[error("bakeTime {0}")]
    BakeTime(NotADuration),
    /// `onFailure` is not `rollback` or `pause`.
    #[error("{0}")]
    OnFailure(UnknownAction),
    /// `onInconclusive` is not `pause`, `rollback` or `continue`.
    #[error("{0}")]
    OnInconclusive(UnknownAction),
}

impl InvalidPolicyField {
    /// The field's key in the policy's `spec` (`bakeTime`, `onFailure`, `onInconclusive`).
    pub fn key(&self) -> &'static str {
        match self {
            InvalidPolicyField::BakeTime(_) => "bakeTime",
            InvalidPolicyField::OnFailure(_) => "onFailure",
            InvalidPolicyField::OnInconclusive(_) => "onInconclusive",
        }
    }
}

/// A RolloutPolicy with fields that cannot be read: every one of them, and the policy without
/// them (those fields unset), so that the rest of it can still be checked and reported at once.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid RolloutPolicy: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidPolicy {
    /// The fields at fault, in spec order.
    pub problems: Vec<InvalidPolicyField>,
    /// The policy without the fields at fault. Never use it to drive a rollout: the revision
    /// that holds it is refused.
    pub rest: Box<RolloutPolicySpec>,
}

impl TryFrom<RolloutPolicyWire> for RolloutPolicySpec {
    type Error = InvalidPolicy;

    fn try_from(wire: RolloutPolicyWire) -> Result<Self, Self::Error> {
        let mut problems = Vec::new();
        let bake_time = wire.bake_time.as_deref().and_then(|text| {
            keep(
                &mut problems,
                duration::parse_field(text).map_err(InvalidPolicyField::BakeTime),
            )
        });
        let on_failure = wire.on_failure.as_deref().and_then(|text| {
            keep(
                &mut problems,
                text.parse().map_err(InvalidPolicyField::OnFailure),
            )
        });
        let on_inconclusive = wire.on_inconclusive.as_deref().and_then(|text| {
            keep(
                &mut problems,
                text.parse().map_err(InvalidPolicyField::OnInconclusive),
            )
        });
        let spec = RolloutPolicySpec {
            selector: wire.selector,
            steps: wire.steps,
            step_weight: wire.step_weight,
            max_weight: wire.max_weight,
            bake_time,
            analysis: wire.analysis,
            on_failure,
            on_inconclusive,
            hooks: wire.hooks,
        };
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(InvalidPolicy {
                problems,
                rest: Box::new(spec),
            })
        }
    }
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

/// The value of a field that was read, or `None` with the problem noted.
fn keep<T>(
    problems: &mut Vec<InvalidPolicyField>,
    result: Result<T, InvalidPolicyField>,
) -> Option<T> {
    result.map_err(|problem| problems.push(problem)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(yaml: &str) -> RolloutPolicyWire {
        serde_yaml_ng::from_str(yaml).expect("a RolloutPolicy spec")
    }

    #[test]
    fn typed_fields_are_read_once() {
        let spec = RolloutPolicySpec::try_from(wire(
            "{steps: [10, 100], bakeTime: 1m, onFailure: pause, onInconclusive: continue}",
        ))
        .expect("valid");
        assert_eq!(spec.bake_time, Some(Duration::from_secs(60)));
        assert_eq!(spec.on_failure, Some(OnFailure::Pause));
        assert_eq!(spec.on_inconclusive, Some(OnInconclusive::Continue));
        assert_eq!(spec.steps, vec![10, 100]);
        let unset = RolloutPolicySpec::try_from(wire("{steps: [100]}")).expect("valid");
        assert_eq!(
            (unset.bake_time, unset.on_failure, unset.on_inconclusive),
            (None, None, None)
        );
    }

    #[test]
    fn malformed_values_are_every_one_an_error_never_a_default() {
        let invalid = RolloutPolicySpec::try_from(wire(
            "{steps: [10, 100], bakeTime: 3 parsecs, onFailure: rolback, onInconclusive: skip}",
        ))
        .unwrap_err();
        let problems: Vec<(&str, String)> = invalid
            .problems
            .iter()
            .map(|p| (p.key(), p.to_string()))
            .collect();
        assert_eq!(
            problems,
            vec![
                (
                    "bakeTime",
                    "bakeTime `3 parsecs` is not a duration; write a number and a unit, such as \
                     `30s`, `5m`, `1h30m` or `500ms`"
                        .to_string()
                ),
                (
                    "onFailure",
                    "onFailure `rolback` is not one of `rollback`, `pause`".to_string()
                ),
                (
                    "onInconclusive",
                    "onInconclusive `skip` is not one of `pause`, `rollback`, `continue`"
                        .to_string()
                ),
            ]
        );
        assert_eq!(invalid.rest.steps, vec![10, 100]);
        assert_eq!(invalid.rest.bake_time, None);
    }
}
