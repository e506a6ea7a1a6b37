//! MC507 `ns-required-field`: a field the service routing API requires is missing.
//!
//! **What it does.** Reports, at the field's place (or its parent's):
//!
//! - every route kind: `rules`, at least one;
//! - HttpRoute and GrpcRoute: `hostnames`, at least one;
//! - HttpRoute: a header match's `header` and a query parameter match's `queryParameter`;
//!   `statefulSessionAffinity.cookieTtl`; `directResponse.status`;
//! - GrpcRoute: a method match's `grpcService` and `grpcMethod`, a header match's `key` and
//!   `value`; `statefulSessionAffinity.cookieTtl`;
//! - TcpRoute: a match's `address` and `port`;
//! - Gateway: `type` (`OPEN_MESH` or `SECURE_WEB_GATEWAY`) and `ports`, at least one.
//!
//! Missing rule actions and destinations are MC502's, MC604's and MC605's; a destination
//! without `serviceName` is MC506's.
//!
//! **Why.** The API marks these fields required and rejects a resource without them, so the
//! revision would fail to apply.
//!
//! **Example.** A GrpcRoute match `method: {grpcService: payments.v1.Payments}`: add
//! `grpcMethod: Refund` (a regular expression such as `.*` with `type: REGULAR_EXPRESSION`
//! matches every method).

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC507",
    name: "ns-required-field",
    summary: "a field the networkservices API requires is missing",
    check: Some(check),
};

/// Collects the findings of one resource.
struct Checker<'a> {
    resource: &'a Resource,
    out: &'a mut Vec<Finding>,
}

impl Checker<'_> {
    /// Reports `field` of the object at `at` as missing; `hint` says what to put there.
    fn missing(&mut self, at: &FieldPath, field: &str, hint: &str) {
        let path = at.key(field);
        self.out.push(self.resource.finding(
            &RULE,
            Severity::Error,
            &path,
            format!("`{path}` is required: {hint}"),
        ));
    }

    /// Reports a missing or empty string field.
    fn text(&mut self, at: &FieldPath, field: &str, value: Option<&str>, hint: &str) {
        if value.is_none_or(str::is_empty) {
            self.missing(at, field, hint);
        }
    }

    /// Reports an empty list.
    fn list<T>(&mut self, at: &FieldPath, field: &str, items: &[T], hint: &str) {
        if items.is_empty() {
            self.missing(at, field, hint);
        }
    }
}

