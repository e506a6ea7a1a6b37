//! TCP, TLS and UDP routes → listeners of their own, one per port, beside the HTTP listener.
//!
//! [`tcp`] and [`tls`] turn each route into filter chains, each with its
//! port, its match and a `tcp_proxy` filter (weighted clusters with the family's weight
//! semantics); [`udp`] turns a UDPRoute into `udp_proxy` listener filters. This
//! module puts them together:
//!
//! - `meshcd_tcp_<port>`: the TCP routes of a port; a chain matches the connection's destination
//!   address (`filter_chain_match.prefix_ranges`, networkservices `address`) or everything.
//! - `meshcd_tls_<port>`: TLS passthrough; the `tls_inspector` listener filter reads the SNI and
//!   ALPN of the ClientHello, each chain matches `server_names` (and networkservices
//!   `application_protocols`) of TLS connections; the TLS session is not terminated.
//! - `meshcd_udp_<port>`: one UDPRoute's `udp_proxy`; the listener's metadata
//!   (`filter_metadata.meshcd.route`) names the route like a filter chain name.
//!
//! Filter chains are named [`chain_name`]: the route id, `#`, the rule (and match). A port takes
//! TCP or TLS routes, not both, and not meshcd's HTTP port. Two routes claiming the same address
//! range or the same SNI on a port are an error, as are claims within one route that Envoy would
//! order differently than the API (which takes the first rule that matches, where Envoy takes
//! the most specific match).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value as Json};

use super::actions::{self, Forward, HeaderEdits};
use super::clusters::sanitize;
use super::context::{BackendUse, Ctx};
use super::routes::{chain_name, is_layer4, vhost_name};
use super::{tcp, tls, udp};
use crate::envoy::{EnvoySettings, TranslateError, LISTENER_TYPE};
use crate::ir::{self, Split};
use crate::load::Loaded;
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;

/// `@type` of the TCP proxy.
const TCP_PROXY_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
/// The name of the TCP proxy network filter.
pub(crate) const TCP_PROXY: &str = "envoy.filters.network.tcp_proxy";
/// The metadata namespace of meshcd's UDP listeners.
pub(crate) const METADATA_NAMESPACE: &str = "meshcd";

/// The layer-4 listeners of a revision and the backends their routes use.
pub(crate) struct Layer4<'a> {
    /// Listeners, ordered by port (TCP, then TLS, then UDP on one port number).
    pub listeners: Vec<Json>,
    /// Backends used.
    pub uses: Vec<BackendUse<'a>>,
}

/// A port a route listens on, and the field it comes from.
#[derive(Debug, Clone)]
pub(super) struct Port {
    /// The port number.
    pub number: u16,
    /// Where it is given (or why it is chosen).
    pub at: FieldPath,
}

/// What a filter chain matches.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ChainMatch {
    /// TCP: the destination address range (`None`: every address).
    Tcp(Option<Cidr>),
    /// TLS: SNI names (empty: any) and ALPN protocols (empty: any).
    Tls {
        /// `server_names`.
        server_names: Vec<String>,
        /// `application_protocols`.
        alpn: Vec<String>,
    },
}

/// One filter chain of a TCP or TLS route, before it joins its listener.
pub(super) struct Chain<'a> {
    /// The route.
    pub resource: &'a Resource,
    /// The port.
    pub port: Port,
    /// The rule's name (and the match's), as [`super::routes::rule_name`] gives it.
    pub rule: String,
    /// Where the match is (for conflicts).
    pub at: FieldPath,
    /// What it matches.
    pub matcher: ChainMatch,
    /// Its network filters and metadata.
    pub proxy: Proxy,
}

/// The network filters of a chain, and its metadata: for weighted clusters, the clusters of the
/// split in order (`filter_metadata.meshcd.clusters`), since the TCP proxy takes no cluster of
/// weight 0 and leaves those out.
#[derive(Debug, Clone)]
pub(super) struct Proxy {
    /// `filters`.
    pub filters: Vec<Json>,
    /// `metadata`, if any.
    pub metadata: Option<Json>,
}

