//! MC207 `istio-duration-invalid`: an Istio duration that is malformed or out of range.
//!
//! **What it does.** Checks every duration of VirtualServices and DestinationRules as Istio's CRD
//! (`duration(self) >= duration('1ms')`) and webhook (`ValidateDuration`: whole milliseconds)
//! check them. A duration is Go's syntax: numbers with units `ns`, `us`, `ms`, `s`, `m`, `h`
//! (`500ms`, `1.5s`, `1h30m`). Most fields need at least 1ms in whole milliseconds: `timeout`,
//! `retries.perTryTimeout`, `retries.backoff`, `fault.delay.fixedDelay` and `exponentialDelay`,
//! and in traffic policies (top level, subsets, `portLevelSettings`) `connectTimeout`,
//! `maxConnectionDuration`, `tcpKeepalive.time` and `interval`, the HTTP pool's `idleTimeout`,
//! `outlierDetection.interval` and `baseEjectionTime`, `warmup.duration`. The TCP pool's
//! `idleTimeout` may also be `0s` (off); `warmupDurationSecs` only needs 1ms; a cookie `ttl` may
//! be any duration; CORS `maxAge` is in whole seconds.
//!
//! **Why.** The API server refuses the resource. `timeout: 0s`, often written to mean "no
//! timeout", is refused: leave the field out instead.
//!
//! **Example.** `timeout: 10` (no unit), `perTryTimeout: 500us`, `maxAge: 1.5s`.

use crate::finding::Finding;
use crate::model::istio::{
    ConnectionPoolSettings, HttpFaultInjection, HttpRoute, LoadBalancerSettings, OutlierDetection,
    TrafficPolicy,
};
use crate::model::Spec;
use crate::path::FieldPath;
use crate::policy::istio::{duration, quiet_view, Need, Reporter};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC207",
    name: "istio-duration-invalid",
    summary:
        "an Istio duration (timeout, retry, delay, connection pool...) is malformed or below 1ms",
    check: Some(check),
};

fn http_rule(r: &mut Reporter<'_>, at: &FieldPath, rule: &HttpRoute) {
    let timeout = at.key("timeout");
    match rule.timeout.as_deref() {
        Some(text) if duration::parse(text) == Some(0) => r.error(
            &timeout,
            format!(
                "`{timeout}` is `{text}`; Istio refuses a zero timeout: leave `timeout` out for \
                 no timeout"
            ),
        ),
        _ => r.duration(&timeout, rule.timeout.as_ref(), Need::Standard),
    }
    if let Some(retries) = &rule.retries {
        let path = at.key("retries");
        r.duration(
            &path.key("perTryTimeout"),
            retries.per_try_timeout.as_ref(),
            Need::Standard,
        );
        r.duration(
            &path.key("backoff"),
            retries.backoff.as_ref(),
            Need::Standard,
        );
    }
    if let Some(delay) = quiet_view::<HttpFaultInjection>(rule.fault.as_ref()).and_then(|f| f.delay)
    {
        let path = at.key("fault").key("delay");
        r.duration(
            &path.key("fixedDelay"),
            delay.fixed_delay.as_ref(),
            Need::Standard,
        );
        r.duration(
            &path.key("exponentialDelay"),
            delay.exponential_delay.as_ref(),
            Need::Standard,
        );
    }
    if let Some(cors) = &rule.cors_policy {
        r.duration(
            &at.key("corsPolicy").key("maxAge"),
            cors.max_age.as_ref(),
            Need::WholeSeconds,
        );
    }
}

fn pool(r: &mut Reporter<'_>, at: &FieldPath, pool: &ConnectionPoolSettings) {
    if let Some(tcp) = &pool.tcp {
        let path = at.key("tcp");
        r.duration(
            &path.key("connectTimeout"),
            tcp.connect_timeout.as_ref(),
            Need::Standard,
        );
        r.duration(
            &path.key("maxConnectionDuration"),
            tcp.max_connection_duration.as_ref(),
            Need::Standard,
        );
        r.duration(
            &path.key("idleTimeout"),
            tcp.idle_timeout.as_ref(),
            Need::ZeroOrStandard,
        );
        if let Some(keepalive) = &tcp.tcp_keepalive {
            let k = path.key("tcpKeepalive");
            r.duration(&k.key("time"), keepalive.time.as_ref(), Need::Standard);
            r.duration(
                &k.key("interval"),
                keepalive.interval.as_ref(),
                Need::Standard,
            );
        }
    }
    if let Some(http) = &pool.http {
        r.duration(
            &at.key("http").key("idleTimeout"),
            http.idle_timeout.as_ref(),
            Need::Standard,
        );
    }
}

fn outlier(r: &mut Reporter<'_>, at: &FieldPath, outlier: &OutlierDetection) {
    r.duration(
        &at.key("interval"),
        outlier.interval.as_ref(),
        Need::Standard,
    );
    r.duration(
        &at.key("baseEjectionTime"),
        outlier.base_ejection_time.as_ref(),
        Need::Standard,
    );
}

