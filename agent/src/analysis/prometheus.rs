//! Counters and custom queries from a Prometheus server, through its HTTP API's instant queries
//! (`GET {address}/api/v1/query?query=...&time=...`, answered with JSON).
//!
//! # Counters
//!
//! Prometheus scrapes Envoy's `/stats/prometheus`, where the cluster of a stat becomes the
//! `envoy_cluster_name` label. A read is three instant queries, sent together and evaluated at the
//! same `time`, each covering every backend:
//!
//! ```text
//! sum by (envoy_cluster_name) (envoy_cluster_upstream_rq_completed{envoy_cluster_name=~"stable|canary"})
//! sum by (envoy_cluster_name) (envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name=~"stable|canary"})
//! sum by (envoy_cluster_name, le) (envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=~"stable|canary"})
//! ```
//!
//! `sum` adds the series of every scraped Envoy (every instance of a fleet). A backend without
//! series (not scraped yet, or a 5xx counter Envoy has not created yet) counts as zero: a quiet
//! window, which the judge calls inconclusive, never healthy. Counters reset when Envoy restarts;
//! [`Counters::since`] treats a counter that went down as a new start.
//!
//! **Lag** (measured with Prometheus 2.42 scraping Envoy 1.40 every second, in
//! `tests/envoy/analysis_providers.rs`): the counters of a burst reach Prometheus 0.5–1.0 s after its
//! last request (at most one scrape interval), the latency histograms 0.7–1.6 s (Envoy's 1 s
//! stats flush, then the next scrape). A newly started Prometheus applies its scrape targets on a 5 s tick, so its first
//! scrape may come 5 s after start. One read (three queries) takes 2–3 ms on loopback.
//!
//! **Cluster names with dots.** Envoy's tag extraction takes the cluster name up to the first
//! dot (`^cluster\.((.+?)\.)`). Measured with Envoy 1.40: the cluster
//! `ads.ads.svc.cluster.local_v2` is exported as
//! `envoy_cluster_ads_svc_cluster_local_v2_upstream_rq_completed{envoy_cluster_name="ads"}`.
//! For such a backend, the query reads that series and puts the full name back with
//! `label_replace`, joined to the batch with `or`. This follows Envoy's naming (the rest of the
//! name with every character outside `[A-Za-z0-9_]` turned into `_`), so two dotted names that
//! differ only there (`a.b-c`, `a.b_c`) cannot be told apart. Custom queries see the same
//! mangled names: `envoy_cluster_name="{{canary}}"` matches only a canary without dots.
//!
//! # Cloud Monitoring
//!
//! Google Cloud Monitoring (Managed Service for Prometheus) serves the same query API at
//! `https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus/api/v1/query`,
//! with the same answers, over Envoy's metrics as Managed Prometheus scraped them (the same
//! names and labels). [`PrometheusClient::cloud_monitoring`] makes a client for it that sends
//! `Authorization: Bearer {token}` from a [`TokenSource`]. When the API answers 401 (an expired
//! or revoked token), the client forgets that token and sends the query once more with a new
//! one; a second 401, or a token that cannot be replaced (from `MESHCD_GCP_ACCESS_TOKEN`), is an
//! [`AnalysisError::Auth`]. The token shows in no log, error or `Debug` output.
//!
//! # Custom queries
//!
//! A [`QuerySpec`]'s query is rendered with [`super::template::render`] and must give one number:
//! a scalar, or a vector with exactly one sample. Anything else (no series, several series, a
//! range vector, NaN, a query Prometheus refuses) is an error naming the query.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshcd_core::rollout::analysis::QuerySpec;
use meshcd_core::rollout::judge::QueryValue;
use meshcd_core::rollout::sample::{Counters, Histogram};
use serde::Deserialize;
use serde_json::Value as Json;

use super::envoy_stats::ENVOY_DEFAULT_BOUNDS_MS;
use super::template::{self, regex_escape, string_escape, TemplateVars};
use super::{body_excerpt, http_client, request_error_text, AnalysisError, BaseUrl};
use crate::gcp::{Secret, TokenSource};

const SERVICE: &str = "Prometheus";

/// The service name in the errors of a [`PrometheusClient::cloud_monitoring`] client.
const CLOUD_MONITORING: &str = "Cloud Monitoring";

