//! Push webhooks from GitHub and GitLab: authenticate, keep pushes to the followed branch,
//! turn them into [`Trigger::Webhook`].
//!
//! Authentication is checked before anything in the body is looked at, with constant-time
//! comparisons (`hmac`'s `verify_slice`). Signatures, tokens and secrets are never logged or
//! echoed. Answers: 401 bad or missing signature/token (and `meshcd_webhook_rejected_total`),
//! 404 provider not configured, 413 a body above [`BODY_LIMIT`] (and
//! `meshcd_webhook_too_large_total`), 200 `ping` or an event/branch that is not followed, 202 a
//! reconcile was queued, 400 a push without a readable `ref`, 503 shutting down.
//!
//! Bodies are read as they arrive: GitHub's HMAC is updated chunk by chunk, and reading stops at
//! the first byte beyond the limit (or before the first, when `Content-Length` says so). The
//! bytes are kept (at most [`BODY_LIMIT`]) until the signature holds; then only the payload's
//! `ref` is deserialized ([`PushPayload`]), the rest (commits, file lists) skipped without
//! building a JSON tree.

use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::{header::CONTENT_LENGTH, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::triggers::Submitted;
use super::Shared;
use crate::engine::Trigger;

type HmacSha256 = Hmac<Sha256>;

/// Largest accepted webhook body: 25 MiB, the cap GitHub and GitLab put on the payloads they
/// send (a push of many commits touching thousands of files comes close to it).
pub const BODY_LIMIT: usize = 25 * 1024 * 1024;

/// Why a webhook request was not authenticated. The text is safe to log: it never includes
/// the signature, the token or the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No signature or token header.
    #[error("missing signature or token header")]
    Missing,
    /// `X-Hub-Signature-256` is not `sha256=<hex>`.
    #[error("malformed signature header (expected sha256=<hex>)")]
    Malformed,
    /// The signature or token does not match.
    #[error("signature or token does not match")]
    Mismatch,
}

/// GitHub's `X-Hub-Signature-256: sha256=<hex>` header, checked against a body fed to it in as
/// many pieces as it arrives in: the HMAC-SHA256 of the raw body under the secret, compared in
/// constant time.
pub struct GithubSignature {
    expected: Vec<u8>,
    mac: HmacSha256,
}

impl GithubSignature {
    /// Reads the header (before any of the body): [`AuthError::Missing`] without one,
    /// [`AuthError::Malformed`] when it is not `sha256=<hex>`.
    pub fn new(secret: &[u8], header: Option<&str>) -> Result<Self, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let hex_signature = header
            .trim()
            .strip_prefix("sha256=")
            .ok_or(AuthError::Malformed)?;
        let expected = hex::decode(hex_signature).map_err(|_| AuthError::Malformed)?;
        let mac = HmacSha256::new_from_slice(secret).map_err(|_| AuthError::Mismatch)?;
        Ok(Self { expected, mac })
    }

    /// Adds the next piece of the body.
    pub fn update(&mut self, chunk: &[u8]) {
        self.mac.update(chunk);
    }

    /// Compares the HMAC of everything fed to [`Self::update`] with the header, in constant
    /// time.
    pub fn verify(self) -> Result<(), AuthError> {
        self.mac
            .verify_slice(&self.expected)
            .map_err(|_| AuthError::Mismatch)
    }
}

/// Checks GitHub's `X-Hub-Signature-256: sha256=<hex>`: the HMAC-SHA256 of the raw `body`
/// under `secret`, compared in constant time.
pub fn verify_github_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), AuthError> {
    let mut signature = GithubSignature::new(secret, header)?;
    signature.update(body);
    signature.verify()
}

/// Checks GitLab's `X-Gitlab-Token` against the configured token in constant time (both are
/// first hashed to equal-length HMAC tags, so not even the length leaks through timing).
pub fn verify_gitlab_token(expected: &[u8], given: Option<&str>) -> Result<(), AuthError> {
    const KEY: &[u8] = b"meshcd gitlab token comparison";
    let given = given.ok_or(AuthError::Missing)?;
    let tag = |value: &[u8]| -> Result<HmacSha256, AuthError> {
        let mut mac = HmacSha256::new_from_slice(KEY).map_err(|_| AuthError::Mismatch)?;
        mac.update(value);
        Ok(mac)
    };
    let expected_tag = tag(expected)?.finalize().into_bytes();
    tag(given.as_bytes())?
        .verify_slice(&expected_tag)
        .map_err(|_| AuthError::Mismatch)
}

/// The one field of a push payload meshcd reads; every other field is skipped unparsed.
#[derive(Debug, serde::Deserialize)]
pub struct PushPayload {
    /// The pushed ref: `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
}

