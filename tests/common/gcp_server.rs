//! A local fake of Google Cloud's networkservices v1 REST API and of Google's token endpoints,
//! for tests. No Google Cloud API can run here (no credentials, no internet), so this server
//! follows the documented REST protocol of the service routing API instead; it is not a mock of
//! meshcd: it knows nothing about meshcd and answers any client as the API would.
//!
//! - `GET /v1/projects/{p}/locations/{l}/{collection}?pageSize=&pageToken=`: `{<collection>:
//!   [...], nextPageToken}` (the array is left out when empty, as proto3 JSON does). Pages hold
//!   at most `min(pageSize, max_page_size)` items (max_page_size is 2 by default, so paging is
//!   exercised); without `pageSize` everything comes in one page.
//! - `POST .../{collection}?{xId}=name` (`httpRouteId`, `meshId`, ...): create; 409
//!   `ALREADY_EXISTS` when present, 400 without the id.
//! - `GET|PATCH|DELETE .../{collection}/{name}`: 404 `NOT_FOUND` when absent. PATCH with
//!   `updateMask=a,b` replaces only those top-level fields (a field absent from the body is
//!   cleared); without `updateMask` (or with `*`) every field is replaced.
//! - Create, patch and delete answer a long-running `Operation`
//!   (`projects/{p}/locations/{l}/operations/operation-N`); `GET /v1/{operation}` answers it,
//!   `done` after [`FakeGcp::set_operation_polls`] polls (1 by default: the first answer is not
//!   done). The change is applied when the operation completes successfully; a failing
//!   operation changes nothing.
//! - Output-only `name`, `createTime` and `updateTime` (RFC 3339) are set by the server; the
//!   client's values for them are ignored.
//! - Errors have Google's shape: `{"error": {"code": 404, "message": "...", "status":
//!   "NOT_FOUND"}}`.
//! - Every `/v1` request needs `Authorization: Bearer <token>` with a token this server issued,
//!   not expired nor revoked (401 `UNAUTHENTICATED` otherwise).
//! - Tokens come from `GET /computeMetadata/v1/instance/service-accounts/default/token` (needs
//!   `Metadata-Flavor: Google`, else 403), or `POST /token` with the JWT bearer grant (RFC 7523):
//!   the RS256 assertion must verify with the test key's public half, have `aud` = the token URI,
//!   `iss` = the key's `client_email`, the `cloud-platform` scope and the key id; otherwise 400
//!   `{"error": "invalid_grant"}`.
//!
//! The server runs on its own thread and runtime on `127.0.0.1:0`, so it works from async tests
//! and from tests that run the `meshcd` binary alike; it stops on drop.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value as Json};

/// The throwaway test key the fake's service-account key files hold.
pub const TEST_KEY_PEM: &str = include_str!("../fixtures/gcp/test-sa-key.pem");
/// The public half the token endpoint verifies assertions with.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("../fixtures/gcp/test-sa-key.pub.pem");

/// The key id of the fake's service-account key files.
pub const TEST_KEY_ID: &str = "fake-key-id-1";

const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const METADATA_TOKEN_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";

/// The collections the API serves, with their resource type names.
const COLLECTIONS: &[(&str, &str)] = &[
    ("httpRoutes", "HttpRoute"),
    ("grpcRoutes", "GrpcRoute"),
    ("tcpRoutes", "TcpRoute"),
    ("tlsRoutes", "TlsRoute"),
    ("meshes", "Mesh"),
    ("gateways", "Gateway"),
];

/// Fields the server owns.
const OUTPUT_ONLY: &[&str] = &["name", "createTime", "updateTime", "selfLink"];

/// One API request as the server saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/v1/projects/p/locations/global/httpRoutes`.
    pub path: String,
    /// The decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// The JSON body, or `Null`.
    pub body: Json,
    /// The bearer token presented, if any.
    pub token: Option<String>,
}

/// A change an operation applies when it completes.
#[derive(Debug, Clone)]
enum Mutation {
    Put { name: String, body: Json },
    Delete { name: String },
}

