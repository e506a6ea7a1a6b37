//! The daemon's HTTP server: health, readiness, metrics, status, manual reconcile, webhooks.
//!
//! | route | answer |
//! |---|---|
//! | `GET /healthz` | 200 while the process runs |
//! | `GET /readyz` | 200 `{"ready": true}`, or 503 `{"ready": false, "reason": ...}` (see [`super::status`]) |
//! | `GET /metrics` | OpenMetrics text (see [`super::metrics`]) |
//! | `GET /api/v1/status` | the status document (see [`super::status::Status::document`]) |
//! | `POST /api/v1/reconcile` | 202, a reconcile is queued (coalesced with a pending one); 503 shutting down |
//! | `GET /api/v1/rollouts`, `POST /api/v1/rollouts/{gate}` | see [`super::rollouts_api`] |
//! | `POST /webhook/github`, `POST /webhook/gitlab` | see [`super::webhook`] |
//!
//! Request bodies are limited to [`BODY_LIMIT`] (413 beyond), webhook bodies to
//! [`webhook::BODY_LIMIT`], GitHub's and GitLab's 25 MiB (read as they arrive, see
//! [`super::webhook`]). The manual endpoint has no authentication: keep `server.listen` on loopback or behind a proxy that adds it.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::metrics::CONTENT_TYPE;
use super::triggers::Submitted;
use super::{webhook, Shared};
use crate::engine::Trigger;

/// Largest accepted request body outside the webhooks (which read their body themselves, up to
/// [`webhook::BODY_LIMIT`]): 1 MiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The router, with its shared state.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/reconcile", post(reconcile))
        .route("/api/v1/history", get(history))
        .route("/api/v1/rollouts", get(super::rollouts_api::list))
        .route("/api/v1/xds", get(xds))
        .route("/api/v1/rollouts/{gate}", post(super::rollouts_api::gate))
        .route("/webhook/github", post(webhook::github))
        .route("/webhook/gitlab", post(webhook::gitlab))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

async fn healthz() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.status.readiness() {
        Ok(()) => (StatusCode::OK, Json(json!({"ready": true}))).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": reason})),
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut text = shared.metrics.encode();
    if let Some(handle) = &shared.rollouts {
        let rollouts = super::rollouts_api::metrics_text(&handle.0.list().await);
        match text.rfind("# EOF") {
            Some(at) => text.insert_str(at, &rollouts),
            None => text.push_str(&rollouts),
        }
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let (triggers, coalesced) = shared.queue.counts();
    Json(shared.status.document(&triggers, coalesced)).into_response()
}

/// `GET /api/v1/xds`: the xDS server's fleets (how many Envoys hold which version, who
/// rejected what) and its connected Envoys; 404 when the target does not publish over xDS.
async fn xds(State(shared): State<Arc<Shared>>) -> Response {
    match &shared.xds {
        Some(registry) => Json(registry.summary()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "the target does not publish over xDS (delivery: ads)"})),
        )
            .into_response(),
    }
}

async fn reconcile(State(shared): State<Arc<Shared>>) -> Response {
    match shared.queue.submit(Trigger::Manual) {
        Submitted::Closed => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "shutting down"})),
        )
            .into_response(),
        submitted => (
            StatusCode::ACCEPTED,
            Json(json!({"status": "accepted", "coalesced": submitted == Submitted::Coalesced})),
        )
            .into_response(),
    }
}

/// Query of `GET /api/v1/history`.
#[derive(Debug, serde::Deserialize)]
struct HistoryQuery {
    target: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/history?target=T&limit=N` (limit 0: all; default 20): the audit log, newest
/// first, as `{"entries": [...]}`; 404 when the reconciler keeps no store.
async fn history(
    State(shared): State<Arc<Shared>>,
    axum::extract::Query(query): axum::extract::Query<HistoryQuery>,
) -> Response {
    let Some(store) = shared.store.clone() else {
        let body = json!({"error": "this daemon keeps no state store"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let limit = match query.limit {
        None => 20,
        Some(0) => usize::MAX,
        Some(n) => n,
    };
    let read = tokio::task::spawn_blocking(move || store.history(query.target.as_deref(), limit));
    match read
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| crate::errors::report(&e)))
    {
        Ok(entries) => Json(json!({ "entries": entries })).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": error })),
        )
            .into_response(),
    }
}
