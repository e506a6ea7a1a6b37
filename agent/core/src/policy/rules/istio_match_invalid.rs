//! MC205 `istio-match-invalid`: a VirtualService match condition Istio's webhook refuses.
//!
//! **What it does.** Checks the `match` conditions of `http`, `tcp` and `tls` rules as Istio's
//! validating webhook does (`validateHTTPRouteMatchRequest`, `validateTCPMatch`,
//! `validateTLSMatch`):
//!
//! - string matches (`uri`, `scheme`, `method`, `authority`, `headers`, `queryParams`,
//!   `withoutHeaders`) set at most one of `exact`, `prefix`, `regex`; a `regex` is a valid RE2
//!   expression of at most 1024 characters (see [`crate::policy::istio::re2`] for how the
//!   `regex` crate is made to read RE2); a `prefix` is not empty, except for `uri`;
//! - header names are HTTP tokens (or pseudo-headers such as `:authority`); a header match is not
//!   `null`; JWT-claim headers (`@request.auth.claims.*`) only work on gateways, not on the mesh;
//! - ports are 1–65535, `sourceLabels` are valid labels, `sourceNamespace` is a DNS label,
//!   `gateways` are gateway names (`namespace/name`), `destinationSubnets` are IPs or CIDRs;
//! - every `tls` rule has matches, and every TLS match has `sniHosts` (their names are MC204's).
//!
//! **Why.** The API server refuses the VirtualService, so the revision cannot be applied; an
//! invalid regex would otherwise only fail in Envoy.
//!
//! **Example.** `match: [{uri: {regex: "/api/(v1|v2"}}]` (unclosed group).

use crate::finding::Finding;
use crate::model::istio::{HttpMatchRequest, VirtualServiceSpec, MESH_GATEWAY};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::{check_ip_or_cidr, is_dns_label, is_header_token, shown};
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC205",
    name: "istio-match-invalid",
    summary: "a VirtualService match condition is malformed (regex, header name, port, subnet...)",
    check: Some(check),
};

/// Pseudo-headers a header match may name.
const PSEUDO_HEADERS: &[&str] = &[":method", ":scheme", ":authority", ":path", ":status"];

/// The prefix of a header name that routes on a JWT claim.
const JWT_CLAIM: &str = "@request.auth.claims";

fn header_name(r: &mut Reporter<'_>, path: &FieldPath, name: &str, on_mesh: bool) {
    let at = path.key(name);
    if name.is_empty() {
        r.error(&at, format!("`{path}` has an empty header name"));
    } else if let Some(rest) = name.strip_prefix(JWT_CLAIM) {
        if !(rest.starts_with('.') || rest.starts_with('[')) || rest.len() < 2 {
            r.error(
                &at,
                format!(
                    "`{at}`: `{}` is not a JWT claim: write `{JWT_CLAIM}.name` or \
                     `{JWT_CLAIM}[name]`",
                    shown(name)
                ),
            );
        } else if on_mesh {
            r.error(
                &at,
                format!(
                    "`{at}` routes on a JWT claim, which Istio only supports on gateways, not for \
                     the mesh; bind the VirtualService to a gateway or match a header"
                ),
            );
        }
    } else if !PSEUDO_HEADERS.contains(&name) && !is_header_token(name) {
        r.error(
            &at,
            format!(
                "`{at}`: `{}` is not a valid header name (letters, digits and \
                 !#$%&'*+-.^_`|~ only)",
                shown(name)
            ),
        );
    }
}

