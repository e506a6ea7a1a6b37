//! MC008 `openapi-schema`: a field breaks its kind's OpenAPI schema.
//!
//! **What it does.** Checks Gateway API routes and ReferenceGrants against meshcd's own model
//! of the v1.6 standard CRDs, and any kind against a CRD given with `meshcd validate --crd
//! DIR`: required fields, types, allowed values, patterns, lengths, numeric bounds, list sizes
//! and the uniqueness of set and map-list items, after defaults are applied as the API server
//! applies them. A version the CRDs do not serve is reported too.
//!
//! **Why.** The Kubernetes API server rejects the object, so the revision would fail to apply.
//!
//! **Example.** A Service `backendRef` with `port: 800080`: ports are 1–65535.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC008",
    name: "openapi-schema",
    summary: "a field breaks its kind's OpenAPI schema (type, required, enum, pattern, bounds)",
    check: None,
};