/// The `udp_proxy` of one UDPRoute rule on one port.
pub(super) struct UdpRoute<'a> {
    /// The route.
    pub resource: &'a Resource,
    /// The port.
    pub port: Port,
    /// The rule's name.
    pub rule: String,
    /// The `udp_proxy` listener filter.
    pub filter: Json,
}

/// An IP address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cidr {
    /// The address, with the bits past the prefix cleared.
    pub address: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    /// Reads `a.b.c.d/n`, `x::y/n`, or an address alone (all its bits).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, len) = match text.trim().split_once('/') {
            Some((a, l)) => (a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?),
            None => {
                let a = text.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let bits = if address.is_ipv4() { 32 } else { 128 };
        (len <= bits).then(|| Cidr {
            address: mask(address, len),
            len,
        })
    }

    /// True when every address of `other` is in `self`.
    pub fn contains(&self, other: &Cidr) -> bool {
        self.address.is_ipv4() == other.address.is_ipv4()
            && self.len <= other.len
            && mask(other.address, self.len) == self.address
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.len)
    }
}

fn mask(address: IpAddr, len: u8) -> IpAddr {
    match address {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let kept = if len == 0 {
                0
            } else {
                bits & (u32::MAX << (32 - u32::from(len.min(32))))
            };
            IpAddr::V4(kept.into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let kept = if len == 0 {
                0
            } else {
                bits & (u128::MAX << (128 - u32::from(len.min(128))))
            };
            IpAddr::V6(kept.into())
        }
    }
}

/// The listeners of every TCP, TLS and UDP route of the revision.
pub(crate) fn layer4<'a>(
    loaded: &'a Loaded,
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> Layer4<'a> {
    let mut uses = Vec::new();
    let mut chains = Vec::new();
    let mut udp_routes = Vec::new();
    let gateway_ports = gateway_ports(loaded);
    for resource in &loaded.resources {
        if !is_layer4(resource.id.kind) {
            continue;
        }
        let Some(route) = ir::route(resource) else {
            continue;
        };
        let mut ctx = Ctx::new(resource, errors, &mut uses);
        ctx.layer4 = true;
        match resource.id.kind {
            Kind::NsTcpRoute => chains.extend(tcp::networkservices(&mut ctx, &route)),
            Kind::GwTcpRoute => chains.extend(tcp::gateway_api(&mut ctx, &route)),
            Kind::NsTlsRoute => chains.extend(tls::networkservices(
                &mut ctx,
                &route,
                &gateway_ports,
                settings.tls_port,
            )),
            Kind::GwTlsRoute => chains.extend(tls::gateway_api(&mut ctx, &route)),
            Kind::GwUdpRoute => udp_routes.extend(udp::gateway_api(&mut ctx, &route)),
            _ => {}
        }
    }
    // Routes in id order (rules in their order), whatever the order of the files: the
    // listeners, and which route a conflict is reported on, do not depend on it.
    chains.sort_by(|a, b| a.resource.id.cmp(&b.resource.id));
    udp_routes.sort_by(|a, b| a.resource.id.cmp(&b.resource.id));
    let mut listeners: BTreeMap<(u16, u8), Json> = BTreeMap::new();
    for (port, chains) in by_port(chains, |c| c.port.number) {
        if let Some((number, tls, listener)) = stream_listener(port, chains, settings, errors) {
            listeners.insert((number, u8::from(tls)), listener);
        }
    }
    for (port, routes) in by_port(udp_routes, |u| u.port.number) {
        if let Some(listener) = udp_listener(port, routes, settings, errors) {
            listeners.insert((port, 2), listener);
        }
    }
    Layer4 {
        listeners: listeners.into_values().collect(),
        uses,
    }
}

/// The `ports` of each networkservices Gateway of the revision, by name.
fn gateway_ports(loaded: &Loaded) -> BTreeMap<String, Vec<i64>> {
    loaded
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::NsGateway(gateway) => Some((r.id.name.clone(), gateway.ports.clone())),
            _ => None,
        })
        .collect()
}

