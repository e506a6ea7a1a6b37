//! HTTPRoute (`gateway.networking.k8s.io/v1` and `v1beta1`, the same schema).

use serde_json::{json, Value as Json};

use super::common::{
    backend_ref, header_matches, header_name, hostnames, parent_refs, root, rule_name,
};
use super::filters::{filters, replaces_prefix, Filter};
use super::tri::{choose, exactly_one, has, holds, is, items, passes, Tri};
use crate::schema::model::{array, object, string, Schema};

/// Every filter type an HTTP route knows.
const KINDS: [Filter; 7] = [
    Filter::RequestHeaderModifier,
    Filter::ResponseHeaderModifier,
    Filter::RequestMirror,
    Filter::RequestRedirect,
    Filter::UrlRewrite,
    Filter::ExtensionRef,
    Filter::Cors,
];

/// The filter types a list may hold at most once.
const ONCE: [Filter; 5] = [
    Filter::Cors,
    Filter::RequestHeaderModifier,
    Filter::ResponseHeaderModifier,
    Filter::RequestRedirect,
    Filter::UrlRewrite,
];

/// The most matches a route may have across its rules.
const MAX_MATCHES: usize = 128;

/// The whole HTTPRoute object.
pub fn schema() -> Schema {
    let spec = object()
        .field("hostnames", hostnames())
        .field("parentRefs", parent_refs())
        .field("rules", rules());
    root(spec)
}

fn http_filters() -> Schema {
    filters(&KINDS, &ONCE)
}

fn rules() -> Schema {
    let backend = backend_ref().field("filters", http_filters());
    let rule = object()
        .field("backendRefs", array(backend).max_items(16))
        .field("filters", http_filters())
        .field(
            "matches",
            array(route_match())
                .max_items(64)
                .default_value(json!([{"path": {"type": "PathPrefix", "value": "/"}}])),
        )
        .field("name", rule_name())
        .field("timeouts", timeouts())
        .rule(
            no_redirect_with_backends,
            "a rule with `backendRefs` cannot also have a `RequestRedirect` filter",
        )
        .rule(
            redirect_prefix_has_one_prefix_match,
            "a `RequestRedirect` filter with `ReplacePrefixMatch` needs the rule to have exactly one match, of `type: PathPrefix`",
        )
        .rule(
            rewrite_prefix_has_one_prefix_match,
            "a `URLRewrite` filter with `ReplacePrefixMatch` needs the rule to have exactly one match, of `type: PathPrefix`",
        )
        .rule(
            backend_redirect_prefix_has_one_prefix_match,
            "a backend's `RequestRedirect` filter with `ReplacePrefixMatch` needs the rule to have exactly one match, of `type: PathPrefix`",
        )
        .rule(
            backend_rewrite_prefix_has_one_prefix_match,
            "a backend's `URLRewrite` filter with `ReplacePrefixMatch` needs the rule to have exactly one match, of `type: PathPrefix`",
        )
        .rule(
            prefix_modifiers_typed,
            "a path modifier with `replacePrefixMatch` needs a `type`: without it, the rule's matches cannot be checked against it",
        );
    array(rule)
        .min_items(1)
        .max_items(16)
        .default_value(json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]))
        .rule(
            at_most_128_matches,
            "a route may have at most 128 matches across all its rules",
        )
}

fn at_most_128_matches(rules: &Json) -> bool {
    let mut total = 0;
    for rule in items(rules).iter().take(16) {
        match rule.get("matches") {
            Some(m) => total += items(m).len(),
            None => return false,
        }
    }
    total <= MAX_MATCHES
}

fn no_redirect_with_backends(rule: &Json) -> bool {
    let has_backends = rule
        .get("backendRefs")
        .is_some_and(|b| !items(b).is_empty());
    !has_backends
        || rule.get("filters").is_none_or(|f| {
            items(f)
                .iter()
                .all(|f| !has(f, Filter::RequestRedirect.field()))
        })
}

/// Whether exactly one filter of `filters` replaces the path prefix with `field`.
fn one_prefix_replacement(filters: Option<&Json>, field: &str) -> Tri {
    let Some(filters) = filters else {
        return Some(false);
    };
    exactly_one(items(filters).iter().map(|f| replaces_prefix(f, field)))
}

