//! MC007 `duplicate-resource`: the same resource is defined twice.
//!
//! **What it does.** Reports a second document with the same kind, namespace and name.
//!
//! **Why.** Only one of them can be applied; which one depends on file order.
//!
//! **Example.** Two `VirtualService` documents named `ads` in namespace `prod`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC007",
    name: "duplicate-resource",
    summary: "the same kind, namespace and name is defined twice",
    check: None,
};