#[derive(Debug, Clone)]
struct Operation {
    name: String,
    target: String,
    verb: &'static str,
    create_time: String,
    polls_left: usize,
    done: bool,
    /// The change and the response, or the error code and message.
    outcome: Result<(Mutation, Json), (i64, String)>,
}

struct State {
    project: String,
    url: String,
    /// Resources by full name.
    resources: BTreeMap<String, Json>,
    requests: Vec<Request>,
    fail_status: u16,
    fail_count: usize,
    fail_operation: Option<(i64, String)>,
    operation_polls: usize,
    operations: HashMap<String, Operation>,
    next_operation: u64,
    token_lifetime: u64,
    /// Valid tokens and when they expire.
    tokens: HashMap<String, Instant>,
    tokens_issued: usize,
    max_page_size: usize,
    public_key: jsonwebtoken::DecodingKey,
}

type Shared = Arc<Mutex<State>>;

/// A running fake networkservices API with its token endpoints.
pub struct FakeGcp {
    /// `http://127.0.0.1:PORT`: the endpoint to give the client.
    pub url: String,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FakeGcp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeGcp {
    /// Starts a server for `project` on a free loopback port.
    pub async fn start(project: &str) -> FakeGcp {
        Self::start_blocking(project)
    }

    /// [`FakeGcp::start`] for code outside a runtime.
    pub fn start_blocking(project: &str) -> FakeGcp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let public_key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY_PEM.as_bytes())
            .expect("the test public key parses");
        let state = Arc::new(Mutex::new(State {
            project: project.to_string(),
            url: url.clone(),
            resources: BTreeMap::new(),
            requests: Vec::new(),
            fail_status: 0,
            fail_count: 0,
            fail_operation: None,
            operation_polls: 1,
            operations: HashMap::new(),
            next_operation: 1,
            token_lifetime: 3599,
            tokens: HashMap::new(),
            tokens_issued: 0,
            max_page_size: 2,
            public_key,
        }));
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(state.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("fake GCP runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("fake GCP server");
            });
        });
        FakeGcp {
            url,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Every `/v1` request so far (API calls and operation polls; not token requests).
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// The stored `collection/short` in the project's `global` location, as GET would answer it.
    pub fn resource(&self, collection: &str, short: &str) -> Option<Json> {
        let state = self.lock();
        let name = state.full_name("global", collection, short);
        state.resources.get(&name).cloned()
    }

    /// Stores `body` as `collection/short` directly (a change made behind the client's back);
    /// output-only fields are set as on create.
    pub fn put_resource(&self, collection: &str, short: &str, body: Json) {
        let mut state = self.lock();
        let name = state.full_name("global", collection, short);
        let created = state
            .resources
            .get(&name)
            .and_then(|old| old.get("createTime").cloned());
        let stored = stamp(strip_output_only(body), &name, created);
        state.resources.insert(name, stored);
    }

    /// The next `count` API requests (not token requests nor operation polls) answer `status`
    /// with a Google error body (and `Retry-After: 0` for 429).
    pub fn fail_next(&self, status: u16, count: usize) {
        let mut state = self.lock();
        state.fail_status = status;
        state.fail_count = count;
    }

    /// The next create, patch or delete answers an operation that ends with this error
    /// (`google.rpc.Code` and message) and changes nothing.
    pub fn fail_next_operation(&self, code: i64, message: &str) {
        self.lock().fail_operation = Some((code, message.to_string()));
    }

    /// New operations are done after `n` polls (0: already done in the first answer).
    pub fn set_operation_polls(&self, n: usize) {
        self.lock().operation_polls = n;
    }

    /// The most items a list page holds (2 by default).
    pub fn set_max_page_size(&self, n: usize) {
        self.lock().max_page_size = n.max(1);
    }

    /// The `expires_in` of tokens issued from now on; they are refused once expired.
    pub fn token_lifetime(&self, secs: u64) {
        self.lock().token_lifetime = secs;
    }

    /// Every token issued so far is refused from now on (401).
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// How many tokens were issued (metadata, token endpoint and static ones).
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens_issued
    }

    /// `127.0.0.1:PORT`, for `GCE_METADATA_HOST` or `AuthConfig::Metadata { host }`.
    pub fn metadata_host(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    /// The OAuth token endpoint for service-account keys.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.url)
    }

    /// The service account's e-mail in the key files.
    pub fn client_email(&self) -> String {
        format!(
            "meshcd-test@{}.iam.gserviceaccount.com",
            self.lock().project
        )
    }

    /// Writes `dir/sa-key.json`: a service-account key with the test private key whose
    /// `token_uri` is this server.
    pub fn service_account_key(&self, dir: &Path) -> PathBuf {
        self.write_key(dir, "sa-key.json", TEST_KEY_PEM)
    }

    /// Writes `dir/{file}`: a key file like [`FakeGcp::service_account_key`] but holding
    /// `private_key_pem` (for example a key the server does not know).
    pub fn service_account_key_with(
        &self,
        dir: &Path,
        file: &str,
        private_key_pem: &str,
    ) -> PathBuf {
        self.write_key(dir, file, private_key_pem)
    }

    fn write_key(&self, dir: &Path, file: &str, private_key_pem: &str) -> PathBuf {
        let project = self.lock().project.clone();
        let key = json!({
            "type": "service_account",
            "project_id": project,
            "private_key_id": TEST_KEY_ID,
            "private_key": private_key_pem,
            "client_email": self.client_email(),
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        });
        let path = dir.join(file);
        std::fs::write(&path, serde_json::to_string_pretty(&key).unwrap()).expect("write key");
        path
    }

    /// Issues a valid token (to pass through an environment variable).
    pub fn issue_static_token(&self) -> String {
        issue_token(&mut self.lock())
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    fn full_name(&self, location: &str, collection: &str, short: &str) -> String {
        format!(
            "projects/{}/locations/{location}/{collection}/{short}",
            self.project
        )
    }

    fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }
}

