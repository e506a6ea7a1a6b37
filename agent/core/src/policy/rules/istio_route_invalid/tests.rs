//! Tests of MC206 `istio-route-invalid`.

use crate::policy::findings_of;

fn mc206(yaml: &str) -> Vec<String> {
    findings_of("MC206", yaml)
}

const HEAD: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com]
";

#[test]
fn valid_actions_pass() {
    let findings = mc206(&format!(
        "{HEAD}  gateways: [istio-system/public, mesh]
  http:
  - match: [{{uri: {{prefix: /old}}}}]
    redirect: {{uri: /new, scheme: https, port: 8443, redirectCode: 301}}
  - match: [{{uri: {{prefix: /down}}}}]
    directResponse: {{status: 503, body: {{string: maintenance}}}}
    headers:
      response: {{set: {{retry-after: '60'}}}}
  - match: [{{uri: {{prefix: /api}}}}]
    rewrite: {{uriRegexRewrite: {{match: '^/api/(.*)', rewrite: '/\\1'}}, authority: api.internal}}
    fault:
      delay: {{fixedDelay: 2s, percentage: {{value: 0.5}}}}
      abort: {{grpcStatus: UNAVAILABLE, percentage: {{value: 1}}}}
    mirrors:
    - destination: {{host: shop-shadow, subset: v2, port: {{number: 8080}}}}
      percentage: {{value: 10}}
    corsPolicy:
      allowOrigins: [{{exact: 'https://shop.example.com'}}, {{regex: 'https://.*\\.example\\.com'}}]
      allowMethods: [GET, POST, '*']
      allowHeaders: [content-type, '*']
      exposeHeaders: [x-request-id]
      unmatchedPreflights: IGNORE
    headers:
      request:
        set: {{x-shop: '%HOSTNAME%'}}
        add: {{x-percent: '100%%'}}
        remove: [x-debug]
    route:
    - destination: {{host: shop, subset: v1, port: {{number: 80}}}}
      headers: {{request: {{set: {{x-route: v1}}}}}}
  - route:
    - destination: {{host: shop}}
    mirror: {{host: shop-shadow}}
    mirrorPercentage: {{value: 5}}
  - delegate: {{name: shop-rest, namespace: web}}
  tcp:
  - route:
    - destination: {{host: shop-db}}
"
    ));
    assert_eq!(findings, Vec::<String>::new());
}

