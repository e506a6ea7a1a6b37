//! Push webhooks from GitHub and GitLab: authenticate, keep pushes to the followed branch,
//! turn them into [`Trigger::Webhook`].
//!
//! Authentication is checked before anything in the body is looked at, with constant-time
//! comparisons (`hmac`'s `verify_slice`). Signatures, tokens and secrets are never logged or
//! echoed. Answers: 401 bad or missing signature/token (and `meshcd_webhook_rejected_total`),
//! 404 provider not configured, 200 `ping` or an event/branch that is not followed, 202 a
//! reconcile was queued, 400 a push without a readable `ref`, 503 shutting down.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::triggers::Submitted;
use super::Shared;
use crate::engine::Trigger;

type HmacSha256 = Hmac<Sha256>;

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

/// Checks GitHub's `X-Hub-Signature-256: sha256=<hex>`: the HMAC-SHA256 of the raw `body`
/// under `secret`, compared in constant time.
pub fn verify_github_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let hex_signature = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(AuthError::Malformed)?;
    let signature = hex::decode(hex_signature).map_err(|_| AuthError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| AuthError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| AuthError::Mismatch)
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

/// The `ref` of a push payload (GitHub and GitLab both send `"ref": "refs/heads/main"`), sent
/// as JSON or, from GitHub with content type `application/x-www-form-urlencoded`, as the JSON
/// `payload` form field.
pub fn push_ref(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => {
            let (_, payload) =
                url::form_urlencoded::parse(body).find(|(key, _)| key == "payload")?;
            serde_json::from_str(&payload).ok()?
        }
    };
    value.get("ref")?.as_str().map(str::to_string)
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

/// `POST /webhook/github`.
pub(super) async fn github(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &shared.webhook.github_secret else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "the GitHub webhook is not configured (webhook.githubSecretFile)"}),
        );
    };
    let signature = header(&headers, "x-hub-signature-256");
    if let Err(error) = verify_github_signature(secret.expose(), &body, signature) {
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
    body: Bytes,
) -> Response {
    let Some(token) = &shared.webhook.gitlab_token else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": "the GitLab webhook is not configured (webhook.gitlabTokenFile)"}),
        );
    };
    if let Err(error) = verify_gitlab_token(token.expose(), header(&headers, "x-gitlab-token")) {
        return reject(&shared, "gitlab", error);
    }
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
