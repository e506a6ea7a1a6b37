//! Escaping for GitHub-flavoured Markdown: plain text, code spans, finding messages, table
//! cells and HTML, and how comment limits count characters.

/// Characters as comment limits count them (Unicode scalar values).
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Text Markdown shows as written: its punctuation backslash-escaped.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A code span, fenced with more backticks than the text holds in a row.
pub fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// A finding message: its `code spans` kept, the rest shown as written, on one line.
pub fn message(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let parts: Vec<&str> = text.split('`').collect();
    // An odd number of parts means balanced backticks; otherwise the last one is a stray.
    let balanced = parts.len() % 2 == 1;
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        let in_code = i % 2 == 1 && (balanced || i + 1 < parts.len());
        if in_code && !part.is_empty() {
            out.push_str(&code(part));
        } else if in_code {
            out.push_str(&plain("``"));
        } else if i % 2 == 1 {
            out.push_str(&plain(&format!("`{part}")));
        } else {
            out.push_str(&plain(part));
        }
    }
    out
}

/// A table cell: `|` escaped (GitHub reads `\|` as a pipe, also in code spans).
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// Text inside HTML (such as `<summary>`).
pub fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A code fence that no line of `text` closes: three backticks, or more than the longest run
/// of backticks in it.
pub fn fence_for(text: &str) -> String {
    "`".repeat((longest_run(text, '`') + 1).max(3))
}

/// `99`, `99.5`: a number without a needless fraction.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

fn longest_run(text: &str, c: char) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_code_and_escape_the_rest() {
        assert_eq!(
            message("weight -5 of `a|b` is <bad> *now*"),
            "weight -5 of `a|b` is \\<bad\\> \\*now\\*"
        );
        assert_eq!(message("a stray ` tick"), "a stray \\` tick");
        assert_eq!(cell(&message("`a|b`")), "`a\\|b`");
    }

    #[test]
    fn code_spans_and_fences_outgrow_backticks() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(fence_for("x\n````\n"), "`````");
        assert_eq!(fence_for("plain"), "```");
    }

    #[test]
    fn numbers_lose_needless_fractions() {
        assert_eq!(number(99.0), "99");
        assert_eq!(number(99.5), "99.5");
    }
}
