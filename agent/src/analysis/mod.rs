//! Analysis providers: where a rollout step's metrics come from.
//!
//! The rollout engine holds one [`MetricsSource`] per rollout, built from the policy's
//! [`AnalysisSpec`] by [`MetricsSource::for_spec`]. At a step's start and every analysis
//! interval it reads the cumulative [`Counters`] of the route's backends (Envoy cluster names)
//! with [`MetricsSource::counters`], and the judge looks at the difference
//! ([`Counters::since`]). Custom PromQL thresholds are read with [`MetricsSource::queries`].
//!
//! | provider | source | counters | custom queries |
//! |---|---|---|---|
//! | `envoy` | [`EnvoyStats`]: one `/stats` request to the Envoy admin interface per read; over an xDS fleet, [`FleetMetrics`]: every Envoy's streamed counters, summed | every backend | no |
//! | `prometheus` | [`PrometheusClient`]: instant queries on Envoy's metrics as Prometheus scraped them | every backend | yes |
//! | `cloud-monitoring` | [`PrometheusClient::cloud_monitoring`]: the same queries on Cloud Monitoring's Prometheus-compatible API, with a Google access token | every backend | yes |
//! | `http` | [`Prober`]: probes meshcd sends itself, [`MetricsSource::probe_round`] each interval | the canary only (the first backend) | no |
//! | `none` | nothing | none (an empty map) | no |
//!
//! **Calling convention**: `backends` lists the canary first, then the stable backends. Envoy and
//! Prometheus answer for every backend; the probe source answers for the first one only, so the
//! stable side has no sample (the judge then has no canary-versus-stable comparison).
//!
//! **Errors** ([`AnalysisError`]) say which service, at which address (shown without any
//! `user:password@`), and what went wrong: unreachable, an HTTP status with the service's own
//! error text, an answer that cannot be read, a query Prometheus refused, a backend Envoy does
//! not know, no access token or a refused one. Probe headers and access tokens are never part
//! of a message.
//!
//! **Google credentials** (provider `cloud-monitoring`): [`MetricsSource::for_spec`] uses one
//! [`TokenSource`] for the whole process, from [`AuthConfig::from_environment`]
//! (`MESHCD_GCP_ACCESS_TOKEN`, else the key file in `GOOGLE_APPLICATION_CREDENTIALS`, else the
//! metadata server of Cloud Run, GCE or GKE), so rollouts share its cached token;
//! [`MetricsSource::for_spec_with`] takes another.

pub mod envoy_stats;
pub mod probe;
pub mod prometheus;
pub mod template;

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use meshcd_core::rollout::analysis::{is_project_id, AnalysisSpec, Provider, QuerySpec};
use meshcd_core::rollout::judge::QueryValue;
use meshcd_core::rollout::sample::Counters;

pub use envoy_stats::EnvoyStats;
pub use probe::{ProbeRound, Prober};
pub use prometheus::{PrometheusClient, QueryResult, Series};
pub use template::TemplateVars;

use crate::gcp::{AuthConfig, TokenSource};
use crate::xds::FleetMetrics;
use std::sync::Arc;

/// Why metrics could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    /// The analysis spec cannot be used as written (no address, a bad URL or probe setting).
    #[error("analysis settings: {0}")]
    Config(String),
    /// No answer: connection refused, timed out, DNS, TLS.
    #[error("{service} at {url} is unreachable: {message}")]
    Unreachable {
        /// `Envoy admin`, `Prometheus`, ...
        service: &'static str,
        /// The address, without credentials or query.
        url: String,
        /// What failed.
        message: String,
    },
    /// An answer with an unexpected HTTP status.
    #[error("{service} at {url} answered HTTP {status}: {message}")]
    Status {
        /// `Envoy admin`, `Prometheus`, ...
        service: &'static str,
        /// The address, without credentials or query.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The service's error text (Prometheus's `error`), or the start of the body.
        message: String,
    },
    /// An answer that is not what the API returns (not JSON, missing fields, not numbers).
    #[error("{service} at {url} gave an answer meshcd cannot read: {message}")]
    Unparsable {
        /// `Envoy admin`, `Prometheus`, ...
        service: &'static str,
        /// The address, without credentials or query.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// Prometheus (or Cloud Monitoring) refused or could not evaluate a query
    /// (`"status": "error"`).
    #[error("{service} at {url} could not run {query}: {message}")]
    Query {
        /// `Prometheus` or `Cloud Monitoring`.
        service: &'static str,
        /// The address, without credentials.
        url: String,
        /// The query (a custom query's name, or the PromQL text).
        query: String,
        /// Prometheus's `errorType` and `error`.
        message: String,
    },
    /// No access token could be obtained, or the service refused the one sent (HTTP 401, also
    /// after fetching a new one). Never holds the token.
    #[error("{service} at {url}: {message}")]
    Auth {
        /// `Cloud Monitoring`.
        service: &'static str,
        /// The address, without credentials or query.
        url: String,
        /// What failed: the token source and its error, or the service's answer.
        message: String,
    },
    /// The service has no stats at all for these backends (a cluster Envoy does not have).
    #[error("{service} at {url} has no stats for {}", .backends.join(", "))]
    UnknownBackends {
        /// `Envoy admin`, `Prometheus`, ...
        service: &'static str,
        /// The address, without credentials or query.
        url: String,
        /// The backends it does not know.
        backends: Vec<String>,
    },
}

