//! Route filters, shared by HTTP and gRPC routes: header modifiers, mirrors, redirects,
//! rewrites, CORS and extension references, and the rules that tie a filter's `type` to the
//! one field that holds its settings.

use serde_json::{json, Value as Json};

use super::common::{backend_object_ref, header_name, local_object_ref, port, precise_hostname};
use super::tri::{and, has, is, items};
use crate::schema::model::{array, boolean, integer, object, string, NativeCheck, Schema};

/// A filter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Adds, sets or removes request headers.
    RequestHeaderModifier,
    /// Adds, sets or removes response headers.
    ResponseHeaderModifier,
    /// Copies requests to another backend.
    RequestMirror,
    /// Answers with a redirect.
    RequestRedirect,
    /// Rewrites the host or path.
    UrlRewrite,
    /// An implementation-specific filter.
    ExtensionRef,
    /// Cross-origin resource sharing.
    Cors,
}

/// Every filter type, in the order of [`Filter`]'s variants.
const ALL: [Filter; 7] = [
    Filter::RequestHeaderModifier,
    Filter::ResponseHeaderModifier,
    Filter::RequestMirror,
    Filter::RequestRedirect,
    Filter::UrlRewrite,
    Filter::ExtensionRef,
    Filter::Cors,
];

impl Filter {
    /// The value of the filter's `type`.
    pub const fn type_name(self) -> &'static str {
        match self {
            Filter::RequestHeaderModifier => "RequestHeaderModifier",
            Filter::ResponseHeaderModifier => "ResponseHeaderModifier",
            Filter::RequestMirror => "RequestMirror",
            Filter::RequestRedirect => "RequestRedirect",
            Filter::UrlRewrite => "URLRewrite",
            Filter::ExtensionRef => "ExtensionRef",
            Filter::Cors => "CORS",
        }
    }

    /// The field that holds the filter's settings.
    pub const fn field(self) -> &'static str {
        match self {
            Filter::RequestHeaderModifier => "requestHeaderModifier",
            Filter::ResponseHeaderModifier => "responseHeaderModifier",
            Filter::RequestMirror => "requestMirror",
            Filter::RequestRedirect => "requestRedirect",
            Filter::UrlRewrite => "urlRewrite",
            Filter::ExtensionRef => "extensionRef",
            Filter::Cors => "cors",
        }
    }

    fn settings(self) -> Schema {
        match self {
            Filter::RequestHeaderModifier | Filter::ResponseHeaderModifier => header_modifier(),
            Filter::RequestMirror => request_mirror(),
            Filter::RequestRedirect => request_redirect(),
            Filter::UrlRewrite => url_rewrite(),
            Filter::ExtensionRef => local_object_ref(),
            Filter::Cors => cors(),
        }
    }

    fn checks(self) -> &'static Checks {
        &CHECKS[self as usize]
    }
}

/// The rules of one filter type, as plain functions.
struct Checks {
    /// The settings field is set only when `type` names this filter.
    only_for_type: NativeCheck,
    /// A filter of this type has its settings field.
    settings_given: NativeCheck,
    /// A list holds at most one filter of this type.
    at_most_once: NativeCheck,
}

const fn checks<const K: usize>() -> Checks {
    Checks {
        only_for_type: only_for_type::<K>,
        settings_given: settings_given::<K>,
        at_most_once: at_most_once::<K>,
    }
}

const CHECKS: [Checks; 7] = [
    checks::<0>(),
    checks::<1>(),
    checks::<2>(),
    checks::<3>(),
    checks::<4>(),
    checks::<5>(),
    checks::<6>(),
];

/// The settings field is absent, or `type` names this filter (a missing `type` is `typed`'s).
fn only_for_type<const K: usize>(filter: &Json) -> bool {
    let f = ALL[K];
    !has(filter, f.field()) || is(filter, "type", f.type_name()) != Some(false)
}

/// The settings field is present, or `type` names another filter.
fn settings_given<const K: usize>(filter: &Json) -> bool {
    let f = ALL[K];
    has(filter, f.field()) || is(filter, "type", f.type_name()) != Some(true)
}

fn at_most_once<const K: usize>(filters: &Json) -> bool {
    let ty = ALL[K].type_name();
    items(filters)
        .iter()
        .filter(|f| is(f, "type", ty) == Some(true))
        .nth(1)
        .is_none()
}

