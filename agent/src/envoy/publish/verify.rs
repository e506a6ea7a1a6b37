//! The waiting steps of a publish: write the clusters, routes and listeners, and poll Envoy's
//! counters and `/config_dump` until it serves them (or rejects them, or the time is up).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::Value as Json;

use super::prepare::Prepared;
use super::restore::Previous;
use super::{ms, PublishOptions};
use crate::envoy::admin::{regex_escape, AdminClient, Stats};
use crate::envoy::files::{self, ResourceKind};
use crate::envoy::process::LogBuffer;
use crate::envoy::shape::RouteShape;
use crate::envoy::EnvoyError;
use crate::errors::report;

/// What the waiting steps share.
pub(super) struct Step<'a> {
    pub(super) admin: &'a AdminClient,
    pub(super) logs: Option<&'a LogBuffer>,
    pub(super) log_mark: u64,
    pub(super) options: &'a PublishOptions,
}

/// A counter that must not rise, and the one that shows the update was processed.
#[derive(Debug, Default, Clone, Copy)]
struct UpdateCounters {
    attempt: u64,
    rejected: u64,
    failure: u64,
}

impl UpdateCounters {
    fn read(stats: &Stats, prefix_suffix: &str) -> Self {
        Self {
            attempt: stats.sum_suffix(&format!("{prefix_suffix}.update_attempt")),
            rejected: stats.sum_suffix(&format!("{prefix_suffix}.update_rejected")),
            failure: stats.sum_suffix(&format!("{prefix_suffix}.update_failure")),
        }
    }

