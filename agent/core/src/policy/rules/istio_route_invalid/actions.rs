//! The parts of an HTTP rule MC206 checks one by one: header operations, CORS, redirects and
//! faults.

use serde_json::Value;

use crate::model::istio::{
    CorsPolicy, Headers, HttpFaultInjection, HttpRedirect, Percent, GRPC_STATUS_NAMES,
};
use crate::path::FieldPath;
use crate::policy::istio::names::{is_header_token, shown};
use crate::policy::istio::{header_value, Reporter};

/// Methods a CORS policy may allow.
const CORS_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*",
];

/// A number written in a percentage (`None` when absent or not a number: MC503 says so).
pub(super) fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

pub(super) fn tiny_percentage(r: &mut Reporter<'_>, at: &FieldPath, percent: Option<&Percent>) {
    if let Some(v) = number(percent.and_then(|p| p.value.as_ref())) {
        if v > 0.0 && v < 0.0001 {
            let path = at.key("value");
            r.error(
                &path,
                format!("`{path}` is {v}; Istio takes 0, or at least 0.0001 percent"),
            );
        }
    }
}

pub(super) fn headers(r: &mut Reporter<'_>, at: &FieldPath, headers: &Headers) {
    for (side, ops) in [
        ("request", &headers.request),
        ("response", &headers.response),
    ] {
        let Some(ops) = ops else { continue };
        let side_at = at.key(side);
        let named = ops
            .set
            .iter()
            .map(|(k, v)| ("set", k, Some(v)))
            .chain(ops.add.iter().map(|(k, v)| ("add", k, Some(v))))
            .chain(ops.remove.iter().map(|k| ("remove", k, None)));
        for (op, name, value) in named {
            let path = side_at.key(op);
            let internal = name.starts_with(':') || name.eq_ignore_ascii_case("host");
            let authority =
                name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host");
            if name.is_empty() {
                r.error(&path, format!("`{path}` has an empty header name"));
            } else if internal && !(side == "request" && op != "remove" && authority) {
                r.error(
                    &path,
                    format!(
                        "`{path}` changes `{}`; `:`-prefixed headers and `host` cannot be \
                         changed here (set `:authority` on the request, or use `rewrite`)",
                        shown(name)
                    ),
                );
            }
            if let Some(Err(problem)) = value.map(|v| header_value::check(v)) {
                let at = path.key(name);
                r.error(&at, format!("`{at}` {problem}"));
            }
        }
    }
}

pub(super) fn cors(r: &mut Reporter<'_>, at: &FieldPath, cors: &CorsPolicy) {
    for (i, origin) in cors.allow_origins.iter().enumerate() {
        let path = at.key("allowOrigins").index(i);
        let value = origin
            .exact
            .as_ref()
            .or(origin.prefix.as_ref())
            .or(origin.regex.as_ref());
        if value.is_none_or(String::is_empty) {
            r.error(
                &path,
                format!("`{path}` matches nothing; give an `exact`, `prefix` or `regex` origin"),
            );
        } else {
            r.string_match(&path, origin, false);
        }
    }
    for (i, method) in cors.allow_methods.iter().enumerate() {
        if !CORS_METHODS.contains(&method.as_str()) {
            let path = at.key("allowMethods").index(i);
            r.error(
                &path,
                format!(
                    "`{path}` `{}` is not an HTTP method Istio knows ({})",
                    shown(method),
                    CORS_METHODS.join(", ")
                ),
            );
        }
    }
    for field in ["allowHeaders", "exposeHeaders"] {
        let list = if field == "allowHeaders" {
            &cors.allow_headers
        } else {
            &cors.expose_headers
        };
        for (i, name) in list.iter().enumerate() {
            if name != "*" && !is_header_token(name) {
                let path = at.key(field).index(i);
                r.error(
                    &path,
                    format!("`{path}` `{}` is not a header name (or `*`)", shown(name)),
                );
            }
        }
    }
    if let Some(mode) = cors
        .unmatched_preflights
        .as_deref()
        .filter(|m| !["UNSPECIFIED", "FORWARD", "IGNORE"].contains(m))
    {
        let path = at.key("unmatchedPreflights");
        r.error(
            &path,
            format!("`{path}` is `{}`; use FORWARD or IGNORE", shown(mode)),
        );
    }
}

