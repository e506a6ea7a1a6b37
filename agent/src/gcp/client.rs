//! [`GcpClient`]: list, get, create, patch and delete networkservices v1 resources, waiting on
//! the long-running operation of each change.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::operation::Operation;
use super::retry::{rate_limiter, Backoff};
use super::transport::Transport;
use super::{ClientStats, Collection, GcpError, GcpOptions, TokenSource};

/// An HTTP client for API calls (and token fetches), each request limited to `timeout`.
fn http_client(timeout: Duration) -> Result<reqwest::Client, GcpError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("meshcd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| GcpError::Config(format!("cannot build an HTTP client: {error}")))
}

/// Checks `options` and gives the endpoint URL.
fn check(options: &GcpOptions) -> Result<Url, GcpError> {
    for (what, value) in [
        ("project", &options.project),
        ("location", &options.location),
    ] {
        if value.is_empty() || value.contains(['/', '?', '#']) || value.trim() != value {
            return Err(GcpError::Config(format!("invalid {what} {value:?}")));
        }
    }
    let endpoint = Url::parse(&options.endpoint).map_err(|error| {
        GcpError::Config(format!("invalid endpoint {:?}: {error}", options.endpoint))
    })?;
    if !matches!(endpoint.scheme(), "http" | "https") || endpoint.cannot_be_a_base() {
        return Err(GcpError::Config(format!(
            "invalid endpoint {:?}: expected an http(s) URL",
            options.endpoint
        )));
    }
    if options.max_attempts == 0 {
        return Err(GcpError::Config("max_attempts must be at least 1".into()));
    }
    Ok(endpoint)
}

/// The page size asked for when listing (the API's maximum is larger; 100 keeps answers small).
const PAGE_SIZE: u32 = 100;

/// A networkservices v1 REST client for one project and location. Cheap to clone: clones share
/// the HTTP connections, the token cache, the rate limiter and the counters. `Debug` shows no
/// token.
#[derive(Clone)]
pub struct GcpClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    project: String,
    location: String,
    endpoint: Url,
    pub(crate) transport: Transport,
    pub(crate) operation_timeout: Duration,
    pub(crate) operation_poll: Duration,
}

impl fmt::Debug for GcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpClient")
            .field("project", &self.inner.project)
            .field("location", &self.inner.location)
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("tokens", &self.inner.transport.tokens)
            .field("stats", &self.stats())
            .finish()
    }
}

impl GcpClient {
    /// A client for `options`; reads the token variable or the key file now.
    pub fn new(options: GcpOptions) -> Result<GcpClient, GcpError> {
        let endpoint = check(&options)?;
        let http = http_client(options.request_timeout)?;
        let tokens = TokenSource::with_http_client(&options.auth, http.clone())?;
        Self::build(options, endpoint, tokens, http)
    }

    fn build(
        options: GcpOptions,
        endpoint: Url,
        tokens: TokenSource,
        http: reqwest::Client,
    ) -> Result<GcpClient, GcpError> {
        let limiter = rate_limiter(options.requests_per_second)
            .ok_or_else(|| GcpError::Config("requests_per_second must be at least 1".into()))?;
        let backoff = Backoff {
            base: options.retry_base,
            cap: options.retry_cap,
        };
        let transport = Transport::new(http, tokens, limiter, options.max_attempts, backoff);
        Ok(GcpClient {
            inner: Arc::new(Inner {
                project: options.project,
                location: options.location,
                endpoint,
                transport,
                operation_timeout: options.operation_timeout,
                operation_poll: options.operation_poll,
            }),
        })
    }

    /// `projects/{project}/locations/{location}`.
    pub fn parent(&self) -> String {
        format!(
            "projects/{}/locations/{}",
            self.inner.project, self.inner.location
        )
    }

    /// `projects/{project}/locations/{location}/{collection}/{short}`.
    pub fn full_name(&self, c: Collection, short: &str) -> String {
        format!("{}/{}/{short}", self.parent(), c.as_str())
    }

    /// The token source, to authenticate other Google API calls with the same tokens.
    pub fn token_source(&self) -> &TokenSource {
        &self.inner.transport.tokens
    }