    /// A description of a rejection since `before`, if any.
    fn rejection(&self, before: &Self, what: &str) -> Option<String> {
        let mut parts = Vec::new();
        if self.rejected > before.rejected {
            parts.push(format!(
                "{what}.update_rejected rose from {} to {}",
                before.rejected, self.rejected
            ));
        }
        if self.failure > before.failure {
            parts.push(format!(
                "{what}.update_failure rose from {} to {}",
                before.failure, self.failure
            ));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

const CDS: &str = "cluster_manager.cds";
const LDS: &str = "listener_manager.lds";

impl Step<'_> {
    /// The relevant Envoy log lines since the publish started.
    fn log_excerpt(&self) -> String {
        let Some(logs) = self.logs else {
            return String::new();
        };
        let relevant: Vec<String> = logs
            .since(self.log_mark)
            .into_iter()
            .filter(|l| {
                l.contains("rejected")
                    || l.contains("[warning]")
                    || l.contains("[error]")
                    || l.contains("[critical]")
            })
            .collect();
        if relevant.is_empty() {
            return String::new();
        }
        let tail = &relevant[relevant.len().saturating_sub(10)..];
        format!("\nEnvoy log:\n{}", tail.join("\n"))
    }

    fn rejected(&self, what: String) -> EnvoyError {
        EnvoyError::Rejected {
            reason: format!("{what}{}", self.log_excerpt()),
        }
    }

    fn timed_out(&self, what: String) -> EnvoyError {
        EnvoyError::TimedOut {
            reason: format!("{what}{}", self.log_excerpt()),
        }
    }

    /// Writes `clusters` and waits until Envoy processed the file, all of them are active and
    /// none of `gone` is. With `unchanged` (the file already holds `clusters`), writes only if
    /// some of them are not active.
    pub(super) async fn publish_clusters(
        &self,
        dir: &Path,
        version: &str,
        clusters: &BTreeMap<String, Json>,
        gone: &[String],
        unchanged: bool,
    ) -> Result<(), EnvoyError> {
        if unchanged {
            let active = self.admin.active_clusters().await?;
            if clusters.keys().all(|name| active.contains_key(name)) {
                return Ok(());
            }
        }
        let filter = format!("^{}\\.update_", regex_escape(CDS));
        let before = UpdateCounters::read(&self.admin.stats(&filter).await?, CDS);
        let resources: Vec<Json> = clusters.values().cloned().collect();
        files::write_resources(dir, ResourceKind::Clusters, version, &resources)?;
        let deadline = Instant::now() + self.options.cds_timeout;
        loop {
            let now = UpdateCounters::read(&self.admin.stats(&filter).await?, CDS);
            if let Some(rejection) = now.rejection(&before, CDS) {
                return Err(self.rejected(format!("clusters (version {version}): {rejection}")));
            }
            let mut waiting_for = Vec::new();
            if now.attempt > before.attempt {
                let active = self.admin.active_clusters().await?;
                waiting_for.extend(
                    clusters
                        .keys()
                        .filter(|name| !active.contains_key(*name))
                        .map(|name| format!("{name} (not active)")),
                );
                waiting_for.extend(
                    gone.iter()
                        .filter(|name| active.contains_key(*name))
                        .map(|name| format!("{name} (still active)")),
                );
                if waiting_for.is_empty() {
                    return Ok(());
                }
            } else {
                waiting_for.push(format!(
                    "Envoy to read {}",
                    ResourceKind::Clusters.file_name()
                ));
            }
            if Instant::now() >= deadline {
                return Err(self.timed_out(format!(
                    "clusters (version {version}) not applied within {:?}: waiting for {}",
                    self.options.cds_timeout,
                    waiting_for.join(", ")
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Writes `rds.yaml` then (if `write_listeners`) `lds.yaml` and waits until Envoy serves
    /// them; returns the milliseconds from the first rename until then. `rds.yaml` is always
    /// written, even unchanged: its reload is what verification waits for.
    pub(super) async fn publish_routes(
        &self,
        dir: &Path,
        version: &str,
        prepared: &Prepared,
        write_listeners: bool,
    ) -> Result<f64, EnvoyError> {
        let rds_stat = prepared
            .route_name
            .as_ref()
            .map(|name| format!(".rds.{name}"));
        let filter = match &prepared.route_name {
            Some(name) => format!(
                "rds\\.{}\\.update_|^{}\\.update_",
                regex_escape(name),
                regex_escape(LDS)
            ),
            None => format!("^{}\\.update_", regex_escape(LDS)),
        };
        let stats = self.admin.stats(&filter).await?;
        let lds_before = UpdateCounters::read(&stats, LDS);
        let rds_before = rds_stat.as_deref().map(|s| UpdateCounters::read(&stats, s));
        let expected = prepared.route_config.as_ref().map(RouteShape::of);

        let routes: Vec<Json> = prepared.route_config.iter().cloned().collect();
        files::write_resources(dir, ResourceKind::Routes, version, &routes)?;
        let renamed = Instant::now();
        if write_listeners {
            files::write_resources(dir, ResourceKind::Listeners, version, &prepared.listeners)?;
        }

        let deadline = renamed + self.options.verify_timeout;
        let mut served_summary = String::from("nothing read yet");
        loop {
            let stats = self.admin.stats(&filter).await?;
            let lds_now = UpdateCounters::read(&stats, LDS);
            if let Some(rejection) = lds_now.rejection(&lds_before, LDS) {
                return Err(self.rejected(format!("listeners (version {version}): {rejection}")));
            }
            let processed = match (&rds_stat, &rds_before) {
                (Some(stat), Some(before)) => {
                    let now = UpdateCounters::read(&stats, stat);
                    let attempt = format!("{stat}.update_attempt");
                    let what = stats
                        .values
                        .keys()
                        .find(|name| name.ends_with(&attempt))
                        .map_or_else(
                            || format!("http.<prefix>{stat}"),
                            |name| name.trim_end_matches(".update_attempt").to_string(),
                        );
                    if let Some(rejection) = now.rejection(before, &what) {
                        return Err(
                            self.rejected(format!("routes (version {version}): {rejection}"))
                        );
                    }
                    now.attempt > before.attempt && lds_now.attempt > lds_before.attempt
                }
                _ => lds_now.attempt > lds_before.attempt,
            };
            if processed {
                let routes_ok = match (&expected, &prepared.route_name) {
                    (Some(expected), Some(name)) => {
                        let served = self.served_route(name).await?;
                        served_summary = served.as_ref().map_or_else(
                            || format!("no route configuration {name}"),
                            |s| s.summary(),
                        );
                        served.as_ref() == Some(expected)
                    }
                    _ => true,
                };
                let listeners_ok = if routes_ok {
                    let states = self.admin.listener_states().await?;
                    let waiting: Vec<&String> = prepared
                        .listener_names
                        .iter()
                        .filter(|n| states.get(*n) != Some(&true))
                        .collect();
                    if !waiting.is_empty() {
                        served_summary = format!("listeners not active yet: {waiting:?}");
                    }
                    waiting.is_empty()
                } else {
                    false
                };
                if routes_ok && listeners_ok {
                    return Ok(ms(renamed));
                }
            } else {
                served_summary = "Envoy has not read the new files yet".to_string();
            }
            if Instant::now() >= deadline {
                let expected = expected.as_ref().map_or_else(String::new, |e| e.summary());
                return Err(self.timed_out(format!(
                    "routes (version {version}) not served within {:?}; wanted {expected}; \
                     served {served_summary}",
                    self.options.verify_timeout
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// After a rejected publish and the restore: waits until Envoy serves the previous routes
    /// again (another resource type of the same update may have been taken meanwhile) and says
    /// so in the error.
    pub(super) async fn confirm_restored(
        &self,
        previous: &Previous,
        error: EnvoyError,
    ) -> EnvoyError {
        let (reason, rebuild): (String, fn(String) -> EnvoyError) = match error {
            EnvoyError::Rejected { reason } => (reason, |reason| EnvoyError::Rejected { reason }),
            EnvoyError::TimedOut { reason } => (reason, |reason| EnvoyError::TimedOut { reason }),
            other => return other,
        };
        let Some((name, shape)) = previous.route_config.as_ref().and_then(|rc| {
            let name = rc.get("name")?.as_str()?.to_string();
            Some((name, RouteShape::of(rc)))
        }) else {
            return rebuild(reason);
        };
        let deadline = Instant::now() + self.options.verify_timeout;
        let outcome = loop {
            match self.served_route(&name).await {
                Ok(Some(served)) if served == shape => {
                    break format!("the previous routes ({}) serve again", shape.summary())
                }
                Ok(served) if Instant::now() >= deadline => {
                    break format!(
                        "the previous routes are back on disk, but Envoy serves {}",
                        served.map_or_else(|| "no routes".to_string(), |s| s.summary())
                    )
                }
                Err(e) if Instant::now() >= deadline => {
                    break format!("the previous routes are back on disk ({})", report(&e))
                }
                _ => tokio::time::sleep(self.options.poll_interval).await,
            }
        };
        let reason = match reason.find("\nEnvoy log:") {
            Some(at) => format!("{}; {outcome}{}", &reason[..at], &reason[at..]),
            None => format!("{reason}; {outcome}"),
        };
        rebuild(reason)
    }

    async fn served_route(&self, name: &str) -> Result<Option<RouteShape>, EnvoyError> {
        let configs = self.admin.config_dump_routes().await?;
        Ok(configs
            .iter()
            .filter_map(|c| c.get("route_config"))
            .find(|rc| rc.get("name").and_then(Json::as_str) == Some(name))
            .map(RouteShape::of))
    }
}
