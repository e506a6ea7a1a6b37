//! RE2 regular expressions as Istio's webhook checks them (Go's `regexp`, RE2 syntax), using
//! the `regex` crate.
//!
//! The `regex` crate's syntax is close to RE2's; where they differ this module bridges:
//!
//! - RE2 quotes `\Q...\E`; the crate does not: the quoted text is escaped before compiling.
//! - In a class, RE2 reads `[` (other than `[:alpha:]`), `&&`, `--` and `~~` literally; the crate
//!   nests classes and reads set operations: those are escaped before compiling.
//! - RE2 has no `x`, `u` or `R` flag, repeats at most 1000 times (`a{1001}`) and refuses a
//!   repetition of a repetition (`a**`); the crate takes all three: they are refused here.
//!
//! Left as they are: the crate accepts a few escapes RE2 refuses (`\<`, `\>`, `\b{start}`), and
//! its compiled-size limit is not RE2's program-size limit (both refuse huge expressions).

/// The longest regex Istio takes.
pub const MAX_LEN: usize = 1024;

/// The most repetitions RE2 takes in `{n}` or `{n,m}`.
const MAX_REPEAT: u32 = 1000;

/// Checks a regex; the error says what is wrong (the caller adds the field).
pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_LEN {
        return Err(format!(
            "is {} characters long; Istio takes regular expressions of at most {MAX_LEN}",
            pattern.len()
        ));
    }
    let translated = translate(pattern)?;
    match regex::Regex::new(&translated) {
        Ok(_) => Ok(()),
        Err(regex::Error::CompiledTooBig(_)) => {
            Err("is too large once compiled; simplify it".to_string())
        }
        Err(error) => Err(format!(
            "is not a valid RE2 regular expression: {}",
            first_line(&error.to_string())
        )),
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}

/// True when `rest` (starting at `{`) is a repetition `{n}`, `{n,}` or `{n,m}`.
fn is_repeat(rest: &[char]) -> bool {
    let body: String = rest[1..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == ',')
        .collect();
    rest.get(1 + body.len()) == Some(&'}')
        && body.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Rewrites RE2-only syntax into what the `regex` crate reads the same way, refusing what RE2
/// refuses and the crate would take.
fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    // After a repetition operator (`*`, `+`, `?`, `{n,m}`), and whether its lazy `?` was seen.
    let mut after_repeat = false;
    let mut lazy_seen = false;
    let nested = || {
        Err(
            "is not a valid RE2 regular expression: a repetition cannot repeat (`a**`); \
             group it first, `(a*)*`"
                .to_string(),
        )
    };
    while i < chars.len() {
        let c = chars[i];
        if !in_class {
            match c {
                '?' if after_repeat && !lazy_seen => lazy_seen = true,
                '*' | '+' | '?' if after_repeat => return nested(),
                '*' | '+' | '?' => {
                    after_repeat = true;
                    lazy_seen = false;
                }
                '{' if is_repeat(&chars[i..]) => {
                    if after_repeat {
                        return nested();
                    }
                    after_repeat = true;
                    lazy_seen = false;
                    let len = chars[i..].iter().position(|c| *c == '}').unwrap_or(0);
                    let body: String = chars[i + 1..i + len].iter().collect();
                    let too_many = body
                        .split(',')
                        .filter(|n| !n.is_empty())
                        .any(|n| n.parse::<u32>().map_or(true, |n| n > MAX_REPEAT));
                    if too_many {
                        return Err(format!(
                            "is not a valid RE2 regular expression: `{{{body}}}` repeats more \
                             than {MAX_REPEAT} times"
                        ));
                    }
                    out.extend(&chars[i..=i + len]);
                    i += len + 1;
                    continue;
                }
                _ => after_repeat = false,
            }
        }
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                out.push('\\');
                i += 1;
                continue;
            };
            if next == 'Q' {
                i += 2;
                while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                    let text = chars[i].to_string();
                    out.push_str(&regex::escape(&text));
                    i += 1;
                }
                i += 2;
                continue;
            }
            out.push(c);
            out.push(next);
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(c);
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    let end = (i + 2..chars.len().saturating_sub(1))
                        .find(|&j| chars[j] == ':' && chars[j + 1] == ']');
                    match end {
                        Some(end) => {
                            out.extend(&chars[i..=end + 1]);
                            i = end + 2;
                            continue;
                        }
                        None => out.push_str("\\["),
                    }
                }
                '[' => out.push_str("\\["),
                '&' | '-' | '~' if chars.get(i + 1) == Some(&c) => {
                    out.push('\\');
                    out.push(c);
                    out.push('\\');
                    out.push(c);
                    i += 2;
                    continue;
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push(c);
                i += 1;
                // A `]` (after an optional `^`) first in a class is a literal.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                let flags: String = chars[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic() || **c == '-')
                    .collect();
                let closes = matches!(chars.get(i + 2 + flags.len()), Some(')' | ':'));
                if closes {
                    if let Some(bad) = flags.chars().find(|f| !"imsU-".contains(*f)) {
                        return Err(format!(
                            "is not a valid RE2 regular expression: RE2 has no `{bad}` flag \
                             (it has `i`, `m`, `s` and `U`)"
                        ));
                    }
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_re2_expressions_pass() {
        for ok in [
            "/api/v[0-9]+/.*",
            "^(?i)foo$",
            "(?P<name>a+)",
            "\\Q*.example.com\\E",
            "[a[b]",
            "[]a]",
            "[a&&b]",
            "[[:alpha:]-]+",
            "a{1000}",
            "\\pL+",
            "a*?b+?c??",
            "(a*)*",
            "a{2}?",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn invalid_or_non_re2_expressions_fail() {
        for bad in [
            "(", "a{1001}", "(?x) a b", "(?=a)", "\\1", "a**", "a*+", "a{2}*",
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(check(&"a".repeat(1025)).unwrap_err().contains("1025"));
    }
}
