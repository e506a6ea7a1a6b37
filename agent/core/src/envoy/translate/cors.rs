//! CORS policies of the three families → the per-route config of Envoy's CORS filter
//! (`envoy.extensions.filters.http.cors.v3.CorsPolicy`); the listener adds the filter when some
//! route has one.
//!
//! Allowed origins become string matchers: exact origins stay exact, regular expressions and
//! prefixes stay what they are, `*` (any origin) is the regular expression `.*`, and a Gateway
//! API wildcard host (`https://*.example.com`) a regular expression matching one or more labels
//! in its place. Methods and headers are joined with `,` as the response headers carry them;
//! `maxAge` is whole seconds.

use serde_json::{json, Map, Value as Json};

use super::actions;
use super::context::Ctx;
use super::matching;
use super::value;
use crate::path::FieldPath;

/// The name of Envoy's CORS filter.
pub(crate) const CORS_FILTER: &str = "envoy.filters.http.cors";
/// `@type` of a route's CORS policy.
const CORS_POLICY_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";
/// The `Access-Control-Max-Age` Gateway API uses when `maxAge` is not given.
const GATEWAY_DEFAULT_MAX_AGE: i64 = 5;

/// Puts a CORS policy into a route's fields and notes that the listener needs the filter.
pub(crate) fn apply(ctx: &mut Ctx<'_, '_>, extra: &mut Map<String, Json>, policy: Json) {
    actions::add_per_filter(extra, CORS_FILTER, policy);
    ctx.cors = true;
}

/// A networkservices `corsPolicy` (`allowOrigins`, `allowOriginRegexes`, `allowMethods`,
/// `allowHeaders`, `exposeHeaders`, `maxAge`, `allowCredentials`, `disabled`). A disabled policy
/// turns the filter off for the route (`filter_enabled` 0 %).
pub(crate) fn networkservices(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
) -> Option<Json> {
    let c = ctx.object(
        value,
        path,
        &[
            "allowOrigins",
            "allowOriginRegexes",
            "allowMethods",
            "allowHeaders",
            "exposeHeaders",
            "maxAge",
            "allowCredentials",
            "disabled",
        ],
    )?;
    let mut origins = Vec::new();
    for (_, origin) in strings(ctx, c, "allowOrigins", path) {
        origins.push(exact_origin(&origin));
    }
    for (i, regex) in strings(ctx, c, "allowOriginRegexes", path) {
        let at = path.key("allowOriginRegexes").index(i);
        origins.push(matching::string_match(ctx, "regex", &regex, false, &at));
    }
    let mut policy = base(origins);
    lists(ctx, c, path, &mut policy);
    if let Some(seconds) = max_age_seconds(ctx, c, path) {
        policy.insert("max_age".into(), json!(seconds.to_string()));
    }
    if let Some(credentials) = ctx.bool(c, "allowCredentials", path) {
        policy.insert("allow_credentials".into(), json!(credentials));
    }
    if ctx.bool(c, "disabled", path) == Some(true) {
        policy.insert(
            "filter_enabled".into(),
            json!({"default_value": {"numerator": 0, "denominator": "HUNDRED"}}),
        );
    }
    Some(Json::Object(policy))
}

