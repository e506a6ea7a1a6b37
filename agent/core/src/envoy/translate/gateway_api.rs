//! Gateway API HTTPRoute and GRPCRoute → Envoy routes.
//!
//! Envoy takes the first route that matches, Gateway API the most specific one, so the routes
//! of one resource are ordered by the API's precedence: exact path, then regular expression,
//! then the longest prefix; then a method match; then most header matches; then most query
//! parameter matches; then rule and match order. GRPCRoute: service and method, then service
//! only, then method only, then none; then most header matches; then rule order.
//!
//! `PathPrefix` matches whole path segments (`/foo` matches `/foo/bar`, not `/foobar`), which
//! is Envoy's `path_separated_prefix`.

use serde_json::{json, Map, Value as Json};

use super::actions::{self, Forward, HeaderEdits};
use super::context::Ctx;
use super::networkservices::grpc_method_path;
use super::routes::{self, RouteEntry, RuleAction};
use super::{cors, matching, session, value};
use crate::ir::{BackendIr, RouteIr};
use crate::path::FieldPath;

/// Rule fields the translation handles.
const RULE: &[&str] = &[
    "name",
    "matches",
    "filters",
    "backendRefs",
    "timeouts",
    "retry",
    "sessionPersistence",
];
/// GRPCRoute rule fields the translation handles.
const GRPC_RULE: &[&str] = &[
    "name",
    "matches",
    "filters",
    "backendRefs",
    "sessionPersistence",
];
/// The redirect status Gateway API uses when none is given.
const DEFAULT_REDIRECT: i64 = 302;

/// How specific a match is, for ordering: smaller sorts first.
type Precedence = (u8, i64, u8, i64, i64, usize, usize);

/// The Envoy routes of an HTTPRoute, most specific first.
pub(crate) fn http_routes(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>) -> Vec<RouteEntry> {
    rules(ctx, route, false)
}

/// The Envoy routes of a GRPCRoute, most specific first.
pub(crate) fn grpc_routes(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>) -> Vec<RouteEntry> {
    rules(ctx, route, true)
}

/// One match of a rule, before the action is known.
struct MatchOut {
    matcher: Json,
    precedence: Precedence,
    /// The path prefix matched (for `ReplacePrefixMatch`), if the match is a prefix.
    prefix: Option<String>,
}

fn rules(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>, grpc: bool) -> Vec<RouteEntry> {
    let resource = ctx.resource;
    let spec_path = resource.spec_path();
    let Some(spec) = resource.body.get("spec") else {
        return Vec::new();
    };
    let Some(spec) = ctx.object(spec, &spec_path, &["parentRefs", "hostnames", "rules"]) else {
        return Vec::new();
    };
    let mut ordered: Vec<(Precedence, RouteEntry)> = Vec::new();
    for (i, rule) in ctx.array(spec, "rules", &spec_path).iter().enumerate() {
        let path = spec_path.key("rules").index(i);
        let Some(rule) = ctx.object(rule, &path, if grpc { GRPC_RULE } else { RULE }) else {
            continue;
        };
        let mut matches: Vec<MatchOut> = ctx
            .array(rule, "matches", &path)
            .iter()
            .enumerate()
            .filter_map(|(j, m)| {
                let at = path.key("matches").index(j);
                if grpc {
                    grpc_match(ctx, m, &at, i, j)
                } else {
                    http_match(ctx, m, &at, i, j)
                }
            })
            .collect();
        if matches.is_empty() {
            matches.push(MatchOut {
                matcher: json!({"prefix": "/"}),
                precedence: if grpc {
                    (3, 0, 0, 0, 0, i, 0)
                } else {
                    (2, -1, 1, 0, 0, i, 0)
                },
                prefix: Some(String::new()),
            });
        }
        let split = route.split_of(&path);
        let name = routes::rule_name(resource, &path);
        let several = matches.len() > 1;
        for (j, m) in matches.into_iter().enumerate() {
            let Some((action, extra)) =
                rule_action(ctx, rule, &path, split, grpc, m.prefix.as_deref())
            else {
                break;
            };
            let entry = RouteEntry {
                name: if several {
                    format!("{name}.matches[{j}]")
                } else {
                    name.clone()
                },
                matcher: m.matcher,
                action,
                extra,
            };
            ordered.push((m.precedence, entry));
        }
    }
    ordered.sort_by_key(|(precedence, _)| *precedence);
    ordered.into_iter().map(|(_, entry)| entry).collect()
}

