//! MC512 `ns-field-limits`: a networkservices value is past a limit the API documents.
//!
//! **What it does.** Checks:
//!
//! - HttpRoute `requestMirrorPolicy.mirrorPercent`: 0 to 100;
//! - HttpRoute `directResponse.status`: an HTTP status, 100 to 599; `stringBody` at most 1024
//!   characters; `bytesBody` (base64) at most 4096 bytes once decoded;
//! - HttpRoute header `rangeMatch`: `start` below `end` (`end` is exclusive);
//! - TlsRoute: at most 5 `sniHost` and at most 5 `alpn` values across the matches of a rule;
//! - Gateway `scope`: at most 64 characters, a letter first, then letters, digits and hyphens;
//! - Gateway of type `SECURE_WEB_GATEWAY`: one port; any Gateway: at most one address.
//!
//! (Status codes, percentages and lengths checked since before are MC503's.)
//!
//! **Why.** The API rejects a resource past these limits, so the revision would fail to apply;
//! an empty header range (`start` not below `end`) would match no request at all.
//!
//! **Example.** `rangeMatch: {start: 500, end: 500}`: the end is exclusive; write `end: 501`.

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC512",
    name: "ns-field-limits",
    summary: "a networkservices value is past a documented limit (sizes, counts, ranges)",
    check: Some(check),
};

const MAX_STRING_BODY: usize = 1024;
const MAX_BYTES_BODY: usize = 4096;
const MAX_TLS_VALUES: usize = 5;
const MAX_SCOPE: usize = 64;

fn error(resource: &Resource, path: &FieldPath, message: String, out: &mut Vec<Finding>) {
    out.push(resource.finding(&RULE, Severity::Error, path, message));
}

/// The decoded length of a base64 text (padding aside), without decoding it.
fn base64_len(text: &str) -> usize {
    let symbols = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .count();
    symbols * 3 / 4
}