fn issue_token(state: &mut State) -> String {
    state.tokens_issued += 1;
    let token = format!(
        "ya29.fake-{}-{:016x}",
        state.tokens_issued,
        std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), state.tokens_issued)
    );
    let expires = Instant::now() + Duration::from_secs(state.token_lifetime);
    state.tokens.insert(token.clone(), expires);
    token
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn strip_output_only(mut body: Json) -> Json {
    if let Some(object) = body.as_object_mut() {
        for field in OUTPUT_ONLY {
            object.remove(*field);
        }
    }
    body
}

/// `body` with the server's output-only fields: `name`, `createTime` (kept when given),
/// `updateTime` now.
fn stamp(body: Json, name: &str, create_time: Option<Json>) -> Json {
    let now = now_rfc3339();
    let mut object = match body {
        Json::Object(object) => object,
        _ => Map::new(),
    };
    let mut stamped = Map::new();
    stamped.insert("name".into(), json!(name));
    stamped.insert(
        "createTime".into(),
        create_time.unwrap_or_else(|| json!(now.clone())),
    );
    stamped.insert("updateTime".into(), json!(now));
    stamped.append(&mut object);
    Json::Object(stamped)
}

fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

/// A Google-shaped error answer.
fn google_error(status: u16, message: &str) -> Response {
    let body = json!({"error": {
        "code": status,
        "message": message,
        "status": status_name(status),
    }});
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, axum::Json(body)).into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
    }
    response
}

fn ok(body: Json) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn parse_query(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string)
}

async fn handle(
    AxumState(state): AxumState<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if path == METADATA_TOKEN_PATH && method == Method::GET {
        return metadata_token(&state, &headers);
    }
    if path == "/token" && method == Method::POST {
        return token_grant(&state, &body);
    }
    if let Some(rest) = path.strip_prefix("/v1/") {
        let rest = rest.to_string();
        return api(&state, method, &path, &rest, &uri, &headers, &body);
    }
    (StatusCode::NOT_FOUND, "404 page not found").into_response()
}