/// Items grouped by port, in their order.
fn by_port<T>(items: Vec<T>, port: impl Fn(&T) -> u16) -> BTreeMap<u16, Vec<T>> {
    let mut groups: BTreeMap<u16, Vec<T>> = BTreeMap::new();
    for item in items {
        groups.entry(port(&item)).or_default().push(item);
    }
    groups
}

fn error(errors: &mut Vec<TranslateError>, resource: &Resource, at: &FieldPath, message: String) {
    errors.push(TranslateError::new(resource, at, message));
}

/// The TCP or TLS listener of a port (`tls` set for TLS), after checking its chains' claims.
fn stream_listener(
    port: u16,
    chains: Vec<Chain<'_>>,
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> Option<(u16, bool, Json)> {
    if port == settings.http_port {
        for chain in &chains {
            error(
                errors,
                chain.resource,
                &chain.port.at,
                format!("port {port} is meshcd's HTTP listener (`http_port`); choose another"),
            );
        }
        return None;
    }
    let first = chains.first()?;
    let tls = matches!(first.matcher, ChainMatch::Tls { .. });
    let (first_id, first_at) = (first.resource.id.clone(), first.port.at.clone());
    for chain in &chains {
        if matches!(chain.matcher, ChainMatch::Tls { .. }) != tls {
            let (mine, theirs) = if tls { ("TCP", "TLS") } else { ("TLS", "TCP") };
            error(
                errors,
                chain.resource,
                &chain.port.at,
                format!(
                    "port {port} serves {theirs} routes ({first_id} at {first_at}); a port takes {theirs} or {mine} routes, not both"
                ),
            );
        }
    }
    check_claims(port, &chains, errors);
    let filter_chains: Vec<Json> = chains
        .iter()
        .map(|chain| {
            let mut out = Map::new();
            out.insert(
                "name".into(),
                json!(chain_name(&chain.resource.id, &chain.rule)),
            );
            let matcher = filter_chain_match(&chain.matcher);
            if !matcher.is_empty() {
                out.insert("filter_chain_match".into(), Json::Object(matcher));
            }
            out.insert("filters".into(), Json::Array(chain.proxy.filters.clone()));
            if let Some(metadata) = &chain.proxy.metadata {
                out.insert("metadata".into(), metadata.clone());
            }
            Json::Object(out)
        })
        .collect();
    let mut listener = Map::new();
    listener.insert("@type".into(), json!(LISTENER_TYPE));
    listener.insert("name".into(), json!(listener_name(tls, port)));
    listener.insert(
        "address".into(),
        json!({"socket_address": {"address": settings.listen_address, "port_value": port}}),
    );
    if tls {
        listener.insert(
            "listener_filters".into(),
            json!([{
                "name": "envoy.filters.listener.tls_inspector",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
                },
            }]),
        );
    }
    listener.insert("filter_chains".into(), Json::Array(filter_chains));
    Some((port, tls, Json::Object(listener)))
}

/// The name of the TCP (`tls` unset) or TLS listener of a port.
pub(crate) fn listener_name(tls: bool, port: u16) -> String {
    if tls {
        format!("meshcd_tls_{port}")
    } else {
        format!("meshcd_tcp_{port}")
    }
}

/// A chain's `filter_chain_match` (empty: it matches every connection).
fn filter_chain_match(matcher: &ChainMatch) -> Map<String, Json> {
    let mut out = Map::new();
    match matcher {
        ChainMatch::Tcp(Some(cidr)) => {
            out.insert(
                "prefix_ranges".into(),
                json!([{"address_prefix": cidr.address.to_string(), "prefix_len": cidr.len}]),
            );
        }
        ChainMatch::Tcp(None) => {}
        ChainMatch::Tls { server_names, alpn } => {
            if !server_names.is_empty() {
                out.insert("server_names".into(), json!(server_names));
            }
            out.insert("transport_protocol".into(), json!("tls"));
            if !alpn.is_empty() {
                out.insert("application_protocols".into(), json!(alpn));
            }
        }
    }
    out
}