/// The rule has exactly one match, and it is a `PathPrefix` one.
fn single_prefix_match(rule: &Json) -> Tri {
    let matches = items(rule.get("matches")?);
    Some(
        matches.len() == 1
            && matches[0]
                .get("path")
                .is_some_and(|p| is(p, "type", "PathPrefix") == Some(true)),
    )
}

fn prefix_rule(rule: &Json, replaced: Tri) -> bool {
    holds(choose(
        replaced,
        || single_prefix_match(rule),
        || Some(true),
    ))
}

/// No redirect or rewrite of the rule or its backends leaves its prefix replacement undecided.
fn prefix_modifiers_typed(rule: &Json) -> bool {
    let decided = |filters: Option<&Json>| {
        filters.is_none_or(|fs| {
            items(fs).iter().all(|f| {
                replaces_prefix(f, Filter::RequestRedirect.field()).is_some()
                    && replaces_prefix(f, Filter::UrlRewrite.field()).is_some()
            })
        })
    };
    decided(rule.get("filters"))
        && rule
            .get("backendRefs")
            .is_none_or(|bs| items(bs).iter().all(|b| decided(b.get("filters"))))
}

fn redirect_prefix_has_one_prefix_match(rule: &Json) -> bool {
    let field = Filter::RequestRedirect.field();
    prefix_rule(rule, one_prefix_replacement(rule.get("filters"), field))
}

fn rewrite_prefix_has_one_prefix_match(rule: &Json) -> bool {
    let field = Filter::UrlRewrite.field();
    prefix_rule(rule, one_prefix_replacement(rule.get("filters"), field))
}

/// Whether exactly one backend of the rule has exactly one filter replacing the path prefix.
fn one_backend_prefix_replacement(rule: &Json, field: &str) -> Tri {
    let Some(backends) = rule.get("backendRefs") else {
        return Some(false);
    };
    exactly_one(
        items(backends)
            .iter()
            .map(|b| one_prefix_replacement(b.get("filters"), field)),
    )
}

fn backend_redirect_prefix_has_one_prefix_match(rule: &Json) -> bool {
    let field = Filter::RequestRedirect.field();
    prefix_rule(rule, one_backend_prefix_replacement(rule, field))
}

fn backend_rewrite_prefix_has_one_prefix_match(rule: &Json) -> bool {
    let field = Filter::UrlRewrite.field();
    prefix_rule(rule, one_backend_prefix_replacement(rule, field))
}

fn route_match() -> Schema {
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    let query_param = object()
        .required_field("name", header_name())
        .field(
            "type",
            string()
                .one_of(&["Exact", "RegularExpression"])
                .default_value(json!("Exact")),
        )
        .required_field("value", string().length(1, 1024));
    object()
        .field("headers", header_matches())
        .field("method", string().one_of(&methods))
        .field("path", path_match())
        .field(
            "queryParams",
            array(query_param).max_items(16).map_list(&["name"]),
        )
}

fn path_match() -> Schema {
    object()
        .field(
            "type",
            string()
                .one_of(&["Exact", "PathPrefix", "RegularExpression"])
                .default_value(json!("PathPrefix")),
        )
        .field("value", string().max_length(1024).default_value(json!("/")))
        .default_value(json!({"type": "PathPrefix", "value": "/"}))
        .rule(path_absolute, "an `Exact` or `PathPrefix` path must start with `/`")
        .rule(no_double_slash, "an `Exact` or `PathPrefix` path must not contain `//`")
        .rule(no_dot_segment, "an `Exact` or `PathPrefix` path must not contain `/./`")
        .rule(no_dot_dot_segment, "an `Exact` or `PathPrefix` path must not contain `/../`")
        .rule(
            no_lower_encoded_slash,
            "an `Exact` or `PathPrefix` path must not contain an encoded slash `%2f`",
        )
        .rule(
            no_upper_encoded_slash,
            "an `Exact` or `PathPrefix` path must not contain an encoded slash `%2F`",
        )
        .rule(no_fragment, "an `Exact` or `PathPrefix` path must not contain `#`")
        .rule(no_dot_dot_end, "an `Exact` or `PathPrefix` path must not end with `/..`")
        .rule(no_dot_end, "an `Exact` or `PathPrefix` path must not end with `/.`")
        .rule(
            path_type_known,
            "a path match's `type` must be `Exact`, `PathPrefix` or `RegularExpression`",
        )
        .rule(
            path_characters,
            "an `Exact` or `PathPrefix` path may only hold URL path characters: letters, digits, `-._~!$&'()*+,;=:@/` and `%` escapes",
        )
}