/// Where a rollout's metrics come from (see the module docs).
#[derive(Debug)]
pub enum MetricsSource {
    /// Envoy admin stats.
    Envoy(EnvoyStats),
    /// A Prometheus server scraping Envoy.
    Prometheus(PrometheusClient),
    /// Cloud Monitoring's Prometheus-compatible API (a [`PrometheusClient::cloud_monitoring`]).
    CloudMonitoring(PrometheusClient),
    /// HTTP probes meshcd sends (boxed: it is several times larger than the others).
    Probe(Box<Prober>),
    /// Provider `envoy` over an xDS fleet: the counters every Envoy streams to meshcd's metrics
    /// service, summed.
    Fleet(Arc<FleetMetrics>),
    /// No metrics (time-based steps).
    None,
}

impl MetricsSource {
    /// The source `spec` asks for. `envoy_admin` is the target's Envoy admin URL (such as
    /// `http://127.0.0.1:9901`), used by provider `envoy` unless `spec.address` names another.
    /// Fails when the provider's address or probe is missing or unusable. Provider
    /// `cloud-monitoring` gets its tokens from the environment (see the module docs).
    pub fn for_spec(spec: &AnalysisSpec, envoy_admin: Option<&str>) -> Result<Self, AnalysisError> {
        Self::for_spec_with(spec, envoy_admin, None)
    }

    /// Like [`Self::for_spec`] for a target that publishes to a fleet over xDS: provider `envoy`
    /// without an `analysis.address` reads the fleet's summed counters from `fleet`.
    pub fn for_spec_in_fleet(
        spec: &AnalysisSpec,
        envoy_admin: Option<&str>,
        fleet: Option<&Arc<FleetMetrics>>,
    ) -> Result<Self, AnalysisError> {
        let unaddressed = spec.address.as_deref().is_none_or(|a| a.trim().is_empty());
        match fleet {
            Some(fleet) if spec.provider == Provider::Envoy && unaddressed => {
                Ok(Self::Fleet(fleet.clone()))
            }
            _ => Self::for_spec(spec, envoy_admin),
        }
    }