/// An Istio `corsPolicy` (`allowOrigins` as string matches, the deprecated exact `allowOrigin`,
/// `allowMethods`, `allowHeaders`, `exposeHeaders`, `maxAge` as a duration, `allowCredentials`,
/// `unmatchedPreflights`).
pub(crate) fn istio(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let c = ctx.object(
        value,
        path,
        &[
            "allowOrigins",
            "allowOrigin",
            "allowMethods",
            "allowHeaders",
            "exposeHeaders",
            "maxAge",
            "allowCredentials",
            "unmatchedPreflights",
        ],
    )?;
    let mut origins = Vec::new();
    for (i, origin) in ctx.array(c, "allowOrigins", path).iter().enumerate() {
        let at = path.key("allowOrigins").index(i);
        let Some(m) = ctx.object(origin, &at, &["exact", "prefix", "regex"]) else {
            continue;
        };
        let given: Vec<&str> = ["exact", "prefix", "regex"]
            .into_iter()
            .filter(|k| m.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        let [kind] = given.as_slice() else {
            ctx.error(&at, "give exactly one of `exact`, `prefix` and `regex`");
            continue;
        };
        let Some(text) = ctx.str(m, kind, &at).map(str::to_string) else {
            continue;
        };
        origins.push(match *kind {
            "exact" => exact_origin(&text),
            kind => matching::string_match(ctx, kind, &text, false, &at.key(kind)),
        });
    }
    for (_, origin) in strings(ctx, c, "allowOrigin", path) {
        origins.push(exact_origin(&origin));
    }
    let mut policy = base(origins);
    lists(ctx, c, path, &mut policy);
    if let Some(text) = ctx.str(c, "maxAge", path) {
        match value::whole_seconds(text) {
            Some(seconds) => {
                policy.insert("max_age".into(), json!(seconds.to_string()));
            }
            None => ctx.error(
                &path.key("maxAge"),
                format!("`{text}` is not a whole number of seconds such as `86400s`"),
            ),
        }
    }
    if let Some(credentials) = ctx.bool(c, "allowCredentials", path) {
        policy.insert("allow_credentials".into(), json!(credentials));
    }
    match ctx.str(c, "unmatchedPreflights", path) {
        None | Some("UNSPECIFIED") | Some("FORWARD") => {}
        Some("IGNORE") => {
            policy.insert("forward_not_matching_preflights".into(), json!(false));
        }
        Some(other) => ctx.error(
            &path.key("unmatchedPreflights"),
            format!("`{other}` is not FORWARD or IGNORE"),
        ),
    }
    Some(Json::Object(policy))
}

/// A Gateway API `CORS` filter's `cors` (`allowOrigins` with `*` and wildcard hosts,
/// `allowMethods`, `allowHeaders`, `exposeHeaders`, `maxAge` in seconds (default 5),
/// `allowCredentials`).
pub(crate) fn gateway_api(
    ctx: &mut Ctx<'_, '_>,
    value: Option<&Json>,
    path: &FieldPath,
) -> Option<Json> {
    let Some(c) = value.and_then(|v| {
        ctx.object(
            v,
            path,
            &[
                "allowOrigins",
                "allowMethods",
                "allowHeaders",
                "exposeHeaders",
                "maxAge",
                "allowCredentials",
            ],
        )
    }) else {
        ctx.error(path, "the CORS filter has no `cors`");
        return None;
    };
    let mut origins = Vec::new();
    for (i, origin) in strings(ctx, c, "allowOrigins", path) {
        match gateway_origin(&origin) {
            Some(matcher) => origins.push(matcher),
            None => ctx.error(
                &path.key("allowOrigins").index(i),
                format!("`{origin}` is not `*` or `scheme://host[:port]`"),
            ),
        }
    }
    let mut policy = base(origins);
    lists(ctx, c, path, &mut policy);
    let max_age = ctx
        .int_in(c, "maxAge", path, 1..=i64::from(u32::MAX))
        .unwrap_or(GATEWAY_DEFAULT_MAX_AGE);
    policy.insert("max_age".into(), json!(max_age.to_string()));
    if let Some(credentials) = ctx.bool(c, "allowCredentials", path) {
        policy.insert("allow_credentials".into(), json!(credentials));
    }
    Some(Json::Object(policy))
}

/// The policy with its `@type` and origins.
fn base(origins: Vec<Json>) -> Map<String, Json> {
    let mut policy = Map::new();
    policy.insert("@type".into(), json!(CORS_POLICY_TYPE));
    if !origins.is_empty() {
        policy.insert("allow_origin_string_match".into(), Json::Array(origins));
    }
    policy
}

/// `allowMethods`, `allowHeaders` and `exposeHeaders`, joined with `,`.
fn lists(
    ctx: &mut Ctx<'_, '_>,
    c: &Map<String, Json>,
    path: &FieldPath,
    policy: &mut Map<String, Json>,
) {
    for (key, field) in [
        ("allowMethods", "allow_methods"),
        ("allowHeaders", "allow_headers"),
        ("exposeHeaders", "expose_headers"),
    ] {
        let items: Vec<String> = strings(ctx, c, key, path)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        if !items.is_empty() {
            policy.insert(field.into(), json!(items.join(",")));
        }
    }
}

/// The strings of a list field (with their index); other items are errors.
fn strings(
    ctx: &mut Ctx<'_, '_>,
    c: &Map<String, Json>,
    key: &str,
    path: &FieldPath,
) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, item) in ctx.array(c, key, path).iter().enumerate() {
        match item.as_str() {
            Some(s) => out.push((i, s.trim().to_string())),
            None => ctx.error(&path.key(key).index(i), "expected a string"),
        }
    }
    out
}

