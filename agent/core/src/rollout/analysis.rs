//! What a RolloutPolicy's `analysis` asks for: where metrics come from and which conditions a
//! step must meet. The typed form of `spec.analysis` (see [`crate::model::meshcd`]).
//!
//! ```yaml
//! analysis:
//!   provider: envoy          # envoy (default) | prometheus | http | none
//!   interval: 1s             # how often metrics are read during a bake (default 1s)
//!   minRequests: 50          # fewer canary requests in a step: inconclusive (default 20)
//!   confidence: 0.99         # how sure a fail-fast verdict must be (default 0.99)
//!   successRate: {min: 99}   # percent of canary requests that are not 5xx
//!   latencyP99: {max: 500ms} # shorthand for latency: [{percentile: 99, max: 500ms}]
//!   latency:
//!   - {percentile: 95, max: 200ms}
//!   queries:                 # prometheus: custom PromQL thresholds
//!   - name: error-budget
//!     query: sum(rate(app_errors_total{backend="{{canary}}"}[{{window}}]))
//!     max: 0.5
//!   probe:                   # http: meshcd sends the canary's requests itself
//!     url: http://127.0.0.1:10000/healthz
//!     expectStatus: [200]
//!     timeout: 2s
//!   compare: {alpha: 0.05}   # also test canary against stable in the same window
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;

/// Canary requests a step needs before it can be judged healthy, when `minRequests` is unset.
pub const DEFAULT_MIN_REQUESTS: u64 = 20;
/// How often metrics are read during a bake, when `interval` is unset.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// How sure a fail-fast verdict must be, when `confidence` is unset.
pub const DEFAULT_CONFIDENCE: f64 = 0.99;
/// Success rate (percent) of the default analysis.
pub const DEFAULT_SUCCESS_RATE: f64 = 99.0;
/// Significance level of the canary-versus-stable comparison, when `compare.alpha` is unset.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// Where a step's metrics come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The Envoy's own admin stats (per-cluster counters and latency histogram).
    #[default]
    Envoy,
    /// A Prometheus server (`address`), with Envoy's metric names or custom `queries`.
    Prometheus,
    /// HTTP probes meshcd sends to `probe.url`; their results are the canary's sample.
    Http,
    /// No metrics: each step is promoted once its bake time has passed (time-based steps).
    None,
}

impl Provider {
    /// The name as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Envoy => "envoy",
            Provider::Prometheus => "prometheus",
            Provider::Http => "http",
            Provider::None => "none",
        }
    }
}

/// The typed `spec.analysis` of a RolloutPolicy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisSpec {
    /// Where metrics come from.
    pub provider: Provider,
    /// Base URL of the provider (Prometheus; for `envoy`, an admin URL other than the target's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// How often metrics are read during a bake, e.g. `1s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Canary requests a step needs before it can be judged healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,
    /// How sure a fail-fast verdict must be (0.5..1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Minimum success rate of the canary, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<MinPercent>,
    /// Latency conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub latency: Vec<LatencyCondition>,
    /// Shorthand for a p50 latency condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p50: Option<MaxLatency>,
    /// Shorthand for a p90 latency condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p90: Option<MaxLatency>,
    /// Shorthand for a p95 latency condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p95: Option<MaxLatency>,
    /// Shorthand for a p99 latency condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p99: Option<MaxLatency>,
    /// Custom PromQL thresholds (provider `prometheus`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<QuerySpec>,
    /// The probe meshcd sends (provider `http`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// Compare canary against stable in the same window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareSpec>,
}

/// `{min: 99}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MinPercent {
    /// Lowest acceptable value, in percent.
    pub min: f64,
}

/// `{max: 500ms}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MaxLatency {
    /// Highest acceptable latency, a duration such as `500ms`.
    pub max: String,
}

/// `{percentile: 95, max: 200ms}`: the `percentile`th percentile of canary latency is at most
/// `max`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LatencyCondition {
    /// Percentile, in (0, 100).
    pub percentile: f64,
    /// Highest acceptable latency, a duration such as `200ms`.
    pub max: String,
}

/// A custom PromQL threshold. The query may use `{{canary}}`, `{{stable}}`, `{{route}}`,
/// `{{namespace}}` and `{{window}}` (the step's age, e.g. `37s`); its result must be one
/// number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QuerySpec {
    /// Name shown in progress and reports.
    pub name: String,
    /// The PromQL query.
    pub query: String,
    /// Lowest acceptable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest acceptable value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// An HTTP probe meshcd sends every `interval` during a bake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProbeSpec {
    /// URL (loopback or the canary's own address).
    pub url: String,
    /// Method (default GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Extra request headers (e.g. one that pins the request to the canary).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Statuses that count as success (default: any 2xx).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// How long a probe may take (default 2s); a timeout is a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Probes sent per analysis interval (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_interval: Option<u32>,
}

/// Canary against stable: a step fails when the canary is significantly worse than the stable
/// backends in the same window (one-sided tests at level `alpha`: two proportions for the
/// failure rate, Mann-Whitney U on the latency histograms).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CompareSpec {
    /// Significance level (default 0.05).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

impl AnalysisSpec {
    /// The analysis used when a policy sets none: Envoy stats, at least 20 requests a step,
    /// success rate at least 99 %.
    pub fn default_analysis() -> AnalysisSpec {
        AnalysisSpec {
            success_rate: Some(MinPercent {
                min: DEFAULT_SUCCESS_RATE,
            }),
            ..AnalysisSpec::default()
        }
    }

    /// How often metrics are read (the default when unset or unreadable).
    pub fn interval(&self) -> Duration {
        self.interval
            .as_deref()
            .and_then(duration::parse)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_INTERVAL)
    }

    /// Canary requests a step needs.
    pub fn min_requests(&self) -> u64 {
        self.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS)
    }

    /// Confidence of fail-fast verdicts.
    pub fn confidence(&self) -> f64 {
        self.confidence
            .filter(|c| (0.5..1.0).contains(c))
            .unwrap_or(DEFAULT_CONFIDENCE)
    }

    /// Every latency condition, the shorthands included, as (percentile, max).
    pub fn latency_conditions(&self) -> Vec<(f64, Duration)> {
        let shorthands = [
            (50.0, &self.latency_p50),
            (90.0, &self.latency_p90),
            (95.0, &self.latency_p95),
            (99.0, &self.latency_p99),
        ];
        let mut out: Vec<(f64, Duration)> = shorthands
            .into_iter()
            .filter_map(|(p, m)| {
                m.as_ref()
                    .and_then(|m| duration::parse(&m.max))
                    .map(|max| (p, max))
            })
            .collect();
        out.extend(
            self.latency
                .iter()
                .filter_map(|c| duration::parse(&c.max).map(|max| (c.percentile, max))),
        );
        out
    }
}
