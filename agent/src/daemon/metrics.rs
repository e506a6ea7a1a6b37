//! Prometheus metrics of the daemon (OpenMetrics text at `GET /metrics`).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `meshcd_reconcile_total` | counter | `trigger` ([`Trigger::kind`]), `result` (an [`crate::engine::OutcomeAction::as_str`] or `error`) |
//! | `meshcd_reconcile_duration_seconds` | histogram | |
//! | `meshcd_applied_revision_info` | gauge, 1 | `commit`: the commit the target holds |
//! | `meshcd_drift` | gauge | 1 while the target differs from Git (drift reported, not corrected) |
//! | `meshcd_last_success_timestamp_seconds` | gauge | Unix time of the last successful reconcile |
//! | `meshcd_webhook_rejected_total` | counter | `provider`: `github`, `gitlab` |
//! | `meshcd_webhook_too_large_total` | counter | `provider`: `github`, `gitlab` |

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::engine::{Outcome, ReconcileError, Trigger};

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    trigger: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommitLabels {
    commit: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: &'static str,
}

/// The daemon's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    duration: Histogram,
    applied_revision: Family<CommitLabels, Gauge>,
    drift: Gauge,
    last_success: Gauge<f64, AtomicU64>,
    webhook_rejected: Family<ProviderLabels, Counter>,
    webhook_too_large: Family<ProviderLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        // The OpenMetrics encoder adds `_total` to counters.
        registry.register(
            "meshcd_reconcile",
            "Reconciles by trigger and result",
            reconciles.clone(),
        );
        // 5 ms .. ~82 s.
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 15));
        registry.register(
            "meshcd_reconcile_duration_seconds",
            "How long reconciles take",
            duration.clone(),
        );
        let applied_revision = Family::<CommitLabels, Gauge>::default();
        registry.register(
            "meshcd_applied_revision_info",
            "The commit the target holds (value 1)",
            applied_revision.clone(),
        );
        let drift = Gauge::default();
        registry.register(
            "meshcd_drift",
            "1 while the target differs from Git and the drift is only reported",
            drift.clone(),
        );
        let last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "meshcd_last_success_timestamp_seconds",
            "Unix time of the last successful reconcile",
            last_success.clone(),
        );
        let webhook_rejected = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "meshcd_webhook_rejected",
            "Webhook requests rejected for a missing or wrong signature or token",
            webhook_rejected.clone(),
        );
        let webhook_too_large = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "meshcd_webhook_too_large",
            "Webhook requests refused for a body above the limit (413)",
            webhook_too_large.clone(),
        );
        Self {
            registry,
            reconciles,
            duration,
            applied_revision,
            drift,
            last_success,
            webhook_rejected,
            webhook_too_large,
        }
    }

    /// Records a finished reconcile.
    pub fn record(
        &self,
        trigger: &Trigger,
        seconds: f64,
        result: &Result<Outcome, ReconcileError>,
    ) {
        let label = match result {
            Ok(outcome) => outcome.action.as_str(),
            Err(_) => "error",
        };
        self.reconciles
            .get_or_create(&ReconcileLabels {
                trigger: trigger.kind(),
                result: label,
            })
            .inc();
        self.duration.observe(seconds);
        let Ok(outcome) = result else { return };
        if !outcome.action.is_success() {
            return;
        }
        let labels = CommitLabels {
            commit: outcome.commit.clone(),
        };
        if self.applied_revision.get(&labels).is_none() {
            self.applied_revision.clear();
            self.applied_revision.get_or_create(&labels).set(1);
        }
        self.drift.set(i64::from(outcome.drift));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        self.last_success.set(now);
    }

    /// Counts a rejected webhook request.
    pub fn webhook_rejected(&self, provider: &'static str) {
        self.webhook_rejected
            .get_or_create(&ProviderLabels { provider })
            .inc();
    }

    /// Counts a webhook request refused for its size.
    pub fn webhook_too_large(&self, provider: &'static str) {
        self.webhook_too_large
            .get_or_create(&ProviderLabels { provider })
            .inc();
    }

    /// The metrics in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(%error, "encoding metrics failed");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::reconcile::OutcomeAction;

    #[test]
    fn records_results_revision_and_drift() {
        let metrics = Metrics::new();
        let mut outcome = Outcome::new("a".repeat(40), OutcomeAction::DriftDetected, "");
        outcome.drift = true;
        metrics.record(&Trigger::Poll, 0.01, &Ok(outcome));
        metrics.record(
            &Trigger::Manual,
            0.01,
            &Ok(Outcome::new("b".repeat(40), OutcomeAction::Refused, "")),
        );
        metrics.record(&Trigger::Startup, 0.2, &Err(ReconcileError::retryable("x")));
        metrics.webhook_rejected("github");
        let text = metrics.encode();
        for line in [
            "meshcd_reconcile_total{trigger=\"poll\",result=\"drift_detected\"} 1",
            "meshcd_reconcile_total{trigger=\"manual\",result=\"refused\"} 1",
            "meshcd_reconcile_total{trigger=\"startup\",result=\"error\"} 1",
            &format!(
                "meshcd_applied_revision_info{{commit=\"{}\"}} 1",
                "a".repeat(40)
            ),
            "meshcd_drift 1",
            "meshcd_webhook_rejected_total{provider=\"github\"} 1",
            "meshcd_reconcile_duration_seconds_count 3",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(text.contains("meshcd_last_success_timestamp_seconds "));
        assert!(
            !text.contains(&"b".repeat(40)),
            "a refused commit is not the applied one"
        );
    }
}