/// True for a scope: a letter, then letters, digits and hyphens.
fn is_scope(scope: &str) -> bool {
    scope.starts_with(|c: char| c.is_ascii_alphabetic())
        && scope.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        let rules = root.key("rules");
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        for (k, h) in m.headers.iter().enumerate() {
                            let Some(range) = &h.range_match else {
                                continue;
                            };
                            let (start, end) = (range.start.unwrap_or(0), range.end.unwrap_or(0));
                            if start >= end {
                                let path = rules
                                    .index(i)
                                    .key("matches")
                                    .index(j)
                                    .key("headers")
                                    .index(k)
                                    .key("rangeMatch");
                                error(resource, &path, format!("`{path}` runs from {start} to {end}, which holds no value: `start` is included and `end` is not, so `end` must be above `start`"), out);
                            }
                        }
                    }
                    let Some(action) = &rule.action else { continue };
                    let at = rules.index(i).key("action");
                    if let Some(percent) = action
                        .request_mirror_policy
                        .as_ref()
                        .and_then(|m| m.mirror_percent)
                    {
                        if !(0.0..=100.0).contains(&percent) {
                            let path = at.key("requestMirrorPolicy").key("mirrorPercent");
                            error(
                                resource,
                                &path,
                                format!("`{path}` is {percent}; it must be between 0 and 100"),
                                out,
                            );
                        }
                    }
                    let Some(direct) = &action.direct_response else {
                        continue;
                    };
                    let at = at.key("directResponse");
                    if let Some(status) = direct.status.filter(|s| !(100..=599).contains(s)) {
                        let path = at.key("status");
                        error(
                            resource,
                            &path,
                            format!(
                                "`{path}` is {status}; it must be an HTTP status from 100 to 599"
                            ),
                            out,
                        );
                    }
                    if let Some(length) = direct
                        .string_body
                        .as_ref()
                        .map(|b| b.chars().count())
                        .filter(|n| *n > MAX_STRING_BODY)
                    {
                        let path = at.key("stringBody");
                        error(resource, &path, format!("`{path}` is {length} characters long; at most {MAX_STRING_BODY} are allowed"), out);
                    }
                    if let Some(length) = direct
                        .bytes_body
                        .as_deref()
                        .map(base64_len)
                        .filter(|n| *n > MAX_BYTES_BODY)
                    {
                        let path = at.key("bytesBody");
                        error(resource, &path, format!("`{path}` decodes to {length} bytes; at most {MAX_BYTES_BODY} are allowed"), out);
                    }
                }
            }
            Spec::NsTlsRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (field, count) in [
                        (
                            "sniHost",
                            rule.matches.iter().map(|m| m.sni_host.len()).sum::<usize>(),
                        ),
                        ("alpn", rule.matches.iter().map(|m| m.alpn.len()).sum()),
                    ] {
                        if count > MAX_TLS_VALUES {
                            let path = rules.index(i).key("matches");
                            error(resource, &path, format!("`{path}` lists {count} `{field}` values; a rule takes at most {MAX_TLS_VALUES} across its matches: split the rule"), out);
                        }
                    }
                }
            }
            Spec::NsGateway(gateway) => {
                if let Some(scope) = gateway.scope.as_deref().filter(|s| !s.is_empty()) {
                    let length = scope.chars().count();
                    if length > MAX_SCOPE || !is_scope(scope) {
                        let path = root.key("scope");
                        error(resource, &path, format!("`scope` `{scope}` must be at most {MAX_SCOPE} characters: a letter, then letters, digits and hyphens"), out);
                    }
                }
                let swg = gateway.gateway_type.as_deref() == Some("SECURE_WEB_GATEWAY");
                if swg && gateway.ports.len() > 1 {
                    let path = root.key("ports");
                    error(
                        resource,
                        &path,
                        format!(
                            "`ports` lists {} ports; a `SECURE_WEB_GATEWAY` listens on one",
                            gateway.ports.len()
                        ),
                        out,
                    );
                }
                if gateway.addresses.len() > 1 {
                    let path = root.key("addresses");
                    error(
                        resource,
                        &path,
                        format!(
                            "`addresses` lists {} addresses; a Gateway takes at most one",
                            gateway.addresses.len()
                        ),
                        out,
                    );
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
    fn values_within_limits_pass() {
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- matches:\n  - headers: [{header: x-v, rangeMatch: {start: 1, end: 2}}]\n  action:\n    destinations: [{serviceName: ads}]\n    requestMirrorPolicy: {destination: {serviceName: ads-shadow}, mirrorPercent: 12.5}\n- action:\n    directResponse: {status: 503, bytesBody: aGVsbG8=}\n");
        let tls = ns("TlsRoute", "rules:\n- matches:\n  - {sniHost: [a.example.com, b.example.com], alpn: [h2]}\n  - {sniHost: [c.example.com, d.example.com, e.example.com], alpn: [http/1.1]}\n  action:\n    destinations: [{serviceName: ads}]\n");
        let gateway = ns(
            "Gateway",
            "type: SECURE_WEB_GATEWAY\nports: [443]\nscope: edge-1\naddresses: [10.0.0.10]\n",
        );
        for yaml in [http, tls, gateway] {
            assert_eq!(findings_of("MC512", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn http_values_past_their_limits() {
        let long = "x".repeat(1025);
        let big = "A".repeat(5464);
        let yaml = ns("HttpRoute", &format!("hostnames: [ads.internal]\nrules:\n- matches:\n  - headers: [{{header: x-v, rangeMatch: {{start: 500, end: 500}}}}]\n  action:\n    destinations: [{{serviceName: ads}}]\n    requestMirrorPolicy: {{destination: {{serviceName: ads-shadow}}, mirrorPercent: 150}}\n- action:\n    directResponse: {{status: 700, stringBody: {long}}}\n- action:\n    directResponse: {{status: 200, bytesBody: {big}}}\n"));
        let lines = findings_of("MC512", &yaml);
        let expected = [
            "`rules[0].matches[0].headers[0].rangeMatch` runs from 500 to 500, which holds no value",
            "`rules[0].action.requestMirrorPolicy.mirrorPercent` is 150; it must be between 0 and 100",
            "`rules[1].action.directResponse.status` is 700; it must be an HTTP status from 100 to 599",
            "`rules[1].action.directResponse.stringBody` is 1025 characters long; at most 1024 are allowed",
            "`rules[2].action.directResponse.bytesBody` decodes to 4098 bytes; at most 4096 are allowed",
        ];
        assert_eq!(lines.len(), expected.len(), "{lines:#?}");
        for (line, want) in lines.iter().zip(expected) {
            assert!(
                line.starts_with("MC512 error ") && line.contains(want),
                "{line}\nwants {want}"
            );
        }
    }

    #[test]
    fn tls_and_gateway_values_past_their_limits() {
        let tls = ns("TlsRoute", "rules:\n- matches:\n  - {sniHost: [a.example.com, b.example.com, c.example.com]}\n  - {sniHost: [d.example.com, e.example.com, f.example.com]}\n  action:\n    destinations: [{serviceName: ads}]\n");
        assert_eq!(
            findings_of("MC512", &tls),
            vec!["MC512 error 6:5 `rules[0].matches` lists 6 `sniHost` values; a rule takes at most 5 across its matches: split the rule"]
        );
        let gateway = ns("Gateway", "type: SECURE_WEB_GATEWAY\nports: [443, 8443]\nscope: 1-edge\naddresses: [10.0.0.10, 10.0.0.11]\n");
        assert_eq!(
            findings_of("MC512", &gateway),
            vec![
                "MC512 error 5:8 `ports` lists 2 ports; a `SECURE_WEB_GATEWAY` listens on one",
                "MC512 error 6:8 `scope` `1-edge` must be at most 64 characters: a letter, then letters, digits and hyphens",
                "MC512 error 7:12 `addresses` lists 2 addresses; a Gateway takes at most one",
            ]
        );
    }
}
