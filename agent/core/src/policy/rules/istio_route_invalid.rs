//! MC206 `istio-route-invalid`: a VirtualService rule's action or destination Istio's webhook
//! refuses.
//!
//! **What it does.** Checks what `http`, `tcp` and `tls` rules do, as Istio's validating webhook
//! (`validateHTTPRoute`, `validateTCPRoute`, `validateTLSRoute`) and CRD do:
//!
//! - the VirtualService has rules; one without `hosts` (a delegate) has no `gateways`, `tcp` or
//!   `tls`; `gateways` are `namespace/name` (an old `name.namespace` is a warning); a rule that
//!   delegates has no `route` or `redirect`; `tcp` and `tls` rules have a `route`;
//! - `directResponse` goes without `route`, `fault` and `rewrite`, has a `status` of 200–600 and
//!   a body (`string` or `bytes`) under 1 MB (over 100 KB is a warning);
//! - `redirect` changes something (`uri`, `authority`, `scheme`, `port` or `derivePort`; not both
//!   ports), its `scheme` is `http` or `https`, its port 1–65535;
//! - `rewrite` sets `uri` or `uriRegexRewrite` (not both) or `authority`; a regex rewrite has a
//!   valid RE2 `match` and a `rewrite`; the authority is rewritten once (not also by a header);
//! - header operations do not touch `:`-prefixed headers or `host` (except setting `:authority`
//!   or `host` on the request), and values are valid Envoy header values (`%%` for `%`);
//! - `fault` has an `abort` and/or a `delay`; an abort has one of `httpStatus`, `grpcStatus` (a
//!   gRPC code name) or `http2Error` (unsupported), a delay `fixedDelay` (`exponentialDelay` is
//!   unsupported); a percentage is 0 or at least 0.0001;
//! - `mirror` and `mirrors` are not both set; a mirror share is 0–100; the deprecated
//!   `mirrorPercent` is at most 100 (and a warning);
//! - CORS origins are non-empty matches (regexes valid), methods are HTTP methods or `*`, header
//!   names are tokens or `*`;
//! - destinations name a `port` of 1–65535 when they name one, and subsets are DNS labels.
//!
//! Ranges already covered elsewhere are not repeated: weights (MC101, MC102), redirect codes,
//! fault percentages and statuses and `mirrorPercentage` (MC503), a redirect beside a route
//! (MC501), a rule with no action (MC502), hostnames (MC204), durations (MC207), retries (MC208).
//!
//! **Why.** The API server refuses the VirtualService, so the revision cannot be applied.
//!
//! **Example.** `directResponse: {status: 503}` beside `route:`, or `redirect: {}`.

use crate::finding::Finding;
use crate::model::istio::{Destination, HttpRoute, Percent, VirtualServiceSpec};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::{is_dns_label, shown};
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC206",
    name: "istio-route-invalid",
    summary: "a VirtualService rule's action or destination is malformed",
    check: Some(check),
};

mod actions;

use actions::{cors, fault, headers, number, redirect};

const KB: usize = 1024;

fn destination(r: &mut Reporter<'_>, at: &FieldPath, d: &Destination) {
    if let Some(port) = &d.port {
        let path = at.key("port").key("number");
        match port.number {
            None | Some(0) => r.error(
                &path,
                format!(
                    "`{}` has no `number`; name the port (1 to 65535)",
                    at.key("port")
                ),
            ),
            number => r.port(&path, number, false),
        }
    }
    if let Some(subset) = &d.subset {
        if !is_dns_label(subset) {
            let path = at.key("subset");
            r.error(
                &path,
                format!(
                    "`{path}` `{}` is not a subset name: a DNS label (at most 63 letters, digits \
                     or `-`, starting and ending with a letter or digit)",
                    shown(subset)
                ),
            );
        }
    }
}

