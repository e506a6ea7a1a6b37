//! The semantic field diff of an update: which fields of the canonical form changed.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value as Json;

use crate::path::FieldPath;

/// One changed field: its path and its values before and after (absent when the field was
/// added or removed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field, e.g. `spec.http[0].route[1].weight`.
    pub path: FieldPath,
    /// The applied value; `None` when the field is added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Json>,
    /// The desired value; `None` when the field is removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Json>,
}

/// The fields that differ between two values, in path order.
///
/// Mappings are compared key by key (a key on one side only is an added or removed field);
/// sequences index by index (elements past the shorter one are added or removed whole); any
/// other difference (a scalar, or a change of type) is reported at the path where it occurs.
pub fn field_diff(before: &Json, after: &Json) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    walk(&FieldPath::root(), Some(before), Some(after), &mut changes);
    changes
}

fn walk(path: &FieldPath, before: Option<&Json>, after: Option<&Json>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Json::Object(a)), Some(Json::Object(b))) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                walk(&path.key(key), a.get(key), b.get(key), out);
            }
        }
        (Some(Json::Array(a)), Some(Json::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                walk(&path.index(i), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(FieldChange {
            path: path.clone(),
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rendered(before: Json, after: Json) -> Vec<String> {
        field_diff(&before, &after)
            .iter()
            .map(|c| format!("{} {:?} -> {:?}", c.path, c.before, c.after))
            .collect()
    }

    #[test]
    fn reports_changed_added_and_removed_fields() {
        assert_eq!(
            rendered(
                json!({"spec": {"http": [{"route": [{"w": 90}, {"w": 10}]}], "old": 1}}),
                json!({"spec": {"http": [{"route": [{"w": 50}]}], "new": "x"}}),
            ),
            vec![
                "spec.http[0].route[0].w Some(Number(90)) -> Some(Number(50))",
                "spec.http[0].route[1] Some(Object {\"w\": Number(10)}) -> None",
                "spec.new None -> Some(String(\"x\"))",
                "spec.old Some(Number(1)) -> None",
            ]
        );
    }

    #[test]
    fn a_change_of_type_is_one_change() {
        assert_eq!(
            rendered(json!({"a": [1]}), json!({"a": {"b": 1}})),
            vec!["a Some(Array [Number(1)]) -> Some(Object {\"b\": Number(1)})"]
        );
        assert!(field_diff(&json!({"a": 1}), &json!({"a": 1})).is_empty());
    }
}
