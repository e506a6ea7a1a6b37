//! Finding codes and names for Rego rules: [`Finding`](crate::Finding) holds `&'static str`s,
//! so the codes made from package and rule names are interned.
//!
//! Each distinct string is leaked once and reused afterwards; the set is capped at
//! [`MAX_INTERNED`] strings so a daemon reading ever-changing policies cannot grow without
//! bound (past the cap, codes fall back to [`OTHER`]).

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

/// The most distinct strings kept.
pub(crate) const MAX_INTERNED: usize = 4096;
/// The code used once the cap is reached.
pub(crate) const OTHER: &str = "rego:other";
/// The code of policy errors (syntax, compile and runtime errors, limits).
pub(crate) const ERROR: &str = "rego:error";
/// The name of policy errors.
pub(crate) const ERROR_NAME: &str = "rego-error";

fn table() -> &'static Mutex<BTreeSet<&'static str>> {
    static TABLE: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(BTreeSet::new()))
}

/// The interned copy of `text` (or `fallback` once the table is full).
pub(crate) fn intern(text: &str, fallback: &'static str) -> &'static str {
    let mut table = table().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = table.get(text) {
        return found;
    }
    if table.len() >= MAX_INTERNED {
        return fallback;
    }
    let leaked: &'static str = Box::leak(text.to_string().into_boxed_str());
    table.insert(leaked);
    leaked
}

/// The code of a rule: `rego:<package>.<rule>`.
pub(crate) fn rule_code(package: &str, rule: &str) -> &'static str {
    intern(&format!("rego:{package}.{rule}"), OTHER)
}

/// The name shown for a rule's findings: its policy file's stem (`require-owner-label`).
pub(crate) fn file_name(path: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.strip_suffix(".rego").unwrap_or(file);
    intern(stem, "rego")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_interned_once() {
        let a = rule_code("main", "deny");
        let b = rule_code("main", "deny");
        assert_eq!(a, "rego:main.deny");
        assert!(std::ptr::eq(a, b));
        assert_eq!(
            file_name("policies/require-owner-label.rego"),
            "require-owner-label"
        );
    }
}
