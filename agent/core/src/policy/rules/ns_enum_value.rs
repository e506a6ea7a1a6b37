//! MC509 `ns-enum-value`: a networkservices field holds a value its enumeration does not have.
//!
//! **What it does.** Checks the enumerated fields of the service routing API:
//!
//! - GrpcRoute method and header matches' `type`: `EXACT` or `REGULAR_EXPRESSION`;
//! - HttpRoute and GrpcRoute `retryPolicy.retryConditions`: the HTTP conditions (`5xx`,
//!   `gateway-error`, `reset`, `connect-failure`, `retriable-4xx`, `refused-stream`) and the
//!   gRPC ones (`cancelled`, `deadline-exceeded`, `resource-exhausted`, `unavailable`); each
//!   kind documents its own list, but the proxies take both on either kind;
//! - Mesh and Gateway `envoyHeaders`: `NONE` or `DEBUG_HEADERS`;
//! - Gateway `type`: `OPEN_MESH` or `SECURE_WEB_GATEWAY`; `ipVersion`: `IPV4` or `IPV6`;
//!   `routingMode`: `EXPLICIT_ROUTING_MODE` or `NEXT_HOP_ROUTING_MODE`.
//!
//! The `..._UNSPECIFIED` value of an enumeration stands for its default and is accepted
//! (except a Gateway's `type`, which MC507 requires). A redirect's `responseCode` is MC503's.
//!
//! **Why.** The API rejects a value outside the enumeration, so the revision would fail to
//! apply; retry conditions are the proxy's names, and a misspelled one (`5XX`,
//! `connect_failure`) would never trigger a retry.
//!
//! **Example.** `method: {type: REGEX, ...}`: write `REGULAR_EXPRESSION`.

use crate::finding::{Finding, Severity};
use crate::model::{Resource, Spec};
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC509",
    name: "ns-enum-value",
    summary: "a networkservices enumerated field has a value the API does not define",
    check: Some(check),
};

const MATCH_TYPES: &[&str] = &["TYPE_UNSPECIFIED", "EXACT", "REGULAR_EXPRESSION"];
/// Retry conditions: the HttpRoute ones and the GrpcRoute ones. The API documents each list
/// for its kind, but the proxies take either on both (a sample HttpRoute retries on
/// `unavailable`), so both kinds accept the union; a misspelling is what this catches.
const RETRY_CONDITIONS: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "cancelled",
    "deadline-exceeded",
    "resource-exhausted",
    "unavailable",
];
const ENVOY_HEADERS: &[&str] = &["ENVOY_HEADERS_UNSPECIFIED", "NONE", "DEBUG_HEADERS"];
const GATEWAY_TYPES: &[&str] = &["TYPE_UNSPECIFIED", "OPEN_MESH", "SECURE_WEB_GATEWAY"];
const IP_VERSIONS: &[&str] = &["IP_VERSION_UNSPECIFIED", "IPV4", "IPV6"];
const ROUTING_MODES: &[&str] = &["EXPLICIT_ROUTING_MODE", "NEXT_HOP_ROUTING_MODE"];

/// Reports `value` at `path` unless it is one of `allowed`.
fn value(
    resource: &Resource,
    path: &FieldPath,
    value: Option<&str>,
    allowed: &[&str],
    out: &mut Vec<Finding>,
) {
    let Some(value) = value.filter(|v| !allowed.contains(v)) else {
        return;
    };
    let listed: Vec<String> = allowed
        .iter()
        .filter(|a| !a.ends_with("_UNSPECIFIED"))
        .map(|a| format!("`{a}`"))
        .collect();
    out.push(resource.finding(
        &RULE,
        Severity::Error,
        path,
        format!("`{path}` is `{value}`; use one of {}", listed.join(", ")),
    ));
}

