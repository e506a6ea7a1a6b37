//! What a provider reads for one backend, and what that backend did during a window.
//!
//! Providers read *cumulative* counters ([`Counters`]: Envoy's `upstream_rq_completed`,
//! `upstream_rq_5xx` and the `upstream_rq_time` histogram, or the same series through
//! Prometheus). A step's [`Sample`] is the difference between the counters read when the step
//! started and the counters read now, so a step is judged only on its own traffic.

use serde::{Deserialize, Serialize};

/// A latency histogram: `counts[i]` requests took at most `bounds_ms[i]` milliseconds and more
/// than `bounds_ms[i-1]`; the last count (one more than the bounds) is the overflow bucket
/// (above the last bound). Bucket counts, not cumulative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Histogram {
    /// Upper bounds of the buckets, in milliseconds, increasing.
    pub bounds_ms: Vec<f64>,
    /// Requests per bucket; `bounds_ms.len() + 1` entries (the last is the overflow), or none.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// A histogram from cumulative `(upper bound in ms, requests at or below it)` pairs, as
    /// Prometheus `_bucket{le=...}` series and Envoy's cumulative buckets give them; an
    /// infinite bound is the overflow bucket. Pairs are sorted by bound first; a cumulative
    /// count smaller than the one before it is taken as equal to it.
    pub fn from_cumulative(mut pairs: Vec<(f64, u64)>) -> Histogram {
        pairs.retain(|(bound, _)| !bound.is_nan());
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut bounds_ms = Vec::new();
        let mut counts = Vec::new();
        let mut below = 0u64;
        let mut overflow_total = None;
        for (bound, cumulative) in pairs {
            let cumulative = cumulative.max(below);
            if bound.is_infinite() {
                overflow_total = Some(cumulative);
                continue;
            }
            bounds_ms.push(bound);
            counts.push(cumulative - below);
            below = cumulative;
        }
        counts.push(overflow_total.map_or(0, |total| total.saturating_sub(below)));
        Histogram { bounds_ms, counts }
    }

    /// Requests in the histogram.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The bucket-wise difference `self − base` when both have the same bounds (a counter that
    /// went down, as after a restart, counts from zero); `self` when the bounds differ.
    pub fn since(&self, base: &Histogram) -> Histogram {
        if self.bounds_ms != base.bounds_ms || self.counts.len() != base.counts.len() {
            return self.clone();
        }
        let reset = self
            .counts
            .iter()
            .zip(&base.counts)
            .any(|(now, then)| now < then);
        if reset {
            return self.clone();
        }
        Histogram {
            bounds_ms: self.bounds_ms.clone(),
            counts: self
                .counts
                .iter()
                .zip(&base.counts)
                .map(|(now, then)| now - then)
                .collect(),
        }
    }
}

/// Cumulative counters of one backend at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Requests completed (any status).
    pub requests: u64,
    /// Requests that failed (5xx, including resets and connection failures Envoy answers 503).
    pub failures: u64,
    /// Latency of completed requests (cumulative since the counters started).
    pub latency: Histogram,
}

impl Counters {
    /// What happened between `base` and `self`. When a counter went down (the data plane
    /// restarted and its counters began again), `self` alone is the window.
    pub fn since(&self, base: &Counters) -> Sample {
        if self.requests < base.requests || self.failures < base.failures {
            return Sample {
                requests: self.requests,
                failures: self.failures.min(self.requests),
                latency: self.latency.clone(),
            };
        }
        let requests = self.requests - base.requests;
        Sample {
            requests,
            failures: (self.failures - base.failures).min(requests),
            latency: self.latency.since(&base.latency),
        }
    }
}

/// What one backend did during a window (a step so far).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Requests completed in the window.
    pub requests: u64,
    /// Of those, failed ones (at most `requests`).
    pub failures: u64,
    /// Their latency (bucket counts may lag `requests` by a stats flush).
    pub latency: Histogram,
}

impl Sample {
    /// Share of requests that succeeded, in percent; `None` without requests.
    pub fn success_percent(&self) -> Option<f64> {
        (self.requests > 0).then(|| {
            100.0 * (self.requests - self.failures.min(self.requests)) as f64 / self.requests as f64
        })
    }

    /// Two samples of the same window added (e.g. several stable backends).
    pub fn merged(&self, other: &Sample) -> Sample {
        let latency = if self.latency.counts.is_empty() {
            other.latency.clone()
        } else if other.latency.counts.is_empty()
            || other.latency.bounds_ms != self.latency.bounds_ms
        {
            self.latency.clone()
        } else {
            Histogram {
                bounds_ms: self.latency.bounds_ms.clone(),
                counts: self
                    .latency
                    .counts
                    .iter()
                    .zip(&other.latency.counts)
                    .map(|(a, b)| a + b)
                    .collect(),
            }
        };
        Sample {
            requests: self.requests + other.requests,
            failures: self.failures + other.failures,
            latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_buckets_become_bucket_counts() {
        let h = Histogram::from_cumulative(vec![
            (f64::INFINITY, 10),
            (1.0, 2),
            (5.0, 7),
            (10.0, 6), // went down: taken as 7
        ]);
        assert_eq!(h.bounds_ms, vec![1.0, 5.0, 10.0]);
        assert_eq!(h.counts, vec![2, 5, 0, 3]);
        assert_eq!(h.total(), 10);
    }

    #[test]
    fn a_window_is_the_difference_and_a_reset_starts_again() {
        let at = |requests, failures, counts: Vec<u64>| Counters {
            requests,
            failures,
            latency: Histogram {
                bounds_ms: vec![1.0, 10.0],
                counts,
            },
        };
        let base = at(100, 4, vec![50, 40, 10]);
        let now = at(130, 10, vec![60, 55, 15]);
        let window = now.since(&base);
        assert_eq!((window.requests, window.failures), (30, 6));
        assert_eq!(window.latency.counts, vec![10, 15, 5]);
        let restarted = at(5, 1, vec![5, 0, 0]);
        let window = restarted.since(&base);
        assert_eq!((window.requests, window.failures), (5, 1));
        assert_eq!(window.latency.counts, vec![5, 0, 0]);
        assert_eq!(window.success_percent(), Some(80.0));
        assert_eq!(Sample::default().success_percent(), None);
    }
}