/// An `HTTPRouteMatch` and its precedence.
fn http_match(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
    rule: usize,
    index: usize,
) -> Option<MatchOut> {
    let m = ctx.object(value, path, &["path", "headers", "queryParams", "method"])?;
    let mut matcher = Map::new();
    let mut prefix = None;
    let (rank, length) = match m.get("path").filter(|v| !v.is_null()) {
        Some(p) => {
            let at = path.key("path");
            let p = ctx.object(p, &at, &["type", "value"])?;
            let text = ctx.str(p, "value", &at).unwrap_or("/").to_string();
            let length = text.len() as i64;
            match ctx.str(p, "type", &at).unwrap_or("PathPrefix") {
                "Exact" => {
                    let (k, v) = matching::path_match(ctx, "path", &text, &at.key("value"));
                    matcher.insert(k, v);
                    (0, length)
                }
                "RegularExpression" => {
                    let (k, v) = matching::path_match(ctx, "regex", &text, &at.key("value"));
                    matcher.insert(k, v);
                    (1, length)
                }
                "PathPrefix" => {
                    let trimmed = text.trim_end_matches('/');
                    if trimmed.is_empty() {
                        matcher.insert("prefix".into(), json!("/"));
                    } else {
                        let (_, v) = matching::path_match(ctx, "prefix", trimmed, &at.key("value"));
                        matcher.insert("path_separated_prefix".into(), v);
                    }
                    prefix = Some(trimmed.to_string());
                    (2, length)
                }
                other => {
                    ctx.error(
                        &at.key("type"),
                        format!("unknown path match type `{other}`"),
                    );
                    return None;
                }
            }
        }
        None => {
            matcher.insert("prefix".into(), json!("/"));
            prefix = Some(String::new());
            (2, 1)
        }
    };
    let mut headers = named_matches(ctx, m, "headers", path, true);
    let header_count = headers.len() as i64;
    let method = ctx.str(m, "method", path).map(str::to_string);
    if let Some(method) = &method {
        let string = matching::string_match(ctx, "exact", method, false, &path.key("method"));
        headers.push(matching::header_match(":method", string, false));
    }
    if !headers.is_empty() {
        matcher.insert("headers".into(), Json::Array(headers));
    }
    let params = named_matches(ctx, m, "queryParams", path, false);
    let param_count = params.len() as i64;
    if !params.is_empty() {
        matcher.insert("query_parameters".into(), Json::Array(params));
    }
    let method_rank = if method.is_some() { 0 } else { 1 };
    Some(MatchOut {
        matcher: Json::Object(matcher),
        precedence: (
            rank,
            -length,
            method_rank,
            -header_count,
            -param_count,
            rule,
            index,
        ),
        prefix,
    })
}

/// `headers` or `queryParams` matches (`{type: Exact | RegularExpression, name, value}`).
fn named_matches(
    ctx: &mut Ctx<'_, '_>,
    m: &Map<String, Json>,
    key: &str,
    path: &FieldPath,
    header: bool,
) -> Vec<Json> {
    ctx.array(m, key, path)
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let at = path.key(key).index(i);
            let h = ctx.object(h, &at, &["type", "name", "value"])?;
            let Some(name) = ctx.str(h, "name", &at) else {
                ctx.error(&at, "the match has no `name`");
                return None;
            };
            let text = ctx.str(h, "value", &at).unwrap_or("");
            let kind = match ctx.str(h, "type", &at).unwrap_or("Exact") {
                "Exact" => "exact",
                "RegularExpression" => "regex",
                other => {
                    ctx.error(&at.key("type"), format!("unknown match type `{other}`"));
                    return None;
                }
            };
            let string = matching::string_match(ctx, kind, text, false, &at.key("value"));
            Some(if header {
                matching::header_match(name, string, false)
            } else {
                json!({"name": name, "string_match": string})
            })
        })
        .collect()
}

