//! A serde `Deserializer` over `meshcd_core::yaml` trees, so a configuration error points at
//! the `line:col` of the offending node.
//!
//! `meshcd-core`'s loader gets positions by running `serde_path_to_error` and locating the
//! failing path in the tree; here the tree itself is the deserializer, so each error is tagged
//! with the position of the innermost node (or mapping key) it came from, plus its field path.
//! The first (innermost) position wins as the error travels outwards.

use std::fmt;

use meshcd_core::path::FieldPath;
use meshcd_core::yaml::{Entry, Node, Value};
use meshcd_core::Pos;
use serde::de::{self, DeserializeSeed, Visitor};
use serde::forward_to_deserialize_any;

/// A deserialization error with the position and field path of the node it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    /// What is wrong.
    pub message: String,
    /// Where (set by the innermost node the error passed through).
    pub pos: Option<Pos>,
    /// The field, e.g. `schedules[0].cron` (empty for the root).
    pub path: FieldPath,
}

impl DeError {
    fn at(mut self, pos: Pos, path: &FieldPath) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
            self.path = path.clone();
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            pos: None,
            path: FieldPath::root(),
        }
    }
}

/// Deserializes `T` from a YAML node.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node,
        path: FieldPath::root(),
    })
}

struct NodeDe<'de> {
    node: &'de Node,
    path: FieldPath,
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let Self { node, path } = self;
        let result = match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                index: 0,
                path: &path,
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &path,
            }),
        };
        result.map_err(|e| e.at(node.pos, &path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if matches!(self.node.value, Value::Null) {
            visitor
                .visit_none()
                .map_err(|e: DeError| e.at(self.node.pos, &self.path))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Only unit variants written as plain strings (`mode: strict`) are needed here.
        match &self.node.value {
            Value::Str(s) => {
                let access = de::value::BorrowedStrDeserializer::<DeError>::new(s);
                visitor
                    .visit_enum(access)
                    .map_err(|e: DeError| e.at(self.node.pos, &self.path))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct SeqDe<'de, 'p> {
    items: std::slice::Iter<'de, Node>,
    index: usize,
    path: &'p FieldPath,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(self.index);
        self.index += 1;
        seed.deserialize(NodeDe { node, path }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'de, 'p> {
    entries: std::slice::Iter<'de, Entry>,
    value: Option<&'de Entry>,
    path: &'p FieldPath,
}

impl<'de> de::MapAccess<'de> for MapDe<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        let path = self.path.key(&entry.key);
        seed.deserialize(KeyDe {
            key: &entry.key,
            pos: entry.key_pos,
            path: &path,
        })
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.value.take() else {
            return Err(de::Error::custom(
                "a mapping value was asked for before its key",
            ));
        };
        seed.deserialize(NodeDe {
            node: &entry.value,
            path: self.path.key(&entry.key),
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A mapping key: errors about it (an unknown field) point at the key itself.
struct KeyDe<'de, 'p> {
    key: &'de str,
    pos: Pos,
    path: &'p FieldPath,
}

impl<'de> de::Deserializer<'de> for KeyDe<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor
            .visit_borrowed_str(self.key)
            .map_err(|e: DeError| e.at(self.pos, self.path))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map struct
        enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        extra: Option<BTreeMap<String, u16>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        port: u16,
    }

    fn parse(text: &str) -> Result<Outer, DeError> {
        let parsed = meshcd_core::yaml::parse(text);
        assert!(parsed.error.is_none());
        from_node(&parsed.documents[0].root)
    }

    #[test]
    fn reads_nested_values() {
        let outer = parse("name: a\nitems: [{port: 1}, {port: 2}]\nextra: {x: 3}\n").unwrap();
        assert_eq!(outer.name, "a");
        assert_eq!(
            outer.items.iter().map(|i| i.port).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(outer.extra.unwrap()["x"], 3);
    }

    #[test]
    fn unknown_fields_point_at_the_key() {
        let error = parse("name: a\nitems:\n- port: 1\n  prot: 2\n").unwrap_err();
        assert_eq!(error.pos, Some(Pos::new(4, 3)));
        assert_eq!(error.path.to_string(), "items[0].prot");
        assert!(error.message.contains("unknown field `prot`"), "{error}");
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let error = parse("name: a\nitems:\n- port: 70000\n").unwrap_err();
        assert_eq!(error.pos, Some(Pos::new(3, 9)));
        assert_eq!(error.path.to_string(), "items[0].port");
        let error = parse("name: [x]\n").unwrap_err();
        assert_eq!(error.pos, Some(Pos::new(1, 7)));
    }

    #[test]
    fn missing_fields_point_at_their_mapping() {
        let error = parse("items: []\n").unwrap_err();
        assert!(error.message.contains("missing field `name`"), "{error}");
        assert_eq!(error.pos, Some(Pos::new(1, 1)));
        let error = parse("name: a\nitems:\n- {}\n").unwrap_err();
        assert!(error.message.contains("missing field `port`"), "{error}");
        assert_eq!(error.pos, Some(Pos::new(3, 3)));
    }
}
