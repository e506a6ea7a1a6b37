//! MC201 `host-conflict`: two routes claim the same hostname where the same clients see both.
//!
//! **What it does.** Compares the hostnames of every pair of routes whose scopes meet (the same
//! mesh, the same gateway, or Istio's `mesh`/`external-mesh`, which meet every mesh), across
//! families: an Istio VirtualService on `mesh` and a networkservices HttpRoute on a Mesh that
//! claim `reviews.prod.svc.cluster.local` conflict. Hostnames are compared exactly after
//! lowercasing, with Istio short hosts expanded to their FQDN in the VirtualService's namespace:
//! two `*.bar.com` conflict, `*.foo.bar.com` beside `*.bar.com` does not. HTTP and gRPC routes
//! conflict with each other; TLS routes (SNI hosts) with TLS routes. An Istio VirtualService's
//! hosts count as HTTP hosts, and as TLS hosts too when it has `tls` rules.
//!
//! Each later route (in file order) is reported once per hostname, naming the first route that
//! claimed it. The same hostname twice in one route's list is a warning (for a VirtualService
//! whose two entries overlap as written, MC204 reports Istio's refusal instead).
//!
//! Istio VirtualServices only conflict where a namespace sees both, as `exportTo` says (none or
//! `*`: every namespace; `.`: their own; names; `~`: none), as istioctl's IST0109
//! (ConflictingMeshGatewayVirtualServiceHosts) decides: `exportTo: [.]` in two namespaces never
//! conflict. On the mesh, a host limited to some namespaces also conflicts with an overlapping
//! wildcard host exported to every namespace (`*.productpage.d` in `foo` with `exportTo: [.]`,
//! and `*.d` exported everywhere: namespace `foo` sees both). Like istioctl, two hosts exported
//! to every namespace conflict only when equal, and two namespace-limited hosts only when equal
//! in a namespace both reach. Overlaps are found through a suffix index of the hostnames, not by
//! comparing every pair. `exportTo` only limits the mesh: VirtualServices for `external-mesh`
//! clients (which ignore it) still conflict there.
//!
//! Scopes meet as [`crate::ir::Scope::meets`] says, with two refinements: a gateway is the
//! same gateway only within one family (an Istio Gateway `web` is not a networkservices Gateway
//! `web`), and networkservices Gateways that share a `scope` count as one, since they merge.
//!
//! Not conflicts: Gateway API routes that share a hostname on the same parent (the spec merges
//! their rules by precedence), and Istio VirtualServices on the same Istio gateway (Istio merges
//! those; only on `mesh` is it IST0109).
//!
//! **Why.** networkservices rejects a second route with the same hostname on a Mesh; Istio
//! picks one VirtualService and ignores the other (istioctl IST0109); across families the
//! outcome depends on which control plane answers. Either way, half of the rules silently do
//! nothing.
//!
//! **Example.**
//!
//! ```yaml
//! # a.yaml
//! kind: HttpRoute
//! name: reviews
//! hostnames: [reviews.internal]
//! meshes: [projects/p/locations/global/meshes/m]
//! ---
//! # b.yaml
//! kind: HttpRoute
//! name: reviews-canary
//! hostnames: [reviews.internal]   # MC201: also claimed by HttpRoute/reviews
//! meshes: [projects/p/locations/global/meshes/m]
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::finding::{Finding, Severity};
use crate::ir::{Located, RouteIr, Scope};
use crate::model::{Family, Kind, Spec};
use crate::policy::istio::names::shown;
use crate::policy::istio::visibility::{hosts_overlap, HostIndex, Visibility};
use crate::policy::{Context, Rule};

/// The rule.
pub const RULE: Rule = Rule {
    code: "MC201",
    name: "host-conflict",
    summary: "two routes claim the same hostname in scopes that meet",
    check: Some(check),
};

/// Which hostnames can collide: HTTP-ish (HTTP and gRPC) hosts, or TLS SNI hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Http,
    Tls,
}

