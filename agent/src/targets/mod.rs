//! Targets: where routes are applied, behind one interface ([`Target`]) so that diff, policy
//! and rollouts work the same on each.
//!
//! - [`envoy`] (the embedded default): a local Envoy configured through files; the applied
//!   state is read back from its admin `/config_dump`.
//! - [`gcp`]: the Cloud Service Mesh service routing API (`networkservices.googleapis.com`).
//! - [`kubernetes`]: server-side apply of Istio and Gateway API resources.
//! - [`memory`]: an in-memory resource API, for fast engine tests.
//! - [`render`]: the files `gcloud network-services … import` and `kubectl apply -f` take, for
//!   pipelines that apply them themselves.
//!
//! The last three hold route *resources* as written in Git; they share [`resources`], which
//! turns what the API holds back into resources, diffs them with [`meshcd_core::plan`], and
//! carries a plan out change by change.

pub mod envoy;
mod error;
pub mod gcp;
pub mod kubernetes;
pub mod memory;
pub mod render;
pub mod resources;

use std::future::Future;
use std::time::Duration;

use meshcd_core::model::ResourceId;
use meshcd_core::plan::{Plan, WeightMap};
use meshcd_core::Loaded;

pub use envoy::{EnvoyTarget, EnvoyTargetOptions};
pub use error::{Op, OpError, TargetError};

/// What carrying out a plan took.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    /// Milliseconds from the first call until the target confirmed the last change.
    pub total_ms: f64,
    /// Requests or writes made (one per changed resource on resource targets).
    pub operations: usize,
    /// Whether the target validated the whole configuration first (Envoy's `--mode validate`;
    /// false on its weights-only fast path and on resource targets, whose API validates each
    /// request).
    pub validated: bool,
}

/// Maps a rollout's backend keys to the names its metrics are read under (for Envoy, its
/// clusters): `(route, splits) → [(key, metric name)]`.
pub type MetricNames<'a> =
    &'a (dyn Fn(&ResourceId, &[(String, Vec<String>)]) -> Vec<(String, String)> + Sync);

/// One place routes are applied to. A revision becomes a `Config` (pure, [`Target::desired`]);
/// the target's applied state is read back as a `State` ([`Target::applied`]), never taken
/// from memory, so drift shows; [`Target::diff`] makes the [`Plan`] between them, and
/// [`Target::apply`] carries a configuration out and returns once the target confirmed it.
///
/// Rollouts put their weights on top of the desired configuration with
/// [`Target::set_weights`]; routes are named by their [`ResourceId`] (`Kind/ns/name`).
pub trait Target: Send + Sync + 'static {
    /// What a revision asks the target to hold.
    type Config: Clone + Send + Sync + 'static;
    /// What the target holds (or would hold), in the form plans compare.
    type State: Send + Sync + 'static;

    /// The target's id in the state store, e.g. `envoy:127.0.0.1:9901` or
    /// `gcp:projects/p/locations/global`.
    fn id(&self) -> &str;

    /// One line for `GET /api/v1/status`.
    fn describe(&self) -> String {
        self.id().to_string()
    }

    /// The configuration of a checked revision (pure). Errors refuse the revision: one line
    /// each, with the file and line of the resource at fault.
    fn desired(&self, loaded: &Loaded) -> Result<Self::Config, Vec<String>>;

    /// True when [`Target::apply`] publishes the whole configuration and needs neither the
    /// applied state nor the plan (Envoy): a rollout step then skips reading the target back.
    const APPLIES_WHOLE_CONFIG: bool = false;

    /// The state a configuration stands for, to compare with the applied one.
    fn state_of(&self, config: &Self::Config) -> Self::State;

    /// What the target holds now, read from it. `desired` says what the revision wants (an
    /// API target reads those resources, plus every resource meshcd manages there).
    fn applied(
        &self,
        desired: &Self::State,
    ) -> impl Future<Output = Result<Self::State, TargetError>> + Send;

    /// The plan from `applied` to `desired`; `loaded` is the desired revision (policies,
    /// files).
    fn diff(&self, desired: &Self::State, applied: &Self::State, loaded: &Loaded) -> Plan;

    /// Makes the target hold `config`; `plan` is what differs from `applied` (resource targets
    /// act on it change by change). Returns once the target confirmed the change.
    fn apply(
        &self,
        config: &Self::Config,
        applied: &Self::State,
        plan: &Plan,
    ) -> impl Future<Output = Result<ApplyReport, TargetError>> + Send;

    /// Puts a rollout step's weights into `config` for the route `route`: each moving split
    /// `(rule, keys)` gets `weights[key]`. Errors, leaving `config` as it was, when the route
    /// no longer has those splits.
    fn set_weights(
        &self,
        config: &mut Self::Config,
        route: &ResourceId,
        splits: &[(String, Vec<String>)],
        weights: &WeightMap,
    ) -> Result<(), String>;

    /// The metric names of a rollout's backend keys in `config` (see [`MetricNames`]). The
    /// default is the key itself (Prometheus or Cloud Monitoring queries name backends as
    /// Git does).
    fn metric_names(
        &self,
        config: &Self::Config,
        route: &ResourceId,
        splits: &[(String, Vec<String>)],
    ) -> Vec<(String, String)> {
        let _ = (config, route);
        splits
            .iter()
            .flat_map(|(_, keys)| keys.iter().map(|k| (k.clone(), k.clone())))
            .collect()
    }

    /// The xDS server this target publishes through (Envoy with `delivery: ads`), for the
    /// status API. The default has none.
    fn xds(&self) -> Option<std::sync::Arc<crate::xds::Registry>> {
        None
    }

    /// The address the `envoy` analysis provider reads by default (an Envoy admin URL).
    fn analysis_address(&self) -> Option<String> {
        None
    }

    /// Whether resources that the target holds and Git no longer has are deleted. When false,
    /// such deletions are listed in plans but not carried out.
    fn prunes(&self) -> bool {
        true
    }

    /// The configuration as recorded in the state store with each apply.
    fn record(&self, config: &Self::Config) -> String;

    /// How many times the target restarted and lost its configuration (a supervised Envoy).
    fn restarts(&self) -> u64 {
        0
    }

    /// Waits until the target answers again after a restart.
    fn wait_ready(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TargetError>> + Send {
        let _ = timeout;
        async { Ok(()) }
    }
}