/// `type in ['Exact', 'PathPrefix'] ? check(value) : true`.
fn literal_path(path: &Json, check: fn(&str) -> bool) -> bool {
    let literal = path
        .get("type")
        .map(|t| matches!(t.as_str(), Some("Exact" | "PathPrefix")));
    passes(choose(
        literal,
        || path.get("value").map(|v| v.as_str().is_some_and(check)),
        || Some(true),
    ))
}

fn path_absolute(path: &Json) -> bool {
    literal_path(path, |v| v.starts_with('/'))
}

fn no_double_slash(path: &Json) -> bool {
    literal_path(path, |v| !v.contains("//"))
}

fn no_dot_segment(path: &Json) -> bool {
    literal_path(path, |v| !v.contains("/./"))
}

fn no_dot_dot_segment(path: &Json) -> bool {
    literal_path(path, |v| !v.contains("/../"))
}

fn no_lower_encoded_slash(path: &Json) -> bool {
    literal_path(path, |v| !v.contains("%2f"))
}

fn no_upper_encoded_slash(path: &Json) -> bool {
    literal_path(path, |v| !v.contains("%2F"))
}

fn no_fragment(path: &Json) -> bool {
    literal_path(path, |v| !v.contains('#'))
}

fn no_dot_dot_end(path: &Json) -> bool {
    literal_path(path, |v| !v.ends_with("/.."))
}

fn no_dot_end(path: &Json) -> bool {
    literal_path(path, |v| !v.ends_with("/."))
}

fn path_type_known(path: &Json) -> bool {
    path.get("type").is_some_and(|t| {
        matches!(
            t.as_str(),
            Some("Exact" | "PathPrefix" | "RegularExpression")
        )
    })
}

fn path_characters(path: &Json) -> bool {
    literal_path(path, url_path_characters)
}

/// One or more RFC 3986 path characters or `%XX` escapes.
fn url_path_characters(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    !bytes.is_empty()
}

fn timeouts() -> Schema {
    let duration = || string().pattern(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$");
    object()
        .field("backendRequest", duration())
        .field("request", duration())
        .rule(
            backend_request_within_request,
            "`backendRequest` must be a duration no longer than `request` (unless `request` is 0s, no timeout)",
        )
}

fn backend_request_within_request(timeouts: &Json) -> bool {
    let (Some(request), Some(backend)) = (timeouts.get("request"), timeouts.get("backendRequest"))
    else {
        return true;
    };
    let Some(request) = request.as_str().and_then(super::duration::nanos) else {
        return false;
    };
    if request == 0 {
        return true;
    }
    backend
        .as_str()
        .and_then(super::duration::nanos)
        .is_some_and(|backend| backend <= request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_path_characters_follow_rfc_3986() {
        assert!(url_path_characters("/a/b%2Fc;x=1"));
        assert!(!url_path_characters("/a[0]"));
        assert!(!url_path_characters("/a%2"));
        assert!(!url_path_characters("/a%zz"));
        assert!(!url_path_characters(""));
        assert!(!url_path_characters("/é"));
    }

    #[test]
    fn prefix_rewrites_need_one_prefix_match() {
        let rule = json!({
            "matches": [{"path": {"type": "Exact", "value": "/a"}}],
            "filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}]
        });
        assert!(!rewrite_prefix_has_one_prefix_match(&rule));
        assert!(redirect_prefix_has_one_prefix_match(&rule));
    }

    #[test]
    fn backend_request_may_not_outlast_request() {
        assert!(!backend_request_within_request(
            &json!({"request": "1s", "backendRequest": "2s"})
        ));
        assert!(backend_request_within_request(
            &json!({"request": "0s", "backendRequest": "2s"})
        ));
        assert!(backend_request_within_request(
            &json!({"request": "1m", "backendRequest": "59s"})
        ));
    }
}
