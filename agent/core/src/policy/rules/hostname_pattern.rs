//! MC602 `hostname-pattern`: a route hostname is not a valid host name.
//!
//! **What it does.** Checks each hostname against its API's pattern:
//!
//! - Gateway API `spec.hostnames`: at most 253 characters matching
//!   `^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`;
//! - networkservices HttpRoute `hostnames` and TlsRoute `sniHost`: RFC 1123 names (lowercase
//!   labels of at most 63 characters, at most 253 in all) with an optional leading `*.`, and
//!   not an IP address;
//! - networkservices GrpcRoute `hostnames`: the same, optionally followed by `:port`.
//!
//! **Why.** The API rejects the route, so the revision would fail to apply. Common slips are
//! uppercase letters, a port on an HTTP hostname, a scheme (`https://`) or a path, and a
//! wildcard that is not a whole first label (`*ads.example.com`).
//!
//! **Example.** `hostnames: [Ads.Example.com]`: write `ads.example.com`.

use std::sync::LazyLock;

use regex::Regex;

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC602",
    name: "hostname-pattern",
    summary: "a route hostname does not match its API's hostname pattern",
    check: Some(check),
};

/// Gateway API's hostname pattern; it is also the shape networkservices accepts, with label
/// lengths and IP addresses checked apart.
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .expect("the hostname pattern is valid")
});

const MAX_HOSTNAME: usize = 253;
const MAX_LABEL: usize = 63;

/// The hostname rules of one API.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// Gateway API: the pattern and the length.
    GatewayApi,
    /// networkservices HttpRoute and TlsRoute: RFC 1123, no IP address.
    Rfc1123,
    /// networkservices GrpcRoute: RFC 1123 with an optional `:port`.
    WithPort,
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        match &resource.spec {
            Spec::GwRoute(spec) => {
                check_list(resource, &root, &spec.hostnames, Flavor::GatewayApi, out);
            }
            Spec::NsHttpRoute(route) => {
                check_list(resource, &root, &route.hostnames, Flavor::Rfc1123, out);
            }
            Spec::NsGrpcRoute(route) => {
                check_list(resource, &root, &route.hostnames, Flavor::WithPort, out);
            }
            Spec::NsTlsRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let at = root.key("rules").index(i).key("matches").index(j);
                        for (k, host) in m.sni_host.iter().enumerate() {
                            let path = at.key("sniHost").index(k);
                            report(resource, &path, host, Flavor::Rfc1123, out);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_list(
    resource: &Resource,
    root: &FieldPath,
    hosts: &[String],
    flavor: Flavor,
    out: &mut Vec<Finding>,
) {
    for (i, host) in hosts.iter().enumerate() {
        report(resource, &root.key("hostnames").index(i), host, flavor, out);
    }
}

fn report(
    resource: &Resource,
    path: &FieldPath,
    host: &str,
    flavor: Flavor,
    out: &mut Vec<Finding>,
) {
    let Some(problem) = problem(host, flavor) else {
        return;
    };
    let shape = match flavor {
        Flavor::WithPort => {
            "lowercase letters, digits and `-` in dot-separated labels, optionally starting \
             with `*.` and ending with `:port`"
        }
        _ => {
            "lowercase letters, digits and `-` in dot-separated labels, optionally starting \
             with `*.`"
        }
    };
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        path,
        format!("`{path}` `{host}` is not a valid hostname: {problem}; use {shape}"),
    ));
}

