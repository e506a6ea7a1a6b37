//! Long-running operations: create, patch and delete answer an `Operation`; meshcd polls it
//! (`GET /v1/{operation.name}`) with growing waits until it is done or the timeout passes.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::GcpError;

/// The longest wait between two polls.
const POLL_CAP: Duration = Duration::from_secs(5);

/// A `google.longrunning.Operation` (the fields meshcd reads).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Operation {
    #[serde(default)]
    pub(crate) name: String,
    /// Absent means false (proto3 JSON leaves out default values).
    #[serde(default)]
    pub(crate) done: bool,
    #[serde(default)]
    pub(crate) error: Option<Status>,
    #[serde(default)]
    pub(crate) response: Option<Value>,
}

/// A `google.rpc.Status`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Status {
    #[serde(default)]
    pub(crate) code: i64,
    #[serde(default)]
    pub(crate) message: String,
}

impl Operation {
    /// Reads an operation from an answer.
    pub(crate) fn from_value(value: Value, resource: &str) -> Result<Operation, GcpError> {
        let operation: Operation =
            serde_json::from_value(value).map_err(|error| GcpError::Decode {
                resource: resource.to_string(),
                message: format!("expected a long-running Operation ({error})"),
            })?;
        if operation.name.is_empty() && !operation.done {
            return Err(GcpError::Decode {
                resource: resource.to_string(),
                message: "the Operation has no name and is not done".to_string(),
            });
        }
        Ok(operation)
    }

    /// The outcome of a done operation: its response, or its error.
    pub(crate) fn result(self, resource: &str) -> Result<Option<Value>, GcpError> {
        match self.error {
            Some(status) if status.code != 0 => Err(GcpError::Operation {
                code: status.code,
                message: status.message,
                resource: resource.to_string(),
                operation: self.name,
            }),
            _ => Ok(self.response),
        }
    }
}

/// The waits between polls: `first`, then ×1.5 each time, at most [`POLL_CAP`] (or `first` when
/// that is larger).
pub(crate) fn poll_delays(first: Duration) -> impl Iterator<Item = Duration> {
    let cap = POLL_CAP.max(first);
    std::iter::successors(Some(first), move |delay| Some(delay.mul_f64(1.5).min(cap)))
}

impl super::GcpClient {
    /// Polls `operation` until it is done (or the operation timeout passes) and gives its result.
    pub(crate) async fn wait_operation(
        &self,
        mut operation: Operation,
        resource: &str,
    ) -> Result<Option<Value>, GcpError> {
        let timeout = self.inner.operation_timeout;
        let started = Instant::now();
        let mut delays = poll_delays(self.inner.operation_poll);
        while !operation.done {
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(GcpError::Timeout {
                    operation: operation.name,
                    resource: resource.to_string(),
                    waited,
                });
            }
            let delay = delays.next().unwrap_or(POLL_CAP);
            tokio::time::sleep(delay.min(timeout - waited)).await;
            let url = self.api_url(&operation.name);
            let answer = self
                .inner
                .transport
                .send(Method::GET, &url, None, resource)
                .await?;
            operation = Operation::from_value(answer, resource)?;
            tracing::debug!(operation = %operation.name, done = operation.done, "polled operation");
        }
        operation.result(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn poll_delays_grow_by_half_and_cap_at_five_seconds() {
        let delays: Vec<u128> = poll_delays(Duration::from_millis(100))
            .take(12)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(delays[..4], [100, 150, 225, 337]);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*delays.last().unwrap(), 5000);
        assert_eq!(
            poll_delays(Duration::from_millis(1)).nth(200),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn done_is_false_when_absent_and_errors_become_operation_errors() {
        let running = Operation::from_value(json!({"name": "operations/o1"}), "r").unwrap();
        assert!(!running.done);
        let failed = Operation::from_value(
            json!({"name": "operations/o1", "done": true,
                   "error": {"code": 9, "message": "mesh in use"}}),
            "projects/p/locations/global/meshes/m",
        )
        .unwrap();
        let error = failed
            .result("projects/p/locations/global/meshes/m")
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("mesh in use") && text.contains("meshes/m"),
            "{text}"
        );
        assert!(text.contains("FAILED_PRECONDITION"), "{text}");
        let ok = Operation::from_value(
            json!({"name": "o", "done": true, "response": {"a": 1}}),
            "r",
        )
        .unwrap();
        assert_eq!(ok.result("r").unwrap(), Some(json!({"a": 1})));
        assert!(Operation::from_value(json!({}), "r").is_err());
        assert!(Operation::from_value(json!([1]), "r").is_err());
    }
}
