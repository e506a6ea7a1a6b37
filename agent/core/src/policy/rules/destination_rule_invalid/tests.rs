//! Tests of MC209 `destination-rule-invalid`.

use crate::policy::{check_fixture, findings_of};

fn mc209(spec: &str) -> Vec<String> {
    findings_of(
        "MC209",
        &format!(
            "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: shop, namespace: web}}
spec:
  host: shop
{spec}"
        ),
    )
}

#[test]
fn a_full_valid_destination_rule_passes() {
    let findings = mc209(
        "  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, path: /, ttl: 60s, attributes: [{name: SameSite, value: Strict}]}
        maglev: {tableSize: 65537}
      localityLbSetting:
        enabled: true
        failover: [{from: us-east, to: us-west}]
        failoverPriority: [topology.istio.io/network]
      warmup: {duration: 60s, minimumPercent: 10, aggression: 1.5}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {probes: 3, time: 7200s, interval: 75s}}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 100, maxRequestsPerConnection: 1, maxRetries: 3, h2UpgradePolicy: DO_NOT_UPGRADE, useClientProtocol: true, maxConcurrentStreams: 100}
    outlierDetection: {consecutive5xxErrors: 5, consecutiveGatewayErrors: 3, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50, minHealthPercent: 20}
    tls: {mode: MUTUAL, clientCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem, caCertificates: /etc/certs/ca.pem, sni: shop.example.com, subjectAltNames: [shop.example.com]}
    portLevelSettings:
    - port: {number: 8443}
      tls: {mode: SIMPLE, credentialName: shop-client-cert}
    - port: {number: 80}
      loadBalancer:
        simple: LEAST_REQUEST
        localityLbSetting:
          distribute: [{from: us-east/*, to: {us-east/zone1: 80, us-west/zone2: 20}}]
    retryBudget: {percent: 20, minRetryConcurrency: 3}
  subsets:
  - name: v1
    labels: {version: v1, app.kubernetes.io/name: shop}
    trafficPolicy:
      tunnel: {protocol: CONNECT, targetHost: proxy.example.com, targetPort: 3128}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {proxyProtocol: {version: V2}}
  workloadSelector:
    matchLabels: {app: shop-client}
  exportTo: ['.']
",
    );
    assert_eq!(findings, Vec::<String>::new());
}

#[test]
fn invalid_policies_are_errors() {
    let findings = mc209(
        "  trafficPolicy:
    loadBalancer:
      simple: FASTEST
      consistentHash: {httpHeaderName: x-user, useSourceIp: true, maglev: {tableSize: 1000}, minimumRingSize: 64}
      localityLbSetting: {distribute: [{from: us-east, to: {us-west: 60, eu: 30}}]}
      warmup: {minimumPercent: 120, aggression: 0.5}
    connectionPool:
      http: {maxRetries: -1, h2UpgradePolicy: UPGRADE, useClientProtocol: true}
    outlierDetection: {consecutiveLocalOriginFailures: 3, consecutiveErrors: 5, maxEjectionPercent: 150}
    tls: {mode: MUTUAL, caCertificates: /ca.pem, insecureSkipVerify: true}
    tunnel: {protocol: GET, targetHost: 'bad host', targetPort: 0}
    proxyProtocol: {version: V3}
    portLevelSettings:
    - {}
  subsets:
  - name: v1
  - name: v1
    labels: {'bad key!': v}
    trafficPolicy: {}
  - name: Version_2
  workloadSelector:
    matchLabels: {app: '*'}
",
    );
    assert_eq!(
        findings,
        vec![
            "MC209 error 7:5 `spec.trafficPolicy` sets both `tunnel` and `proxyProtocol`; keep one",
            "MC209 error 8:7 `spec.trafficPolicy.loadBalancer` sets both `simple` and `consistentHash`; keep one",
            "MC209 error 8:15 `spec.trafficPolicy.loadBalancer.simple` is `FASTEST`; use one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST",
            "MC209 error 9:23 `spec.trafficPolicy.loadBalancer.consistentHash` hashes on more than one of `httpHeaderName`, `httpCookie`, `useSourceIp` and `httpQueryParameterName`; keep one",
            "MC209 error 9:87 `spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize` is 1000, which is not a prime; Maglev needs a prime (such as 65537)",
            "MC209 error 9:111 `spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize` cannot be set beside `ringHash` or `maglev`; use `ringHash.minimumRingSize`",
            "MC209 error 10:60 `spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to` weights sum to 90; they must sum to 100",
            "MC209 error 11:15 `spec.trafficPolicy.loadBalancer.warmup` has no `duration`",
            "MC209 error 11:32 `spec.trafficPolicy.loadBalancer.warmup.minimumPercent` is 120; it must be between 0 and 100",
            "MC209 error 11:49 `spec.trafficPolicy.loadBalancer.warmup.aggression` is 0.5; it must be at least 1",
            "MC209 error 13:13 `spec.trafficPolicy.connectionPool.http` sets `useClientProtocol` with the `UPGRADE` policy; they contradict each other, keep one",
            "MC209 error 13:26 `spec.trafficPolicy.connectionPool.http.maxRetries` is -1; it cannot be negative",
            "MC209 error 14:56 `spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures` only counts with `splitExternalLocalOriginErrors: true`; set it, or remove this field",
            "MC209 warning 14:78 `spec.trafficPolicy.outlierDetection.consecutiveErrors` is deprecated; use `consecutiveGatewayErrors` or `consecutive5xxErrors`",
            "MC209 error 14:101 `spec.trafficPolicy.outlierDetection.maxEjectionPercent` is 150; it must be between 0 and 100",
            "MC209 error 15:10 `spec.trafficPolicy.tls` skips verification (`insecureSkipVerify`) yet sets `caCertificates`; remove them or verify",
            "MC209 error 15:10 `spec.trafficPolicy.tls` uses MUTUAL TLS without `credentialName`, so it needs `clientCertificate`",
            "MC209 error 15:10 `spec.trafficPolicy.tls` uses MUTUAL TLS without `credentialName`, so it needs `privateKey`",
            "MC209 error 16:24 `spec.trafficPolicy.tunnel.protocol` is `GET`; use one of CONNECT, POST",
            "MC209 error 16:41 `spec.trafficPolicy.tunnel.targetHost` `bad host` is neither a fully qualified domain name nor an IP address",
            "MC209 error 16:65 `spec.trafficPolicy.tunnel.targetPort` is 0; a port number must be between 1 and 65535",
            "MC209 error 17:30 `spec.trafficPolicy.proxyProtocol.version` is `V3`; use one of V1, V2",
            "MC209 error 19:7 `spec.trafficPolicy.portLevelSettings[0]` has no `port`; name the port it applies to",
            "MC209 error 19:7 `spec.trafficPolicy.portLevelSettings[0]` sets nothing for its port; give it settings or remove it",
            "MC209 error 22:11 `spec.subsets[1].name`: subset `v1` is defined twice; give each subset its own name",
            "MC209 error 23:26 `spec.subsets[1].labels`: label key `bad key!` is invalid: the name must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit",
            "MC209 error 24:20 `spec.subsets[1].trafficPolicy` sets nothing; remove it or give it settings",
            "MC209 error 25:11 `spec.subsets[2].name` `Version_2` is not a subset name: a DNS label (at most 63 letters, digits or `-`, starting and ending with a letter or digit)",
            "MC209 error 27:24 `spec.workloadSelector.matchLabels.app`: a selector cannot use `*`; name the labels exactly",
        ]
    );
}

#[test]
fn a_traffic_policy_of_the_wrong_shape_or_with_a_typo() {
    let findings: Vec<String> = check_fixture(
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: shop, namespace: web}
spec:
  host: shop
  trafficPolicy:
    connectionPool: {tcp: {maxConections: 10}}
  subsets:
  - name: v1
    trafficPolicy: {tls: {mode: [SIMPLE]}}
",
    )
    .into_iter()
    .filter(|f| f.starts_with("MC005 ") || f.starts_with("MC006 ") || f.starts_with("MC209 "))
    .collect();
    assert_eq!(
        findings,
        vec![
            "MC006 warning 7:28 unknown field `spec.trafficPolicy.connectionPool.tcp.maxConections` is ignored (misspelled?)",
            "MC005 error 10:33 `spec.subsets[0].trafficPolicy.tls.mode`: invalid type: sequence, expected a string",
        ]
    );
}