fn metadata_token(state: &Shared, headers: &HeaderMap) -> Response {
    let flavor = headers
        .get("metadata-flavor")
        .and_then(|value| value.to_str().ok());
    if flavor != Some("Google") {
        // What the real metadata server says without the header.
        return (
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.",
        )
            .into_response();
    }
    let mut state = lock(state);
    let token = issue_token(&mut state);
    ok(json!({
        "access_token": token,
        "expires_in": state.token_lifetime,
        "token_type": "Bearer",
    }))
}

fn invalid_grant(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}

fn token_grant(state: &Shared, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type",
                              "error_description": "Invalid grant_type."})),
        )
            .into_response();
    }
    let Some(assertion) = form.get("assertion") else {
        return invalid_grant("Missing required parameter: assertion");
    };
    let (public_key, audience, issuer) = {
        let state = lock(state);
        (
            state.public_key.clone(),
            format!("{}/token", state.url),
            format!("meshcd-test@{}.iam.gserviceaccount.com", state.project),
        )
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let decoded = jsonwebtoken::decode::<Json>(assertion, &public_key, &validation);
    let data = match decoded {
        Ok(data) => data,
        Err(error) => return invalid_grant(&format!("Invalid JWT: {error}")),
    };
    if data.header.kid.as_deref() != Some(TEST_KEY_ID) {
        return invalid_grant("Invalid JWT: unknown key id");
    }
    let scopes = data
        .claims
        .get("scope")
        .and_then(Json::as_str)
        .unwrap_or("");
    if !scopes.split(' ').any(|scope| scope == CLOUD_PLATFORM_SCOPE) {
        return invalid_grant("Invalid OAuth scope or ID token audience provided.");
    }
    let (Some(iat), Some(exp)) = (
        data.claims.get("iat").and_then(Json::as_u64),
        data.claims.get("exp").and_then(Json::as_u64),
    ) else {
        return invalid_grant("Invalid JWT: iat and exp must be numbers");
    };
    if exp <= iat || exp - iat > 3600 {
        return invalid_grant("Invalid JWT: the lifetime must be at most an hour");
    }
    let mut state = lock(state);
    let token = issue_token(&mut state);
    ok(json!({
        "access_token": token,
        "expires_in": state.token_lifetime,
        "token_type": "Bearer",
    }))
}

fn api(
    shared: &Shared,
    method: Method,
    path: &str,
    rest: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let query = parse_query(uri);
    let token = bearer(headers);
    let json_body = if body.is_empty() {
        Json::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(error) => {
                return google_error(400, &format!("Invalid JSON payload received. {error}"))
            }
        }
    };
    let mut state = lock(shared);
    state.requests.push(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.clone(),
        body: json_body.clone(),
        token: token.clone(),
    });
    if !token
        .as_deref()
        .is_some_and(|token| state.token_valid(token))
    {
        return google_error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let (location, collection, short) = match segments.as_slice() {
        ["projects", project, "locations", location, collection] if *project == state.project => {
            (*location, *collection, None)
        }
        ["projects", project, "locations", location, collection, short]
            if *project == state.project && !short.is_empty() =>
        {
            (*location, *collection, Some(*short))
        }
        ["projects", project, ..] if *project != state.project => {
            return google_error(
                403,
                &format!("Permission denied on resource project {project} (or it may not exist)."),
            )
        }
        _ => return google_error(404, &format!("The requested URL /v1/{rest} was not found.")),
    };
    if collection == "operations" {
        return match (short, method) {
            (Some(id), Method::GET) => poll_operation(&mut state, location, id),
            _ => google_error(404, &format!("The requested URL /v1/{rest} was not found.")),
        };
    }
    let Some(type_name) = COLLECTIONS
        .iter()
        .find(|(name, _)| *name == collection)
        .map(|(_, type_name)| *type_name)
    else {
        return google_error(404, &format!("The requested URL /v1/{rest} was not found."));
    };
    if state.fail_count > 0 {
        state.fail_count -= 1;
        let status = state.fail_status;
        return google_error(status, &format!("Injected failure (HTTP {status})."));
    }
    let context = Context {
        location,
        collection,
        type_name,
    };
    match (short, method) {
        (None, Method::GET) => list(&state, &context, &query),
        (None, Method::POST) => create(&mut state, &context, &query, json_body),
        (Some(short), Method::GET) => {
            let name = state.full_name(location, collection, short);
            match state.resources.get(&name) {
                Some(resource) => ok(resource.clone()),
                None => not_found(&name),
            }
        }
        (Some(short), Method::PATCH) => patch(&mut state, &context, short, &query, json_body),
        (Some(short), Method::DELETE) => delete(&mut state, &context, short),
        (_, method) => google_error(405, &format!("Method {method} is not allowed here.")),
    }
}