fn typed(filter: &Json) -> bool {
    has(filter, "type")
}

fn all_typed(filters: &Json) -> bool {
    items(filters).iter().all(typed)
}

/// Some filter of the list has this `type`.
fn any_of_type(filters: &Json, ty: &str) -> bool {
    items(filters)
        .iter()
        .any(|f| is(f, "type", ty) == Some(true))
}

fn redirect_or_rewrite(filters: &Json) -> bool {
    !(any_of_type(filters, Filter::RequestRedirect.type_name())
        && any_of_type(filters, Filter::UrlRewrite.type_name()))
}

/// A list of filters of the given types, of which those in `once` may appear at most once.
pub fn filters(kinds: &[Filter], once: &[Filter]) -> Schema {
    let types: Vec<&str> = kinds.iter().map(|k| k.type_name()).collect();
    let mut filter = object()
        .required_field("type", string().one_of(&types))
        .rule(
            typed,
            "a filter needs a `type`: without it, which settings belong cannot be checked",
        );
    for kind in kinds {
        let (name, field) = (kind.type_name(), kind.field());
        filter = filter
            .field(field, kind.settings())
            .rule(
                kind.checks().only_for_type,
                &format!("`{field}` is only for a filter of `type: {name}`"),
            )
            .rule(
                kind.checks().settings_given,
                &format!("a filter of `type: {name}` needs its `{field}` settings"),
            );
    }
    let mut list = array(filter).max_items(16).rule(
        all_typed,
        "each filter needs a `type`: without it, the filter types of the list cannot be checked",
    );
    if kinds.contains(&Filter::RequestRedirect) && kinds.contains(&Filter::UrlRewrite) {
        list = list.rule(
            redirect_or_rewrite,
            "a `RequestRedirect` filter and a `URLRewrite` filter cannot be used together",
        );
    }
    for kind in once {
        list = list.rule(
            kind.checks().at_most_once,
            &format!(
                "at most one filter of `type: {}` per list",
                kind.type_name()
            ),
        );
    }
    list
}

/// Headers to set or add: names told apart, values not empty.
fn header_values() -> Schema {
    let header = object()
        .required_field("name", header_name())
        .required_field("value", string().length(1, 4096));
    array(header).max_items(16).map_list(&["name"])
}

/// `requestHeaderModifier` / `responseHeaderModifier`.
fn header_modifier() -> Schema {
    object()
        .field("add", header_values())
        .field("remove", array(string()).max_items(16).set())
        .field("set", header_values())
}

/// `requestMirror`.
fn request_mirror() -> Schema {
    let fraction = object()
        .field(
            "denominator",
            integer().at_least(1).default_value(json!(100)),
        )
        .required_field("numerator", integer().at_least(0))
        .rule(
            numerator_within_denominator,
            "`numerator` must not be greater than `denominator`",
        )
        .rule(
            has_numerator,
            "a fraction needs a `numerator`: without it, the fraction cannot be checked",
        );
    object()
        .required_field("backendRef", backend_object_ref())
        .field("fraction", fraction)
        .field("percent", integer().range(0, 100))
        .rule(
            percent_or_fraction,
            "give the mirrored share as `percent` or as `fraction`, not both",
        )
}

fn numerator_within_denominator(fraction: &Json) -> bool {
    let n = fraction.get("numerator").and_then(Json::as_f64);
    let d = fraction.get("denominator").and_then(Json::as_f64);
    match (n, d) {
        (Some(n), Some(d)) => n <= d,
        _ => true,
    }
}

fn has_numerator(fraction: &Json) -> bool {
    has(fraction, "numerator")
}

fn percent_or_fraction(mirror: &Json) -> bool {
    !(has(mirror, "percent") && has(mirror, "fraction"))
}

/// The `path` of a redirect or rewrite: `type` names the one field that is set.
fn path_modifier() -> Schema {
    object()
        .field("replaceFullPath", string().max_length(1024))
        .field("replacePrefixMatch", string().max_length(1024))
        .required_field(
            "type",
            string().one_of(&["ReplaceFullPath", "ReplacePrefixMatch"]),
        )
        .rule(
            full_path_given,
            "`type: ReplaceFullPath` needs `replaceFullPath`",
        )
        .rule(
            full_path_typed,
            "`replaceFullPath` is only for `type: ReplaceFullPath`",
        )
        .rule(
            prefix_given,
            "`type: ReplacePrefixMatch` needs `replacePrefixMatch`",
        )
        .rule(
            prefix_typed,
            "`replacePrefixMatch` is only for `type: ReplacePrefixMatch`",
        )
        .rule(
            path_typed,
            "a path modifier needs a `type`: without it, which replacement applies cannot be checked",
        )
}