/// A route's hostnames, normalized and deduplicated (first occurrence kept), with its classes
/// and, for a VirtualService, its `exportTo` visibility.
struct Claims<'r, 'a> {
    route: &'r RouteIr<'a>,
    classes: BTreeSet<Class>,
    hosts: Vec<Located<String>>,
    visibility: Option<Visibility>,
}

fn classes(route: &RouteIr<'_>) -> BTreeSet<Class> {
    let mut classes = BTreeSet::new();
    match (&route.resource.id.kind, &route.resource.spec) {
        (Kind::NsHttpRoute | Kind::NsGrpcRoute | Kind::GwHttpRoute | Kind::GwGrpcRoute, _) => {
            classes.insert(Class::Http);
        }
        (Kind::NsTlsRoute | Kind::GwTlsRoute, _) => {
            classes.insert(Class::Tls);
        }
        (Kind::VirtualService, Spec::VirtualService(vs)) => {
            classes.insert(Class::Http);
            if !vs.tls.is_empty() {
                classes.insert(Class::Tls);
            }
        }
        _ => {}
    }
    classes
}

/// True when a TlsRoute may list one SNI host in several rules (with different ALPN, say).
fn repeats_allowed(route: &RouteIr<'_>) -> bool {
    route.resource.id.kind == Kind::NsTlsRoute
}

fn describe(scope: &Scope) -> String {
    match scope {
        Scope::Mesh(Some(mesh)) => format!("mesh `{mesh}`"),
        Scope::Mesh(None) => "the mesh".to_string(),
        Scope::ExternalMesh => "external-mesh".to_string(),
        Scope::Gateway(gateway) => format!("gateway `{gateway}`"),
    }
}

/// The `scope` of each networkservices Gateway the repository declares, by short name.
type GatewayScopes = BTreeMap<String, String>;

fn gateway_scopes(ctx: &Context<'_>) -> GatewayScopes {
    ctx.of_kind(Kind::NsGateway)
        .filter_map(|r| match &r.spec {
            Spec::NsGateway(gateway) => gateway
                .scope
                .clone()
                .map(|scope| (r.id.name.clone(), scope)),
            _ => None,
        })
        .collect()
}

/// Where the two routes' hostnames collide, in words, if anywhere.
///
/// Scopes meet as [`Scope::meets`] says, with two refinements: a gateway is only the same
/// gateway within one family (an Istio Gateway `web` is not a networkservices Gateway `web`),
/// and networkservices Gateways of one `scope` count as one. Routes the API merges instead of
/// rejecting are skipped: Gateway API routes on the same parent, and Istio VirtualServices on
/// the same gateway (Istio merges those; only `mesh` conflicts, IST0109).
///
/// `mesh` says, for each route, whether its `mesh` scope (`Scope::Mesh(None)`) counts: an Istio
/// VirtualService's does only where `exportTo` lets a namespace see both routes. The answer's
/// flag says whether the scopes met on the mesh.
fn shared_scope(
    earlier: &RouteIr<'_>,
    later: &RouteIr<'_>,
    mesh: (bool, bool),
    gateway_scopes: &GatewayScopes,
) -> Option<(String, bool)> {
    let family = earlier.resource.id.kind.family();
    let same_family = family == later.resource.id.kind.family();
    let counts = |scope: &Scope, ok: bool| ok || *scope != Scope::Mesh(None);
    for a in earlier.scopes.iter().filter(|a| counts(a, mesh.0)) {
        for b in later.scopes.iter().filter(|b| counts(b, mesh.1)) {
            let (meet, merged_scope) = match (a, b) {
                (Scope::Gateway(x), Scope::Gateway(y)) if same_family && x == y => (true, None),
                (Scope::Gateway(x), Scope::Gateway(y))
                    if same_family && family == Family::NetworkServices =>
                {
                    match (gateway_scopes.get(x), gateway_scopes.get(y)) {
                        (Some(sx), Some(sy)) if sx == sy => (true, Some(sx)),
                        _ => (false, None),
                    }
                }
                (Scope::Gateway(_), Scope::Gateway(_)) => (false, None),
                _ => (a.meets(b), None),
            };
            if !meet {
                continue;
            }
            let merged = a == b
                && same_family
                && (family == Family::GatewayApi
                    || (family == Family::Istio && matches!(a, Scope::Gateway(_))));
            if merged {
                continue;
            }
            let text = match (a, b, merged_scope) {
                (Scope::Gateway(x), Scope::Gateway(y), Some(scope)) => {
                    format!("gateways `{x}` and `{y}` (both of scope `{scope}`)")
                }
                (Scope::Mesh(None) | Scope::ExternalMesh, Scope::Mesh(Some(_)), _) => describe(b),
                _ => describe(a),
            };
            let on_mesh = *a == Scope::Mesh(None) || *b == Scope::Mesh(None);
            return Some((text, on_mesh));
        }
    }
    None
}

