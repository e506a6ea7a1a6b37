//! Istio VirtualService `http` rules → Envoy routes, in order (the first match wins).
//!
//! `tcp` and `tls` rules are not supported by the Envoy target yet and are reported.
//! Source-based matches (`sourceLabels`, `sourceNamespace`, `gateways`, `port`) have no meaning
//! on meshcd's single local listener and are reported too; `gateways` and `exportTo` of the
//! VirtualService itself only say who sees the route and are accepted.

use serde_json::{json, Map, Value as Json};

use super::actions::{self, Forward, HeaderEdits};
use super::context::Ctx;
use super::routes::{self, RouteAction, RouteEntry, RuleAction};
use super::{cors, matching, value};
use crate::ir::{istio_fqdn, BackendIr, RouteIr};
use crate::path::FieldPath;

/// Fields of an HTTP rule the translation handles.
const HTTP_ROUTE: &[&str] = &[
    "name",
    "match",
    "route",
    "redirect",
    "directResponse",
    "rewrite",
    "timeout",
    "retries",
    "fault",
    "mirror",
    "mirrorPercentage",
    "mirrorPercent",
    "mirrors",
    "headers",
    "corsPolicy",
];

/// The retry conditions Istio uses when `retries.retryOn` is not set.
const DEFAULT_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled,503";

/// The Envoy routes of a VirtualService.
pub(crate) fn http_routes(ctx: &mut Ctx<'_, '_>, route: &RouteIr<'_>) -> Vec<RouteEntry> {
    let resource = ctx.resource;
    let spec_path = resource.spec_path();
    let Some(spec) = resource.body.get("spec") else {
        return Vec::new();
    };
    let Some(spec) = ctx.object(
        spec,
        &spec_path,
        &["hosts", "gateways", "http", "tls", "tcp", "exportTo"],
    ) else {
        return Vec::new();
    };
    for key in ["tcp", "tls"] {
        if !ctx.array(spec, key, &spec_path).is_empty() {
            ctx.error(
                &spec_path.key(key),
                format!("`{key}` routes are not supported by the envoy target yet (only `http`)"),
            );
        }
    }
    let mut entries = Vec::new();
    for (i, rule) in ctx.array(spec, "http", &spec_path).iter().enumerate() {
        let path = spec_path.key("http").index(i);
        let Some(rule) = ctx.object(rule, &path, HTTP_ROUTE) else {
            continue;
        };
        let matchers: Vec<Json> = ctx
            .array(rule, "match", &path)
            .iter()
            .enumerate()
            .filter_map(|(j, m)| http_match(ctx, m, &path.key("match").index(j)))
            .collect();
        let split = route.split_of(&path);
        let Some((action, extra)) = rule_action(ctx, rule, &path, split) else {
            continue;
        };
        let name = routes::rule_name(resource, &path);
        entries.extend(routes::expand(&name, "match", matchers, &action, &extra));
    }
    entries
}

