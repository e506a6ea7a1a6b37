//! MC210 `service-entry-invalid`: a ServiceEntry Istio refuses.
//!
//! **What it does.** Checks ServiceEntries as Istio's CRD and webhook (`ValidateServiceEntry`)
//! do:
//!
//! - ports: each has a `number` (1–65535) and a `name` (a DNS label), both unique; a known
//!   `protocol` (HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, HTTP_PROXY, TCP, TLS, UDP, Mongo, Redis,
//!   MySQL, any case; empty means sniffed); a `targetPort` of 1–65535;
//! - `addresses` are IPs or CIDRs; CIDRs only with resolution `NONE` (the default) or `STATIC`;
//! - `resolution` and `location` are known values; `workloadSelector` and `endpoints` are not
//!   both set; selector labels have no `*` nor empty key (none selects every workload: a
//!   warning);
//! - by resolution: `NONE` has no endpoints (a selector is a warning); `STATIC` endpoints are IPs
//!   or Unix sockets (a socket needs exactly one service port and no endpoint ports); `DNS` and
//!   `DNS_ROUND_ROBIN` endpoints are IPs or DNS names, without endpoints the hosts must be plain
//!   DNS names (no wildcard), and `DNS_ROUND_ROBIN` has at most one endpoint;
//! - endpoint ports are named after the ServiceEntry's ports, with valid numbers and labels;
//! - several hosts with a resolution other than `NONE` need every port to be HTTP or TLS (plain
//!   TCP cannot tell the hosts apart); with `addresses` and a TCP port that is a warning for DNS.
//!
//! A port of the wrong shape is a schema error (MC005) and an unknown field in a port or the
//! selector a warning (MC006). Hostnames are MC204's, `exportTo` MC213's.
//!
//! **Why.** The API server refuses the ServiceEntry, so the revision cannot be applied.
//!
//! **Example.** `resolution: DNS` with `hosts: ['*.example.com']` and no endpoints.

use std::collections::BTreeSet;

use crate::finding::Finding;
use crate::model::istio::{EntryWorkloadSelector, ServiceEntrySpec, ServicePort};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::{
    check_fqdn, check_ip_or_cidr, is_dns_label, protocol_class, shown, ProtocolClass, PROTOCOLS,
};
use crate::policy::istio::workload::{self, Addressing};
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC210",
    name: "service-entry-invalid",
    summary: "a ServiceEntry's ports, addresses, resolution or endpoints are invalid",
    check: Some(check),
};

/// Resolution modes.
const RESOLUTIONS: &[&str] = &["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"];

fn ports(r: &mut Reporter<'_>, spec: &FieldPath, se: &ServiceEntrySpec) -> Vec<ServicePort> {
    let mut read = Vec::new();
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, value) in se.ports.iter().enumerate() {
        let at = spec.key("ports").index(i);
        let Some(port) = r.view::<ServicePort>(&at, value) else {
            continue;
        };
        match port.number {
            None => r.error(&at, format!("`{at}` has no `number`")),
            Some(n) => {
                r.port(&at.key("number"), Some(n), false);
                if !numbers.insert(n) {
                    let p = at.key("number");
                    r.error(&p, format!("`{p}`: port {n} is listed twice"));
                }
            }
        }
        match port.name.as_deref() {
            None => r.error(&at, format!("`{at}` has no `name`")),
            Some(name) => {
                let p = at.key("name");
                if !is_dns_label(name) {
                    r.error(&p, format!("`{p}` `{}` is not a port name: a DNS label (at most 63 letters, digits or `-`, starting and ending with a letter or digit)", shown(name)));
                } else if !names.insert(name.to_string()) {
                    r.error(&p, format!("`{p}`: port name `{name}` is used twice"));
                }
            }
        }
        if let Some(protocol) = port.protocol.as_deref().filter(|p| !p.is_empty()) {
            if protocol_class(protocol) == ProtocolClass::Unknown {
                let p = at.key("protocol");
                r.error(
                    &p,
                    format!(
                        "`{p}` `{}` is not a protocol Istio knows ({})",
                        shown(protocol),
                        PROTOCOLS.join(", ")
                    ),
                );
            }
        }
        r.port(&at.key("targetPort"), port.target_port, false);
        read.push(port);
    }
    read
}

