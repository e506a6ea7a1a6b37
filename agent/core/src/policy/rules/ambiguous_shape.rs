//! MC004 `ambiguous-shape`: a header-less networkservices document could be several kinds.
//!
//! **What it does.** A document exported by `gcloud network-services http-routes export` has no
//! `apiVersion`/`kind`; meshcd recognizes it by its fields. When only `hostnames` and plain
//! destinations are present it could be an HttpRoute or a GrpcRoute: meshcd reads it as an
//! HttpRoute and warns.
//!
//! **Why.** Importing it as the wrong kind creates the wrong resource.
//!
//! **Example.** `hostnames: [a.internal]` with `rules: [{action: {destinations: [...]}}]`;
//! fix it by adding `apiVersion: networkservices.googleapis.com/v1` and `kind: HttpRoute`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC004",
    name: "ambiguous-shape",
    summary: "a header-less networkservices document could be more than one kind",
    check: None,
};
