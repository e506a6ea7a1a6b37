//! Checks a value against a [`Schema`] in the API server's order: drop `null`s, apply
//! defaults, check types and bounds, then (when no field has the wrong type) the rules.
//!
//! Pure and allocation-light: the path is a stack, turned into a [`FieldPath`] only when
//! something is wrong.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value as Json;

use super::model::{Check, Extra, Format, ListType, Schema, Type};
use crate::path::{FieldPath, Segment};

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// The value has the wrong type; rules are not evaluated when any field has one.
    Type {
        /// The type the schema wants.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A required property is missing (the path names it).
    Required,
    /// The value is not one of the allowed ones.
    NotAllowed(Vec<Json>),
    /// The string does not match the pattern.
    Pattern(String),
    /// The string is shorter than the minimum.
    TooShort(u64),
    /// The string is longer than the maximum.
    TooLong {
        /// The maximum.
        max: u64,
        /// The length found.
        found: usize,
    },
    /// Fewer items than the minimum.
    TooFew(u64),
    /// More items than the maximum.
    TooMany(u64),
    /// A number below the minimum.
    Below {
        /// The bound.
        min: f64,
        /// Whether the bound itself is excluded.
        exclusive: bool,
    },
    /// A number above the maximum.
    Above {
        /// The bound.
        max: f64,
        /// Whether the bound itself is excluded.
        exclusive: bool,
    },
    /// An item repeats an earlier one of a set or map list.
    Duplicate {
        /// The index of the earlier item.
        first: usize,
        /// For map lists: the key fields that must differ.
        keys: Vec<String>,
    },
    /// A string does not have the required format.
    Format(&'static str),
    /// A validation rule failed; the message says what it requires.
    Rule(String),
    /// A validation rule could not be evaluated.
    RuleError(String),
    /// The field is not in the schema: the API server drops it.
    Unknown,
}

impl Problem {
    /// True for problems the API server only warns about (or silently drops).
    pub fn is_warning(&self) -> bool {
        matches!(self, Problem::Unknown)
    }
}

/// One problem at one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The field.
    pub path: FieldPath,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.path;
        match &self.problem {
            Problem::Type { expected, found } => {
                write!(
                    f,
                    "`{at}` must be {} {expected}, not {found}",
                    article(expected)
                )
            }
            Problem::Required => write!(f, "`{at}` is required"),
            Problem::NotAllowed(values) => {
                let list: Vec<String> = values.iter().map(render).collect();
                write!(f, "`{at}` must be one of {}", list.join(", "))
            }
            Problem::Pattern(p) => write!(f, "`{at}` must match the pattern `{p}`"),
            Problem::TooShort(1) => write!(f, "`{at}` must not be empty"),
            Problem::TooShort(min) => write!(f, "`{at}` must be at least {min} characters long"),
            Problem::TooLong { max, found } => write!(
                f,
                "`{at}` must be at most {max} characters long (it has {found})"
            ),
            Problem::TooFew(min) => write!(f, "`{at}` must have at least {min} item(s)"),
            Problem::TooMany(max) => write!(f, "`{at}` must have at most {max} item(s)"),
            Problem::Below { min, exclusive } => {
                let word = if *exclusive {
                    "greater than"
                } else {
                    "at least"
                };
                write!(f, "`{at}` must be {word} {}", number(*min))
            }
            Problem::Above { max, exclusive } => {
                let word = if *exclusive { "less than" } else { "at most" };
                write!(f, "`{at}` must be {word} {}", number(*max))
            }
            Problem::Duplicate { first, keys } if keys.is_empty() => {
                write!(f, "`{at}` repeats item [{first}]; items must be unique")
            }
            Problem::Duplicate { first, keys } => write!(
                f,
                "`{at}` has the same {} as item [{first}]; each item needs its own",
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Problem::Format(name) => write!(f, "`{at}` must be a valid {name}"),
            Problem::Rule(message) => write!(f, "`{at}`: {message}"),
            Problem::RuleError(message) => {
                write!(
                    f,
                    "`{at}`: a validation rule could not be evaluated: {message}"
                )
            }
            Problem::Unknown => write!(f, "unknown field `{at}` is ignored (misspelled?)"),
        }
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn render(value: &Json) -> String {
    match value {
        Json::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Validates `value` (defaulting it in place) against `schema`; the paths of violations start
/// with `base`. Unknown fields at the top level other than `skip_root` are reported too.
pub fn validate(schema: &Schema, value: &mut Json, base: &FieldPath) -> Vec<Violation> {
    let mut walker = Walker {
        path: base.0.clone(),
        out: Vec::new(),
    };
    walker.structure(schema, value);
    if !walker
        .out
        .iter()
        .any(|v| matches!(v.problem, Problem::Type { .. }))
    {
        walker.rules(schema, value);
    }
    walker.out
}

struct Walker {
    path: Vec<Segment>,
    out: Vec<Violation>,
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_f64() => "number",
        Json::Number(_) => "integer",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn type_fits(schema: &Schema, value: &Json) -> bool {
    if schema.int_or_string {
        return matches!(value, Json::String(_)) || is_integer(value);
    }
    match schema.ty {
        None => true,
        Some(Type::Object) => value.is_object(),
        Some(Type::Array) => value.is_array(),
        Some(Type::String) => value.is_string(),
        Some(Type::Boolean) => value.is_boolean(),
        Some(Type::Number) => value.is_number(),
        Some(Type::Integer) => is_integer(value),
    }
}

fn is_integer(value: &Json) -> bool {
    match value {
        Json::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

impl Walker {
    fn here(&self) -> FieldPath {
        FieldPath(self.path.clone())
    }

    fn report(&mut self, problem: Problem) {
        let path = self.here();
        self.out.push(Violation { path, problem });
    }

    fn at<R>(&mut self, segment: Segment, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(segment);
        let r = f(self);
        self.path.pop();
        r
    }

    /// Types, bounds, required fields and defaults, depth first.
    fn structure(&mut self, schema: &Schema, value: &mut Json) {
        if value.is_null() && schema.nullable {
            return;
        }
        if !type_fits(schema, value) {
            let expected = if schema.int_or_string {
                "integer or string"
            } else {
                schema.ty.map_or("value", Type::as_str)
            };
            self.report(Problem::Type {
                expected,
                found: type_name(value),
            });
            return;
        }
        if !schema.allowed.is_empty() && !schema.allowed.contains(value) {
            self.report(Problem::NotAllowed(schema.allowed.clone()));
        }
        match value {
            Json::Object(_) => self.object(schema, value),
            Json::Array(items) => self.array(schema, items),
            Json::String(text) => self.string(schema, text),
            Json::Number(n) => {
                if let Some(f) = n.as_f64() {
                    self.number(schema, f);
                }
            }
            _ => {}
        }
    }

    fn object(&mut self, schema: &Schema, value: &mut Json) {
        let Json::Object(fields) = value else {
            return;
        };
        // A `null` for a field that is not nullable is an absent field.
        fields.retain(|key, v| {
            !v.is_null() || schema.properties.get(key).is_some_and(|s| s.nullable)
        });
        for (name, property) in &schema.properties {
            if !fields.contains_key(name) {
                if let Some(default) = &property.default {
                    fields.insert(name.clone(), default.clone());
                }
            }
        }
        for name in &schema.required {
            if !fields.contains_key(name) {
                self.at(Segment::Key(name.clone()), |w| w.report(Problem::Required));
            }
        }
        self.count(schema, fields.len());
        for (key, child) in fields.iter_mut() {
            let sub = match schema.properties.get(key) {
                Some(s) => Some(s),
                None => match &schema.extra {
                    Extra::Values(s) => Some(s.as_ref()),
                    Extra::Preserve => continue,
                    Extra::Unknown => None,
                },
            };
            self.at(Segment::Key(key.clone()), |w| match sub {
                Some(s) => w.structure(s, child),
                None => w.report(Problem::Unknown),
            });
        }
    }

    /// `minItems`/`maxItems` (`minProperties`/`maxProperties` for an object).
    fn count(&mut self, schema: &Schema, count: usize) {
        let count = count as u64;
        if let Some(max) = schema.max_items.filter(|max| count > *max) {
            self.report(Problem::TooMany(max));
        }
        if let Some(min) = schema.min_items.filter(|min| count < *min) {
            self.report(Problem::TooFew(min));
        }
    }

    fn array(&mut self, schema: &Schema, items: &mut [Json]) {
        self.count(schema, items.len());
        if let Some(item_schema) = &schema.items {
            for (i, item) in items.iter_mut().enumerate() {
                self.at(Segment::Index(i), |w| w.structure(item_schema, item));
            }
        }
        match &schema.list_type {
            ListType::Atomic => {}
            ListType::Set => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(first) = seen.get(&item.to_string()) {
                        let first = *first;
                        self.at(Segment::Index(i), |w| {
                            w.report(Problem::Duplicate {
                                first,
                                keys: Vec::new(),
                            })
                        });
                    } else {
                        seen.insert(item.to_string(), i);
                    }
                }
            }
            ListType::Map(keys) => {
                let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
                for (i, item) in items.iter().enumerate() {
                    let key: Vec<String> = keys
                        .iter()
                        .map(|k| item.get(k).map(Json::to_string).unwrap_or_default())
                        .collect();
                    if let Some(first) = seen.get(&key) {
                        let first = *first;
                        self.at(Segment::Index(i), |w| {
                            w.report(Problem::Duplicate {
                                first,
                                keys: keys.clone(),
                            })
                        });
                    } else {
                        seen.insert(key, i);
                    }
                }
            }
        }
    }

    fn string(&mut self, schema: &Schema, text: &str) {
        let needs_count = schema.min_length.is_some() || schema.max_length.is_some();
        let chars = if needs_count { text.chars().count() } else { 0 };
        if let Some(min) = schema.min_length.filter(|min| (chars as u64) < *min) {
            self.report(Problem::TooShort(min));
        }
        if let Some(max) = schema.max_length.filter(|max| (chars as u64) > *max) {
            self.report(Problem::TooLong { max, found: chars });
        }
        if let Some(pattern) = &schema.pattern {
            if !pattern.regex.is_match(text) {
                self.report(Problem::Pattern(pattern.source.clone()));
            }
        }
        if schema.format == Some(Format::DateTime)
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            self.report(Problem::Format("RFC 3339 date-time"));
        }
    }

    fn number(&mut self, schema: &Schema, n: f64) {
        if let Some(min) = schema.minimum {
            let exclusive = schema.exclusive_minimum;
            if n < min || (exclusive && n == min) {
                self.report(Problem::Below { min, exclusive });
            }
        }
        if let Some(max) = schema.maximum {
            let exclusive = schema.exclusive_maximum;
            if n > max || (exclusive && n == max) {
                self.report(Problem::Above { max, exclusive });
            }
        }
    }

    /// Every rule of every present field, after the structure passed.
    fn rules(&mut self, schema: &Schema, value: &Json) {
        if value.is_null() {
            return;
        }
        match value {
            Json::Object(fields) => {
                for (key, child) in fields {
                    let sub = schema.properties.get(key).or(match &schema.extra {
                        Extra::Values(s) => Some(s.as_ref()),
                        _ => None,
                    });
                    if let Some(sub) = sub {
                        self.at(Segment::Key(key.clone()), |w| w.rules(sub, child));
                    }
                }
            }
            Json::Array(items) => {
                if let Some(item_schema) = &schema.items {
                    for (i, item) in items.iter().enumerate() {
                        self.at(Segment::Index(i), |w| w.rules(item_schema, item));
                    }
                }
            }
            _ => {}
        }
        for rule in &schema.rules {
            let verdict = match &rule.check {
                Check::Native(check) => Ok(check(value)),
                Check::Cel(cel) => cel.eval(value).map_err(|e| e.to_string()),
            };
            let problem = match verdict {
                Ok(true) => continue,
                Ok(false) => Problem::Rule(rule.message.clone()),
                Err(e) => Problem::RuleError(e),
            };
            let mut path = self.here();
            if let Some(field) = &rule.field {
                path.0.extend(field.0.iter().cloned());
            }
            self.out.push(Violation { path, problem });
        }
    }
}
