//! Three-valued truth for the built-in rules: `Some(true)`, `Some(false)`, or `None` when the
//! value the rule reads is absent.
//!
//! The API server evaluates a rule on the defaulted object even when a required field is
//! missing; reading that field is an error, and an error fails the rule unless a `false` next to
//! it decides the outcome (`error && false` is `false`, and a list check that finds a decisive
//! item ignores the errors of the others). The built-in rules follow the same logic. Where a
//! rule reads a field that may be missing, it fails only when it is decided false ([`holds`]),
//! and one more check of the same field says what is missing: so a field fails exactly when
//! the standard CRDs' rules fail it, with a message that says why. Nothing here allocates.

use serde_json::Value as Json;

/// A truth value, or `None` when it could not be decided.
pub type Tri = Option<bool>;

/// Whether a rule whose outcome is `t` passes: only a decided `true` does.
pub fn passes(t: Tri) -> bool {
    t == Some(true)
}

/// Whether a rule whose outcome is `t` is not broken: true unless decided false (the check
/// of the missing field reports the undecided case).
pub fn holds(t: Tri) -> bool {
    t != Some(false)
}

/// `a && b`: `false` wins over an undecided side.
pub fn and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// `cond ? then : otherwise`, each branch computed only when taken.
pub fn choose(cond: Tri, then: impl FnOnce() -> Tri, otherwise: impl FnOnce() -> Tri) -> Tri {
    match cond {
        Some(true) => then(),
        Some(false) => otherwise(),
        None => None,
    }
}

/// True when the object has the field.
pub fn has(object: &Json, field: &str) -> bool {
    object.get(field).is_some()
}

/// `object.field == text`; undecided when the field is absent.
pub fn is(object: &Json, field: &str, text: &str) -> Tri {
    object.get(field).map(|v| v.as_str() == Some(text))
}

/// `a.field == b.field`; undecided when either lacks the field.
pub fn same(a: &Json, b: &Json, field: &str) -> Tri {
    Some(a.get(field)? == b.get(field)?)
}

/// True when the field is absent or the empty string.
pub fn unset(object: &Json, field: &str) -> bool {
    object.get(field).is_none_or(|v| v.as_str() == Some(""))
}

/// The items of a list (none for anything else).
pub fn items(list: &Json) -> &[Json] {
    list.as_array().map_or(&[], Vec::as_slice)
}

/// `list.all(...)`: `false` if any item is false, else undecided if any is, else `true`.
pub fn all(values: impl IntoIterator<Item = Tri>) -> Tri {
    let mut out = Some(true);
    for v in values {
        match v {
            Some(false) => return Some(false),
            None => out = None,
            Some(true) => {}
        }
    }
    out
}

/// How many items are true (`list.filter(...).size()`); undecided if any item is.
pub fn count(values: impl IntoIterator<Item = Tri>) -> Option<usize> {
    let mut n = 0;
    for v in values {
        n += usize::from(v?);
    }
    Some(n)
}

/// `list.exists_one(...)`: exactly one item is true; undecided if any item is.
pub fn exactly_one(values: impl IntoIterator<Item = Tri>) -> Tri {
    count(values).map(|n| n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn false_and_true_decide_over_undecided() {
        assert_eq!(and(None, Some(false)), Some(false));
        assert_eq!(and(Some(true), None), None);
        assert_eq!(all([None, Some(false)]), Some(false));
        assert_eq!(all([None, Some(true)]), None);
        assert_eq!(exactly_one([Some(true), None]), None);
        assert_eq!(exactly_one([Some(true), Some(false)]), Some(true));
        assert_eq!(count([Some(true), Some(true)]), Some(2));
    }
}