/// The timeout of one query, unless [`PrometheusClient::with_timeout`] sets another.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its labels (with `__name__` when the query kept it).
    pub labels: BTreeMap<String, String>,
    /// Its value (`NaN` and infinities included).
    pub value: f64,
}

/// The result of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// A scalar.
    Scalar(f64),
    /// An instant vector.
    Vector(Vec<Series>),
    /// A range vector, with this many series (a query like `x[5m]`).
    Matrix(usize),
    /// A string.
    String(String),
}

impl QueryResult {
    /// The one number this result is, or why it is not one.
    pub fn one_number(&self) -> Result<f64, String> {
        let value = match self {
            QueryResult::Scalar(v) => *v,
            QueryResult::Vector(series) => match series.as_slice() {
                [one] => one.value,
                [] => return Err("returned no series (no data yet?)".into()),
                many => {
                    let shown: Vec<String> =
                        many.iter().take(3).map(|s| labels(&s.labels)).collect();
                    return Err(format!(
                        "returned {} series, expected one number (aggregate them, e.g. with \
                         sum): {}{}",
                        many.len(),
                        shown.join(", "),
                        if many.len() > 3 { ", ..." } else { "" }
                    ));
                }
            },
            QueryResult::Matrix(n) => {
                return Err(format!(
                    "returned a range vector ({n} series), expected one number (wrap it in \
                     rate(), increase() or *_over_time())"
                ))
            }
            QueryResult::String(s) => {
                return Err(format!("returned the string {s:?}, not a number"))
            }
        };
        if value.is_nan() {
            return Err("is NaN (a division by zero: no traffic in the window?)".into());
        }
        Ok(value)
    }
}

fn labels(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", string_escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A client for one Prometheus server's HTTP API.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    base: BaseUrl,
    http: reqwest::Client,
    timeout: Duration,
    /// `Prometheus`, or `Cloud Monitoring`, for errors.
    service: &'static str,
    /// Bearer tokens for every request (Cloud Monitoring); `None` for a plain Prometheus.
    tokens: Option<TokenSource>,
}

/// Google's error body: `{"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}`.
#[derive(Deserialize)]
struct GoogleError {
    error: GoogleErrorDetail,
}

#[derive(Deserialize)]
struct GoogleErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// The message of a Google-shaped error body (`PERMISSION_DENIED: ...`), if it is one.
fn google_error_message(body: &str) -> Option<String> {
    let detail = serde_json::from_str::<GoogleError>(body).ok()?.error;
    let message = body_excerpt(&detail.message, 300);
    match (detail.status.is_empty(), message.is_empty()) {
        (true, true) => None,
        (true, false) => Some(message),
        (false, true) => Some(detail.status),
        (false, false) => Some(format!("{}: {message}", detail.status)),
    }
}

#[derive(Deserialize)]
struct ApiAnswer {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Json,
}

#[derive(Deserialize)]
struct ApiSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (Json, String),
}

/// The three series a counters read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stat {
    Completed,
    Failed,
    Buckets,
}

impl Stat {
    /// The metric name's suffix after `envoy_cluster_`.
    fn metric(self) -> &'static str {
        match self {
            Stat::Completed => "upstream_rq_completed",
            Stat::Failed => "upstream_rq_xx",
            Stat::Buckets => "upstream_rq_time_bucket",
        }
    }

    /// Matchers besides the cluster name.
    fn extra(self) -> &'static str {
        match self {
            Stat::Failed => r#",envoy_response_code_class="5""#,
            _ => "",
        }
    }
}

impl PrometheusClient {
    /// A client for the server at `address` (such as `http://127.0.0.1:9090`; a path prefix and
    /// `user:password@` for basic authentication are kept).
    pub fn new(address: &str) -> Result<Self, AnalysisError> {
        Ok(Self {
            base: BaseUrl::parse(SERVICE, address)?,
            http: http_client(SERVICE, QUERY_TIMEOUT, true)?,
            timeout: QUERY_TIMEOUT,
            service: SERVICE,
            tokens: None,
        })
    }