/// What is wrong with a hostname, or `None` when it is valid.
fn problem(host: &str, flavor: Flavor) -> Option<String> {
    let mut name = host;
    if flavor == Flavor::WithPort {
        if let Some((before, port)) = host.rsplit_once(':') {
            if port.is_empty() {
                return Some("the port after `:` is missing".into());
            }
            if !port.parse::<u16>().is_ok_and(|p| p > 0) {
                return Some(format!("`{port}` is not a port (1-65535)"));
            }
            name = before;
        }
    }
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.chars().count() > MAX_HOSTNAME {
        return Some(format!("it is longer than {MAX_HOSTNAME} characters"));
    }
    if HOSTNAME.is_match(name) {
        if flavor == Flavor::GatewayApi {
            return None;
        }
        if let Some(label) = name.split('.').find(|l| l.len() > MAX_LABEL) {
            return Some(format!(
                "label `{label}` is longer than {MAX_LABEL} characters"
            ));
        }
        if name.parse::<std::net::Ipv4Addr>().is_ok() {
            return Some("IP addresses are not allowed".into());
        }
        return None;
    }
    Some(if name.contains("://") {
        "it has a scheme".into()
    } else if name.contains('/') {
        "it has a path".into()
    } else if name.contains(':') {
        "a port is not allowed here".into()
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        "it has uppercase letters".into()
    } else if name.contains('*') {
        "a wildcard must be the whole first label, as in `*.example.com`".into()
    } else {
        "it has an empty label, a label starting or ending with `-`, or a character other than \
         a letter, a digit, `-` or `.`"
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::{problem, Flavor, RULE};
    use crate::policy::check_fixture;

    /// This rule's findings, and the loader's so a fixture that does not load is noticed.
    fn run(yaml: &str) -> Vec<String> {
        check_fixture(yaml)
            .into_iter()
            // Load findings, but not the schema's (MC008, MC009): they overlap this rule's.
            .filter(|l| {
                l.starts_with(RULE.code)
                    || (l.starts_with("MC00") && !l.starts_with("MC008") && !l.starts_with("MC009"))
            })
            .collect()
    }

    const SHAPE: &str = "use lowercase letters, digits and `-` in dot-separated labels, optionally starting with `*.`";

    #[test]
    fn valid_hostnames_pass() {
        let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ads}\nspec:\n  hostnames: [ads.example.com, '*.ads.example.com', ads]\n";
        let http = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: ads\nhostnames: [ads.internal, '*.meshapps.internal']\nrules:\n- action: {destinations: [{serviceName: ads}]}\n";
        let grpc = "apiVersion: networkservices.googleapis.com/v1\nkind: GrpcRoute\nname: ads\nhostnames: [ads.internal, 'ads.internal:8443']\nrules:\n- action: {destinations: [{serviceName: ads}]}\n";
        let tls = "apiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: ads\nrules:\n- matches: [{sniHost: ['*.ads.example.com']}]\n  action: {destinations: [{serviceName: ads}]}\n";
        for yaml in [gw, http, grpc, tls] {
            assert_eq!(run(yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn gateway_api_hostnames() {
        let yaml = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ads}\nspec:\n  hostnames:\n  - Ads.example.com\n  - '*ads.example.com'\n  - https://ads.example.com\n  - ads-.example.com\n";
        assert_eq!(
            run(yaml),
            vec![
                format!("MC602 error 6:5 `spec.hostnames[0]` `Ads.example.com` is not a valid hostname: it has uppercase letters; {SHAPE}"),
                format!("MC602 error 7:5 `spec.hostnames[1]` `*ads.example.com` is not a valid hostname: a wildcard must be the whole first label, as in `*.example.com`; {SHAPE}"),
                format!("MC602 error 8:5 `spec.hostnames[2]` `https://ads.example.com` is not a valid hostname: it has a scheme; {SHAPE}"),
                format!("MC602 error 9:5 `spec.hostnames[3]` `ads-.example.com` is not a valid hostname: it has an empty label, a label starting or ending with `-`, or a character other than a letter, a digit, `-` or `.`; {SHAPE}"),
            ]
        );
    }

    #[test]
    fn networkservices_hostnames_and_sni_hosts() {
        let label = "a".repeat(64);
        let http = format!("apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: ads\nhostnames:\n- ads.internal:80\n- 10.0.0.1\n- {label}.internal\nrules:\n- action: {{destinations: [{{serviceName: ads}}]}}\n");
        assert_eq!(
            run(&http),
            vec![
                format!("MC602 error 5:3 `hostnames[0]` `ads.internal:80` is not a valid hostname: a port is not allowed here; {SHAPE}"),
                format!("MC602 error 6:3 `hostnames[1]` `10.0.0.1` is not a valid hostname: IP addresses are not allowed; {SHAPE}"),
                format!("MC602 error 7:3 `hostnames[2]` `{label}.internal` is not a valid hostname: label `{label}` is longer than 63 characters; {SHAPE}"),
            ]
        );
        let tls = "apiVersion: networkservices.googleapis.com/v1\nkind: TlsRoute\nname: ads\nrules:\n- matches: [{sniHost: [ads.example.com/v1]}]\n  action: {destinations: [{serviceName: ads}]}\n";
        assert_eq!(
            run(tls),
            vec![format!("MC602 error 5:24 `rules[0].matches[0].sniHost[0]` `ads.example.com/v1` is not a valid hostname: it has a path; {SHAPE}")]
        );
    }

    #[test]
    fn grpc_hostnames_may_have_a_port() {
        let yaml = "apiVersion: networkservices.googleapis.com/v1\nkind: GrpcRoute\nname: ads\nhostnames: ['ads.internal:99999', 'ADS:80']\nrules:\n- action: {destinations: [{serviceName: ads}]}\n";
        let shape = "use lowercase letters, digits and `-` in dot-separated labels, optionally starting with `*.` and ending with `:port`";
        assert_eq!(
            run(yaml),
            vec![
                format!("MC602 error 4:13 `hostnames[0]` `ads.internal:99999` is not a valid hostname: `99999` is not a port (1-65535); {shape}"),
                format!("MC602 error 4:35 `hostnames[1]` `ADS:80` is not a valid hostname: it has uppercase letters; {shape}"),
            ]
        );
    }

    #[test]
    fn length_limit() {
        let long = format!("{}comx", "a.".repeat(125));
        assert_eq!(long.len(), 254);
        assert_eq!(
            problem(&long, Flavor::GatewayApi),
            Some("it is longer than 253 characters".into())
        );
        assert_eq!(problem(&long[2..], Flavor::GatewayApi), None);
        assert_eq!(problem("", Flavor::Rfc1123), Some("it is empty".into()));
        assert_eq!(
            problem("ads.internal:", Flavor::WithPort),
            Some("the port after `:` is missing".into())
        );
    }
}
