//! MC508 `ns-oneof`: fields the service routing API takes one at a time are combined (or,
//! where one is needed, none is set).
//!
//! **What it does.** Reports:
//!
//! - an HttpRoute match with more than one of `fullPathMatch`, `prefixMatch` and `regexMatch`;
//! - an HttpRoute header match with more than one of `exactMatch`, `regexMatch`,
//!   `prefixMatch`, `presentMatch`, `suffixMatch` and `rangeMatch`;
//! - an HttpRoute query parameter match without exactly one of `exactMatch`, `regexMatch` and
//!   `presentMatch`;
//! - a `directResponse` with both `stringBody` and `bytesBody`, or in an action that also has
//!   `destinations` or a `redirect`;
//! - a GrpcRoute method match with `caseSensitive` and `type: REGULAR_EXPRESSION`.
//!
//! A `redirect` with `destinations`, or with `pathRedirect` and `prefixRewrite`, is MC501's; a
//! TcpRoute action with `destinations` and `originalDestination` is MC605's.
//!
//! **Why.** Each group is a `oneof` of the API, or documented as exclusive: the API rejects the
//! route, or keeps one of the values and drops the others without a word.
//!
//! **Example.** `matches: [{prefixMatch: /api, regexMatch: '/api/v[0-9]+'}]`: keep one; list
//! two matches to accept either.

use crate::finding::{Finding, Severity};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC508",
    name: "ns-oneof",
    summary: "networkservices fields that exclude each other are combined",
    check: Some(check),
};

