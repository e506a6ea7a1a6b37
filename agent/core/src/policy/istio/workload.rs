//! A workload's address, ports and labels, as Istio checks a WorkloadEntry and a ServiceEntry's
//! inline endpoints (`validateWorkloadEntry` and the CRD's rules).

use std::collections::BTreeSet;

use super::names::{check_fqdn, is_dns_label, is_ip, shown};
use super::Reporter;
use crate::model::istio::WorkloadEntrySpec;
use crate::path::FieldPath;

/// The prefix of a Unix domain socket address.
pub const UNIX: &str = "unix://";

/// How an address is resolved where the workload is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// A WorkloadEntry: an IP, a DNS name or a Unix socket.
    Any,
    /// A `STATIC` ServiceEntry endpoint: an IP or a Unix socket.
    Static,
    /// A `DNS` ServiceEntry endpoint: an IP or a DNS name.
    Dns,
}

fn unix_socket(r: &mut Reporter<'_>, at: &FieldPath, path: &str) {
    if path.is_empty() {
        r.error(at, format!("`{at}` names no socket after `{UNIX}`"));
    } else if !(path.starts_with('/') || path.starts_with('@')) {
        r.error(
            at,
            format!(
                "`{at}`: `{}` is not an absolute path (or an abstract socket starting with `@`)",
                shown(path)
            ),
        );
    } else if path.ends_with('/') {
        r.error(
            at,
            format!("`{at}` names a directory; give the socket file"),
        );
    }
}

/// Checks one workload. `service_ports` are the port names of the ServiceEntry that lists it
/// (an endpoint's ports must be among them).
pub fn check(
    r: &mut Reporter<'_>,
    at: &FieldPath,
    we: &WorkloadEntrySpec,
    service_ports: Option<&BTreeSet<&str>>,
    addressing: Addressing,
) {
    let address = we.address.as_deref().unwrap_or("");
    let address_at = at.key("address");
    let network = we.network.as_deref().unwrap_or("");
    if address.is_empty() {
        if addressing == Addressing::Dns || network.is_empty() {
            r.error(
                at,
                format!("`{at}` has no `address`; give its IP or DNS name"),
            );
        } else {
            r.warning(
                at,
                format!("`{at}` has no `address`, only the network `{}`; it is reached through that network's gateway", shown(network)),
            );
        }
    } else if address.len() > 256 {
        r.error(
            &address_at,
            format!(
                "`{address_at}` is {} characters long; an address has at most 256",
                address.len()
            ),
        );
    } else if let Some(socket) = address
        .strip_prefix(UNIX)
        .filter(|_| addressing != Addressing::Dns)
    {
        unix_socket(r, &address_at, socket);
        if !we.ports.is_empty() {
            r.error(
                &at.key("ports"),
                format!("`{}`: a Unix socket endpoint has no ports", at.key("ports")),
            );
        }
        if let Some(ports) = service_ports.filter(|p| p.len() != 1) {
            r.error(
                &address_at,
                format!("`{address_at}` is a Unix socket, so the ServiceEntry must have exactly one port (it has {})", ports.len()),
            );
        }
    } else if !is_ip(address) {
        match addressing {
            Addressing::Static => r.error(
                &address_at,
                format!("`{address_at}` `{}` is not an IP address; a STATIC ServiceEntry needs IPs (use resolution DNS for names)", shown(address)),
            ),
            _ => {
                if check_fqdn(address).is_err() {
                    r.error(
                        &address_at,
                        format!("`{address_at}` `{}` is neither an IP address nor a DNS name", shown(address)),
                    );
                }
            }
        }
    }
    let ports_at = at.key("ports");
    for (name, number) in &we.ports {
        let path = ports_at.key(name);
        if !is_dns_label(name) || name.len() >= 63 {
            r.error(
                &path,
                format!("`{ports_at}`: port name `{}` is not valid: at most 62 letters, digits or `-`, starting and ending with a letter or digit", shown(name)),
            );
        } else if let Some(ports) = service_ports.filter(|p| !p.contains(name.as_str())) {
            r.error(
                &path,
                format!(
                    "`{path}`: the ServiceEntry has no port named `{name}` ({})",
                    ports
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        r.port(&path, Some(*number), false);
    }
    r.labels(&at.key("labels"), &we.labels);
    if let Some(weight) = we.weight.filter(|w| !(0..=i64::from(u32::MAX)).contains(w)) {
        let path = at.key("weight");
        r.error(
            &path,
            format!("`{path}` is {weight}; a weight is 0 to 4294967295"),
        );
    }
    for (field, value, max) in [
        ("network", &we.network, 2048),
        ("locality", &we.locality, 2048),
        ("serviceAccount", &we.service_account, 253),
    ] {
        if let Some(value) = value.as_ref().filter(|v| v.len() > max) {
            let path = at.key(field);
            r.error(
                &path,
                format!(
                    "`{path}` is {} characters long; at most {max} are allowed",
                    value.len()
                ),
            );
        }
    }
}