/// A `GRPCRouteMatch` and its precedence.
fn grpc_match(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
    rule: usize,
    index: usize,
) -> Option<MatchOut> {
    let m = ctx.object(value, path, &["method", "headers"])?;
    let mut matcher = Map::new();
    let rank = match m.get("method").filter(|v| !v.is_null()) {
        Some(method) => {
            let at = path.key("method");
            let method = ctx.object(method, &at, &["type", "service", "method"])?;
            let regex = match ctx.str(method, "type", &at).unwrap_or("Exact") {
                "Exact" => false,
                "RegularExpression" => true,
                other => {
                    ctx.error(
                        &at.key("type"),
                        format!("unknown method match type `{other}`"),
                    );
                    return None;
                }
            };
            let service = ctx.str(method, "service", &at).map(str::to_string);
            let name = ctx.str(method, "method", &at).map(str::to_string);
            let rank = match (&service, &name) {
                (Some(_), Some(_)) => 0,
                (Some(_), None) => 1,
                (None, Some(_)) => 2,
                (None, None) => 3,
            };
            let (k, v) = grpc_method_path(ctx, service.as_deref(), name.as_deref(), regex, &at);
            matcher.insert(k, v);
            rank
        }
        None => {
            matcher.insert("prefix".into(), json!("/"));
            3
        }
    };
    let headers = named_matches(ctx, m, "headers", path, true);
    let header_count = headers.len() as i64;
    if !headers.is_empty() {
        matcher.insert("headers".into(), Json::Array(headers));
    }
    Some(MatchOut {
        matcher: Json::Object(matcher),
        precedence: (rank, 0, 0, -header_count, 0, rule, index),
        prefix: None,
    })
}

/// The action of a rule (for one of its matches), and the route fields beside it.
fn rule_action(
    ctx: &mut Ctx<'_, '_>,
    rule: &Map<String, Json>,
    path: &FieldPath,
    split: Option<&crate::ir::Split>,
    grpc: bool,
    prefix: Option<&str>,
) -> Option<RuleAction> {
    let mut extra = Map::new();
    let mut redirect = None;
    let mut rewrite = Map::new();
    let mut mirrors = Vec::new();
    for (i, filter) in ctx.array(rule, "filters", path).iter().enumerate() {
        let at = path.key("filters").index(i);
        let Some(f) = ctx.object(
            filter,
            &at,
            &[
                "type",
                "requestHeaderModifier",
                "responseHeaderModifier",
                "requestRedirect",
                "urlRewrite",
                "requestMirror",
                "cors",
            ],
        ) else {
            continue;
        };
        match ctx.str(f, "type", &at).unwrap_or("") {
            "RequestHeaderModifier" => {
                header_edits(
                    ctx,
                    f.get("requestHeaderModifier"),
                    &at.key("requestHeaderModifier"),
                )
                .apply(&mut extra, "request");
            }
            "ResponseHeaderModifier" => {
                header_edits(
                    ctx,
                    f.get("responseHeaderModifier"),
                    &at.key("responseHeaderModifier"),
                )
                .apply(&mut extra, "response");
            }
            "RequestRedirect" if !grpc => {
                redirect = redirect_action(
                    ctx,
                    f.get("requestRedirect"),
                    &at.key("requestRedirect"),
                    prefix,
                );
            }
            "URLRewrite" if !grpc => {
                rewrite_fields(
                    ctx,
                    f.get("urlRewrite"),
                    &at.key("urlRewrite"),
                    prefix,
                    &mut rewrite,
                );
            }
            "RequestMirror" => {
                if let Some(policy) =
                    mirror_policy(ctx, f.get("requestMirror"), &at.key("requestMirror"), grpc)
                {
                    mirrors.push(policy);
                }
            }
            "CORS" if !grpc => {
                if let Some(policy) = cors::gateway_api(ctx, f.get("cors"), &at.key("cors")) {
                    cors::apply(ctx, &mut extra, policy);
                }
            }
            other => ctx.error(
                &at.key("type"),
                format!("filter `{other}` is not translated by the envoy target"),
            ),
        }
    }
    if let Some(persistence) = rule.get("sessionPersistence").filter(|v| !v.is_null()) {
        let at = path.key("sessionPersistence");
        if let Some(config) = session::gateway_api(ctx, persistence, &at) {
            session::apply(ctx, &mut extra, config);
        }
    }
    let has_backends = !ctx.array(rule, "backendRefs", path).is_empty();
    if let Some(redirect) = redirect {
        if has_backends {
            ctx.error(
                &path.key("backendRefs"),
                "`backendRefs` have no effect beside a RequestRedirect filter",
            );
        }
        return Some((("redirect", redirect), extra));
    }
    let Some(split) = split.filter(|s| !s.backends.is_empty()) else {
        // A rule without backends answers 500 in Gateway API.
        return Some((actions::direct_response(500, None), extra));
    };
    let mut edits = Vec::new();
    let mut aliases = Vec::new();
    let mut ports = Vec::new();
    for (j, b) in ctx.array(rule, "backendRefs", path).iter().enumerate() {
        let at = path.key("backendRefs").index(j);
        let Some(b) = ctx.object(
            b,
            &at,
            &[
                "group",
                "kind",
                "name",
                "namespace",
                "port",
                "weight",
                "filters",
            ],
        ) else {
            edits.push((HeaderEdits::default(), HeaderEdits::default()));
            aliases.push(Vec::new());
            ports.push(None);
            continue;
        };
        edits.push(backend_filters(ctx, b, &at));
        let backend = split.backends.get(j);
        aliases.push(backend.map(backend_aliases).unwrap_or_default());
        ports.push(ctx.int_in(b, "port", &at, 1..=65535).map(|p| p as u16));
    }
    let mut route = match actions::forward(ctx, split, edits, grpc, aliases, ports) {
        Forward::Route(route) => route,
        Forward::NoTraffic => return Some((actions::direct_response(500, None), extra)),
        Forward::Invalid => return None,
    };
    route.extend(rewrite);
    if let Some(timeouts) = rule.get("timeouts").filter(|v| !v.is_null()) {
        let at = path.key("timeouts");
        if let Some(t) = ctx.object(timeouts, &at, &["request"]) {
            if let Some(timeout) = ctx.duration(t, "request", &at) {
                route.insert("timeout".into(), json!(timeout));
            }
        }
    }
    if let Some(retry) = rule.get("retry").filter(|v| !v.is_null()) {
        if let Some(policy) = retry_policy(ctx, retry, &path.key("retry")) {
            route.insert("retry_policy".into(), policy);
        }
    }
    if !mirrors.is_empty() {
        route.insert("request_mirror_policies".into(), Json::Array(mirrors));
    }
    Some((("route", Json::Object(route)), extra))
}

