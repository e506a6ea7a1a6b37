//! Escaping for GitHub-flavoured Markdown: plain text, code spans, finding messages, table
//! cells and HTML, and how comment limits count characters.

/// Characters as comment limits count them (Unicode scalar values).
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Text Markdown shows as written: every character with a meaning in GitHub-flavoured Markdown
/// (inline markup, links, HTML, entities, strikethrough, `$` math) backslash-escaped, which
/// CommonMark allows for any ASCII punctuation; line breaks become spaces. A `|` means something
/// only in a table: [`cell`] escapes it there.
///
/// GFM's autolinks (`https://…`, `www.…`) are found in the raw text, so a backslash escape
/// inside one would show: the `:` of `://` and the `.` of `www.` are escaped too, which keeps
/// them plain text.
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let autolink = match c {
            ':' => text[i + 1..].starts_with("//"),
            '.' => text[..i]
                .get(i.saturating_sub(3)..)
                .is_some_and(|w| w.eq_ignore_ascii_case("www")),
            _ => false,
        };
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            ':' | '.' if autolink => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A code span, fenced with more backticks than the text holds in a row, and padded where
/// CommonMark would otherwise strip a space (or read a backtick as part of the fence).
pub fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    let stripped = text.starts_with(' ') && text.ends_with(' ') && text.contains(|c| c != ' ');
    if text.starts_with('`') || text.ends_with('`') || stripped {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// A finding message, on one line, showing exactly its text: meshcd's messages mark names with
/// single backticks (`` `store-v1` ``), and such a pair around text without backticks (nor a
/// `\|`) is shown as a code span; every other character, backticks of other runs included, is
/// shown as written (see [`plain`]).
pub fn message(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut out = String::with_capacity(text.len() + 8);
    let mut literal = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find('`') {
        let run = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let after = &rest[start + run..];
        let span = (run == 1)
            .then(|| after.find('`'))
            .flatten()
            .filter(|&end| end > 0 && !after[end + 1..].starts_with('`'))
            // In a table, `\|` in a code span is read differently by GFM renderers: as text it
            // is exact everywhere.
            .filter(|&end| !after[..end].contains("\\|"));
        match span {
            Some(end) => {
                literal.push_str(&rest[..start]);
                out.push_str(&plain(&literal));
                literal.clear();
                out.push_str(&code(&after[..end]));
                rest = &after[end + 1..];
            }
            None => {
                literal.push_str(&rest[..start + run]);
                rest = after;
            }
        }
    }
    literal.push_str(rest);
    out.push_str(&plain(&literal));
    out
}

/// A table cell: every `|` escaped, in text and code spans alike. GFM splits a row at each
/// `|` not preceded by `\`, then drops that `\` before the cell's inline content is read, so the
/// cell shows `|` (and a `\` written before it, itself escaped as `\\`, stays).
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
    use comrak::nodes::{AstNode, NodeValue};
    use comrak::{parse_document, Arena, Options};
    use proptest::prelude::*;

    #[test]
    fn messages_keep_code_and_escape_the_rest() {
        assert_eq!(
            message("weight -5 of `a|b` is <bad> *now*"),
            "weight -5 of `a|b` is \\<bad\\> \\*now\\*"
        );
        assert_eq!(message("a stray ` tick"), "a stray \\` tick");
        assert_eq!(cell(&message("`a|b`")), "`a\\|b`");
        // Only single backticks around text make a code span; longer runs are text.
        assert_eq!(message("a ```b``` c"), "a \\`\\`\\`b\\`\\`\\` c");
        assert_eq!(message("``a`b``"), "\\`\\`a\\`b\\`\\`");
        assert_eq!(message("`` `x` ``"), "\\`\\` `x` \\`\\`");
    }

    #[test]
    fn code_spans_and_fences_outgrow_backticks() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(code(" a "), "`  a  `");
        assert_eq!(code(" "), "` `");
        assert_eq!(fence_for("x\n````\n"), "`````");
        assert_eq!(fence_for("plain"), "```");
    }

    #[test]
    fn numbers_lose_needless_fractions() {
        assert_eq!(number(99.0), "99");
        assert_eq!(number(99.5), "99.5");
    }

    /// comrak set up as GitHub renders comments: GFM's extensions, and `$` math.
    fn github_options() -> Options<'static> {
        let mut options = Options::default();
        options.extension.table = true;
        options.extension.strikethrough = true;
        options.extension.autolink = true;
        options.extension.tasklist = true;
        options.extension.footnotes = true;
        options.extension.math_dollars = true;
        options
    }

    /// What a reader sees of one node: its text, with code spans as `` `literal` `` and any
    /// other markup as a visible `<kind>` tag, so a message that turned into markup differs.
    fn seen<'a>(node: &'a AstNode<'a>, out: &mut String) {
        match &node.data().value {
            NodeValue::Text(text) => out.push_str(text),
            NodeValue::Code(code) => {
                out.push('`');
                out.push_str(&code.literal);
                out.push('`');
            }
            NodeValue::SoftBreak | NodeValue::LineBreak => out.push(' '),
            // GFM autolinks (`www.a.com`) show their own text.
            NodeValue::Link(_) | NodeValue::Paragraph | NodeValue::TableCell => {}
            other => out.push_str(&format!("<{}>", other.xml_node_name())),
        }
        for child in node.children() {
            seen(child, out);
        }
    }

    /// What GitHub shows of a finding message in a report table's cell and in a list item.
    fn shown(text: &str) -> (String, String) {
        let arena = Arena::new();
        let options = github_options();
        let table = format!("| message |\n|:--|\n| {} |\n", cell(&message(text)));
        let root = parse_document(&arena, &table, &options);
        let cells: Vec<_> = root
            .descendants()
            .filter(|n| matches!(n.data().value, NodeValue::TableCell))
            .collect();
        let mut in_table = String::new();
        match cells.as_slice() {
            [_, body] => seen(body, &mut in_table),
            _ => in_table = format!("<{} cells>", cells.len()),
        }
        let item = format!("- ❌ {}\n", message(text));
        let root = parse_document(&arena, &item, &options);
        let mut in_list = String::new();
        for child in root.children().flat_map(|list| list.children()) {
            for block in child.children() {
                seen(block, &mut in_list);
            }
        }
        (in_table, in_list)
    }

    /// What must be seen in a table cell: the message on one line, without the spaces a cell
    /// trims.
    fn expected(text: &str) -> String {
        text.replace(['\n', '\r'], " ").trim().to_string()
    }

    /// What must be seen in the list item: `❌ `, then the message on one line.
    fn expected_item(text: &str) -> String {
        format!("❌ {}", text.replace(['\n', '\r'], " "))
            .trim_end()
            .to_string()
    }

    #[test]
    fn messages_render_as_written_in_github_markdown() {
        for text in [
            "weight -5 of `store-v1` is negative",
            "a ```b``` c",
            "fence ``` here",
            "``a`b``",
            "`a`b`",
            "`` `x` ``",
            "`a|b` and c|d",
            "a\\|b and `a\\|b`",
            "<b>bold</b> & &amp; &#124;",
            "*x* _y_ __z__ ~~s~~ ~t~",
            "$x$ and $$y$$",
            "[x](y) ![i](j) [^1] <https://a.b>",
            "www.example.com/a_b_ and a@b.co and x_y@b_c.co and WWW.A.B/*c*",
            "https://a.b/c_d*e* http://x.y/~z~ ftp://f.g/[h](i)",
            "` a ` and ` ` and `a `",
            "trailing \\",
            "# not a heading | ---",
            "line\nbreak\r\nhere",
            "- [ ] not a task",
            "",
            " ",
            "|",
            " leading and trailing ",
        ] {
            let (in_table, in_list) = shown(text);
            assert_eq!(in_table, expected(text), "table cell of {text:?}");
            assert_eq!(in_list, expected_item(text), "list item of {text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any message, its punctuation in any order and any run of backticks, is shown as
        /// written.
        #[test]
        fn any_message_renders_as_written(
            text in r"([a-z0-9 `*_<>|\\&!#~$\[\]():;./@=+^{}-]|www\.|https?://){0,40}"
        ) {
            let (in_table, in_list) = shown(&text);
            prop_assert_eq!(in_table, expected(&text));
            prop_assert_eq!(in_list, expected_item(&text));
        }
    }
}
