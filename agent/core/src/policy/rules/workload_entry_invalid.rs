//! MC211 `workload-entry-invalid`: a WorkloadEntry Istio refuses.
//!
//! **What it does.** Checks WorkloadEntries as Istio's CRD and webhook (`ValidateWorkloadEntry`)
//! do: an `address` (or, a warning, only a `network` reached through its gateway) that is an IP,
//! a DNS name or a Unix socket (`unix:///path` or `unix://@abstract`, not a directory, with no
//! ports); port names of at most 62 letters, digits or `-` with numbers 1–65535; valid labels; a
//! weight of 0–4294967295; and the length limits of `address` (256), `network` and `locality`
//! (2048) and `serviceAccount` (253). A ServiceEntry's inline endpoints get the same checks
//! under MC210.
//!
//! **Why.** The API server refuses the WorkloadEntry, so the revision cannot be applied.
//!
//! **Example.** `address: 10.0.0.300`, `ports: {http: 0}`.

use crate::finding::Finding;
use crate::model::Spec;
use crate::policy::istio::workload::{self, Addressing};
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC211",
    name: "workload-entry-invalid",
    summary: "a WorkloadEntry's address, ports, labels or limits are invalid",
    check: Some(check),
};

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        if let Spec::WorkloadEntry(we) = &resource.spec {
            let spec = resource.spec_path();
            let mut r = Reporter::new(&RULE, resource, out);
            workload::check(&mut r, &spec, we, None, Addressing::Any);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc211(spec: &str) -> Vec<String> {
        findings_of(
            "MC211",
            &format!(
                "apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{name: vm-1, namespace: web}}
spec:
{spec}"
            ),
        )
    }

    #[test]
    fn valid_workload_entries_pass() {
        for spec in [
            "  address: 10.0.0.7
  ports: {http: 8080, grpc-api: 9090}
  labels: {app: shop, version: v1}
  network: vm-net
  locality: us-east1/us-east1-b
  weight: 10
  serviceAccount: shop
",
            "  address: vm-1.example.internal\n",
            "  address: 'unix:///var/run/shop.sock'\n",
            "  address: '2001:db8::7'\n",
        ] {
            assert_eq!(mc211(spec), Vec::<String>::new(), "{spec}");
        }
    }

    #[test]
    fn invalid_workload_entries_are_errors() {
        assert_eq!(
            mc211("  address: 10.0.0.300\n  ports: {Bad_Port: 0}\n  labels: {'-x': v}\n  weight: -1\n"),
            vec![
                "MC211 error 5:12 `spec.address` `10.0.0.300` is neither an IP address nor a DNS name",
                "MC211 error 6:21 `spec.ports.Bad_Port` is 0; a port number must be between 1 and 65535",
                "MC211 error 6:21 `spec.ports`: port name `Bad_Port` is not valid: at most 62 letters, digits or `-`, starting and ending with a letter or digit",
                "MC211 error 7:18 `spec.labels`: label key `-x` is invalid: the name must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
                "MC211 error 8:11 `spec.weight` is -1; a weight is 0 to 4294967295",
            ]
        );
        assert_eq!(
            mc211("  address: 'unix://run/x.sock/'\n  ports: {http: 80}\n"),
            vec![
                "MC211 error 5:12 `spec.address`: `run/x.sock/` is not an absolute path (or an abstract socket starting with `@`)",
                "MC211 error 6:10 `spec.ports`: a Unix socket endpoint has no ports",
            ]
        );
        assert_eq!(
            mc211("  labels: {app: vm}\n"),
            vec!["MC211 error 5:3 `spec` has no `address`; give its IP or DNS name"]
        );
        assert_eq!(
            mc211("  network: vm-net\n"),
            vec!["MC211 warning 5:3 `spec` has no `address`, only the network `vm-net`; it is reached through that network's gateway"]
        );
    }
}
