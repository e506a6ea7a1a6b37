//! [`RolloutControl`]: what the daemon's HTTP server needs of an engine that runs rollouts
//! (list them, gate one), object-safe so the server holds any target's engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use meshcd_core::rollout::machine::Gate;

use super::{GateError, RolloutEvent};

/// A boxed future, for the object-safe [`RolloutControl`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the HTTP server needs of a reconciler that runs rollouts.
pub trait RolloutControl: Send + Sync {
    /// Every rollout.
    fn list(&self) -> BoxFuture<'_, Vec<RolloutEvent>>;
    /// An operator gate.
    fn gate<'a>(
        &'a self,
        route: &'a str,
        gate: Gate,
    ) -> BoxFuture<'a, Result<RolloutEvent, GateError>>;
}

/// A shared handle on a [`RolloutControl`].
#[derive(Clone)]
pub struct RolloutHandle(pub Arc<dyn RolloutControl>);

impl std::fmt::Debug for RolloutHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RolloutHandle")
    }
}
