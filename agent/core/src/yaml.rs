//! A YAML tree that remembers where each node came from.
//!
//! Built on `saphyr-parser`'s event stream. Each node keeps its line and column, so a finding
//! about `spec.http[0].route[1].weight` can point at the exact character. Scalars follow the
//! YAML 1.2 core schema (as Kubernetes' and gcloud's loaders do for the values routes use).
//! Aliases are expanded with a budget, so a "billion laughs" file is an error, not an outage.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::path::{FieldPath, Segment};
use crate::source::Pos;

/// Most nodes one file may expand to through aliases before loading stops.
const MAX_NODES: usize = 2_000_000;
/// Deepest nesting accepted; deeper input is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Where the node starts.
    pub pos: Pos,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string (quoted scalars are always strings).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<Entry>),
}

/// One key and value of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key, as text.
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: Node,
}

/// One document of a (possibly multi-document) YAML file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Index of the document in its file, from 0.
    pub index: usize,
    /// The root node.
    pub root: Node,
}

/// Something wrong in a YAML file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlIssue {
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong, in words.
    pub message: String,
}

/// The result of parsing one file: its documents and any problems met.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    /// Documents read successfully. Empty when the file has a syntax error.
    pub documents: Vec<Document>,
    /// A syntax error stops parsing: the file yields no documents.
    pub error: Option<YamlIssue>,
    /// Problems that do not stop parsing, such as duplicate keys (the last one wins).
    pub duplicate_keys: Vec<YamlIssue>,
}

fn pos_of(span: &Span) -> Pos {
    Pos::new(
        u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    )
}

/// Parses every document of a YAML text. Empty documents (comments only) are skipped.
///
/// Every position is inside the text: saphyr places an empty scalar where the next token
/// starts, which for an empty key or value at the end of the file (`? # comment`) is the line
/// after the last; such positions are moved to the end of the last line.
pub fn parse(text: &str) -> ParsedFile {
    let mut builder = Builder {
        end: end_of(text),
        ..Builder::default()
    };
    let mut parsed = ParsedFile::default();
    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(pair) => pair,
            Err(error) => {
                let marker = error.marker();
                let pos = Pos::new(
                    u32::try_from(marker.line()).unwrap_or(u32::MAX),
                    u32::try_from(marker.col() + 1).unwrap_or(u32::MAX),
                );
                parsed.error = Some(YamlIssue {
                    pos: clamp_to_text(pos, text),
                    message: error.info().to_string(),
                });
                return parsed;
            }
        };
        if let Err(issue) = builder.event(event, &span, &mut parsed) {
            parsed.error = Some(issue);
            parsed.documents.clear();
            return parsed;
        }
    }
    parsed
}

/// Keeps a position inside the text: the parser reports errors at end of input one line past
/// the last, which has no snippet to show.
fn clamp_to_text(pos: Pos, text: &str) -> Pos {
    let lines = crate::source::yaml_lines(text).count().max(1);
    let line = (pos.line as usize).clamp(1, lines);
    let width = crate::source::yaml_lines(text)
        .nth(line - 1)
        .map_or(0, |l| l.chars().count());
    let column = if line == pos.line as usize {
        (pos.column as usize).clamp(1, width + 1)
    } else {
        width + 1
    };
    Pos::new(line as u32, column as u32)
}

/// The last position of a text: after the last character of its last line (1:1 when empty).
fn end_of(text: &str) -> Pos {
    let (lines, width) = crate::source::yaml_lines(text).fold((0usize, 0usize), |(n, _), line| {
        (n + 1, line.chars().count())
    });
    Pos::new(
        u32::try_from(lines.max(1)).unwrap_or(u32::MAX),
        u32::try_from(width + 1).unwrap_or(u32::MAX),
    )
}

enum Frame {
    Seq(Node, usize),
    Map(Node, usize, Option<(String, Pos)>),
}

#[derive(Default)]
struct Builder {
    /// The last position of the text (see [`end_of`]): no node is placed after it.
    end: Pos,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    doc_index: usize,
}

