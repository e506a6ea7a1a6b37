//! Cloud Service Mesh service routing (networkservices v1) HttpRoute and GrpcRoute → Envoy
//! routes. Rules keep their order (the first match wins, as in the API).

use serde_json::{json, Map, Value as Json};

use super::actions::{self, Forward, HeaderEdits};
use super::context::Ctx;
use super::routes::{self, RouteAction, RouteEntry, RuleAction};
use super::{cors, matching, session};
use crate::ir::{BackendIr, RouteIr};
use crate::model::networkservices::short_name;
use crate::path::FieldPath;

/// Action fields of an HttpRoute rule.
const HTTP_ACTION: &[&str] = &[
    "destinations",
    "redirect",
    "faultInjectionPolicy",
    "requestHeaderModifier",
    "responseHeaderModifier",
    "urlRewrite",
    "timeout",
    "retryPolicy",
    "requestMirrorPolicy",
    "directResponse",
    "idleTimeout",
    "corsPolicy",
    "statefulSessionAffinity",
];

/// Action fields of a GrpcRoute rule.
const GRPC_ACTION: &[&str] = &[
    "destinations",
    "faultInjectionPolicy",
    "timeout",
    "retryPolicy",
    "idleTimeout",
    "statefulSessionAffinity",
];

/// The Envoy routes of an HttpRoute.
pub(crate) fn http_routes(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>) -> Vec<RouteEntry> {
    rules(ctx, route, false)
}

/// The Envoy routes of a GrpcRoute.
pub(crate) fn grpc_routes(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>) -> Vec<RouteEntry> {
    rules(ctx, route, true)
}

fn rules(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>, grpc: bool) -> Vec<RouteEntry> {
    let resource = ctx.resource;
    let body = &resource.body;
    let root = FieldPath::root();
    let rules = match body.get("rules") {
        Some(Json::Array(rules)) => rules.as_slice(),
        _ => &[],
    };
    let mut entries = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let path = root.key("rules").index(i);
        let Some(rule) = ctx.object(rule, &path, &["matches", "action"]) else {
            continue;
        };
        let matchers: Vec<Json> = ctx
            .array(rule, "matches", &path)
            .iter()
            .enumerate()
            .filter_map(|(j, m)| {
                let at = path.key("matches").index(j);
                if grpc {
                    grpc_match(ctx, m, &at)
                } else {
                    http_match(ctx, m, &at)
                }
            })
            .collect();
        let split = route.split_of(&path);
        let Some(action) = rule.get("action") else {
            ctx.error(&path, "the rule has no `action`");
            continue;
        };
        let Some((action, extra)) = rule_action(ctx, action, &path.key("action"), split, grpc)
        else {
            continue;
        };
        let name = routes::rule_name(ctx.resource, &path);
        entries.extend(routes::expand(&name, "matches", matchers, &action, &extra));
    }
    entries
}

