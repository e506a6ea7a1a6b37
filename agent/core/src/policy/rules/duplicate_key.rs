//! MC002 `duplicate-key`: a mapping has the same key twice.
//!
//! **What it does.** Reports the second occurrence of a key in one mapping.
//!
//! **Why.** YAML forbids it, `kubectl` rejects it and other loaders silently keep the last
//! value: the route that runs may not be the route a reviewer read.
//!
//! **Example.** `weight: 90` and, two lines later in the same destination, `weight: 10`.

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC002",
    name: "duplicate-key",
    summary: "a mapping has the same key twice",
    check: None,
};
