//! MC006 `unknown-field`: a field the kind does not have (a warning; it is ignored).
//!
//! **What it does.** Reports fields that the kind's schema does not define.
//!
//! **Why.** A misspelled field (`weigth`) is dropped by most API servers without a word, and the
//! route then does something else than the reviewer expects.
//!
//! **Example.** `backendRefs: [{name: a, weigth: 5}]`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC006",
    name: "unknown-field",
    summary: "a field the kind does not define is ignored",
    check: None,
};
