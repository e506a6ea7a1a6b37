//! The built-in rules, one per file. [`ALL`] lists them in code order.

pub mod ambiguous_shape;
pub mod duplicate_key;
pub mod duplicate_resource;
pub mod schema;
pub mod unknown_field;
pub mod unknown_kind;
pub mod yaml_syntax;

use super::Rule;

/// Every built-in rule, in code order.
pub const ALL: &[&Rule] = &[
    &yaml_syntax::RULE,
    &duplicate_key::RULE,
    &unknown_kind::RULE,
    &ambiguous_shape::RULE,
    &schema::RULE,
    &unknown_field::RULE,
    &duplicate_resource::RULE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_sorted() {
        let mut codes: Vec<_> = ALL.iter().map(|r| r.code).collect();
        let sorted = {
            let mut c = codes.clone();
            c.sort();
            c
        };
        assert_eq!(codes, sorted, "ALL must be in code order");
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        let mut names: Vec<_> = ALL.iter().map(|r| r.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }
}
