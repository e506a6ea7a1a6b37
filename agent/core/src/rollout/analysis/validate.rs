//! The checks of a RolloutPolicy's `analysis` that its types cannot make (MC303, see
//! [`crate::policy::rules::rollout_policy_invalid`]): ranges, durations, URLs, and what each
//! provider needs.

use super::{is_project_id, token_safe_address, AnalysisSpec, Provider};
use crate::finding::Severity;
use crate::path::FieldPath;
use crate::rollout::duration;

/// One problem of an analysis: the field at fault, how bad, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisProblem {
    /// The field at fault (under the path given to [`AnalysisSpec::problems`]).
    pub field: FieldPath,
    /// An error refuses the revision; a warning only tells.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
}

impl AnalysisSpec {
    /// Every problem of this analysis, written at `path` (where it sits in its document, e.g.
    /// `spec.analysis`): values out of range, texts that are not durations or URLs, a provider
    /// without its address or probe, queries a provider cannot read, conditions provider
    /// `none` ignores. Unknown fields are the loader's (MC006).
    pub fn problems(&self, path: &FieldPath) -> Vec<AnalysisProblem> {
        let mut out = Problems(Vec::new());
        check_analysis(self, path, &mut out);
        out.0
    }
}

/// True for an `http://` or `https://` URL with a host.
pub fn is_http_url(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

struct Problems(Vec<AnalysisProblem>);

impl Problems {
    fn error(&mut self, field: FieldPath, message: String) {
        self.push(field, Severity::Error, message);
    }

    fn warning(&mut self, field: FieldPath, message: String) {
        self.push(field, Severity::Warning, message);
    }

    fn push(&mut self, field: FieldPath, severity: Severity, message: String) {
        self.0.push(AnalysisProblem {
            field,
            severity,
            message,
        });
    }
}

/// An error when `text` is not a duration; `what` names the field in the message.
fn duration_field(
    out: &mut Problems,
    path: FieldPath,
    what: &str,
    text: &str,
) -> Option<std::time::Duration> {
    match duration::parse_field(text) {
        Ok(duration) => Some(duration),
        Err(error) => {
            out.error(path, format!("{what} {error}"));
            None
        }
    }
}

fn check_analysis(analysis: &AnalysisSpec, path: &FieldPath, out: &mut Problems) {
    let provider = analysis.provider;
    if let Some(interval) = analysis.interval.as_deref() {
        let at = path.key("interval");
        if duration_field(out, at.clone(), "interval", interval).is_some_and(|d| d.is_zero()) {
            out.error(
                at,
                format!("interval `{interval}` must be longer than zero"),
            );
        }
    }
    if let Some(confidence) = analysis.confidence {
        if !(0.5..1.0).contains(&confidence) {
            out.error(
                path.key("confidence"),
                format!(
                    "confidence {confidence} is outside [0.5, 1); it is a probability, such as \
                     0.99"
                ),
            );
        }
    }
    if let Some(success) = &analysis.success_rate {
        let min = success.min;
        if !(min > 0.0 && min <= 100.0) {
            out.error(
                path.key("successRate").key("min"),
                format!(
                    "successRate.min {min} is outside (0, 100]; it is a percentage of canary \
                     requests, such as 99"
                ),
            );
        }
    }
    for (key, shorthand) in [
        ("latencyP50", &analysis.latency_p50),
        ("latencyP90", &analysis.latency_p90),
        ("latencyP95", &analysis.latency_p95),
        ("latencyP99", &analysis.latency_p99),
    ] {
        if let Some(latency) = shorthand {
            let at = path.key(key).key("max");
            duration_field(out, at, &format!("{key}.max"), &latency.max);
        }
    }
    for (i, latency) in analysis.latency.iter().enumerate() {
        let at = path.key("latency").index(i);
        let percentile = latency.percentile;
        if !(percentile > 0.0 && percentile < 100.0) {
            out.error(
                at.key("percentile"),
                format!(
                    "latency percentile {percentile} is outside (0, 100); write 99 for p99, 99.9 \
                     for p99.9"
                ),
            );
        }
        duration_field(out, at.key("max"), "latency max", &latency.max);
    }
    if let Some(compare) = &analysis.compare {
        if let Some(alpha) = compare.alpha {
            if !(alpha > 0.0 && alpha <= 0.5) {
                out.error(
                    path.key("compare").key("alpha"),
                    format!(
                        "compare.alpha {alpha} is outside (0, 0.5]; it is a significance level, \
                         such as 0.05"
                    ),
                );
            }
        }
    }

    match analysis.address.as_deref() {
        Some(address) if !is_http_url(address) => out.error(
            path.key("address"),
            format!("address `{address}` is not an http or https URL"),
        ),
        Some(address) if provider == Provider::CloudMonitoring && !token_safe_address(address) => {
            out.error(
                path.key("address"),
                format!(
                    "provider `cloud-monitoring` sends a Google access token to its address, so \
                     `{address}` must be an https URL (plain http only to a loopback address)"
                ),
            )
        }
        None if provider == Provider::Prometheus => out.error(
            path.key("address"),
            "provider `prometheus` needs an `address`, the Prometheus server's URL (such as \
             `http://prometheus:9090`)"
                .to_string(),
        ),
        None if provider == Provider::CloudMonitoring && analysis.project.is_none() => out.error(
            path.key("project"),
            "provider `cloud-monitoring` needs a `project`, the Google Cloud project whose \
             metrics it reads (or an `address`, the URL of a Prometheus-compatible API)"
                .to_string(),
        ),
        _ => {}
    }
    if let Some(project) = analysis.project.as_deref() {
        if !is_project_id(project) {
            out.error(
                path.key("project"),
                format!(
                    "project `{project}` is not a Google Cloud project ID (lowercase letters, \
                     digits and `-`, such as `shop-prod`)"
                ),
            );
        } else if provider != Provider::CloudMonitoring {
            out.warning(
                path.key("project"),
                format!(
                    "`project` is only read by provider `cloud-monitoring`, so provider `{}` \
                     ignores it",
                    provider.as_str()
                ),
            );
        }
    }

    check_probe(analysis, path, out);
    check_queries(analysis, path, out);

    if provider == Provider::None {
        let ignored: Vec<String> = [
            ("successRate", analysis.success_rate.is_some()),
            ("latency", !analysis.latency.is_empty()),
            ("latencyP50", analysis.latency_p50.is_some()),
            ("latencyP90", analysis.latency_p90.is_some()),
            ("latencyP95", analysis.latency_p95.is_some()),
            ("latencyP99", analysis.latency_p99.is_some()),
            ("minRequests", analysis.min_requests.is_some()),
            ("compare", analysis.compare.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| format!("`{key}`"))
        .collect();
        if !ignored.is_empty() {
            out.warning(
                path.key("provider"),
                format!(
                    "provider `none` reads no metrics, so {} will never be checked; each step is \
                     promoted once its bake time has passed",
                    ignored.join(", ")
                ),
            );
        }
    }
}

fn check_probe(analysis: &AnalysisSpec, path: &FieldPath, out: &mut Problems) {
    let at = path.key("probe");
    let Some(probe) = &analysis.probe else {
        if analysis.provider == Provider::Http {
            out.error(
                at.key("url"),
                "provider `http` needs `probe.url`, the URL meshcd sends its probes to".to_string(),
            );
        }
        return;
    };
    if probe.url.is_empty() {
        if analysis.provider == Provider::Http {
            out.error(
                at.key("url"),
                "provider `http` needs `probe.url`, the URL meshcd sends its probes to".to_string(),
            );
        }
    } else if !is_http_url(&probe.url) {
        out.error(
            at.key("url"),
            format!("probe.url `{}` is not an http or https URL", probe.url),
        );
    }
    if let Some(timeout) = probe.timeout.as_deref() {
        duration_field(out, at.key("timeout"), "probe.timeout", timeout);
    }
    for (i, status) in probe.expect_status.iter().enumerate() {
        if !(100..=599).contains(status) {
            out.error(
                at.key("expectStatus").index(i),
                format!("expectStatus {status} is not an HTTP status (100..=599)"),
            );
        }
    }
    if probe.per_interval == Some(0) {
        out.error(
            at.key("perInterval"),
            "perInterval 0 sends no probe; it is at least 1".to_string(),
        );
    }
}

fn check_queries(analysis: &AnalysisSpec, path: &FieldPath, out: &mut Problems) {
    let at = path.key("queries");
    if !analysis.queries.is_empty() && !analysis.provider.reads_promql() {
        out.error(
            at.clone(),
            format!(
                "queries are PromQL and only read by providers `prometheus` and \
                 `cloud-monitoring`, not `{}`",
                analysis.provider.as_str()
            ),
        );
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, query) in analysis.queries.iter().enumerate() {
        let here = at.index(i);
        let name = query.name.trim();
        if name.is_empty() {
            out.error(
                here.key("name"),
                format!(
                    "query {} has no name; name it for progress and reports",
                    i + 1
                ),
            );
        } else if names.contains(&name) {
            out.error(
                here.key("name"),
                format!("query name `{name}` is used twice; names must be unique"),
            );
        } else {
            names.push(name);
        }
        let label = if name.is_empty() {
            format!("query {}", i + 1)
        } else {
            format!("query `{name}`")
        };
        if query.query.trim().is_empty() {
            out.error(
                here.key("query"),
                format!("{label} has no `query` (the PromQL to run)"),
            );
        }
        match (query.min, query.max) {
            (None, None) => out.error(
                here.clone(),
                format!("{label} has neither `min` nor `max`, so it can never fail; set one"),
            ),
            (Some(min), Some(max)) if min > max => out.error(
                here.key("min"),
                format!("{label} has min {min} above its max {max}, so it always fails"),
            ),
            _ => {}
        }
    }
}
