//! TLS routes → filter chains of `meshcd_tls_<port>` listeners: TLS passthrough by SNI (see
//! [`l4`]). Envoy reads the ClientHello (`tls_inspector`) and proxies the encrypted
//! stream; the backends terminate TLS.
//!
//! - networkservices TlsRoute: each match of a rule is a chain matching its `sniHost` names
//!   (`server_names`) and `alpn` protocols (`application_protocols`). It listens on the `ports`
//!   of each networkservices Gateway of the revision it names in `gateways`, and on the
//!   settings' `tls_port` (default 443) when it is attached to `meshes` (or to no gateway).
//!   `idleTimeout` is the proxy's idle timeout (30 s when not set, as in the API).
//! - Gateway API TLSRoute: its rule is a chain matching `spec.hostnames` (every SNI when there
//!   are none) on the `port` of each of its `parentRefs`.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::context::Ctx;
use super::l4::{self, Chain, ChainMatch, Port};
use super::routes::rule_name;
use super::tcp::ns_proxy;
use crate::ir::RouteIr;
use crate::model::networkservices::short_name;
use crate::path::FieldPath;

/// The chains of a networkservices TlsRoute; `gateway_ports` are the `ports` of the revision's
/// networkservices Gateways by name.
pub(super) fn networkservices<'a>(
    ctx: &mut Ctx<'a, '_>,
    route: &RouteIr<'a>,
    gateway_ports: &BTreeMap<String, Vec<i64>>,
    tls_port: u16,
) -> Vec<Chain<'a>> {
    let resource = ctx.resource;
    let root = FieldPath::root();
    let empty = Map::new();
    let body = resource.body.as_object().unwrap_or(&empty);
    let ports = ns_ports(ctx, body, gateway_ports, tls_port);
    let mut chains = Vec::new();
    for (i, rule) in ctx.array(body, "rules", &root).iter().enumerate() {
        let path = root.key("rules").index(i);
        let Some(rule) = ctx.object(rule, &path, &["matches", "action"]) else {
            continue;
        };
        let mut matches = Vec::new();
        for (j, m) in ctx.array(rule, "matches", &path).iter().enumerate() {
            let at = path.key("matches").index(j);
            if let Some(matcher) = tls_match(ctx, m, &at) {
                matches.push((matcher, at));
            }
        }
        if rule
            .get("matches")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty))
        {
            ctx.error(
                &path,
                "a TlsRoute rule needs `matches` (`sniHost` and/or `alpn`)",
            );
            continue;
        }
        let Some(action) = rule.get("action").filter(|v| !v.is_null()) else {
            ctx.error(&path, "the rule has no `action`");
            continue;
        };
        let at = path.key("action");
        let Some(a) = ctx.object(action, &at, &["destinations", "idleTimeout"]) else {
            continue;
        };
        let Some(proxy) = ns_proxy(ctx, route, &path, a, &at) else {
            continue;
        };
        let name = rule_name(resource, &path);
        let several = matches.len() > 1;
        for (j, (matcher, at)) in matches.into_iter().enumerate() {
            for port in &ports {
                chains.push(Chain {
                    resource,
                    port: port.clone(),
                    rule: if several {
                        format!("{name}.matches[{j}]")
                    } else {
                        name.clone()
                    },
                    at: at.clone(),
                    matcher: matcher.clone(),
                    proxy: proxy.clone(),
                });
            }
        }
    }
    chains
}