struct Context<'a> {
    location: &'a str,
    collection: &'a str,
    type_name: &'a str,
}

fn not_found(name: &str) -> Response {
    google_error(404, &format!("Resource '{name}' was not found"))
}

fn list(state: &State, context: &Context<'_>, query: &BTreeMap<String, String>) -> Response {
    let prefix = format!(
        "projects/{}/locations/{}/{}/",
        state.project, context.location, context.collection
    );
    let items: Vec<&Json> = state
        .resources
        .iter()
        .filter(|(name, _)| name.starts_with(&prefix))
        .map(|(_, item)| item)
        .collect();
    let page_size = match query.get("pageSize") {
        None => items.len().max(1),
        Some(text) => match text.parse::<usize>() {
            Ok(0) => items.len().max(1),
            Ok(size) => size.min(state.max_page_size),
            Err(_) => return google_error(400, &format!("Invalid value at 'page_size' ({text})")),
        },
    };
    let start = match query.get("pageToken").filter(|token| !token.is_empty()) {
        None => 0,
        Some(token) => match token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(start) if start <= items.len() => start,
            _ => return google_error(400, "The page token is invalid."),
        },
    };
    let end = (start + page_size).min(items.len());
    let mut answer = Map::new();
    if end > start {
        answer.insert(
            context.collection.to_string(),
            Json::Array(
                items[start..end]
                    .iter()
                    .map(|item| (*item).clone())
                    .collect(),
            ),
        );
    }
    if end < items.len() {
        answer.insert("nextPageToken".into(), json!(format!("page-{end}")));
    }
    ok(Json::Object(answer))
}

fn id_param(collection: &str) -> String {
    match collection {
        "meshes" => "meshId".to_string(),
        other => format!("{}Id", other.trim_end_matches('s')),
    }
}

fn valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !id.ends_with('-')
}

fn create(
    state: &mut State,
    context: &Context<'_>,
    query: &BTreeMap<String, String>,
    body: Json,
) -> Response {
    let param = id_param(context.collection);
    let Some(id) = query.get(&param) else {
        return google_error(400, &format!("Missing required field: {param}"));
    };
    if !valid_id(id) {
        return google_error(
            400,
            &format!("Invalid {param} '{id}': it must match [a-z]([-a-z0-9]*[a-z0-9])?"),
        );
    }
    if !body.is_object() {
        return google_error(400, "The request body must be a JSON object.");
    }
    let name = state.full_name(context.location, context.collection, id);
    if state.resources.contains_key(&name) {
        return google_error(409, &format!("Resource '{name}' already exists"));
    }
    let stored = stamp(strip_output_only(body), &name, None);
    let response = with_type(&stored, context.type_name);
    start_operation(
        state,
        context.location,
        &name,
        "create",
        Mutation::Put {
            name: name.clone(),
            body: stored,
        },
        response,
    )
}

