//! `meshcd sample-backend`: a tiny HTTP backend for demos and tests. It answers every request
//! with its name, and can fail a share of requests or add latency, to play a bad canary.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;

use super::{Failure, EXIT_CANNOT_RUN, EXIT_OK};
use crate::cli::SampleBackendArgs;

struct Backend {
    name: String,
    fail_percent: u64,
    latency: Duration,
    served: AtomicU64,
}

/// Serves until SIGINT/SIGTERM; returns the exit status.
pub fn run(args: &SampleBackendArgs) -> Result<u8, Failure> {
    let fail_percent = u64::from(args.fail_percent.min(100));
    let latency = match &args.latency {
        Some(text) => humantime::parse_duration(text).map_err(|e| Failure {
            error: anyhow::anyhow!("--latency `{text}`: {e}"),
            exit: EXIT_CANNOT_RUN,
        })?,
        None => Duration::ZERO,
    };
    let state = Arc::new(Backend {
        name: args.name.clone(),
        fail_percent,
        latency,
        served: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args.listen, state))?;
    Ok(EXIT_OK)
}

async fn serve(listen: SocketAddr, state: Arc<Backend>) -> std::io::Result<()> {
    let app = Router::new().fallback(answer).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!(
        "sample backend `{}` on http://{} (failing {}% of requests, latency {:?})",
        state.name,
        listener.local_addr()?,
        state.fail_percent,
        state.latency
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn answer(State(state): State<Arc<Backend>>) -> impl IntoResponse {
    let n = state.served.fetch_add(1, Ordering::Relaxed);
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
    // Deterministic spread: request n fails when (n * percent) crosses a multiple of 100, so
    // exactly `fail_percent` of every 100 requests fail.
    let fails = (n + 1) * state.fail_percent / 100 > n * state.fail_percent / 100;
    if fails {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} failing\n", state.name),
        )
    } else {
        (StatusCode::OK, format!("{}\n", state.name))
    }
}