/// A networkservices `maxAge`: seconds, as a number or a string of digits (with an optional
/// `s`).
fn max_age_seconds(ctx: &mut Ctx<'_, '_>, c: &Map<String, Json>, path: &FieldPath) -> Option<u64> {
    let value = c.get("maxAge").filter(|v| !v.is_null())?;
    let seconds = match value {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().trim_end_matches('s').parse::<u64>().ok(),
        _ => None,
    };
    if seconds.is_none() {
        ctx.error(&path.key("maxAge"), "expected a whole number of seconds");
    }
    seconds
}

/// The matcher of an exact origin; `*` is any origin.
fn exact_origin(origin: &str) -> Json {
    if origin == "*" {
        json!({"safe_regex": {"regex": ".*"}})
    } else {
        json!({"exact": origin})
    }
}

/// The matcher of a Gateway API origin: `*`, `scheme://host[:port]`, where the host may be `*`
/// or start with `*.` (one or more labels). `None` when it has another form.
fn gateway_origin(origin: &str) -> Option<Json> {
    if origin == "*" {
        return Some(exact_origin(origin));
    }
    let (scheme, rest) = origin.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() || rest.contains('/') {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => {
            (host, Some(port))
        }
        Some(_) => return None,
        None => (rest, None),
    };
    let label = "[A-Za-z0-9-]+";
    let host_regex = if host == "*" {
        format!("{label}(\\.{label})*")
    } else if let Some(suffix) = host.strip_prefix("*.") {
        format!("{label}(\\.{label})*\\.{}", value::regex_escape(suffix))
    } else if host.contains('*') {
        return None;
    } else {
        return Some(json!({"exact": origin}));
    };
    let port = port.map_or_else(String::new, |p| format!(":{p}"));
    Some(json!({"safe_regex": {"regex": format!(
        "{}://{host_regex}{}",
        value::regex_escape(scheme),
        value::regex_escape(&port)
    )}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_origins_become_exact_or_regex_matchers() {
        assert_eq!(
            gateway_origin("https://a.example"),
            Some(json!({"exact": "https://a.example"}))
        );
        assert_eq!(
            gateway_origin("*"),
            Some(json!({"safe_regex": {"regex": ".*"}}))
        );
        let wildcard = gateway_origin("https://*.example.com:8443").expect("valid");
        let regex = wildcard["safe_regex"]["regex"].as_str().expect("regex");
        let re = regex::Regex::new(&format!("^{regex}$")).expect("compiles");
        assert!(re.is_match("https://a.example.com:8443"));
        assert!(re.is_match("https://a.b.example.com:8443"));
        assert!(!re.is_match("https://example.com:8443"));
        assert!(!re.is_match("https://a.example.com"));
        assert!(!re.is_match("http://a.example.com:8443"));
        assert_eq!(gateway_origin("example.com"), None);
        assert_eq!(gateway_origin("https://a.*.com"), None);
        assert_eq!(gateway_origin("https://a.com/path"), None);
    }
}