fn patch(
    state: &mut State,
    context: &Context<'_>,
    short: &str,
    query: &BTreeMap<String, String>,
    body: Json,
) -> Response {
    let name = state.full_name(context.location, context.collection, short);
    let Some(existing) = state.resources.get(&name).cloned() else {
        return not_found(&name);
    };
    let Json::Object(body) = strip_output_only(body) else {
        return google_error(400, "The request body must be a JSON object.");
    };
    let mask: Vec<&str> = query
        .get("updateMask")
        .map(|mask| {
            mask.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let updated = if mask.is_empty() || mask == ["*"] {
        Json::Object(body)
    } else {
        let mut updated = strip_output_only(existing.clone());
        let object = updated
            .as_object_mut()
            .expect("stored resources are objects");
        for field in &mask {
            if OUTPUT_ONLY.contains(field) {
                return google_error(400, &format!("Field '{field}' is output only"));
            }
            if field.contains('.') {
                return google_error(
                    400,
                    &format!("Field '{field}': this server supports top-level update masks only"),
                );
            }
            match body.get(*field) {
                Some(value) => {
                    object.insert((*field).to_string(), value.clone());
                }
                None => {
                    object.remove(*field);
                }
            }
        }
        updated
    };
    let stored = stamp(updated, &name, existing.get("createTime").cloned());
    let response = with_type(&stored, context.type_name);
    start_operation(
        state,
        context.location,
        &name,
        "update",
        Mutation::Put {
            name: name.clone(),
            body: stored,
        },
        response,
    )
}

fn delete(state: &mut State, context: &Context<'_>, short: &str) -> Response {
    let name = state.full_name(context.location, context.collection, short);
    if !state.resources.contains_key(&name) {
        return not_found(&name);
    }
    start_operation(
        state,
        context.location,
        &name,
        "delete",
        Mutation::Delete { name: name.clone() },
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"}),
    )
}

fn with_type(resource: &Json, type_name: &str) -> Json {
    let mut typed = Map::new();
    typed.insert(
        "@type".into(),
        json!(format!(
            "type.googleapis.com/google.cloud.networkservices.v1.{type_name}"
        )),
    );
    if let Json::Object(object) = resource {
        typed.extend(object.clone());
    }
    Json::Object(typed)
}

fn start_operation(
    state: &mut State,
    location: &str,
    target: &str,
    verb: &'static str,
    mutation: Mutation,
    response: Json,
) -> Response {
    let name = format!(
        "projects/{}/locations/{location}/operations/operation-{}",
        state.project, state.next_operation
    );
    state.next_operation += 1;
    let outcome = match state.fail_operation.take() {
        Some(failure) => Err(failure),
        None => Ok((mutation, response)),
    };
    let mut operation = Operation {
        name: name.clone(),
        target: target.to_string(),
        verb,
        create_time: now_rfc3339(),
        polls_left: state.operation_polls,
        done: false,
        outcome,
    };
    if operation.polls_left == 0 {
        complete(state, &mut operation);
    }
    let answer = operation_json(&operation);
    state.operations.insert(name, operation);
    ok(answer)
}

fn complete(state: &mut State, operation: &mut Operation) {
    operation.done = true;
    if let Ok((mutation, _)) = &operation.outcome {
        match mutation {
            Mutation::Put { name, body } => {
                state.resources.insert(name.clone(), body.clone());
            }
            Mutation::Delete { name } => {
                state.resources.remove(name);
            }
        }
    }
}

fn poll_operation(state: &mut State, location: &str, id: &str) -> Response {
    let name = format!(
        "projects/{}/locations/{location}/operations/{id}",
        state.project
    );
    let Some(mut operation) = state.operations.remove(&name) else {
        return not_found(&name);
    };
    if !operation.done {
        operation.polls_left = operation.polls_left.saturating_sub(1);
        if operation.polls_left == 0 {
            complete(state, &mut operation);
        }
    }
    let answer = operation_json(&operation);
    state.operations.insert(name, operation);
    ok(answer)
}

/// The operation as the API shows it (`done` left out while false, as proto3 JSON does).
fn operation_json(operation: &Operation) -> Json {
    let mut answer = Map::new();
    answer.insert("name".into(), json!(operation.name));
    answer.insert(
        "metadata".into(),
        json!({
            "@type": "type.googleapis.com/google.cloud.networkservices.v1.OperationMetadata",
            "createTime": operation.create_time,
            "target": operation.target,
            "verb": operation.verb,
            "requestedCancellation": false,
            "apiVersion": "v1",
        }),
    );
    if operation.done {
        answer.insert("done".into(), json!(true));
        match &operation.outcome {
            Ok((_, response)) => {
                answer.insert("response".into(), response.clone());
            }
            Err((code, message)) => {
                answer.insert("error".into(), json!({"code": code, "message": message}));
            }
        }
    }
    Json::Object(answer)
}
