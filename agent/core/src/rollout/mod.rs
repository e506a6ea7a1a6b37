//! Progressive delivery, the pure part: what a RolloutPolicy's analysis asks for, the metrics a
//! step saw, the judge that turns them into a verdict, and the per-route state machine.
//!
//! Nothing here reads metrics or talks to a target: the agent's rollout engine feeds
//! [`sample::Counters`] read by a provider into [`judge::judge`], and events into
//! [`machine::Rollout::on`], and carries out the [`machine::Effect`]s that come back.

pub mod actions;
pub mod analysis;
pub mod duration;
pub mod judge;
pub mod machine;
pub mod sample;
pub mod stats;

pub use actions::{OnFailure, OnInconclusive};
pub use analysis::{AnalysisSpec, Provider};
pub use judge::{judge, ConditionReport, Judgement, Verdict};
pub use sample::{Counters, Histogram, Sample};