/// `a`, `b` and `c` from field names.
fn listed(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The names of the fields set, among `fields`.
fn set<'a>(fields: &[(&'a str, bool)]) -> Vec<&'a str> {
    fields.iter().filter(|(_, s)| *s).map(|(f, _)| *f).collect()
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let rules = resource.spec_path().key("rules");
        let mut error = |path: FieldPath, message: String| {
            out.push(resource.finding(&RULE, Severity::Error, &path, message));
        };
        match &resource.spec {
            Spec::NsHttpRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let at = rules.index(i).key("matches").index(j);
                        let paths = set(&[
                            ("fullPathMatch", m.full_path_match.is_some()),
                            ("prefixMatch", m.prefix_match.is_some()),
                            ("regexMatch", m.regex_match.is_some()),
                        ]);
                        if paths.len() > 1 {
                            error(
                                at.key(paths[1]),
                                format!(
                                    "`{at}` sets {}: a match takes one path match; keep one, or \
                                     list one match per path to accept either",
                                    listed(&paths)
                                ),
                            );
                        }
                        for (k, h) in m.headers.iter().enumerate() {
                            let types = h.match_types();
                            if types.len() > 1 {
                                let at = at.key("headers").index(k);
                                error(
                                    at.key(types[1]),
                                    format!(
                                        "`{at}` sets {}: a header match takes one way to match \
                                         the value; keep one",
                                        listed(&types)
                                    ),
                                );
                            }
                        }
                        for (k, q) in m.query_parameters.iter().enumerate() {
                            let types = set(&[
                                ("exactMatch", q.exact_match.is_some()),
                                ("regexMatch", q.regex_match.is_some()),
                                ("presentMatch", q.present_match.is_some()),
                            ]);
                            if types.len() != 1 {
                                let at = at.key("queryParameters").index(k);
                                let found = if types.is_empty() {
                                    "none of them".to_string()
                                } else {
                                    listed(&types)
                                };
                                error(
                                    types.get(1).map_or(at.clone(), |t| at.key(t)),
                                    format!(
                                        "`{at}` needs exactly one of `exactMatch`, `regexMatch` \
                                         and `presentMatch`, and sets {found}"
                                    ),
                                );
                            }
                        }
                    }
                    let Some(action) = &rule.action else { continue };
                    let Some(direct) = &action.direct_response else {
                        continue;
                    };
                    let at = rules.index(i).key("action");
                    let direct_at = at.key("directResponse");
                    if direct.string_body.is_some() && direct.bytes_body.is_some() {
                        error(
                            direct_at.key("bytesBody"),
                            format!(
                                "`{direct_at}` sets `stringBody` and `bytesBody`: a response has \
                                 one body; keep one"
                            ),
                        );
                    }
                    let others = set(&[
                        ("destinations", !action.destinations.is_empty()),
                        ("redirect", action.redirect.is_some()),
                    ]);
                    for other in others {
                        let path = at.key(other);
                        error(
                            path.clone(),
                            format!(
                                "`{path}` cannot be combined with `{direct_at}`: a direct \
                                 response answers the request itself; remove one of them"
                            ),
                        );
                    }
                }
            }
            Spec::NsGrpcRoute(route) => {
                for (i, rule) in route.rules.iter().enumerate() {
                    for (j, m) in rule.matches.iter().enumerate() {
                        let Some(method) = &m.method else { continue };
                        let regex = method.match_type.as_deref() == Some("REGULAR_EXPRESSION");
                        if regex && method.case_sensitive.is_some() {
                            let at = rules.index(i).key("matches").index(j).key("method");
                            error(
                                at.key("caseSensitive"),
                                format!(
                                    "`{at}.caseSensitive` cannot be used with `type: \
                                     REGULAR_EXPRESSION`; remove it (write `(?i)` in the \
                                     expression to ignore case)"
                                ),
                            );
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
    use crate::policy::findings_of;

    fn http(rules: &str) -> String {
        format!("apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: ads\nhostnames: [ads.internal]\nrules:\n{rules}")
    }

    #[test]
    fn one_of_each_passes() {
        let yaml = http("- matches:\n  - prefixMatch: /api\n    headers:\n    - {header: x-v, rangeMatch: {start: 1, end: 3}}\n    queryParameters:\n    - {queryParameter: debug, presentMatch: true}\n  action:\n    destinations: [{serviceName: ads}]\n- action:\n    directResponse: {status: 404, stringBody: not here}\n");
        let grpc = "apiVersion: networkservices.googleapis.com/v1\nkind: GrpcRoute\nname: ads\nhostnames: [ads.internal]\nrules:\n- matches:\n  - method: {type: EXACT, grpcService: ads.v1.Ads, grpcMethod: Get, caseSensitive: false}\n  - method: {type: REGULAR_EXPRESSION, grpcService: 'ads\\..*', grpcMethod: '.*'}\n  action:\n    destinations: [{serviceName: ads}]\n";
        for yaml in [yaml.as_str(), grpc] {
            assert_eq!(findings_of("MC508", yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn combined_matches() {
        let yaml = http("- matches:\n  - prefixMatch: /api\n    regexMatch: /api/v[0-9]+\n    headers:\n    - {header: x-v, exactMatch: '2', prefixMatch: '2', presentMatch: true}\n    queryParameters:\n    - {queryParameter: debug}\n    - {queryParameter: v, exactMatch: '2', regexMatch: '[0-9]'}\n  action:\n    destinations: [{serviceName: ads}]\n");
        assert_eq!(
            findings_of("MC508", &yaml),
            vec![
                "MC508 error 8:17 `rules[0].matches[0]` sets `prefixMatch` and `regexMatch`: a match takes one path match; keep one, or list one match per path to accept either",
                "MC508 error 10:51 `rules[0].matches[0].headers[0]` sets `exactMatch`, `prefixMatch` and `presentMatch`: a header match takes one way to match the value; keep one",
                "MC508 error 12:7 `rules[0].matches[0].queryParameters[0]` needs exactly one of `exactMatch`, `regexMatch` and `presentMatch`, and sets none of them",
                "MC508 error 13:56 `rules[0].matches[0].queryParameters[1]` needs exactly one of `exactMatch`, `regexMatch` and `presentMatch`, and sets `exactMatch` and `regexMatch`",
            ]
        );
    }

    #[test]
    fn direct_response_with_two_bodies_or_destinations_and_grpc_regex_case() {
        let yaml = http("- action:\n    destinations: [{serviceName: ads}]\n    directResponse: {status: 200, stringBody: ok, bytesBody: b2s=}\n");
        assert_eq!(
            findings_of("MC508", &yaml),
            vec![
                "MC508 error 7:19 `rules[0].action.destinations` cannot be combined with `rules[0].action.directResponse`: a direct response answers the request itself; remove one of them",
                "MC508 error 8:62 `rules[0].action.directResponse` sets `stringBody` and `bytesBody`: a response has one body; keep one",
            ]
        );
        let grpc = "apiVersion: networkservices.googleapis.com/v1\nkind: GrpcRoute\nname: ads\nhostnames: [ads.internal]\nrules:\n- matches:\n  - method: {type: REGULAR_EXPRESSION, grpcService: 'ads\\..*', grpcMethod: '.*', caseSensitive: true}\n  action:\n    destinations: [{serviceName: ads}]\n";
        assert_eq!(
            findings_of("MC508", grpc),
            vec!["MC508 error 7:97 `rules[0].matches[0].method.caseSensitive` cannot be used with `type: REGULAR_EXPRESSION`; remove it (write `(?i)` in the expression to ignore case)"]
        );
    }
}
