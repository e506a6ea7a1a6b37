//! MC001 `yaml-syntax`: the file is not valid YAML.
//!
//! **What it does.** Reports the first syntax error of a file, at its line and column.
//!
//! **Why.** A file that does not parse yields no resources; applying the revision would delete
//! every route the file held. meshcd refuses to plan or apply a revision with this error.
//!
//! **Example.** `hosts: [a, b` (an unclosed flow sequence).

use crate::policy::Rule;

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC001",
    name: "yaml-syntax",
    summary: "the file is not valid YAML",
    check: None,
};
