//! HTTP probes (provider `http`): meshcd sends the canary's requests itself and counts them.
//!
//! Each [`Prober::probe_round`] sends `perInterval` probes (default 1, at most
//! [`MAX_PER_INTERVAL`]) at once, with the spec's method and headers, each bounded by its
//! `timeout` (default 2 s), redirects not followed, no proxy. A probe succeeds when its status is
//! in `expectStatus` (default: any 2xx); any other status, a timeout or a connection failure is a
//! failure. The results add up in cumulative [`Counters`]: `requests` probes sent, `failures`
//! probes failed, and `latency` the time to the whole answer of every probe that got one (or
//! timed out: a timeout is recorded at the time it gave up) on Envoy's default bucket bounds. A
//! connection that fails at once is not a latency.
//!
//! Probe headers often carry tokens: they are never logged, shown by `Debug`, or put in an
//! error; neither is a password in the probe URL (it is sent as basic authentication).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use meshcd_core::rollout::analysis::ProbeSpec;
use meshcd_core::rollout::duration;
use meshcd_core::rollout::sample::{Counters, Histogram};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::envoy_stats::ENVOY_DEFAULT_BOUNDS_MS;
use super::{display_url, http_client, percent_decode, request_error_text, AnalysisError};

/// A probe's timeout when the spec sets none.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most probes one round may send.
pub const MAX_PER_INTERVAL: u32 = 100;
/// The most of an answer's body a probe reads (it is timed, not kept).
const MAX_BODY: usize = 1 << 20;

/// What one round of probes gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRound {
    /// Probes sent.
    pub sent: u32,
    /// Probes that succeeded.
    pub succeeded: u32,
    /// Probes that failed.
    pub failed: u32,
    /// Why the first failed one failed (`HTTP 503`, `no answer within 2s`, ...).
    pub first_failure: Option<String>,
}

/// Sends probes and keeps their cumulative counters.
pub struct Prober {
    url: url::Url,
    basic_auth: Option<(String, Option<String>)>,
    method: reqwest::Method,
    headers: HeaderMap,
    expect: Vec<u16>,
    timeout: Duration,
    per_interval: u32,
    http: reqwest::Client,
    counters: Mutex<Counters>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header names only: their values may be secrets.
        f.debug_struct("Prober")
            .field("url", &display_url(&self.url))
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("expect", &self.expect)
            .field("timeout", &self.timeout)
            .field("per_interval", &self.per_interval)
            .finish_non_exhaustive()
    }
}

/// One probe's outcome.
struct Outcome {
    ok: bool,
    latency: Option<Duration>,
    failure: Option<String>,
}

impl Prober {
    /// A prober for `spec`; fails when its URL, method, a header, a status or the timeout cannot
    /// be used.
    pub fn new(spec: &ProbeSpec) -> Result<Self, AnalysisError> {
        let config = |message: String| AnalysisError::Config(format!("probe: {message}"));
        let mut url = url::Url::parse(spec.url.trim())
            .map_err(|e| config(format!("url is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(config(format!(
                "url must be http:// or https:// with a host, not {}",
                display_url(&url)
            )));
        }
        let basic_auth = (!url.username().is_empty() || url.password().is_some()).then(|| {
            (
                percent_decode(url.username()),
                url.password().map(percent_decode),
            )
        });
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let method_text = spec
            .method
            .as_deref()
            .unwrap_or("GET")
            .trim()
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method_text.as_bytes())
            .map_err(|_| config(format!("method {method_text:?} is not an HTTP method")))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &spec.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| config(format!("{name:?} is not a header name")))?;
            // The value may be a secret: say which header, not what it holds.
            let value = HeaderValue::from_str(value).map_err(|_| {
                config(format!(
                    "the value of header {name} is not a valid header value"
                ))
            })?;
            headers.insert(header, value);
        }
        if let Some(bad) = spec
            .expect_status
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(config(format!("expectStatus {bad} is not an HTTP status")));
        }
        let timeout = match spec.timeout.as_deref() {
            None => DEFAULT_PROBE_TIMEOUT,
            Some(text) => duration::parse(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| config(format!("timeout {text:?} is not a duration such as 2s")))?,
        };
        let per_interval = spec.per_interval.unwrap_or(1);
        if !(1..=MAX_PER_INTERVAL).contains(&per_interval) {
            return Err(config(format!(
                "perInterval {per_interval} must be between 1 and {MAX_PER_INTERVAL}"
            )));
        }
        Ok(Self {
            url,
            basic_auth,
            method,
            headers,
            expect: spec.expect_status.clone(),
            timeout,
            per_interval,
            http: http_client("probe", timeout, false)?,
            counters: Mutex::new(Counters {
                requests: 0,
                failures: 0,
                latency: Histogram {
                    bounds_ms: ENVOY_DEFAULT_BOUNDS_MS.to_vec(),
                    counts: vec![0; ENVOY_DEFAULT_BOUNDS_MS.len() + 1],
                },
            }),
        })
    }

    /// The probed URL (without credentials or query).
    pub fn url(&self) -> String {
        display_url(&self.url)
    }

    /// Probes per round.
    pub fn per_interval(&self) -> u32 {
        self.per_interval
    }

    /// The cumulative counters of every probe so far.
    pub fn counters(&self) -> Counters {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends one round of probes at once, waits for all of them (each bounded by the timeout),
    /// and adds them to the counters. Dropping the future cancels the probes still running;
    /// only a finished round is counted.
    pub async fn probe_round(&self) -> ProbeRound {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..self.per_interval {
            let mut request = self
                .http
                .request(self.method.clone(), self.url.clone())
                .headers(self.headers.clone());
            if let Some((user, password)) = &self.basic_auth {
                request = request.basic_auth(user, password.as_ref());
            }
            let (expect, timeout) = (self.expect.clone(), self.timeout);
            set.spawn(probe(request, expect, timeout));
        }
        let mut outcomes = Vec::with_capacity(self.per_interval as usize);
        while let Some(joined) = set.join_next().await {
            outcomes.push(joined.unwrap_or_else(|e| Outcome {
                ok: false,
                latency: None,
                failure: Some(format!("the probe task failed: {e}")),
            }));
        }
        let mut round = ProbeRound::default();
        let mut counters = self.lock();
        for outcome in outcomes {
            round.sent += 1;
            counters.requests += 1;
            if outcome.ok {
                round.succeeded += 1;
            } else {
                round.failed += 1;
                counters.failures += 1;
                if round.first_failure.is_none() {
                    round.first_failure = outcome.failure;
                }
            }
            if let Some(latency) = outcome.latency {
                record(&mut counters.latency, latency);
            }
        }
        round
    }
}

