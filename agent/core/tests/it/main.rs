//! meshcd-core's integration tests, in one binary (one link instead of one per file): the
//! robustness properties of load, policy and plan, the regressions fuzzing found, and the valid
//! corpus of the networkservices v1 and Cloud Run kinds.

mod crd_schema;
mod fuzz_regressions;
mod gateway_parity;
mod robustness;
mod upstream;
mod v1_corpus;