    /// A client for Cloud Monitoring's Prometheus-compatible API at `address` (such as
    /// `https://monitoring.googleapis.com/v1/projects/shop-prod/location/global/prometheus`, see
    /// [`meshcd_core::rollout::analysis::cloud_monitoring_address`]) that sends a bearer token
    /// from `tokens` with every query (see the module docs). The address must be `https://`, or
    /// `http://` to a loopback host, and hold no `user:password@`.
    pub fn cloud_monitoring(address: &str, tokens: TokenSource) -> Result<Self, AnalysisError> {
        let base = BaseUrl::parse(CLOUD_MONITORING, address)?;
        if base.basic_auth.is_some() {
            return Err(AnalysisError::Config(format!(
                "the {CLOUD_MONITORING} address {} holds a user name or password; provider \
                 cloud-monitoring authenticates with a Google access token instead",
                base.display()
            )));
        }
        if !meshcd_core::rollout::analysis::token_safe_address(base.url.as_str()) {
            return Err(AnalysisError::Config(format!(
                "the {CLOUD_MONITORING} address {} is plain http; meshcd sends a Google access \
                 token there, so it must be https (plain http only to a loopback address)",
                base.display()
            )));
        }
        Ok(Self {
            base,
            http: http_client(CLOUD_MONITORING, QUERY_TIMEOUT, true)?,
            timeout: QUERY_TIMEOUT,
            service: CLOUD_MONITORING,
            tokens: Some(tokens),
        })
    }

    /// The same client with another timeout per query.
    pub fn with_timeout(self, timeout: Duration) -> Result<Self, AnalysisError> {
        Ok(Self {
            http: http_client(self.service, timeout, true)?,
            timeout,
            ..self
        })
    }

    /// Whether this client sends Google access tokens (made by [`Self::cloud_monitoring`]).
    pub fn is_cloud_monitoring(&self) -> bool {
        self.tokens.is_some()
    }

    /// The server's address (without credentials).
    pub fn address(&self) -> String {
        self.base.display()
    }

    /// Runs an instant query now.
    pub async fn query(&self, promql: &str) -> Result<QueryResult, AnalysisError> {
        self.query_at(promql, None).await
    }

