//! TCP routes → filter chains of `meshcd_tcp_<port>` listeners (see [`l4`]).
//!
//! - networkservices TcpRoute: each match `{address, port}` of a rule is a chain on `port` that
//!   matches connections to `address` (a CIDR range, `prefix_ranges`); a rule without matches
//!   matches every address on the ports the route's other rules name. `idleTimeout` is the
//!   proxy's idle timeout (30 s when not set, as in the API; `0s` turns it off).
//!   `originalDestination` is an error: it sends a connection to the address it was sent to,
//!   which on meshcd's listener (no traffic interception) is Envoy's own listener.
//! - Gateway API TCPRoute: its rule is a chain matching every connection on the `port` of each
//!   of its `parentRefs`.

use serde_json::{Map, Value as Json};

use super::context::Ctx;
use super::l4::{self, Chain, ChainMatch, Cidr, Port};
use super::routes::rule_name;
use crate::ir::RouteIr;
use crate::path::FieldPath;

/// The idle timeout networkservices TCP and TLS routes have when they set none.
pub(super) const NS_DEFAULT_IDLE_TIMEOUT: &str = "30s";

/// A TcpRoute rule read so far: its path, its valid matches (port, range, path), whether it
/// has matches at all, and its fields.
type Parsed<'j> = (
    FieldPath,
    Vec<(Port, Option<Cidr>, FieldPath)>,
    bool,
    &'j Map<String, Json>,
);

/// The chains of a networkservices TcpRoute.
pub(super) fn networkservices<'a>(ctx: &mut Ctx<'a, '_>, route: &RouteIr<'a>) -> Vec<Chain<'a>> {
    let resource = ctx.resource;
    let root = FieldPath::root();
    let rules = match resource.body.get("rules") {
        Some(Json::Array(rules)) => rules.as_slice(),
        _ => &[],
    };
    // First the matches (their ports serve rules without matches), then the actions.
    let mut parsed: Vec<Parsed<'_>> = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let path = root.key("rules").index(i);
        let Some(rule) = ctx.object(rule, &path, &["matches", "action"]) else {
            continue;
        };
        let written = ctx.array(rule, "matches", &path);
        let mut matches = Vec::new();
        for (j, m) in written.iter().enumerate() {
            let at = path.key("matches").index(j);
            if let Some(parsed) = tcp_match(ctx, m, &at) {
                matches.push((parsed.0, parsed.1, at));
            }
        }
        parsed.push((path, matches, !written.is_empty(), rule));
    }
    let mut all_ports: Vec<Port> = Vec::new();
    for (_, matches, _, _) in &parsed {
        for (port, _, _) in matches {
            if !all_ports.iter().any(|p| p.number == port.number) {
                all_ports.push(port.clone());
            }
        }
    }
    let mut chains = Vec::new();
    for (path, matches, has_matches, rule) in parsed {
        let Some(action) = rule.get("action").filter(|v| !v.is_null()) else {
            ctx.error(&path, "the rule has no `action`");
            continue;
        };
        let at = path.key("action");
        let Some(a) = ctx.object(
            action,
            &at,
            &["destinations", "originalDestination", "idleTimeout"],
        ) else {
            continue;
        };
        if ctx.bool(a, "originalDestination", &at) == Some(true) {
            ctx.error(
                &at.key("originalDestination"),
                "Envoy would send each connection to the address it was sent to, which on meshcd's listener (no traffic interception) is Envoy's own listener: list `destinations` instead",
            );
            continue;
        }
        let Some(proxy) = ns_proxy(ctx, route, &path, a, &at) else {
            continue;
        };
        let name = rule_name(resource, &path);
        if has_matches && matches.is_empty() {
            // Every match is invalid (reported).
            continue;
        }
        if matches.is_empty() {
            if all_ports.is_empty() {
                ctx.error(
                    &path,
                    "a rule without `matches` matches every port, but the envoy target listens only on the ports that matches name; add matches with a `port`",
                );
            }
            for port in &all_ports {
                chains.push(Chain {
                    resource,
                    port: port.clone(),
                    rule: name.clone(),
                    at: path.clone(),
                    matcher: ChainMatch::Tcp(None),
                    proxy: proxy.clone(),
                });
            }
            continue;
        }
        let several = matches.len() > 1;
        for (j, (port, cidr, at)) in matches.into_iter().enumerate() {
            chains.push(Chain {
                resource,
                port,
                rule: if several {
                    format!("{name}.matches[{j}]")
                } else {
                    name.clone()
                },
                at,
                matcher: ChainMatch::Tcp(cidr),
                proxy: proxy.clone(),
            });
        }
    }
    chains
}

