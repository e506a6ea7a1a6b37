//! Validation before anything is written: `envoy --mode validate` on a static bootstrap (outside
//! the watched folder) with the new resources inlined, and Envoy's reason when it fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::prepare::{invalid, is_http_connection_manager, Prepared};
use crate::envoy::EnvoyError;

/// Inlines `route_config` where an HTTP connection manager uses RDS (for the static bootstrap).
fn inline_rds(value: &mut Json, route_config: &Json) {
    match value {
        Json::Object(map) => {
            if is_http_connection_manager(map) && map.remove("rds").is_some() {
                map.insert("route_config".into(), route_config.clone());
                return;
            }
            for child in map.values_mut() {
                inline_rds(child, route_config);
            }
        }
        Json::Array(items) => {
            for child in items {
                inline_rds(child, route_config);
            }
        }
        _ => {}
    }
}

/// `resource` without its top-level `@type` (a static resource is not an `Any`).
fn untyped(resource: &Json) -> Json {
    let mut resource = resource.clone();
    if let Json::Object(map) = &mut resource {
        map.remove("@type");
    }
    resource
}

/// The static bootstrap `envoy --mode validate` checks: the new resources inlined.
pub(super) fn validation_bootstrap(prepared: &Prepared) -> Json {
    let route_config = prepared.route_config.as_ref().map(untyped);
    let listeners: Vec<Json> = prepared
        .listeners
        .iter()
        .map(|listener| {
            let mut listener = untyped(listener);
            if let Some(route_config) = &route_config {
                inline_rds(&mut listener, route_config);
            }
            listener
        })
        .collect();
    let clusters: Vec<Json> = prepared.clusters.values().map(untyped).collect();
    json!({
        "node": { "id": "meshcd-validate", "cluster": "meshcd" },
        "static_resources": { "listeners": listeners, "clusters": clusters },
    })
}

/// Runs `envoy --mode validate` on the static form of `prepared`.
pub(super) async fn validate(
    binary: &Path,
    prepared: &Prepared,
    timeout: Duration,
) -> Result<(), EnvoyError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "meshcd-validate-{}-{}.json",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let text = serde_json::to_vec(&validation_bootstrap(prepared))
        .map_err(|e| invalid(format!("cannot serialize the configuration: {e}")))?;
    // Removed however this function ends, cancellation included.
    let _remove = RemoveOnDrop(path.clone());
    fs_err::write(&path, text).map_err(|e| EnvoyError::io(&path, e))?;
    let run = tokio::process::Command::new(binary)
        .arg("--mode")
        .arg("validate")
        .arg("-c")
        .arg(&path)
        .args(["--disable-hot-restart", "--log-level", "warn"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, run).await;
    let output = match output {
        Err(_) => {
            return Err(EnvoyError::TimedOut {
                reason: format!(
                    "`{} --mode validate` did not finish within {timeout:?}",
                    binary.display()
                ),
            })
        }
        Ok(Err(e)) => {
            return Err(EnvoyError::Spawn {
                binary: binary.to_path_buf(),
                message: format!("--mode validate: {e}"),
            })
        }
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(invalid(validation_reason(
        &stderr,
        &output.status.to_string(),
    )))
}

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Envoy's reason from `--mode validate` output.
pub(super) fn validation_reason(stderr: &str, status: &str) -> String {
    const MARKER: &str = "error initializing configuration '";
    for line in stderr.lines().rev() {
        if let Some(at) = line.find(MARKER) {
            let rest = &line[at + MARKER.len()..];
            return match rest.find("': ") {
                Some(end) => rest[end + 3..].trim().to_string(),
                None => rest.trim().to_string(),
            };
        }
    }
    let important: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("[critical]") || l.contains("[error]"))
        .collect();
    let lines = if important.is_empty() {
        let all: Vec<&str> = stderr.lines().collect();
        all[all.len().saturating_sub(5)..].to_vec()
    } else {
        important
    };
    format!(
        "envoy --mode validate exited with {status}: {}",
        lines.join(" | ")
    )
}
