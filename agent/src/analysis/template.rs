//! Custom PromQL queries as RolloutPolicies write them: a template with `{{canary}}`,
//! `{{stable}}`, `{{route}}`, `{{namespace}}` and `{{window}}`, rendered once per read.
//!
//! Every value is escaped for the inside of a **double-quoted** PromQL string, the place a
//! template puts it (`backend="{{canary}}"`):
//!
//! | placeholder | becomes | use it with |
//! |---|---|---|
//! | `{{canary}}` | the canary's name | `label="{{canary}}"` |
//! | `{{stable}}` | a regular expression matching exactly the stable backends' names (`a\.x\|b`) | `label=~"{{stable}}"` |
//! | `{{route}}`, `{{namespace}}` | the route's name and namespace | `label="{{route}}"` |
//! | `{{window}}` | how long the step has baked, in whole seconds, at least `1s` (`37s`) | `rate(x[{{window}}])` |
//!
//! Spaces inside the braces are allowed (`{{ canary }}`). An unknown placeholder (a typo such as
//! `{{canry}}`), or `{{stable}}` when the route has no stable backend, is an error naming it,
//! never an empty string. Text that is not `{{` + a name (letters, digits, `_`) + `}}` is left as
//! it is.
//! Values are inserted in one pass: a value containing `{{...}}` is not expanded again.

use std::time::Duration;

/// The values a query template may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateVars {
    /// The canary backend (its Envoy cluster name).
    pub canary: String,
    /// The stable backends.
    pub stable: Vec<String>,
    /// The route's name.
    pub route: String,
    /// The route's namespace (empty when it has none).
    pub namespace: String,
    /// How long the step has baked so far.
    pub window: Duration,
}

/// The placeholders [`render`] knows.
pub const PLACEHOLDERS: [&str; 5] = ["canary", "stable", "route", "namespace", "window"];

/// Renders `template` with `vars` (see the module docs). The error says which placeholder is
/// wrong.
pub fn render(template: &str, vars: &TemplateVars) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            // Not a placeholder: keep `{{` and go on after it.
            out.push_str("{{");
            rest = after;
            continue;
        }
        out.push_str(&value(name, vars)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn value(name: &str, vars: &TemplateVars) -> Result<String, String> {
    Ok(match name {
        "canary" => string_escape(&vars.canary),
        "stable" => {
            if vars.stable.is_empty() {
                return Err("{{stable}} is used but the route has no stable backend".into());
            }
            string_escape(&alternation(&vars.stable))
        }
        "route" => string_escape(&vars.route),
        "namespace" => string_escape(&vars.namespace),
        "window" => window(vars.window),
        other => {
            return Err(format!(
                "unknown placeholder {{{{{other}}}}} (known: {})",
                PLACEHOLDERS.join(", ")
            ))
        }
    })
}

/// A PromQL range duration for `window`: whole seconds, rounded up, at least `1s`.
pub fn window(window: Duration) -> String {
    let mut secs = window.as_secs();
    if window.subsec_nanos() > 0 || secs == 0 {
        secs += 1;
    }
    format!("{secs}s")
}

/// `text` escaped for the inside of a double-quoted PromQL string (`\` and `"` escaped, control
/// characters as `\n`, `\t`, `\r` or `\xNN`).
pub fn string_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// `text` as an RE2 regular expression matching exactly it (every metacharacter escaped).
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A regular expression matching exactly the given names (`a\.x|b`), not yet string-escaped.
/// PromQL regex matchers are anchored at both ends, so this matches the whole label value.
pub fn alternation(names: &[String]) -> String {
    names
        .iter()
        .map(|n| regex_escape(n))
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> TemplateVars {
        TemplateVars {
            canary: "reviews-v2".into(),
            stable: vec!["reviews.default.svc.cluster.local_v1".into(), "b".into()],
            route: "HTTPRoute/shop/reviews".into(),
            namespace: "shop".into(),
            window: Duration::from_millis(36_200),
        }
    }

    #[test]
    fn placeholders_are_replaced_and_escaped() {
        let query = r#"sum(rate(x{backend="{{canary}}", ns="{{ namespace }}"}[{{window}}])) / sum(rate(x{backend=~"{{stable}}",route="{{route}}"}[{{window}}]))"#;
        assert_eq!(
            render(query, &vars()).unwrap(),
            r#"sum(rate(x{backend="reviews-v2", ns="shop"}[37s])) / sum(rate(x{backend=~"reviews\\.default\\.svc\\.cluster\\.local_v1|b",route="HTTPRoute/shop/reviews"}[37s]))"#
        );
    }

    #[test]
    fn values_cannot_break_out_of_their_string() {
        let v = TemplateVars {
            canary: "a\"} or vector(1) #\\\n".into(),
            stable: vec!["x|y".into(), "(z)".into()],
            ..vars()
        };
        assert_eq!(
            render(r#"{b="{{canary}}"}"#, &v).unwrap(),
            r#"{b="a\"} or vector(1) #\\\n"}"#
        );
        // Regex metacharacters are escaped, then the backslashes again for the string.
        assert_eq!(
            render(r#"{b=~"{{stable}}"}"#, &v).unwrap(),
            r#"{b=~"x\\|y|\\(z\\)"}"#
        );
        // A value that looks like a placeholder is not expanded again.
        let v = TemplateVars {
            canary: "{{route}}".into(),
            ..vars()
        };
        assert_eq!(render("{{canary}}", &v).unwrap(), "{{route}}");
    }

    #[test]
    fn unknown_placeholders_and_missing_stables_are_errors() {
        let err = render("x{b=\"{{canry}}\"}", &vars()).unwrap_err();
        assert!(err.contains("{{canry}}") && err.contains("canary"), "{err}");
        let err = render("{{Canary}}", &vars()).unwrap_err();
        assert!(err.contains("{{Canary}}"), "{err}");
        let v = TemplateVars {
            stable: vec![],
            ..vars()
        };
        let err = render("{{stable}}", &v).unwrap_err();
        assert!(err.contains("no stable backend"), "{err}");
    }

    #[test]
    fn other_braces_are_left_alone() {
        for text in ["{{", "a{{b", "x{{ 1 }}", "}}{{", "{{a-b}}", "{{}}"] {
            assert_eq!(render(text, &vars()).unwrap(), text, "{text}");
        }
    }

    #[test]
    fn windows_are_whole_seconds_rounded_up() {
        assert_eq!(window(Duration::ZERO), "1s");
        assert_eq!(window(Duration::from_millis(300)), "1s");
        assert_eq!(window(Duration::from_secs(37)), "37s");
        assert_eq!(window(Duration::from_millis(37_001)), "38s");
        assert_eq!(window(Duration::from_secs(3600)), "3600s");
    }
}
