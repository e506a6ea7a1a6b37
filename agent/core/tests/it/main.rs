//! meshcd-core's integration tests, in one binary (one link instead of one per file): the
//! robustness properties of load, policy and plan, and the regressions fuzzing found.

mod crd_schema;
mod fuzz_regressions;
mod gateway_parity;
mod robustness;
mod upstream;