async fn probe(request: reqwest::RequestBuilder, expect: Vec<u16>, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let failed = |latency, failure| Outcome {
        ok: false,
        latency,
        failure: Some(failure),
    };
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => {
            return failed(Some(started.elapsed()), request_error_text(e, timeout))
        }
        Err(e) => return failed(None, request_error_text(e, timeout)),
    };
    let status = response.status().as_u16();
    let mut read = 0usize;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                if read >= MAX_BODY {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return failed(Some(started.elapsed()), request_error_text(e, timeout))
            }
            Err(e) => {
                return failed(
                    Some(started.elapsed()),
                    format!(
                        "HTTP {status}, then the body failed: {}",
                        request_error_text(e, timeout)
                    ),
                )
            }
        }
    }
    let latency = Some(started.elapsed());
    let ok = if expect.is_empty() {
        (200..300).contains(&status)
    } else {
        expect.contains(&status)
    };
    if ok {
        Outcome {
            ok,
            latency,
            failure: None,
        }
    } else {
        failed(latency, format!("HTTP {status}"))
    }
}

/// Adds one observation to a histogram (a value on a bound belongs to that bound's bucket).
fn record(histogram: &mut Histogram, latency: Duration) {
    let ms = latency.as_secs_f64() * 1000.0;
    let index = histogram
        .bounds_ms
        .iter()
        .position(|bound| ms <= *bound)
        .unwrap_or(histogram.bounds_ms.len());
    if let Some(count) = histogram.counts.get_mut(index) {
        *count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> ProbeSpec {
        ProbeSpec {
            url: url.into(),
            ..ProbeSpec::default()
        }
    }

    #[test]
    fn bad_probe_settings_are_config_errors() {
        let cases = [
            (spec("not a url"), "not a URL"),
            (spec("ftp://host/x"), "http://"),
            (
                ProbeSpec {
                    method: Some("GE T".into()),
                    ..spec("http://127.0.0.1:1/")
                },
                "method",
            ),
            (
                ProbeSpec {
                    expect_status: vec![200, 1000],
                    ..spec("http://127.0.0.1:1/")
                },
                "1000",
            ),
            (
                ProbeSpec {
                    timeout: Some("2".into()),
                    ..spec("http://127.0.0.1:1/")
                },
                "timeout",
            ),
            (
                ProbeSpec {
                    per_interval: Some(0),
                    ..spec("http://127.0.0.1:1/")
                },
                "perInterval",
            ),
        ];
        for (spec, expect) in cases {
            let err = Prober::new(&spec).unwrap_err();
            assert!(err.to_string().contains(expect), "{err}");
        }
    }

    #[test]
    fn header_values_never_show() {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("authorization".to_string(), "Bearer hunter2".to_string());
        let prober = Prober::new(&ProbeSpec {
            headers: headers.clone(),
            ..spec("http://user:pw-secret@127.0.0.1:1/healthz?token=q-secret")
        })
        .unwrap();
        let debug = format!("{prober:?}");
        assert!(debug.contains("authorization"), "{debug}");
        for secret in ["hunter2", "pw-secret", "q-secret"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        headers.insert("x-token".to_string(), "bad\nvalue-secret".to_string());
        let err = Prober::new(&ProbeSpec {
            headers,
            ..spec("http://127.0.0.1:1/")
        })
        .unwrap_err();
        assert!(err.to_string().contains("x-token"), "{err}");
        assert!(!err.to_string().contains("value-secret"), "{err}");
    }

    #[test]
    fn latencies_land_in_the_bucket_of_their_bound() {
        let mut h = Histogram {
            bounds_ms: vec![1.0, 10.0],
            counts: vec![0, 0, 0],
        };
        for ms in [0, 1, 5, 10, 11, 5000] {
            record(&mut h, Duration::from_millis(ms));
        }
        assert_eq!(h.counts, vec![2, 2, 2]);
    }
}
