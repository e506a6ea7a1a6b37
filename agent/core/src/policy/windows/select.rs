//! Which routes a ChangeWindow applies to: its `selector` matched against the route IR.
//!
//! Routes, hostnames and labels match exactly as a RolloutPolicy's selector does (see
//! [`crate::policy::selector::selects`]); `meshes` is the windows' own list. Unlike a
//! RolloutPolicy, a window with an empty selector applies to every route.

use crate::ir::RouteIr;
use crate::model::meshcd::{RolloutPolicySpec, WindowSelector};
use crate::model::networkservices::short_name;
use crate::model::{istio, Spec};
use crate::policy::selector;

/// A window selector prepared for matching many routes.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The empty selector: every route.
    every: bool,
    /// Routes, hostnames and labels, as a policy for [`selector::selects`] (`None` when empty).
    base: Option<RolloutPolicySpec>,
    /// Mesh and gateway names.
    meshes: Vec<String>,
}

impl Selection {
    /// Prepares a selector.
    pub fn new(window: &WindowSelector) -> Self {
        let base = window.route_selector();
        Self {
            every: window.is_empty(),
            base: (!selector::is_empty(&base)).then(|| RolloutPolicySpec {
                selector: base,
                ..RolloutPolicySpec::default()
            }),
            meshes: window
                .meshes
                .iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
        }
    }

    /// True when the selector applies to every route (it lists nothing).
    pub fn is_every_route(&self) -> bool {
        self.every
    }

    /// True when the window applies to the route: the selector is empty, or any of its lists
    /// matches (a route name, a hostname, all labels, or a mesh or gateway, see
    /// [`attachments`]).
    pub fn selects(&self, route: &RouteIr<'_>) -> bool {
        if self.every {
            return true;
        }
        if self
            .base
            .as_ref()
            .is_some_and(|base| selector::selects(base, route))
        {
            return true;
        }
        !self.meshes.is_empty()
            && attachments(route).iter().any(|attached| {
                self.meshes
                    .iter()
                    .any(|m| m == attached || m == short_name(attached))
            })
    }
}

/// What a route attaches to, as written, for a `meshes` entry to match (the whole value, or
/// the part after its last `/`):
///
/// - networkservices routes: each of `meshes` and `gateways` (`projects/p/locations/global/
///   meshes/prod` is matched by `prod`);
/// - Istio VirtualServices: each of `gateways`, or `mesh` when there are none
///   (`istio-system/public` is matched by `public`);
/// - Gateway API routes: each parentRef as `namespace/name` (the route's namespace by default),
///   matched by `name` too.
pub fn attachments(route: &RouteIr<'_>) -> Vec<String> {
    let resource = route.resource;
    match &resource.spec {
        Spec::NsHttpRoute(r) => [&r.meshes[..], &r.gateways[..]].concat(),
        Spec::NsGrpcRoute(r) => [&r.meshes[..], &r.gateways[..]].concat(),
        Spec::NsTcpRoute(r) => [&r.meshes[..], &r.gateways[..]].concat(),
        Spec::NsTlsRoute(r) => [&r.meshes[..], &r.gateways[..]].concat(),
        Spec::VirtualService(vs) if vs.gateways.is_empty() => vec![istio::MESH_GATEWAY.into()],
        Spec::VirtualService(vs) => vs.gateways.clone(),
        Spec::GwRoute(spec) => spec
            .parent_refs
            .iter()
            .map(|p| {
                let namespace = p.namespace.as_deref().unwrap_or(&resource.id.namespace);
                if namespace.is_empty() {
                    p.name.clone()
                } else {
                    format!("{namespace}/{}", p.name)
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}
