//! Fleet metrics: Envoy's metrics service stat sink streams every Envoy's counters and
//! histograms to meshcd (on the xDS listeners), and [`FleetMetrics`] sums them over the fleet,
//! so a rollout judged with the `envoy` provider sees the canary's requests on every Envoy,
//! not only on the local one.
//!
//! Each Envoy's bootstrap names meshcd as its `envoy.stat_sinks.metrics_service` (cumulative
//! counters, histograms with their buckets, flushed every second). The last report of each
//! connected Envoy is kept; an Envoy whose stream ends stops counting (its counters leave the
//! sum, which the judge reads as a restart of the counters).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use envoy_types::pb::envoy::service::metrics::v3::metrics_service_server::MetricsService;
use envoy_types::pb::envoy::service::metrics::v3::{StreamMetricsMessage, StreamMetricsResponse};
use meshcd_core::rollout::sample::{Counters, Histogram};
use tonic::{Request, Response, Status, Streaming};

/// Requests completed, by cluster: `cluster.<name>.<COMPLETED>`.
const COMPLETED: &str = "upstream_rq_completed";
/// Requests answered 5xx.
const FAILED: &str = "upstream_rq_5xx";
/// The latency histogram.
const LATENCY: &str = "upstream_rq_time";

/// One Envoy's last report.
#[derive(Debug, Clone, Default)]
struct Report {
    counters: BTreeMap<String, u64>,
    /// Cumulative `(upper bound, count)` buckets.
    histograms: BTreeMap<String, Vec<(f64, u64)>>,
}

/// The last report of every Envoy streaming metrics, summed on demand.
#[derive(Debug, Default)]
pub struct FleetMetrics {
    reports: Mutex<BTreeMap<u64, (String, Report)>>,
    streams: std::sync::atomic::AtomicU64,
}

impl FleetMetrics {
    /// How many Envoys report.
    pub fn envoys(&self) -> usize {
        self.lock().len()
    }

    /// The cumulative counters of `clusters`, summed over every reporting Envoy; `None` while
    /// no Envoy reports. Envoy sends only counters that were used, so a cluster without a
    /// report counts zero requests (with an empty histogram on the others' bounds).
    pub fn counters(&self, clusters: &[String]) -> Option<BTreeMap<String, Counters>> {
        let reports = self.lock();
        if reports.is_empty() {
            return None;
        }
        let bounds: Vec<(f64, u64)> = reports
            .values()
            .flat_map(|(_, r)| r.histograms.iter())
            .find(|(name, _)| name.ends_with(LATENCY))
            .map(|(_, buckets)| buckets.iter().map(|(bound, _)| (*bound, 0)).collect())
            .unwrap_or_default();
        let mut out = BTreeMap::new();
        for cluster in clusters {
            let sum = |stat: &str| -> u64 {
                let name = format!("cluster.{cluster}.{stat}");
                reports
                    .values()
                    .filter_map(|(_, r)| r.counters.get(&name))
                    .sum()
            };
            let mut buckets: BTreeMap<u64, (f64, u64)> = bounds
                .iter()
                .map(|(bound, zero)| (bound.to_bits(), (*bound, *zero)))
                .collect();
            let latency = format!("cluster.{cluster}.{LATENCY}");
            for (_, report) in reports.values() {
                for (bound, count) in report.histograms.get(&latency).into_iter().flatten() {
                    let entry = buckets.entry(bound.to_bits()).or_insert((*bound, 0));
                    entry.1 += count;
                }
            }
            out.insert(
                cluster.clone(),
                Counters {
                    requests: sum(COMPLETED),
                    failures: sum(FAILED),
                    latency: Histogram::from_cumulative(buckets.into_values().collect()),
                },
            );
        }
        Some(out)
    }

    fn record(&self, stream: u64, node: &str, message: &StreamMetricsMessage) {
        let mut report = Report::default();
        for family in &message.envoy_metrics {
            let Some(name) = family.name.as_deref() else {
                continue;
            };
            for metric in &family.metric {
                if let Some(value) = metric.counter.as_ref().and_then(|c| c.value) {
                    report
                        .counters
                        .insert(name.to_string(), value.max(0.0) as u64);
                }
                if let Some(histogram) = &metric.histogram {
                    let buckets = histogram
                        .bucket
                        .iter()
                        .filter_map(|b| Some((b.upper_bound?, b.cumulative_count?)))
                        .collect();
                    report.histograms.insert(name.to_string(), buckets);
                }
            }
        }
        self.lock().insert(stream, (node.to_string(), report));
    }