fn path_typed(path: &Json) -> bool {
    has(path, "type")
}

/// `type == ty ? has(field) : true`.
fn given_when(path: &Json, ty: &str, field: &str) -> bool {
    is(path, "type", ty) != Some(true) || has(path, field)
}

/// `has(field) ? type == ty : true`.
fn typed_when(path: &Json, ty: &str, field: &str) -> bool {
    !has(path, field) || is(path, "type", ty) != Some(false)
}

fn full_path_given(path: &Json) -> bool {
    given_when(path, "ReplaceFullPath", "replaceFullPath")
}

fn full_path_typed(path: &Json) -> bool {
    typed_when(path, "ReplaceFullPath", "replaceFullPath")
}

fn prefix_given(path: &Json) -> bool {
    given_when(path, "ReplacePrefixMatch", "replacePrefixMatch")
}

fn prefix_typed(path: &Json) -> bool {
    typed_when(path, "ReplacePrefixMatch", "replacePrefixMatch")
}

/// `requestRedirect`.
fn request_redirect() -> Schema {
    let mut status = integer().default_value(json!(302));
    status.allowed = [301, 302, 303, 307, 308]
        .into_iter()
        .map(Json::from)
        .collect();
    object()
        .field("hostname", precise_hostname())
        .field("path", path_modifier())
        .field("port", port())
        .field("scheme", string().one_of(&["http", "https"]))
        .field("statusCode", status)
}

/// `urlRewrite`.
fn url_rewrite() -> Schema {
    object()
        .field("hostname", precise_hostname())
        .field("path", path_modifier())
}

/// `cors`.
fn cors() -> Schema {
    let origin = string().length(1, 253).pattern(
        r"(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)",
    );
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*",
    ];
    object()
        .field("allowCredentials", boolean())
        .field(
            "allowHeaders",
            array(header_name())
                .max_items(64)
                .set()
                .rule(wildcard_alone, "`*` allows every header: list it alone"),
        )
        .field(
            "allowMethods",
            array(string().one_of(&methods))
                .max_items(9)
                .set()
                .rule(wildcard_alone, "`*` allows every method: list it alone"),
        )
        .field(
            "allowOrigins",
            array(origin)
                .max_items(64)
                .set()
                .rule(wildcard_alone, "`*` allows every origin: list it alone"),
        )
        .field("exposeHeaders", array(header_name()).max_items(64).set())
        .field("maxAge", integer().at_least(1).default_value(json!(5)))
}

/// `*` is the only item, or absent.
fn wildcard_alone(list: &Json) -> bool {
    let list = items(list);
    list.len() <= 1 || !list.iter().any(|v| v.as_str() == Some("*"))
}

/// Whether a filter's `field` (`requestRedirect` or `urlRewrite`) replaces the matched path
/// prefix.
pub fn replaces_prefix(filter: &Json, field: &str) -> Option<bool> {
    let Some(path) = filter.get(field).and_then(|s| s.get("path")) else {
        return Some(false);
    };
    and(
        is(path, "type", "ReplacePrefixMatch"),
        Some(has(path, "replacePrefixMatch")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_type_and_its_settings_go_together() {
        let cors = Filter::Cors.checks();
        assert!((cors.only_for_type)(&json!({"type": "CORS", "cors": {}})));
        assert!(!(cors.only_for_type)(
            &json!({"type": "URLRewrite", "cors": {}})
        ));
        assert!(!(cors.settings_given)(&json!({"type": "CORS"})));
        assert!((cors.settings_given)(&json!({})) && !typed(&json!({})));
        assert!((cors.settings_given)(&json!({"type": "URLRewrite"})));
        assert!(!(cors.at_most_once)(
            &json!([{"type": "CORS"}, {"type": "CORS"}])
        ));
        assert!(!redirect_or_rewrite(
            &json!([{"type": "RequestRedirect"}, {"type": "URLRewrite"}])
        ));
        assert!(redirect_or_rewrite(&json!([{"type": "URLRewrite"}])));
    }

    #[test]
    fn checks_follow_the_filter_order() {
        for (i, f) in ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
        }
    }
}
