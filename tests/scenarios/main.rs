//! End-to-end scenarios: the real `meshcd run` (and `meshcd apply`) driving a real Envoy, under
//! client load, through rollouts, restarts, `kill -9` and adoption.
//!
//! A binary of their own: every scenario holds `common::daemon::serial()`, so they run one at a
//! time, and nothing else runs in this process meanwhile. Their bounds (failed requests, bakes of
//! a few seconds) assume a machine of two cores that is not also running other Envoys; the
//! parallel tests of `tests/envoy/` and `tests/it/` run in other processes, before or after.

#[path = "../common/mod.rs"]
mod common;

mod apply;
mod daemon_envoy;
mod envoy_adoption;
mod rollouts;
mod xds_fleet;
