//! The HTTP client of `meshcd status`, the rollout gates and `meshcd history --server`: one per
//! command, and no TLS set-up for a daemon on loopback.
//!
//! Building a reqwest client (native-tls) reads the system's CA bundle twice (OpenSSL's default
//! paths, then native-tls's probe), about 40 ms of a 60–80 ms `meshcd status`. The daemon's API
//! is usually plain HTTP on loopback (`http://127.0.0.1:9090`), where no certificate is ever
//! checked and no proxy applies: such URLs go through hyper's HTTP/1 client, which has no TLS.
//! Any other URL (`https://`, or plain HTTP to another host, which may need `HTTP_PROXY`) goes
//! through reqwest as before.

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use meshcd_core::human;

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a request to the daemon got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server is not a URL.
    #[error("`{0}` is not a URL such as http://127.0.0.1:9090")]
    NotAUrl(String),
    /// A client could not be set up (reqwest's TLS).
    #[error("cannot set up an HTTP client")]
    Setup(#[source] reqwest::Error),
    /// No answer in time.
    #[error("no answer within {}", human::duration(*.0))]
    Timeout(Duration),
    /// Connecting, sending or reading the answer failed.
    #[error(transparent)]
    Request(Cause),
}

/// An answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, whole.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A client of one daemon (`--server`).
#[derive(Debug, Clone)]
pub struct DaemonClient {
    server: String,
    http: Http,
}

#[derive(Debug, Clone)]
enum Http {
    /// Plain HTTP/1 to loopback (boxed: hyper's client is large).
    Plain(Box<Client<HttpConnector, Full<Bytes>>>),
    /// Anything else.
    Reqwest(reqwest::Client),
}

impl DaemonClient {
    /// A client of the daemon at `server` (`http://127.0.0.1:9090`, a trailing `/` allowed).
    pub fn new(server: &str) -> Result<Self, ClientError> {
        let server = server.trim_end_matches('/').to_string();
        let url = url::Url::parse(&server).map_err(|_| ClientError::NotAUrl(server.clone()))?;
        let http = if url.scheme() == "http" && is_loopback(&url) {
            Http::Plain(Box::new(Client::builder(TokioExecutor::new()).build_http()))
        } else {
            Http::Reqwest(
                reqwest::Client::builder()
                    .build()
                    .map_err(ClientError::Setup)?,
            )
        };
        Ok(Self { server, http })
    }

    /// The daemon's address, without a trailing `/`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `GET <server><path_and_query>`.
    pub async fn get(
        &self,
        path_and_query: &str,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        self.send(Method::GET, path_and_query, None, timeout).await
    }

    /// `POST <server><path>` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        let body = Bytes::from(body.to_string());
        self.send(Method::POST, path, Some(body), timeout).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.server);
        let exchange = async {
            match &self.http {
                Http::Plain(client) => plain(client, method, &url, json).await,
                Http::Reqwest(client) => with_reqwest(client, method, &url, json).await,
            }
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }
}

async fn plain(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    url: &str,
    json: Option<Bytes>,
) -> Result<Answer, ClientError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ClientError::NotAUrl(url.to_string()))?;
    let mut request = Request::builder().method(method).uri(uri);
    if json.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Full::new(json.unwrap_or_default()))
        .map_err(|e| ClientError::Request(e.into()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| ClientError::Request(e.into()))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError::Request(e.into()))?
        .to_bytes();
    Ok(Answer { status, body })
}

async fn with_reqwest(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    json: Option<Bytes>,
) -> Result<Answer, ClientError> {
    let failed = |e: reqwest::Error| ClientError::Request(e.without_url().into());
    let mut request = client.request(method, url);
    if let Some(json) = json {
        request = request
            .header(header::CONTENT_TYPE, "application/json")
            .body(json);
    }
    let response = request.send().await.map_err(failed)?;
    let status = response.status();
    let body = response.bytes().await.map_err(failed)?;
    Ok(Answer { status, body })
}

/// `127.0.0.0/8`, `::1` or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(server: &str) -> bool {
        matches!(
            DaemonClient::new(server).expect("a client").http,
            Http::Plain(_)
        )
    }

    #[test]
    fn only_plain_http_to_loopback_skips_tls() {
        assert!(plain("http://127.0.0.1:9090"));
        assert!(plain("http://127.0.0.2:9090/"));
        assert!(plain("http://[::1]:9090"));
        assert!(plain("http://localhost:9090"));
        assert!(!plain("https://127.0.0.1:9090"));
        assert!(!plain("http://10.0.0.1:9090"));
        assert!(!plain("http://meshcd.internal:9090"));
    }

    #[test]
    fn a_server_that_is_no_url_is_refused() {
        assert!(matches!(
            DaemonClient::new("127.0.0.1:9090"),
            Err(ClientError::NotAUrl(_))
        ));
        assert_eq!(
            DaemonClient::new("http://127.0.0.1:9090/")
                .expect("a client")
                .server(),
            "http://127.0.0.1:9090"
        );
    }

    #[tokio::test]
    async fn plain_requests_are_answered() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = axum::Router::new().route(
            "/echo",
            axum::routing::post(|body: String| async move { (StatusCode::CREATED, body) }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = DaemonClient::new(&format!("http://{addr}")).expect("a client");
        let answer = client
            .post_json(
                "/echo",
                &serde_json::json!({"route": "web"}),
                Duration::from_secs(5),
            )
            .await
            .expect("an answer");
        assert_eq!(answer.status, StatusCode::CREATED);
        assert_eq!(
            answer.json().expect("JSON"),
            serde_json::json!({"route": "web"})
        );
        let missing = client
            .get("/nope?limit=1", Duration::from_secs(5))
            .await
            .expect("an answer");
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        server.abort();
    }
}