impl Builder {
    fn event(
        &mut self,
        event: Event<'_>,
        span: &Span,
        parsed: &mut ParsedFile,
    ) -> Result<(), YamlIssue> {
        let pos = pos_of(span).min(self.end);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(_) => self.anchors.clear(),
            Event::DocumentEnd => {}
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| YamlIssue {
                    pos,
                    message: "alias refers to an unknown anchor".into(),
                })?;
                self.count(count_nodes(&node), pos)?;
                self.push(node, 0, parsed)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, pos)?;
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = scalar(text, style, is_str_tag);
                self.push(Node { value, pos }, anchor, parsed)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.count(1, pos)?;
                self.open(pos)?;
                let node = Node {
                    value: Value::Seq(Vec::new()),
                    pos,
                };
                self.stack.push(Frame::Seq(node, anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.count(1, pos)?;
                self.open(pos)?;
                let node = Node {
                    value: Value::Map(Vec::new()),
                    pos,
                };
                self.stack.push(Frame::Map(node, anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(node, anchor) | Frame::Map(node, anchor, _)) => (node, anchor),
                    None => {
                        return Err(YamlIssue {
                            pos,
                            message: "unbalanced collection end".into(),
                        })
                    }
                };
                self.push(node, anchor, parsed)?;
            }
        }
        Ok(())
    }

    fn open(&self, pos: Pos) -> Result<(), YamlIssue> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlIssue {
                pos,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlIssue> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(YamlIssue {
                pos,
                message: format!("file expands to more than {MAX_NODES} nodes (alias bomb?)"),
            });
        }
        Ok(())
    }

    fn push(
        &mut self,
        node: Node,
        anchor: usize,
        parsed: &mut ParsedFile,
    ) -> Result<(), YamlIssue> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if node.value != Value::Null {
                    parsed.documents.push(Document {
                        index: self.doc_index,
                        root: node,
                    });
                }
                self.doc_index += 1;
            }
            Some(Frame::Seq(parent, _)) => {
                if let Value::Seq(items) = &mut parent.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(parent, _, pending)) => match pending.take() {
                None => {
                    let key = match &node.value {
                        Value::Str(s) => s.clone(),
                        Value::Null => "null".into(),
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlIssue {
                                pos: node.pos,
                                message: "complex mapping keys are not supported".into(),
                            })
                        }
                    };
                    *pending = Some((key, node.pos));
                }
                Some((key, key_pos)) => {
                    if let Value::Map(entries) = &mut parent.value {
                        if let Some(existing) = entries.iter_mut().find(|e| e.key == key) {
                            parsed.duplicate_keys.push(YamlIssue {
                                pos: key_pos,
                                message: format!(
                                    "duplicate key `{key}` (first at line {}); the last one wins",
                                    existing.key_pos.line
                                ),
                            });
                            existing.value = node;
                            existing.key_pos = key_pos;
                        } else {
                            entries.push(Entry {
                                key,
                                key_pos,
                                value: node,
                            });
                        }
                    }
                }
            },
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|e| 1 + count_nodes(&e.value))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn scalar(text: Cow<'_, str>, style: ScalarStyle, is_str_tag: bool) -> Value {
    if style != ScalarStyle::Plain || is_str_tag {
        return Value::Str(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let t = text.as_ref();
    if let Some(hex) = t.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = t.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let looks_numeric = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && t.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Int(i);
        }
        if let Ok(f) = t.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.into_owned())
}

impl Node {
    /// The value at `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// The string value, if this node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The position of the field at `path`: the value's position when it exists, else the
    /// position of the deepest part of the path that does (so a missing field points at its
    /// parent). For a path ending in a key, the key's own position is used when
    /// `point_at_key` is set.
    pub fn locate(&self, path: &FieldPath, point_at_key: bool) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        let last = path.segments().len().saturating_sub(1);
        for (i, segment) in path.segments().iter().enumerate() {
            let next = match (segment, &node.value) {
                (Segment::Key(k), Value::Map(entries)) => {
                    entries.iter().find(|e| &e.key == k).map(|e| {
                        if point_at_key && i == last {
                            pos = e.key_pos;
                        } else {
                            pos = e.value.pos;
                        }
                        &e.value
                    })
                }
                (Segment::Index(n), Value::Seq(items)) => items.get(*n).inspect(|item| {
                    pos = item.pos;
                }),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        pos
    }

    /// Converts to JSON (non-finite floats become `null`, as JSON has no such numbers).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_nested_fields() {
        let text = "kind: VirtualService\nspec:\n  http:\n  - route:\n    - destination: {host: a}\n      weight: 90\n";
        let parsed = parse(text);
        assert!(parsed.error.is_none());
        let root = &parsed.documents[0].root;
        let pos = root.locate(&FieldPath::parse("spec.http[0].route[0].weight"), false);
        assert_eq!(pos, Pos::new(6, 15));
        let key = root.locate(&FieldPath::parse("spec.http[0].route[0].weight"), true);
        assert_eq!(key, Pos::new(6, 7));
        // A missing field points at the deepest part that exists.
        let missing = root.locate(&FieldPath::parse("spec.http[0].nope"), false);
        assert_eq!(missing, Pos::new(4, 5));
    }

