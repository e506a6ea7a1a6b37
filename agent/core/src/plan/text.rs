//! Unified text diffs of canonical YAML.
//!
//! Diffs are made with `similar` (Myers, 3 lines of context, headers `a/<file>` and
//! `b/<file>`) and then normalized so that in every run of changed lines the removed lines come
//! before the added ones.

use similar::TextDiff;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The unified diff from `before` to `after`, labelled with `file`; empty when equal.
pub(crate) fn unified(before: &str, after: &str, file: &str) -> String {
    let diff = TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string();
    reorder(&diff)
}

/// Rewrites a unified diff so every run of changed lines lists removals first.
fn reorder(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    let mut removed: Vec<&str> = Vec::new();
    let mut added: Vec<&str> = Vec::new();
    let mut in_hunks = false;
    let mut last_was_added = false;
    for line in diff.split_inclusive('\n') {
        if !in_hunks && !line.starts_with("@@") {
            out.push_str(line);
            continue;
        }
        in_hunks = true;
        let (sign, rest) = line.split_at(line.chars().next().map_or(0, char::len_utf8));
        match sign {
            "-" | "+" => {
                let is_added = sign == "+";
                last_was_added = is_added;
                if is_added {
                    added.push(rest);
                } else {
                    removed.push(rest);
                }
            }
            // "\ No newline at end of file" belongs to the line before it.
            "\\" => {
                if last_was_added {
                    added.push(line);
                } else {
                    removed.push(line);
                }
            }
            _ => {
                flush(&mut out, &mut removed, &mut added);
                out.push_str(line);
            }
        }
    }
    flush(&mut out, &mut removed, &mut added);
    out
}

fn flush<'a>(out: &mut String, removed: &mut Vec<&'a str>, added: &mut Vec<&'a str>) {
    for (sign, lines) in [('-', &mut *removed), ('+', &mut *added)] {
        for line in lines.drain(..) {
            if line.starts_with('\\') {
                out.push_str(line);
            } else {
                out.push(sign);
                out.push_str(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_file_creation_and_deletion() {
        let diff = unified("", "a: 1\nb: 2\n", "r.yaml");
        assert_eq!(
            diff,
            "--- a/r.yaml\n+++ b/r.yaml\n@@ -0,0 +1,2 @@\n+a: 1\n+b: 2\n"
        );
        assert_eq!(
            unified("a: 1\nb: 2\n", "", "r.yaml"),
            "--- a/r.yaml\n+++ b/r.yaml\n@@ -1,2 +0,0 @@\n-a: 1\n-b: 2\n"
        );
    }

    #[test]
    fn removals_come_before_additions() {
        let before = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\n";
        let after = "a: 1\nb: 20\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 10\n";
        let diff = unified(before, after, "x.yaml");
        assert!(diff.contains("-b: 2\n+b: 20\n"), "{diff}");
        let back = unified(after, before, "x.yaml");
        assert!(back.contains("-b: 20\n+b: 2\n"), "{back}");
        assert!(back.contains("-j: 10\n"), "{back}");
    }

    #[test]
    fn equal_texts_have_an_empty_diff() {
        assert_eq!(unified("a: 1\n", "a: 1\n", "r.yaml"), "");
    }
}
