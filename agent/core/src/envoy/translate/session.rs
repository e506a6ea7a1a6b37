//! Session affinity → the per-route config of Envoy's stateful session filter
//! (`envoy.extensions.filters.http.stateful_session.v3.StatefulSessionPerRoute`); the listener
//! adds the filter, without a session state of its own, when some route has affinity.
//!
//! Envoy remembers the upstream host a session went to in a cookie (or a header) and sends the
//! session's later requests to that host while it is healthy, within the cluster the route picks
//! (a weighted split picks its cluster first).
//!
//! - networkservices `statefulSessionAffinity: {cookieTtl}`: the cookie `GSSA` (the name Cloud
//!   Service Mesh gives it) on path `/`, with `cookieTtl` as its lifetime (`0s`: a session
//!   cookie).
//! - Gateway API `sessionPersistence`: `type: Cookie` (the default) is a cookie named
//!   `sessionName` (default `meshcd-session`) on path `/`, a session cookie unless
//!   `cookieConfig.lifetimeType: Permanent`, which lives `absoluteTimeout`; `type: Header` keeps
//!   the host in the header `sessionName`. Envoy has no idle timeout for sessions and expires one
//!   only with its cookie, so `idleTimeout`, and `absoluteTimeout` on a session cookie or a
//!   header, are errors.

use serde_json::{json, Map, Value as Json};

use super::actions;
use super::context::Ctx;
use crate::path::FieldPath;

/// The name of Envoy's stateful session filter.
pub(crate) const SESSION_FILTER: &str = "envoy.filters.http.stateful_session";
/// The cookie Cloud Service Mesh uses for stateful session affinity.
const NS_COOKIE: &str = "GSSA";
/// The session cookie (or header) name when a Gateway API route gives none.
const DEFAULT_SESSION_NAME: &str = "meshcd-session";
/// The longest networkservices `cookieTtl`, in seconds.
const NS_MAX_TTL_SECONDS: u64 = 86_400;

/// Puts a session affinity config into a route's fields and notes that the listener needs the
/// filter.
pub(crate) fn apply(ctx: &mut Ctx<'_, '_>, extra: &mut Map<String, Json>, config: Json) {
    actions::add_per_filter(extra, SESSION_FILTER, config);
    ctx.session = true;
}

/// A networkservices `statefulSessionAffinity`.
pub(crate) fn networkservices(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
) -> Option<Json> {
    let s = ctx.object(value, path, &["cookieTtl"])?;
    let Some(ttl) = ctx.duration(s, "cookieTtl", path) else {
        if !s.contains_key("cookieTtl") {
            ctx.error(path, "stateful session affinity needs a `cookieTtl`");
        }
        return None;
    };
    let seconds = super::value::whole_seconds(&ttl);
    if seconds.is_none_or(|s| s > NS_MAX_TTL_SECONDS) {
        ctx.error(
            &path.key("cookieTtl"),
            format!("`{ttl}` is not a whole number of seconds from 0s to 86400s"),
        );
        return None;
    }
    Some(cookie(NS_COOKIE, &ttl))
}

/// A Gateway API `sessionPersistence`.
pub(crate) fn gateway_api(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<Json> {
    let s = ctx.object(
        value,
        path,
        &[
            "sessionName",
            "absoluteTimeout",
            "idleTimeout",
            "type",
            "cookieConfig",
        ],
    )?;
    let name = ctx
        .str(s, "sessionName", path)
        .unwrap_or(DEFAULT_SESSION_NAME)
        .to_string();
    let absolute = ctx.duration(s, "absoluteTimeout", path);
    if s.get("idleTimeout").is_some_and(|v| !v.is_null()) {
        ctx.error(
            &path.key("idleTimeout"),
            "Envoy's stateful sessions have no idle timeout; remove it",
        );
        return None;
    }
    match ctx.str(s, "type", path).unwrap_or("Cookie") {
        "Cookie" => {
            let lifetime = match s.get("cookieConfig").filter(|v| !v.is_null()) {
                Some(c) => {
                    let at = path.key("cookieConfig");
                    let c = ctx.object(c, &at, &["lifetimeType"])?;
                    ctx.str(c, "lifetimeType", &at)
                        .unwrap_or("Session")
                        .to_string()
                }
                None => "Session".to_string(),
            };
            match (lifetime.as_str(), absolute) {
                ("Permanent", Some(ttl)) => Some(cookie(&name, &ttl)),
                ("Permanent", None) => {
                    ctx.error(
                        path,
                        "a `Permanent` session cookie needs an `absoluteTimeout` (its lifetime)",
                    );
                    None
                }
                ("Session", None) => Some(cookie(&name, "0s")),
                ("Session", Some(_)) => {
                    ctx.error(
                        &path.key("absoluteTimeout"),
                        "Envoy expires a session only with its cookie: use `cookieConfig: {lifetimeType: Permanent}` for a session that ends after `absoluteTimeout`",
                    );
                    None
                }
                (other, _) => {
                    ctx.error(
                        &path.key("cookieConfig").key("lifetimeType"),
                        format!("`{other}` is not `Permanent` or `Session`"),
                    );
                    None
                }
            }
        }
        "Header" => {
            if absolute.is_some() {
                ctx.error(
                    &path.key("absoluteTimeout"),
                    "Envoy's header-based sessions do not expire; remove `absoluteTimeout` or use a cookie",
                );
                return None;
            }
            if s.get("cookieConfig").is_some_and(|v| !v.is_null()) {
                ctx.error(
                    &path.key("cookieConfig"),
                    "`cookieConfig` applies to `type: Cookie` only",
                );
                return None;
            }
            Some(per_route(
                "envoy.http.stateful_session.header",
                "envoy.extensions.http.stateful_session.header.v3.HeaderBasedSessionState",
                json!({"name": name.to_ascii_lowercase()}),
            ))
        }
        other => {
            ctx.error(
                &path.key("type"),
                format!("`{other}` is not `Cookie` or `Header`"),
            );
            None
        }
    }
}

/// A cookie-based session state: cookie `name` on path `/` living `ttl` (`0s`: a session
/// cookie).
fn cookie(name: &str, ttl: &str) -> Json {
    per_route(
        "envoy.http.stateful_session.cookie",
        "envoy.extensions.http.stateful_session.cookie.v3.CookieBasedSessionState",
        json!({"cookie": {"name": name, "path": "/", "ttl": ttl}}),
    )
}

/// A `StatefulSessionPerRoute` with the session state extension `name` of type `state_type`.
fn per_route(name: &str, state_type: &str, state: Json) -> Json {
    let mut typed = Map::new();
    typed.insert(
        "@type".into(),
        json!(format!("type.googleapis.com/{state_type}")),
    );
    if let Json::Object(fields) = state {
        typed.extend(fields);
    }
    json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSessionPerRoute",
        "stateful_session": {"session_state": {"name": name, "typed_config": typed}},
    })
}