/// An HttpRoute `RouteMatch`.
fn http_match(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let m = ctx.object(
        value,
        path,
        &[
            "fullPathMatch",
            "prefixMatch",
            "regexMatch",
            "ignoreCase",
            "headers",
            "queryParameters",
        ],
    )?;
    let ignore_case = ctx.bool(m, "ignoreCase", path).unwrap_or(false);
    let mut matcher = Map::new();
    let given: Vec<(&str, &str)> = [
        ("fullPathMatch", "path"),
        ("prefixMatch", "prefix"),
        ("regexMatch", "regex"),
    ]
    .into_iter()
    .filter(|(key, _)| m.get(*key).is_some_and(|v| !v.is_null()))
    .collect();
    if given.len() > 1 {
        ctx.error(
            path,
            "only one of fullPathMatch, prefixMatch and regexMatch may be set",
        );
    }
    match given.first() {
        Some((key, kind)) => {
            let value = ctx.str(m, key, path).unwrap_or("/").to_string();
            let value = if *kind == "regex" && ignore_case {
                format!("(?i){value}")
            } else {
                value
            };
            let (k, v) = matching::path_match(ctx, kind, &value, &path.key(key));
            matcher.insert(k, v);
        }
        None => {
            matcher.insert("prefix".into(), json!("/"));
        }
    }
    if ignore_case {
        matcher.insert("case_sensitive".into(), json!(false));
    }
    let headers: Vec<Json> = ctx
        .array(m, "headers", path)
        .iter()
        .enumerate()
        .filter_map(|(j, h)| header_match(ctx, h, &path.key("headers").index(j)))
        .collect();
    if !headers.is_empty() {
        matcher.insert("headers".into(), Json::Array(headers));
    }
    let params: Vec<Json> = ctx
        .array(m, "queryParameters", path)
        .iter()
        .enumerate()
        .filter_map(|(j, q)| query_match(ctx, q, &path.key("queryParameters").index(j)))
        .collect();
    if !params.is_empty() {
        matcher.insert("query_parameters".into(), Json::Array(params));
    }
    Some(Json::Object(matcher))
}

/// An HttpRoute `HeaderMatch`.
fn header_match(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let h = ctx.object(
        value,
        path,
        &[
            "header",
            "exactMatch",
            "regexMatch",
            "prefixMatch",
            "presentMatch",
            "suffixMatch",
            "rangeMatch",
            "invertMatch",
        ],
    )?;
    let Some(name) = ctx.str(h, "header", path) else {
        ctx.error(path, "the header match has no `header`");
        return None;
    };
    let invert = ctx.bool(h, "invertMatch", path).unwrap_or(false);
    for (key, kind) in [
        ("exactMatch", "exact"),
        ("regexMatch", "regex"),
        ("prefixMatch", "prefix"),
        ("suffixMatch", "suffix"),
    ] {
        if let Some(v) = ctx.str(h, key, path) {
            let matcher = matching::string_match(ctx, kind, v, false, &path.key(key));
            return Some(matching::header_match(name, matcher, invert));
        }
    }
    if let Some(present) = ctx.bool(h, "presentMatch", path) {
        return Some(matching::header_present(name, present != invert));
    }
    if let Some(range) = h.get("rangeMatch") {
        let at = path.key("rangeMatch");
        let r = ctx.object(range, &at, &["start", "end"])?;
        let start = ctx.int(r, "start", &at).unwrap_or(0);
        let Some(end) = ctx.int(r, "end", &at) else {
            ctx.error(&at, "the range has no `end`");
            return None;
        };
        if start >= end {
            ctx.error(&at, "`start` must be below `end` (the end is exclusive)");
            return None;
        }
        let mut header = Map::new();
        header.insert("name".into(), json!(name.to_ascii_lowercase()));
        header.insert(
            "range_match".into(),
            json!({"start": start.to_string(), "end": end.to_string()}),
        );
        if invert {
            header.insert("invert_match".into(), json!(true));
        }
        return Some(Json::Object(header));
    }
    // A header match with only a name tests presence.
    Some(matching::header_present(name, !invert))
}

/// An HttpRoute `QueryParameterMatch`.
fn query_match(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let q = ctx.object(
        value,
        path,
        &["queryParameter", "exactMatch", "regexMatch", "presentMatch"],
    )?;
    let Some(name) = ctx.str(q, "queryParameter", path) else {
        ctx.error(path, "the query parameter match has no `queryParameter`");
        return None;
    };
    for (key, kind) in [("exactMatch", "exact"), ("regexMatch", "regex")] {
        if let Some(v) = ctx.str(q, key, path) {
            let matcher = matching::string_match(ctx, kind, v, false, &path.key(key));
            return Some(json!({"name": name, "string_match": matcher}));
        }
    }
    match ctx.bool(q, "presentMatch", path) {
        Some(false) => {
            ctx.error(
                &path.key("presentMatch"),
                "Envoy cannot match the absence of a query parameter",
            );
            None
        }
        _ => Some(json!({"name": name, "present_match": true})),
    }
}

