//! MC005 `schema`: a field has the wrong type, or a required field is missing.
//!
//! **What it does.** Reports where the document does not fit the kind's schema: a string
//! where a number belongs, a list where a mapping belongs, no `metadata.name`.
//!
//! **Why.** The API server or `gcloud import` would reject the resource; meshcd says so before
//! anything is applied, pointing at the field.
//!
//! **Example.** `weight: heavy`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC005",
    name: "schema",
    summary: "a field has the wrong type or a required field is missing",
    check: None,
};