    /// Like [`Self::for_spec`], with the token source provider `cloud-monitoring` uses; `None`
    /// uses the environment's (shared by the whole process). Other providers ignore `tokens`.
    pub fn for_spec_with(
        spec: &AnalysisSpec,
        envoy_admin: Option<&str>,
        tokens: Option<TokenSource>,
    ) -> Result<Self, AnalysisError> {
        let address = spec.address.as_deref().filter(|a| !a.trim().is_empty());
        match spec.provider {
            Provider::Envoy => {
                let admin = address.or(envoy_admin).ok_or_else(|| {
                    AnalysisError::Config(
                        "provider envoy needs an Envoy admin URL: the target has none, and \
                         analysis.address is not set"
                            .into(),
                    )
                })?;
                Ok(Self::Envoy(EnvoyStats::new(admin)?))
            }
            Provider::Prometheus => {
                let address = address.ok_or_else(|| {
                    AnalysisError::Config(
                        "provider prometheus needs analysis.address (such as \
                         http://prometheus:9090)"
                            .into(),
                    )
                })?;
                Ok(Self::Prometheus(PrometheusClient::new(address)?))
            }
            Provider::CloudMonitoring => {
                if address.is_none() {
                    if let Some(project) = spec.project.as_deref().map(str::trim) {
                        if !is_project_id(project) {
                            return Err(AnalysisError::Config(format!(
                                "analysis.project {project:?} is not a Google Cloud project ID \
                                 (lowercase letters, digits and `-`)"
                            )));
                        }
                    }
                }
                let address = spec.promql_address().ok_or_else(|| {
                    AnalysisError::Config(
                        "provider cloud-monitoring needs analysis.project (the Google Cloud \
                         project whose metrics it reads) or analysis.address"
                            .into(),
                    )
                })?;
                let tokens = match tokens {
                    Some(tokens) => tokens,
                    None => environment_tokens()?,
                };
                Ok(Self::CloudMonitoring(PrometheusClient::cloud_monitoring(
                    &address, tokens,
                )?))
            }
            Provider::Http => {
                let probe = spec.probe.as_ref().ok_or_else(|| {
                    AnalysisError::Config("provider http needs analysis.probe (its url)".into())
                })?;
                Ok(Self::Probe(Box::new(Prober::new(probe)?)))
            }
            Provider::None => Ok(Self::None),
        }
    }

    /// The provider this source reads.
    pub fn provider(&self) -> Provider {
        match self {
            Self::Envoy(_) | Self::Fleet(_) => Provider::Envoy,
            Self::Prometheus(_) => Provider::Prometheus,
            Self::CloudMonitoring(_) => Provider::CloudMonitoring,
            Self::Probe(_) => Provider::Http,
            Self::None => Provider::None,
        }
    }

    /// Sends this interval's probes (provider `http`; `None` for the others, which read traffic
    /// they do not make). Call it once per analysis interval, before [`Self::counters`].
    pub async fn probe_round(&self) -> Option<ProbeRound> {
        match self {
            Self::Probe(prober) => Some(prober.probe_round().await),
            _ => None,
        }
    }

    /// The cumulative counters of `backends` (the canary first, then the stable ones) now.
    /// Envoy: every backend, or [`AnalysisError::UnknownBackends`] when Envoy has no such
    /// cluster. Prometheus, Cloud Monitoring: every backend (no series yet counts as zero). Probe:
    /// the first
    /// backend only. None: an empty map.
    pub async fn counters(
        &self,
        backends: &[String],
    ) -> Result<BTreeMap<String, Counters>, AnalysisError> {
        match self {
            Self::Envoy(stats) => stats.counters(backends).await,
            Self::Prometheus(prometheus) | Self::CloudMonitoring(prometheus) => {
                prometheus.counters(backends).await
            }
            Self::Probe(prober) => Ok(backends
                .first()
                .map(|canary| (canary.clone(), prober.counters()))
                .into_iter()
                .collect()),
            Self::Fleet(fleet) => {
                fleet
                    .counters(backends)
                    .ok_or_else(|| AnalysisError::UnknownBackends {
                        service: "the fleet's metrics",
                        url: format!("{} Envoy(s) reporting", fleet.envoys()),
                        backends: backends.to_vec(),
                    })
            }
            Self::None => Ok(BTreeMap::new()),
        }
    }

    /// The value of each custom query (providers `prometheus`, `cloud-monitoring`), rendered
    /// with `vars`; a query
    /// that fails has its error as its value. Other providers cannot run queries: each gets an
    /// error saying so.
    pub async fn queries(&self, queries: &[QuerySpec], vars: &TemplateVars) -> Vec<QueryValue> {
        match self {
            Self::Prometheus(prometheus) | Self::CloudMonitoring(prometheus) => {
                prometheus.queries(queries, vars).await
            }
            other => queries
                .iter()
                .map(|q| QueryValue {
                    name: q.name.clone(),
                    value: Err(format!(
                        "custom queries need provider prometheus or cloud-monitoring; this \
                         analysis uses {}",
                        other.provider().as_str()
                    )),
                })
                .collect(),
        }
    }
}