fn http_rule(r: &mut Reporter<'_>, at: &FieldPath, rule: &HttpRoute) {
    if rule.delegate.is_some() {
        for (field, set) in [
            ("route", !rule.route.is_empty()),
            ("redirect", rule.redirect.is_some()),
        ] {
            if set {
                let path = at.key(field);
                r.error(
                    &path,
                    format!("`{path}`: a rule that delegates to another VirtualService has no `{field}` of its own"),
                );
            }
        }
    }
    if rule.direct_response.is_some() && rule.redirect.is_none() {
        for (field, set) in [
            ("route", !rule.route.is_empty()),
            ("fault", rule.fault.is_some()),
            ("rewrite", rule.rewrite.is_some()),
        ] {
            if set {
                let path = at.key(field);
                r.error(
                    &path,
                    format!("`{path}` cannot be combined with `{}`: a direct response answers the request itself; remove one of them", at.key("directResponse")),
                );
            }
        }
    }
    if let Some(response) = &rule.direct_response {
        let path = at.key("directResponse");
        match response.status {
            None => r.error(&path, format!("`{path}` has no `status`")),
            Some(status) if !(200..=600).contains(&status) => {
                let p = path.key("status");
                r.error(
                    &p,
                    format!("`{p}` is {status}; it must be between 200 and 599"),
                );
            }
            _ => {}
        }
        if let Some(body) = &response.body {
            let p = path.key("body");
            let size = match (&body.string, &body.bytes) {
                (Some(_), Some(_)) => {
                    r.error(
                        &p,
                        format!("`{p}` sets both `string` and `bytes`; keep one"),
                    );
                    0
                }
                (Some(text), None) => text.len(),
                (None, Some(bytes)) => bytes.len() / 4 * 3,
                (None, None) => 0,
            };
            if size > KB * KB {
                r.error(
                    &p,
                    format!(
                        "`{p}` is about {} KB; Istio takes direct response bodies under 1 MB",
                        size / KB
                    ),
                );
            } else if size > 100 * KB {
                r.warning(
                    &p,
                    format!(
                        "`{p}` is about {} KB; bodies over 100 KB slow the control plane down",
                        size / KB
                    ),
                );
            }
        }
    }
    if let Some(value) = &rule.redirect {
        redirect(r, &at.key("redirect"), value);
    }
    if let Some(value) = &rule.fault {
        fault(r, &at.key("fault"), value);
    }
    if let Some(value) = &rule.mirror_percentage {
        r.view::<Percent>(&at.key("mirrorPercentage"), value);
    }
    if let Some(rewrite) = &rule.rewrite {
        let path = at.key("rewrite");
        let uri = rewrite.uri.as_deref().is_some_and(|u| !u.is_empty());
        match (uri, &rewrite.uri_regex_rewrite) {
            (true, Some(_)) => r.error(
                &path,
                format!("`{path}` sets both `uri` and `uriRegexRewrite`; keep one"),
            ),
            (false, None) if rewrite.authority.as_deref().unwrap_or("").is_empty() => r.error(
                &path,
                format!("`{path}` rewrites nothing; set `uri`, `uriRegexRewrite` or `authority`"),
            ),
            _ => {}
        }
        if let Some(regex) = &rewrite.uri_regex_rewrite {
            let p = path.key("uriRegexRewrite");
            match (&regex.pattern, &regex.rewrite) {
                (Some(pattern), Some(replacement))
                    if !pattern.is_empty() && !replacement.is_empty() =>
                {
                    r.regex(&p.key("match"), pattern);
                }
                _ => r.error(&p, format!("`{p}` needs both `match` and `rewrite`")),
            }
        }
    }
    let rewrites_authority = rule
        .rewrite
        .as_ref()
        .and_then(|rw| rw.authority.as_deref())
        .is_some_and(|a| !a.is_empty());
    if let Some(h) = &rule.headers {
        let request = h
            .request
            .iter()
            .flat_map(|ops| ops.set.keys().chain(ops.add.keys()));
        let authority_sets = request
            .filter(|k| k.eq_ignore_ascii_case(":authority") || k.eq_ignore_ascii_case("host"))
            .count()
            + usize::from(rewrites_authority);
        if authority_sets > 1 {
            let path = at.key("headers").key("request");
            r.error(
                &path,
                format!("`{path}` sets the authority again; set it once (in `rewrite.authority` or one header)"),
            );
        }
        headers(r, &at.key("headers"), h);
    }
    for (i, d) in rule.route.iter().enumerate() {
        let path = at.key("route").index(i);
        destination(r, &path.key("destination"), &d.destination);
        if let Some(h) = &d.headers {
            headers(r, &path.key("headers"), h);
        }
    }
    if rule.mirror.is_some() && !rule.mirrors.is_empty() {
        r.error(
            at,
            format!("`{at}` sets both `mirror` and `mirrors`; keep one"),
        );
    }
    if let Some(mirror) = &rule.mirror {
        destination(r, &at.key("mirror"), mirror);
    }
    for (i, m) in rule.mirrors.iter().enumerate() {
        let path = at.key("mirrors").index(i);
        match &m.destination {
            Some(d) => destination(r, &path.key("destination"), d),
            None => r.error(&path, format!("`{path}` has no `destination`")),
        }
        if let Some(v) = number(m.percentage.as_ref().and_then(|p| p.value.as_ref())) {
            if !(0.0..=100.0).contains(&v) {
                let p = path.key("percentage").key("value");
                r.error(&p, format!("`{p}` is {v}; it must be between 0 and 100"));
            }
        }
    }
    for (field, value) in [
        ("mirrorPercent", rule.mirror_percent),
        ("mirror_percent", rule.mirror_percent_proto),
    ] {
        if let Some(v) = value {
            let path = at.key(field);
            if v > 100 {
                r.error(&path, format!("`{path}` is {v}; it must be at most 100"));
            }
            r.warning(
                &path,
                format!("`{path}` is deprecated; use `mirrorPercentage: {{value: {v}}}`"),
            );
        }
    }
    if let Some(policy) = &rule.cors_policy {
        cors(r, &at.key("corsPolicy"), policy);
    }
}

