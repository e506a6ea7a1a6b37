//! MC009 `validation-rule`: an object breaks one of its kind's validation rules.
//!
//! **What it does.** Evaluates the rules a kind states beyond its OpenAPI schema: for Gateway
//! API kinds, meshcd's own implementation of each `x-kubernetes-validations` rule of the v1.6
//! standard CRDs (a filter type used twice, a filter whose settings belong to another type, a
//! Service backend without a port, a redirect next to backends, ...); for a CRD given with
//! `meshcd validate --crd DIR`, its CEL rules, evaluated with a CEL interpreter. Rules that
//! compare with the stored object (`oldSelf`) are not evaluated: a repository has none.
//!
//! **Why.** The Kubernetes API server rejects the object, so the revision would fail to apply.
//!
//! **Example.** Two `RequestHeaderModifier` filters in one rule: merge them into one.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC009",
    name: "validation-rule",
    summary: "an object breaks one of its kind's validation rules (CRD CEL rules)",
    check: None,
};