/// A networkservices TcpRoute match: its port and address range.
fn tcp_match(
    ctx: &mut Ctx<'_, '_>,
    value: &Json,
    path: &FieldPath,
) -> Option<(Port, Option<Cidr>)> {
    let m = ctx.object(value, path, &["address", "port"])?;
    let port = match m.get("port") {
        None | Some(Json::Null) => {
            ctx.error(path, "the match has no `port`");
            return None;
        }
        Some(_) => ctx.int_in(m, "port", path, 1..=65535)? as u16,
    };
    let Some(address) = ctx.str(m, "address", path) else {
        if !m.contains_key("address") {
            ctx.error(
                path,
                "the match has no `address` (a CIDR range such as `10.0.0.0/8`; `0.0.0.0/0` for any)",
            );
        }
        return None;
    };
    let Some(cidr) = Cidr::parse(address) else {
        ctx.error(
            &path.key("address"),
            format!("`{address}` is not a CIDR range such as `10.0.0.0/8`"),
        );
        return None;
    };
    Some((
        Port {
            number: port,
            at: path.key("port"),
        },
        Some(cidr),
    ))
}

/// The chains of a Gateway API TCPRoute.
pub(super) fn gateway_api<'a>(ctx: &mut Ctx<'a, '_>, route: &RouteIr<'a>) -> Vec<Chain<'a>> {
    let resource = ctx.resource;
    let spec_path = resource.spec_path();
    let Some(spec) = ctx.spec(&["parentRefs", "rules"]) else {
        return Vec::new();
    };
    let ports = l4::parent_ports(ctx, spec, &spec_path);
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
        for port in &ports {
            chains.push(Chain {
                resource,
                port: port.clone(),
                rule: name.clone(),
                at: path.clone(),
                matcher: ChainMatch::Tcp(None),
                proxy: proxy.clone(),
            });
        }
    }
    chains
}

/// The idle timeout of a networkservices TCP or TLS action: as given, or the API's default.
/// The proxy filters of a networkservices TCP or TLS rule's `action` (at `at`) for the rule at
/// `path`: its destinations' split with their weights and the idle timeout; `None` (the errors
/// reported) when it has no destination or they cannot be proxied.
pub(super) fn ns_proxy(
    ctx: &mut Ctx<'_, '_>,
    route: &RouteIr<'_>,
    path: &FieldPath,
    action: &Map<String, Json>,
    at: &FieldPath,
) -> Option<l4::Proxy> {
    let split = route.split_of(path);
    if split.is_none_or(|s| s.backends.is_empty()) {
        ctx.error(at, "the action has no `destinations`");
        return None;
    }
    let idle = ns_idle_timeout(ctx, action, at);
    let (aliases, ports) = ns_destinations(ctx, action, at);
    l4::proxy_filters(ctx, split, Some(idle), aliases, ports)
}

pub(super) fn ns_idle_timeout(
    ctx: &mut Ctx<'_, '_>,
    action: &Map<String, Json>,
    path: &FieldPath,
) -> String {
    ctx.duration(action, "idleTimeout", path)
        .unwrap_or_else(|| NS_DEFAULT_IDLE_TIMEOUT.to_string())
}

/// The backend aliases of networkservices destinations (their full `serviceName`), reporting
/// unknown fields.
pub(super) fn ns_destinations(
    ctx: &mut Ctx<'_, '_>,
    action: &Map<String, Json>,
    path: &FieldPath,
) -> (Vec<Vec<String>>, Vec<Option<u16>>) {
    let mut aliases = Vec::new();
    for (j, d) in ctx.array(action, "destinations", path).iter().enumerate() {
        let at = path.key("destinations").index(j);
        let names = ctx
            .object(d, &at, &["serviceName", "weight"])
            .and_then(|d| d.get("serviceName"))
            .and_then(Json::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default();
        aliases.push(names);
    }
    let ports = vec![None; aliases.len()];
    (aliases, ports)
}