    /// Runs an instant query evaluated at `time` (Unix seconds; now when `None`).
    pub async fn query_at(
        &self,
        promql: &str,
        time: Option<f64>,
    ) -> Result<QueryResult, AnalysisError> {
        let mut url = self.base.join("/api/v1/query");
        url.query_pairs_mut().append_pair("query", promql);
        if let Some(time) = time {
            url.query_pairs_mut()
                .append_pair("time", &format!("{time:.3}"));
        }
        let (status, body) = self.send(url).await?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            if let Some(tokens) = &self.tokens {
                let said = google_error_message(&body).unwrap_or_else(|| body_excerpt(&body, 200));
                let hint = if tokens.can_refresh() {
                    "a new token was refused too"
                } else {
                    "it cannot be refreshed: provide a new one, or let meshcd fetch tokens \
                     (unset MESHCD_GCP_ACCESS_TOKEN to use GOOGLE_APPLICATION_CREDENTIALS or the \
                     metadata server)"
                };
                return Err(self.auth_error(format!(
                    "the access token from {} was refused (HTTP 401: {said}); {hint}",
                    tokens.describe()
                )));
            }
        }
        let answer: ApiAnswer = match serde_json::from_str(&body) {
            Ok(answer) => answer,
            Err(_) if !status.is_success() => {
                return Err(AnalysisError::Status {
                    service: self.service,
                    url: self.address(),
                    status: status.as_u16(),
                    message: google_error_message(&body)
                        .unwrap_or_else(|| body_excerpt(&body, 300)),
                })
            }
            Err(e) => {
                return Err(self.unparsable(format!(
                    "not the query API's JSON ({e}): {}",
                    body_excerpt(&body, 200)
                )))
            }
        };
        if answer.status != "success" {
            let message = match (answer.error_type, answer.error) {
                (Some(kind), Some(error)) => format!("{kind}: {error}"),
                (None, Some(error)) => error,
                (Some(kind), None) => kind,
                (None, None) => format!("status {:?} (HTTP {status})", answer.status),
            };
            return Err(AnalysisError::Query {
                service: self.service,
                url: self.address(),
                query: body_excerpt(promql, 200),
                message,
            });
        }
        let data = answer
            .data
            .ok_or_else(|| self.unparsable("a successful answer without `data`".into()))?;
        parse_result(&data.result_type, data.result).map_err(|e| self.unparsable(e))
    }

    /// Sends a GET for `url` (with the base's basic authentication, or a bearer token) and
    /// gives the answer's status and body. With a token source, a 401 answer makes it forget
    /// that token and send once more with a new one (when the source can make one).
    async fn send(&self, url: url::Url) -> Result<(reqwest::StatusCode, String), AnalysisError> {
        let mut refreshed = false;
        loop {
            let mut request = self.base.get(&self.http, url.clone());
            let token: Option<Secret> = match &self.tokens {
                Some(tokens) => Some(tokens.token().await.map_err(|e| {
                    // GcpError never holds the token; it says which source failed and why.
                    self.auth_error(e.to_string())
                })?),
                None => None,
            };
            if let Some(token) = &token {
                request = request.bearer_auth(token.expose());
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.unreachable(request_error_text(e, self.timeout)))?;
            let status = response.status();
            if let (reqwest::StatusCode::UNAUTHORIZED, Some(tokens), Some(token)) =
                (status, &self.tokens, &token)
            {
                if !refreshed && tokens.can_refresh() {
                    tracing::info!(
                        service = self.service,
                        url = %self.address(),
                        "the access token was refused (HTTP 401); fetching a new one"
                    );
                    tokens.invalidate_token(token);
                    refreshed = true;
                    continue;
                }
            }
            let body = response.text().await.map_err(|e| {
                self.unreachable(format!(
                    "reading the answer: {}",
                    request_error_text(e, self.timeout)
                ))
            })?;
            return Ok((status, body));
        }
    }

    /// The cumulative counters of every backend (see the module docs), from three queries
    /// evaluated at the same instant.
    pub async fn counters(
        &self,
        backends: &[String],
    ) -> Result<BTreeMap<String, Counters>, AnalysisError> {
        if backends.is_empty() {
            return Ok(BTreeMap::new());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let (completed, failed, buckets) = (
            counters_query(Stat::Completed, backends),
            counters_query(Stat::Failed, backends),
            counters_query(Stat::Buckets, backends),
        );
        let (completed, failed, buckets) = tokio::join!(
            self.query_at(&completed, Some(now)),
            self.query_at(&failed, Some(now)),
            self.query_at(&buckets, Some(now)),
        );
        let (completed, failed, buckets) = (completed?, failed?, buckets?);
        let per_backend = |result: &QueryResult| -> Result<BTreeMap<String, u64>, AnalysisError> {
            let mut out = BTreeMap::new();
            for series in vector(result).map_err(|e| self.unparsable(e))? {
                if let Some(name) = series.labels.get("envoy_cluster_name") {
                    *out.entry(name.clone()).or_default() += count(series.value);
                }
            }
            Ok(out)
        };
        let completed = per_backend(&completed)?;
        let failed = per_backend(&failed)?;
        let mut pairs: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
        for series in vector(&buckets).map_err(|e| self.unparsable(e))? {
            let (Some(name), Some(le)) = (
                series.labels.get("envoy_cluster_name"),
                series.labels.get("le"),
            ) else {
                continue;
            };
            let bound = parse_number(le).ok_or_else(|| {
                self.unparsable(format!("bucket bound le={le:?} is not a number"))
            })?;
            pairs
                .entry(name.clone())
                .or_default()
                .push((bound, count(series.value)));
        }
        let histograms: BTreeMap<String, Histogram> = pairs
            .into_iter()
            .map(|(name, pairs)| (name, Histogram::from_cumulative(pairs)))
            .collect();
        let bounds: Vec<f64> = histograms
            .values()
            .next()
            .map(|h| h.bounds_ms.clone())
            .unwrap_or_else(|| ENVOY_DEFAULT_BOUNDS_MS.to_vec());
        Ok(backends
            .iter()
            .map(|b| {
                let latency = histograms.get(b).cloned().unwrap_or_else(|| Histogram {
                    bounds_ms: bounds.clone(),
                    counts: vec![0; bounds.len() + 1],
                });
                let counters = Counters {
                    requests: completed.get(b).copied().unwrap_or(0),
                    failures: failed.get(b).copied().unwrap_or(0),
                    latency,
                };
                (b.clone(), counters)
            })
            .collect())
    }

    /// The value of each custom query, rendered with `vars`; a failing query's value is its
    /// error, which names the query.
    pub async fn queries(&self, queries: &[QuerySpec], vars: &TemplateVars) -> Vec<QueryValue> {
        let mut values = Vec::with_capacity(queries.len());
        for spec in queries {
            let value = match template::render(&spec.query, vars) {
                Err(e) => Err(format!("query {:?}: {e}", spec.name)),
                Ok(promql) => match self.query(&promql).await {
                    Ok(result) => result
                        .one_number()
                        .map_err(|e| format!("query {:?} {e}", spec.name)),
                    Err(AnalysisError::Query { message, .. }) => Err(format!(
                        "query {:?} was refused by {}: {message}",
                        spec.name, self.service
                    )),
                    Err(e) => Err(format!("query {:?}: {e}", spec.name)),
                },
            };
            values.push(QueryValue {
                name: spec.name.clone(),
                value,
            });
        }
        values
    }

    fn unreachable(&self, message: String) -> AnalysisError {
        AnalysisError::Unreachable {
            service: self.service,
            url: self.address(),
            message,
        }
    }

    fn unparsable(&self, message: String) -> AnalysisError {
        AnalysisError::Unparsable {
            service: self.service,
            url: self.address(),
            message,
        }
    }

    fn auth_error(&self, message: String) -> AnalysisError {
        AnalysisError::Auth {
            service: self.service,
            url: self.address(),
            message,
        }
    }
}

