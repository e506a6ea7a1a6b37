//! meshcd-core's integration tests, in one binary (one link instead of one per file): the
//! robustness properties of load, policy and plan, the regressions fuzzing found, and a corpus of
//! valid Istio resources that must raise nothing.

mod fuzz_regressions;
mod istio_corpus;
mod robustness;