#[test]
fn invalid_actions_are_errors() {
    let findings = mc206(&format!(
        "{HEAD}  gateways: [public.istio-system]
  http:
  - redirect: {{scheme: ftp, port: 8080, derivePort: FROM_REQUEST_PORT}}
  - directResponse: {{status: 700}}
    route:
    - destination: {{host: shop, subset: V_1, port: {{}}}}
  - rewrite: {{}}
    fault: {{abort: {{http2Error: x, grpcStatus: NOPE}}, delay: {{exponentialDelay: 1s, percentage: {{value: 0.00001}}}}}}
    headers:
      request: {{set: {{':path': /x}}, add: {{x-bad: '50%'}}}}
      response: {{remove: [host]}}
    mirrorPercent: 150
    route:
    - destination: {{host: shop}}
  - redirect: {{}}
    rewrite: {{authority: a.example.com}}
    headers: {{request: {{add: {{host: b.example.com}}}}}}
    mirror: {{host: shop-shadow}}
    mirrors: [{{destination: {{host: shop-shadow}}, percentage: {{value: 101}}}}]
    corsPolicy: {{allowOrigins: [{{exact: ''}}], allowMethods: [FETCH], allowHeaders: ['bad header']}}
  tls:
  - match: [{{sniHosts: [shop.example.com]}}]
"
    ));
    assert_eq!(
        findings,
        vec![
            "MC206 warning 6:14 `spec.gateways[0]` `public.istio-system` uses the old `name.namespace` form; write `istio-system/public`",
            "MC206 error 8:15 `spec.http[0].redirect` sets both `port` and `derivePort`; keep one",
            "MC206 error 8:24 `spec.http[0].redirect.scheme` is `ftp`; use `http` or `https`",
            "MC206 error 9:30 `spec.http[1].directResponse.status` is 700; it must be between 200 and 599",
            "MC206 error 11:7 `spec.http[1].route` cannot be combined with `spec.http[1].directResponse`: a direct response answers the request itself; remove one of them",
            "MC206 error 11:41 `spec.http[1].route[0].destination.subset` `V_1` is not a subset name: a DNS label (at most 63 letters, digits or `-`, starting and ending with a letter or digit)",
            "MC206 error 11:52 `spec.http[1].route[0].destination.port` has no `number`; name the port (1 to 65535)",
            "MC206 error 12:14 `spec.http[2].rewrite` rewrites nothing; set `uri`, `uriRegexRewrite` or `authority`",
            "MC206 error 13:20 `spec.http[2].fault.abort` sets more than one of `httpStatus`, `grpcStatus` and `http2Error`; keep one",
            "MC206 error 13:33 `spec.http[2].fault.abort.http2Error`: Istio does not support HTTP/2 error aborts; use `httpStatus`",
            "MC206 error 13:48 `spec.http[2].fault.abort.grpcStatus` `NOPE` is not a gRPC status; use a code name such as UNAVAILABLE or NOT_FOUND",
            "MC206 error 13:81 `spec.http[2].fault.delay.exponentialDelay`: Istio does not support exponential delays; use `fixedDelay`",
            "MC206 error 13:105 `spec.http[2].fault.delay.percentage.value` is 0.00001; Istio takes 0, or at least 0.0001 percent",
            "MC206 error 15:22 `spec.http[2].headers.request.set` changes `:path`; `:`-prefixed headers and `host` cannot be changed here (set `:authority` on the request, or use `rewrite`)",
            "MC206 error 15:50 `spec.http[2].headers.request.add.x-bad` ends with a lone `%`; write `%%` for a percent sign",
            "MC206 error 16:26 `spec.http[2].headers.response.remove` changes `host`; `:`-prefixed headers and `host` cannot be changed here (set `:authority` on the request, or use `rewrite`)",
            "MC206 error 17:20 `spec.http[2].mirrorPercent` is 150; it must be at most 100",
            "MC206 warning 17:20 `spec.http[2].mirrorPercent` is deprecated; use `mirrorPercentage: {value: 150}`",
            "MC206 error 20:5 `spec.http[3]` sets both `mirror` and `mirrors`; keep one",
            "MC206 error 20:15 `spec.http[3].redirect` changes nothing; set `uri`, `authority`, `scheme` or `port`",
            "MC206 error 22:24 `spec.http[3].headers.request` sets the authority again; set it once (in `rewrite.authority` or one header)",
            "MC206 error 24:70 `spec.http[3].mirrors[0].percentage.value` is 101; it must be between 0 and 100",
            "MC206 error 25:33 `spec.http[3].corsPolicy.allowOrigins[0]` matches nothing; give an `exact`, `prefix` or `regex` origin",
            "MC206 error 25:62 `spec.http[3].corsPolicy.allowMethods[0]` `FETCH` is not an HTTP method Istio knows (GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE, *)",
            "MC206 error 25:85 `spec.http[3].corsPolicy.allowHeaders[0]` `bad header` is not a header name (or `*`)",
            "MC206 error 27:5 `spec.tls[0]` has no `route`; say where the connections go",
        ]
    );
}

#[test]
fn a_delegate_virtual_service_has_no_gateways_or_l4_rules() {
    let findings = mc206(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-rest, namespace: web}
spec:
  gateways: [mesh]
  tcp:
  - route:
    - destination: {host: shop-db}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: empty, namespace: web}
spec:
  hosts: [empty.example.com]
",
    );
    assert_eq!(
        findings,
        vec![
            "MC206 error 5:13 `spec.gateways`: a VirtualService without `hosts` is a delegate, which has no `gateways`",
            "MC206 error 7:5 `spec.tcp`: a VirtualService without `hosts` is a delegate, which has no `tcp`",
            "MC206 error 14:3 the VirtualService has no rules; give it `http`, `tcp` or `tls` rules",
        ]
    );
}