/// An Istio VirtualService's visibility, or `None` for other kinds (visible wherever their
/// scope reaches).
fn visibility(route: &RouteIr<'_>) -> Option<Visibility> {
    match &route.resource.spec {
        Spec::VirtualService(vs) => {
            Some(Visibility::of(&vs.export_to, &route.resource.id.namespace))
        }
        _ => None,
    }
}

/// Whether each route's mesh scope counts against the other's, as `exportTo` says: two
/// VirtualServices need a namespace that sees both; a VirtualService hidden everywhere (`~`)
/// reaches no one on the mesh. (`external-mesh` clients and gateways ignore `exportTo`.)
fn mesh_counts(a: Option<&Visibility>, b: Option<&Visibility>) -> (bool, bool) {
    let reaches =
        |v: Option<&Visibility>| !matches!(v, Some(Visibility::Namespaces(set)) if set.is_empty());
    match (a, b) {
        (Some(a), Some(b)) => (a.meets(b), a.meets(b)),
        _ => (reaches(a), reaches(b)),
    }
}

/// True when a route is an Istio VirtualService bound to the mesh.
fn on_istio_mesh(route: &RouteIr<'_>) -> bool {
    route.resource.id.kind == Kind::VirtualService && route.scopes.contains(&Scope::Mesh(None))
}