fn virtual_service(r: &mut Reporter<'_>, spec: &FieldPath, vs: &VirtualServiceSpec) {
    if vs.http.is_empty() && vs.tcp.is_empty() && vs.tls.is_empty() {
        r.error(
            spec,
            "the VirtualService has no rules; give it `http`, `tcp` or `tls` rules",
        );
    }
    if vs.hosts.is_empty() {
        for (field, set) in [
            ("gateways", !vs.gateways.is_empty()),
            ("tls", !vs.tls.is_empty()),
            ("tcp", !vs.tcp.is_empty()),
        ] {
            if set {
                let path = spec.key(field);
                r.error(
                    &path,
                    format!("`{path}`: a VirtualService without `hosts` is a delegate, which has no `{field}`"),
                );
            }
        }
    }
    r.gateway_names(&spec.key("gateways"), &vs.gateways);
    for (i, rule) in vs.http.iter().enumerate() {
        http_rule(r, &spec.key("http").index(i), rule);
    }
    let l4 = vs
        .tcp
        .iter()
        .map(|t| ("tcp", &t.route))
        .chain(vs.tls.iter().map(|t| ("tls", &t.route)));
    let mut index = [0usize; 2];
    for (field, route) in l4 {
        let slot = usize::from(field == "tls");
        let at = spec.key(field).index(index[slot]);
        index[slot] += 1;
        if route.is_empty() {
            r.error(
                &at,
                format!("`{at}` has no `route`; say where the connections go"),
            );
        }
        for (j, d) in route.iter().enumerate() {
            destination(
                r,
                &at.key("route").index(j).key("destination"),
                &d.destination,
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
mod tests;