/// The PromQL reading `stat` for every backend: one selector for the names without dots, and one
/// `label_replace` per name with dots (see the module docs), joined with `or`.
fn counters_query(stat: Stat, backends: &[String]) -> String {
    let by_le = stat == Stat::Buckets;
    let (dotted, plain): (Vec<&String>, Vec<&String>) =
        backends.iter().partition(|b| b.contains('.'));
    let mut parts = Vec::new();
    if !plain.is_empty() {
        let names: Vec<String> = plain.iter().map(|b| regex_escape(b)).collect();
        parts.push(format!(
            "sum by (envoy_cluster_name{}) (envoy_cluster_{}{{envoy_cluster_name=~\"{}\"{}}})",
            if by_le { ", le" } else { "" },
            stat.metric(),
            string_escape(&names.join("|")),
            stat.extra(),
        ));
    }
    for name in dotted {
        let (head, rest) = name.split_once('.').unwrap_or((name, ""));
        let mangled: String = rest
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        parts.push(format!(
            "label_replace({} (envoy_cluster_{mangled}_{}{{envoy_cluster_name=\"{}\"{}}}), \
             \"envoy_cluster_name\", \"{}\", \"\", \"\")",
            if by_le { "sum by (le)" } else { "sum" },
            stat.metric(),
            string_escape(head),
            stat.extra(),
            string_escape(&name.replace('$', "$$")),
        ));
    }
    parts.join(" or ")
}

fn vector(result: &QueryResult) -> Result<&[Series], String> {
    match result {
        QueryResult::Vector(series) => Ok(series),
        other => Err(format!("expected an instant vector, got {other:?}")),
    }
}

/// A counter's value as a whole number (negative and NaN as 0).
fn count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

/// A sample value or bucket bound as Prometheus writes it (`1.5`, `+Inf`, `-Inf`, `NaN`).
fn parse_number(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        other => other.parse().ok(),
    }
}

