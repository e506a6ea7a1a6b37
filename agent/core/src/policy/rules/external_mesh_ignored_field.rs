//! MC401 `external-mesh-ignored-field`: a VirtualService field that `external-mesh` clients ignore.
//!
//! **What it does.** For an Istio VirtualService whose `gateways` include `external-mesh`, warns
//! once for each field Cloud Service Mesh ignores for clients outside the cluster: `exportTo`,
//! `sourceLabels`, `sourceNamespace` and `gateways` in `http[].match[]`, and the `tls` and `tcp`
//! routes. When the VirtualService is for `mesh` too, the field still applies to in-mesh clients,
//! and the message says so.
//!
//! **Why.** With `external-mesh`, the route applies to workloads outside the cluster, such as
//! Cloud Run services. They have no namespace or pod labels, and only get HTTP routes, so these
//! fields silently do nothing for them: a match on `sourceLabels` does not narrow which external
//! clients it catches, and a `tcp` route is never seen.
//!
//! **Example.** `gateways: [external-mesh]` with `http: [{match: [{sourceLabels: {app: web}}],
//! ...}]`: external clients match the rule whatever their labels; drop `sourceLabels`, or add
//! `mesh` to `gateways` if the match is meant for in-mesh clients.

use crate::finding::{Finding, Severity};
use crate::model::istio::{VirtualServiceSpec, EXTERNAL_MESH_GATEWAY, MESH_GATEWAY};
use crate::model::{Kind, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC401",
    name: "external-mesh-ignored-field",
    summary: "a VirtualService field that `external-mesh` clients (such as Cloud Run) ignore",
    check: Some(check),
};

/// True when a VirtualService applies to `external-mesh` clients (MC401–MC404 share this).
pub(crate) fn is_external_mesh(vs: &VirtualServiceSpec) -> bool {
    vs.gateways.iter().any(|g| g == EXTERNAL_MESH_GATEWAY)
}

/// The destinations of a VirtualService's `http` routes, the only ones `external-mesh` clients
/// use: `(path of the host field, host as written)`.
pub(crate) fn http_destination_hosts(vs: &VirtualServiceSpec) -> Vec<(FieldPath, &str)> {
    let http = FieldPath::root().key("spec").key("http");
    vs.http
        .iter()
        .enumerate()
        .flat_map(|(i, rule)| {
            let http = &http;
            rule.route.iter().enumerate().map(move |(j, d)| {
                (
                    http.index(i)
                        .key("route")
                        .index(j)
                        .key("destination")
                        .key("host"),
                    d.destination.host.as_str(),
                )
            })
        })
        .filter(|(_, host)| !host.is_empty())
        .collect()
}

