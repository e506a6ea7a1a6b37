//! [`GcpOptions`]: which project and endpoint the client talks to, how it authenticates, and its
//! retry, rate and operation settings.

use std::time::Duration;

use super::AuthConfig;

/// The public networkservices endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://networkservices.googleapis.com";

/// The settings of a [`GcpClient`](super::GcpClient).
#[derive(Debug, Clone)]
pub struct GcpOptions {
    /// The project id.
    pub project: String,
    /// The location; service routing resources live in `global`.
    pub location: String,
    /// The API's base URL (tests point it at a local server).
    pub endpoint: String,
    /// Where access tokens come from.
    pub auth: AuthConfig,
    /// Client-side rate limit, shared by all clones of the client (requests a second, also the
    /// burst).
    pub requests_per_second: u32,
    /// Attempts per request when the answer is 429, 500, 502, 503, 504 or the connection fails.
    pub max_attempts: u32,
    /// How long to wait for a long-running operation to be done.
    pub operation_timeout: Duration,
    /// The first retry's backoff ceiling (doubling on each retry).
    pub retry_base: Duration,
    /// The largest wait between attempts (also caps `Retry-After`).
    pub retry_cap: Duration,
    /// The first wait between operation polls (×1.5 each poll, at most 5 s).
    pub operation_poll: Duration,
    /// The timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl GcpOptions {
    /// The defaults for `project` with `auth`: location `global`, the public endpoint, 10
    /// requests a second, 5 attempts, 10 min operation timeout, 200 ms retry base (10 s cap),
    /// 100 ms first poll, 60 s request timeout.
    pub fn new(project: impl Into<String>, auth: AuthConfig) -> Self {
        GcpOptions {
            project: project.into(),
            location: "global".to_string(),
            endpoint: DEFAULT_ENDPOINT.to_string(),
            auth,
            requests_per_second: 10,
            max_attempts: 5,
            operation_timeout: Duration::from_secs(600),
            retry_base: Duration::from_millis(200),
            retry_cap: Duration::from_secs(10),
            operation_poll: Duration::from_millis(100),
            request_timeout: Duration::from_secs(60),
        }
    }
}