/// A GrpcRoute match: `method` and `headers`.
fn grpc_match(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let m = ctx.object(value, path, &["method", "headers"])?;
    let mut matcher = Map::new();
    match m.get("method") {
        Some(method) if !method.is_null() => {
            let at = path.key("method");
            let method = ctx.object(
                method,
                &at,
                &["type", "grpcService", "grpcMethod", "caseSensitive"],
            )?;
            let regex = match ctx.str(method, "type", &at).unwrap_or("EXACT") {
                "EXACT" | "TYPE_UNSPECIFIED" => false,
                "REGULAR_EXPRESSION" => true,
                other => {
                    ctx.error(
                        &at.key("type"),
                        format!("unknown method match type `{other}`"),
                    );
                    false
                }
            };
            let service = ctx.str(method, "grpcService", &at).map(str::to_string);
            let name = ctx.str(method, "grpcMethod", &at).map(str::to_string);
            let (k, v) = grpc_method_path(ctx, service.as_deref(), name.as_deref(), regex, &at);
            matcher.insert(k, v);
            if ctx.bool(method, "caseSensitive", &at) == Some(false) {
                matcher.insert("case_sensitive".into(), json!(false));
            }
        }
        _ => {
            matcher.insert("prefix".into(), json!("/"));
        }
    }
    let headers: Vec<Json> = ctx
        .array(m, "headers", path)
        .iter()
        .enumerate()
        .filter_map(|(j, h)| {
            let at = path.key("headers").index(j);
            let h = ctx.object(h, &at, &["type", "key", "value"])?;
            let Some(key) = ctx.str(h, "key", &at) else {
                ctx.error(&at, "the header match has no `key`");
                return None;
            };
            let value = ctx.str(h, "value", &at).unwrap_or("");
            let kind = match ctx.str(h, "type", &at).unwrap_or("EXACT") {
                "REGULAR_EXPRESSION" => "regex",
                "EXACT" | "TYPE_UNSPECIFIED" => "exact",
                other => {
                    ctx.error(
                        &at.key("type"),
                        format!("unknown header match type `{other}`"),
                    );
                    "exact"
                }
            };
            let string = matching::string_match(ctx, kind, value, false, &at.key("value"));
            Some(matching::header_match(key, string, false))
        })
        .collect();
    if !headers.is_empty() {
        matcher.insert("headers".into(), Json::Array(headers));
    }
    Some(Json::Object(matcher))
}

/// The path match of a gRPC method: `/service/method` exactly, `/service/` as a prefix, or a
/// regular expression when a part is missing or `regex` is set.
pub(crate) fn grpc_method_path(
    ctx: &mut Ctx<'_, '_>,
    service: Option<&str>,
    method: Option<&str>,
    regex: bool,
    path: &FieldPath,
) -> (String, Json) {
    let any = "[^/]+";
    if regex {
        let pattern = format!("/{}/{}", service.unwrap_or(any), method.unwrap_or(any));
        return matching::path_match(ctx, "regex", &pattern, path);
    }
    match (service, method) {
        (Some(s), Some(m)) => ("path".into(), json!(format!("/{s}/{m}"))),
        (Some(s), None) => ("prefix".into(), json!(format!("/{s}/"))),
        (None, Some(m)) => {
            let pattern = format!("/{any}/{}", super::value::regex_escape(m));
            matching::path_match(ctx, "regex", &pattern, path)
        }
        (None, None) => ("prefix".into(), json!("/")),
    }
}

