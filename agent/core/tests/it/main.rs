//! meshcd-core's integration tests, in one binary (one link instead of one per file): the
//! robustness properties of load, policy and plan, the regressions fuzzing found, the parity of
//! the built-in Gateway API model with the upstream CRDs, and the valid corpora (networkservices
//! v1 and Cloud Run, Istio) that must raise no error.

mod crd_schema;
mod fuzz_regressions;
mod gateway_parity;
mod istio_corpus;
mod robustness;
mod upstream;
mod v1_corpus;