/// An `HTTPMatchRequest`.
fn http_match(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let m = ctx.object(
        value,
        path,
        &[
            "name",
            "uri",
            "scheme",
            "method",
            "authority",
            "headers",
            "queryParams",
            "ignoreUriCase",
            "withoutHeaders",
        ],
    )?;
    let ignore_case = ctx.bool(m, "ignoreUriCase", path).unwrap_or(false);
    let mut matcher = Map::new();
    match m.get("uri") {
        Some(uri) if !uri.is_null() => {
            let at = path.key("uri");
            let (kind, text) = string_match_parts(ctx, uri, &at, &["exact", "prefix", "regex"])?;
            let (kind, text) = match kind {
                "exact" => ("path", text),
                "regex" if ignore_case => ("regex", format!("(?i){text}")),
                other => (other, text),
            };
            let (k, v) = matching::path_match(ctx, kind, &text, &at);
            matcher.insert(k, v);
        }
        _ => {
            matcher.insert("prefix".into(), json!("/"));
        }
    }
    if ignore_case {
        matcher.insert("case_sensitive".into(), json!(false));
    }
    let mut headers = Vec::new();
    for (key, header) in [
        ("method", ":method"),
        ("scheme", ":scheme"),
        ("authority", ":authority"),
    ] {
        if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
            let at = path.key(key);
            if let Some((kind, text)) =
                string_match_parts(ctx, v, &at, &["exact", "prefix", "regex"])
            {
                let string = matching::string_match(ctx, kind, &text, false, &at);
                headers.push(matching::header_match(header, string, false));
            }
        }
    }
    for (key, invert) in [("headers", false), ("withoutHeaders", true)] {
        match m.get(key) {
            Some(Json::Object(map)) => {
                for (name, v) in map {
                    let at = path.key(key).key(name);
                    if v.as_object().is_some_and(Map::is_empty) || v.is_null() {
                        headers.push(matching::header_present(name, !invert));
                        continue;
                    }
                    if let Some((kind, text)) =
                        string_match_parts(ctx, v, &at, &["exact", "prefix", "regex"])
                    {
                        let string = matching::string_match(ctx, kind, &text, false, &at);
                        headers.push(matching::header_match(name, string, invert));
                    }
                }
            }
            None | Some(Json::Null) => {}
            Some(_) => ctx.error(&path.key(key), "expected a mapping of header names"),
        }
    }
    if !headers.is_empty() {
        matcher.insert("headers".into(), Json::Array(headers));
    }
    match m.get("queryParams") {
        Some(Json::Object(map)) => {
            let mut params = Vec::new();
            for (name, v) in map {
                let at = path.key("queryParams").key(name);
                if v.as_object().is_some_and(Map::is_empty) || v.is_null() {
                    params.push(json!({"name": name, "present_match": true}));
                    continue;
                }
                if let Some((kind, text)) = string_match_parts(ctx, v, &at, &["exact", "regex"]) {
                    let string = matching::string_match(ctx, kind, &text, false, &at);
                    params.push(json!({"name": name, "string_match": string}));
                }
            }
            if !params.is_empty() {
                matcher.insert("query_parameters".into(), Json::Array(params));
            }
        }
        None | Some(Json::Null) => {}
        Some(_) => ctx.error(
            &path.key("queryParams"),
            "expected a mapping of parameter names",
        ),
    }
    Some(Json::Object(matcher))
}