/// Reports chains of a port whose claims collide: the same address range or SNI claimed by two
/// routes, or a match of a route that an earlier match of the same route covers (the API would
/// never reach it; Envoy, taking the most specific match, would).
fn check_claims(port: u16, chains: &[Chain<'_>], errors: &mut Vec<TranslateError>) {
    for (i, chain) in chains.iter().enumerate() {
        for earlier in &chains[..i] {
            let same_route = earlier.resource.id == chain.resource.id;
            let problem = match (&earlier.matcher, &chain.matcher) {
                (ChainMatch::Tcp(a), ChainMatch::Tcp(b)) => {
                    let covers = match (a, b) {
                        (None, _) => true,
                        (Some(_), None) => false,
                        (Some(a), Some(b)) => a.contains(b),
                    };
                    let what = b.map_or_else(|| "every address".to_string(), |c| c.to_string());
                    if same_route && covers {
                        Some(format!(
                            "{what} on port {port} is already matched by `{}` of this route: the API takes the first match, Envoy the most specific; remove or reorder the matches",
                            earlier.rule
                        ))
                    } else if !same_route && a == b {
                        Some(format!(
                            "{what} on port {port} is also claimed by {} (`{}`); Envoy takes each address range of a port once",
                            earlier.resource.id, earlier.rule
                        ))
                    } else {
                        None
                    }
                }
                (
                    ChainMatch::Tls {
                        server_names: names_a,
                        alpn: alpn_a,
                    },
                    ChainMatch::Tls {
                        server_names: names_b,
                        alpn: alpn_b,
                    },
                ) => tls_conflict(names_a, alpn_a, names_b, alpn_b, same_route).map(
                    |(sni, shadowed)| {
                        if shadowed {
                            format!(
                                "SNI {sni} on port {port} is already matched by `{}` of this route: the API takes the first match, Envoy the most specific; remove or reorder the matches",
                                earlier.rule
                            )
                        } else {
                            format!(
                                "SNI {sni} on port {port} is also claimed by {} (`{}`); Envoy routes each SNI of a port once",
                                earlier.resource.id, earlier.rule
                            )
                        }
                    },
                ),
                _ => None,
            };
            if let Some(message) = problem {
                error(errors, chain.resource, &chain.at, message);
                break;
            }
        }
    }
}

/// The SNI (in words) on which a later TLS match collides with an earlier one, and whether it
/// is shadowed within one route (else claimed by two routes).
fn tls_conflict(
    names_a: &[String],
    alpn_a: &[String],
    names_b: &[String],
    alpn_b: &[String],
    same_route: bool,
) -> Option<(String, bool)> {
    let describe = |name: Option<&String>| name.map_or("(any)".to_string(), |n| format!("`{n}`"));
    if same_route {
        // The earlier match covers the later one when it takes its SNI (or any SNI) and its
        // ALPN (or any ALPN, or some of the same protocols).
        let alpn_covered =
            alpn_a.is_empty() || (!alpn_b.is_empty() && alpn_b.iter().any(|p| alpn_a.contains(p)));
        if !alpn_covered {
            return None;
        }
        if names_a.is_empty() {
            return Some((describe(names_b.first()), true));
        }
        if names_b.is_empty() {
            return None;
        }
        return names_b
            .iter()
            .find(|n| names_a.contains(n))
            .map(|n| (describe(Some(n)), true));
    }
    match (names_a.is_empty(), names_b.is_empty()) {
        (true, true) => Some((describe(None), false)),
        (false, false) => names_b
            .iter()
            .find(|n| names_a.contains(n))
            .map(|n| (describe(Some(n)), false)),
        _ => None,
    }
}

/// The UDP listener of a port: one route's `udp_proxy`.
fn udp_listener(
    port: u16,
    routes: Vec<UdpRoute<'_>>,
    settings: &EnvoySettings,
    errors: &mut Vec<TranslateError>,
) -> Option<Json> {
    let first = routes.first()?;
    for other in &routes[1..] {
        error(
            errors,
            other.resource,
            &other.port.at,
            format!(
                "UDP port {port} is taken by {} (`{}`); a UDP listener carries one route",
                first.resource.id, first.rule
            ),
        );
    }
    Some(json!({
        "@type": LISTENER_TYPE,
        "name": format!("meshcd_udp_{port}"),
        "address": {"socket_address": {
            "protocol": "UDP",
            "address": settings.listen_address,
            "port_value": port,
        }},
        "metadata": {"filter_metadata": {METADATA_NAMESPACE: {
            "route": chain_name(&first.resource.id, &first.rule),
        }}},
        "listener_filters": [first.filter],
    }))
}

/// The network filters that send a connection to a split: a `tcp_proxy` to one cluster or
/// weighted clusters (the family's weights; clusters of weight 0 are left out, as the TCP proxy
/// takes none, and listed with the others in the chain's metadata), or, when no backend gets
/// traffic (a Gateway API split of zero weights, or a rule without backends), a
/// `direct_response` that closes the connection. `None` when the split is invalid (reported).
pub(super) fn proxy_filters(
    ctx: &mut Ctx<'_, '_>,
    split: Option<&Split>,
    idle_timeout: Option<String>,
    aliases: Vec<Vec<String>>,
    ports: Vec<Option<u16>>,
) -> Option<Proxy> {
    let closed = Proxy {
        filters: vec![close_connection()],
        metadata: None,
    };
    let Some(split) = split.filter(|s| !s.backends.is_empty()) else {
        return Some(closed);
    };
    let edits = vec![(HeaderEdits::default(), HeaderEdits::default()); split.backends.len()];
    let mut route = match actions::forward(ctx, split, edits, false, aliases, ports) {
        Forward::Route(route) => route,
        Forward::NoTraffic => return Some(closed),
        Forward::Invalid => return None,
    };
    let mut metadata = None;
    if let Some(Json::Array(clusters)) = route
        .get_mut("weighted_clusters")
        .and_then(|w| w.get_mut("clusters"))
    {
        let names: Vec<Json> = clusters
            .iter()
            .map(|c| c.get("name").cloned().unwrap_or(Json::Null))
            .collect();
        clusters.retain(|c| c.get("weight").and_then(Json::as_u64) != Some(0));
        metadata = Some(json!({"filter_metadata": {METADATA_NAMESPACE: {"clusters": names}}}));
    }
    let mut proxy = Map::new();
    proxy.insert("@type".into(), json!(TCP_PROXY_TYPE));
    proxy.insert(
        "stat_prefix".into(),
        json!(sanitize(&vhost_name(&ctx.resource.id))),
    );
    proxy.extend(route);
    if let Some(idle) = idle_timeout {
        proxy.insert("idle_timeout".into(), json!(idle));
    }
    Some(Proxy {
        filters: vec![json!({"name": TCP_PROXY, "typed_config": proxy})],
        metadata,
    })
}

/// A network filter that closes every connection (no backend gets traffic).
fn close_connection() -> Json {
    json!({
        "name": "envoy.filters.network.direct_response",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.direct_response.v3.Config",
        },
    })
}