    /// What the client (with all its clones) has done so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.transport.stats()
    }

    /// Every resource of `c`, following `nextPageToken`.
    pub async fn list(&self, c: Collection) -> Result<Vec<Value>, GcpError> {
        let collection = format!("{}/{}", self.parent(), c.as_str());
        let mut found = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.api_url(&collection);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("pageSize", &PAGE_SIZE.to_string());
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
            }
            let answer = self
                .inner
                .transport
                .send(Method::GET, &url, None, &collection)
                .await?;
            match answer.get(c.list_field()) {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) => found.extend(items.iter().cloned()),
                Some(_) => {
                    return Err(GcpError::Decode {
                        resource: collection,
                        message: format!("`{}` is not an array", c.list_field()),
                    })
                }
            }
            let next = answer
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|token| !token.is_empty())
                .map(str::to_string);
            match next {
                None => return Ok(found),
                Some(next) if page_token.as_deref() == Some(next.as_str()) => {
                    return Err(GcpError::Decode {
                        resource: collection,
                        message: "the API returned the same nextPageToken twice".into(),
                    })
                }
                Some(next) => page_token = Some(next),
            }
        }
    }

    /// The resource `short` of `c`, or `None` when it does not exist.
    pub async fn get(&self, c: Collection, short: &str) -> Result<Option<Value>, GcpError> {
        let name = self.full_name(c, short);
        let url = self.api_url(&name);
        match self
            .inner
            .transport
            .send(Method::GET, &url, None, &name)
            .await
        {
            Ok(value) => Ok(Some(value)),
            Err(GcpError::Api { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates `short` in `c` from `body` and waits until the operation is done.
    ///
    /// A create retried after a 5xx or a lost connection can answer 409 `ALREADY_EXISTS` when
    /// the first attempt went through; that error is returned as is.
    pub async fn create(&self, c: Collection, short: &str, body: &Value) -> Result<(), GcpError> {
        let name = self.full_name(c, short);
        let mut url = self.api_url(&format!("{}/{}", self.parent(), c.as_str()));
        url.query_pairs_mut().append_pair(c.id_param(), short);
        let answer = self
            .inner
            .transport
            .send(Method::POST, &url, Some(body), &name)
            .await?;
        self.finish(answer, &name).await
    }

    /// Updates `short` in `c` with `body` and waits until the operation is done. Only the
    /// top-level fields in `update_mask` change; an empty mask replaces every field.
    pub async fn patch(
        &self,
        c: Collection,
        short: &str,
        body: &Value,
        update_mask: &[&str],
    ) -> Result<(), GcpError> {
        let name = self.full_name(c, short);
        let mut url = self.api_url(&name);
        if !update_mask.is_empty() {
            url.query_pairs_mut()
                .append_pair("updateMask", &update_mask.join(","));
        }
        let answer = self
            .inner
            .transport
            .send(Method::PATCH, &url, Some(body), &name)
            .await?;
        self.finish(answer, &name).await
    }

    /// Deletes `short` from `c` and waits until the operation is done; a resource that does not
    /// exist is not an error.
    pub async fn delete(&self, c: Collection, short: &str) -> Result<(), GcpError> {
        let name = self.full_name(c, short);
        let url = self.api_url(&name);
        match self
            .inner
            .transport
            .send(Method::DELETE, &url, None, &name)
            .await
        {
            Ok(answer) => self.finish(answer, &name).await,
            Err(GcpError::Api { status: 404, .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Waits on the Operation in `answer`.
    async fn finish(&self, answer: Value, name: &str) -> Result<(), GcpError> {
        let operation = Operation::from_value(answer, name)?;
        self.wait_operation(operation, name).await.map(|_| ())
    }

    /// `{endpoint}/v1/{path}`, each segment of `path` percent-encoded.
    pub(crate) fn api_url(&self, path: &str) -> Url {
        let mut url = self.inner.endpoint.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            // The endpoint was checked to be a base URL in `new`.
            let mut segments = url.path_segments_mut().expect("the endpoint is a base URL");
            segments.pop_if_empty().push("v1");
            segments.extend(path.split('/').filter(|s| !s.is_empty()));
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::AuthConfig;

    fn client(endpoint: &str) -> GcpClient {
        let variable = "MESHCD_TEST_CLIENT_UNIT_TOKEN";
        std::env::set_var(variable, "ya29.client-unit-token");
        let mut options = GcpOptions::new(
            "my-project",
            AuthConfig::EnvToken {
                variable: variable.into(),
            },
        );
        options.endpoint = endpoint.to_string();
        GcpClient::new(options).unwrap()
    }

    #[test]
    fn names_and_urls() {
        let client = client("https://networkservices.googleapis.com");
        assert_eq!(client.parent(), "projects/my-project/locations/global");
        assert_eq!(
            client.full_name(Collection::HttpRoutes, "web"),
            "projects/my-project/locations/global/httpRoutes/web"
        );
        assert_eq!(
            client.api_url(&client.full_name(Collection::Meshes, "m")).as_str(),
            "https://networkservices.googleapis.com/v1/projects/my-project/locations/global/meshes/m"
        );
        let odd = client.api_url("projects/p/locations/global/httpRoutes/a b?c");
        assert_eq!(
            odd.as_str(),
            "https://networkservices.googleapis.com/v1/projects/p/locations/global/httpRoutes/a%20b%3Fc"
        );
        let prefixed = client_with_path();
        assert_eq!(
            prefixed.api_url("projects/p").as_str(),
            "http://127.0.0.1:9/api/v1/projects/p"
        );
    }

    fn client_with_path() -> GcpClient {
        client("http://127.0.0.1:9/api/")
    }

    #[test]
    fn bad_options_are_config_errors() {
        let variable = "MESHCD_TEST_CLIENT_UNIT_TOKEN_2";
        std::env::set_var(variable, "ya29.x");
        let auth = AuthConfig::EnvToken {
            variable: variable.into(),
        };
        let mut options = GcpOptions::new("p", auth.clone());
        options.endpoint = "ftp://example.com".into();
        assert!(matches!(GcpClient::new(options), Err(GcpError::Config(_))));
        let mut options = GcpOptions::new("p", auth.clone());
        options.requests_per_second = 0;
        assert!(matches!(GcpClient::new(options), Err(GcpError::Config(_))));
        let mut options = GcpOptions::new("p", auth.clone());
        options.max_attempts = 0;
        assert!(matches!(GcpClient::new(options), Err(GcpError::Config(_))));
        assert!(matches!(
            GcpClient::new(GcpOptions::new("a/b", auth)),
            Err(GcpError::Config(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = client("https://networkservices.googleapis.com");
        let shown = format!("{client:?}");
        assert!(shown.contains("my-project"), "{shown}");
        assert!(!shown.contains("client-unit-token"), "{shown}");
    }
}