/// The `action.retryPolicy.retryConditions` of the rule at `rule`.
fn retry_conditions(
    resource: &Resource,
    rule: &FieldPath,
    conditions: &[String],
    out: &mut Vec<Finding>,
) {
    let at = rule.key("action").key("retryPolicy").key("retryConditions");
    for (k, condition) in conditions.iter().enumerate() {
        value(
            resource,
            &at.index(k),
            Some(condition),
            RETRY_CONDITIONS,
            out,
        );
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let root = resource.spec_path();
        let rules = root.key("rules");
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    if let Some(retry) = rule.action.as_ref().and_then(|a| a.retry_policy.as_ref())
                    {
                        retry_conditions(resource, &rules.index(i), &retry.retry_conditions, out);
                    }
                }
            }
            Spec::NsGrpcRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let at = rules.index(i).key("matches").index(j);
                        if let Some(method) = &m.method {
                            let path = at.key("method").key("type");
                            value(
                                resource,
                                &path,
                                method.match_type.as_deref(),
                                MATCH_TYPES,
                                out,
                            );
                        }
                        for (k, h) in m.headers.iter().enumerate() {
                            let path = at.key("headers").index(k).key("type");
                            value(resource, &path, h.match_type.as_deref(), MATCH_TYPES, out);
                        }
                    }
                    if let Some(retry) = rule.action.as_ref().and_then(|a| a.retry_policy.as_ref())
                    {
                        retry_conditions(resource, &rules.index(i), &retry.retry_conditions, out);
                    }
                }
            }
            Spec::NsMesh(mesh) => {
                let path = root.key("envoyHeaders");
                value(
                    resource,
                    &path,
                    mesh.envoy_headers.as_deref(),
                    ENVOY_HEADERS,
                    out,
                );
            }
            Spec::NsGateway(gateway) => {
                for (field, written, allowed) in [
                    ("type", gateway.gateway_type.as_deref(), GATEWAY_TYPES),
                    (
                        "envoyHeaders",
                        gateway.envoy_headers.as_deref(),
                        ENVOY_HEADERS,
                    ),
                    ("ipVersion", gateway.ip_version.as_deref(), IP_VERSIONS),
                    (
                        "routingMode",
                        gateway.routing_mode.as_deref(),
                        ROUTING_MODES,
                    ),
                ] {
                    let written = written.filter(|w| !w.is_empty());
                    value(resource, &root.key(field), written, allowed, out);
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
    fn defined_values_pass() {
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- action:\n    destinations: [{serviceName: ads}]\n    retryPolicy: {retryConditions: [5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream]}\n");
        let grpc = ns("GrpcRoute", "hostnames: [ads.internal]\nrules:\n- matches:\n  - method: {type: REGULAR_EXPRESSION, grpcService: '.*', grpcMethod: '.*'}\n    headers: [{type: EXACT, key: a, value: b}]\n  action:\n    destinations: [{serviceName: ads}]\n    retryPolicy: {retryConditions: [unavailable, cancelled, deadline-exceeded, resource-exhausted, 5xx]}\n");
        let mesh = ns("Mesh", "envoyHeaders: DEBUG_HEADERS\n");
        let gateway = ns("Gateway", "type: SECURE_WEB_GATEWAY\nports: [443]\nipVersion: IPV6\nenvoyHeaders: NONE\nroutingMode: NEXT_HOP_ROUTING_MODE\n");
        for yaml in [http, grpc, mesh, gateway] {
            assert_eq!(findings_of("MC509", &yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn undefined_values() {
        let grpc = ns("GrpcRoute", "hostnames: [ads.internal]\nrules:\n- matches:\n  - method: {type: REGEX, grpcService: '.*', grpcMethod: '.*'}\n    headers: [{type: PREFIX, key: a, value: b}]\n  action:\n    destinations: [{serviceName: ads}]\n    retryPolicy: {retryConditions: [connect_failure]}\n");
        assert_eq!(
            findings_of("MC509", &grpc),
            vec![
                "MC509 error 7:20 `rules[0].matches[0].method.type` is `REGEX`; use one of `EXACT`, `REGULAR_EXPRESSION`",
                "MC509 error 8:22 `rules[0].matches[0].headers[0].type` is `PREFIX`; use one of `EXACT`, `REGULAR_EXPRESSION`",
                "MC509 error 11:37 `rules[0].action.retryPolicy.retryConditions[0]` is `connect_failure`; use one of `5xx`, `gateway-error`, `reset`, `connect-failure`, `retriable-4xx`, `refused-stream`, `cancelled`, `deadline-exceeded`, `resource-exhausted`, `unavailable`",
            ]
        );
        let gateway = ns(
            "Gateway",
            "type: OPEN_MESH\nports: [80]\nipVersion: V6\nenvoyHeaders: ALL\n",
        );
        assert_eq!(
            findings_of("MC509", &gateway),
            vec![
                "MC509 error 6:12 `ipVersion` is `V6`; use one of `IPV4`, `IPV6`",
                "MC509 error 7:15 `envoyHeaders` is `ALL`; use one of `NONE`, `DEBUG_HEADERS`",
            ]
        );
        let http = ns("HttpRoute", "hostnames: [ads.internal]\nrules:\n- action:\n    destinations: [{serviceName: ads}]\n    retryPolicy: {retryConditions: [5XX]}\n");
        assert_eq!(
            findings_of("MC509", &http),
            vec!["MC509 error 8:37 `rules[0].action.retryPolicy.retryConditions[0]` is `5XX`; use one of `5xx`, `gateway-error`, `reset`, `connect-failure`, `retriable-4xx`, `refused-stream`, `cancelled`, `deadline-exceeded`, `resource-exhausted`, `unavailable`"]
        );
    }
}