    fn forget(&self, stream: u64) {
        self.lock().remove(&stream);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, (String, Report)>> {
        self.reports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The metrics service Envoys stream to.
#[derive(Debug, Clone)]
pub struct MetricsSink {
    metrics: Arc<FleetMetrics>,
}

impl MetricsSink {
    /// A sink recording into `metrics`.
    pub fn new(metrics: Arc<FleetMetrics>) -> Self {
        Self { metrics }
    }
}

#[tonic::async_trait]
impl MetricsService for MetricsSink {
    async fn stream_metrics(
        &self,
        request: Request<Streaming<StreamMetricsMessage>>,
    ) -> Result<Response<StreamMetricsResponse>, Status> {
        let mut inbound = request.into_inner();
        let stream = self
            .metrics
            .streams
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut node = String::new();
        let ended = loop {
            match inbound.message().await {
                Ok(Some(message)) => {
                    if let Some(id) = message
                        .identifier
                        .as_ref()
                        .and_then(|i| i.node.as_ref())
                        .map(|n| n.id.clone())
                    {
                        node = id;
                    }
                    self.metrics.record(stream, &node, &message);
                }
                Ok(None) => break Ok(()),
                Err(status) => break Err(status),
            }
        };
        self.metrics.forget(stream);
        ended.map(|()| Response::new(StreamMetricsResponse {}))
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::io::prometheus::client::{
        Bucket, Counter, Histogram as PromHistogram, Metric, MetricFamily,
    };

    use super::*;

    fn message(completed: f64, failed: f64, buckets: &[(f64, u64)]) -> StreamMetricsMessage {
        let counter = |name: &str, value: f64| MetricFamily {
            name: Some(name.to_string()),
            metric: vec![Metric {
                counter: Some(Counter {
                    value: Some(value),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        StreamMetricsMessage {
            envoy_metrics: vec![
                counter("cluster.canary.upstream_rq_completed", completed),
                counter("cluster.canary.upstream_rq_5xx", failed),
                MetricFamily {
                    name: Some("cluster.canary.upstream_rq_time".into()),
                    metric: vec![Metric {
                        histogram: Some(PromHistogram {
                            bucket: buckets
                                .iter()
                                .map(|(bound, count)| Bucket {
                                    upper_bound: Some(*bound),
                                    cumulative_count: Some(*count),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_fleet_sums_every_envoys_last_report() {
        let metrics = FleetMetrics::default();
        let canary = vec!["canary".to_string()];
        assert_eq!(metrics.counters(&canary), None, "no report yet");
        metrics.record(1, "e1", &message(10.0, 1.0, &[(5.0, 8), (10.0, 10)]));
        metrics.record(2, "e2", &message(30.0, 0.0, &[(5.0, 20), (10.0, 30)]));
        metrics.record(1, "e1", &message(12.0, 2.0, &[(5.0, 9), (10.0, 12)]));
        let counters = metrics.counters(&canary).expect("reported");
        let c = &counters["canary"];
        assert_eq!((c.requests, c.failures), (42, 2));
        assert_eq!(
            c.latency,
            Histogram::from_cumulative(vec![(5.0, 29), (10.0, 42)])
        );
        assert_eq!(metrics.envoys(), 2);
        metrics.forget(2);
        assert_eq!(
            metrics.counters(&canary).map(|c| c["canary"].requests),
            Some(12)
        );
        let stable = metrics
            .counters(&["stable".to_string()])
            .expect("e1 reports");
        assert_eq!(
            stable["stable"].requests, 0,
            "an unused cluster counts zero"
        );
        assert_eq!(
            stable["stable"].latency,
            Histogram::from_cumulative(vec![(5.0, 0), (10.0, 0)])
        );
        metrics.forget(1);
        assert_eq!(metrics.counters(&canary), None, "nobody reports");
    }
}