pub(super) fn redirect(r: &mut Reporter<'_>, at: &FieldPath, value: &Value) {
    let Some(redirect) = r.view::<HttpRedirect>(at, value) else {
        return;
    };
    let port = redirect.port.filter(|p| *p != 0);
    if redirect.uri.as_deref().unwrap_or("").is_empty()
        && redirect.authority.as_deref().unwrap_or("").is_empty()
        && redirect.scheme.as_deref().unwrap_or("").is_empty()
        && port.is_none()
        && redirect.derive_port.is_none()
    {
        r.error(
            at,
            format!("`{at}` changes nothing; set `uri`, `authority`, `scheme` or `port`"),
        );
    }
    if let Some(scheme) = redirect
        .scheme
        .as_deref()
        .filter(|s| !s.is_empty() && !["http", "https"].contains(s))
    {
        let path = at.key("scheme");
        r.error(
            &path,
            format!("`{path}` is `{}`; use `http` or `https`", shown(scheme)),
        );
    }
    r.port(&at.key("port"), redirect.port, true);
    if redirect.port.is_some() && redirect.derive_port.is_some() {
        r.error(
            at,
            format!("`{at}` sets both `port` and `derivePort`; keep one"),
        );
    }
    if let Some(derive) = redirect
        .derive_port
        .as_deref()
        .filter(|d| !["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"].contains(d))
    {
        let path = at.key("derivePort");
        r.error(
            &path,
            format!(
                "`{path}` is `{}`; use FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT",
                shown(derive)
            ),
        );
    }
}

pub(super) fn fault(r: &mut Reporter<'_>, at: &FieldPath, value: &Value) {
    let Some(fault) = r.view::<HttpFaultInjection>(at, value) else {
        return;
    };
    if fault.abort.is_none() && fault.delay.is_none() {
        r.error(
            at,
            format!("`{at}` injects nothing; give an `abort` and/or a `delay`"),
        );
    }
    if let Some(abort) = &fault.abort {
        let path = at.key("abort");
        let kinds = [
            abort.http_status.is_some(),
            abort.grpc_status.is_some(),
            abort.http2_error.is_some(),
        ];
        match kinds.iter().filter(|k| **k).count() {
            0 => r.warning(
                &path,
                format!("`{path}` returns no error: set `httpStatus` or `grpcStatus`"),
            ),
            1 => {}
            _ => r.error(
                &path,
                format!("`{path}` sets more than one of `httpStatus`, `grpcStatus` and `http2Error`; keep one"),
            ),
        }
        if let Some(status) = abort
            .grpc_status
            .as_deref()
            .filter(|s| !GRPC_STATUS_NAMES.contains(s))
        {
            let p = path.key("grpcStatus");
            r.error(
                &p,
                format!(
                    "`{p}` `{}` is not a gRPC status; use a code name such as UNAVAILABLE or \
                     NOT_FOUND",
                    shown(status)
                ),
            );
        }
        if abort.http2_error.is_some() {
            let p = path.key("http2Error");
            r.error(
                &p,
                format!("`{p}`: Istio does not support HTTP/2 error aborts; use `httpStatus`"),
            );
        }
        tiny_percentage(r, &path.key("percentage"), abort.percentage.as_ref());
    }
    if let Some(delay) = &fault.delay {
        let path = at.key("delay");
        if delay.fixed_delay.is_some() && delay.exponential_delay.is_some() {
            r.error(
                &path,
                format!("`{path}` sets both `fixedDelay` and `exponentialDelay`; keep one"),
            );
        }
        if delay.exponential_delay.is_some() {
            let p = path.key("exponentialDelay");
            r.error(
                &p,
                format!("`{p}`: Istio does not support exponential delays; use `fixedDelay`"),
            );
        }
        tiny_percentage(r, &path.key("percentage"), delay.percentage.as_ref());
    }
}