/// The ports of a networkservices TlsRoute: its Gateways' `ports`, and `tls_port` for a mesh.
fn ns_ports(
    ctx: &mut Ctx<'_, '_>,
    body: &Map<String, Json>,
    gateway_ports: &BTreeMap<String, Vec<i64>>,
    tls_port: u16,
) -> Vec<Port> {
    let root = FieldPath::root();
    let mut ports: Vec<Port> = Vec::new();
    let mut add = |number: u16, at: FieldPath| {
        if !ports.iter().any(|p| p.number == number) {
            ports.push(Port { number, at });
        }
    };
    let gateways = ctx.array(body, "gateways", &root);
    for (k, gateway) in gateways.iter().enumerate() {
        let at = root.key("gateways").index(k);
        let Some(full) = gateway.as_str() else {
            ctx.error(&at, "expected a Gateway name");
            continue;
        };
        let name = short_name(full);
        match gateway_ports.get(name) {
            Some(numbers) => {
                for number in numbers {
                    match u16::try_from(*number).ok().filter(|n| *n > 0) {
                        Some(number) => add(number, at.clone()),
                        None => ctx.error(
                            &at,
                            format!("Gateway `{name}` has port {number}, outside 1..=65535"),
                        ),
                    }
                }
            }
            None => ctx.error(
                &at,
                format!(
                    "Gateway `{name}` is not in the revision: the envoy target serves a TlsRoute on the `ports` of its networkservices Gateways"
                ),
            ),
        }
    }
    let meshes = !ctx.array(body, "meshes", &root).is_empty();
    if meshes || gateways.is_empty() {
        let at = if meshes { root.key("meshes") } else { root };
        add(tls_port, at);
    }
    ports
}

/// A networkservices TlsRoute match: `sniHost` names and `alpn` protocols.
fn tls_match(ctx: &mut Ctx<'_, '_>, value: &Json, path: &FieldPath) -> Option<ChainMatch> {
    let m = ctx.object(value, path, &["sniHost", "alpn"])?;
    let server_names = names(ctx, m, "sniHost", path, true);
    let alpn = names(ctx, m, "alpn", path, false);
    if server_names.is_empty() && alpn.is_empty() {
        ctx.error(path, "the match needs `sniHost` or `alpn`");
        return None;
    }
    Some(ChainMatch::Tls { server_names, alpn })
}

/// The strings of a list, once each (lowercased when `lower`).
fn names(
    ctx: &mut Ctx<'_, '_>,
    m: &Map<String, Json>,
    key: &str,
    path: &FieldPath,
    lower: bool,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, item) in ctx.array(m, key, path).iter().enumerate() {
        let Some(text) = item.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
            ctx.error(&path.key(key).index(i), "expected a non-empty string");
            continue;
        };
        let text = if lower {
            text.to_ascii_lowercase()
        } else {
            text.to_string()
        };
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

/// The chains of a Gateway API TLSRoute.
pub(super) fn gateway_api<'a>(ctx: &mut Ctx<'a, '_>, route: &RouteIr<'a>) -> Vec<Chain<'a>> {
    let resource = ctx.resource;
    let spec_path = resource.spec_path();
    let Some(spec) = ctx.spec(&["parentRefs", "hostnames", "rules"]) else {
        return Vec::new();
    };
    let ports = l4::parent_ports(ctx, spec, &spec_path);
    let server_names = names(ctx, spec, "hostnames", &spec_path, true);
    let mut chains = Vec::new();
    for (i, rule) in ctx.array(spec, "rules", &spec_path).iter().enumerate() {
        let path = spec_path.key("rules").index(i);
        let Some(rule) = ctx.object(rule, &path, &["name", "backendRefs"]) else {
            continue;
        };
        let split = route.split_of(&path);
        let (aliases, backend_ports) = l4::gateway_backends(ctx, rule, &path, split);
        let Some(proxy) = l4::proxy_filters(ctx, split, None, aliases, backend_ports) else {
            continue;
        };
        let name = rule_name(resource, &path);
        let at = if server_names.is_empty() {
            path.clone()
        } else {
            spec_path.key("hostnames")
        };
        for port in &ports {
            chains.push(Chain {
                resource,
                port: port.clone(),
                rule: name.clone(),
                at: at.clone(),
                matcher: ChainMatch::Tls {
                    server_names: server_names.clone(),
                    alpn: Vec::new(),
                },
                proxy: proxy.clone(),
            });
        }
    }
    chains
}
