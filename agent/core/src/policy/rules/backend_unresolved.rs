//! MC302 `backend-unresolved`: a backend reference matches nothing the repository declares.
//!
//! **What it does.** Resolves every backend of every route against what the repository
//! declares, and warns once per reference that resolves to nothing:
//!
//! - a networkservices `serviceName` (by its short name, the last path segment) against meshcd
//!   `Backend`s (`metadata.name`, or an alias, which may be a full `backendServices` path) and
//!   `GCPBackend`s (`spec.backendService.name` or `metadata.name`);
//! - an Istio destination host (fully qualified in the VirtualService's namespace) against
//!   Kubernetes `Service`s (`name.namespace.svc.cluster.local`), `ServiceEntry` hosts (wildcards
//!   included; only ServiceEntries whose `exportTo` reaches the VirtualService's namespace
//!   count), `GCPBackend`s (`name.namespace.svc.cluster.local`) and meshcd `Backend` names and
//!   aliases;
//! - a Gateway API `backendRefs[].name` (in its namespace, the route's by default) against the
//!   same, a `Service` or `GCPBackend` matching by name in that namespace.
//!
//! Declarations are indexed (hosts by name and wildcard suffix), so each reference costs a few
//! lookups.
//!
//! **Why.** A misspelled backend name is accepted by every API server and only fails at request
//! time (503, or "backend service not found" at import). It is a warning, not an error, because
//! the services themselves often live outside the repository (another team's manifests, Cloud
//! Run, a Helm chart); declare such a service with a meshcd `Backend` to say it exists.
//!
//! **Example.**
//!
//! ```yaml
//! http:
//! - route:
//!   - destination: {host: reveiws}   # MC302: no Service or ServiceEntry declares it
//! ```

use std::collections::{HashMap, HashSet};

use crate::finding::{Finding, Severity};
use crate::ir::{istio_fqdn, BackendIr};
use crate::model::{networkservices as ns, Family, Spec};
use crate::policy::istio::visibility::Visibility;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC302",
    name: "backend-unresolved",
    summary: "a backend reference resolves to nothing the repository declares",
    check: Some(check),
};

/// Who sees a declared host: everyone (a Service, a GCPBackend) or the namespaces a
/// ServiceEntry is exported to.
type Seen = Option<Visibility>;

/// Whether a host resolves for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// Something declares it and the client sees it.
    Visible,
    /// Only ServiceEntries not exported to the client's namespace declare it.
    Hidden,
    /// Nothing declares it.
    Absent,
}

/// Everything the repository declares that a backend reference may resolve to, indexed so each
/// reference costs a few hash lookups (not a scan of every declaration).
#[derive(Default)]
struct Declared {
    /// Short backend service names (networkservices destinations).
    backend_services: HashSet<String>,
    /// Fully qualified hosts, exactly.
    hosts: HashMap<String, Vec<Seen>>,
    /// `*.suffix` wildcard hosts, by `.suffix`.
    wildcards: HashMap<String, Vec<Seen>>,
    /// meshcd Backend names and aliases, lowercased, as written.
    backend_names: HashSet<String>,
}

impl Declared {
    fn collect(ctx: &Context<'_>) -> Self {
        let mut d = Declared::default();
        for resource in ctx.resources {
            let namespace = &resource.id.namespace;
            let name = resource.id.name.to_ascii_lowercase();
            match &resource.spec {
                Spec::Backend(backend) => {
                    d.backend_services.insert(name.clone());
                    d.backend_names.insert(name);
                    for alias in &backend.aliases {
                        let alias = alias.trim().to_ascii_lowercase();
                        d.backend_services
                            .insert(ns::short_name(&alias).to_string());
                        d.backend_names.insert(alias);
                    }
                }
                Spec::GcpBackend(gcp) => {
                    if let Some(service) =
                        gcp.backend_service.as_ref().and_then(|b| b.name.as_ref())
                    {
                        d.backend_services.insert(service.to_ascii_lowercase());
                    }
                    d.backend_services.insert(name.clone());
                    d.add_host(istio_fqdn(&name, namespace), None);
                }
                Spec::Service(_) => d.add_host(istio_fqdn(&name, namespace), None),
                Spec::ServiceEntry(entry) => {
                    let seen = Visibility::of(&entry.export_to, namespace);
                    for host in &entry.hosts {
                        d.add_host(istio_fqdn(host.trim(), namespace), Some(seen.clone()));
                    }
                }
                _ => {}
            }
        }
        d
    }

