//! Counters from an Envoy's admin interface: one request per read, for every backend.
//!
//! A read is one `GET /stats?format=json&histogram_buckets=cumulative&filter=...` whose filter
//! (an RE2 expression) matches exactly, for each backend (Envoy cluster) `X`:
//!
//! - `cluster.X.upstream_rq_completed`: requests completed, whatever the status. This includes
//!   the 503s Envoy answers itself when the connection to the backend fails or is reset.
//! - `cluster.X.upstream_rq_5xx`: the failures. Envoy creates a status-class counter on its first
//!   use, so a missing one is 0.
//! - `cluster.X.upstream_rq_time`: the latency histogram, as cumulative buckets
//!   (`{"upper_bound": 250, "cumulative": 17}`) with Envoy's bucket bounds (by default 0.5, 1, 5,
//!   10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000
//!   and 3600000 ms). The JSON has no `+Inf` bucket, so the overflow (above one hour) is 0.
//!
//! Caveats the judge must live with: the histogram is refreshed only at every
//! `stats_flush_interval` (meshcd's bootstrap sets 1 s), so its total lags `upstream_rq_completed`
//! by up to one flush; and it records only requests that got an answer from the backend, so
//! connection failures count in `requests` and `failures` but not in `latency`.
//!
//! A cluster whose `upstream_rq_completed` is absent does not exist in that Envoy: the read
//! fails with [`AnalysisError::UnknownBackends`] rather than counting it as quiet.
//!
//! # Which endpoint (measured with Envoy 1.40.0)
//!
//! Both `/stats?format=json&filter=F&histogram_buckets=cumulative` and
//! `/stats/prometheus?filter=F` answer with everything needed, in one request. On one Envoy
//! (`--concurrency 1`) with two clusters, 200 reads each with `curl` (which adds about 0.8 ms of
//! its own): filtered JSON 0.85 / 1.22 / 3.1 ms (min / median / max) for 2.1 KB; filtered
//! Prometheus text 0.87 / 1.32 / 2.1 ms for 3.8 KB; unfiltered, 2.3 and 2.8 ms (median) for
//! 51 KB and 91 KB. JSON was chosen: smaller, and read with `serde_json` rather than a
//! hand-written text parser. Through this reader (reqwest, keep-alive) one read of two clusters
//! takes 0.5–1.2 ms (median of 100 reads, over six runs), at most 12 ms while other builds and
//! tests loaded the machine (`tests/envoy/analysis_providers.rs` prints it). After the last request the
//! histogram totals caught up within 2–911 ms (the next flush). `histogram_buckets=detailed` gives Envoy's
//! fine internal buckets, but only the non-empty ones, so their bounds change from read to read
//! and the difference of two reads could not be taken.

use std::collections::BTreeMap;
use std::time::Duration;

use meshcd_core::rollout::sample::{Counters, Histogram};
use serde_json::Value as Json;

use super::template::regex_escape;
use super::{body_excerpt, http_client, request_error_text, AnalysisError, BaseUrl};

const SERVICE: &str = "Envoy admin";

/// The timeout of one read.
pub const STATS_TIMEOUT: Duration = Duration::from_secs(2);

/// Envoy's default histogram bucket bounds, in milliseconds (used for a histogram Envoy has not
/// reported yet when no other histogram of the same read gives the bounds).
pub const ENVOY_DEFAULT_BOUNDS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

const COMPLETED: &str = "upstream_rq_completed";
const FAILED: &str = "upstream_rq_5xx";
const LATENCY: &str = "upstream_rq_time";

/// Reads per-cluster counters from one Envoy's admin interface.
#[derive(Debug, Clone)]
pub struct EnvoyStats {
    base: BaseUrl,
    http: reqwest::Client,
}

impl EnvoyStats {
    /// A reader for the admin interface at `admin_url` (such as `http://127.0.0.1:9901`).
    pub fn new(admin_url: &str) -> Result<Self, AnalysisError> {
        Ok(Self {
            base: BaseUrl::parse(SERVICE, admin_url)?,
            http: http_client(SERVICE, STATS_TIMEOUT, false)?,
        })
    }

    /// The admin address (without credentials).
    pub fn admin_url(&self) -> String {
        self.base.display()
    }