/// The action of a rule, and the route fields beside it.
fn rule_action(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
    split: Option<&crate::ir::Split>,
    grpc: bool,
) -> Option<RuleAction> {
    let known = if grpc { GRPC_ACTION } else { HTTP_ACTION };
    let a = ctx.object(value, path, known)?;
    let mut extra = Map::new();
    for (key, direction) in [
        ("requestHeaderModifier", "request"),
        ("responseHeaderModifier", "response"),
    ] {
        if let Some(v) = a.get(key) {
            actions::header_edits_map(ctx, v, &path.key(key)).apply(&mut extra, direction);
        }
    }
    if let Some(fault) = a.get("faultInjectionPolicy") {
        if let Some(config) = fault_policy(ctx, fault, &path.key("faultInjectionPolicy")) {
            for (filter, config) in config {
                actions::add_per_filter(&mut extra, &filter, config);
            }
            ctx.fault = true;
        }
    }
    if let Some(policy) = a.get("corsPolicy").filter(|v| !v.is_null()) {
        if let Some(policy) = cors::networkservices(ctx, policy, &path.key("corsPolicy")) {
            cors::apply(ctx, &mut extra, policy);
        }
    }
    if let Some(affinity) = a.get("statefulSessionAffinity").filter(|v| !v.is_null()) {
        let at = path.key("statefulSessionAffinity");
        if let Some(config) = session::networkservices(ctx, affinity, &at) {
            session::apply(ctx, &mut extra, config);
        }
    }
    let forwarding_only = [
        "timeout",
        "retryPolicy",
        "urlRewrite",
        "requestMirrorPolicy",
        "idleTimeout",
        "statefulSessionAffinity",
    ];
    if let Some(redirect) = a.get("redirect") {
        reject_beside(ctx, a, path, "redirect", &forwarding_only);
        let redirect = redirect_action(ctx, redirect, &path.key("redirect"))?;
        return Some((("redirect", redirect), extra));
    }
    if let Some(response) = a.get("directResponse") {
        reject_beside(ctx, a, path, "directResponse", &forwarding_only);
        return Some((
            direct_response(ctx, response, &path.key("directResponse"))?,
            extra,
        ));
    }
    let Some(split) = split.filter(|s| !s.backends.is_empty()) else {
        ctx.error(
            path,
            "the action has no destinations, redirect or directResponse",
        );
        return None;
    };
    let destinations = ctx.array(a, "destinations", path);
    let mut edits = Vec::new();
    let mut aliases = Vec::new();
    for (i, d) in destinations.iter().enumerate() {
        let at = path.key("destinations").index(i);
        let Some(d) = ctx.object(
            d,
            &at,
            &[
                "serviceName",
                "weight",
                "requestHeaderModifier",
                "responseHeaderModifier",
            ],
        ) else {
            edits.push((HeaderEdits::default(), HeaderEdits::default()));
            aliases.push(Vec::new());
            continue;
        };
        let request = d
            .get("requestHeaderModifier")
            .map_or_else(HeaderEdits::default, |v| {
                actions::header_edits_map(ctx, v, &at.key("requestHeaderModifier"))
            });
        let response = d
            .get("responseHeaderModifier")
            .map_or_else(HeaderEdits::default, |v| {
                actions::header_edits_map(ctx, v, &at.key("responseHeaderModifier"))
            });
        edits.push((request, response));
        aliases.push(
            ctx.str(d, "serviceName", &at)
                .map(|s| vec![s.to_string()])
                .unwrap_or_default(),
        );
    }
    let ports = vec![None; split.backends.len()];
    let mut route = match actions::forward(ctx, split, edits, grpc, aliases, ports) {
        Forward::Route(route) => route,
        Forward::NoTraffic => return Some((actions::direct_response(500, None), extra)),
        Forward::Invalid => return None,
    };
    if let Some(timeout) = ctx.duration(a, "timeout", path) {
        route.insert("timeout".into(), json!(timeout));
    }
    if let Some(idle) = ctx.duration(a, "idleTimeout", path) {
        route.insert("idle_timeout".into(), json!(idle));
    }
    if let Some(retry) = a.get("retryPolicy") {
        if let Some(policy) = retry_policy(ctx, retry, &path.key("retryPolicy")) {
            route.insert("retry_policy".into(), policy);
        }
    }
    if let Some(rewrite) = a.get("urlRewrite") {
        let at = path.key("urlRewrite");
        if let Some(r) = ctx.object(rewrite, &at, &["pathPrefixRewrite", "hostRewrite"]) {
            if let Some(prefix) = ctx.str(r, "pathPrefixRewrite", &at) {
                route.insert("prefix_rewrite".into(), json!(prefix));
            }
            if let Some(host) = ctx.str(r, "hostRewrite", &at) {
                route.insert("host_rewrite_literal".into(), json!(host));
            }
        }
    }
    if let Some(mirror) = a.get("requestMirrorPolicy") {
        if let Some(policy) = mirror_policy(ctx, mirror, &path.key("requestMirrorPolicy"), grpc) {
            route.insert("request_mirror_policies".into(), json!([policy]));
        }
    }
    Some((("route", Json::Object(route)), extra))
}