/// The `ref` of a push payload (GitHub and GitLab both send `"ref": "refs/heads/main"`), sent
/// as JSON or, from GitHub with content type `application/x-www-form-urlencoded`, as the JSON
/// `payload` form field.
pub fn push_ref(body: &[u8]) -> Option<String> {
    let payload: PushPayload = match serde_json::from_slice(body) {
        Ok(payload) => payload,
        Err(_) => {
            let (_, form) = url::form_urlencoded::parse(body).find(|(key, _)| key == "payload")?;
            serde_json::from_str(&form).ok()?
        }
    };
    Some(payload.git_ref)
}

/// True when a push to `git_ref` concerns the followed `branch` (`None`: every branch).
pub fn follows(branch: Option<&str>, git_ref: &str) -> bool {
    match branch {
        None => true,
        Some(branch) => git_ref == branch || git_ref.strip_prefix("refs/heads/") == Some(branch),
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Why a webhook body was not read whole.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    /// Larger than [`BODY_LIMIT`], declared by `Content-Length` or found while reading.
    #[error(
        "the body is larger than {} MiB ({BODY_LIMIT} bytes), the most GitHub and GitLab send",
        BODY_LIMIT / (1024 * 1024)
    )]
    TooLarge,
    /// The connection failed while the body arrived.
    #[error("cannot read the body")]
    Read(#[source] axum::Error),
}

/// True when `Content-Length` announces more than [`BODY_LIMIT`], so the body need not be read
/// to refuse it.
fn declared_too_large(headers: &HeaderMap) -> bool {
    header(headers, CONTENT_LENGTH.as_str())
        .and_then(|length| length.trim().parse::<u64>().ok())
        .is_some_and(|length| length > BODY_LIMIT as u64)
}

/// Reads `body` as it arrives, handing each piece to `each` (GitHub's HMAC) before keeping it;
/// stops at the first piece that would take it beyond [`BODY_LIMIT`].
async fn read_body(mut body: Body, mut each: impl FnMut(&[u8])) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(chunk) = frame.map_err(BodyError::Read)?.into_data() else {
            continue; // trailers
        };
        if bytes.len() + chunk.len() > BODY_LIMIT {
            return Err(BodyError::TooLarge);
        }
        each(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// `POST /webhook/github`.
pub(super) async fn github(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(secret) = &shared.webhook.github_secret else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "the GitHub webhook is not configured (webhook.githubSecretFile)"}),
        );
    };
    if declared_too_large(&headers) {
        return unread(&shared, "github", BodyError::TooLarge);
    }
    let mut signature =
        match GithubSignature::new(secret.expose(), header(&headers, "x-hub-signature-256")) {
            Ok(signature) => signature,
            Err(error) => return reject(&shared, "github", error),
        };
    let body = match read_body(body, |chunk| signature.update(chunk)).await {
        Ok(body) => body,
        Err(error) => return unread(&shared, "github", error),
    };
    if let Err(error) = signature.verify() {
        return reject(&shared, "github", error);
    }
    match header(&headers, "x-github-event").unwrap_or("") {
        "ping" => answer(StatusCode::OK, json!({"status": "pong"})),
        "push" => push(&shared, "github", &body),
        other => ignored(format!("event `{other}` is not a push")),
    }
}

/// `POST /webhook/gitlab`.
pub(super) async fn gitlab(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(token) = &shared.webhook.gitlab_token else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "the GitLab webhook is not configured (webhook.gitlabTokenFile)"}),
        );
    };
    if declared_too_large(&headers) {
        return unread(&shared, "gitlab", BodyError::TooLarge);
    }
    if let Err(error) = verify_gitlab_token(token.expose(), header(&headers, "x-gitlab-token")) {
        return reject(&shared, "gitlab", error);
    }
    let body = match read_body(body, |_| {}).await {
        Ok(body) => body,
        Err(error) => return unread(&shared, "gitlab", error),
    };
    match header(&headers, "x-gitlab-event").unwrap_or("") {
        "Push Hook" | "Tag Push Hook" => push(&shared, "gitlab", &body),
        other => ignored(format!("event `{other}` is not a push")),
    }
}

fn reject(shared: &Shared, provider: &'static str, error: AuthError) -> Response {
    shared.metrics.webhook_rejected(provider);
    tracing::warn!(provider, reason = %error, "rejected a webhook request");
    answer(
        StatusCode::UNAUTHORIZED,
        json!({"error": error.to_string()}),
    )
}