    fn add_host(&mut self, host: String, seen: Seen) {
        match host.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') => self
                .wildcards
                .entry(suffix.to_string())
                .or_default()
                .push(seen),
            _ => self.hosts.entry(host).or_default().push(seen),
        }
    }

    /// Whether a declared host (exact or `*.suffix`) covers `host` for a client in `namespace`
    /// (`None`: any client).
    fn find_host(&self, host: &str, namespace: Option<&str>) -> Found {
        let exact = self.hosts.get(host).into_iter().flatten();
        let wildcard = host
            .match_indices('.')
            .filter(|(i, _)| *i > 0)
            .filter_map(|(i, _)| self.wildcards.get(&host[i..]))
            .flatten();
        let mut found = Found::Absent;
        for seen in exact.chain(wildcard) {
            let visible = match (seen, namespace) {
                (Some(visibility), Some(namespace)) => visibility.includes(namespace),
                _ => true,
            };
            if visible {
                return Found::Visible;
            }
            found = Found::Hidden;
        }
        found
    }

    /// True when a meshcd Backend is named (or aliased) `host`, as written or qualified in
    /// `namespace`.
    fn has_backend_named(&self, written: &str, fqdn: &str, namespace: &str) -> bool {
        let short = fqdn
            .strip_suffix(".svc.cluster.local")
            .and_then(|rest| rest.strip_suffix(&format!(".{namespace}")))
            .filter(|short| !short.contains('.'));
        self.backend_names.contains(written)
            || self.backend_names.contains(fqdn)
            || short.is_some_and(|short| self.backend_names.contains(short))
    }
}

