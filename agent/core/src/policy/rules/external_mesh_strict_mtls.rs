//! MC403 `external-mesh-strict-mtls`: a STRICT PeerAuthentication refuses the plain-text
//! traffic of `external-mesh` clients.
//!
//! **What it does.** Finds the namespaces of the Services that `external-mesh` VirtualServices
//! route to (hosts `<svc>.<ns>.svc.cluster.local`), then checks the PeerAuthentications that
//! cover them:
//!
//! - a namespace-wide one (no `selector`) in that namespace with `mtls.mode: STRICT` is an
//!   error;
//! - a mesh-wide one (no `selector`, in the root namespace `istio-system`) with `STRICT` is an
//!   error, unless the destination namespace overrides it with its own namespace-wide mode;
//! - one with a `selector` and `STRICT` is a warning: it may apply to the Service's workloads;
//! - a `portLevelMtls` entry with `STRICT` is a warning: it may be the Service's port.
//!
//! **Why.** Traffic from clients outside the cluster (such as Cloud Run) reaches the
//! destination in plain text. A STRICT destination accepts only mTLS, so every external request
//! fails. The destination must be PERMISSIVE, which is the default when no PeerAuthentication
//! exists.
//!
//! **Example.** VirtualService `prod/ads` with `gateways: [external-mesh]` routes to `ads`, and
//! PeerAuthentication `prod/default` sets `mtls: {mode: STRICT}`: set it to `PERMISSIVE`.

use std::collections::{BTreeMap, BTreeSet};

use super::external_mesh_ignored_field::{
    http_destination_hosts, is_external_mesh, service_namespace,
};
use crate::finding::{Finding, Severity};
use crate::ir::istio_fqdn;
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC403",
    name: "external-mesh-strict-mtls",
    summary:
        "a STRICT PeerAuthentication refuses the plain-text traffic of `external-mesh` clients",
    check: Some(check),
};

/// Istio's root namespace: a PeerAuthentication without a selector there is mesh-wide.
const ROOT_NAMESPACE: &str = "istio-system";

const STRICT: &str = "STRICT";

