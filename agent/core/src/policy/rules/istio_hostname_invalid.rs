//! MC204 `istio-hostname-invalid`: an Istio hostname Istio's webhook refuses.
//!
//! **What it does.** Checks every hostname of the Istio kinds as Istio's validating webhook does
//! (`ValidateWildcardDomain`, `validateDestination`, `validateSniHost`): VirtualService `hosts`,
//! the `host` of every destination (`route`, `mirror`, `mirrors`, in `http`, `tcp` and `tls`
//! rules), TLS `sniHosts`, the DestinationRule `host` and ServiceEntry `hosts`. A hostname is at
//! most 255 characters of DNS labels (at most 63 letters, digits or `-` each, not starting or
//! ending with `-`), its last label not a number; only the first label may be a wildcard (`*`,
//! `*foo`, `*-foo`). Also refused: `*` as a host of a VirtualService on the mesh, as a
//! destination or as a ServiceEntry host; two hosts of one VirtualService that overlap as written
//! (`*.foo.com` and `api.foo.com`); an SNI host no VirtualService host covers; a ServiceEntry
//! without hosts. An IP address is accepted where Istio accepts one (VirtualService hosts; an IP
//! SNI host is a warning). A partial wildcard (`*foo.com`) in a ServiceEntry is a warning, as in
//! Istio. A hostname's length is checked first, so a huge value is refused at once.
//!
//! **Why.** The API server refuses the resource, so the revision cannot be applied.
//!
//! **Example.** `hosts: [reviews..prod]` (an empty label), `destination: {host: '*'}`.

use crate::finding::Finding;
use crate::model::istio::{Destination, VirtualServiceSpec, MESH_GATEWAY};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::istio::names::{
    check_wildcard_host, is_ip, is_partial_wildcard, shown, HostProblem,
};
use crate::policy::istio::visibility::HostIndex;
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC204",
    name: "istio-hostname-invalid",
    summary:
        "an Istio hostname is not a valid DNS name or wildcard, or is used where Istio refuses it",
    check: Some(check),
};

fn invalid(r: &mut Reporter<'_>, path: &FieldPath, host: &str, problem: &HostProblem) {
    r.error(
        path,
        format!(
            "`{path}` `{}` is not a valid hostname: {problem}",
            shown(host)
        ),
    );
}

/// True when `sni` is covered by `host` (Istio's `SubsetOf`).
fn covered_by(sni: &str, host: &str) -> bool {
    match (sni.strip_prefix('*'), host.strip_prefix('*')) {
        (Some(a), Some(b)) => sni.len() >= host.len() && a.ends_with(b),
        (Some(_), None) => false,
        (None, Some(b)) => sni.ends_with(b),
        (None, None) => sni == host,
    }
}

fn destination(r: &mut Reporter<'_>, path: &FieldPath, d: &Destination) {
    let at = path.key("host");
    if d.host == "*" {
        r.error(
            &at,
            format!("`{at}` is `*`; a destination must name one service"),
        );
    } else if d.host.is_empty() {
        r.error(&at, format!("`{path}` has no `host`; name the service"));
    } else if let Err(problem) = check_wildcard_host(&d.host) {
        invalid(r, &at, &d.host, &problem);
    }
}

