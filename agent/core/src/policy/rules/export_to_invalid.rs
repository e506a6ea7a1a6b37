//! MC213 `export-to-invalid`: an `exportTo` list Istio refuses.
//!
//! **What it does.** Checks the `exportTo` of VirtualServices, DestinationRules and
//! ServiceEntries as Istio's webhook (`validateExportTo`) does: each entry is `.` (this
//! namespace), `*` (every namespace) or a namespace name (a DNS label); no entry twice (`.`
//! beside this namespace's own name counts); `*` alone; `~` (visible to no one but the service's
//! own proxies) only in a ServiceEntry, and alone. A DestinationRule with a `workloadSelector`
//! is only exported to its own namespace.
//!
//! **Why.** The API server refuses the resource, so the revision cannot be applied. Where
//! `exportTo` is valid, MC201 and MC301 read it to decide who sees what.
//!
//! **Example.** `exportTo: ['*', prod]`, `exportTo: ['~']` in a VirtualService.

use std::collections::BTreeSet;

use crate::finding::Finding;
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::{is_dns_label, shown};
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC213",
    name: "export-to-invalid",
    summary: "an exportTo list has an invalid or repeated entry, or mixes `*` or `~` with others",
    check: Some(check),
};

fn export_to(
    r: &mut Reporter<'_>,
    path: &FieldPath,
    entries: &[String],
    service_entry: bool,
    selector: bool,
) {
    if entries.is_empty() {
        return;
    }
    let namespace = r.resource().id.namespace.clone();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = path.index(i);
        let key = if entry == "." {
            namespace.as_str()
        } else {
            entry.as_str()
        };
        if !seen.insert(key) {
            let dot = key == namespace && entries.iter().any(|e| e == ".");
            let why = if dot {
                format!(" (`.` is namespace `{namespace}`)")
            } else {
                String::new()
            };
            r.error(
                &at,
                format!(
                    "`{at}` repeats `{}`{why}; list each namespace once",
                    shown(entry)
                ),
            );
            continue;
        }
        match entry.as_str() {
            "." | "*" => {}
            "~" if service_entry => {}
            "~" => r.error(
                &at,
                format!("`{at}` is `~`, which only a ServiceEntry takes; leave the resource out of the repository, or export it to `.`"),
            ),
            name if !is_dns_label(name) => r.error(
                &at,
                format!("`{at}` `{}` is not `.`, `*` or a namespace name (a DNS label)", shown(name)),
            ),
            _ => {}
        }
    }
    for special in ["*", "~"] {
        if entries.len() > 1 && entries.iter().any(|e| e == special) {
            let meaning = if special == "*" {
                "every namespace"
            } else {
                "no one"
            };
            r.error(path, format!("`{path}` mixes `{special}` ({meaning}) with other entries; use `{special}` alone or name the namespaces"));
        }
    }
    if selector {
        let own_only = seen.len() == 1 && seen.contains(namespace.as_str());
        if !own_only {
            r.error(path, format!("`{path}`: a DestinationRule with a `workloadSelector` can only be exported to its own namespace (`.`)"));
        }
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let path = resource.spec_path().key("exportTo");
        let mut r = Reporter::new(&RULE, resource, out);
        match &resource.spec {
            Spec::VirtualService(vs) => export_to(&mut r, &path, &vs.export_to, false, false),
            Spec::DestinationRule(dr) => export_to(
                &mut r,
                &path,
                &dr.export_to,
                false,
                dr.workload_selector.is_some(),
            ),
            Spec::ServiceEntry(se) => export_to(&mut r, &path, &se.export_to, true, false),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc213(kind: &str, extra: &str, export_to: &str) -> Vec<String> {
        let spec = match kind {
            "VirtualService" => {
                "  hosts: [shop]\n  http: [{route: [{destination: {host: shop}}]}]\n"
            }
            "DestinationRule" => "  host: shop\n",
            _ => {
                "  hosts: [api.example.com]\n  ports: [{number: 443, name: https, protocol: TLS}]\n"
            }
        };
        findings_of(
            "MC213",
            &format!(
                "apiVersion: networking.istio.io/v1
kind: {kind}
metadata: {{name: shop, namespace: web}}
spec:
{spec}{extra}  exportTo: {export_to}
"
            ),
        )
    }

    #[test]
    fn valid_export_lists_pass() {
        for (kind, extra, list) in [
            ("VirtualService", "", "['.']"),
            ("VirtualService", "", "['*']"),
            ("VirtualService", "", "['.', prod, istio-system]"),
            (
                "DestinationRule",
                "  workloadSelector: {matchLabels: {app: shop}}\n",
                "['.']",
            ),
            (
                "DestinationRule",
                "  workloadSelector: {matchLabels: {app: shop}}\n",
                "[web]",
            ),
            ("ServiceEntry", "", "['~']"),
        ] {
            assert_eq!(
                mc213(kind, extra, list),
                Vec::<String>::new(),
                "{kind} {list}"
            );
        }
    }

    #[test]
    fn invalid_export_lists_are_errors() {
        assert_eq!(
            mc213("VirtualService", "", "['.', web, '*', Prod_NS, '~']"),
            vec![
                "MC213 error 7:13 `spec.exportTo` mixes `*` (every namespace) with other entries; use `*` alone or name the namespaces",
                "MC213 error 7:13 `spec.exportTo` mixes `~` (no one) with other entries; use `~` alone or name the namespaces",
                "MC213 error 7:19 `spec.exportTo[1]` repeats `web` (`.` is namespace `web`); list each namespace once",
                "MC213 error 7:29 `spec.exportTo[3]` `Prod_NS` is not `.`, `*` or a namespace name (a DNS label)",
                "MC213 error 7:38 `spec.exportTo[4]` is `~`, which only a ServiceEntry takes; leave the resource out of the repository, or export it to `.`",
            ]
        );
        assert_eq!(
            mc213("DestinationRule", "  workloadSelector: {matchLabels: {app: shop}}\n", "['.', prod]"),
            vec!["MC213 error 7:13 `spec.exportTo`: a DestinationRule with a `workloadSelector` can only be exported to its own namespace (`.`)"]
        );
    }
}