const RULES_HINT: &str = "add at least one rule";
const HOSTNAMES_HINT: &str = "add the hosts the route serves";
const COOKIE_TTL_HINT: &str = "the session cookie's lifetime, `0s` (a session cookie) to `86400s`";

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        let rules = root.key("rules");
        let mut c = Checker { resource, out };
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                c.list(&root, "hostnames", &route.hostnames, HOSTNAMES_HINT);
                c.list(&root, "rules", &route.rules, RULES_HINT);
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let at = rules.index(i).key("matches").index(j);
                        for (k, h) in m.headers.iter().enumerate() {
                            let hint = "the name of the header to match";
                            c.text(
                                &at.key("headers").index(k),
                                "header",
                                h.header.as_deref(),
                                hint,
                            );
                        }
                        for (k, q) in m.query_parameters.iter().enumerate() {
                            let at = at.key("queryParameters").index(k);
                            let hint = "the name of the query parameter to match";
                            c.text(&at, "queryParameter", q.query_parameter.as_deref(), hint);
                        }
                    }
                    let Some(action) = &rule.action else { continue };
                    let at = rules.index(i).key("action");
                    if let Some(affinity) = &action.stateful_session_affinity {
                        let at = at.key("statefulSessionAffinity");
                        c.text(
                            &at,
                            "cookieTtl",
                            affinity.cookie_ttl.as_deref(),
                            COOKIE_TTL_HINT,
                        );
                    }
                    if action
                        .direct_response
                        .as_ref()
                        .is_some_and(|d| d.status.is_none())
                    {
                        c.missing(
                            &at.key("directResponse"),
                            "status",
                            "the HTTP status to answer with",
                        );
                    }
                }
            }
            Spec::NsGrpcRoute(route) => {
                c.list(&root, "hostnames", &route.hostnames, HOSTNAMES_HINT);
                c.list(&root, "rules", &route.rules, RULES_HINT);
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let at = rules.index(i).key("matches").index(j);
                        if let Some(method) = &m.method {
                            let at = at.key("method");
                            let hint = "the service, e.g. `payments.v1.Payments` (a regular \
                                        expression with `type: REGULAR_EXPRESSION`)";
                            c.text(&at, "grpcService", method.grpc_service.as_deref(), hint);
                            let hint = "the method, e.g. `Refund` (`.*` with `type: \
                                        REGULAR_EXPRESSION` for every method)";
                            c.text(&at, "grpcMethod", method.grpc_method.as_deref(), hint);
                        }
                        for (k, h) in m.headers.iter().enumerate() {
                            let at = at.key("headers").index(k);
                            c.text(
                                &at,
                                "key",
                                h.key.as_deref(),
                                "the name of the header to match",
                            );
                            c.text(
                                &at,
                                "value",
                                h.value.as_deref(),
                                "the value (or pattern) to match",
                            );
                        }
                    }
                    let Some(affinity) = rule
                        .action
                        .as_ref()
                        .and_then(|a| a.stateful_session_affinity.as_ref())
                    else {
                        continue;
                    };
                    let at = rules.index(i).key("action").key("statefulSessionAffinity");
                    c.text(
                        &at,
                        "cookieTtl",
                        affinity.cookie_ttl.as_deref(),
                        COOKIE_TTL_HINT,
                    );
                }
            }
            Spec::NsTcpRoute(route) => {
                c.list(&root, "rules", &route.rules, RULES_HINT);
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let at = rules.index(i).key("matches").index(j);
                        let hint = "an IPv4 address or CIDR range, e.g. `10.0.0.0/8` (`0.0.0.0/0` for any)";
                        c.text(&at, "address", m.address.as_deref(), hint);
                        if m.port
                            .as_ref()
                            .is_none_or(|p| p.is_null() || p.as_str() == Some(""))
                        {
                            c.missing(&at, "port", "the destination port to match, e.g. `'5432'`");
                        }
                    }
                }
            }
            Spec::NsTlsRoute(route) => c.list(&root, "rules", &route.rules, RULES_HINT),
            Spec::NsGateway(gateway) => {
                let untyped = gateway
                    .gateway_type
                    .as_deref()
                    .is_none_or(|t| t.is_empty() || t == "TYPE_UNSPECIFIED");
                if untyped {
                    c.missing(&root, "type", "`OPEN_MESH` or `SECURE_WEB_GATEWAY`");
                }
                c.list(
                    &root,
                    "ports",
                    &gateway.ports,
                    "the ports the gateway listens on",
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{findings_of, ns_fixture as ns};

    #[test]
    fn complete_resources_pass() {
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- matches:\n  - headers: [{header: x-canary, exactMatch: 'yes'}]\n    queryParameters: [{queryParameter: v, presentMatch: true}]\n  action:\n    destinations: [{serviceName: ads}]\n    statefulSessionAffinity: {cookieTtl: 0s}\n- action:\n    directResponse: {status: 404}\n");
        let grpc = ns("GrpcRoute", "hostnames: [ads.internal]\nrules:\n- matches:\n  - method: {grpcService: ads.v1.Ads, grpcMethod: Get}\n    headers: [{key: x-canary, value: 'yes'}]\n  action:\n    destinations: [{serviceName: ads}]\n");
        let tcp = ns("TcpRoute", "rules:\n- matches: [{address: 10.0.0.0/8, port: '5432'}]\n  action: {originalDestination: true}\n");
        let gateway = ns("Gateway", "type: OPEN_MESH\nports: [80]\n");
        for yaml in [http, grpc, tcp, gateway] {
            assert_eq!(findings_of("MC507", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn http_route_without_hostnames_header_names_and_status() {
        let yaml = ns("HttpRoute", "rules:\n- matches:\n  - headers: [{exactMatch: 'yes'}]\n    queryParameters: [{presentMatch: true}]\n  action:\n    statefulSessionAffinity: {}\n    directResponse: {stringBody: gone}\n");
        assert_eq!(
            findings_of("MC507", &yaml),
            vec![
                "MC507 error 1:1 `hostnames` is required: add the hosts the route serves",
                "MC507 error 6:15 `rules[0].matches[0].headers[0].header` is required: the name of the header to match",
                "MC507 error 7:23 `rules[0].matches[0].queryParameters[0].queryParameter` is required: the name of the query parameter to match",
                "MC507 error 9:30 `rules[0].action.statefulSessionAffinity.cookieTtl` is required: the session cookie's lifetime, `0s` (a session cookie) to `86400s`",
                "MC507 error 10:21 `rules[0].action.directResponse.status` is required: the HTTP status to answer with",
            ]
        );
    }

    #[test]
    fn grpc_tcp_and_gateway_gaps() {
        let grpc = ns("GrpcRoute", "hostnames: [ads.internal]\nrules:\n- matches:\n  - method: {grpcService: ads.v1.Ads}\n    headers: [{key: x-canary}]\n  action:\n    destinations: [{serviceName: ads}]\n");
        assert_eq!(
            findings_of("MC507", &grpc),
            vec![
                "MC507 error 7:13 `rules[0].matches[0].method.grpcMethod` is required: the method, e.g. `Refund` (`.*` with `type: REGULAR_EXPRESSION` for every method)",
                "MC507 error 8:15 `rules[0].matches[0].headers[0].value` is required: the value (or pattern) to match",
            ]
        );
        let tcp = ns("TcpRoute", "rules:\n- matches: [{port: '5432'}, {address: 10.0.0.1}]\n  action: {originalDestination: true}\n");
        assert_eq!(
            findings_of("MC507", &tcp),
            vec![
                "MC507 error 5:13 `rules[0].matches[0].address` is required: an IPv4 address or CIDR range, e.g. `10.0.0.0/8` (`0.0.0.0/0` for any)",
                "MC507 error 5:29 `rules[0].matches[1].port` is required: the destination port to match, e.g. `'5432'`",
            ]
        );
        let empty = ns("TlsRoute", "rules: []\n");
        assert_eq!(
            findings_of("MC507", &empty),
            vec!["MC507 error 4:8 `rules` is required: add at least one rule"]
        );
        let gateway = ns("Gateway", "type: TYPE_UNSPECIFIED\nscope: edge\n");
        assert_eq!(
            findings_of("MC507", &gateway),
            vec![
                "MC507 error 1:1 `ports` is required: the ports the gateway listens on",
                "MC507 error 4:7 `type` is required: `OPEN_MESH` or `SECURE_WEB_GATEWAY`",
            ]
        );
    }
}