fn virtual_service(r: &mut Reporter<'_>, spec: &FieldPath, vs: &VirtualServiceSpec) {
    let on_gateway = !vs.gateways.is_empty() && !vs.gateways.iter().any(|g| g == MESH_GATEWAY);
    let sni_on_gateway = on_gateway
        && vs
            .tls
            .iter()
            .any(|t| t.matches.iter().any(|m| !m.sni_hosts.is_empty()));
    let mut all_valid = true;
    for (i, host) in vs.hosts.iter().enumerate() {
        let at = spec.key("hosts").index(i);
        // Gateways take the SNI names Istio generates for auto-passthrough (`outbound_.80_._.x`).
        if sni_on_gateway && host.starts_with("outbound_") {
            continue;
        }
        match check_wildcard_host(host) {
            Err(_) if is_ip(host) => {}
            Err(problem) => {
                all_valid = false;
                invalid(r, &at, host, &problem);
            }
            Ok(()) if !on_gateway && host == "*" => {
                all_valid = false;
                r.error(
                    &at,
                    format!(
                        "`{at}` is `*`, which Istio refuses for a VirtualService on the mesh; \
                         name the hosts, or bind the VirtualService to a gateway"
                    ),
                );
            }
            Ok(()) => {}
        }
    }
    if all_valid {
        let mut seen = HostIndex::default();
        for (i, host) in vs.hosts.iter().enumerate() {
            if let Some(&j) = seen.overlapping(host).first() {
                let at = spec.key("hosts").index(i);
                r.error(
                    &at,
                    format!(
                        "`{at}` `{}` overlaps `{}` at `{}` of the same VirtualService; Istio \
                         refuses overlapping hosts in one VirtualService: list each once",
                        shown(host),
                        shown(&vs.hosts[j]),
                        spec.key("hosts").index(j)
                    ),
                );
            }
            seen.insert(i, host);
        }
    }
    let http = spec.key("http");
    for (i, rule) in vs.http.iter().enumerate() {
        let at = http.index(i);
        for (j, d) in rule.route.iter().enumerate() {
            destination(
                r,
                &at.key("route").index(j).key("destination"),
                &d.destination,
            );
        }
        if let Some(mirror) = &rule.mirror {
            destination(r, &at.key("mirror"), mirror);
        }
        for (j, m) in rule.mirrors.iter().enumerate() {
            if let Some(d) = &m.destination {
                destination(r, &at.key("mirrors").index(j).key("destination"), d);
            }
        }
    }
    for (i, rule) in vs.tcp.iter().enumerate() {
        for (j, d) in rule.route.iter().enumerate() {
            let at = spec.key("tcp").index(i).key("route").index(j);
            destination(r, &at.key("destination"), &d.destination);
        }
    }
    for (i, rule) in vs.tls.iter().enumerate() {
        let at = spec.key("tls").index(i);
        for (j, d) in rule.route.iter().enumerate() {
            destination(
                r,
                &at.key("route").index(j).key("destination"),
                &d.destination,
            );
        }
        for (j, m) in rule.matches.iter().enumerate() {
            for (k, sni) in m.sni_hosts.iter().enumerate() {
                let path = at.key("match").index(j).key("sniHosts").index(k);
                sni_host(r, &path, sni, vs, on_gateway);
            }
        }
    }
}

