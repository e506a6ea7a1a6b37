//! MC209 `destination-rule-invalid`: a DestinationRule traffic policy, subset or selector Istio
//! refuses.
//!
//! **What it does.** Checks DestinationRules as Istio's CRD and webhook
//! (`ValidateDestinationRule`, `validateTrafficPolicy`, `ValidateTLS`,
//! `ValidateLocalityLbSetting`) do, for the top-level traffic policy, each subset's and each
//! `portLevelSettings` entry:
//!
//! - a traffic policy sets something, and not both `tunnel` and `proxyProtocol`; a port policy
//!   names its `port` and sets something;
//! - load balancing: `simple` (a known algorithm) or `consistentHash`, not both; one hash key
//!   (the cookie named); `ringHash` or `maglev`, not both, nor with the deprecated
//!   `minimumRingSize` (a warning on its own); a Maglev table size that is a prime below
//!   5,000,011; locality settings (`distribute` or `failover`, weights 1–100 summing to 100,
//!   localities `region/zone/subzone` with one trailing `*` at most and no overlap, failover
//!   between distinct regions, no topology label in `failoverPriority` beside `failover`, and
//!   outlier detection beside failover: a warning); a warmup `duration`, `minimumPercent` of
//!   0–100 and `aggression` of at least 1;
//! - connection pool: `tcp` and/or `http`, no negative limit, not `useClientProtocol` with the
//!   `UPGRADE` policy, a known `h2UpgradePolicy`;
//! - outlier detection: percentages 0–100; local-origin failures only with
//!   `splitExternalLocalOriginErrors`; `consecutiveErrors` is deprecated (a warning);
//! - TLS: a known `mode`; `MUTUAL` without `credentialName` has `clientCertificate` and
//!   `privateKey`; with `credentialName`, no certificate files; with `insecureSkipVerify`, no CA
//!   or subject alt names; a `configmap://` credential in the rule's namespace;
//! - `tunnel`: `CONNECT` or `POST`, a target host (FQDN or IP) and port 1–65535;
//!   `proxyProtocol.version` `V1` or `V2`; a retry budget of 0–100 percent;
//! - subsets: a unique DNS-label `name`, valid labels; `workloadSelector` labels (no `*`, no
//!   empty key; none selects every workload: a warning).
//!
//! A traffic policy of the wrong shape is a schema error (MC005) and an unknown field in it a
//! warning (MC006), as for the other fields. The host is MC204's, durations MC207's, `exportTo`
//! MC213's.
//!
//! **Why.** The API server refuses the DestinationRule, so the revision cannot be applied.
//!
//! **Example.** `loadBalancer: {consistentHash: {maglev: {tableSize: 1000}}}` (not a prime).

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Finding;
use crate::model::istio::{
    DestinationRuleSpec, LoadBalancerSettings, OutlierDetection, TrafficPolicy,
};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::names::{check_fqdn, is_dns_label, is_ip, shown};
use crate::policy::istio::Reporter;
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC209",
    name: "destination-rule-invalid",
    summary: "a DestinationRule traffic policy, subset or selector is invalid",
    check: Some(check),
};

/// Load-balancing algorithms.
const SIMPLE: &[&str] = &[
    "UNSPECIFIED",
    "LEAST_CONN",
    "RANDOM",
    "PASSTHROUGH",
    "ROUND_ROBIN",
    "LEAST_REQUEST",
];
/// Topology labels that cannot order failover beside `failover`.
const TOPOLOGY_LABELS: &[&str] = &[
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];
/// The largest Maglev table size Envoy takes, exclusive.
const MAGLEV_MAX: i64 = 5_000_011;

/// A value among `allowed`, else an error naming them.
fn one_of(r: &mut Reporter<'_>, path: &FieldPath, value: Option<&String>, allowed: &[&str]) {
    if let Some(value) = value.filter(|v| !allowed.contains(&v.as_str())) {
        r.error(
            path,
            format!(
                "`{path}` is `{}`; use one of {}",
                shown(value),
                allowed.join(", ")
            ),
        );
    }
}

fn not_negative(r: &mut Reporter<'_>, path: &FieldPath, value: Option<i64>) {
    if let Some(v) = value.filter(|v| *v < 0) {
        r.error(path, format!("`{path}` is {v}; it cannot be negative"));
    }
}

fn percent(r: &mut Reporter<'_>, path: &FieldPath, value: Option<f64>) {
    if let Some(v) = value.filter(|v| !(0.0..=100.0).contains(v)) {
        r.error(
            path,
            format!("`{path}` is {v}; it must be between 0 and 100"),
        );
    }
}

/// Envoy's primality test for Maglev table sizes.
fn is_prime(x: i64) -> bool {
    if x > 0 && x < 4 {
        return true;
    }
    if x <= 0 || x % 2 == 0 {
        return false;
    }
    let mut factor = 3;
    while factor * factor <= x {
        if x % factor == 0 {
            return false;
        }
        factor += 2;
    }
    true
}