/// The ports of a Gateway API route: the `port` of each of its `parentRefs` (once each). A
/// parentRef without `port` is an error: meshcd does not load Gateways, so it cannot tell which
/// port a `sectionName` (or a whole Gateway) stands for.
pub(super) fn parent_ports(
    ctx: &mut Ctx<'_, '_>,
    spec: &Map<String, Json>,
    spec_path: &FieldPath,
) -> Vec<Port> {
    let kind = ctx.resource.id.kind;
    let refs = ctx.array(spec, "parentRefs", spec_path);
    if refs.is_empty() {
        ctx.error(
            spec_path,
            format!(
                "a {kind} needs `parentRefs` with a `port`: the envoy target listens on that port"
            ),
        );
        return Vec::new();
    }
    let mut ports: Vec<Port> = Vec::new();
    for (i, parent) in refs.iter().enumerate() {
        let at = spec_path.key("parentRefs").index(i);
        let Some(p) = ctx.object(
            parent,
            &at,
            &["group", "kind", "name", "namespace", "sectionName", "port"],
        ) else {
            continue;
        };
        match ctx.int_in(p, "port", &at, 1..=65535) {
            Some(number) => {
                let number = number as u16;
                if !ports.iter().any(|p| p.number == number) {
                    ports.push(Port {
                        number,
                        at: at.key("port"),
                    });
                }
            }
            None if !p.contains_key("port") => {
                let name = p.get("name").and_then(Json::as_str).unwrap_or("");
                let section = p
                    .get("sectionName")
                    .and_then(Json::as_str)
                    .map_or_else(String::new, |s| format!("listener `{s}` of "));
                ctx.error(
                    &at,
                    format!(
                        "the envoy target listens on a parentRef's `port`, and meshcd does not load Gateways to find the port of {section}`{name}`: set `port`"
                    ),
                );
            }
            None => {}
        }
    }
    ports
}