/// The kind and text of an Istio `StringMatch` (`{exact | prefix | regex: text}`).
fn string_match_parts(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
    kinds: &[&'static str],
) -> Option<(&'static str, String)> {
    let m = ctx.object(value, path, kinds)?;
    let given: Vec<&'static str> = kinds
        .iter()
        .copied()
        .filter(|k| m.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    match given.as_slice() {
        [kind] => ctx.str(m, kind, path).map(|text| (*kind, text.to_string())),
        [] => {
            ctx.error(path, format!("expected one of {}", kinds.join(", ")));
            None
        }
        _ => {
            ctx.error(path, format!("only one of {} may be set", kinds.join(", ")));
            None
        }
    }
}

/// The action of an HTTP rule, and the route fields beside it.
fn rule_action(
    ctx: &mut Ctx<'_, '_>,
    rule: &Map<String, Json>,
    path: &FieldPath,
    split: Option<&crate::ir::Split>,
) -> Option<RuleAction> {
    let mut extra = Map::new();
    if let Some(headers) = rule.get("headers").filter(|v| !v.is_null()) {
        let at = path.key("headers");
        if let Some(h) = ctx.object(headers, &at, &["request", "response"]) {
            for direction in ["request", "response"] {
                if let Some(v) = h.get(direction) {
                    actions::header_edits_map(ctx, v, &at.key(direction))
                        .apply(&mut extra, direction);
                }
            }
        }
    }
    if let Some(fault) = rule.get("fault").filter(|v| !v.is_null()) {
        if let Some(config) = fault_policy(ctx, fault, &path.key("fault")) {
            for (filter, config) in config {
                actions::add_per_filter(&mut extra, &filter, config);
            }
            ctx.fault = true;
        }
    }
    if let Some(policy) = rule.get("corsPolicy").filter(|v| !v.is_null()) {
        if let Some(policy) = cors::istio(ctx, policy, &path.key("corsPolicy")) {
            cors::apply(ctx, &mut extra, policy);
        }
    }
    let forwarding_only = [
        "route",
        "rewrite",
        "timeout",
        "retries",
        "mirror",
        "mirrors",
        "mirrorPercentage",
        "mirrorPercent",
    ];
    for action in ["redirect", "directResponse"] {
        if rule.get(action).is_some_and(|v| !v.is_null()) {
            for key in forwarding_only {
                if rule.get(key).is_some_and(|v| !v.is_null()) {
                    ctx.error(
                        &path.key(key),
                        format!("`{key}` has no effect beside `{action}` (nothing is forwarded)"),
                    );
                }
            }
        }
    }
    if let Some(redirect) = rule.get("redirect").filter(|v| !v.is_null()) {
        let redirect = redirect_action(ctx, redirect, &path.key("redirect"))?;
        return Some((("redirect", redirect), extra));
    }
    if let Some(response) = rule.get("directResponse").filter(|v| !v.is_null()) {
        return Some((
            direct_response(ctx, response, &path.key("directResponse"))?,
            extra,
        ));
    }
    let Some(split) = split.filter(|s| !s.backends.is_empty()) else {
        ctx.error(path, "the rule has no route, redirect or directResponse");
        return None;
    };
    let mut edits = Vec::new();
    let mut aliases = Vec::new();
    let mut ports = Vec::new();
    for (j, d) in ctx.array(rule, "route", path).iter().enumerate() {
        let at = path.key("route").index(j);
        let Some(d) = ctx.object(d, &at, &["destination", "weight", "headers"]) else {
            edits.push((HeaderEdits::default(), HeaderEdits::default()));
            aliases.push(Vec::new());
            ports.push(None);
            continue;
        };
        let mut request = HeaderEdits::default();
        let mut response = HeaderEdits::default();
        if let Some(headers) = d.get("headers").filter(|v| !v.is_null()) {
            let hat = at.key("headers");
            if let Some(h) = ctx.object(headers, &hat, &["request", "response"]) {
                if let Some(v) = h.get("request") {
                    request = actions::header_edits_map(ctx, v, &hat.key("request"));
                }
                if let Some(v) = h.get("response") {
                    response = actions::header_edits_map(ctx, v, &hat.key("response"));
                }
            }
        }
        edits.push((request, response));
        let (host, port) = destination(ctx, d.get("destination"), &at.key("destination"));
        aliases.push(host.into_iter().collect());
        ports.push(port);
    }
    let mut route = match actions::forward(ctx, split, edits, false, aliases, ports) {
        Forward::Route(route) => route,
        Forward::NoTraffic => return Some((actions::direct_response(500, None), extra)),
        Forward::Invalid => return None,
    };
    if let Some(timeout) = ctx.duration(rule, "timeout", path) {
        route.insert("timeout".into(), json!(timeout));
    }
    if let Some(retries) = rule.get("retries").filter(|v| !v.is_null()) {
        if let Some(policy) = retry_policy(ctx, retries, &path.key("retries")) {
            route.insert("retry_policy".into(), policy);
        }
    }
    if let Some(rewrite) = rule.get("rewrite").filter(|v| !v.is_null()) {
        rewrite_fields(ctx, rewrite, &path.key("rewrite"), &mut route);
    }
    let mirrors = mirror_policies(ctx, rule, path);
    if !mirrors.is_empty() {
        route.insert("request_mirror_policies".into(), Json::Array(mirrors));
    }
    Some((("route", Json::Object(route)), extra))
}

/// The host as written and the port number of a `Destination`; the port must be valid.
fn destination(
    ctx: &mut Ctx<'_, '_>,
    value: Option<&Json>,
    path: &FieldPath,
) -> (Option<String>, Option<u16>) {
    let Some(d) = value.and_then(|v| ctx.object(v, path, &["host", "subset", "port"])) else {
        return (None, None);
    };
    let host = ctx.str(d, "host", path).map(str::to_string);
    let port = d.get("port").filter(|v| !v.is_null()).and_then(|p| {
        let at = path.key("port");
        let p = ctx.object(p, &at, &["number"])?;
        ctx.int_in(p, "number", &at, 1..=65535).map(|n| n as u16)
    });
    (host, port)
}

/// The backend of a mirror `Destination`, registered, as its cluster name.
fn mirror_backend(ctx: &mut Ctx<'_, '_>, value: Option<&Json>, path: &FieldPath) -> Option<String> {
    let Some(d) = value else {
        ctx.error(path, "the mirror has no destination");
        return None;
    };
    let (host, port) = destination(ctx, Some(d), path);
    let Some(host) = host else {
        ctx.error(path, "the mirror destination has no `host`");
        return None;
    };
    let subset = d.get("subset").and_then(Json::as_str).map(str::to_string);
    let namespace = ctx.resource.id.namespace.clone();
    let backend = BackendIr {
        key: subset
            .as_ref()
            .map_or(host.clone(), |s| format!("{host}/{s}")),
        name: istio_fqdn(&host, &namespace),
        namespace,
        subset,
        weight: None,
        path: path.clone(),
    };
    Some(actions::mirror_backend(
        ctx,
        backend,
        vec![host],
        port,
        false,
    ))
}

/// `mirror` with `mirrorPercentage` (or `mirrorPercent`), and `mirrors`.
fn mirror_policies(ctx: &mut Ctx<'_, '_>, rule: &Map<String, Json>, path: &FieldPath) -> Vec<Json> {
    let mut policies = Vec::new();
    if let Some(mirror) = rule.get("mirror").filter(|v| !v.is_null()) {
        if let Some(cluster) = mirror_backend(ctx, Some(mirror), &path.key("mirror")) {
            let fraction = match rule.get("mirrorPercentage").filter(|v| !v.is_null()) {
                Some(p) => percentage(ctx, p, &path.key("mirrorPercentage")),
                None => ctx.percent(rule, "mirrorPercent", path),
            };
            policies.push(actions::mirror_policy(cluster, fraction));
        }
    } else {
        for key in ["mirrorPercentage", "mirrorPercent"] {
            if rule.get(key).is_some_and(|v| !v.is_null()) {
                ctx.error(&path.key(key), format!("`{key}` needs a `mirror`"));
            }
        }
    }
    for (i, m) in ctx.array(rule, "mirrors", path).iter().enumerate() {
        let at = path.key("mirrors").index(i);
        let Some(m) = ctx.object(m, &at, &["destination", "percentage"]) else {
            continue;
        };
        if let Some(cluster) = mirror_backend(ctx, m.get("destination"), &at.key("destination")) {
            let fraction = m
                .get("percentage")
                .filter(|v| !v.is_null())
                .and_then(|p| percentage(ctx, p, &at.key("percentage")));
            policies.push(actions::mirror_policy(cluster, fraction));
        }
    }
    policies
}

/// An Istio `Percent` (`{value: 0..=100}`) as a `FractionalPercent`.
fn percentage(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let p = ctx.object(value, path, &["value"])?;
    ctx.percent(p, "value", path)
}

/// `rewrite`: `uri` → `prefix_rewrite`, `authority` → `host_rewrite_literal`,
/// `uriRegexRewrite` → `regex_rewrite`.
fn rewrite_fields(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
    route: &mut Map<String, Json>,
) {
    let Some(r) = ctx.object(value, path, &["uri", "authority", "uriRegexRewrite"]) else {
        return;
    };
    let uri = ctx.str(r, "uri", path);
    if let Some(uri) = uri {
        route.insert("prefix_rewrite".into(), json!(uri));
    }
    if let Some(authority) = ctx.str(r, "authority", path) {
        route.insert("host_rewrite_literal".into(), json!(authority));
    }
    if let Some(regex) = r.get("uriRegexRewrite").filter(|v| !v.is_null()) {
        let at = path.key("uriRegexRewrite");
        if uri.is_some() {
            ctx.error(&at, "`uri` and `uriRegexRewrite` exclude each other");
            return;
        }
        if let Some(rr) = ctx.object(regex, &at, &["match", "rewrite"]) {
            let pattern = ctx.str(rr, "match", &at).unwrap_or_default().to_string();
            matching::check_regex(ctx, &pattern, &at.key("match"));
            let substitution = ctx.str(rr, "rewrite", &at).unwrap_or_default();
            route.insert(
                "regex_rewrite".into(),
                json!({"pattern": {"regex": pattern}, "substitution": substitution}),
            );
        }
    }
}

/// An `HTTPRedirect`.
fn redirect_action(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let r = ctx.object(
        value,
        path,
        &["uri", "authority", "port", "scheme", "redirectCode"],
    )?;
    let mut redirect = Map::new();
    if let Some(authority) = ctx.str(r, "authority", path) {
        redirect.insert("host_redirect".into(), json!(authority));
    }
    if let Some(port) = ctx.int_in(r, "port", path, 1..=65535) {
        redirect.insert("port_redirect".into(), json!(port));
    }
    if let Some(uri) = ctx.str(r, "uri", path) {
        redirect.insert("path_redirect".into(), json!(uri));
    }
    if let Some(scheme) = ctx.str(r, "scheme", path) {
        redirect.insert("scheme_redirect".into(), json!(scheme));
    }
    if let Some(code) = ctx.int(r, "redirectCode", path) {
        match value::redirect_code(code) {
            Some(name) => {
                redirect.insert("response_code".into(), json!(name));
            }
            None => ctx.error(
                &path.key("redirectCode"),
                format!("{code} is not a redirect code Envoy sends (301, 302, 303, 307, 308)"),
            ),
        }
    }
    Some(Json::Object(redirect))
}

/// An `HTTPDirectResponse` `{status, body: {string | bytes}}`.
fn direct_response(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<RouteAction> {
    let d = ctx.object(value, path, &["status", "body"])?;
    let Some(status) = ctx.int_in(d, "status", path, 100..=599) else {
        if !d.contains_key("status") {
            ctx.error(path, "the direct response has no `status`");
        }
        return None;
    };
    let body = match d.get("body").filter(|v| !v.is_null()) {
        Some(body) => {
            let at = path.key("body");
            let b = ctx.object(body, &at, &["string", "bytes"])?;
            ctx.str(b, "string", &at)
                .map(|s| json!({"inline_string": s}))
                .or_else(|| ctx.str(b, "bytes", &at).map(|s| json!({"inline_bytes": s})))
        }
        None => None,
    };
    Some(actions::direct_response(status as u16, body))
}

/// The fault filter's per-route config of an `HTTPFaultInjection`.
fn fault_policy(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
) -> Option<Map<String, Json>> {
    let f = ctx.object(value, path, &["delay", "abort"])?;
    let delay = f.get("delay").filter(|v| !v.is_null()).and_then(|d| {
        let at = path.key("delay");
        let d = ctx.object(d, &at, &["fixedDelay", "percentage", "percent"])?;
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
        if let Some(p) = fault_percentage(ctx, d, &at) {
            delay.insert("percentage".into(), p);
        }
        Some(Json::Object(delay))
    });
    let abort = f.get("abort").filter(|v| !v.is_null()).and_then(|a| {
        let at = path.key("abort");
        let a = ctx.object(a, &at, &["httpStatus", "grpcStatus", "percentage"])?;
        let mut abort = Map::new();
        if let Some(status) = ctx.int_in(a, "httpStatus", &at, 200..=599) {
            abort.insert("http_status".into(), json!(status));
        } else if let Some(status) = ctx.str(a, "grpcStatus", &at) {
            match value::grpc_status(status) {
                Some(code) => {
                    abort.insert("grpc_status".into(), json!(code));
                }
                None => ctx.error(
                    &at.key("grpcStatus"),
                    format!("`{status}` is not a gRPC status"),
                ),
            }
        }
        if abort.is_empty() {
            if !a.contains_key("httpStatus") && !a.contains_key("grpcStatus") {
                ctx.error(&at, "the abort has no `httpStatus` or `grpcStatus`");
            }
            return None;
        }
        if let Some(p) = fault_percentage(ctx, a, &at) {
            abort.insert("percentage".into(), p);
        }
        Some(Json::Object(abort))
    });
    if delay.is_none() && abort.is_none() {
        return None;
    }
    Some(actions::fault_config(delay, abort))
}

/// `percentage: {value}`, or the deprecated integer `percent`.
fn fault_percentage(
    ctx: &mut Ctx<'_, '_>,
    m: &Map<String, Json>,
    path: &FieldPath,
) -> Option<Json> {
    match m.get("percentage").filter(|v| !v.is_null()) {
        Some(p) => percentage(ctx, p, &path.key("percentage")),
        None => ctx.percent(m, "percent", path),
    }
}

/// An `HTTPRetry`. Without `retryOn` Istio's default conditions apply; `attempts: 0` disables
/// retries.
fn retry_policy(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let r = ctx.object(
        value,
        path,
        &[
            "attempts",
            "perTryTimeout",
            "retryOn",
            "retryRemoteLocalities",
        ],
    )?;
    if ctx.bool(r, "retryRemoteLocalities", path) == Some(true) {
        ctx.error(
            &path.key("retryRemoteLocalities"),
            "the local Envoy has no localities to retry in",
        );
    }
    let attempts = ctx
        .int_in(r, "attempts", path, 0..=i64::from(u32::MAX))
        .map(|n| n as u32);
    let retry_on = ctx
        .str(r, "retryOn", path)
        .unwrap_or(DEFAULT_RETRY_ON)
        .to_string();
    let at = path.key("retryOn");
    let conditions: Vec<(String, FieldPath)> = retry_on
        .split(',')
        .map(|c| (c.trim().to_string(), at.clone()))
        .collect();
    let per_try = ctx.duration(r, "perTryTimeout", path);
    Some(actions::retry_policy(ctx, &conditions, attempts, per_try))
}