mod locality;
mod settings;

use settings::{connection_pool, outlier_detection, tls};

fn load_balancer(
    r: &mut Reporter<'_>,
    at: &FieldPath,
    lb: &LoadBalancerSettings,
    outlier: Option<&OutlierDetection>,
) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        r.error(
            at,
            format!("`{at}` sets both `simple` and `consistentHash`; keep one"),
        );
    }
    one_of(r, &at.key("simple"), lb.simple.as_ref(), SIMPLE);
    if let Some(hash) = &lb.consistent_hash {
        let path = at.key("consistentHash");
        let keys = [
            hash.http_header_name.is_some(),
            hash.http_cookie.is_some(),
            hash.use_source_ip.is_some(),
            hash.http_query_parameter_name.is_some(),
        ];
        if keys.iter().filter(|k| **k).count() > 1 {
            r.error(&path, format!("`{path}` hashes on more than one of `httpHeaderName`, `httpCookie`, `useSourceIp` and `httpQueryParameterName`; keep one"));
        }
        if hash.ring_hash.is_some() && hash.maglev.is_some() {
            r.error(
                &path,
                format!("`{path}` sets both `ringHash` and `maglev`; keep one"),
            );
        }
        if let Some(cookie) = &hash.http_cookie {
            if cookie.name.as_deref().unwrap_or("").is_empty() {
                let p = path.key("httpCookie");
                r.error(&p, format!("`{p}` has no `name`; name the cookie"));
            }
            for (i, attribute) in cookie.attributes.iter().enumerate() {
                if attribute.name.as_deref().unwrap_or("").is_empty() {
                    let p = path.key("httpCookie").key("attributes").index(i);
                    r.error(&p, format!("`{p}` has no `name`"));
                }
            }
        }
        if let Some(size) = hash.minimum_ring_size.filter(|s| *s != 0) {
            let p = path.key("minimumRingSize");
            if hash.ring_hash.is_some() || hash.maglev.is_some() {
                r.error(&p, format!("`{p}` cannot be set beside `ringHash` or `maglev`; use `ringHash.minimumRingSize`"));
            } else {
                r.warning(
                    &p,
                    format!("`{p}` is deprecated; write `ringHash: {{minimumRingSize: {size}}}`"),
                );
            }
        }
        not_negative(r, &path.key("minimumRingSize"), hash.minimum_ring_size);
        if let Some(ring) = &hash.ring_hash {
            not_negative(
                r,
                &path.key("ringHash").key("minimumRingSize"),
                ring.minimum_ring_size,
            );
        }
        if let Some(maglev) = &hash.maglev {
            let p = path.key("maglev").key("tableSize");
            match maglev.table_size.unwrap_or(0) {
                0 => r.error(&p, format!("`{}` has no `tableSize`; give a prime below {MAGLEV_MAX} (such as 65537)", path.key("maglev"))),
                size if !(0..MAGLEV_MAX).contains(&size) => r.error(&p, format!("`{p}` is {size}; it must be below {MAGLEV_MAX}")),
                size if !is_prime(size) => r.error(&p, format!("`{p}` is {size}, which is not a prime; Maglev needs a prime (such as 65537)")),
                _ => {}
            }
        }
    }
    if let Some(locality) = &lb.locality_lb_setting {
        locality::check(r, &at.key("localityLbSetting"), locality, outlier);
    }
    if let Some(warmup) = &lb.warmup {
        let path = at.key("warmup");
        if warmup.duration.is_none() {
            r.error(&path, format!("`{path}` has no `duration`"));
        }
        percent(r, &path.key("minimumPercent"), warmup.minimum_percent);
        if let Some(a) = warmup.aggression.filter(|a| *a < 1.0) {
            let p = path.key("aggression");
            r.error(&p, format!("`{p}` is {a}; it must be at least 1"));
        }
    }
}