/// The process's token source for provider `cloud-monitoring`, from the environment: made at
/// the first use, then shared (clones share the cached token). A failure is not kept, so a
/// later rollout tries again.
fn environment_tokens() -> Result<TokenSource, AnalysisError> {
    static SHARED: Mutex<Option<TokenSource>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(tokens) = shared.as_ref() {
        return Ok(tokens.clone());
    }
    let tokens = TokenSource::new(&AuthConfig::from_environment()).map_err(|e| {
        AnalysisError::Config(format!(
            "provider cloud-monitoring has no Google credentials: {e}"
        ))
    })?;
    *shared = Some(tokens.clone());
    Ok(tokens)
}

/// A parsed base URL and the credentials that were in it.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    /// The URL without credentials, query or fragment, and without a trailing `/`.
    pub(crate) url: url::Url,
    /// `user:password@` from the URL, sent as basic authentication.
    pub(crate) basic_auth: Option<(String, Option<String>)>,
}

impl BaseUrl {
    /// Parses an `http` or `https` base URL for `service`.
    pub(crate) fn parse(service: &'static str, text: &str) -> Result<Self, AnalysisError> {
        let mut url = url::Url::parse(text.trim()).map_err(|e| {
            // The parse error never repeats the input, which may hold a password.
            AnalysisError::Config(format!("the {service} address is not a URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(AnalysisError::Config(format!(
                "the {service} address must be an http:// or https:// URL with a host, not {}",
                display_url(&url)
            )));
        }
        let basic_auth = (!url.username().is_empty() || url.password().is_some()).then(|| {
            (
                percent_decode(url.username()),
                url.password().map(percent_decode).filter(|p| !p.is_empty()),
            )
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        Ok(Self { url, basic_auth })
    }

    /// The URL of `path` (starting with `/`) under this base.
    pub(crate) fn join(&self, path: &str) -> url::Url {
        let mut url = self.url.clone();
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// A GET request for `url` with the base's credentials.
    pub(crate) fn get(&self, http: &reqwest::Client, url: url::Url) -> reqwest::RequestBuilder {
        let request = http.get(url);
        match &self.basic_auth {
            Some((user, password)) => request.basic_auth(user, password.as_ref()),
            None => request,
        }
    }

    /// The base for messages.
    pub(crate) fn display(&self) -> String {
        display_url(&self.url)
    }
}

/// `text` with its `%XX` escapes decoded (URL user names and passwords are percent-encoded).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `url` for messages: no credentials, query or fragment.
pub(crate) fn display_url(url: &url::Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string().trim_end_matches('/').to_string()
}

/// An HTTP client with `timeout` for every request; `proxy` false ignores proxy settings.
pub(crate) fn http_client(
    service: &'static str,
    timeout: Duration,
    proxy: bool,
) -> Result<reqwest::Client, AnalysisError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if !proxy {
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| {
        AnalysisError::Config(format!("cannot build an HTTP client for {service}: {e}"))
    })
}

/// What a failed request says, without its URL (which may carry a query or credentials): the
/// error and its causes, `connection refused (os error 111)` and the like.
pub(crate) fn request_error_text(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {}", humantime::format_duration(timeout));
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The first `max` characters of a response body, on one line, for an error message.
pub(crate) fn body_excerpt(body: &str, max: usize) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_credentials_and_keep_them_for_authentication() {
        let base = BaseUrl::parse(
            "Prometheus",
            "https://ops:s%40c+ret@prom.example:9090/prom/?x=1#f",
        )
        .unwrap();
        assert_eq!(base.display(), "https://prom.example:9090/prom");
        assert_eq!(
            base.join("/api/v1/query").as_str(),
            "https://prom.example:9090/prom/api/v1/query"
        );
        assert_eq!(
            base.basic_auth,
            Some(("ops".to_string(), Some("s@c+ret".to_string())))
        );
        let base = BaseUrl::parse("Envoy admin", "http://127.0.0.1:9901/").unwrap();
        assert_eq!(base.join("/stats").as_str(), "http://127.0.0.1:9901/stats");
        assert_eq!(base.basic_auth, None);
    }

    #[test]
    fn percent_escapes_are_decoded_and_plus_stays() {
        assert_eq!(percent_decode("a%40b+c%2"), "a@b+c%2");
        assert_eq!(percent_decode("%e2%82%ac%"), "€%");
    }

    #[test]
    fn bad_addresses_are_config_errors_without_the_password() {
        for text in ["not a url", "ftp://u:hunter2@host/", "unix:/var/run/x"] {
            let err = BaseUrl::parse("Prometheus", text).unwrap_err();
            assert!(matches!(err, AnalysisError::Config(_)), "{err:?}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn for_spec_needs_an_address_or_a_probe() {
        let spec = |provider| AnalysisSpec {
            provider,
            ..AnalysisSpec::default()
        };
        let err = MetricsSource::for_spec(&spec(Provider::Envoy), None).unwrap_err();
        assert!(err.to_string().contains("Envoy admin URL"), "{err}");
        let source = MetricsSource::for_spec(&spec(Provider::Envoy), Some("http://127.0.0.1:1"));
        assert_eq!(source.unwrap().provider(), Provider::Envoy);
        let err = MetricsSource::for_spec(&spec(Provider::Prometheus), None).unwrap_err();
        assert!(err.to_string().contains("analysis.address"), "{err}");
        let err = MetricsSource::for_spec(&spec(Provider::Http), None).unwrap_err();
        assert!(err.to_string().contains("analysis.probe"), "{err}");
        let none = MetricsSource::for_spec(&spec(Provider::None), None).unwrap();
        assert_eq!(none.provider(), Provider::None);
    }

    fn unused_tokens() -> TokenSource {
        // A metadata server nobody asks: making the source fetches nothing.
        TokenSource::new(&AuthConfig::Metadata {
            host: Some("127.0.0.1:9".into()),
        })
        .unwrap()
    }

    #[test]
    fn cloud_monitoring_reads_the_project_s_api_or_the_address() {
        let spec = |address: Option<&str>, project: Option<&str>| AnalysisSpec {
            provider: Provider::CloudMonitoring,
            address: address.map(str::to_string),
            project: project.map(str::to_string),
            ..AnalysisSpec::default()
        };
        let source = MetricsSource::for_spec_with(
            &spec(None, Some("shop-prod")),
            None,
            Some(unused_tokens()),
        )
        .unwrap();
        assert_eq!(source.provider(), Provider::CloudMonitoring);
        let MetricsSource::CloudMonitoring(client) = &source else {
            panic!("{source:?}");
        };
        assert!(client.is_cloud_monitoring());
        assert_eq!(
            client.address(),
            "https://monitoring.googleapis.com/v1/projects/shop-prod/location/global/prometheus"
        );
        let local = MetricsSource::for_spec_with(
            &spec(Some("http://127.0.0.1:9090/"), Some("ignored")),
            None,
            Some(unused_tokens()),
        )
        .unwrap();
        let MetricsSource::CloudMonitoring(client) = &local else {
            panic!("{local:?}");
        };
        assert_eq!(client.address(), "http://127.0.0.1:9090");
        let shown = format!("{local:?}");
        assert!(shown.contains("Cloud Monitoring"), "{shown}");

        let err = MetricsSource::for_spec_with(&spec(None, None), None, Some(unused_tokens()))
            .unwrap_err();
        assert!(
            matches!(&err, AnalysisError::Config(m) if m.contains("analysis.project")),
            "{err}"
        );
        let err = MetricsSource::for_spec_with(
            &spec(None, Some("projects/x")),
            None,
            Some(unused_tokens()),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not a Google Cloud project ID"),
            "{err}"
        );
        // A token never goes over plain http to another host, nor next to a password.
        for address in [
            "http://prometheus:9090",
            "https://u:hunter2@monitoring.example",
        ] {
            let err = MetricsSource::for_spec_with(
                &spec(Some(address), None),
                None,
                Some(unused_tokens()),
            )
            .unwrap_err();
            assert!(matches!(err, AnalysisError::Config(_)), "{err:?}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[tokio::test]
    async fn other_providers_answer_queries_with_an_error() {
        let queries = vec![QuerySpec {
            name: "errors".into(),
            query: "vector(1)".into(),
            ..QuerySpec::default()
        }];
        let values = MetricsSource::None
            .queries(&queries, &TemplateVars::default())
            .await;
        assert_eq!(values.len(), 1);
        let err = values[0].value.clone().unwrap_err();
        assert!(err.contains("provider prometheus"), "{err}");
        assert!(MetricsSource::None
            .counters(&["a".into()])
            .await
            .unwrap()
            .is_empty());
    }
}
