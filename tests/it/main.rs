//! meshcd's integration tests that start no Envoy and no Prometheus: the `meshcd` binary on real
//! Git repositories (CLI, reports, SARIF, Rego, history, `meshcd run` without a data plane, the
//! CI scripts), the engine on an in-memory API, the store, the samples, and the `gcp` and
//! `kubernetes` clients and targets against the local fake API servers of `tests/common/`.
//!
//! One test binary, not one per file: each binary links the whole `meshcd` crate (kube, git2,
//! regorus, reqwest…), so one link here replaces fourteen. These tests may run in parallel
//! threads of one process: none binds a fixed port (every server is on `127.0.0.1:0`), changes
//! the current folder or sets a variable another test reads (`gcp_client` sets only variables
//! of its own, `MESHCD_TEST_GCP_CLIENT_*`). Tests with a real Envoy or Prometheus are in
//! `tests/envoy/` and `tests/scenarios/`.

#[path = "../common/mod.rs"]
mod common;

mod ci_comments;
mod cli;
mod cluster_client;
mod crd;
mod daemon;
mod engine;
mod envoy_bootstrap;
mod gcp_client;
mod rego;
mod report;
mod samples;
mod sarif;
mod store;
mod target_gcp;
mod target_kubernetes;
mod target_render;
