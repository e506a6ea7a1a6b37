//! Where access tokens come from ([`AuthConfig`]), and [`TokenSource`], which fetches them,
//! caches them until shortly before they expire, and never lets them show in logs or errors.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::retry::{retryable_status, Backoff};
use super::service_account::{ServiceAccountKey, JWT_BEARER_GRANT};
use super::GcpError;

/// The environment variable [`AuthConfig::EnvToken`] reads by default.
pub const DEFAULT_TOKEN_VARIABLE: &str = "MESHCD_GCP_ACCESS_TOKEN";

/// The environment variable naming the metadata server's `host[:port]`, as Google's client
/// libraries read it.
pub const METADATA_HOST_VARIABLE: &str = "GCE_METADATA_HOST";

/// The metadata server's host name on GCE, Cloud Run and GKE.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";

/// The environment variable naming a service-account key file, as Google's client libraries
/// read it.
pub const CREDENTIALS_FILE_VARIABLE: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// A token is fetched again this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// `expires_in` assumed when an answer has none (Google's tokens last an hour).
const DEFAULT_LIFETIME_SECS: u64 = 3599;

/// The longest `expires_in` believed (a day; Google's tokens last an hour).
const MAX_LIFETIME_SECS: u64 = 24 * 3600;

/// Attempts per token fetch for connection errors and 429/5xx answers.
const FETCH_ATTEMPTS: u32 = 3;

/// The wait before retrying a token fetch (doubling).
const FETCH_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(200),
    cap: Duration::from_secs(2),
};

/// The timeout of one token request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Where access tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    /// An access token from an environment variable (by default [`DEFAULT_TOKEN_VARIABLE`]),
    /// read once at start. It cannot be refreshed: when the API answers 401 the error says the
    /// token expired and how to provide another source.
    EnvToken {
        /// The variable's name.
        variable: String,
    },
    /// The GCE / Cloud Run / GKE metadata server: `GET http://{host}/computeMetadata/v1/instance/
    /// service-accounts/default/token` with `Metadata-Flavor: Google`.
    Metadata {
        /// `host[:port]`; `None` reads [`METADATA_HOST_VARIABLE`], else
        /// [`DEFAULT_METADATA_HOST`].
        host: Option<String>,
    },
    /// A service-account key JSON file, traded for tokens with the OAuth 2.0 JWT bearer flow
    /// (RFC 7523) at the key's `token_uri`.
    ServiceAccountKey {
        /// The key file.
        path: PathBuf,
    },
}

impl AuthConfig {
    /// The source the environment points at, in this order: a token in
    /// [`DEFAULT_TOKEN_VARIABLE`], a key file in [`CREDENTIALS_FILE_VARIABLE`], else the
    /// metadata server.
    pub fn from_environment() -> Self {
        let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        if set(DEFAULT_TOKEN_VARIABLE).is_some() {
            AuthConfig::EnvToken {
                variable: DEFAULT_TOKEN_VARIABLE.to_string(),
            }
        } else if let Some(path) = set(CREDENTIALS_FILE_VARIABLE) {
            AuthConfig::ServiceAccountKey { path: path.into() }
        } else {
            AuthConfig::Metadata { host: None }
        }
    }
}

/// A secret string (an access token). `Debug` and `Display` print `***`; [`Secret::expose`]
/// gives the value to whoever must send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for an `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a [`TokenSource`] gets its tokens, resolved once.
enum Provider {
    Env { variable: String, token: Secret },
    Metadata { url: String },
    ServiceAccount(ServiceAccountKey),
}

impl Provider {
    /// Reads what `config` names (a token variable, a key file) and resolves the metadata host.
    fn resolve(config: &AuthConfig) -> Result<Provider, GcpError> {
        Ok(match config {
            AuthConfig::EnvToken { variable } => {
                let value = std::env::var(variable).unwrap_or_default();
                let value = value.trim();
                if value.is_empty() {
                    return Err(GcpError::Config(format!(
                        "the environment variable {variable} holds no access token; set it (for \
                         example to the output of `gcloud auth print-access-token`), or use the \
                         metadata server or a service-account key"
                    )));
                }
                Provider::Env {
                    variable: variable.clone(),
                    token: Secret::new(value),
                }
            }
            AuthConfig::Metadata { host } => {
                let env = std::env::var(METADATA_HOST_VARIABLE).ok();
                let host = metadata_host(host.as_deref(), env.as_deref());
                Provider::Metadata {
                    url: format!(
                        "http://{host}/computeMetadata/v1/instance/service-accounts/default/token"
                    ),
                }
            }
            AuthConfig::ServiceAccountKey { path } => {
                Provider::ServiceAccount(ServiceAccountKey::load(path)?)
            }
        })
    }