    /// The stats filter matching exactly the three stats of each backend.
    pub fn filter(backends: &[String]) -> String {
        let names: Vec<String> = backends.iter().map(|b| regex_escape(b)).collect();
        format!(
            r"^cluster\.({})\.({COMPLETED}|{FAILED}|{LATENCY})$",
            names.join("|")
        )
    }

    /// The cumulative counters of every backend, from one admin request.
    pub async fn counters(
        &self,
        backends: &[String],
    ) -> Result<BTreeMap<String, Counters>, AnalysisError> {
        if backends.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut url = self.base.join("/stats");
        url.query_pairs_mut()
            .append_pair("format", "json")
            .append_pair("histogram_buckets", "cumulative")
            .append_pair("filter", &Self::filter(backends));
        let response = self.base.get(&self.http, url).send().await.map_err(|e| {
            AnalysisError::Unreachable {
                service: SERVICE,
                url: self.admin_url(),
                message: request_error_text(e, STATS_TIMEOUT),
            }
        })?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| AnalysisError::Unreachable {
                service: SERVICE,
                url: self.admin_url(),
                message: format!(
                    "reading the answer: {}",
                    request_error_text(e, STATS_TIMEOUT)
                ),
            })?;
        if !status.is_success() {
            return Err(AnalysisError::Status {
                service: SERVICE,
                url: self.admin_url(),
                status: status.as_u16(),
                message: body_excerpt(&body, 300),
            });
        }
        parse_stats(&body, backends).map_err(|e| match e {
            ParseError::Unparsable(message) => AnalysisError::Unparsable {
                service: SERVICE,
                url: self.admin_url(),
                message,
            },
            ParseError::Unknown(backends) => AnalysisError::UnknownBackends {
                service: SERVICE,
                url: self.admin_url(),
                backends,
            },
        })
    }
}

/// Why a `/stats` answer gave no counters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParseError {
    Unparsable(String),
    Unknown(Vec<String>),
}

/// The counters of `backends` in a `/stats?format=json&histogram_buckets=cumulative` answer.
pub(crate) fn parse_stats(
    body: &str,
    backends: &[String],
) -> Result<BTreeMap<String, Counters>, ParseError> {
    let value: Json = serde_json::from_str(body).map_err(|e| {
        ParseError::Unparsable(format!("not JSON ({e}): {}", body_excerpt(body, 200)))
    })?;
    let stats = value
        .get("stats")
        .and_then(Json::as_array)
        .ok_or_else(|| ParseError::Unparsable("no `stats` array".into()))?;
    let mut numbers: BTreeMap<&str, u64> = BTreeMap::new();
    let mut histograms: BTreeMap<&str, Histogram> = BTreeMap::new();
    for stat in stats {
        if let Some(list) = stat.get("histograms") {
            let list = list.as_array().ok_or_else(|| {
                ParseError::Unparsable(
                    "`histograms` is not a list (histogram_buckets=cumulative ignored?)".into(),
                )
            })?;
            for histogram in list {
                let name = histogram
                    .get("name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| ParseError::Unparsable("a histogram without a name".into()))?;
                histograms.insert(name, parse_buckets(name, histogram)?);
            }
            continue;
        }
        let Some(name) = stat.get("name").and_then(Json::as_str) else {
            continue;
        };
        let value = stat.get("value").and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        });
        match value {
            Some(v) => {
                numbers.insert(name, v);
            }
            None => {
                return Err(ParseError::Unparsable(format!(
                    "{name} is not a counter: {}",
                    stat.get("value").unwrap_or(&Json::Null)
                )))
            }
        }
    }
    let unknown: Vec<String> = backends
        .iter()
        .filter(|b| !numbers.contains_key(format!("cluster.{b}.{COMPLETED}").as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ParseError::Unknown(unknown));
    }
    // A histogram Envoy has not reported yet (no request since the cluster started) is empty on
    // the same bounds as the others, so that a later read minus this one is a proper window.
    let bounds: Vec<f64> = histograms
        .values()
        .next()
        .map(|h| h.bounds_ms.clone())
        .unwrap_or_else(|| ENVOY_DEFAULT_BOUNDS_MS.to_vec());
    Ok(backends
        .iter()
        .map(|b| {
            let get = |stat: &str| numbers.get(format!("cluster.{b}.{stat}").as_str()).copied();
            let latency = histograms
                .get(format!("cluster.{b}.{LATENCY}").as_str())
                .cloned()
                .unwrap_or_else(|| Histogram {
                    bounds_ms: bounds.clone(),
                    counts: vec![0; bounds.len() + 1],
                });
            let counters = Counters {
                requests: get(COMPLETED).unwrap_or(0),
                failures: get(FAILED).unwrap_or(0),
                latency,
            };
            (b.clone(), counters)
        })
        .collect())
}

