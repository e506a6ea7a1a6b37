//! The structural schema: what a Kubernetes API server checks before it stores an object.
//!
//! One [`Schema`] node describes one field: its type, its bounds, its children and its
//! validation rules. The same tree is read from a CRD's `openAPIV3Schema` (see
//! [`crd`](super::crd)) or built in code with the builder methods (meshcd's own model of the
//! Gateway API), so one validator serves both.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde_json::Value as Json;

use crate::path::FieldPath;

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A mapping.
    Object,
    /// A sequence.
    Array,
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
}

impl Type {
    /// The name OpenAPI uses for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
            Type::Number => "number",
            Type::Boolean => "boolean",
        }
    }

    /// Reads an OpenAPI type name.
    pub fn parse(name: &str) -> Option<Type> {
        Some(match name {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            _ => return None,
        })
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the items of a list are told apart (`x-kubernetes-list-type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListType {
    /// Any items, duplicates allowed (the default).
    #[default]
    Atomic,
    /// Scalar items, each at most once.
    Set,
    /// Objects told apart by these key fields; no two items share all of them.
    Map(Vec<String>),
}

/// What an object accepts besides its declared properties.
#[derive(Debug, Clone, Default)]
pub enum Extra {
    /// Nothing: other keys are unknown fields (the API server drops them; meshcd warns).
    #[default]
    Unknown,
    /// Anything, unchecked (`x-kubernetes-preserve-unknown-fields`, or an untyped field).
    Preserve,
    /// Any key, each value checked against this schema (`additionalProperties`).
    Values(Box<Schema>),
}

/// A string format the API server checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 3339 date and time.
    DateTime,
    /// Any other format name: not checked.
    Other,
}

/// A compiled `pattern`, with the text it came from.
#[derive(Clone)]
pub struct Pattern {
    /// The regular expression as written.
    pub source: String,
    /// The compiled expression.
    pub regex: Regex,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// A check written in Rust over the (defaulted) value of a field: true when the value passes.
pub type NativeCheck = fn(&Json) -> bool;

/// How a validation rule is decided.
#[derive(Clone)]
pub enum Check {
    /// meshcd's own code.
    Native(NativeCheck),
    /// A CEL expression from a CRD, compiled once.
    Cel(Arc<super::cel::Rule>),
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Native(_) => f.write_str("Native"),
            Check::Cel(rule) => write!(f, "Cel({:?})", rule.source),
        }
    }
}

/// One validation rule of a field (`x-kubernetes-validations`).
#[derive(Debug, Clone)]
pub struct Validation {
    /// How the rule is decided.
    pub check: Check,
    /// What the rule requires, shown when it fails.
    pub message: String,
    /// The field the failure is about, below the rule's own field (`fieldPath`).
    pub field: Option<FieldPath>,
}

/// One field's schema.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// The required type; `None` accepts any.
    pub ty: Option<Type>,
    /// Integer or string (`x-kubernetes-int-or-string`).
    pub int_or_string: bool,
    /// `null` is a value, not an absent field.
    pub nullable: bool,
    /// Declared properties of an object.
    pub properties: BTreeMap<String, Schema>,
    /// Properties an object must have.
    pub required: Vec<String>,
    /// What other keys an object accepts.
    pub extra: Extra,
    /// The schema of each item of an array.
    pub items: Option<Box<Schema>>,
    /// How list items are told apart.
    pub list_type: ListType,
    /// The value must be one of these.
    pub allowed: Vec<Json>,
    /// Strings must match.
    pub pattern: Option<Pattern>,
    /// Shortest string, in characters.
    pub min_length: Option<u64>,
    /// Longest string, in characters.
    pub max_length: Option<u64>,
    /// Fewest items or properties.
    pub min_items: Option<u64>,
    /// Most items or properties.
    pub max_items: Option<u64>,
    /// Smallest number.
    pub minimum: Option<f64>,
    /// Largest number.
    pub maximum: Option<f64>,
    /// `minimum` itself is not allowed.
    pub exclusive_minimum: bool,
    /// `maximum` itself is not allowed.
    pub exclusive_maximum: bool,
    /// String format.
    pub format: Option<Format>,
    /// The value an absent field takes.
    pub default: Option<Json>,
    /// Rules over the field's value.
    pub rules: Vec<Validation>,
}

/// An object with no declared property yet (unknown keys are reported).
pub fn object() -> Schema {
    Schema {
        ty: Some(Type::Object),
        ..Schema::default()
    }
}

/// A string.
pub fn string() -> Schema {
    Schema {
        ty: Some(Type::String),
        ..Schema::default()
    }
}

/// A whole number.
pub fn integer() -> Schema {
    Schema {
        ty: Some(Type::Integer),
        ..Schema::default()
    }
}

/// `true` or `false`.
pub fn boolean() -> Schema {
    Schema {
        ty: Some(Type::Boolean),
        ..Schema::default()
    }
}

/// A list of `items`.
pub fn array(items: Schema) -> Schema {
    Schema {
        ty: Some(Type::Array),
        items: Some(Box::new(items)),
        ..Schema::default()
    }
}

/// A mapping from any key to values of `values`.
pub fn map_of(values: Schema) -> Schema {
    Schema {
        ty: Some(Type::Object),
        extra: Extra::Values(Box::new(values)),
        ..Schema::default()
    }
}

/// Anything, unchecked.
pub fn any() -> Schema {
    Schema {
        extra: Extra::Preserve,
        ..Schema::default()
    }
}

impl Schema {
    /// Adds an optional property.
    #[must_use]
    pub fn field(mut self, name: &str, schema: Schema) -> Self {
        self.properties.insert(name.to_string(), schema);
        self
    }

    /// Adds a required property.
    #[must_use]
    pub fn required_field(mut self, name: &str, schema: Schema) -> Self {
        self.required.push(name.to_string());
        self.field(name, schema)
    }

    /// Strings between `min` and `max` characters.
    #[must_use]
    pub fn length(mut self, min: u64, max: u64) -> Self {
        self.min_length = Some(min);
        self.max_length = Some(max);
        self
    }

    /// Strings of at most `max` characters.
    #[must_use]
    pub fn max_length(mut self, max: u64) -> Self {
        self.max_length = Some(max);
        self
    }

    /// Strings matching `regex`. Panics on a bad expression: built-in patterns are fixed text,
    /// checked by the tests.
    #[must_use]
    pub fn pattern(mut self, regex: &str) -> Self {
        #[allow(clippy::expect_used)]
        let compiled = Regex::new(regex).expect("built-in pattern compiles");
        self.pattern = Some(Pattern {
            source: regex.to_string(),
            regex: compiled,
        });
        self
    }

    /// Values limited to these strings.
    #[must_use]
    pub fn one_of(mut self, values: &[&str]) -> Self {
        self.allowed = values.iter().map(|v| Json::from(*v)).collect();
        self
    }

    /// Numbers between `min` and `max`, both included.
    #[must_use]
    pub fn range(mut self, min: i64, max: i64) -> Self {
        self.minimum = Some(min as f64);
        self.maximum = Some(max as f64);
        self
    }

    /// Numbers of at least `min`.
    #[must_use]
    pub fn at_least(mut self, min: i64) -> Self {
        self.minimum = Some(min as f64);
        self
    }

    /// Lists (or objects) of at most `max` items.
    #[must_use]
    pub fn max_items(mut self, max: u64) -> Self {
        self.max_items = Some(max);
        self
    }

    /// Lists (or objects) of at least `min` items.
    #[must_use]
    pub fn min_items(mut self, min: u64) -> Self {
        self.min_items = Some(min);
        self
    }

    /// The value an absent field takes.
    #[must_use]
    pub fn default_value(mut self, value: Json) -> Self {
        self.default = Some(value);
        self
    }

    /// A list whose scalar items are unique.
    #[must_use]
    pub fn set(mut self) -> Self {
        self.list_type = ListType::Set;
        self
    }

    /// A list of objects told apart by `keys`.
    #[must_use]
    pub fn map_list(mut self, keys: &[&str]) -> Self {
        self.list_type = ListType::Map(keys.iter().map(|k| k.to_string()).collect());
        self
    }

    /// A rule written in Rust, with what it requires in words.
    #[must_use]
    pub fn rule(mut self, check: NativeCheck, message: &str) -> Self {
        self.rules.push(Validation {
            check: Check::Native(check),
            message: message.to_string(),
            field: None,
        });
        self
    }

    /// A rule written in Rust whose failure is about the field at `field` below this one.
    #[must_use]
    pub fn rule_at(mut self, field: &str, check: NativeCheck, message: &str) -> Self {
        self.rules.push(Validation {
            check: Check::Native(check),
            message: message.to_string(),
            field: Some(FieldPath::parse(field)),
        });
        self
    }

    /// The schema of a property, if declared.
    pub fn property(&self, name: &str) -> Option<&Schema> {
        self.properties.get(name)
    }
}
