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
//!   included), `GCPBackend`s (`name.namespace.svc.cluster.local`) and meshcd `Backend` names and
//!   aliases;
//! - a Gateway API `backendRefs[].name` (in its namespace, the route's by default) against the
//!   same, a `Service` or `GCPBackend` matching by name in that namespace.
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

use crate::finding::{Finding, Severity};
use crate::ir::{istio_fqdn, BackendIr};
use crate::model::{networkservices as ns, Family, Spec};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC302",
    name: "backend-unresolved",
    summary: "a backend reference resolves to nothing the repository declares",
    check: Some(check),
};

/// Everything the repository declares that a backend reference may resolve to.
#[derive(Default)]
struct Declared {
    /// Short backend service names (networkservices destinations).
    backend_services: Vec<String>,
    /// Fully qualified hosts, maybe `*.suffix` wildcards (Istio and Gateway API references).
    hosts: Vec<String>,
    /// meshcd Backend names and aliases, lowercased, as written.
    backend_names: Vec<String>,
}

impl Declared {
    fn collect(ctx: &Context<'_>) -> Self {
        let mut d = Declared::default();
        for resource in ctx.resources {
            let namespace = &resource.id.namespace;
            let name = resource.id.name.to_ascii_lowercase();
            match &resource.spec {
                Spec::Backend(backend) => {
                    d.backend_services.push(name.clone());
                    d.backend_names.push(name);
                    for alias in &backend.aliases {
                        let alias = alias.trim().to_ascii_lowercase();
                        d.backend_services.push(ns::short_name(&alias).to_string());
                        d.backend_names.push(alias);
                    }
                }
                Spec::GcpBackend(gcp) => {
                    if let Some(service) =
                        gcp.backend_service.as_ref().and_then(|b| b.name.as_ref())
                    {
                        d.backend_services.push(service.to_ascii_lowercase());
                    }
                    d.backend_services.push(name.clone());
                    d.hosts.push(istio_fqdn(&name, namespace));
                }
                Spec::Service(_) => d.hosts.push(istio_fqdn(&name, namespace)),
                Spec::ServiceEntry(entry) => d
                    .hosts
                    .extend(entry.hosts.iter().map(|h| istio_fqdn(h.trim(), namespace))),
                _ => {}
            }
        }
        d
    }

    /// True when a declared host (exact or `*.suffix`) covers `host`.
    fn has_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|pattern| {
            pattern == host
                || pattern.strip_prefix('*').is_some_and(|suffix| {
                    suffix.starts_with('.') && host.len() > suffix.len() && host.ends_with(suffix)
                })
        })
    }

    /// True when a meshcd Backend is named (or aliased) `host`, as written or qualified in
    /// `namespace`.
    fn has_backend_named(&self, written: &str, fqdn: &str, namespace: &str) -> bool {
        self.backend_names
            .iter()
            .any(|n| n == written || n == fqdn || istio_fqdn(n, namespace) == fqdn)
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
            if declared.has_host(&fqdn)
                || declared.has_backend_named(&written, &fqdn, &backend.namespace)
            {
                return None;
            }
            Some((
                format!("destination host `{fqdn}`"),
                "no Service, ServiceEntry, GCPBackend or meshcd Backend declares it",
            ))
        }
        Family::GatewayApi => {
            let name = backend.name.trim().to_ascii_lowercase();
            if name.is_empty() {
                return None;
            }
            let fqdn = istio_fqdn(&name, &backend.namespace);
            if declared.has_host(&fqdn)
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
                        "{what} is not declared in this repository ({why}); a warning because \
                         services often live outside the repository: check the name for a typo, \
                         or declare it with a meshcd `Backend`"
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
}
