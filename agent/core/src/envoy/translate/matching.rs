//! Envoy matchers shared by the translators: strings, headers and paths.

use serde_json::{json, Map, Value as Json};

use super::context::Ctx;
use crate::path::FieldPath;

/// A `StringMatcher`: `kind` is `exact`, `prefix`, `suffix`, `contains` or `regex`.
pub(crate) fn string_match(
    ctx: &mut Ctx<'_, '_>,
    kind: &str,
    value: &str,
    ignore_case: bool,
    path: &FieldPath,
) -> Json {
    let mut matcher = Map::new();
    if kind == "regex" {
        check_regex(ctx, value, path);
        matcher.insert("safe_regex".into(), json!({"regex": value}));
    } else {
        matcher.insert(kind.into(), Json::String(value.into()));
        if ignore_case {
            matcher.insert("ignore_case".into(), Json::Bool(true));
        }
    }
    Json::Object(matcher)
}

/// Reports a regular expression RE2 would not take.
pub(crate) fn check_regex(ctx: &mut Ctx<'_, '_>, regex: &str, path: &FieldPath) {
    if let Err(error) = regex::Regex::new(regex) {
        let reason = error.to_string();
        let last = reason
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .to_string();
        ctx.error(
            path,
            format!("`{regex}` is not a valid regular expression: {last}"),
        );
    }
}

/// A `HeaderMatcher` for `name` with a string matcher; `invert` inverts it.
pub(crate) fn header_match(name: &str, matcher: Json, invert: bool) -> Json {
    let mut header = Map::new();
    header.insert("name".into(), Json::String(name.to_ascii_lowercase()));
    header.insert("string_match".into(), matcher);
    if invert {
        header.insert("invert_match".into(), Json::Bool(true));
    }
    Json::Object(header)
}

/// A `HeaderMatcher` that tests presence (`present: false` tests absence).
pub(crate) fn header_present(name: &str, present: bool) -> Json {
    if present {
        json!({"name": name.to_ascii_lowercase(), "present_match": true})
    } else {
        json!({"name": name.to_ascii_lowercase(), "present_match": true, "invert_match": true})
    }
}

/// A path match: `path` (exact), `prefix`, `path_separated_prefix` or `safe_regex`.
pub(crate) fn path_match(
    ctx: &mut Ctx<'_, '_>,
    kind: &str,
    value: &str,
    path: &FieldPath,
) -> (String, Json) {
    match kind {
        "regex" => {
            check_regex(ctx, value, path);
            ("safe_regex".into(), json!({"regex": value}))
        }
        _ => {
            if !value.starts_with('/') {
                ctx.error(path, format!("path `{value}` does not start with `/`"));
            }
            (kind.to_string(), Json::String(value.to_string()))
        }
    }
}
