//! MC404 `external-mesh-namespace`: an `external-mesh` VirtualService is not in the namespace of
//! its destination Service.
//!
//! **What it does.** For each `http` route destination of a VirtualService whose `gateways`
//! include `external-mesh`, takes the host's FQDN (see [`istio_fqdn`]); when it names a
//! Kubernetes Service, `<svc>.<ns>.svc.cluster.local`, `<ns>` must be the VirtualService's own
//! namespace.
//!
//! **Why.** Cloud Service Mesh only applies an `external-mesh` VirtualService that lives in the
//! namespace of its destination Service; elsewhere, clients outside the cluster (such as Cloud
//! Run) do not get the route at all.
//!
//! **Example.** VirtualService `frontend/ads` with `gateways: [external-mesh]` routing to
//! `ads.prod.svc.cluster.local`: move it to namespace `prod`.

use super::external_mesh_ignored_field::{
    http_destination_hosts, is_external_mesh, service_namespace,
};
use crate::finding::{Finding, Severity};
use crate::ir::istio_fqdn;
use crate::model::{Kind, Spec};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC404",
    name: "external-mesh-namespace",
    summary:
        "an `external-mesh` VirtualService must live in the namespace of its destination Service",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.of_kind(Kind::VirtualService) {
        let Spec::VirtualService(vs) = &resource.spec else {
            continue;
        };
        if !is_external_mesh(vs) {
            continue;
        }
        let own = resource.id.namespace.as_str();
        for (path, host) in http_destination_hosts(vs) {
            let fqdn = istio_fqdn(host, own);
            let Some(namespace) = service_namespace(&fqdn) else {
                continue;
            };
            if namespace != own {
                out.push(resource.finding(
                    &RULE,
                    Severity::Error,
                    &path,
                    format!(
                        "`{path}` `{host}` is a Service in namespace `{namespace}`, but this \
                         `external-mesh` VirtualService is in namespace `{own}`; external clients \
                         (such as Cloud Run) only get the route when it lives in the namespace of \
                         its destination Service: move it to namespace `{namespace}`"
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

    fn vs(namespace: &str, gateways: &str, hosts: &[&str]) -> String {
        let routes: String = hosts
            .iter()
            .map(|h| format!("    - destination: {{host: {h}}}\n      weight: 50\n"))
            .collect();
        format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ads\n  namespace: {namespace}\nspec:\n  hosts: [ads.example.com]\n  gateways: [{gateways}]\n  http:\n  - route:\n{routes}")
    }

    #[test]
    fn same_namespace_short_and_external_hosts_pass() {
        let yaml = vs(
            "prod",
            "external-mesh",
            &[
                "ads",
                "ads-canary.prod.svc.cluster.local",
                "ads.example.com",
            ],
        );
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn in_mesh_route_may_cross_namespaces() {
        let yaml = vs("frontend", "mesh", &["ads.prod.svc.cluster.local"]);
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn other_namespace_destinations_are_errors() {
        let yaml = vs(
            "frontend",
            "mesh, external-mesh",
            &[
                "ads",
                "ads.prod.svc.cluster.local",
                "ads-v2.Billing.svc.cluster.local",
            ],
        );
        assert_eq!(
            run(&yaml),
            vec![
                "MC404 error 13:27 `spec.http[0].route[1].destination.host` `ads.prod.svc.cluster.local` is a Service in namespace `prod`, but this `external-mesh` VirtualService is in namespace `frontend`; external clients (such as Cloud Run) only get the route when it lives in the namespace of its destination Service: move it to namespace `prod`",
                "MC404 error 15:27 `spec.http[0].route[2].destination.host` `ads-v2.Billing.svc.cluster.local` is a Service in namespace `billing`, but this `external-mesh` VirtualService is in namespace `frontend`; external clients (such as Cloud Run) only get the route when it lives in the namespace of its destination Service: move it to namespace `billing`",
            ]
        );
    }
}