/// Other names of a Gateway API backend: `namespace/name` and the Service's cluster DNS name.
pub(crate) fn backend_aliases(backend: &BackendIr) -> Vec<String> {
    vec![
        format!("{}/{}", backend.namespace, backend.name),
        format!("{}.{}.svc.cluster.local", backend.name, backend.namespace),
    ]
}

/// The header edits of a backend's filters (only header modifiers are allowed there).
fn backend_filters(
    ctx: &mut Ctx<'_, '_>,
    b: &Map<String, Json>,
    path: &FieldPath,
) -> (HeaderEdits, HeaderEdits) {
    let mut request = HeaderEdits::default();
    let mut response = HeaderEdits::default();
    for (i, filter) in ctx.array(b, "filters", path).iter().enumerate() {
        let at = path.key("filters").index(i);
        let Some(f) = ctx.object(
            filter,
            &at,
            &["type", "requestHeaderModifier", "responseHeaderModifier"],
        ) else {
            continue;
        };
        match ctx.str(f, "type", &at).unwrap_or("") {
            "RequestHeaderModifier" => {
                let edits = header_edits(
                    ctx,
                    f.get("requestHeaderModifier"),
                    &at.key("requestHeaderModifier"),
                );
                request.add.extend(edits.add);
                request.remove.extend(edits.remove);
            }
            "ResponseHeaderModifier" => {
                let edits = header_edits(
                    ctx,
                    f.get("responseHeaderModifier"),
                    &at.key("responseHeaderModifier"),
                );
                response.add.extend(edits.add);
                response.remove.extend(edits.remove);
            }
            other => ctx.error(
                &at.key("type"),
                format!("backend filter `{other}` is not translated by the envoy target"),
            ),
        }
    }
    (request, response)
}