/// A namespace external clients are routed into: the first VirtualService and host that do.
struct Target<'a> {
    vs: &'a Resource,
    host: String,
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut targets: BTreeMap<String, Target<'_>> = BTreeMap::new();
    for resource in ctx.of_kind(Kind::VirtualService) {
        let Spec::VirtualService(vs) = &resource.spec else {
            continue;
        };
        if !is_external_mesh(vs) {
            continue;
        }
        for (_, host) in http_destination_hosts(vs) {
            let fqdn = istio_fqdn(host, &resource.id.namespace);
            if let Some(namespace) = service_namespace(&fqdn) {
                targets
                    .entry(namespace.to_string())
                    .or_insert_with(|| Target {
                        vs: resource,
                        host: fqdn.clone(),
                    });
            }
        }
    }
    if targets.is_empty() {
        return;
    }
    let peer_auths: Vec<_> = ctx
        .of_kind(Kind::PeerAuthentication)
        .filter_map(|r| match &r.spec {
            Spec::PeerAuthentication(pa) => Some((r, pa)),
            _ => None,
        })
        .collect();
    // Namespaces whose own namespace-wide PeerAuthentication sets a mode: the mesh-wide one
    // does not apply there.
    let own_mode: BTreeSet<&str> = peer_auths
        .iter()
        .filter(|(_, pa)| pa.selector.is_none())
        .filter(|(_, pa)| {
            pa.mtls
                .as_ref()
                .and_then(|m| m.mode.as_deref())
                .is_some_and(|m| m != "UNSET")
        })
        .map(|(r, _)| r.id.namespace.as_str())
        .collect();
    for (resource, pa) in peer_auths {
        let namespace = resource.id.namespace.as_str();
        let namespace_wide = pa.selector.is_none();
        let (target_ns, target, scope) = if let Some(target) = targets.get(namespace) {
            (namespace, target, format!("namespace `{namespace}`"))
        } else if namespace == ROOT_NAMESPACE && namespace_wide {
            let Some((ns, target)) = targets
                .iter()
                .find(|(ns, _)| !own_mode.contains(ns.as_str()))
            else {
                continue;
            };
            (
                ns.as_str(),
                target,
                format!("the whole mesh (root namespace `{ROOT_NAMESPACE}`), including namespace `{ns}`"),
            )
        } else {
            continue;
        };
        let why = format!(
            "`{}` routes `external-mesh` clients (such as Cloud Run) to `{}` in namespace \
             `{target_ns}`, and their traffic is plain text",
            target.vs.id, target.host
        );
        let spec = FieldPath::root().key("spec");
        if pa.mtls.as_ref().and_then(|m| m.mode.as_deref()) == Some(STRICT) {
            let path = spec.key("mtls").key("mode");
            if namespace_wide {
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &path,
                    format!(
                        "`{path}` is STRICT for {scope}: {why}, so it is refused; set the mode to \
                         PERMISSIVE"
                    ),
                ));
            } else {
                out.push(resource.finding(
                    &RULE,
                    Severity::Warning,
                    &path,
                    format!(
                        "`{path}` is STRICT and may apply to the service's workloads: {why}; if \
                         `spec.selector` matches its pods, set the mode to PERMISSIVE"
                    ),
                ));
            }
        }
        for (port, mtls) in &pa.port_level_mtls {
            if mtls.mode.as_deref() == Some(STRICT) {
                let path = spec.key("portLevelMtls").key(port).key("mode");
                out.push(resource.finding(
                    &RULE,
                    Severity::Warning,
                    &path,
                    format!(
                        "`{path}` is STRICT and may apply to the service's workloads: {why}; if \
                         port {port} serves them, set it to PERMISSIVE"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RULE;
    use crate::policy::check_fixture;

    /// This rule's findings, and the loader's so a fixture that does not load is noticed.
    fn run(yaml: &str) -> Vec<String> {
        check_fixture(yaml)
            .into_iter()
            .filter(|l| l.starts_with(RULE.code) || l.starts_with("MC00"))
            .collect()
    }

    const EXTERNAL_VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ads, namespace: prod}\nspec:\n  hosts: [ads]\n  gateways: [external-mesh]\n  http:\n  - route:\n    - destination: {host: ads}\n---\n";

    fn pa(namespace: &str, body: &str) -> String {
        format!("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: default, namespace: {namespace}}}\nspec:\n{body}")
    }

    const WHY: &str = "`VirtualService/prod/ads` routes `external-mesh` clients (such as Cloud Run) to `ads.prod.svc.cluster.local` in namespace `prod`, and their traffic is plain text";

    #[test]
    fn permissive_destination_passes() {
        let yaml = format!(
            "{EXTERNAL_VS}{}",
            pa("prod", "  mtls: {mode: PERMISSIVE}\n")
        );
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn strict_elsewhere_or_for_in_mesh_routes_passes() {
        let yaml = format!("{EXTERNAL_VS}{}", pa("billing", "  mtls: {mode: STRICT}\n"));
        assert_eq!(run(&yaml), Vec::<String>::new());
        let in_mesh = EXTERNAL_VS.replace("  gateways: [external-mesh]\n", "");
        let yaml = format!("{in_mesh}{}", pa("prod", "  mtls: {mode: STRICT}\n"));
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn strict_namespace_is_an_error() {
        let yaml = format!("{EXTERNAL_VS}{}", pa("prod", "  mtls: {mode: STRICT}\n"));
        assert_eq!(
            run(&yaml),
            vec![format!("MC403 error 15:16 `spec.mtls.mode` is STRICT for namespace `prod`: {WHY}, so it is refused; set the mode to PERMISSIVE")]
        );
    }

    #[test]
    fn strict_mesh_wide_is_an_error_unless_the_namespace_overrides_it() {
        let yaml = format!(
            "{EXTERNAL_VS}{}",
            pa("istio-system", "  mtls: {mode: STRICT}\n")
        );
        assert_eq!(
            run(&yaml),
            vec![format!("MC403 error 15:16 `spec.mtls.mode` is STRICT for the whole mesh (root namespace `istio-system`), including namespace `prod`: {WHY}, so it is refused; set the mode to PERMISSIVE")]
        );
        let yaml = format!("{yaml}---\n{}", pa("prod", "  mtls: {mode: PERMISSIVE}\n"));
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn strict_with_selector_or_port_is_a_warning() {
        let yaml = format!(
            "{EXTERNAL_VS}{}",
            pa(
                "prod",
                "  selector:\n    matchLabels: {app: ads}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    8080: {mode: STRICT}\n    9090: {mode: PERMISSIVE}\n"
            )
        );
        assert_eq!(
            run(&yaml),
            vec![
                format!("MC403 warning 17:16 `spec.mtls.mode` is STRICT and may apply to the service's workloads: {WHY}; if `spec.selector` matches its pods, set the mode to PERMISSIVE"),
                format!("MC403 warning 19:18 `spec.portLevelMtls.8080.mode` is STRICT and may apply to the service's workloads: {WHY}; if port 8080 serves them, set it to PERMISSIVE"),
            ]
        );
    }
}
