//! Rego policies, conftest style: `.rego` files evaluated against each resource and the plan.
//!
//! Teams write their own checks in the language they already use with conftest and OPA. The
//! files come in as [`SourceFile`]s (the agent reads `policies/` at the revision and any
//! `--policy` path); [`Policies::compile`] parses them with [regorus] and
//! [`check_resources`] / [`check_plan`] turn what the rules say into [`Finding`]s that sort,
//! filter and render like the built-in ones. Nothing here reads files or the clock, apart from
//! regorus's own per-evaluation time limit.
//!
//! # Which packages run
//! A package runs when its name is one of the *namespaces* or lies under one (component-wise):
//! by default `main` (conftest's default, so conftest policies work unchanged) and `meshcd`,
//! e.g. `main`, `main.routes`, `meshcd.owner`. [`Options::all_namespaces`] runs every package.
//! A package with a `plan` component (`main.plan`, `meshcd.plan.traffic`) is a **plan
//! package**: it is evaluated once per plan, with the plan as `input`; every other selected
//! package is evaluated once per resource, with the resource as `input`. Plan packages run only
//! where a plan exists (`plan`, `report`, `apply`, the daemon), never in `validate`.
//!
//! # Rules
//! As conftest: in a selected package, the rules `deny`, `violation` and `warn`, and those
//! named `deny_<name>`, `violation_<name>`, `warn_<name>`. deny and violation findings are
//! errors, warn findings warnings. A rule's value is a set (or array) of messages, or a single
//! message; a message is a string, or an object with a `msg` string and optional details:
//! - `field`: a path such as `spec.http[0].timeout` or `metadata.labels`; the finding points at
//!   that field of the resource (or its nearest existing parent) instead of the document start;
//! - for plan packages, which resource the message is about: `id` (as `input.changes[_].id`,
//!   e.g. `HttpRoute/web`), or `kind` + `name` (+ `namespace`), or just `file`.
//!
//! A boolean `true` value is a finding too (message: the rule's name).
//!
//! **Exceptions**: a package's `exception` rule names the rules to skip for this input, as
//! conftest's `exception[rules] { ...; rules := ["no_owner"] }`: each element is a rule name or
//! an array/set of them. A name `x` skips `deny_x`, `violation_x` and `warn_x`; the empty name
//! `""` skips the plain `deny`, `violation` and `warn`; a full rule name (`deny`, `warn_x`)
//! skips that rule. For resource packages an exception is per resource; for plan packages it
//! covers the whole plan.
//!
//! # Finding codes and places
//! A finding's code is `rego:<package>.<rule>` (e.g. `rego:main.deny`,
//! `rego:meshcd.plan.traffic.deny_shift`) and its name the policy file's stem
//! (`require-owner-label`). Resource findings point at the resource's `file:line:col` (or the
//! message's `field`); plan findings at the resource the message names, else at the rule in the
//! policy file.
//!
//! Broken policies never panic and never pass silently: a syntax error is an error finding
//! `rego:error` at the `.rego` file's `line:col` (that file is left out, the others still run);
//! an error regorus finds while a rule runs (an unknown function, an unsafe variable,
//! recursion, a conflict, an evaluation over its time limit) is an error finding at the
//! failing expression, reported once, and that rule is not run again for other resources.
//! Limits: [`MAX_POLICY_FILES`] files of at most [`MAX_POLICY_BYTES`] each, and
//! [`Options::time_limit`] per evaluation. A panic inside regorus is caught and reported.
//!
//! # Syntax
//! Rego v1 (OPA 1.0 and current conftest: `deny contains msg if { ... }`). A file written in
//! v0 (`deny[msg] { ... }`, older conftest policies: v1 refuses it for a rule body without
//! `if` or a partial set without `contains`) is read as v0 when it parses as such.
//!
//! # `input` for resource packages
//! The document as written, with meshcd's view added, so `input.kind`,
//! `input.metadata.name` and `input.spec...` read as in conftest:
//! ```json
//! {
//!   "apiVersion": "networking.istio.io/v1",   // as written; the canonical one if absent
//!   "kind": "VirtualService",                   // as written; the recognized kind if absent
//!   "metadata": {"name": "ads", "namespace": "ads", "labels": {"team": "ads"}},
//!   "spec": {"hosts": ["ads.ads.svc.cluster.local"], "http": [...]},
//!   "file": "routes/ads.yaml", "line": 1, "column": 1, "document": 0,
//!   "family": "istio",                          // networkservices, istio, gateway-api, meshcd, kubernetes
//!   "id": "VirtualService/ads/ads",             // Kind/name or Kind/namespace/name
//!   "route": {...}                              // routes only, see below; null otherwise
//! }
//! ```
//! networkservices documents keep their top-level fields (`input.hostnames`, `input.rules`)
//! and also get `metadata` (`name`: the short name, `labels`) and `spec` (the whole document
//! without `apiVersion`/`kind`), so `input.spec.rules` works for every family.
//!
//! `route` is meshcd's reading of a route, the same the built-in rules and plans use:
//! `{"hosts": [...], "meshes": ["prod"], "gateways": [...], "externalMesh": bool,
//! "rolloutPolicy": "canary" | null, "rules": [{"path": "spec.http[0]", "protocol": "http",
//! "redirect": bool, "backends": [{"key", "name", "namespace", "weight", "share"}]}]}`.
//! `meshes` holds short mesh names (`"*"` for Istio's and GAMMA's "the mesh"); `externalMesh`
//! is true for Istio routes bound to `external-mesh`; `rolloutPolicy` names the RolloutPolicy
//! that selects the route (null: the default policy); `share` is the backend's traffic share in
//! percent as the family computes it (null when the split's weights are invalid).
//!
//! # `input` for plan packages
//! ```json
//! {
//!   "changes": [{
//!     "action": "update", "kind": "HttpRoute", "family": "networkservices",
//!     "namespace": "...", "name": "web", "id": "HttpRoute/web", "file": "routes/web.yaml",
//!     "fields": [{"path": "rules[0].action.destinations[1].weight", "before": 1, "after": 50}],
//!     "diff": "...",
//!     "rollout": {"policy", "canary", "bakeTime", "onFailure", "onInconclusive",
//!                 "from": {"web": 99, "web-green": 1}, "steps": [{...}, ...]} | null,
//!     "traffic": {"shift": 49, "maxStep": 40} | null
//!   }],
//!   "summary": {"create": 0, "update": 1, "delete": 0, "rollouts": 1, "unchanged": 4},
//!   "resources": [ ...every resource of the desired revision, shaped as above... ]
//! }
//! ```
//! `traffic` (rollouts only) is the share of a split's traffic, in percent, that moves to other
//! backends: `shift` from the applied weights to the desired ones, `maxStep` in the largest
//! single step of the rollout; the largest over the route's moving splits.
//!
//! # Tests
//! [`run_tests`] runs the policies' own tests as `opa test` does: rules named `test_*` in
//! files named `*_test.rego` (any package) pass when they evaluate to a value other than
//! `false` (use `with input as {...}` to feed them).