/// A header modifier `{set: [{name, value}], add: [{name, value}], remove: [name]}`.
fn header_edits(ctx: &mut Ctx<'_, '_>, value: Option<&Json>, path: &FieldPath) -> HeaderEdits {
    let mut edits = HeaderEdits::default();
    let Some(m) = value.and_then(|v| ctx.object(v, path, &["set", "add", "remove"])) else {
        ctx.error(path, "the filter has no header modifier");
        return edits;
    };
    for (key, overwrite) in [("set", true), ("add", false)] {
        for (i, h) in ctx.array(m, key, path).iter().enumerate() {
            let at = path.key(key).index(i);
            let Some(h) = ctx.object(h, &at, &["name", "value"]) else {
                continue;
            };
            match (ctx.str(h, "name", &at), ctx.str(h, "value", &at)) {
                (Some(name), value) => edits.push(ctx, name, value.unwrap_or(""), overwrite, &at),
                (None, _) => ctx.error(&at, "the header has no `name`"),
            }
        }
    }
    for (i, name) in ctx.array(m, "remove", path).iter().enumerate() {
        let at = path.key("remove").index(i);
        match name.as_str() {
            Some(name) => edits.remove(ctx, name, &at),
            None => ctx.error(&at, "expected a header name"),
        }
    }
    edits
}