    fn describe(&self) -> String {
        match self {
            Provider::Env { variable, .. } => format!("the environment variable {variable}"),
            Provider::Metadata { url } => format!("the metadata server ({url})"),
            Provider::ServiceAccount(key) => format!(
                "the service-account key of {} (token endpoint {})",
                key.client_email, key.token_uri
            ),
        }
    }
}

struct Cached {
    token: Secret,
    /// When the token should no longer be used (its expiry minus the margin).
    refresh_at: Instant,
}

struct Inner {
    provider: Provider,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    /// Serialises fetches, so concurrent callers share one.
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

/// Access tokens for Google APIs from one [`AuthConfig`], cached until 60 s before they expire.
/// Cheap to clone (clones share the cache). Usable by any HTTP client:
/// `Authorization: Bearer {token.expose()}`.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("source", &self.inner.provider.describe())
            .field("token", &"***")
            .field("fetches", &self.fetches())
            .finish()
    }
}

/// The answer of a token endpoint.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// An OAuth error answer (`{"error": "invalid_grant", "error_description": "..."}`).
#[derive(Deserialize)]
struct OAuthError {
    error: Option<serde_json::Value>,
    error_description: Option<String>,
}

impl TokenSource {
    /// A source for `config`: reads the token variable or the key file now, so a missing one
    /// fails here.
    pub fn new(config: &AuthConfig) -> Result<Self, GcpError> {
        let provider = Provider::resolve(config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("meshcd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| GcpError::Config(format!("cannot build an HTTP client: {error}")))?;
        Ok(Self::from_provider(provider, http))
    }

    /// Like [`TokenSource::new`], fetching tokens with `http` (building an HTTP client loads the
    /// system's CA certificates, which takes a while: share one).
    pub fn with_http_client(config: &AuthConfig, http: reqwest::Client) -> Result<Self, GcpError> {
        Ok(Self::from_provider(Provider::resolve(config)?, http))
    }

    fn from_provider(provider: Provider, http: reqwest::Client) -> Self {
        TokenSource {
            inner: Arc::new(Inner {
                provider,
                http,
                cache: Mutex::new(None),
                fetching: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// A valid token: the cached one while it has more than 60 s left, else a fresh one.
    pub async fn token(&self) -> Result<Secret, GcpError> {
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let _guard = self.inner.fetching.lock().await;
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let (token, lifetime) = self.fetch().await?;
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let refresh_at = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        *self.lock_cache() = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    /// Forgets the cached token, so the next [`TokenSource::token`] fetches a new one.
    pub fn invalidate(&self) {
        *self.lock_cache() = None;
    }

    /// Forgets the cached token if it is still `token` (a concurrent refresh is kept).
    pub(crate) fn invalidate_token(&self, token: &Secret) {
        let mut cache = self.lock_cache();
        if cache.as_ref().is_some_and(|cached| &cached.token == token) {
            *cache = None;
        }
    }

    /// Whether a rejected token can be replaced (not for [`AuthConfig::EnvToken`]).
    pub fn can_refresh(&self) -> bool {
        !matches!(self.inner.provider, Provider::Env { .. })
    }

    /// How many tokens this source (and its clones) obtained.
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Where the tokens come from, for messages (no secret).
    pub fn describe(&self) -> String {
        self.inner.provider.describe()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached(&self) -> Option<Secret> {
        let cache = self.lock_cache();
        match cache.as_ref() {
            Some(cached) if Instant::now() < cached.refresh_at => Some(cached.token.clone()),
            _ => None,
        }
    }

    /// One token and how long it lives, with retries for transient failures.
    async fn fetch(&self) -> Result<(Secret, Duration), GcpError> {
        if let Provider::Env { token, .. } = &self.inner.provider {
            // Its lifetime is unknown; it stays until the API rejects it.
            return Ok((token.clone(), Duration::from_secs(365 * 24 * 3600)));
        }
        let mut attempt = 1;
        loop {
            match self.fetch_once().await {
                Ok(found) => return Ok(found),
                Err(Failure::Transient(message)) if attempt < FETCH_ATTEMPTS => {
                    tracing::warn!(
                        source = %self.describe(),
                        attempt,
                        error = %message,
                        "fetching a Google access token failed; retrying"
                    );
                    tokio::time::sleep(FETCH_BACKOFF.delay(attempt - 1)).await;
                    attempt += 1;
                }
                Err(Failure::Transient(message) | Failure::Final(message)) => {
                    return Err(GcpError::Auth(format!(
                        "cannot get an access token from {}: {message}",
                        self.describe()
                    )))
                }
            }
        }
    }

    async fn fetch_once(&self) -> Result<(Secret, Duration), Failure> {
        let request = match &self.inner.provider {
            Provider::Env { .. } => unreachable!("environment tokens are never fetched"),
            Provider::Metadata { url } => {
                self.inner.http.get(url).header("Metadata-Flavor", "Google")
            }
            Provider::ServiceAccount(key) => {
                let assertion = key
                    .assertion(jsonwebtoken::get_current_timestamp())
                    .map_err(|error| Failure::Final(error.to_string()))?;
                self.inner
                    .http
                    .post(&key.token_uri)
                    .timeout(FETCH_TIMEOUT)
                    .form(&[
                        ("grant_type", JWT_BEARER_GRANT),
                        ("assertion", assertion.as_str()),
                    ])
            }
        };
        let response = request
            .send()
            .await
            .map_err(|error| Failure::Transient(transport_message(&error)))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|error| Failure::Transient(transport_message(&error)))?;
        if !(200..300).contains(&status) {
            let message = format!("HTTP {status}: {}", oauth_error_message(&body));
            return Err(if retryable_status(status) {
                Failure::Transient(message)
            } else {
                Failure::Final(message)
            });
        }
        // Never echo a success body: it holds the token.
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            Failure::Final(format!(
                "HTTP {status} with a body that is not a token answer"
            ))
        })?;
        let token = answer
            .access_token
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Failure::Final("the answer has no access_token".into()))?;
        let lifetime = Duration::from_secs(
            answer
                .expires_in
                .unwrap_or(DEFAULT_LIFETIME_SECS)
                .min(MAX_LIFETIME_SECS),
        );
        Ok((Secret::new(token), lifetime))
    }
}

/// Why one token fetch failed.
enum Failure {
    /// Worth trying again (connection error, 429, 5xx).
    Transient(String),
    /// Not worth trying again.
    Final(String),
}

/// The metadata server's `host[:port]`: the explicit one, else the environment's, else Google's.
pub(crate) fn metadata_host(explicit: Option<&str>, env: Option<&str>) -> String {
    explicit
        .or(env)
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .unwrap_or(DEFAULT_METADATA_HOST)
        .to_string()
}

/// A transport error with its causes (reqwest's own text is terse); it holds no header values.
pub(crate) fn transport_message(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The readable part of an OAuth or metadata error body (never a success body).
fn oauth_error_message(body: &[u8]) -> String {
    if let Ok(error) = serde_json::from_slice::<OAuthError>(body) {
        let code = match &error.error {
            Some(serde_json::Value::String(code)) => Some(code.clone()),
            Some(serde_json::Value::Object(object)) => object
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string),
            _ => None,
        };
        match (code, error.error_description) {
            (Some(code), Some(description)) => return format!("{code}: {description}"),
            (Some(code), None) => return code,
            (None, Some(description)) => return description,
            (None, None) => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted() {
        let secret = Secret::new("ya29.very-secret");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.expose(), "ya29.very-secret");
    }

    #[test]
    fn metadata_host_prefers_explicit_then_environment() {
        assert_eq!(metadata_host(Some("10.0.0.1:80"), Some("x")), "10.0.0.1:80");
        assert_eq!(
            metadata_host(None, Some("169.254.169.254")),
            "169.254.169.254"
        );
        assert_eq!(metadata_host(None, Some("")), "metadata.google.internal");
        assert_eq!(metadata_host(None, None), "metadata.google.internal");
    }

    #[test]
    fn oauth_errors_are_summarised() {
        assert_eq!(
            oauth_error_message(br#"{"error":"invalid_grant","error_description":"Invalid JWT"}"#),
            "invalid_grant: Invalid JWT"
        );
        assert_eq!(
            oauth_error_message(br#"{"error":{"code":403,"message":"no scope"}}"#),
            "no scope"
        );
        assert_eq!(oauth_error_message(b""), "(empty body)");
        assert_eq!(oauth_error_message(b"Forbidden"), "Forbidden");
    }

    #[tokio::test]
    async fn env_tokens_are_read_once_and_never_shown() {
        let variable = "MESHCD_TEST_AUTH_UNIT_ENV_TOKEN";
        std::env::set_var(variable, " ya29.unit-test-token \n");
        let source = TokenSource::new(&AuthConfig::EnvToken {
            variable: variable.into(),
        })
        .unwrap();
        std::env::remove_var(variable);
        let token = source.token().await.unwrap();
        assert_eq!(token.expose(), "ya29.unit-test-token");
        assert!(!source.can_refresh());
        let shown = format!("{source:?}");
        assert!(shown.contains(variable), "{shown}");
        assert!(!shown.contains("unit-test-token"), "{shown}");
    }

    #[test]
    fn a_missing_env_token_says_how_to_provide_one() {
        let error = TokenSource::new(&AuthConfig::EnvToken {
            variable: "MESHCD_TEST_AUTH_UNIT_UNSET".into(),
        })
        .unwrap_err();
        assert!(error.to_string().contains("MESHCD_TEST_AUTH_UNIT_UNSET"));
        assert!(error.to_string().contains("gcloud auth print-access-token"));
    }
}
