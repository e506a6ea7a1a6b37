//! meshcd: a GitOps reconciliation agent for service-mesh routes.
//!
//! This crate holds the parts that touch the outside world (Git, files, the terminal); the pure
//! model, policy and plan live in `meshcd-core`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod envoy;
pub mod errors;
pub mod gcp;
pub mod render;
pub mod source;
pub mod store;
pub mod targets;
pub mod xds;

#[cfg(test)]
mod layers;
