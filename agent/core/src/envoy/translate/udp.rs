//! Gateway API UDPRoute → a `meshcd_udp_<port>` listener with Envoy's `udp_proxy` on the `port`
//! of each of its `parentRefs` (see [`l4`]).
//!
//! The proxy's `matcher` sends every datagram session to one cluster (`on_no_match`, action
//! `envoy.extensions.filters.udp.udp_proxy.v3.Route`). Envoy 1.40's `udp_proxy` has no weighted
//! clusters (its `Route` takes one `cluster`), so a rule may split its traffic only as "all to
//! one backend": exactly one of its backends may have a weight above 0. Several weighted
//! backends, or none, are errors.

use serde_json::json;

use super::actions::weight_problem;
use super::clusters::{cluster_name, sanitize};
use super::context::Ctx;
use super::l4::{self, UdpRoute};
use super::routes::{rule_name, vhost_name};
use crate::ir::RouteIr;

/// The UDP listeners of a Gateway API UDPRoute.
pub(super) fn gateway_api<'a>(ctx: &mut Ctx<'a, '_>, route: &RouteIr<'a>) -> Vec<UdpRoute<'a>> {
    let resource = ctx.resource;
    let spec_path = resource.spec_path();
    let Some(spec) = ctx.spec(&["parentRefs", "rules"]) else {
        return Vec::new();
    };
    let ports = l4::parent_ports(ctx, spec, &spec_path);
    let mut out = Vec::new();
    for (i, rule) in ctx.array(spec, "rules", &spec_path).iter().enumerate() {
        let path = spec_path.key("rules").index(i);
        let Some(rule) = ctx.object(rule, &path, &["name", "backendRefs"]) else {
            continue;
        };
        let Some(split) = route.split_of(&path).filter(|s| !s.backends.is_empty()) else {
            ctx.error(&path, "the rule has no `backendRefs`");
            continue;
        };
        let (aliases, backend_ports) = l4::gateway_backends(ctx, rule, &path, Some(split));
        let weights = match split.weights() {
            Ok(weights) => weights,
            Err(problem) => {
                let (at, message) = weight_problem(split, &problem);
                ctx.error(&at, message);
                continue;
            }
        };
        let receiving: Vec<usize> = (0..weights.len()).filter(|j| weights[*j] > 0).collect();
        let [chosen] = receiving.as_slice() else {
            let message = if receiving.is_empty() {
                "no backend has a weight above 0: Envoy's udp_proxy cannot drop a route's datagrams; give one backend a weight".to_string()
            } else {
                format!(
                    "{} backends have a weight above 0, but Envoy 1.40's udp_proxy sends a route's datagrams to one cluster (it has no weighted clusters): give one backend all the weight",
                    receiving.len()
                )
            };
            ctx.error(&split.path, message);
            continue;
        };
        let backend = split.backends[*chosen].clone();
        if backend.name.is_empty() {
            ctx.error(&backend.path, "the backend has no name");
            continue;
        }
        let cluster = cluster_name(&backend);
        ctx.use_backend(
            backend,
            false,
            aliases.get(*chosen).cloned().unwrap_or_default(),
            backend_ports.get(*chosen).copied().flatten(),
        );
        let filter = json!({
            "name": "envoy.filters.udp_listener.udp_proxy",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig",
                "stat_prefix": sanitize(&vhost_name(&resource.id)),
                "matcher": {"on_no_match": {"action": {
                    "name": "route",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route",
                        "cluster": cluster,
                    },
                }}},
            },
        });
        let name = rule_name(resource, &path);
        for port in &ports {
            out.push(UdpRoute {
                resource,
                port: port.clone(),
                rule: name.clone(),
                filter: filter.clone(),
            });
        }
    }
    out
}