fn check(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let gateway_scopes = gateway_scopes(ctx);
    let mut claims: Vec<Claims<'_, '_>> = Vec::new();
    for route in &ctx.routes {
        let raw: &[String] = match &route.resource.spec {
            Spec::VirtualService(vs) => &vs.hosts,
            _ => &[],
        };
        let mut seen: Vec<(usize, &Located<String>)> = Vec::new();
        let mut hosts = Vec::new();
        for (i, host) in route.hosts.iter().enumerate() {
            let normalized = host.value.trim().to_ascii_lowercase();
            if let Some((j, first)) = seen
                .iter()
                .find(|(_, s)| s.value.trim().eq_ignore_ascii_case(&normalized))
            {
                // Hosts of one VirtualService that overlap as written are refused by Istio's
                // webhook: MC204 reports those.
                let refused =
                    matches!((raw.get(*j), raw.get(i)), (Some(a), Some(b)) if hosts_overlap(a, b));
                if !repeats_allowed(route) && !refused {
                    out.push(route.resource.finding(
                        &RULE,
                        Severity::Warning,
                        &host.path,
                        format!(
                            "hostname `{}` is listed twice in this route (first at \
                             `{}`); remove the duplicate",
                            shown(&normalized),
                            first.path
                        ),
                    ));
                }
                continue;
            }
            seen.push((i, host));
            hosts.push(Located {
                value: normalized,
                path: host.path.clone(),
            });
        }
        claims.push(Claims {
            route,
            classes: classes(route),
            hosts,
            visibility: visibility(route),
        });
    }

    // Index claims by hostname, so each host is compared only with the routes that claim it
    // (linear in the number of routes, not quadratic).
    let mut by_host: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, claim) in claims.iter().enumerate() {
        for host in &claim.hosts {
            by_host.entry(host.value.as_str()).or_default().push(i);
        }
    }
    // Istio VirtualServices on the mesh, by visibility, for wildcard overlaps (istioctl IST0109
    // reports a namespace-limited host overlapping a host exported to every namespace).
    let mut mesh_hosts: Vec<(usize, usize)> = Vec::new();
    let mut to_all = HostIndex::default();
    let mut to_some = HostIndex::default();
    for (i, claim) in claims.iter().enumerate() {
        if !on_istio_mesh(claim.route) {
            continue;
        }
        for (h, host) in claim.hosts.iter().enumerate() {
            let index = match &claim.visibility {
                Some(Visibility::All) => &mut to_all,
                Some(Visibility::Namespaces(set)) if !set.is_empty() => &mut to_some,
                _ => continue,
            };
            index.insert(mesh_hosts.len(), host.value.as_str());
            mesh_hosts.push((i, h));
        }
    }
    for (i, later) in claims.iter().enumerate() {
        for host in &later.hosts {
            let candidates = by_host
                .get(host.value.as_str())
                .map_or(&[][..], Vec::as_slice);
            let conflict = candidates.iter().take_while(|&&j| j < i).find_map(|&j| {
                let earlier = &claims[j];
                if earlier.classes.is_disjoint(&later.classes) {
                    return None;
                }
                let (a, b) = (earlier.visibility.as_ref(), later.visibility.as_ref());
                let first = earlier.hosts.iter().find(|h| h.value == host.value)?;
                let (scope, on_mesh) = shared_scope(
                    earlier.route,
                    later.route,
                    mesh_counts(a, b),
                    &gateway_scopes,
                )?;
                let together = match a.zip(b).and_then(|(a, b)| a.common(b)) {
                    Some(ns) if on_mesh => format!(" (both visible in namespace `{ns}`)"),
                    _ => String::new(),
                };
                Some((earlier, first, format!("{scope}{together}")))
            });
            if let Some((earlier, first, scope)) = conflict {
                let at = earlier.route.resource.locate(&first.path);
                out.push(later.route.resource.finding(
                    &RULE,
                    Severity::Error,
                    &host.path,
                    format!(
                        "hostname `{}` is also claimed by {} ({}:{}) on {scope}; clients would \
                         get only one route's rules. Serve each hostname from one route, or \
                         attach the routes to different meshes or gateways",
                        shown(&host.value),
                        earlier.route.resource.id,
                        at.file,
                        at.pos.line,
                    ),
                ));
                continue;
            }
            if !on_istio_mesh(later.route) {
                continue;
            }
            let opposite = match &later.visibility {
                Some(Visibility::All) => &to_some,
                Some(Visibility::Namespaces(set)) if !set.is_empty() => &to_all,
                _ => continue,
            };
            let overlap = opposite
                .overlapping(&host.value)
                .into_iter()
                .map(|id| mesh_hosts[id])
                .filter(|&(j, _)| j < i)
                .find_map(|(j, h)| {
                    let earlier = &claims[j];
                    let other = &earlier.hosts[h];
                    (other.value != host.value && !earlier.classes.is_disjoint(&later.classes))
                        .then_some((earlier, other))
                });
            let Some((earlier, other)) = overlap else {
                continue;
            };
            let namespace = earlier
                .visibility
                .as_ref()
                .zip(later.visibility.as_ref())
                .and_then(|(a, b)| a.common(b))
                .unwrap_or("");
            let at = earlier.route.resource.locate(&other.path);
            out.push(later.route.resource.finding(
                &RULE,
                Severity::Error,
                &host.path,
                format!(
                    "hostname `{}` overlaps `{}` of {} ({}:{}) on the mesh, and both are \
                     visible in namespace `{namespace}`; sidecars there would get only one \
                     route's rules for the hosts both match. Make the hostnames distinct, or \
                     narrow `exportTo` so no namespace sees both",
                    shown(&host.value),
                    shown(&other.value),
                    earlier.route.resource.id,
                    at.file,
                    at.pos.line,
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{check_fixture, check_fixtures};

    /// This rule's lines only: other rules' findings on the same fixture are theirs to test.
    fn only(lines: Vec<String>) -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| l.starts_with("MC201 "))
            .collect()
    }

    const NS_ROUTE: &str = "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: reviews
hostnames: ['*.bar.com', reviews.prod.svc.cluster.local]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/reviews
";

    #[test]
    fn distinct_hosts_and_separate_scopes_pass() {
        let findings = only(check_fixture(
            "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: foo
hostnames: ['*.foo.bar.com']
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/foo
---
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: bar
hostnames: ['*.bar.com']
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/bar
---
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: bar-other-mesh
hostnames: ['*.bar.com']
meshes: [projects/p/locations/global/meshes/other]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/bar
",
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn same_wildcard_on_one_mesh_conflicts() {
        let findings = only(check_fixtures(&[
            ("a.yaml", NS_ROUTE),
            (
                "b.yaml",
                "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: bar
hostnames: ['*.BAR.com']
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/bar
",
            ),
        ]));
        assert_eq!(
            findings,
            vec!["MC201 error b.yaml:4:13 hostname `*.bar.com` is also claimed by HttpRoute/reviews (a.yaml:4) on mesh `m`; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    #[test]
    fn istio_short_host_conflicts_with_a_networkservices_route_across_families() {
        let findings = only(check_fixtures(&[
            ("a.yaml", NS_ROUTE),
            (
                "b.yaml",
                "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  gateways: [external-mesh]
  http:
  - route:
    - destination: {host: reviews}
",
            ),
        ]));
        assert_eq!(
            findings,
            vec!["MC201 error b.yaml:5:11 hostname `reviews.prod.svc.cluster.local` is also claimed by HttpRoute/reviews (a.yaml:4) on mesh `m`; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    #[test]
    fn every_later_route_names_the_first() {
        let vs = |name: &str| {
            format!(
                "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: prod}}
spec:
  hosts: [ratings.prod.svc.cluster.local]
  http:
  - route:
    - destination: {{host: ratings}}
"
            )
        };
        let findings = only(check_fixture(&format!(
            "{}---\n{}---\n{}",
            vs("ratings"),
            vs("ratings-v2"),
            vs("ratings-v3")
        )));
        assert_eq!(
            findings,
            vec![
                "MC201 error 14:11 hostname `ratings.prod.svc.cluster.local` is also claimed by VirtualService/prod/ratings (fixture.yaml:5) on the mesh; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways",
                "MC201 error 23:11 hostname `ratings.prod.svc.cluster.local` is also claimed by VirtualService/prod/ratings (fixture.yaml:5) on the mesh; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways",
            ]
        );
    }

    #[test]
    fn gateway_api_routes_on_one_parent_merge() {
        let findings = only(check_fixture(
            "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: web}]
  hostnames: [store.example.com]
  rules:
  - backendRefs: [{name: store-v1}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store-beta, namespace: shop}
spec:
  parentRefs: [{name: web}]
  hostnames: [store.example.com]
  rules:
  - matches: [{path: {value: /beta}}]
    backendRefs: [{name: store-v2}]
",
        ));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn a_mesh_gateway_api_route_conflicts_with_an_istio_route() {
        let findings = only(check_fixture(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: store, namespace: shop}
spec:
  hosts: [store]
  http:
  - route:
    - destination: {host: store}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: store-gamma, namespace: shop}
spec:
  parentRefs: [{kind: Service, group: '', name: store}]
  hostnames: [store.shop.svc.cluster.local]
  rules:
  - backendRefs: [{name: store-v2}]
",
        ));
        assert_eq!(
            findings,
            vec!["MC201 error 15:15 hostname `store.shop.svc.cluster.local` is also claimed by VirtualService/shop/store (fixture.yaml:5) on the mesh; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    #[test]
    fn tls_hosts_do_not_conflict_with_http_hosts() {
        let findings = only(check_fixture(
            "apiVersion: networkservices.googleapis.com/v1
kind: TlsRoute
name: db
meshes: [projects/p/locations/global/meshes/m]
rules:
- matches: [{sniHost: [db.internal], alpn: [h2]}]
  action: {destinations: [{serviceName: projects/p/locations/global/backendServices/db}]}
- matches: [{sniHost: [db.internal]}]
  action: {destinations: [{serviceName: projects/p/locations/global/backendServices/db}]}
---
apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: db-ui
hostnames: [db.internal]
meshes: [projects/p/locations/global/meshes/m]
rules:
- action:
    destinations:
    - serviceName: projects/p/locations/global/backendServices/db-ui
---
apiVersion: networkservices.googleapis.com/v1
kind: TlsRoute
name: db-replica
meshes: [projects/p/locations/global/meshes/m]
rules:
- matches: [{sniHost: [db.internal]}]
  action: {destinations: [{serviceName: projects/p/locations/global/backendServices/db}]}
",
        ));
        assert_eq!(
            findings,
            vec!["MC201 error 26:24 hostname `db.internal` is also claimed by TlsRoute/db (fixture.yaml:6) on mesh `m`; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    #[test]
    fn the_same_host_twice_in_one_route_is_a_warning() {
        let findings = only(check_fixture(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews, Reviews.prod.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews}
",
        ));
        assert_eq!(
            findings,
            vec!["MC201 warning 5:20 hostname `reviews.prod.svc.cluster.local` is listed twice in this route (first at `spec.hosts[0]`); remove the duplicate"]
        );
    }
    #[test]
    fn istio_routes_on_one_gateway_merge_but_not_on_the_mesh() {
        let findings = only(check_fixture(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http:
  - match: [{uri: {prefix: /cart}}]
    route:
    - destination: {host: cart}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-catalog, namespace: web}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public, mesh]
  http:
  - route:
    - destination: {host: catalog}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-internal, namespace: web}
spec:
  hosts: [shop.example.com]
  http:
  - route:
    - destination: {host: catalog}
",
        ));
        assert_eq!(
            findings,
            vec!["MC201 error 26:11 hostname `shop.example.com` is also claimed by VirtualService/web/shop-catalog (fixture.yaml:16) on the mesh; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    #[test]
    fn networkservices_gateways_of_one_scope_are_one_scope() {
        let route = |name: &str, gateway: &str| {
            format!(
                "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: {name}
hostnames: [api.example.com]
gateways: [projects/p/locations/global/gateways/{gateway}]
rules:
- action: {{destinations: [{{serviceName: projects/p/locations/global/backendServices/api}}]}}
---
"
            )
        };
        let gateway = |name: &str, scope: &str| {
            format!(
                "apiVersion: networkservices.googleapis.com/v1
kind: Gateway
name: {name}
type: OPEN_MESH
ports: [80]
scope: {scope}
---
"
            )
        };
        let findings = only(check_fixture(&format!(
            "{}{}{}{}{}{}",
            gateway("edge-a", "edge"),
            gateway("edge-b", "edge"),
            gateway("internal", "internal"),
            route("api-a", "edge-a"),
            route("api-b", "edge-b"),
            route("api-internal", "internal"),
        )));
        assert_eq!(
            findings,
            vec!["MC201 error 33:13 hostname `api.example.com` is also claimed by HttpRoute/api-a (fixture.yaml:25) on gateways `edge-a` and `edge-b` (both of scope `edge`); clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    fn vs(name: &str, namespace: &str, host: &str, export_to: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  hosts: ['{host}']
  exportTo: {export_to}
  http:
  - route:
    - destination: {{host: productpage}}
---
"
        )
    }

    #[test]
    fn export_to_keeps_virtual_services_apart() {
        let findings = only(check_fixture(&format!(
            "{}{}{}{}",
            vs(
                "ratings",
                "team1",
                "ratings.shared.svc.cluster.local",
                "['.']"
            ),
            vs(
                "ratings",
                "team2",
                "ratings.shared.svc.cluster.local",
                "['.']"
            ),
            vs(
                "ratings-foo",
                "bar",
                "ratings.shared.svc.cluster.local",
                "[foo]"
            ),
            vs(
                "ratings-hidden",
                "team1",
                "ratings.shared.svc.cluster.local",
                "['~']"
            ),
        )));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn a_namespace_that_sees_both_makes_a_conflict() {
        let findings = only(check_fixture(&format!(
            "{}{}",
            vs(
                "ratings",
                "foo",
                "ratings.shared.svc.cluster.local",
                "['.']"
            ),
            vs(
                "ratings-for-foo",
                "bar",
                "ratings.shared.svc.cluster.local",
                "[foo]"
            ),
        )));
        assert_eq!(
            findings,
            vec!["MC201 error 15:11 hostname `ratings.shared.svc.cluster.local` is also claimed by VirtualService/foo/ratings (fixture.yaml:5) on the mesh (both visible in namespace `foo`); clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }

    /// istioctl's own case (`virtualservice_conflictingmeshgatewayhosts_with_exportto.yaml`):
    /// it reports both routes of pairs a, c and d; meshcd reports the later of each pair.
    #[test]
    fn wildcards_overlap_as_istioctl_reports_them() {
        let findings = only(check_fixture(&format!(
            "{}{}{}{}{}{}{}{}",
            vs("productpage", "foo", "*.productpage", "['*']"),
            vs("productpage", "bar", "*.productpage", "['*']"),
            vs("productpage-b", "foo", "*.productpage.b", "[foo]"),
            vs("productpage-b", "bar", "*.productpage.b", "['.']"),
            vs("productpage-c", "foo", "*.productpage.c", "[foo]"),
            vs("productpage-c", "bar", "*.productpage.c", "['*']"),
            vs("productpage-d", "foo", "*.productpage.d", "['.']"),
            vs("productpage-d", "bar", "*.d", "['*']"),
        )));
        let tail = "clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways";
        assert_eq!(
            findings,
            vec![
                format!("MC201 error 15:11 hostname `*.productpage` is also claimed by VirtualService/foo/productpage (fixture.yaml:5) on the mesh; {tail}"),
                format!("MC201 error 55:11 hostname `*.productpage.c` is also claimed by VirtualService/foo/productpage-c (fixture.yaml:45) on the mesh (both visible in namespace `foo`); {tail}"),
                "MC201 error 75:11 hostname `*.d` overlaps `*.productpage.d` of VirtualService/foo/productpage-d (fixture.yaml:65) on the mesh, and both are visible in namespace `foo`; sidecars there would get only one route's rules for the hosts both match. Make the hostnames distinct, or narrow `exportTo` so no namespace sees both".to_string(),
            ]
        );
    }

    #[test]
    fn wildcards_exported_everywhere_conflict_only_when_equal() {
        let findings = only(check_fixture(&format!(
            "{}{}",
            vs("all", "foo", "*.example.com", "['*']"),
            vs("api", "bar", "api.example.com", "['*']"),
        )));
        assert_eq!(findings, Vec::<String>::new());
    }

    #[test]
    fn external_mesh_clients_ignore_export_to() {
        let external = |name: &str, namespace: &str| {
            format!(
                "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  hosts: [ads.ads.svc.cluster.local]
  gateways: [external-mesh, mesh]
  exportTo: ['.']
  http:
  - route:
    - destination: {{host: ads.ads.svc.cluster.local}}
---
"
            )
        };
        let findings = only(check_fixture(&format!(
            "{}{}",
            external("ads", "ads"),
            external("ads-copy", "web")
        )));
        assert_eq!(
            findings,
            vec!["MC201 error 16:11 hostname `ads.ads.svc.cluster.local` is also claimed by VirtualService/ads/ads (fixture.yaml:5) on external-mesh; clients would get only one route's rules. Serve each hostname from one route, or attach the routes to different meshes or gateways"]
        );
    }
}