fn http_match(r: &mut Reporter<'_>, at: &FieldPath, m: &HttpMatchRequest, on_mesh: bool) {
    if let Some(uri) = &m.uri {
        r.string_match(&at.key("uri"), uri, true);
    }
    for (field, value) in [
        ("scheme", &m.scheme),
        ("method", &m.method),
        ("authority", &m.authority),
    ] {
        if let Some(value) = value {
            r.string_match(&at.key(field), value, false);
        }
    }
    let headers = at.key("headers");
    for (name, value) in &m.headers {
        header_name(r, &headers, name, on_mesh);
        match value {
            Some(value) => r.string_match(&headers.key(name), value, false),
            None => {
                let path = headers.key(name);
                r.error(
                    &path,
                    format!("`{path}` is null; give a match (`{{}}` matches any value)"),
                );
            }
        }
    }
    let without = at.key("withoutHeaders");
    for (name, value) in &m.without_headers {
        header_name(r, &without, name, on_mesh);
        // `regex: "*"` is not a regex there: Istio reads it as "present".
        if let Some(value) = value.as_ref().filter(|v| v.regex.as_deref() != Some("*")) {
            r.string_match(&without.key(name), value, false);
        }
    }
    let params = at.key("queryParams");
    for (name, value) in &m.query_params {
        if let Some(value) = value {
            r.string_match(&params.key(name), value, false);
        }
    }
    common(
        r,
        at,
        m.port,
        &m.source_labels,
        m.source_namespace.as_deref(),
        &m.gateways,
    );
}

/// The conditions every kind of match has.
fn common(
    r: &mut Reporter<'_>,
    at: &FieldPath,
    port: Option<i64>,
    source_labels: &std::collections::BTreeMap<String, String>,
    source_namespace: Option<&str>,
    gateways: &[String],
) {
    r.port(&at.key("port"), port, true);
    r.labels(&at.key("sourceLabels"), source_labels);
    if let Some(namespace) = source_namespace.filter(|n| !n.is_empty()) {
        if !is_dns_label(namespace) {
            let path = at.key("sourceNamespace");
            r.error(
                &path,
                format!(
                    "`{path}` `{}` is not a namespace name (a DNS label)",
                    shown(namespace)
                ),
            );
        }
    }
    r.gateway_names(&at.key("gateways"), gateways);
}

fn subnets(r: &mut Reporter<'_>, at: &FieldPath, subnets: &[String]) {
    for (i, subnet) in subnets.iter().enumerate() {
        if let Err(problem) = check_ip_or_cidr(subnet) {
            let path = at.key("destinationSubnets").index(i);
            r.error(&path, format!("`{path}`: {problem}"));
        }
    }
}

