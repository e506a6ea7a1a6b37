//! What a RolloutPolicy's `analysis` asks for: where metrics come from and which conditions a
//! step must meet. The typed form of `spec.analysis` (see [`crate::model::meshcd`]).
//!
//! ```yaml
//! analysis:
//!   provider: envoy          # envoy (default) | prometheus | cloud-monitoring | http | none
//!   address: http://prometheus:9090  # prometheus; cloud-monitoring: optional, see project
//!   project: my-project      # cloud-monitoring: its PromQL API for this Google Cloud project
//!   interval: 1s             # how often metrics are read during a bake (default 1s)
//!   minRequests: 50          # fewer canary requests in a step: inconclusive (default 20)
//!   confidence: 0.99         # how sure a fail-fast verdict must be (default 0.99)
//!   successRate: {min: 99}   # percent of canary requests that are not 5xx
//!   latencyP99: {max: 500ms} # shorthand for latency: [{percentile: 99, max: 500ms}]
//!   latency:
//!   - {percentile: 95, max: 200ms}
//!   queries:                 # prometheus, cloud-monitoring: custom PromQL thresholds
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

mod validate;

pub use validate::{is_http_url, AnalysisProblem};

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
/// Cloud Monitoring's API endpoint; provider `cloud-monitoring` without an `address` queries
/// `{CLOUD_MONITORING_ENDPOINT}/v1/projects/{project}/location/global/prometheus`.
pub const CLOUD_MONITORING_ENDPOINT: &str = "https://monitoring.googleapis.com";

/// Where a step's metrics come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The Envoy's own admin stats (per-cluster counters and latency histogram).
    #[default]
    Envoy,
    /// A Prometheus server (`address`), with Envoy's metric names or custom `queries`.
    Prometheus,
    /// Google Cloud Monitoring's Prometheus-compatible query API (Managed Service for
    /// Prometheus), for Cloud Run and GKE: like `prometheus`, at `address` or else the API of
    /// `project`, with a Google access token.
    #[serde(rename = "cloud-monitoring")]
    CloudMonitoring,
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
            Provider::CloudMonitoring => "cloud-monitoring",
            Provider::Http => "http",
            Provider::None => "none",
        }
    }

    /// Whether this provider answers PromQL (Envoy's metrics as scraped, and custom `queries`):
    /// `prometheus` and `cloud-monitoring`.
    pub fn reads_promql(self) -> bool {
        matches!(self, Provider::Prometheus | Provider::CloudMonitoring)
    }
}

/// The base URL of Cloud Monitoring's Prometheus-compatible API for `project` (the query API is
/// under it at `/api/v1/query`).
pub fn cloud_monitoring_address(project: &str) -> String {
    format!("{CLOUD_MONITORING_ENDPOINT}/v1/projects/{project}/location/global/prometheus")
}

/// Whether an access token may be sent to `address`: an `https://` URL, or an `http://` URL
/// whose host is loopback (`localhost`, `127.0.0.0/8`, `[::1]`), where nothing crosses a network
/// in clear text.
pub fn token_safe_address(address: &str) -> bool {
    let address = address.trim();
    if address
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        return true;
    }
    let Some(rest) = address
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &address[7..])
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// True for a Google Cloud project ID or number as it may appear in an API path: lowercase
/// letters, digits and `-` (`.` and `:` for the old domain-scoped IDs such as
/// `example.com:shop`), starting with a letter or digit.
pub fn is_project_id(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':'))
}

/// The typed `spec.analysis` of a RolloutPolicy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AnalysisSpec {
    /// Where metrics come from.
    pub provider: Provider,
    /// Base URL of the provider (Prometheus; for `envoy`, an admin URL other than the target's;
    /// for `cloud-monitoring`, another endpoint than the one `project` gives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The Google Cloud project whose metrics provider `cloud-monitoring` reads (used when
    /// `address` is unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
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
    /// Custom PromQL thresholds (providers `prometheus` and `cloud-monitoring`).
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

    /// The PromQL API's base URL for providers `prometheus` and `cloud-monitoring`: `address`
    /// when set (and not blank), else for `cloud-monitoring` the API of `project`
    /// ([`cloud_monitoring_address`]); `None` for the other providers, or when neither is set.
    pub fn promql_address(&self) -> Option<String> {
        if !self.provider.reads_promql() {
            return None;
        }
        let set = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        set(&self.address).or_else(|| match self.provider {
            Provider::CloudMonitoring => set(&self.project).map(|p| cloud_monitoring_address(&p)),
            _ => None,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_monitoring_is_written_with_a_dash() {
        let spec: AnalysisSpec =
            serde_json::from_str(r#"{"provider": "cloud-monitoring", "project": "shop-prod"}"#)
                .unwrap();
        assert_eq!(spec.provider, Provider::CloudMonitoring);
        assert_eq!(spec.provider.as_str(), "cloud-monitoring");
        assert_eq!(spec.project.as_deref(), Some("shop-prod"));
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["provider"], "cloud-monitoring");
        assert_eq!(json["project"], "shop-prod");
        assert!(serde_json::from_str::<Provider>(r#""cloudmonitoring""#).is_err());
        assert!(Provider::CloudMonitoring.reads_promql() && Provider::Prometheus.reads_promql());
        assert!(!Provider::Envoy.reads_promql() && !Provider::Http.reads_promql());
    }

    #[test]
    fn the_promql_address_comes_from_address_else_project() {
        let spec = |provider, address: Option<&str>, project: Option<&str>| AnalysisSpec {
            provider,
            address: address.map(str::to_string),
            project: project.map(str::to_string),
            ..AnalysisSpec::default()
        };
        assert_eq!(
            spec(Provider::CloudMonitoring, None, Some("shop-prod")).promql_address(),
            Some(
                "https://monitoring.googleapis.com/v1/projects/shop-prod/location/global/prometheus"
                    .to_string()
            )
        );
        assert_eq!(
            spec(
                Provider::CloudMonitoring,
                Some("http://127.0.0.1:1"),
                Some("p")
            )
            .promql_address(),
            Some("http://127.0.0.1:1".to_string())
        );
        assert_eq!(
            spec(Provider::CloudMonitoring, Some(" "), Some(" ")).promql_address(),
            None
        );
        assert_eq!(
            spec(Provider::Prometheus, None, Some("p")).promql_address(),
            None
        );
        assert_eq!(
            spec(Provider::Envoy, Some("http://127.0.0.1:1"), None).promql_address(),
            None
        );
    }

    #[test]
    fn tokens_go_over_https_or_to_loopback_only() {
        for ok in [
            "https://monitoring.googleapis.com/v1/projects/p/location/global/prometheus",
            "HTTPS://example.com",
            "http://127.0.0.1:9090",
            "http://127.8.0.1/x",
            "http://localhost:1/",
            "http://[::1]:80/",
            "http://u:p@127.0.0.1",
        ] {
            assert!(token_safe_address(ok), "{ok}");
        }
        for bad in [
            "http://prometheus:9090",
            "http://127.0.0.1.example.com/",
            "http://10.0.0.1/",
            "http://127.0.0.1@evil.example/",
            "ftp://127.0.0.1/",
            "127.0.0.1:9090",
            "",
        ] {
            assert!(!token_safe_address(bad), "{bad}");
        }
    }

    #[test]
    fn project_ids() {
        for ok in ["shop-prod", "123456789012", "example.com:shop"] {
            assert!(is_project_id(ok), "{ok}");
        }
        for bad in ["", "Shop", "-shop", "a/b", "a b", "shop?x", "projects/p"] {
            assert!(!is_project_id(bad), "{bad}");
        }
    }
}