/// Reports fields that only apply when forwarding, set beside a redirect or direct response.
fn reject_beside(
    ctx: &mut Ctx<'_, '_>,
    a: &Map<String, Json>,
    path: &FieldPath,
    action: &str,
    keys: &[&str],
) {
    for key in keys.iter().chain(["destinations"].iter()) {
        if a.get(*key).is_some_and(|v| !v.is_null()) {
            ctx.error(
                &path.key(key),
                format!("`{key}` has no effect beside `{action}` (nothing is forwarded)"),
            );
        }
    }
}

/// A `RedirectAction`.
fn redirect_action(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let r = ctx.object(
        value,
        path,
        &[
            "hostRedirect",
            "pathRedirect",
            "prefixRewrite",
            "responseCode",
            "httpsRedirect",
            "stripQuery",
            "portRedirect",
        ],
    )?;
    let mut redirect = Map::new();
    if let Some(host) = ctx.str(r, "hostRedirect", path) {
        redirect.insert("host_redirect".into(), json!(host));
    }
    if let Some(port) = ctx.int_in(r, "portRedirect", path, 1..=65535) {
        redirect.insert("port_redirect".into(), json!(port));
    }
    let path_redirect = ctx.str(r, "pathRedirect", path);
    let prefix_rewrite = ctx.str(r, "prefixRewrite", path);
    match (path_redirect, prefix_rewrite) {
        (Some(_), Some(_)) => ctx.error(
            &path.key("prefixRewrite"),
            "`pathRedirect` and `prefixRewrite` exclude each other",
        ),
        (Some(p), None) => {
            redirect.insert("path_redirect".into(), json!(p));
        }
        (None, Some(p)) => {
            redirect.insert("prefix_rewrite".into(), json!(p));
        }
        (None, None) => {}
    }
    if let Some(code) = ctx.str(r, "responseCode", path) {
        let envoy = match code {
            "MOVED_PERMANENTLY_DEFAULT" | "RESPONSE_CODE_UNSPECIFIED" => Some("MOVED_PERMANENTLY"),
            "FOUND" | "SEE_OTHER" | "TEMPORARY_REDIRECT" | "PERMANENT_REDIRECT" => Some(code),
            _ => None,
        };
        match envoy {
            Some(envoy) => {
                redirect.insert("response_code".into(), json!(envoy));
            }
            None => ctx.error(
                &path.key("responseCode"),
                format!("unknown redirect response code `{code}`"),
            ),
        }
    }
    if ctx.bool(r, "httpsRedirect", path) == Some(true) {
        redirect.insert("https_redirect".into(), json!(true));
    }
    if ctx.bool(r, "stripQuery", path) == Some(true) {
        redirect.insert("strip_query".into(), json!(true));
    }
    Some(Json::Object(redirect))
}