fn virtual_service(r: &mut Reporter<'_>, spec: &FieldPath, vs: &VirtualServiceSpec) {
    let on_mesh = vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == MESH_GATEWAY);
    for (i, rule) in vs.http.iter().enumerate() {
        for (j, m) in rule.matches.iter().enumerate() {
            let at = spec.key("http").index(i).key("match").index(j);
            http_match(r, &at, m, on_mesh);
        }
    }
    for (i, rule) in vs.tcp.iter().enumerate() {
        for (j, m) in rule.matches.iter().enumerate() {
            let at = spec.key("tcp").index(i).key("match").index(j);
            subnets(r, &at, &m.destination_subnets);
            common(
                r,
                &at,
                m.port,
                &m.source_labels,
                m.source_namespace.as_deref(),
                &m.gateways,
            );
        }
    }
    for (i, rule) in vs.tls.iter().enumerate() {
        let rule_at = spec.key("tls").index(i);
        if rule.matches.is_empty() {
            r.error(
                &rule_at,
                format!(
                    "`{rule_at}` has no `match`; a TLS rule must match on SNI hosts (`sniHosts`)"
                ),
            );
        }
        for (j, m) in rule.matches.iter().enumerate() {
            let at = rule_at.key("match").index(j);
            if m.sni_hosts.is_empty() {
                r.error(
                    &at,
                    format!("`{at}` has no `sniHosts`; a TLS match needs at least one"),
                );
            }
            subnets(r, &at, &m.destination_subnets);
            common(
                r,
                &at,
                m.port,
                &m.source_labels,
                m.source_namespace.as_deref(),
                &m.gateways,
            );
        }
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        if let Spec::VirtualService(vs) = &resource.spec {
            let spec = resource.spec_path();
            virtual_service(&mut Reporter::new(&RULE, resource, out), &spec, vs);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::findings_of;

    fn mc205(yaml: &str) -> Vec<String> {
        findings_of("MC205", yaml)
    }

    const HEAD: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: prod}
spec:
  hosts: [api.example.com]
";

    #[test]
    fn valid_matches_pass() {
        let findings = mc205(&format!(
            "{HEAD}  gateways: [istio-system/public]
  http:
  - match:
    - uri: {{regex: '/api/v[0-9]+/.*'}}
      method: {{exact: GET}}
      scheme: {{prefix: http}}
      authority: {{exact: api.example.com}}
      headers:
        x-user: {{prefix: a}}
        ':authority': {{exact: api.example.com}}
        '@request.auth.claims.group': {{exact: admins}}
        x-present: {{}}
      withoutHeaders: {{x-debug: {{regex: '*'}}}}
      queryParams: {{v: {{regex: '\\d+'}}}}
      port: 443
      sourceLabels: {{app.kubernetes.io/name: web}}
      sourceNamespace: web
      gateways: [istio-system/public]
      ignoreUriCase: true
      name: api
      statPrefix: api
    - uri: {{prefix: ''}}
    route:
    - destination: {{host: api}}
  tcp:
  - match: [{{destinationSubnets: [10.0.0.0/8, 10.1.2.3], port: 5432}}]
    route:
    - destination: {{host: db}}
  tls:
  - match: [{{sniHosts: [api.example.com], destinationSubnets: ['2001:db8::/32']}}]
    route:
    - destination: {{host: api}}
"
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn invalid_matches_are_errors() {
        let findings = mc205(&format!(
            "{HEAD}  http:
  - match:
    - uri: {{regex: '/api/(v1|v2'}}
      method: {{prefix: ''}}
      headers:
        bad header: {{exact: x}}
        '@request.auth.claims.group': {{exact: admins}}
        x-null: null
      queryParams: {{v: {{regex: '(?x) a'}}}}
      port: 70000
      sourceNamespace: Web_NS
      gateways: [istio-system/Public_GW]
    route:
    - destination: {{host: api}}
  tcp:
  - match: [{{destinationSubnets: [10.0.0.0/40]}}]
    route:
    - destination: {{host: db}}
  tls:
  - route:
    - destination: {{host: api}}
  - match: [{{port: 443}}]
    route:
    - destination: {{host: api}}
"
        ));
        assert_eq!(
            findings,
            vec![
                "MC205 error 8:20 `spec.http[0].match[0].uri.regex` is not a valid RE2 regular expression: unclosed group",
                "MC205 error 9:24 `spec.http[0].match[0].method.prefix` is empty; a prefix match needs a prefix (leave out the value to match any)",
                "MC205 error 11:21 `spec.http[0].match[0].headers.bad header`: `bad header` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                "MC205 error 12:39 `spec.http[0].match[0].headers.@request.auth.claims.group` routes on a JWT claim, which Istio only supports on gateways, not for the mesh; bind the VirtualService to a gateway or match a header",
                "MC205 error 13:17 `spec.http[0].match[0].headers.x-null` is null; give a match (`{}` matches any value)",
                "MC205 error 14:32 `spec.http[0].match[0].queryParams.v.regex` is not a valid RE2 regular expression: RE2 has no `x` flag (it has `i`, `m`, `s` and `U`)",
                "MC205 error 15:13 `spec.http[0].match[0].port` is 70000; a port number must be between 1 and 65535",
                "MC205 error 16:24 `spec.http[0].match[0].sourceNamespace` `Web_NS` is not a namespace name (a DNS label)",
                "MC205 error 17:18 `spec.http[0].match[0].gateways[0]`: gateway name `Public_GW` is not a DNS label (at most 63 letters, digits or `-`, starting and ending with a letter or digit)",
                "MC205 error 21:35 `spec.tcp[0].match[0].destinationSubnets[0]`: `10.0.0.0/40` is not a valid CIDR block (the prefix length must be 0 to 32)",
                "MC205 error 25:5 `spec.tls[0]` has no `match`; a TLS rule must match on SNI hosts (`sniHosts`)",
                "MC205 error 27:13 `spec.tls[1].match[0]` has no `sniHosts`; a TLS match needs at least one",
            ]
        );
    }
}
