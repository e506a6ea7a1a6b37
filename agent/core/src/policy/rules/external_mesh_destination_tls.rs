//! MC402 `external-mesh-destination-tls`: a DestinationRule sets client TLS for a host that
//! `external-mesh` clients are routed to.
//!
//! **What it does.** Collects the hosts (as FQDNs, see [`istio_fqdn`]) that the `http` routes
//! of `external-mesh` VirtualServices send traffic to, and warns about every `tls` block in a
//! DestinationRule for one of them: `trafficPolicy.tls`,
//! `trafficPolicy.portLevelSettings[].tls`, and the same inside `subsets[].trafficPolicy`.
//!
//! **Why.** Cloud Service Mesh supports every DestinationRule setting for `external-mesh`
//! hosts except `trafficPolicy.tls`: clients outside the cluster (such as Cloud Run) do not
//! apply it, so whatever it says about the connection does not hold for them.
//!
//! **Example.** VirtualService `prod/ads` with `gateways: [external-mesh]` routes to `ads`, and
//! DestinationRule `prod/ads` (`host: ads`) sets `trafficPolicy: {tls: {mode: SIMPLE}}`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::external_mesh_ignored_field::{http_destination_hosts, is_external_mesh};
use crate::finding::{Finding, Severity};
use crate::ir::istio_fqdn;
use crate::model::{Kind, Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC402",
    name: "external-mesh-destination-tls",
    summary: "a DestinationRule sets `tls` for a host `external-mesh` clients are routed to",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    // Host FQDN → the first external-mesh VirtualService that routes to it.
    let mut routed: BTreeMap<String, &Resource> = BTreeMap::new();
    for resource in ctx.of_kind(Kind::VirtualService) {
        let Spec::VirtualService(vs) = &resource.spec else {
            continue;
        };
        if !is_external_mesh(vs) {
            continue;
        }
        for (_, host) in http_destination_hosts(vs) {
            routed
                .entry(istio_fqdn(host, &resource.id.namespace))
                .or_insert(resource);
        }
    }
    if routed.is_empty() {
        return;
    }
    for resource in ctx.of_kind(Kind::DestinationRule) {
        let Spec::DestinationRule(dr) = &resource.spec else {
            continue;
        };
        let host = istio_fqdn(&dr.host, &resource.id.namespace);
        let Some(vs) = routed.get(&host) else {
            continue;
        };
        let spec = FieldPath::root().key("spec");
        let mut found = Vec::new();
        tls_fields(
            dr.traffic_policy.as_ref(),
            &spec.key("trafficPolicy"),
            &mut found,
        );
        for (i, subset) in dr.subsets.iter().enumerate() {
            tls_fields(
                subset.traffic_policy.as_ref(),
                &spec.key("subsets").index(i).key("trafficPolicy"),
                &mut found,
            );
        }
        for (path, tls) in found {
            let mode = tls
                .get("mode")
                .and_then(Value::as_str)
                .map(|m| format!(" (mode {m})"))
                .unwrap_or_default();
            out.push(resource.finding(
                &RULE,
                Severity::Warning,
                &path,
                format!(
                    "`{path}`{mode} is not supported for `external-mesh` clients (such as Cloud \
                     Run), and `{}` routes them to `{host}`; remove it, or keep external clients \
                     off this host",
                    vs.id
                ),
            ));
        }
    }
}

/// The `tls` blocks of a traffic policy, with their paths.
fn tls_fields<'a>(
    policy: Option<&'a Value>,
    at: &FieldPath,
    found: &mut Vec<(FieldPath, &'a Value)>,
) {
    let Some(policy) = policy else {
        return;
    };
    if let Some(tls) = policy.get("tls").filter(|t| !t.is_null()) {
        found.push((at.key("tls"), tls));
    }
    let ports = policy
        .get("portLevelSettings")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, port) in ports.iter().enumerate() {
        if let Some(tls) = port.get("tls").filter(|t| !t.is_null()) {
            found.push((at.key("portLevelSettings").index(i).key("tls"), tls));
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

    #[test]
    fn destination_rule_without_tls_passes() {
        let yaml = format!(
            "{EXTERNAL_VS}apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: ads, namespace: prod}}\nspec:\n  host: ads.prod.svc.cluster.local\n  trafficPolicy:\n    loadBalancer: {{simple: ROUND_ROBIN}}\n  subsets:\n  - name: v1\n    labels: {{version: v1}}\n"
        );
        assert_eq!(run(&yaml), Vec::<String>::new());
    }

    #[test]
    fn tls_for_a_host_only_the_mesh_uses_passes() {
        let yaml = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ads, namespace: prod}\nspec:\n  hosts: [ads]\n  http:\n  - route:\n    - destination: {host: ads}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ads, namespace: prod}\nspec:\n  host: ads\n  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n";
        assert_eq!(run(yaml), Vec::<String>::new());
    }

    #[test]
    fn every_tls_block_is_reported() {
        let yaml = format!(
            "{EXTERNAL_VS}apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: ads, namespace: prod}}\nspec:\n  host: ads\n  trafficPolicy:\n    tls: {{mode: ISTIO_MUTUAL}}\n    portLevelSettings:\n    - port: {{number: 8443}}\n      tls: {{mode: SIMPLE}}\n  subsets:\n  - name: v2\n    labels: {{version: v2}}\n    trafficPolicy:\n      tls: {{mode: DISABLE}}\n"
        );
        let tail = "is not supported for `external-mesh` clients (such as Cloud Run), and `VirtualService/prod/ads` routes them to `ads.prod.svc.cluster.local`; remove it, or keep external clients off this host";
        assert_eq!(
            run(&yaml),
            vec![
                format!("MC402 warning 17:10 `spec.trafficPolicy.tls` (mode ISTIO_MUTUAL) {tail}"),
                format!("MC402 warning 20:12 `spec.trafficPolicy.portLevelSettings[0].tls` (mode SIMPLE) {tail}"),
                format!("MC402 warning 25:12 `spec.subsets[0].trafficPolicy.tls` (mode DISABLE) {tail}"),
            ]
        );
    }
}