/// The backends of a Gateway API layer-4 rule: their aliases and ports, for
/// [`proxy_filters`] (unknown fields are reported).
pub(super) fn gateway_backends(
    ctx: &mut Ctx<'_, '_>,
    rule: &Map<String, Json>,
    path: &FieldPath,
    split: Option<&Split>,
) -> (Vec<Vec<String>>, Vec<Option<u16>>) {
    let mut aliases = Vec::new();
    let mut ports = Vec::new();
    for (j, b) in ctx.array(rule, "backendRefs", path).iter().enumerate() {
        let at = path.key("backendRefs").index(j);
        let Some(b) = ctx.object(
            b,
            &at,
            &["group", "kind", "name", "namespace", "port", "weight"],
        ) else {
            aliases.push(Vec::new());
            ports.push(None);
            continue;
        };
        let backend = split.and_then(|s| s.backends.get(j));
        aliases.push(
            backend
                .map(super::gateway_api::backend_aliases)
                .unwrap_or_default(),
        );
        ports.push(ctx.int_in(b, "port", &at, 1..=65535).map(|p| p as u16));
    }
    (aliases, ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap_or_else(|| panic!("{text} parses"))
    }

    #[test]
    fn cidrs_parse_mask_and_contain() {
        assert_eq!(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("10.1.2.3").to_string(), "10.1.2.3/32");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("fd00::1/8").to_string(), "fd00::/8");
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope/8").is_none());
        assert!(cidr("10.0.0.0/8").contains(&cidr("10.1.0.0/16")));
        assert!(cidr("10.0.0.0/8").contains(&cidr("10.0.0.0/8")));
        assert!(!cidr("10.1.0.0/16").contains(&cidr("10.0.0.0/8")));
        assert!(cidr("0.0.0.0/0").contains(&cidr("192.168.1.1")));
        assert!(!cidr("0.0.0.0/0").contains(&cidr("::1")));
    }

    #[test]
    fn tls_claims_collide_on_shared_names_and_shadowing_alpn() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // Two routes: the same name collides, whatever the ALPN.
        assert!(tls_conflict(&s(&["a"]), &s(&["h2"]), &s(&["a"]), &[], false).is_some());
        assert!(tls_conflict(&s(&["a"]), &[], &s(&["b"]), &[], false).is_none());
        assert!(tls_conflict(&[], &[], &[], &[], false).is_some());
        // One route: an earlier match without ALPN shadows a later one with it...
        assert!(tls_conflict(&s(&["a"]), &[], &s(&["a"]), &s(&["h2"]), true).is_some());
        // ...but a later catch-all behind a specific ALPN is fine, and disjoint ALPN too.
        assert!(tls_conflict(&s(&["a"]), &s(&["h2"]), &s(&["a"]), &[], true).is_none());
        assert!(
            tls_conflict(&s(&["a"]), &s(&["h2"]), &s(&["a"]), &s(&["http/1.1"]), true).is_none()
        );
        // An earlier match of any SNI covers every later name.
        assert!(tls_conflict(&[], &[], &s(&["a"]), &[], true).is_some());
    }
}
