//! The rollout engine: walks a route's weights step by step towards what Git asks for, judges
//! each step on live metrics, and rolls back when a step fails.
//!
//! The pure parts (the state machine, the judge, the statistics) live in
//! [`meshcd_core::rollout`]; this module carries out their effects. The [`book`] holds every
//! rollout of a target and says what is to be done, without doing I/O; the [`driver`] task owns
//! the book, persists every transition in the state store, calls hooks and reads metrics
//! ([`crate::analysis`]) as tasks of their own, and publishes a [`View`] that readers and the
//! target's writer (which puts the weights on the target) read without waiting.
//!
//! # Behaviour users rely on
//! - **Which changes roll out.** An update that only moves a route's weights (see
//!   [`meshcd_core::plan::rollout`]) walks through the steps of the RolloutPolicy that selects
//!   the route, or the default policy (steps 10, 50, 100 %; bake 30 s; at least 20 requests a
//!   step and a success rate of 99 % from Envoy's stats; roll back on failure, pause when
//!   inconclusive). Every other change of the same commit is applied at once.
//! - **Judging.** Metrics are read every `analysis.interval` (1 s by default). A step fails as
//!   soon as the evidence is conclusive (fail-fast, see [`meshcd_core::rollout::judge()`]), and
//!   passes only after its bake time with at least `minRequests` canary requests.
//! - **Persistence.** The rollout is written to the state store before each transition's
//!   effects are carried out and again when the target confirms the weights, so a record
//!   always says which weights the target should hold.
//! - **Restart (`kill -9`).** On start, every rollout found active is *resumed at the step it
//!   was in*: its weights (the step's, or the weights before the rollout for one that was
//!   rolling back, or the held weights of a paused one) are applied again, and a step's bake
//!   starts again from zero (metrics from before the restart are not trusted). A rollout that
//!   was rolling back finishes its rollback. Weights are never left at values no step chose.
//! - **A new commit during a rollout** is handled deliberately: when it asks for the same final
//!   weights of the route, the rollout goes on; when it asks for other weights, the rollout is
//!   *superseded* and a new one starts *from the weights the route has now* (the current
//!   step's) towards the new ones; when it changes the route's shape (other backends), the new
//!   route is applied as any other update. Changes to other routes never wait for a rollout.
//! - **Failure.** A rolled-back rollout marks its commit as failed in the store (shown by
//!   `meshcd status` and `meshcd history`) and holds the route at the weights it had before;
//!   it is not retried until a new commit arrives.
//! - **Gates.** `meshcd promote|abort|pause|resume ROUTE` (daemon API
//!   `POST /api/v1/rollouts/{gate}`): promote goes to the desired weights now without further
//!   analysis; abort rolls back and marks the commit failed; pause holds the current weights;
//!   resume retries the step the rollout stopped at, with a fresh bake.
//! - **Hooks.** `hooks.preStep` are called before each step's weights are applied; a non-2xx
//!   answer or no answer halts the rollout (paused at the last good weights). `postPromotion`
//!   and `onRollback` are told afterwards; their failures are logged only.

pub mod book;
mod control;
pub mod driver;
mod events;
mod hooks;
mod tracked;
pub mod view;

pub use book::{Book, GateError};
pub use control::{BoxFuture, RolloutControl, RolloutHandle};
pub use driver::{Closed, Names, Rollouts};
pub use events::{progress_line, RolloutEvent};
pub use hooks::HookPayload;
pub use tracked::Tracked;
pub use view::View;
