//! MC003 `unknown-kind`: a document meshcd does not understand (a warning; it is skipped).
//!
//! **What it does.** Reports documents whose `apiVersion`/`kind` is not one meshcd models, and
//! header-less documents that are neither a networkservices resource in gcloud form nor a Cloud
//! Run service in the Admin API v2 form.
//!
//! **Why.** Route repositories often hold other manifests (Deployments, ConfigMaps). They are
//! not an error, but a typo in a kind (`VirtualServce`) would otherwise drop a route silently.
//!
//! **Example.** `apiVersion: apps/v1` / `kind: Deployment`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC003",
    name: "unknown-kind",
    summary: "a document of a kind meshcd does not understand is skipped",
    check: None,
};