mod code;
mod compile;
mod errors;
mod evaluate;
mod input;
mod plan_findings;
mod resource_findings;
mod testing;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use compile::Policies;
pub use input::{plan_input, resource_input};
pub use plan_findings::check_plan;
pub use resource_findings::check_resources;
pub use testing::{run_tests, TestOutcome, TestResult};

#[cfg(doc)]
use crate::finding::Finding;
#[cfg(doc)]
use crate::source::SourceFile;

/// The most policy files read; further files are reported and left out.
pub const MAX_POLICY_FILES: usize = 1000;
/// The largest policy file read, in bytes.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
/// The namespaces evaluated by default.
pub const DEFAULT_NAMESPACES: [&str; 2] = ["main", "meshcd"];

/// How policies are selected and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Packages equal to or under one of these run (default [`DEFAULT_NAMESPACES`]).
    pub namespaces: Vec<String>,
    /// Run every package, whatever its name (conftest's `--all-namespaces`).
    pub all_namespaces: bool,
    /// The longest one evaluation (one rule on one input) may take.
    pub time_limit: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            namespaces: DEFAULT_NAMESPACES.iter().map(|n| n.to_string()).collect(),
            all_namespaces: false,
            time_limit: Duration::from_secs(2),
        }
    }
}

/// True for the files policies are read from: `*.rego`.
pub fn is_rego_path(path: &str) -> bool {
    path.ends_with(".rego")
}

/// True for policy test files: `*_test.rego`. They hold `test_*` rules for `meshcd policy
/// test` and are not evaluated against resources or plans.
pub fn is_test_path(path: &str) -> bool {
    path.ends_with("_test.rego")
}
