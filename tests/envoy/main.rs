//! meshcd's runtime parts against a real Envoy and a real Prometheus, in process: the Envoy
//! runtime (publish, refusals, supervisor, attach), every route kind's translation with real
//! TCP, TLS, UDP and HTTP clients, and the analysis providers (Envoy stats, Prometheus, probes,
//! Cloud Monitoring through a stand-in).
//!
//! A binary of their own, apart from `tests/it/` and `tests/scenarios/`:
//! - these tests run in parallel with each other (each starts its own Envoy, and Prometheus, on
//!   free ports), which the one-at-a-time scenarios must not share the machine with;
//! - `cloud_monitoring` sets `MESHCD_GCP_ACCESS_TOKEN` for the whole process for a moment, which
//!   would change how the `gcp` tests in `tests/it/` (and the `meshcd` they start) authenticate.

#[path = "../common/mod.rs"]
mod common;

mod analysis_providers;
mod cloud_monitoring;
mod envoy_runtime;
mod route_kinds;
mod xds_fleet;