fn parse_result(result_type: &str, result: Json) -> Result<QueryResult, String> {
    let value_of = |pair: (Json, String)| {
        parse_number(&pair.1).ok_or_else(|| format!("sample value {:?} is not a number", pair.1))
    };
    match result_type {
        "scalar" => {
            let pair: (Json, String) = serde_json::from_value(result)
                .map_err(|e| format!("a scalar that is not [time, \"value\"]: {e}"))?;
            Ok(QueryResult::Scalar(value_of(pair)?))
        }
        "string" => {
            let pair: (Json, String) = serde_json::from_value(result)
                .map_err(|e| format!("a string that is not [time, \"value\"]: {e}"))?;
            Ok(QueryResult::String(pair.1))
        }
        "vector" => {
            let samples: Vec<ApiSample> = serde_json::from_value(result)
                .map_err(|e| format!("a vector that is not [{{metric, value}}]: {e}"))?;
            samples
                .into_iter()
                .map(|s| {
                    Ok(Series {
                        labels: s.metric,
                        value: value_of(s.value)?,
                    })
                })
                .collect::<Result<_, String>>()
                .map(QueryResult::Vector)
        }
        "matrix" => match result {
            Json::Array(series) => Ok(QueryResult::Matrix(series.len())),
            other => Err(format!("a matrix that is not a list: {other}")),
        },
        other => Err(format!("unknown resultType {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counters_queries_batch_plain_names_and_rename_dotted_ones() {
        assert_eq!(
            counters_query(Stat::Completed, &names(&["stable", "canary-v2"])),
            r#"sum by (envoy_cluster_name) (envoy_cluster_upstream_rq_completed{envoy_cluster_name=~"stable|canary-v2"})"#
        );
        assert_eq!(
            counters_query(
                Stat::Failed,
                &names(&["stable", "ads.ads.svc.cluster.local_v2"])
            ),
            concat!(
                r#"sum by (envoy_cluster_name) (envoy_cluster_upstream_rq_xx{envoy_cluster_name=~"stable",envoy_response_code_class="5"})"#,
                r#" or label_replace(sum (envoy_cluster_ads_svc_cluster_local_v2_upstream_rq_xx{envoy_cluster_name="ads",envoy_response_code_class="5"}), "envoy_cluster_name", "ads.ads.svc.cluster.local_v2", "", "")"#,
            )
        );
        assert_eq!(
            counters_query(Stat::Buckets, &names(&["a.b-c"])),
            r#"label_replace(sum by (le) (envoy_cluster_b_c_upstream_rq_time_bucket{envoy_cluster_name="a"}), "envoy_cluster_name", "a.b-c", "", "")"#
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let query = counters_query(Stat::Completed, &names(&["x\"y", "a|b"]));
        assert!(query.contains(r#"=~"x\"y|a\\|b""#), "{query}");
    }

    fn parse(body: &str) -> QueryResult {
        let answer: ApiAnswer = serde_json::from_str(body).unwrap();
        let data = answer.data.unwrap();
        parse_result(&data.result_type, data.result).unwrap()
    }

    #[test]
    fn results_are_one_number_or_an_error() {
        let scalar =
            parse(r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"0.25"]}}"#);
        assert_eq!(scalar.one_number(), Ok(0.25));
        let one = parse(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"+Inf"]}]}}"#,
        );
        assert_eq!(one.one_number(), Ok(f64::INFINITY));
        let two = parse(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"a":"1"},"value":[1.5,"1"]},{"metric":{"a":"2"},"value":[1.5,"2"]}]}}"#,
        );
        let err = two.one_number().unwrap_err();
        assert!(
            err.contains("2 series") && err.contains(r#"{a="1"}"#),
            "{err}"
        );
        let none = parse(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#);
        assert!(none.one_number().unwrap_err().contains("no series"));
        let nan =
            parse(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}"#);
        assert!(nan.one_number().unwrap_err().contains("NaN"));
        let matrix = parse(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}}"#,
        );
        assert!(matrix.one_number().unwrap_err().contains("range vector"));
    }

    #[test]
    fn google_errors_are_summarised() {
        assert_eq!(
            google_error_message(
                r#"{"error":{"code":403,"message":"Permission monitoring.timeSeries.list denied","status":"PERMISSION_DENIED"}}"#
            )
            .as_deref(),
            Some("PERMISSION_DENIED: Permission monitoring.timeSeries.list denied")
        );
        assert_eq!(google_error_message(r#"{"error":{"code":401}}"#), None);
        assert_eq!(google_error_message(r#"{"status":"error"}"#), None);
        assert_eq!(google_error_message("Unauthorized"), None);
    }

    #[test]
    fn bounds_and_values_parse_as_prometheus_writes_them() {
        assert_eq!(parse_number("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_number("3.6e+06"), Some(3_600_000.0));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("x"), None);
        assert_eq!(count(44.0000001), 44);
        assert_eq!(count(f64::NAN), 0);
    }
}