fn sni_host(
    r: &mut Reporter<'_>,
    path: &FieldPath,
    sni: &str,
    vs: &VirtualServiceSpec,
    on_gateway: bool,
) {
    if on_gateway && sni.starts_with("outbound_") {
        return;
    }
    if let Err(problem) = check_wildcard_host(sni) {
        if is_ip(sni) {
            r.warning(
                path,
                format!(
                    "`{path}` is the IP address `{sni}`; SNI carries names, and most clients \
                     send none for an IP"
                ),
            );
        } else {
            invalid(r, path, sni, &problem);
        }
        return;
    }
    if !vs.hosts.iter().any(|h| covered_by(sni, h)) {
        r.error(
            path,
            format!(
                "`{path}` `{}` is not covered by any host of this VirtualService ({}); add it to \
                 `hosts` or fix the name",
                shown(sni),
                vs.hosts
                    .iter()
                    .map(|h| format!("`{}`", shown(h)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

fn check_resource(resource: &Resource, out: &mut Vec<Finding>) {
    let spec = resource.spec_path();
    let mut r = Reporter::new(&RULE, resource, out);
    match &resource.spec {
        Spec::VirtualService(vs) => virtual_service(&mut r, &spec, vs),
        Spec::DestinationRule(dr) => {
            let at = spec.key("host");
            if dr.host.is_empty() {
                r.error(
                    &at,
                    "a DestinationRule needs a `spec.host`: the service it configures",
                );
            } else if let Err(problem) = check_wildcard_host(&dr.host) {
                invalid(&mut r, &at, &dr.host, &problem);
            }
        }
        Spec::ServiceEntry(se) => {
            if se.hosts.is_empty() {
                r.error(
                    &spec.key("hosts"),
                    "a ServiceEntry needs at least one host in `spec.hosts`",
                );
            }
            for (i, host) in se.hosts.iter().enumerate() {
                let at = spec.key("hosts").index(i);
                if host == "*" {
                    r.error(
                        &at,
                        format!("`{at}` is `*`; a ServiceEntry must name its hosts"),
                    );
                } else if let Err(problem) = check_wildcard_host(host) {
                    invalid(&mut r, &at, host, &problem);
                } else if is_partial_wildcard(host) {
                    r.warning(
                        &at,
                        format!(
                            "`{at}` `{}` is a partial wildcard; Istio only matches a whole first \
                             label (`*.example.com`)",
                            shown(host)
                        ),
                    );
                }
            }
        }
        _ => {}
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        check_resource(resource, out);
    }
}

#[cfg(test)]
mod tests {
    use super::covered_by;
    use crate::policy::findings_of;

    fn mc204(yaml: &str) -> Vec<String> {
        findings_of("MC204", yaml)
    }

    #[test]
    fn valid_hostnames_pass() {
        let findings = mc204(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com, '*.shop.example.com', shop, 10.0.0.7]
  http:
  - route:
    - destination: {host: shop-v1.web.svc.cluster.local}
    mirror: {host: shop-shadow}
  tls:
  - match: [{sniHosts: [api.shop.example.com]}]
    route:
    - destination: {host: shop-tls}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all, namespace: web}
spec:
  host: '*.web.svc.cluster.local'
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: web}
spec:
  hosts: [api.partner.example, '*.cdn.example']
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: NONE
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn invalid_hostnames_are_errors() {
        let findings = mc204(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: ['*', shop..example.com, 'foo.*.com', shop.123]
  http:
  - route:
    - destination: {host: '*'}
    mirrors:
    - destination: {host: bad_host}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC204 error 5:11 `spec.hosts[0]` is `*`, which Istio refuses for a VirtualService on the mesh; name the hosts, or bind the VirtualService to a gateway",
                "MC204 error 5:16 `spec.hosts[1]` `shop..example.com` is not a valid hostname: it has an empty label (two dots in a row, or a leading dot)",
                "MC204 error 5:35 `spec.hosts[2]` `foo.*.com` is not a valid hostname: label `*` is not a DNS label: at most 63 letters, digits or `-`, starting and ending with a letter or digit",
                "MC204 error 5:48 `spec.hosts[3]` `shop.123` is not a valid hostname: its last label `123` is a number",
                "MC204 error 8:27 `spec.http[0].route[0].destination.host` is `*`; a destination must name one service",
                "MC204 error 10:27 `spec.http[0].mirrors[0].destination.host` `bad_host` is not a valid hostname: label `bad_host` is not a DNS label: at most 63 letters, digits or `-`, starting and ending with a letter or digit",
            ]
        );
    }

    #[test]
    fn overlapping_hosts_and_uncovered_sni_hosts() {
        let findings = mc204(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: ['*.example.com', api.example.com, api.example.com]
  tls:
  - match: [{sniHosts: [db.other.org, 10.1.2.3]}]
    route:
    - destination: {host: db}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC204 error 5:28 `spec.hosts[1]` `api.example.com` overlaps `*.example.com` at `spec.hosts[0]` of the same VirtualService; Istio refuses overlapping hosts in one VirtualService: list each once",
                "MC204 error 5:45 `spec.hosts[2]` `api.example.com` overlaps `*.example.com` at `spec.hosts[0]` of the same VirtualService; Istio refuses overlapping hosts in one VirtualService: list each once",
                "MC204 error 7:25 `spec.tls[0].match[0].sniHosts[0]` `db.other.org` is not covered by any host of this VirtualService (`*.example.com`, `api.example.com`, `api.example.com`); add it to `hosts` or fix the name",
                "MC204 warning 7:39 `spec.tls[0].match[0].sniHosts[1]` is the IP address `10.1.2.3`; SNI carries names, and most clients send none for an IP",
            ]
        );
    }

    #[test]
    fn a_five_million_character_host_is_refused_quickly() {
        let host = "a".repeat(5_000_000);
        let findings = mc204(&format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: huge, namespace: web}}
spec:
  hosts: [{host}]
  http:
  - route:
    - destination: {{host: {host}}}
"
        ));
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings[0].contains("is 5000000 characters long; a hostname has at most 255"));
        assert!(
            findings.iter().all(|f| f.len() < 400),
            "messages stay short"
        );
    }

    #[test]
    fn service_entry_and_destination_rule_hosts() {
        let findings = mc204(
            "apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: web}
spec:
  hosts: ['*', '*partner.example']
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: web}
spec:
  host: -reviews
",
        );
        assert_eq!(
            findings,
            vec![
                "MC204 error 5:11 `spec.hosts[0]` is `*`; a ServiceEntry must name its hosts",
                "MC204 warning 5:16 `spec.hosts[1]` `*partner.example` is a partial wildcard; Istio only matches a whole first label (`*.example.com`)",
                "MC204 error 11:9 `spec.host` `-reviews` is not a valid hostname: label `-reviews` is not a DNS label: at most 63 letters, digits or `-`, starting and ending with a letter or digit",
            ]
        );
    }

    #[test]
    fn sni_subsets_follow_istio() {
        assert!(covered_by("a.example.com", "*.example.com"));
        assert!(covered_by("*.a.example.com", "*.example.com"));
        assert!(!covered_by("*.example.com", "a.example.com"));
        assert!(!covered_by("*.com", "*.example.com"));
    }
}