/// A `directResponse` `{status, stringBody | bytesBody}`.
fn direct_response(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<RouteAction> {
    let d = ctx.object(value, path, &["status", "stringBody", "bytesBody"])?;
    let Some(status) = ctx.int_in(d, "status", path, 100..=599) else {
        if !d.contains_key("status") {
            ctx.error(path, "the direct response has no `status`");
        }
        return None;
    };
    let body = ctx
        .str(d, "stringBody", path)
        .map(|s| json!({"inline_string": s}))
        .or_else(|| {
            ctx.str(d, "bytesBody", path)
                .map(|b| json!({"inline_bytes": b}))
        });
    Some(actions::direct_response(status as u16, body))
}

/// The fault filter's per-route config of a `faultInjectionPolicy`.
fn fault_policy(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
) -> Option<Map<String, Json>> {
    let f = ctx.object(value, path, &["delay", "abort"])?;
    let delay = f.get("delay").and_then(|d| {
        let at = path.key("delay");
        let d = ctx.object(d, &at, &["fixedDelay", "percentage"])?;
        let Some(fixed) = ctx.duration(d, "fixedDelay", &at) else {
            if !d.contains_key("fixedDelay") {
                ctx.error(&at, "the delay has no `fixedDelay`");
            }
            return None;
        };
        if fixed == "0s" {
            ctx.error(&at.key("fixedDelay"), "Envoy needs a delay above 0s");
            return None;
        }
        let mut delay = Map::new();
        delay.insert("fixed_delay".into(), json!(fixed));
        if let Some(p) = ctx.percent(d, "percentage", &at) {
            delay.insert("percentage".into(), p);
        }
        Some(Json::Object(delay))
    });
    let abort = f.get("abort").and_then(|a| {
        let at = path.key("abort");
        let a = ctx.object(a, &at, &["httpStatus", "percentage"])?;
        let Some(status) = ctx.int_in(a, "httpStatus", &at, 200..=599) else {
            if !a.contains_key("httpStatus") {
                ctx.error(&at, "the abort has no `httpStatus`");
            }
            return None;
        };
        let mut abort = Map::new();
        abort.insert("http_status".into(), json!(status));
        if let Some(p) = ctx.percent(a, "percentage", &at) {
            abort.insert("percentage".into(), p);
        }
        Some(Json::Object(abort))
    });
    if delay.is_none() && abort.is_none() {
        return None;
    }
    Some(actions::fault_config(delay, abort))
}

/// A `RetryPolicy` of a `retryPolicy`.
fn retry_policy(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let r = ctx.object(
        value,
        path,
        &["retryConditions", "numRetries", "perTryTimeout"],
    )?;
    let conditions: Vec<(String, FieldPath)> = ctx
        .array(r, "retryConditions", path)
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            c.as_str()
                .map(|c| (c.to_string(), path.key("retryConditions").index(i)))
        })
        .collect();
    let retries = ctx
        .int_in(r, "numRetries", path, 1..=i64::from(u32::MAX))
        .map(|n| n as u32);
    let per_try = ctx.duration(r, "perTryTimeout", path);
    Some(actions::retry_policy(ctx, &conditions, retries, per_try))
}

/// A `RequestMirrorPolicy` of a `requestMirrorPolicy`.
fn mirror_policy(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
    grpc: bool,
) -> Option<Json> {
    let m = ctx.object(value, path, &["destination", "mirrorPercent"])?;
    let at = path.key("destination");
    let d = ctx.object(m.get("destination")?, &at, &["serviceName", "weight"])?;
    let Some(service) = ctx.str(d, "serviceName", &at) else {
        ctx.error(&at, "the mirror destination has no `serviceName`");
        return None;
    };
    let short = short_name(service).to_string();
    let backend = BackendIr {
        key: short.clone(),
        name: short,
        namespace: String::new(),
        subset: None,
        weight: None,
        path: at.clone(),
    };
    let cluster = actions::mirror_backend(ctx, backend, vec![service.to_string()], None, grpc);
    let fraction = ctx.percent(m, "mirrorPercent", path);
    Some(actions::mirror_policy(cluster, fraction))
}