/// How a reference reads in the message, and whether it resolves.
fn resolve(
    family: Family,
    backend: &BackendIr,
    declared: &Declared,
) -> Option<(String, &'static str)> {
    match family {
        Family::NetworkServices => {
            let name = backend.name.to_ascii_lowercase();
            if name.is_empty() || declared.backend_services.contains(&name) {
                return None;
            }
            Some((
                format!("backend service `{}`", backend.name),
                "no meshcd Backend or GCPBackend names it",
            ))
        }
        Family::Istio => {
            // The IR qualifies the host; an empty host qualifies to `.ns.svc...`: nothing to
            // resolve (the schema is another rule's business).
            let fqdn = backend.name.to_ascii_lowercase();
            if fqdn.is_empty() || fqdn.starts_with('.') {
                return None;
            }
            let written = backend
                .subset
                .as_ref()
                .and_then(|s| backend.key.strip_suffix(&format!("/{s}")))
                .unwrap_or(&backend.key)
                .to_ascii_lowercase();
            if declared.has_backend_named(&written, &fqdn, &backend.namespace) {
                return None;
            }
            match declared.find_host(&fqdn, Some(&backend.namespace)) {
                Found::Visible => None,
                Found::Hidden => Some((
                    format!(
                        "destination host `{fqdn}` is not visible to this route: the ServiceEntries \
                         that declare it are not exported to namespace `{}`",
                        backend.namespace
                    ),
                    "",
                )),
                Found::Absent => Some((
                    format!("destination host `{fqdn}`"),
                    "no Service, ServiceEntry, GCPBackend or meshcd Backend declares it",
                )),
            }
        }
        Family::GatewayApi => {
            let name = backend.name.trim().to_ascii_lowercase();
            if name.is_empty() {
                return None;
            }
            let fqdn = istio_fqdn(&name, &backend.namespace);
            if declared.find_host(&fqdn, None) == Found::Visible
                || declared.has_backend_named(&name, &fqdn, &backend.namespace)
            {
                return None;
            }
            Some((
                format!(
                    "backendRef `{}` in namespace `{}`",
                    backend.name, backend.namespace
                ),
                "no Service, GCPBackend, ServiceEntry or meshcd Backend declares it",
            ))
        }
        Family::Meshcd | Family::Kubernetes => None,
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let declared = Declared::collect(ctx);
    for route in &ctx.routes {
        for rule in &route.rules {
            let Some(split) = &rule.split else { continue };
            for backend in &split.backends {
                let Some((what, why)) = resolve(split.family, backend, &declared) else {
                    continue;
                };
                let what = if why.is_empty() {
                    what
                } else {
                    format!("{what} is not declared in this repository ({why})")
                };
                let field = match split.family {
                    Family::NetworkServices => backend.path.key("serviceName"),
                    Family::Istio => backend.path.key("destination").key("host"),
                    _ => backend.path.key("name"),
                };
                out.push(route.resource.finding(
                    &RULE,
                    Severity::Warning,
                    &field,
                    format!(
                        "{what}; a warning because services often live outside the repository: \
                         check the name for a typo, or declare it with a meshcd `Backend`"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc302(yaml: &str) -> Vec<String> {
        findings_of("MC302", yaml)
    }

    #[test]
    fn every_kind_of_declaration_resolves() {
        let findings = mc302(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/checkout
    - serviceName: projects/p/locations/global/backendServices/checkout-run
    - serviceName: projects/p/locations/global/backendServices/legacy
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    - destination: {host: storage.googleapis.com}
    - destination: {host: ratings.prod.svc.cluster.local}
      weight: 1
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: prod}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs: [{name: reviews}, {name: cr-backend}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: prod}
spec: {ports: [{port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: google, namespace: prod}
spec: {hosts: ['*.googleapis.com'], resolution: DNS}
---
apiVersion: networking.gke.io/v1
kind: GCPBackend
metadata: {name: cr-backend, namespace: prod}
spec:
  backendService: {name: checkout-run, location: global, project: my-project}
---
apiVersion: meshcd.dev/v1alpha1
kind: Backend
metadata: {name: checkout}
spec:
  aliases: [projects/p/locations/global/backendServices/legacy, ratings]
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn each_unresolved_reference_is_a_warning() {
        let findings = mc302(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: checkout
hostnames: [checkout.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/chekout
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reveiws, subset: v1}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  rules:
  - backendRefs: [{name: reviews}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: prod}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC302 warning 9:20 backend service `chekout` is not declared in this repository (no meshcd Backend or GCPBackend names it); a warning because services often live outside the repository: check the name for a typo, or declare it with a meshcd `Backend`",
                "MC302 warning 18:27 destination host `reveiws.prod.svc.cluster.local` is not declared in this repository (no Service, ServiceEntry, GCPBackend or meshcd Backend declares it); a warning because services often live outside the repository: check the name for a typo, or declare it with a meshcd `Backend`",
                "MC302 warning 26:26 backendRef `reviews` in namespace `shop` is not declared in this repository (no Service, GCPBackend, ServiceEntry or meshcd Backend declares it); a warning because services often live outside the repository: check the name for a typo, or declare it with a meshcd `Backend`",
            ]
        );
    }

    #[test]
    fn a_service_entry_only_counts_where_it_is_exported() {
        let findings = mc302(
            "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: egress}
spec:
  hosts: [api.partner.example]
  exportTo: ['.', shop]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop]
  http:
  - route:
    - destination: {host: api.partner.example}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: web}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: api.partner.example}
",
        );
        assert_eq!(
            findings,
            vec!["MC302 warning 25:27 destination host `api.partner.example` is not visible to this route: the ServiceEntries that declare it are not exported to namespace `web`; a warning because services often live outside the repository: check the name for a typo, or declare it with a meshcd `Backend`"]
        );
    }
}