/// 413 for a body above the limit (counted), 400 for one the connection broke off.
fn unread(shared: &Shared, provider: &'static str, error: BodyError) -> Response {
    let status = match &error {
        BodyError::TooLarge => {
            shared.metrics.webhook_too_large(provider);
            StatusCode::PAYLOAD_TOO_LARGE
        }
        BodyError::Read(_) => StatusCode::BAD_REQUEST,
    };
    tracing::warn!(provider, reason = %error, "refused a webhook request");
    answer(status, json!({"error": error.to_string()}))
}

fn ignored(reason: String) -> Response {
    answer(
        StatusCode::OK,
        json!({"status": "ignored", "reason": reason}),
    )
}

fn push(shared: &Shared, provider: &'static str, body: &[u8]) -> Response {
    let Some(git_ref) = push_ref(body) else {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "the push payload has no `ref`"}),
        );
    };
    let branch = shared.webhook.branch.as_deref();
    if !follows(branch, &git_ref) {
        return ignored(format!(
            "push to {git_ref}; following {}",
            branch.unwrap_or("every branch")
        ));
    }
    tracing::info!(provider, %git_ref, "push webhook");
    let trigger = Trigger::Webhook {
        provider: provider.to_string(),
        git_ref: Some(git_ref),
    };
    match shared.queue.submit(trigger) {
        Submitted::Closed => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "shutting down"}),
        ),
        submitted => answer(
            StatusCode::ACCEPTED,
            json!({"status": "accepted", "coalesced": submitted == Submitted::Coalesced}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example: secret "It's a Secret to Everybody", payload
    /// "Hello, World!" (docs.github.com, "Validating webhook deliveries").
    const GITHUB_EXAMPLE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_signatures_match_the_documented_example() {
        let secret = b"It's a Secret to Everybody";
        assert_eq!(
            verify_github_signature(secret, b"Hello, World!", Some(GITHUB_EXAMPLE)),
            Ok(())
        );
        assert_eq!(
            verify_github_signature(secret, b"Hello, World?", Some(GITHUB_EXAMPLE)),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_github_signature(b"other", b"Hello, World!", Some(GITHUB_EXAMPLE)),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_github_signature(secret, b"x", None),
            Err(AuthError::Missing)
        );
        for bad in ["sha1=abcd", "sha256=zz", "757107ea"] {
            assert_eq!(
                verify_github_signature(secret, b"x", Some(bad)),
                Err(AuthError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify_github_signature(secret, b"Hello, World!", Some("sha256=7571")),
            Err(AuthError::Mismatch),
            "a truncated signature is no match"
        );
    }

    #[test]
    fn github_signatures_hold_over_a_body_fed_in_pieces() {
        let secret = b"It's a Secret to Everybody";
        let mut signature = GithubSignature::new(secret, Some(GITHUB_EXAMPLE)).expect("header");
        for piece in [&b"Hello"[..], b", ", b"World!"] {
            signature.update(piece);
        }
        assert_eq!(signature.verify(), Ok(()));
        let mut signature = GithubSignature::new(secret, Some(GITHUB_EXAMPLE)).expect("header");
        signature.update(b"Hello, World");
        assert_eq!(
            signature.verify(),
            Err(AuthError::Mismatch),
            "one byte short"
        );
    }

    #[test]
    fn gitlab_tokens_compare_whole() {
        assert_eq!(verify_gitlab_token(b"t0ken", Some("t0ken")), Ok(()));
        assert_eq!(
            verify_gitlab_token(b"t0ken", Some("t0ke")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_gitlab_token(b"t0ken", Some("t0ken ")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_gitlab_token(b"t0ken", Some("")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(verify_gitlab_token(b"t0ken", None), Err(AuthError::Missing));
    }

    #[test]
    fn pushes_are_matched_to_the_followed_branch() {
        assert_eq!(
            push_ref(br#"{"ref":"refs/heads/main","after":"abc"}"#).as_deref(),
            Some("refs/heads/main")
        );
        assert_eq!(push_ref(b"not json"), None);
        assert_eq!(
            push_ref(br#"{"commits":[{"id":"1","added":["a"]}],"ref":"refs/heads/main","x":{}}"#)
                .as_deref(),
            Some("refs/heads/main"),
            "wherever `ref` is, the rest skipped"
        );
        assert_eq!(push_ref(br#"{"ref":null}"#), None);
        assert_eq!(push_ref(br#"{"after":"abc"}"#), None);
        assert_eq!(
            push_ref(b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D").as_deref(),
            Some("refs/heads/main"),
            "GitHub's form-encoded deliveries"
        );
        assert!(follows(Some("main"), "refs/heads/main"));
        assert!(!follows(Some("main"), "refs/heads/main2"));
        assert!(!follows(Some("main"), "refs/tags/main"));
        assert!(follows(None, "refs/heads/feature"));
    }
}