fn service_entry(r: &mut Reporter<'_>, spec: &FieldPath, se: &ServiceEntrySpec) {
    let ports = ports(r, spec, se);
    let port_names: BTreeSet<&str> = ports.iter().filter_map(|p| p.name.as_deref()).collect();
    if let Some(value) = &se.workload_selector {
        let at = spec.key("workloadSelector");
        if let Some(selector) = r.view::<EntryWorkloadSelector>(&at, value) {
            r.selector_labels(
                &at.key("labels"),
                selector.labels.iter(),
                "every workload of the namespace",
            );
        }
        if !se.endpoints.is_empty() {
            r.error(
                &at,
                format!(
                    "`{at}` and `{}` are both set; keep one",
                    spec.key("endpoints")
                ),
            );
        }
    }
    let resolution = se.resolution.as_deref().unwrap_or("NONE");
    let res_at = spec.key("resolution");
    if !RESOLUTIONS.contains(&resolution) {
        r.error(
            &res_at,
            format!(
                "`{res_at}` is `{}`; use one of {}",
                shown(resolution),
                RESOLUTIONS.join(", ")
            ),
        );
    }
    if let Some(location) = se
        .location
        .as_deref()
        .filter(|l| !["MESH_EXTERNAL", "MESH_INTERNAL"].contains(l))
    {
        let p = spec.key("location");
        r.error(
            &p,
            format!(
                "`{p}` is `{}`; use MESH_EXTERNAL or MESH_INTERNAL",
                shown(location)
            ),
        );
    }
    for (i, address) in se.addresses.iter().enumerate() {
        let at = spec.key("addresses").index(i);
        if let Err(problem) = check_ip_or_cidr(address) {
            r.error(&at, format!("`{at}`: {problem}"));
        } else if address.contains('/') && !["NONE", "STATIC"].contains(&resolution) {
            r.error(&at, format!("`{at}` is a CIDR block, which only resolution NONE or STATIC takes (this is {resolution})"));
        }
    }
    let endpoints = spec.key("endpoints");
    match resolution {
        "NONE" => {
            if !se.endpoints.is_empty() {
                r.error(&endpoints, format!("`{endpoints}`: resolution NONE (the default) takes no endpoints; set resolution STATIC or DNS"));
            }
            if se.workload_selector.is_some() {
                let p = spec.key("workloadSelector");
                r.warning(&p, format!("`{p}` does nothing with resolution NONE (the default); set resolution STATIC"));
            }
        }
        "STATIC" | "DNS" | "DNS_ROUND_ROBIN" => {
            let addressing = if resolution == "STATIC" {
                Addressing::Static
            } else {
                Addressing::Dns
            };
            for (i, endpoint) in se.endpoints.iter().enumerate() {
                workload::check(
                    r,
                    &endpoints.index(i),
                    endpoint,
                    Some(&port_names),
                    addressing,
                );
            }
        }
        _ => {}
    }
    if matches!(resolution, "DNS" | "DNS_ROUND_ROBIN") {
        if se.endpoints.is_empty() {
            for (i, host) in se.hosts.iter().enumerate() {
                if check_fqdn(host).is_err() && host.contains('*') {
                    let at = spec.key("hosts").index(i);
                    r.error(&at, format!("`{at}` `{}` is a wildcard; resolution {resolution} without endpoints resolves the hosts themselves, so they must be plain DNS names", shown(host)));
                }
            }
        }
        if resolution == "DNS_ROUND_ROBIN" && se.endpoints.len() > 1 {
            r.error(&endpoints, format!("`{endpoints}` lists {} endpoints; resolution DNS_ROUND_ROBIN takes at most one", se.endpoints.len()));
        }
        let tcp = ports.iter().any(|p| {
            matches!(
                protocol_class(p.protocol.as_deref().unwrap_or("")),
                ProtocolClass::Tcp | ProtocolClass::Tls
            )
        });
        if !se.addresses.is_empty() && se.hosts.len() > 1 && tcp {
            let p = spec.key("hosts");
            r.warning(&p, format!("`{p}` has several hosts beside `addresses` and a TCP port; connections to the addresses cannot say which host they are for"));
        }
    }
    if resolution != "NONE" && se.hosts.len() > 1 {
        let opaque = ports.iter().enumerate().find(|(_, p)| {
            !matches!(
                protocol_class(p.protocol.as_deref().unwrap_or("")),
                ProtocolClass::Http | ProtocolClass::Tls
            )
        });
        if let Some((i, port)) = opaque {
            let at = spec.key("ports").index(i);
            r.error(&at, format!(
                "`{at}` ({}) is neither HTTP nor TLS, but the ServiceEntry has several hosts and resolution {resolution}: plain TCP cannot tell the hosts apart; give each host its own ServiceEntry, or use HTTP or TLS ports",
                port.protocol.as_deref().filter(|p| !p.is_empty()).unwrap_or("no protocol")
            ));
        }
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        if let Spec::ServiceEntry(se) = &resource.spec {
            let spec = resource.spec_path();
            service_entry(&mut Reporter::new(&RULE, resource, out), &spec, se);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc210(spec: &str) -> Vec<String> {
        findings_of(
            "MC210",
            &format!(
                "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: ext, namespace: web}}
spec:
{spec}"
            ),
        )
    }

    #[test]
    fn valid_service_entries_pass() {
        for spec in [
            "  hosts: [api.example.com, www.example.com]
  ports: [{number: 443, name: https, protocol: TLS}, {number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  location: MESH_EXTERNAL
  resolution: DNS
  endpoints:
  - {address: api.example.com, ports: {https: 8443}, labels: {version: v1}, weight: 10, locality: us-east/zone1}
  subjectAltNames: [spiffe://cluster.local/ns/web/sa/api]
  exportTo: ['.']
",
            "  hosts: [db.internal.example]
  addresses: [10.10.0.0/16]
  ports: [{number: 5432, name: tcp-postgres, protocol: TCP}]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - {address: 10.10.1.5, network: net1, serviceAccount: db}
  - {address: 'unix:///var/run/db.sock'}
",
            "  hosts: [vm.example.internal]
  ports: [{number: 8080, name: http, protocol: http}]
  resolution: STATIC
  workloadSelector: {labels: {app: vm}}
",
            "  hosts: ['*.wikipedia.org']
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: NONE
",
        ] {
            assert_eq!(mc210(spec), Vec::<String>::new(), "{spec}");
        }
    }

    #[test]
    fn invalid_service_entries_are_errors() {
        let findings = mc210(
            "  hosts: ['*.example.com', api.example.com]
  addresses: [10.0.0.0/8, not-an-ip]
  ports:
  - {number: 70000, name: Bad_Name, protocol: SMTP}
  - {number: 443, name: https, protocol: TLS, targetPort: 0}
  - {number: 443, name: https}
  - {name: nameless-number}
  resolution: DNS_ROUND_ROBIN
  location: OUTSIDE
  workloadSelector: {labels: {}}
  endpoints:
  - {address: 'unix:///tmp/x.sock'}
  - {address: bad_host!, ports: {grpc: 9090}}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC210 warning 5:10 `spec.hosts` has several hosts beside `addresses` and a TCP port; connections to the addresses cannot say which host they are for",
                "MC210 error 6:15 `spec.addresses[0]` is a CIDR block, which only resolution NONE or STATIC takes (this is DNS_ROUND_ROBIN)",
                "MC210 error 6:27 `spec.addresses[1]`: `not-an-ip` is not an IP address",
                "MC210 error 8:5 `spec.ports[0]` (SMTP) is neither HTTP nor TLS, but the ServiceEntry has several hosts and resolution DNS_ROUND_ROBIN: plain TCP cannot tell the hosts apart; give each host its own ServiceEntry, or use HTTP or TLS ports",
                "MC210 error 8:14 `spec.ports[0].number` is 70000; a port number must be between 1 and 65535",
                "MC210 error 8:27 `spec.ports[0].name` `Bad_Name` is not a port name: a DNS label (at most 63 letters, digits or `-`, starting and ending with a letter or digit)",
                "MC210 error 8:47 `spec.ports[0].protocol` `SMTP` is not a protocol Istio knows (TCP, UDP, GRPC, GRPC-Web, HTTP, HTTP_PROXY, HTTP2, HTTPS, TLS, Mongo, Redis, MySQL)",
                "MC210 error 9:59 `spec.ports[1].targetPort` is 0; a port number must be between 1 and 65535",
                "MC210 error 10:14 `spec.ports[2].number`: port 443 is listed twice",
                "MC210 error 10:25 `spec.ports[2].name`: port name `https` is used twice",
                "MC210 error 11:5 `spec.ports[3]` has no `number`",
                "MC210 error 13:13 `spec.location` is `OUTSIDE`; use MESH_EXTERNAL or MESH_INTERNAL",
                "MC210 error 14:21 `spec.workloadSelector` and `spec.endpoints` are both set; keep one",
                "MC210 warning 14:30 `spec.workloadSelector.labels` has no labels, so it selects every workload of the namespace; add labels or remove it",
                "MC210 error 16:5 `spec.endpoints` lists 2 endpoints; resolution DNS_ROUND_ROBIN takes at most one",
                "MC210 error 16:15 `spec.endpoints[0].address` `unix:///tmp/x.sock` is neither an IP address nor a DNS name",
                "MC210 error 17:15 `spec.endpoints[1].address` `bad_host!` is neither an IP address nor a DNS name",
                "MC210 error 17:40 `spec.endpoints[1].ports.grpc`: the ServiceEntry has no port named `grpc` (`Bad_Name`, `https`, `nameless-number`)",
            ]
        );
    }

    #[test]
    fn resolution_rules() {
        assert_eq!(
            mc210("  hosts: ['*.example.com']
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
"),
            vec!["MC210 error 5:11 `spec.hosts[0]` `*.example.com` is a wildcard; resolution DNS without endpoints resolves the hosts themselves, so they must be plain DNS names"]
        );
        assert_eq!(
            mc210("  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
"),
            vec!["MC210 error 7:14 `spec.endpoints`: resolution NONE (the default) takes no endpoints; set resolution STATIC or DNS"]
        );
        assert_eq!(
            mc210("  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: a.example.com}]
"),
            vec!["MC210 error 8:25 `spec.endpoints[0].address` `a.example.com` is not an IP address; a STATIC ServiceEntry needs IPs (use resolution DNS for names)"]
        );
    }
}
