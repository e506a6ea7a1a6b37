//! Splitting a report into comments that each fit a size limit.
//!
//! A report is a list of [`Block`]s, each with balanced code fences and `<details>` tags. Blocks
//! are packed in order, whole, into as few comments as the limit allows, so no comment ever cuts
//! a fence or a `<details>` section, and the first block (the verdict and summary) always opens
//! the first comment. A block that opens a later comment is preceded by its `resume` text (its
//! section's title, a table's header). A block too big for any comment is [cut](fit) at a line
//! inside it, its open fence and `<details>` closed after a note. Every comment after the first
//! starts with "part i of n", and each ends with a hidden marker naming its part.

use super::text::chars;

/// A piece of the report that is never split across comments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    /// Its Markdown, fences and `<details>` balanced.
    pub text: String,
    /// What to print before it when it opens a comment other than the first, so it reads the
    /// same there (e.g. `### Changes (continued)`).
    pub resume: String,
}

impl Block {
    /// A block that needs nothing before it.
    pub fn new(text: String) -> Block {
        Block {
            text,
            resume: String::new(),
        }
    }
}

/// The first line of part `part` (from 1) of `parts`, for parts after the first.
fn header(part: usize, parts: usize) -> String {
    format!("**meshcd report**, part {part} of {parts} (continued)\n")
}

/// The end of every part.
fn footer(part: usize, parts: usize) -> String {
    let visible = if parts > 1 {
        format!("\n<sub>meshcd report, part {part} of {parts}</sub>\n")
    } else {
        String::new()
    };
    format!("{visible}\n<!-- meshcd-report: part {part} of {parts} -->\n")
}

/// Packs blocks into comments of at most `limit` characters (see the module docs). `limit`
/// must leave room for a header, a footer and a few lines (a thousand characters is plenty).
pub fn split(blocks: &[Block], limit: usize) -> Vec<String> {
    // There are never more parts than blocks, so this bounds every part's header and footer.
    let most = blocks.len().max(2);
    let reserve = chars(&header(most, most)) + chars(&footer(most, most));
    let room = limit.saturating_sub(reserve);
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for block in blocks {
        let len = chars(&block.text);
        if !current.is_empty() && current_len + len <= room {
            current.push_str(&block.text);
            current_len += len;
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        let opener = if parts.is_empty() {
            ""
        } else {
            block.resume.as_str()
        };
        let space = room.saturating_sub(chars(opener));
        current.push_str(opener);
        if len <= space {
            current.push_str(&block.text);
        } else {
            current.push_str(&fit(&block.text, space));
        }
        current_len = chars(&current);
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let head = if i == 0 {
                String::new()
            } else {
                header(i + 1, count)
            };
            format!("{head}{body}{}", footer(i + 1, count))
        })
        .collect()
}

/// What is open after a line: a code fence (its marker) and `<details>` sections.
#[derive(Debug, Clone, Default)]
struct Open {
    fence: Option<String>,
    details: usize,
}

impl Open {
    fn after(&self, line: &str) -> Open {
        let mut next = self.clone();
        let trimmed = line.trim();
        match &self.fence {
            Some(fence) => {
                let c = fence.chars().next().unwrap_or('`');
                if trimmed.len() >= fence.len() && trimmed.chars().all(|x| x == c) {
                    next.fence = None;
                }
            }
            None => {
                let start = line.trim_start();
                for c in ['`', '~'] {
                    let run = start.chars().take_while(|x| *x == c).count();
                    if run >= 3 {
                        next.fence = Some(c.to_string().repeat(run));
                    }
                }
                if start.starts_with("<details") {
                    next.details += 1;
                } else if start.starts_with("</details>") {
                    next.details = next.details.saturating_sub(1);
                }
            }
        }
        next
    }

    /// What ends a block cut here: a note on the `omitted` lines, inside the fence when one is
    /// open, then the closing fence and `</details>` tags.
    fn closing(&self, omitted: usize) -> String {
        let lines = if omitted == 1 {
            "line does"
        } else {
            "lines do"
        };
        let note = format!(
            "… truncated: {omitted} more {lines} not fit in one comment; `meshcd plan` shows \
             them all"
        );
        let mut out = match &self.fence {
            Some(fence) => format!("{note}\n{fence}\n"),
            None => format!("\n*{note}.*\n"),
        };
        for _ in 0..self.details {
            out.push_str("\n</details>\n");
        }
        out
    }
}

/// Cuts a block to at most `room` characters at a line boundary, closing what the cut leaves
/// open after a note that says how many lines were left out (inside the fence when the cut
/// falls in one).
pub fn fit(text: &str, room: usize) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // State before each line, and where each fence that is open before a line closes.
    let mut states = Vec::with_capacity(lines.len() + 1);
    states.push(Open::default());
    for line in &lines {
        let next = states[states.len() - 1].after(line);
        states.push(next);
    }
    let mut fence_end = vec![lines.len(); lines.len() + 1];
    let mut end = lines.len();
    for i in (0..lines.len()).rev() {
        // Line i closes the fence open before it: lines before it in that fence end at i.
        if states[i].fence.is_some() && states[i + 1].fence.is_none() {
            end = i;
        }
        if states[i].fence.is_none() {
            end = lines.len();
        }
        fence_end[i] = end;
    }
    let mut best = String::new();
    let mut kept = 0;
    for k in 0..=lines.len() {
        let state = &states[k];
        let omitted = if state.fence.is_some() {
            fence_end[k].saturating_sub(k)
        } else {
            lines.len() - k
        };
        let tail = state.closing(omitted);
        if kept + chars(&tail) <= room {
            best = format!("{}{tail}", lines[..k].concat());
        }
        if k < lines.len() {
            kept += chars(lines[k]);
            if kept > room {
                break;
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balanced(text: &str) -> bool {
        let state = text
            .split_inclusive('\n')
            .fold(Open::default(), |s, l| s.after(l));
        state.fence.is_none() && state.details == 0
    }

    #[test]
    fn a_cut_diff_keeps_its_fence_and_details_closed() {
        let mut text = String::from("<details>\n<summary>x</summary>\n\n```diff\n");
        for i in 0..200 {
            text.push_str(&format!("+line {i}\n"));
        }
        text.push_str("```\n\n</details>\n");
        let cut = fit(&text, 500);
        assert!(chars(&cut) <= 500, "{}", chars(&cut));
        assert!(balanced(&cut), "{cut}");
        assert!(cut.contains("more lines do not fit"), "{cut}");
        assert!(cut.ends_with("```\n\n</details>\n"), "{cut}");
    }

    #[test]
    fn blocks_pack_in_order_and_parts_say_so() {
        let blocks: Vec<Block> = (0..10)
            .map(|i| Block {
                text: format!("block {i} {}\n", "x".repeat(300)),
                resume: "\n### Again\n".into(),
            })
            .collect();
        let parts = split(&blocks, 1_000);
        assert!(parts.len() > 1);
        for (i, part) in parts.iter().enumerate() {
            assert!(chars(part) <= 1_000, "part {i}: {}", chars(part));
            assert!(part.contains(&format!("part {} of {}", i + 1, parts.len())));
        }
        assert!(parts[0].starts_with("block 0"));
        assert!(parts[1].contains("### Again"));
        let joined = parts.concat();
        let order: Vec<usize> = (0..10)
            .map(|i| joined.find(&format!("block {i} ")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn one_part_has_only_the_marker() {
        let parts = split(&[Block::new("hello\n".into())], 65_536);
        assert_eq!(
            parts,
            vec!["hello\n\n<!-- meshcd-report: part 1 of 1 -->\n".to_string()]
        );
    }
}