fn parse_buckets(name: &str, histogram: &Json) -> Result<Histogram, ParseError> {
    let buckets = histogram
        .get("buckets")
        .and_then(Json::as_array)
        .ok_or_else(|| ParseError::Unparsable(format!("histogram {name} has no `buckets`")))?;
    let pairs = buckets
        .iter()
        .map(|bucket| {
            let bound = bucket.get("upper_bound").and_then(Json::as_f64);
            let count = bucket.get("cumulative").and_then(|c| {
                c.as_u64()
                    .or_else(|| c.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            });
            match (bound, count) {
                (Some(bound), Some(count)) => Ok((bound, count)),
                _ => Err(ParseError::Unparsable(format!(
                    "histogram {name} has a bucket without upper_bound and cumulative: {bucket}"
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Histogram::from_cumulative(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"stats":[
        {"name":"cluster.canary.upstream_rq_5xx","value":4},
        {"name":"cluster.canary.upstream_rq_completed","value":44},
        {"name":"cluster.a.b.svc.upstream_rq_completed","value":40},
        {"histograms":[
          {"name":"cluster.canary.upstream_rq_time","buckets":[
            {"upper_bound":0.5,"interval":0,"cumulative":0},
            {"upper_bound":1,"interval":0,"cumulative":36},
            {"upper_bound":5,"interval":2,"cumulative":40},
            {"upper_bound":3e+05,"interval":0,"cumulative":40}]}]}]}"#;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counters_come_from_exact_stat_names() {
        let counters = parse_stats(ANSWER, &names(&["canary", "a.b.svc"])).unwrap();
        let canary = &counters["canary"];
        assert_eq!((canary.requests, canary.failures), (44, 4));
        assert_eq!(canary.latency.bounds_ms, vec![0.5, 1.0, 5.0, 300000.0]);
        assert_eq!(canary.latency.counts, vec![0, 36, 4, 0, 0]);
        // No 5xx counter yet: 0. No histogram yet: empty, on the same bounds.
        let dotted = &counters["a.b.svc"];
        assert_eq!((dotted.requests, dotted.failures), (40, 0));
        assert_eq!(dotted.latency.bounds_ms, canary.latency.bounds_ms);
        assert_eq!(dotted.latency.total(), 0);
    }

    #[test]
    fn a_cluster_envoy_does_not_have_is_an_error() {
        let err = parse_stats(ANSWER, &names(&["canary", "nope", "a"])).unwrap_err();
        assert_eq!(err, ParseError::Unknown(names(&["nope", "a"])));
    }

    #[test]
    fn odd_answers_are_unparsable() {
        for body in [
            "cluster.a.upstream_rq_completed: 3",
            r#"{"nope":1}"#,
            r#"{"stats":[{"name":"cluster.a.upstream_rq_completed","value":"x"}]}"#,
            r#"{"stats":[{"histograms":{"supported_quantiles":[0]}}]}"#,
        ] {
            let err = parse_stats(body, &names(&["a"])).unwrap_err();
            assert!(matches!(err, ParseError::Unparsable(_)), "{body}: {err:?}");
        }
    }

    #[test]
    fn the_filter_matches_exactly_the_three_stats() {
        assert_eq!(
            EnvoyStats::filter(&names(&["canary", "ads.ads.svc.cluster.local_v2"])),
            r"^cluster\.(canary|ads\.ads\.svc\.cluster\.local_v2)\.(upstream_rq_completed|upstream_rq_5xx|upstream_rq_time)$"
        );
    }
}
