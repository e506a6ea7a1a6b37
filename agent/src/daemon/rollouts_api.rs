//! The daemon's rollout endpoints and rollout metrics.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/rollouts` | `{"rollouts": [RolloutEvent...]}` (see [`crate::engine::rollouts::RolloutEvent`]) |
//! | `POST /api/v1/rollouts/{gate}` with `{"route": "..."}` | 200 `{"rollout": ...}`; 400 unknown gate; 404 no such rollout; 409 not in this phase |
//!
//! `gate` is `promote`, `abort`, `pause` or `resume`. The route is the full name
//! (`HTTPRoute/web/web`) or a short one that names one rollout (`web`, `web/web`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use meshcd_core::rollout::machine::Gate;
use serde_json::json;

use super::Shared;
use crate::engine::rollouts::{GateError, RolloutEvent};

fn no_rollouts() -> Response {
    let body = json!({"error": "this daemon's target runs no rollouts"});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// `GET /api/v1/rollouts`.
pub(super) async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let Some(handle) = &shared.rollouts else {
        return no_rollouts();
    };
    Json(json!({ "rollouts": handle.0.list().await })).into_response()
}

/// Body of `POST /api/v1/rollouts/{gate}`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct GateBody {
    route: String,
}

/// `POST /api/v1/rollouts/{gate}`.
pub(super) async fn gate(
    State(shared): State<Arc<Shared>>,
    Path(gate): Path<String>,
    body: Result<Json<GateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(handle) = &shared.rollouts else {
        return no_rollouts();
    };
    let Some(gate) = Gate::parse(&gate) else {
        let body =
            json!({"error": format!("unknown gate `{gate}`: promote, abort, pause or resume")});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    let Ok(Json(body)) = body else {
        let body = json!({"error": "the body must be JSON: {\"route\": \"NAME\"}"});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    tracing::info!(route = %body.route, gate = gate.as_str(), "operator gate");
    match handle.0.gate(&body.route, gate).await {
        Ok(rollout) => Json(json!({ "rollout": rollout })).into_response(),
        Err(error) => {
            let status = match error {
                GateError::NotFound(_) => StatusCode::NOT_FOUND,
                GateError::Ambiguous(..) => StatusCode::BAD_REQUEST,
                GateError::NotNow(_) => StatusCode::CONFLICT,
                GateError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            };
            (status, Json(json!({"error": error.to_string()}))).into_response()
        }
    }
}

/// Rollout gauges in OpenMetrics text, to go before `# EOF`: phase (one series per rollout
/// with value 1), step, steps and the canary's weight.
pub(super) fn metrics_text(rollouts: &[RolloutEvent]) -> String {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = String::new();
    out.push_str("# HELP meshcd_rollout_phase Phase of each rollout (1 for the current phase).\n");
    out.push_str("# TYPE meshcd_rollout_phase gauge\n");
    for r in rollouts {
        out.push_str(&format!(
            "meshcd_rollout_phase{{route=\"{}\",phase=\"{}\"}} 1\n",
            escape(&r.route.to_string()),
            r.phase
        ));
    }
    for (name, help, value) in [
        (
            "meshcd_rollout_step",
            "Current step of each rollout (1-based).",
            0,
        ),
        (
            "meshcd_rollout_steps",
            "Number of steps of each rollout.",
            1,
        ),
        (
            "meshcd_rollout_canary_weight_percent",
            "Share of traffic the canary gets now, in percent.",
            2,
        ),
    ] {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for r in rollouts {
            let v = match value {
                0 => r.step as u64,
                1 => r.steps as u64,
                _ => r.canary_weight,
            };
            out.push_str(&format!(
                "{name}{{route=\"{}\"}} {v}\n",
                escape(&r.route.to_string())
            ));
        }
    }
    out
}
