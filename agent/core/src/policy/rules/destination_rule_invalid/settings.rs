//! The settings of a traffic policy MC209 checks one by one: connection pool, outlier detection
//! and upstream TLS.

use super::{not_negative, one_of, percent};
use crate::model::istio::{ClientTlsSettings, ConnectionPoolSettings, OutlierDetection};
use crate::path::FieldPath;
use crate::policy::istio::names::shown;
use crate::policy::istio::Reporter;

/// Upstream TLS modes.
const TLS_MODES: &[&str] = &["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"];
/// HTTP/2 upgrade policies.
const H2_UPGRADE: &[&str] = &["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"];
pub(super) fn connection_pool(r: &mut Reporter<'_>, at: &FieldPath, pool: &ConnectionPoolSettings) {
    if pool.tcp.is_none() && pool.http.is_none() {
        r.error(
            at,
            format!("`{at}` sets nothing; give `tcp` and/or `http` settings"),
        );
    }
    if let Some(tcp) = &pool.tcp {
        let path = at.key("tcp");
        not_negative(r, &path.key("maxConnections"), tcp.max_connections);
        if let Some(k) = &tcp.tcp_keepalive {
            not_negative(r, &path.key("tcpKeepalive").key("probes"), k.probes);
        }
    }
    if let Some(http) = &pool.http {
        let path = at.key("http");
        for (field, value) in [
            ("http1MaxPendingRequests", http.http1_max_pending_requests),
            ("http2MaxRequests", http.http2_max_requests),
            ("maxRequestsPerConnection", http.max_requests_per_connection),
            ("maxRetries", http.max_retries),
            ("maxConcurrentStreams", http.max_concurrent_streams),
        ] {
            not_negative(r, &path.key(field), value);
        }
        one_of(
            r,
            &path.key("h2UpgradePolicy"),
            http.h2_upgrade_policy.as_ref(),
            H2_UPGRADE,
        );
        if http.h2_upgrade_policy.as_deref() == Some("UPGRADE")
            && http.use_client_protocol == Some(true)
        {
            r.error(&path, format!("`{path}` sets `useClientProtocol` with the `UPGRADE` policy; they contradict each other, keep one"));
        }
    }
}

pub(super) fn outlier_detection(r: &mut Reporter<'_>, at: &FieldPath, outlier: &OutlierDetection) {
    if outlier.consecutive_errors.is_some_and(|n| n != 0) {
        let p = at.key("consecutiveErrors");
        r.warning(
            &p,
            format!(
                "`{p}` is deprecated; use `consecutiveGatewayErrors` or `consecutive5xxErrors`"
            ),
        );
    }
    if outlier.split_external_local_origin_errors != Some(true)
        && outlier
            .consecutive_local_origin_failures
            .is_some_and(|n| n > 0)
    {
        let p = at.key("consecutiveLocalOriginFailures");
        r.error(&p, format!("`{p}` only counts with `splitExternalLocalOriginErrors: true`; set it, or remove this field"));
    }
    for (field, value) in [
        ("maxEjectionPercent", outlier.max_ejection_percent),
        ("minHealthPercent", outlier.min_health_percent),
    ] {
        percent(r, &at.key(field), value.map(|v| v as f64));
    }
    for (field, value) in [
        ("consecutive5xxErrors", outlier.consecutive_5xx_errors),
        (
            "consecutiveGatewayErrors",
            outlier.consecutive_gateway_errors,
        ),
        (
            "consecutiveLocalOriginFailures",
            outlier.consecutive_local_origin_failures,
        ),
    ] {
        not_negative(r, &at.key(field), value);
    }
}

pub(super) fn tls(r: &mut Reporter<'_>, at: &FieldPath, tls: &ClientTlsSettings) {
    one_of(r, &at.key("mode"), tls.mode.as_ref(), TLS_MODES);
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let namespace = &r.resource().id.namespace;
    if let Some(rest) = tls
        .credential_name
        .as_deref()
        .and_then(|c| c.strip_prefix("configmap://"))
    {
        if let Some((ns, _)) = rest.split_once('/').filter(|(ns, _)| ns != namespace) {
            let p = at.key("credentialName");
            r.error(&p, format!("`{p}` reads a ConfigMap of namespace `{}`; a DestinationRule may only use ConfigMaps of its own namespace `{namespace}`", shown(ns)));
        }
    }
    let mode = tls.mode.as_deref().unwrap_or("DISABLE");
    if tls.insecure_skip_verify == Some(true) {
        let conflicting: Vec<&str> = [
            ("caCertificates", set(&tls.ca_certificates)),
            (
                "credentialName",
                mode == "SIMPLE" && set(&tls.credential_name),
            ),
            ("subjectAltNames", !tls.subject_alt_names.is_empty()),
        ]
        .into_iter()
        .filter(|(_, s)| *s)
        .map(|(f, _)| f)
        .collect();
        if matches!(mode, "SIMPLE" | "MUTUAL") && !conflicting.is_empty() {
            r.error(at, format!("`{at}` skips verification (`insecureSkipVerify`) yet sets {}; remove them or verify", conflicting.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")));
        }
    }
    if matches!(mode, "SIMPLE" | "MUTUAL") && set(&tls.credential_name) {
        let files = [
            ("clientCertificate", &tls.client_certificate),
            ("privateKey", &tls.private_key),
            ("caCertificates", &tls.ca_certificates),
            ("caCrl", &tls.ca_crl),
        ];
        if files.iter().any(|(_, v)| set(v)) {
            r.error(at, format!("`{at}` sets `credentialName` and certificate files; the secret holds the certificates, remove the files"));
        }
    } else if mode == "MUTUAL" {
        for (field, value) in [
            ("clientCertificate", &tls.client_certificate),
            ("privateKey", &tls.private_key),
        ] {
            if !set(value) {
                r.error(
                    at,
                    format!(
                        "`{at}` uses MUTUAL TLS without `credentialName`, so it needs `{field}`"
                    ),
                );
            }
        }
    }
}