    #[test]
    fn splits_documents_and_skips_empty_ones() {
        let parsed = parse("a: 1\n---\n# only a comment\n---\nb: 2\n");
        assert_eq!(parsed.documents.len(), 2);
        assert_eq!(parsed.documents[0].index, 0);
        assert_eq!(parsed.documents[1].index, 2);
        assert_eq!(parsed.documents[1].root.pos.line, 5);
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let parsed =
            parse("a: 10\nb: '10'\nc: 1.5\nd: true\ne: ~\nf: 0x1F\ng: !!str 7\nh: 1e3\ni: abc\n");
        let json = parsed.documents[0].root.to_json();
        assert_eq!(
            json,
            serde_json::json!({"a": 10, "b": "10", "c": 1.5, "d": true, "e": null, "f": 31, "g": "7", "h": 1000.0, "i": "abc"})
        );
    }

    #[test]
    fn syntax_error_has_a_position_and_no_documents() {
        let parsed = parse("a: 1\n---\nb: [1, 2\nc: 3\n");
        let error = parsed.error.expect("syntax error");
        assert!(error.pos.line >= 3, "{error:?}");
        assert!(parsed.documents.is_empty() || parsed.documents.len() == 1);
    }

    #[test]
    fn errors_at_end_of_input_point_at_the_last_line() {
        let parsed = parse("a: [1, 2\n");
        let error = parsed.error.expect("syntax error");
        assert_eq!(error.pos, Pos::new(1, 9), "{error:?}");
        let parsed = parse("a: 'open");
        assert_eq!(parsed.error.expect("error").pos.line, 1);
    }

    #[test]
    fn duplicate_keys_are_reported_and_last_wins() {
        let parsed = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(parsed.duplicate_keys.len(), 1);
        assert_eq!(parsed.duplicate_keys[0].pos, Pos::new(3, 1));
        assert_eq!(
            parsed.documents[0].root.to_json(),
            serde_json::json!({"a": 3, "b": 2})
        );
    }

    #[test]
    fn empty_keys_at_the_end_of_the_file_stay_inside_it() {
        // saphyr places the empty scalars of the last `?` on the line after the comment.
        for (text, end) in [
            ("? \n? # c", Pos::new(2, 6)),
            ("?\n: 1\n?\n# c\n", Pos::new(4, 4)),
            ("a:\n  ?\n  ? # end\n", Pos::new(3, 10)),
        ] {
            let parsed = parse(text);
            assert_eq!(parsed.duplicate_keys.len(), 1, "{text:?}");
            assert_eq!(parsed.duplicate_keys[0].pos, end, "{text:?}");
            let lines = crate::source::yaml_lines(text).count() as u32;
            assert!(end.line <= lines, "{text:?}");
        }
        assert_eq!(end_of(""), Pos::new(1, 1));
        assert_eq!(end_of("a: 1\r\nbc\r\n"), Pos::new(2, 3));
    }

    #[test]
    fn aliases_expand_and_bombs_are_refused() {
        let parsed = parse("x: &a {k: v}\ny: *a\n");
        assert_eq!(
            parsed.documents[0].root.to_json()["y"],
            serde_json::json!({"k": "v"})
        );
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='k' {
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = name;
        }
        let parsed = parse(&bomb);
        assert!(parsed.error.unwrap().message.contains("alias bomb"));
    }
}