fn traffic_policy(r: &mut Reporter<'_>, at: &FieldPath, policy: &TrafficPolicy) {
    let empty = policy.load_balancer.is_none()
        && policy.connection_pool.is_none()
        && policy.outlier_detection.is_none()
        && policy.tls.is_none()
        && policy.port_level_settings.is_empty()
        && policy.tunnel.is_none()
        && policy.proxy_protocol.is_none()
        && policy.retry_budget.is_none();
    if empty {
        r.error(
            at,
            format!("`{at}` sets nothing; remove it or give it settings"),
        );
    }
    if policy.tunnel.is_some() && policy.proxy_protocol.is_some() {
        r.error(
            at,
            format!("`{at}` sets both `tunnel` and `proxyProtocol`; keep one"),
        );
    }
    let outlier = policy.outlier_detection.as_ref();
    if let Some(lb) = &policy.load_balancer {
        load_balancer(r, &at.key("loadBalancer"), lb, outlier);
    }
    if let Some(pool) = &policy.connection_pool {
        connection_pool(r, &at.key("connectionPool"), pool);
    }
    if let Some(o) = outlier {
        outlier_detection(r, &at.key("outlierDetection"), o);
    }
    if let Some(t) = &policy.tls {
        tls(r, &at.key("tls"), t);
    }
    for (i, port) in policy.port_level_settings.iter().enumerate() {
        let path = at.key("portLevelSettings").index(i);
        if port.port.is_none() {
            r.error(
                &path,
                format!("`{path}` has no `port`; name the port it applies to"),
            );
        }
        if port.load_balancer.is_none()
            && port.connection_pool.is_none()
            && port.outlier_detection.is_none()
            && port.tls.is_none()
        {
            r.error(
                &path,
                format!("`{path}` sets nothing for its port; give it settings or remove it"),
            );
        }
        if let Some(lb) = &port.load_balancer {
            load_balancer(
                r,
                &path.key("loadBalancer"),
                lb,
                port.outlier_detection.as_ref(),
            );
        }
        if let Some(pool) = &port.connection_pool {
            connection_pool(r, &path.key("connectionPool"), pool);
        }
        if let Some(o) = &port.outlier_detection {
            outlier_detection(r, &path.key("outlierDetection"), o);
        }
        if let Some(t) = &port.tls {
            tls(r, &path.key("tls"), t);
        }
    }
    if let Some(tunnel) = &policy.tunnel {
        let path = at.key("tunnel");
        one_of(
            r,
            &path.key("protocol"),
            tunnel.protocol.as_ref().filter(|p| !p.is_empty()),
            &["CONNECT", "POST"],
        );
        match tunnel.target_host.as_deref() {
            None | Some("") => r.error(&path, format!("`{path}` has no `targetHost`")),
            Some(host) if check_fqdn(host).is_err() && !is_ip(host) => {
                let p = path.key("targetHost");
                r.error(
                    &p,
                    format!(
                        "`{p}` `{}` is neither a fully qualified domain name nor an IP address",
                        shown(host)
                    ),
                );
            }
            _ => {}
        }
        match tunnel.target_port {
            None => r.error(&path, format!("`{path}` has no `targetPort`")),
            port => r.port(&path.key("targetPort"), port, false),
        }
    }
    if let Some(proxy) = &policy.proxy_protocol {
        one_of(
            r,
            &at.key("proxyProtocol").key("version"),
            proxy.version.as_ref(),
            &["V1", "V2"],
        );
    }
    if let Some(budget) = &policy.retry_budget {
        let path = at.key("retryBudget");
        percent(r, &path.key("percent"), budget.percent);
        not_negative(
            r,
            &path.key("minRetryConcurrency"),
            budget.min_retry_concurrency,
        );
    }
}

fn destination_rule(r: &mut Reporter<'_>, spec: &FieldPath, dr: &DestinationRuleSpec) {
    if let Some(value) = &dr.traffic_policy {
        let at = spec.key("trafficPolicy");
        if let Some(policy) = r.view::<TrafficPolicy>(&at, value) {
            traffic_policy(r, &at, &policy);
        }
    }
    let mut names = BTreeSet::new();
    for (i, subset) in dr.subsets.iter().enumerate() {
        let at = spec.key("subsets").index(i);
        if subset.name.is_empty() {
            r.error(&at, format!("`{at}` has no `name`"));
        } else if !is_dns_label(&subset.name) {
            let p = at.key("name");
            r.error(&p, format!("`{p}` `{}` is not a subset name: a DNS label (at most 63 letters, digits or `-`, starting and ending with a letter or digit)", shown(&subset.name)));
        } else if !names.insert(subset.name.as_str()) {
            let p = at.key("name");
            r.error(
                &p,
                format!(
                    "`{p}`: subset `{}` is defined twice; give each subset its own name",
                    subset.name
                ),
            );
        }
        r.labels(&at.key("labels"), &subset.labels);
        if let Some(value) = &subset.traffic_policy {
            let p = at.key("trafficPolicy");
            if let Some(policy) = r.view::<TrafficPolicy>(&p, value) {
                traffic_policy(r, &p, &policy);
            }
        }
    }
    if let Some(selector) = &dr.workload_selector {
        let labels: &BTreeMap<String, String> = &selector.match_labels;
        r.selector_labels(
            &spec.key("workloadSelector").key("matchLabels"),
            labels.iter(),
            "every workload of the namespace",
        );
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        if let Spec::DestinationRule(dr) = &resource.spec {
            let spec = resource.spec_path();
            destination_rule(&mut Reporter::new(&RULE, resource, out), &spec, dr);
        }
    }
}

#[cfg(test)]
mod tests;