/// The `{type, replaceFullPath | replacePrefixMatch}` of a redirect or rewrite.
fn path_modifier(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<(bool, String)> {
    let p = ctx.object(
        value,
        path,
        &["type", "replaceFullPath", "replacePrefixMatch"],
    )?;
    match ctx.str(p, "type", path).unwrap_or("") {
        "ReplaceFullPath" => ctx
            .str(p, "replaceFullPath", path)
            .map(|v| (true, v.to_string())),
        "ReplacePrefixMatch" => ctx
            .str(p, "replacePrefixMatch", path)
            .map(|v| (false, v.to_string())),
        other => {
            ctx.error(
                &path.key("type"),
                format!("unknown path modifier `{other}`"),
            );
            None
        }
    }
}

/// A `RedirectAction` of a `requestRedirect`.
fn redirect_action(
    ctx: &mut Ctx<'_, '_>,
    value: Option<&Json>,
    path: &FieldPath,
    prefix: Option<&str>,
) -> Option<Json> {
    let Some(r) = value.and_then(|v| {
        ctx.object(
            v,
            path,
            &["scheme", "hostname", "path", "port", "statusCode"],
        )
    }) else {
        ctx.error(path, "the RequestRedirect filter has no `requestRedirect`");
        return None;
    };
    let mut redirect = Map::new();
    if let Some(scheme) = ctx.str(r, "scheme", path) {
        redirect.insert("scheme_redirect".into(), json!(scheme));
    }
    if let Some(host) = ctx.str(r, "hostname", path) {
        redirect.insert("host_redirect".into(), json!(host));
    }
    if let Some(port) = ctx.int_in(r, "port", path, 1..=65535) {
        redirect.insert("port_redirect".into(), json!(port));
    }
    if let Some(p) = r.get("path").filter(|v| !v.is_null()) {
        let at = path.key("path");
        match path_modifier(ctx, p, &at)? {
            (true, full) => {
                redirect.insert("path_redirect".into(), json!(full));
            }
            (false, replacement) => {
                if prefix.is_none() {
                    ctx.error(&at, "ReplacePrefixMatch needs a PathPrefix match");
                    return None;
                }
                redirect.insert("prefix_rewrite".into(), json!(replacement));
            }
        }
    }
    let code = ctx.int(r, "statusCode", path).unwrap_or(DEFAULT_REDIRECT);
    match value::redirect_code(code) {
        Some(name) => {
            redirect.insert("response_code".into(), json!(name));
        }
        None => ctx.error(
            &path.key("statusCode"),
            format!("{code} is not a redirect code Envoy sends (301, 302, 303, 307, 308)"),
        ),
    }
    Some(Json::Object(redirect))
}

/// The route fields of a `urlRewrite`: `host_rewrite_literal`, and `prefix_rewrite` or
/// `regex_rewrite` for the path.
fn rewrite_fields(
    ctx: &mut Ctx<'_, '_>,
    value: Option<&Json>,
    path: &FieldPath,
    prefix: Option<&str>,
    route: &mut Map<String, Json>,
) {
    let Some(r) = value.and_then(|v| ctx.object(v, path, &["hostname", "path"])) else {
        ctx.error(path, "the URLRewrite filter has no `urlRewrite`");
        return;
    };
    if let Some(host) = ctx.str(r, "hostname", path) {
        route.insert("host_rewrite_literal".into(), json!(host));
    }
    let Some(p) = r.get("path").filter(|v| !v.is_null()) else {
        return;
    };
    let at = path.key("path");
    match path_modifier(ctx, p, &at) {
        Some((true, full)) => {
            route.insert(
                "regex_rewrite".into(),
                json!({"pattern": {"regex": "^/.*$"}, "substitution": full}),
            );
        }
        Some((false, replacement)) => {
            let Some(prefix) = prefix else {
                ctx.error(&at, "ReplacePrefixMatch needs a PathPrefix match");
                return;
            };
            if prefix.is_empty() {
                let base = replacement.trim_end_matches('/');
                route.insert(
                    "regex_rewrite".into(),
                    json!({"pattern": {"regex": "^/"}, "substitution": format!("{base}/")}),
                );
            } else if replacement.ends_with('/') {
                route.insert(
                    "regex_rewrite".into(),
                    json!({
                        "pattern": {"regex": format!("^{}/*", value::regex_escape(prefix))},
                        "substitution": replacement,
                    }),
                );
            } else {
                route.insert("prefix_rewrite".into(), json!(replacement));
            }
        }
        None => {}
    }
}

/// A `RequestMirrorPolicy` of a `requestMirror` (`backendRef`, `percent` or `fraction`).
fn mirror_policy(
    ctx: &mut Ctx<'_, '_>,
    value: Option<&Json>,
    path: &FieldPath,
    grpc: bool,
) -> Option<Json> {
    let Some(m) = value.and_then(|v| ctx.object(v, path, &["backendRef", "percent", "fraction"]))
    else {
        ctx.error(path, "the RequestMirror filter has no `requestMirror`");
        return None;
    };
    let at = path.key("backendRef");
    let Some(b) = m
        .get("backendRef")
        .and_then(|b| ctx.object(b, &at, &["group", "kind", "name", "namespace", "port"]))
    else {
        ctx.error(path, "the mirror has no `backendRef`");
        return None;
    };
    let Some(name) = ctx.str(b, "name", &at).map(str::to_string) else {
        ctx.error(&at, "the backendRef has no `name`");
        return None;
    };
    let namespace = ctx
        .str(b, "namespace", &at)
        .map_or_else(|| ctx.resource.id.namespace.clone(), str::to_string);
    let port = ctx.int_in(b, "port", &at, 1..=65535).map(|p| p as u16);
    let backend = BackendIr {
        key: name.clone(),
        name,
        namespace,
        subset: None,
        weight: None,
        path: at,
    };
    let aliases = backend_aliases(&backend);
    let cluster = actions::mirror_backend(ctx, backend, aliases, port, grpc);
    let fraction = if m.get("percent").is_some_and(|v| !v.is_null()) {
        ctx.percent(m, "percent", path)
    } else if let Some(f) = m.get("fraction").filter(|v| !v.is_null()) {
        let fat = path.key("fraction");
        let f = ctx.object(f, &fat, &["numerator", "denominator"])?;
        let numerator = ctx.int_in(f, "numerator", &fat, 0..=i64::from(u32::MAX))?;
        let denominator = ctx
            .int_in(f, "denominator", &fat, 1..=i64::from(u32::MAX))
            .unwrap_or(100);
        let fraction = value::fraction(numerator as u64, denominator as u64);
        if fraction.is_none() {
            ctx.error(&fat, "the fraction is above 1");
        }
        fraction
    } else {
        None
    };
    Some(actions::mirror_policy(cluster, fraction))
}

/// A `RetryPolicy` of an `HTTPRouteRetry` (`codes`, `attempts`, `backoff`): connection failures
/// and refused streams are retried, and the listed status codes.
fn retry_policy(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let r = ctx.object(value, path, &["codes", "attempts", "backoff"])?;
    let mut conditions: Vec<(String, FieldPath)> = vec![
        ("connect-failure".into(), path.clone()),
        ("refused-stream".into(), path.clone()),
    ];
    for (i, code) in ctx.array(r, "codes", path).iter().enumerate() {
        let at = path.key("codes").index(i);
        match code.as_i64() {
            Some(code) => conditions.push((code.to_string(), at)),
            None => ctx.error(&at, "expected a status code"),
        }
    }
    let attempts = ctx
        .int_in(r, "attempts", path, 0..=i64::from(u32::MAX))
        .map(|n| n as u32);
    let backoff = ctx.duration(r, "backoff", path);
    let mut policy = actions::retry_policy(ctx, &conditions, attempts, None);
    if let (Some(backoff), Json::Object(map)) = (backoff, &mut policy) {
        map.insert("retry_back_off".into(), json!({"base_interval": backoff}));
    }
    Some(policy)
}