/// The namespace of a Kubernetes Service FQDN `<svc>.<ns>.svc.cluster.local`, or `None` for
/// other hosts (ServiceEntry hosts, wildcards, external names).
pub(crate) fn service_namespace(fqdn: &str) -> Option<&str> {
    let name = fqdn.strip_suffix(".svc.cluster.local")?;
    let (service, namespace) = name.split_once('.')?;
    let label = |s: &str| !s.is_empty() && !s.contains(['.', '*']);
    (label(service) && label(namespace)).then_some(namespace)
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.of_kind(Kind::VirtualService) {
        let Spec::VirtualService(vs) = &resource.spec else {
            continue;
        };
        if !is_external_mesh(vs) {
            continue;
        }
        let advice = if vs.gateways.iter().any(|g| g == MESH_GATEWAY) {
            "it still applies to in-mesh clients (`mesh`)"
        } else {
            "remove it, or add `mesh` to `spec.gateways` if it is meant for in-mesh clients"
        };
        let mut warn = |path: FieldPath, what: String, effect: &str| {
            out.push(resource.finding(
                &RULE,
                Severity::Warning,
                &path,
                format!(
                    "{what} is ignored for `external-mesh` clients (such as Cloud Run): \
                     {effect}; {advice}"
                ),
            ));
        };
        let spec = FieldPath::root().key("spec");
        if !vs.export_to.is_empty() {
            let path = spec.key("exportTo");
            warn(
                path.clone(),
                format!("`{path}` ({})", vs.export_to.join(", ")),
                "they see the route whatever it says",
            );
        }
        let narrow = "this match does not narrow which of them it catches";
        for (i, http) in vs.http.iter().enumerate() {
            for (j, m) in http.matches.iter().enumerate() {
                let at = spec.key("http").index(i).key("match").index(j);
                if !m.source_labels.is_empty() {
                    let path = at.key("sourceLabels");
                    let labels = m
                        .source_labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    warn(path.clone(), format!("`{path}` ({labels})"), narrow);
                }
                if let Some(namespace) = &m.source_namespace {
                    let path = at.key("sourceNamespace");
                    warn(path.clone(), format!("`{path}` ({namespace})"), narrow);
                }
                if !m.gateways.is_empty() {
                    let path = at.key("gateways");
                    warn(
                        path.clone(),
                        format!("`{path}` ({})", m.gateways.join(", ")),
                        narrow,
                    );
                }
            }
        }
        for (field, count) in [("tls", vs.tls.len()), ("tcp", vs.tcp.len())] {
            if count != 0 {
                let path = spec.key(field);
                let routes = if count == 1 { "route" } else { "routes" };
                warn(
                    path.clone(),
                    format!("`{path}` ({count} {routes})"),
                    "they only get the `http` routes",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{service_namespace, RULE};
    use crate::policy::check_fixture;

    /// This rule's findings, and the loader's so a fixture that does not load is noticed.
    fn run(yaml: &str) -> Vec<String> {
        check_fixture(yaml)
            .into_iter()
            .filter(|l| l.starts_with(RULE.code) || l.starts_with("MC00"))
            .collect()
    }

    const HEADER: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ads\n  namespace: prod\nspec:\n  hosts: [ads]\n";

    #[test]
    fn plain_external_mesh_route_passes() {
        let yaml = format!(
            "{HEADER}  gateways: [external-mesh]\n  http:\n  - match:\n    - uri: {{prefix: /v2}}\n    route:\n    - destination: {{host: ads}}\n"
        );
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn in_mesh_route_may_use_every_field() {
        let yaml = format!(
            "{HEADER}  exportTo: [.]\n  http:\n  - match:\n    - sourceLabels: {{app: web}}\n    route:\n    - destination: {{host: ads}}\n  tcp:\n  - route:\n    - destination: {{host: ads}}\n"
        );
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn every_ignored_field_is_reported() {
        let yaml = format!(
            "{HEADER}  gateways: [external-mesh]\n  exportTo: [.]\n  http:\n  - match:\n    - sourceLabels: {{app: web}}\n      sourceNamespace: frontend\n      gateways: [mesh]\n    route:\n    - destination: {{host: ads}}\n  tls:\n  - match:\n    - sniHosts: [ads.example.com]\n    route:\n    - destination: {{host: ads}}\n  tcp:\n  - route:\n    - destination: {{host: ads}}\n  - route:\n    - destination: {{host: ads}}\n"
        );
        let fix = "remove it, or add `mesh` to `spec.gateways` if it is meant for in-mesh clients";
        assert_eq!(
            run(&yaml),
            vec![
                format!("MC401 warning 9:13 `spec.exportTo` (.) is ignored for `external-mesh` clients (such as Cloud Run): they see the route whatever it says; {fix}"),
                format!("MC401 warning 12:21 `spec.http[0].match[0].sourceLabels` (app=web) is ignored for `external-mesh` clients (such as Cloud Run): this match does not narrow which of them it catches; {fix}"),
                format!("MC401 warning 13:24 `spec.http[0].match[0].sourceNamespace` (frontend) is ignored for `external-mesh` clients (such as Cloud Run): this match does not narrow which of them it catches; {fix}"),
                format!("MC401 warning 14:17 `spec.http[0].match[0].gateways` (mesh) is ignored for `external-mesh` clients (such as Cloud Run): this match does not narrow which of them it catches; {fix}"),
                format!("MC401 warning 18:5 `spec.tls` (1 route) is ignored for `external-mesh` clients (such as Cloud Run): they only get the `http` routes; {fix}"),
                format!("MC401 warning 23:5 `spec.tcp` (2 routes) is ignored for `external-mesh` clients (such as Cloud Run): they only get the `http` routes; {fix}"),
            ]
        );
    }

    #[test]
    fn with_mesh_too_the_field_still_applies_in_the_mesh() {
        let yaml = format!(
            "{HEADER}  gateways: [mesh, external-mesh]\n  http:\n  - match:\n    - sourceNamespace: frontend\n    route:\n    - destination: {{host: ads}}\n"
        );
        assert_eq!(
            run(&yaml),
            vec!["MC401 warning 11:24 `spec.http[0].match[0].sourceNamespace` (frontend) is ignored for `external-mesh` clients (such as Cloud Run): this match does not narrow which of them it catches; it still applies to in-mesh clients (`mesh`)"]
        );
    }

    #[test]
    fn service_namespace_reads_only_service_fqdns() {
        assert_eq!(
            service_namespace("ads.prod.svc.cluster.local"),
            Some("prod")
        );
        assert_eq!(service_namespace("ads.example.com"), None);
        assert_eq!(service_namespace("*.prod.svc.cluster.local"), None);
        assert_eq!(service_namespace("a.b.prod.svc.cluster.local"), None);
        assert_eq!(service_namespace(".svc.cluster.local"), None);
    }
}
