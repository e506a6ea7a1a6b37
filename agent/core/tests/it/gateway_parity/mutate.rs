//! Mutations of a valid document, generated from the upstream CRD's own schema: for every
//! field present, each constraint the CRD declares is broken once (or a few ways, for
//! patterns), so every bound of the standard is exercised without listing it by hand.

use regex::Regex;
use serde_json::{json, Value as Json};

/// What the upstream CRDs must say about a mutated document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// At least one error.
    Error,
    /// No error, but an unknown-field warning.
    Warning,
    /// Nothing at all: a near miss that is valid.
    Valid,
    /// Whatever they say (the two judges must still agree).
    Any,
}

/// One change to a document: the value at `pointer` replaced (or removed, for `None`).
#[derive(Debug, Clone)]
pub struct Mutation {
    /// What the change does, for failure messages.
    pub name: String,
    /// JSON pointer of the changed field.
    pub pointer: String,
    /// The new value, `None` to remove the field.
    pub value: Option<Json>,
    /// The expected upstream verdict.
    pub expect: Expect,
}

impl Mutation {
    /// A replacement.
    pub fn set(pointer: &str, value: Json, name: impl Into<String>, expect: Expect) -> Self {
        Mutation {
            name: name.into(),
            pointer: pointer.to_string(),
            value: Some(value),
            expect,
        }
    }

    /// A removal.
    pub fn remove(pointer: &str, name: impl Into<String>, expect: Expect) -> Self {
        Mutation {
            name: name.into(),
            pointer: pointer.to_string(),
            value: None,
            expect,
        }
    }

    /// The document with the change made.
    pub fn apply(&self, doc: &Json) -> Json {
        let mut out = doc.clone();
        let (parent, last) = self
            .pointer
            .rsplit_once('/')
            .unwrap_or_else(|| panic!("bad pointer {}", self.pointer));
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = out
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("no parent {parent} for {}", self.name));
        match (target, &self.value) {
            (Json::Object(map), Some(v)) => {
                map.insert(last, v.clone());
            }
            (Json::Object(map), None) => {
                map.remove(&last);
            }
            (Json::Array(items), value) => {
                let i: usize = last.parse().unwrap_or_else(|_| panic!("index {last}"));
                match value {
                    Some(v) if i < items.len() => items[i] = v.clone(),
                    Some(v) => items.push(v.clone()),
                    None => {
                        items.remove(i);
                    }
                }
            }
            (other, _) => panic!("cannot change {other} at {}", self.pointer),
        }
        out
    }
}

/// Strings tried against each pattern; those the pattern rejects become mutations.
const PATTERN_BREAKERS: &[&str] = &[
    "UPPER.example.com",
    "a/b",
    "-dash-",
    "a..b",
    "[x]",
    "a b",
    "*",
    "1d",
    "é",
    "",
];

/// A JSON pointer with one more step.
pub fn child(pointer: &str, step: &str) -> String {
    format!("{pointer}/{}", step.replace('~', "~0").replace('/', "~1"))
}

fn wrong_type(schema: &Json) -> Json {
    match schema.get("type").and_then(Json::as_str) {
        Some("string") => json!(7),
        Some("array") => json!({"not": "a list"}),
        _ => json!("not-the-type"),
    }
}

/// Every mutation of `value` (at `pointer`) that breaks one constraint of `schema`.
pub fn by_schema(schema: &Json, value: &Json, pointer: &str, out: &mut Vec<Mutation>) {
    let at = |what: &str| format!("{pointer}: {what}");
    out.push(Mutation::set(
        pointer,
        wrong_type(schema),
        at("wrong type"),
        Expect::Error,
    ));
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        let bogus = if values.iter().all(Json::is_number) {
            json!(999)
        } else {
            json!("NotAValue")
        };
        out.push(Mutation::set(
            pointer,
            bogus,
            at("not in enum"),
            Expect::Error,
        ));
    }
    match value {
        Json::Object(fields) => {
            let properties = schema.get("properties").and_then(Json::as_object);
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Json::as_array)
                .map(|r| r.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            for (key, sub) in fields {
                let sub_pointer = child(pointer, key);
                if required.contains(&key.as_str()) {
                    out.push(Mutation::remove(
                        &sub_pointer,
                        format!("{sub_pointer}: required field removed"),
                        Expect::Error,
                    ));
                } else {
                    out.push(Mutation::remove(
                        &sub_pointer,
                        format!("{sub_pointer}: optional field removed"),
                        Expect::Any,
                    ));
                }
                if let Some(sub_schema) = properties.and_then(|p| p.get(key)) {
                    by_schema(sub_schema, sub, &sub_pointer, out);
                }
            }
            out.push(Mutation::set(
                &child(pointer, "zzUnknownField"),
                json!("x"),
                at("unknown field"),
                Expect::Warning,
            ));
        }
        Json::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Json::as_u64) {
                let padded: Vec<Json> = items
                    .iter()
                    .cycle()
                    .take(max as usize + 1)
                    .cloned()
                    .collect();
                if !items.is_empty() {
                    out.push(Mutation::set(
                        pointer,
                        Json::Array(padded),
                        at("more than maxItems"),
                        Expect::Error,
                    ));
                }
            }
            if let Some(min) = schema
                .get("minItems")
                .and_then(Json::as_u64)
                .filter(|m| *m > 0)
            {
                let cut: Vec<Json> = items.iter().take(min as usize - 1).cloned().collect();
                out.push(Mutation::set(
                    pointer,
                    Json::Array(cut),
                    at("fewer than minItems"),
                    Expect::Error,
                ));
            }
            let list_type = schema.get("x-kubernetes-list-type").and_then(Json::as_str);
            if matches!(list_type, Some("set" | "map")) && !items.is_empty() {
                let mut doubled = items.clone();
                doubled.push(items[0].clone());
                out.push(Mutation::set(
                    pointer,
                    Json::Array(doubled),
                    at("duplicate list key"),
                    Expect::Error,
                ));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    by_schema(item_schema, item, &child(pointer, &i.to_string()), out);
                }
            }
        }
        Json::String(_) => {
            if let Some(pattern) = schema.get("pattern").and_then(Json::as_str) {
                let regex = Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
                for breaker in PATTERN_BREAKERS
                    .iter()
                    .filter(|b| !regex.is_match(b))
                    .take(3)
                {
                    out.push(Mutation::set(
                        pointer,
                        json!(breaker),
                        at(&format!("pattern broken by {breaker:?}")),
                        Expect::Error,
                    ));
                }
            }
            if schema
                .get("minLength")
                .and_then(Json::as_u64)
                .is_some_and(|m| m > 0)
            {
                out.push(Mutation::set(
                    pointer,
                    json!(""),
                    at("empty"),
                    Expect::Error,
                ));
            }
            if let Some(max) = schema.get("maxLength").and_then(Json::as_u64) {
                let long = "a".repeat(max as usize + 1);
                out.push(Mutation::set(
                    pointer,
                    json!(long),
                    at("too long"),
                    Expect::Error,
                ));
            }
        }
        Json::Number(_) => {
            if let Some(min) = schema.get("minimum").and_then(Json::as_i64) {
                out.push(Mutation::set(
                    pointer,
                    json!(min - 1),
                    at("below minimum"),
                    Expect::Error,
                ));
            }
            if let Some(max) = schema.get("maximum").and_then(Json::as_i64) {
                out.push(Mutation::set(
                    pointer,
                    json!(max + 1),
                    at("above maximum"),
                    Expect::Error,
                ));
            }
        }
        _ => {}
    }
}
