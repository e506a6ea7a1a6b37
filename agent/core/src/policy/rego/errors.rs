//! Policy errors as findings: regorus's error text gives the file, line and column.
//!
//! regorus renders an error as
//! ```text
//! --> policies/owner.rego:7:12
//!   |
//! 7 |   msg := sprintf("%s", [input.metadata.name]
//!   |            ^
//! error: expecting `)`
//! ```
//! possibly with context lines before it. [`parse`] takes the first `--> file:line:col` and
//! the last `error: ...` line; text without a location keeps its first line as the message.

use crate::finding::{Finding, Severity};
use crate::source::{Location, Pos, SourceFile};

use super::code;

/// What an error said and where, when it said where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedError {
    /// `file:line:col` from the `-->` line.
    pub location: Option<Location>,
    /// The message, on one line.
    pub message: String,
}

/// Reads an error's text (all of anyhow's chain, `{:#}`).
pub(crate) fn parse(text: &str) -> ParsedError {
    let location = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("--> "))
        .and_then(parse_location);
    let message = text
        .lines()
        .rev()
        .find_map(|line| line.trim_start().strip_prefix("error: "))
        .or_else(|| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("-->") && !l.starts_with('|'))
        })
        .unwrap_or("unknown error")
        .trim()
        .to_string();
    ParsedError { location, message }
}

/// `path:line:col` (the path may itself hold colons).
fn parse_location(text: &str) -> Option<Location> {
    let mut parts = text.trim().rsplitn(3, ':');
    let column = parts.next()?.parse().ok()?;
    let line = parts.next()?.parse().ok()?;
    let file = parts.next()?.to_string();
    Some(Location {
        file,
        pos: Pos::new(line, column),
    })
}

/// An error finding about a policy: at the error's own location when it has one (and that file
/// is a known policy file), else at `fallback`. The snippet is filled from the policy file.
pub(crate) fn finding(
    error_text: &str,
    what: &str,
    fallback: Location,
    files: &[SourceFile],
) -> Finding {
    let parsed = parse(error_text);
    let location = parsed
        .location
        .filter(|l| files.iter().any(|f| f.path == l.file))
        .unwrap_or(fallback);
    at(location, format!("{what}: {}", parsed.message), files)
}

/// An error finding with a given location and message, its snippet from the policy files.
pub(crate) fn at(location: Location, message: String, files: &[SourceFile]) -> Finding {
    let snippet = files
        .iter()
        .find(|f| f.path == location.file)
        .and_then(|f| f.snippet(location.pos));
    Finding {
        rule: code::ERROR,
        name: code::ERROR_NAME,
        severity: Severity::Error,
        location,
        field: None,
        message,
        snippet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_location_and_message() {
        let text = "\n--> policies/a:b.rego:3:7\n  |\n3 | deny contains x if {\n  |       ^\nerror: unexpected token";
        let parsed = parse(text);
        assert_eq!(
            parsed.location,
            Some(Location {
                file: "policies/a:b.rego".into(),
                pos: Pos::new(3, 7)
            })
        );
        assert_eq!(parsed.message, "unexpected token");
    }

    #[test]
    fn text_without_location_keeps_first_line() {
        let parsed = parse("execution exceeded time limit (elapsed=1ns, limit=1ns)\nmore");
        assert_eq!(parsed.location, None);
        assert_eq!(
            parsed.message,
            "execution exceeded time limit (elapsed=1ns, limit=1ns)"
        );
        assert_eq!(parse("").message, "unknown error");
    }
}
