//! Targets: where routes are applied. The embedded default is a local Envoy ([`envoy`]).

pub mod envoy;

pub use envoy::{EnvoyTarget, EnvoyTargetOptions};
