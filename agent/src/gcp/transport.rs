//! One API call: rate limit, bearer token, send, then retry 429/5xx/connection errors with
//! backoff and refresh a rejected token once. Counts what it does for [`ClientStats`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use governor::DefaultDirectRateLimiter;
use reqwest::header::RETRY_AFTER;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::auth::transport_message;
use super::retry::{parse_retry_after, retryable_status, Backoff};
use super::{GcpError, TokenSource};

/// What a client has done so far (all clones together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent to the API (every attempt and operation poll).
    pub requests: u64,
    /// Attempts that were retries after a 429, 5xx or connection error.
    pub retries: u64,
    /// Tokens replaced because the API answered 401.
    pub token_refreshes: u64,
    /// Tokens obtained from the token source (the first one, refreshes and renewals before
    /// expiry).
    pub tokens_fetched: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    token_refreshes: AtomicU64,
}

/// Sends API requests; shared by all clones of a client.
pub(crate) struct Transport {
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: TokenSource,
    pub(crate) limiter: DefaultDirectRateLimiter,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    counters: Counters,
}

/// Google's error body: `{"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// How one attempt ended, when it did not succeed.
enum Outcome {
    Transport(String),
    Status {
        status: u16,
        reason: String,
        message: String,
        retry_after: Option<std::time::Duration>,
    },
}

impl Transport {
    pub(crate) fn new(
        http: reqwest::Client,
        tokens: TokenSource,
        limiter: DefaultDirectRateLimiter,
        max_attempts: u32,
        backoff: Backoff,
    ) -> Self {
        Transport {
            http,
            tokens,
            limiter,
            max_attempts,
            backoff,
            counters: Counters::default(),
        }
    }

    pub(crate) fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            token_refreshes: self.counters.token_refreshes.load(Ordering::Relaxed),
            tokens_fetched: self.tokens.fetches(),
        }
    }

    /// Sends `method url` (with `body` as JSON) about `resource`, and gives the answer's JSON
    /// (`Null` for an empty body). Error statuses become [`GcpError::Api`], after retries for the
    /// retryable ones.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        resource: &str,
    ) -> Result<Value, GcpError> {
        let mut attempt: u32 = 1;
        let mut refreshed = false;
        loop {
            self.limiter.until_ready().await;
            let token = self.tokens.token().await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose());
            if let Some(body) = body {
                request = request.json(body);
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = match request.send().await {
                Err(error) => Outcome::Transport(transport_message(&error)),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| parse_retry_after(value, SystemTime::now()));
                    match response.bytes().await {
                        Err(error) => Outcome::Transport(transport_message(&error)),
                        Ok(bytes) if (200..300).contains(&status) => {
                            tracing::debug!(%method, %url, status, "Google Cloud request");
                            return parse_body(&bytes, resource);
                        }
                        Ok(bytes) => {
                            let (reason, message) = error_message(&bytes);
                            Outcome::Status {
                                status,
                                reason,
                                message,
                                retry_after,
                            }
                        }
                    }
                }
            };
            let (retry_after, failure) = match outcome {
                Outcome::Status {
                    status: 401,
                    reason,
                    message,
                    ..
                } => {
                    if self.tokens.can_refresh() && !refreshed {
                        tracing::info!(
                            %method,
                            resource,
                            "Google Cloud rejected the access token (HTTP 401); fetching a new one"
                        );
                        self.tokens.invalidate_token(&token);
                        self.counters
                            .token_refreshes
                            .fetch_add(1, Ordering::Relaxed);
                        refreshed = true;
                        continue;
                    }
                    return Err(self.unauthorized(&method, resource, &reason, &message));
                }
                Outcome::Status {
                    status,
                    reason,
                    message,
                    ..
                } if !retryable_status(status) || attempt >= self.max_attempts => {
                    return Err(GcpError::Api {
                        status,
                        reason,
                        message,
                        resource: resource.to_string(),
                        method: method.to_string(),
                        attempts: attempt,
                    });
                }
                Outcome::Transport(message) if attempt >= self.max_attempts => {
                    return Err(GcpError::Http {
                        method: method.to_string(),
                        resource: resource.to_string(),
                        url: url.to_string(),
                        attempts: attempt,
                        message,
                    });
                }
                Outcome::Status {
                    status,
                    retry_after,
                    message,
                    ..
                } => (retry_after, format!("HTTP {status}: {message}")),
                Outcome::Transport(message) => (None, message),
            };
            let delay = self.backoff.delay_or_retry_after(attempt - 1, retry_after);
            tracing::warn!(
                %method,
                resource,
                attempt,
                max_attempts = self.max_attempts,
                delay_ms = delay.as_millis() as u64,
                error = %failure,
                "Google Cloud request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
        }
    }

    fn unauthorized(
        &self,
        method: &Method,
        resource: &str,
        reason: &str,
        message: &str,
    ) -> GcpError {
        let detail = if reason.is_empty() {
            message.to_string()
        } else {
            format!("{reason}: {message}")
        };
        if self.tokens.can_refresh() {
            GcpError::Auth(format!(
                "{method} {resource}: Google Cloud answered HTTP 401 ({detail}) even to a freshly \
                 fetched token from {}",
                self.tokens.describe()
            ))
        } else {
            GcpError::Auth(format!(
                "{method} {resource}: Google Cloud answered HTTP 401 ({detail}): the access token \
                 from {} was rejected, most likely because it expired (access tokens last about an \
                 hour and meshcd cannot renew one given this way); set a fresh token and restart, \
                 or let meshcd fetch its own from the metadata server (on GCE, Cloud Run, GKE) or \
                 from a service-account key file (GOOGLE_APPLICATION_CREDENTIALS)",
                self.tokens.describe()
            ))
        }
    }
}

/// The JSON of a successful answer.
fn parse_body(bytes: &[u8], resource: &str) -> Result<Value, GcpError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|error| GcpError::Decode {
        resource: resource.to_string(),
        message: format!("the answer is not JSON ({error})"),
    })
}

/// The `error.status` and `error.message` of a Google error body, or the start of any other body.
fn error_message(bytes: &[u8]) -> (String, String) {
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes) {
        if !body.error.message.is_empty() || !body.error.status.is_empty() {
            return (body.error.status, body.error.message);
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let message = if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text.chars().take(300).collect()
    };
    (String::new(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_error_bodies_give_status_and_message() {
        let body = br#"{"error":{"code":400,"message":"hostnames must be set","status":"INVALID_ARGUMENT","details":[]}}"#;
        assert_eq!(
            error_message(body),
            (
                "INVALID_ARGUMENT".to_string(),
                "hostnames must be set".to_string()
            )
        );
        assert_eq!(
            error_message(b"<html>Bad Gateway</html>"),
            (String::new(), "<html>Bad Gateway</html>".to_string())
        );
        assert_eq!(
            error_message(b""),
            (String::new(), "(empty body)".to_string())
        );
    }

    #[test]
    fn empty_success_bodies_are_null() {
        assert_eq!(parse_body(b"", "r").unwrap(), Value::Null);
        assert_eq!(parse_body(b"{\"a\":1}", "r").unwrap()["a"], 1);
        assert!(parse_body(b"nope", "r")
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }
}