fn load_balancer(r: &mut Reporter<'_>, at: &FieldPath, lb: &LoadBalancerSettings) {
    r.duration(
        &at.key("warmupDurationSecs"),
        lb.warmup_duration_secs.as_ref(),
        Need::AtLeastOneMs,
    );
    if let Some(warmup) = &lb.warmup {
        r.duration(
            &at.key("warmup").key("duration"),
            warmup.duration.as_ref(),
            Need::Standard,
        );
    }
    if let Some(cookie) = lb
        .consistent_hash
        .as_ref()
        .and_then(|c| c.http_cookie.as_ref())
    {
        r.duration(
            &at.key("consistentHash").key("httpCookie").key("ttl"),
            cookie.ttl.as_ref(),
            Need::Any,
        );
    }
}

/// The durations of one traffic policy (and its per-port policies).
pub(crate) fn traffic_policy(r: &mut Reporter<'_>, at: &FieldPath, policy: &TrafficPolicy) {
    if let Some(p) = &policy.connection_pool {
        pool(r, &at.key("connectionPool"), p);
    }
    if let Some(o) = &policy.outlier_detection {
        outlier(r, &at.key("outlierDetection"), o);
    }
    if let Some(lb) = &policy.load_balancer {
        load_balancer(r, &at.key("loadBalancer"), lb);
    }
    for (i, port) in policy.port_level_settings.iter().enumerate() {
        let path = at.key("portLevelSettings").index(i);
        if let Some(p) = &port.connection_pool {
            pool(r, &path.key("connectionPool"), p);
        }
        if let Some(o) = &port.outlier_detection {
            outlier(r, &path.key("outlierDetection"), o);
        }
        if let Some(lb) = &port.load_balancer {
            load_balancer(r, &path.key("loadBalancer"), lb);
        }
    }
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for resource in ctx.resources {
        let spec = resource.spec_path();
        let mut r = Reporter::new(&RULE, resource, out);
        match &resource.spec {
            Spec::VirtualService(vs) => {
                for (i, rule) in vs.http.iter().enumerate() {
                    http_rule(&mut r, &spec.key("http").index(i), rule);
                }
            }
            Spec::DestinationRule(dr) => {
                let policies = std::iter::once((spec.key("trafficPolicy"), &dr.traffic_policy))
                    .chain(dr.subsets.iter().enumerate().map(|(i, s)| {
                        (
                            spec.key("subsets").index(i).key("trafficPolicy"),
                            &s.traffic_policy,
                        )
                    }));
                for (path, value) in policies {
                    if let Some(policy) = quiet_view::<TrafficPolicy>(value.as_ref()) {
                        traffic_policy(&mut r, &path, &policy);
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

    fn mc207(yaml: &str) -> Vec<String> {
        findings_of("MC207", yaml)
    }

    #[test]
    fn well_formed_durations_pass() {
        let findings = mc207(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop]
  http:
  - timeout: 1m30s
    retries: {attempts: 3, perTryTimeout: 1.5s, backoff: 25ms}
    fault: {delay: {fixedDelay: 100ms, percentage: {value: 1}}}
    corsPolicy: {allowOrigins: [{exact: 'https://a.example'}], maxAge: 24h}
    route:
    - destination: {host: shop}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: web}
spec:
  host: shop
  trafficPolicy:
    connectionPool:
      tcp:
        connectTimeout: 250ms
        maxConnectionDuration: 1h
        idleTimeout: 0s
        tcpKeepalive: {time: 7200s, interval: 75s, probes: 9}
      http: {idleTimeout: 5m}
    outlierDetection: {interval: 10s, baseEjectionTime: 30s}
    loadBalancer:
      consistentHash: {httpCookie: {name: session, ttl: 0s}}
      warmup: {duration: 90s}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: LEAST_REQUEST, warmupDurationSecs: 1.5ms}
",
        );
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn malformed_and_too_small_durations_are_errors() {
        let findings = mc207(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop]
  http:
  - timeout: 0s
    retries: {attempts: 3, perTryTimeout: 500us, backoff: 1.0005s}
    fault: {delay: {fixedDelay: '10', percentage: {value: 1}}}
    corsPolicy: {allowOrigins: [{exact: 'https://a.example'}], maxAge: 1500ms}
    route:
    - destination: {host: shop}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: web}
spec:
  host: shop
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      connectionPool: {tcp: {connectTimeout: 1d, idleTimeout: 500us}}
",
        );
        assert_eq!(
            findings,
            vec![
                "MC207 error 7:14 `spec.http[0].timeout` is `0s`; Istio refuses a zero timeout: leave `timeout` out for no timeout",
                "MC207 error 8:43 `spec.http[0].retries.perTryTimeout` `500us` is below 1ms; it must be at least 1ms",
                "MC207 error 8:59 `spec.http[0].retries.backoff` `1.0005s` is not a whole number of milliseconds; Istio only takes durations to the millisecond",
                "MC207 error 9:33 `spec.http[0].fault.delay.fixedDelay` `10` is not a duration: write a number and a unit (`ms`, `s`, `m`, `h`), such as `500ms`, `10s` or `1m30s`",
                "MC207 error 10:72 `spec.http[0].corsPolicy.maxAge` `1500ms` is not a whole number of seconds; this duration is only accurate to the second",
                "MC207 error 22:46 `spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.connectTimeout` `1d` is not a duration: write a number and a unit (`ms`, `s`, `m`, `h`), such as `500ms`, `10s` or `1m30s`",
                "MC207 error 22:63 `spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.idleTimeout` `500us` is below 1ms; it must be at least 1ms",
            ]
        );
    }
}
