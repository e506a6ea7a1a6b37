//! Source files and positions: every finding points at `file:line:col` with a snippet.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// A file read from a repository revision or a folder, kept whole so findings can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the repository root (or the folder), with `/` separators.
    pub path: String,
    /// The file's text.
    pub text: Arc<str>,
}

impl SourceFile {
    /// Makes a source file from a path and its text.
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The text of line `line` (1-based), without its line break.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        yaml_lines(&self.text).nth(line.checked_sub(1)? as usize)
    }

    /// A two-line snippet: the source line and a caret under `pos.column`.
    pub fn snippet(&self, pos: Pos) -> Option<String> {
        let text = self.line_text(pos.line)?;
        let caret_at = text
            .chars()
            .take(pos.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect::<String>();
        Some(format!("{text}\n{caret_at}^"))
    }
}

/// The lines of a text as YAML counts them: `\r\n`, `\n` and a lone `\r` all end a line
/// (so positions from the parser and the lines quoted in snippets agree).
pub fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\n', '\r']) {
            Some(i) => {
                let line = &current[..i];
                let skip = if current[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                let next = &current[i + skip..];
                rest = (!next.is_empty()).then_some(next);
                Some(line)
            }
            None => {
                rest = None;
                (!current.is_empty()).then_some(current)
            }
        }
    })
}

/// A position in a file: line and column, both 1-based (column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub struct Pos {
    /// Line number, from 1.
    pub line: u32,
    /// Column number in characters, from 1.
    pub column: u32,
}

impl Pos {
    /// The first character of a file.
    pub const START: Pos = Pos { line: 1, column: 1 };

    /// A position from a 1-based line and column.
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A position in a named file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// Repository-relative path of the file.
    pub file: String,
    /// Line and column in that file.
    #[serde(flatten)]
    pub pos: Pos,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_end_at_any_yaml_line_break() {
        let lines: Vec<&str> = yaml_lines("a\r\nb\rc\nd").collect();
        assert_eq!(lines, vec!["a", "b", "c", "d"]);
        assert_eq!(yaml_lines("a\n").count(), 1);
        assert_eq!(yaml_lines("").count(), 0);
    }

    #[test]
    fn snippet_puts_caret_under_column() {
        let file = SourceFile::new("a.yaml", "a: 1\n  weight: -5\n");
        assert_eq!(
            file.snippet(Pos::new(2, 11)).unwrap(),
            "  weight: -5\n          ^"
        );
        assert!(file.snippet(Pos::new(9, 1)).is_none());
    }
}
