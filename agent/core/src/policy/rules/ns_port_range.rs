//! MC511 `ns-port-range`: a networkservices port is not a TCP port.
//!
//! **What it does.** Checks that these ports are between 1 and 65535: a Mesh's
//! `interceptionPort`, each of a Gateway's `ports`, an HttpRoute redirect's `portRedirect`, and
//! a TcpRoute match's `port` (a string of digits in the API, `'5432'`).
//!
//! **Why.** The API rejects any other value, so the revision would fail to apply. A port
//! written with a name (`port: postgres`) or a range (`8000-8080`) is a common slip in TcpRoute
//! matches, whose port is text.
//!
//! **Example.** `interceptionPort: 0`: leave the field out for the default, 15001.

use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC511",
    name: "ns-port-range",
    summary: "a networkservices port is not between 1 and 65535",
    check: Some(check),
};

const PORTS: std::ops::RangeInclusive<i64> = 1..=65535;

fn report(resource: &Resource, path: &FieldPath, written: &str, out: &mut Vec<Finding>) {
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        path,
        format!("`{path}` is {written}; a port is a number from 1 to 65535"),
    ));
}

fn number(resource: &Resource, path: &FieldPath, port: Option<i64>, out: &mut Vec<Finding>) {
    if let Some(port) = port.filter(|p| !PORTS.contains(p)) {
        report(resource, path, &port.to_string(), out);
    }
}

/// A TcpRoute match port: text in the API, a number in hand-written YAML. `Err` holds a value
/// that is no number at all, as it reads in a message; a missing port is MC507's.
fn tcp_port(port: Option<&Value>) -> Result<Option<i64>, String> {
    match port {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => text.parse().map(Some).map_err(|_| format!("`{text}`")),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| n.to_string()),
        Some(other) => Err(other.to_string()),
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        match &resource.spec {
            Spec::NsMesh(mesh) => {
                number(
                    resource,
                    &root.key("interceptionPort"),
                    mesh.interception_port,
                    out,
                );
            }
            Spec::NsGateway(gateway) => {
                for (i, port) in gateway.ports.iter().enumerate() {
                    number(resource, &root.key("ports").index(i), Some(*port), out);
                }
            }
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    let Some(redirect) = rule.action.as_ref().and_then(|a| a.redirect.as_ref())
                    else {
                        continue;
                    };
                    let path = root
                        .key("rules")
                        .index(i)
                        .key("action")
                        .key("redirect")
                        .key("portRedirect");
                    number(resource, &path, redirect.port_redirect, out);
                }
            }
            Spec::NsTcpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let path = root
                            .key("rules")
                            .index(i)
                            .key("matches")
                            .index(j)
                            .key("port");
                        match tcp_port(m.port.as_ref()) {
                            Ok(port) => number(resource, &path, port, out),
                            Err(written) => report(resource, &path, &written, out),
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{findings_of, ns_fixture as ns};

    #[test]
    fn ports_in_range_pass() {
        let mesh = ns("Mesh", "interceptionPort: 15001\n");
        let gateway = ns("Gateway", "type: OPEN_MESH\nports: [1, 443, 65535]\n");
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- action:\n    redirect: {portRedirect: 8443, httpsRedirect: true}\n");
        let tcp = ns("TcpRoute", "rules:\n- matches: [{address: 10.0.0.0/8, port: '5432'}, {address: 10.0.0.1, port: 6379}]\n  action: {originalDestination: true}\n");
        for yaml in [mesh, gateway, http, tcp] {
            assert_eq!(findings_of("MC511", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn ports_out_of_range_or_not_numbers() {
        let mesh = ns("Mesh", "interceptionPort: 0\n");
        assert_eq!(
            findings_of("MC511", &mesh),
            vec!["MC511 error 4:19 `interceptionPort` is 0; a port is a number from 1 to 65535"]
        );
        let gateway = ns("Gateway", "type: OPEN_MESH\nports: [80, 70000]\n");
        assert_eq!(
            findings_of("MC511", &gateway),
            vec!["MC511 error 5:13 `ports[1]` is 70000; a port is a number from 1 to 65535"]
        );
        let http = ns(
            "HttpRoute",
            "hostnames: [ads.internal]\nrules:\n- action:\n    redirect: {portRedirect: -1}\n",
        );
        assert_eq!(
            findings_of("MC511", &http),
            vec!["MC511 error 7:30 `rules[0].action.redirect.portRedirect` is -1; a port is a number from 1 to 65535"]
        );
        let tcp = ns("TcpRoute", "rules:\n- matches: [{address: 10.0.0.0/8, port: postgres}, {address: 10.0.0.1, port: '0'}]\n  action: {originalDestination: true}\n");
        assert_eq!(
            findings_of("MC511", &tcp),
            vec![
                "MC511 error 5:41 `rules[0].matches[0].port` is `postgres`; a port is a number from 1 to 65535",
                "MC511 error 5:78 `rules[0].matches[1].port` is 0; a port is a number from 1 to 65535",
            ]
        );
    }
}
