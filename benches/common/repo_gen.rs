//! Generates a large, policy-clean route repository for the scale benchmark: networkservices,
//! Istio and Gateway API routes spread over many files, deterministic for a given seed.
//!
//! [`Routes::generate`] draws the routes of a first revision; [`Routes::next_revision`] derives
//! a second one in which some routes move traffic weights and a few are added or removed;
//! [`Routes::files`] renders a revision as `path → YAML` (several documents per file).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A small linear congruential generator (Knuth's MMIX constants): enough for test data, and the
/// same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 31 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
}

/// The route families, and which kind of route each generated route is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flavor {
    /// networkservices HttpRoute, two weighted destinations (sometimes a header rule first).
    NsHttp,
    /// networkservices GrpcRoute: a method rule and a weighted catch-all.
    NsGrpc,
    /// Istio VirtualService splitting between subsets v1/v2 of a Service.
    Istio,
    /// Gateway API HTTPRoute with two weighted backendRefs.
    Gateway,
}

/// One generated route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Unique number: hostnames, names and file placement derive from it.
    pub id: u32,
    /// What kind of route.
    pub flavor: Flavor,
    /// Weight of the stable backend; the canary gets `100 - stable`.
    pub stable: u32,
    /// Whether a RolloutPolicy selects the route (by label).
    pub progressive: bool,
    /// Whether a networkservices route has a header-matched rule before its catch-all.
    pub header_rule: bool,
}

/// Routes per file, per family folder.
pub const ROUTES_PER_FILE: u32 = 10;
/// Kubernetes namespaces the Istio and Gateway API routes are spread over.
pub const NAMESPACES: u32 = 20;
/// Services per Istio or Gateway API namespace (each with a `-canary` twin for Gateway API, and
/// a DestinationRule with subsets v1 and v2 for Istio).
pub const APPS_PER_NAMESPACE: u32 = 10;
/// Backend services the networkservices HTTP routes share (each with a `-green` twin): a route
/// has its own hostname, but several hostnames lead to one service, as in real meshes.
pub const NS_HTTP_APPS: u32 = 200;
/// Backend services the GrpcRoutes share (each with `-green` and `-refunds` twins).
pub const NS_GRPC_APPS: u32 = 50;
/// meshcd Backends per file.
const BACKENDS_PER_FILE: usize = 50;

/// A revision's routes, by id.
#[derive(Debug, Clone)]
pub struct Routes {
    /// The routes, sorted by id.
    pub routes: BTreeMap<u32, Route>,
    next_id: u32,
    rng: Lcg,
}

/// What [`Routes::next_revision`] changed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Churn {
    /// Routes whose weights moved.
    pub reweighted: usize,
    /// Routes added.
    pub added: usize,
    /// Routes removed.
    pub removed: usize,
}

impl Routes {
    /// `count` routes: a third of each family (networkservices split ~4:1 HTTP:gRPC).
    pub fn generate(count: u32, seed: u64) -> Self {
        let mut routes = Self {
            routes: BTreeMap::new(),
            next_id: 0,
            rng: Lcg::new(seed),
        };
        for _ in 0..count {
            routes.add();
        }
        routes
    }

    fn add(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let flavor = match id % 3 {
            0 if self.rng.chance(20) => Flavor::NsGrpc,
            0 => Flavor::NsHttp,
            1 => Flavor::Istio,
            _ => Flavor::Gateway,
        };
        let route = Route {
            id,
            flavor,
            stable: self.weight(),
            // Routes 0 and 1 are selected by name and hostname; no label policy may also select them.
            progressive: self.rng.chance(10) && id > 1,
            header_rule: self.rng.chance(30),
        };
        self.routes.insert(id, route);
        id
    }

    fn weight(&mut self) -> u32 {
        const STABLE: [u32; 6] = [100, 99, 95, 90, 80, 50];
        STABLE[self.rng.below(STABLE.len() as u32) as usize]
    }

    /// The next revision: `reweight_pct` % of the routes move weights, `churn_pct` % of the
    /// route count is removed and the same number added (half each).
    pub fn next_revision(&self, reweight_pct: u32, churn_pct: u32) -> (Self, Churn) {
        let mut next = self.clone();
        let mut churn = Churn::default();
        let ids: Vec<u32> = next.routes.keys().copied().collect();
        for id in &ids {
            if next.rng.chance(reweight_pct) {
                let old = next.routes[id].stable;
                let mut new = next.weight();
                while new == old {
                    new = next.weight();
                }
                next.routes.get_mut(id).expect("id").stable = new;
                churn.reweighted += 1;
            }
        }
        let moves = (ids.len() as u32 * churn_pct / 100).max(2);
        for _ in 0..moves / 2 {
            loop {
                let id = ids[next.rng.below(ids.len() as u32) as usize];
                if next.routes.remove(&id).is_some() {
                    churn.removed += 1;
                    break;
                }
            }
        }
        for _ in 0..moves - moves / 2 {
            next.add();
            churn.added += 1;
        }
        (next, churn)
    }

    /// Counts of routes per flavor.
    pub fn census(&self) -> BTreeMap<Flavor, usize> {
        let mut counts = BTreeMap::new();
        for route in self.routes.values() {
            *counts.entry(route.flavor).or_default() += 1;
        }
        counts
    }

    /// The revision's files: routes, Services for the Gateway API backends, a Mesh and the
    /// RolloutPolicies.
    pub fn files(&self) -> BTreeMap<String, String> {
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for route in self.routes.values() {
            let (path, text) = route.render();
            let file = files.entry(path).or_default();
            if !file.is_empty() {
                file.push_str("---\n");
            }
            file.push_str(&text);
        }
        files.insert("networkservices/mesh.yaml".into(), MESH.into());
        for (n, chunk) in backends().chunks(BACKENDS_PER_FILE).enumerate() {
            files.insert(
                format!("networkservices/backends/backends-{n:02}.yaml"),
                chunk.join("---\n"),
            );
        }
        for ns in 0..NAMESPACES {
            files.insert(
                format!("gateway/gw-{ns:02}/services.yaml"),
                gateway_services(ns),
            );
            files.insert(
                format!("istio/mesh-{ns:02}/services.yaml"),
                istio_services(ns),
            );
        }
        files.insert(
            "meshcd/rollout-policies.yaml".into(),
            ROLLOUT_POLICIES.into(),
        );
        files
    }
}

const MESH_PATH: &str = "projects/bench/locations/global/meshes/mesh";

const MESH: &str = "# The mesh every networkservices route attaches to.
apiVersion: networkservices.googleapis.com/v1
kind: Mesh
name: mesh
description: Benchmark mesh
labels:
  env: bench
";

const ROLLOUT_POLICIES: &str = "# Progressive rollouts for the routes labelled for them.
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: ns-canary
spec:
  selector:
    matchLabels:
      meshcd.dev/rollout: ns-canary
  steps: [1, 10, 50, 100]
  bakeTime: 30s
  analysis:
    provider: envoy
    minRequests: 50
    successRate:
      min: 99
  onFailure: rollback
  onInconclusive: pause
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: istio-canary
spec:
  selector:
    matchLabels:
      meshcd.dev/rollout: istio-canary
  steps: [10, 25, 50, 100]
  bakeTime: 5m
  analysis:
    provider: prometheus
    address: http://prometheus.monitoring.svc.cluster.local:9090
    minRequests: 200
    successRate:
      min: 99.5
    latencyP99:
      max: 250ms
  onFailure: rollback
  onInconclusive: rollback
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: progressive
spec:
  selector:
    matchLabels:
      meshcd.dev/rollout: progressive
  stepWeight: 20
  maxWeight: 80
  bakeTime: 2m
  analysis:
    provider: prometheus
    address: http://prometheus.monitoring.svc.cluster.local:9090
    minRequests: 100
  onFailure: rollback
  onInconclusive: pause
---
apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata:
  name: checkout
spec:
  selector:
    hostnames:
    - r000001.istio.bench.internal
    routes:
    - r000000
  steps: [5, 50, 100]
  bakeTime: 1m
";

/// meshcd Backends declaring the networkservices backend services (one document each).
fn backends() -> Vec<String> {
    let mut names = Vec::new();
    for app in 0..NS_HTTP_APPS {
        names.push((format!("app-{app}"), "http"));
        names.push((format!("app-{app}-green"), "http"));
    }
    for app in 0..NS_GRPC_APPS {
        for suffix in ["", "-green", "-refunds"] {
            names.push((format!("grpc-{app}{suffix}"), "http2"));
        }
    }
    names
        .iter()
        .enumerate()
        .map(|(n, (name, protocol))| {
            let alias = format!("projects/bench/locations/global/backendServices/{name}");
            super::backend_document(name, &alias, 20_000 + n, protocol)
        })
        .collect()
}

/// The Services of an Istio namespace, with the DestinationRules defining their subsets.
fn istio_services(ns: u32) -> String {
    let mut text = format!("# Services of namespace mesh-{ns:02} and their subsets.\n");
    for app in 0..APPS_PER_NAMESPACE {
        if app > 0 {
            text.push_str("---\n");
        }
        let _ = write!(
            text,
            "apiVersion: v1
kind: Service
metadata:
  name: app-{app}
  namespace: mesh-{ns:02}
  labels:
    app: app-{app}
spec:
  selector:
    app: app-{app}
  ports:
  - name: http
    port: 8080
    targetPort: 8080
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: app-{app}
  namespace: mesh-{ns:02}
spec:
  host: app-{app}.mesh-{ns:02}.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
"
        );
    }
    text
}

/// The Services behind the Gateway API routes of a namespace: stable and canary per app.
fn gateway_services(ns: u32) -> String {
    let mut text = format!("# Services behind the Gateway API routes of namespace gw-{ns:02}.\n");
    for app in 0..APPS_PER_NAMESPACE {
        for (suffix, track) in [("", "stable"), ("-canary", "canary")] {
            if !(app == 0 && suffix.is_empty()) {
                text.push_str("---\n");
            }
            let _ = write!(
                text,
                "apiVersion: v1
kind: Service
metadata:
  name: app-{app}{suffix}
  namespace: gw-{ns:02}
  labels:
    app: app-{app}
    track: {track}
spec:
  selector:
    app: app-{app}
    track: {track}
  ports:
  - name: http
    port: 8080
    targetPort: http
"
            );
        }
    }
    text
}

impl Route {
    /// The file the route lives in, and its YAML documents.
    pub fn render(&self) -> (String, String) {
        let file_no = self.id / (3 * ROUTES_PER_FILE);
        let ns = file_no % NAMESPACES;
        let canary = 100 - self.stable;
        let id = self.id;
        let mut text = String::new();
        let path = match self.flavor {
            Flavor::NsHttp => {
                let label = if self.progressive {
                    "  meshcd.dev/rollout: ns-canary\n"
                } else {
                    ""
                };
                let app = id % NS_HTTP_APPS;
                let _ = write!(
                    text,
                    "apiVersion: networkservices.googleapis.com/v1
kind: HttpRoute
name: r{id:06}
description: r{id:06}.ns.bench.internal, stable/green split
hostnames:
- r{id:06}.ns.bench.internal
meshes:
- {MESH_PATH}
labels:
  app: app-{id}
{label}rules:
"
                );
                if self.header_rule {
                    let _ = write!(
                        text,
                        "- matches:
  - headers:
    - header: x-canary
      exactMatch: \"true\"
  action:
    destinations:
    - serviceName: projects/bench/locations/global/backendServices/app-{app}-green
      weight: 1
    timeout: 10s
"
                    );
                }
                let _ = write!(
                    text,
                    "- action:
    destinations:
    - serviceName: projects/bench/locations/global/backendServices/app-{app}
      weight: {}
    - serviceName: projects/bench/locations/global/backendServices/app-{app}-green
      weight: {canary}
    timeout: 30s
    retryPolicy:
      retryConditions:
      - connect-failure
      - unavailable
      numRetries: 2
",
                    self.stable
                );
                format!("networkservices/routes-{file_no:04}.yaml")
            }
            Flavor::NsGrpc => {
                let label = if self.progressive {
                    "  meshcd.dev/rollout: ns-canary\n"
                } else {
                    ""
                };
                let app = id % NS_GRPC_APPS;
                let _ = write!(
                    text,
                    "apiVersion: networkservices.googleapis.com/v1
kind: GrpcRoute
name: r{id:06}
hostnames:
- r{id:06}.grpc.bench.internal
meshes:
- {MESH_PATH}
labels:
  app: app-{id}
{label}rules:
- matches:
  - method:
      type: EXACT
      grpcService: bench.v1.Service{id}
      grpcMethod: Refund
  action:
    destinations:
    - serviceName: projects/bench/locations/global/backendServices/grpc-{app}-refunds
    timeout: 60s
- action:
    destinations:
    - serviceName: projects/bench/locations/global/backendServices/grpc-{app}
      weight: {}
    - serviceName: projects/bench/locations/global/backendServices/grpc-{app}-green
      weight: {canary}
    timeout: 10s
",
                    self.stable
                );
                format!("networkservices/routes-{file_no:04}.yaml")
            }
            Flavor::Istio => {
                let label = if self.progressive {
                    "    meshcd.dev/rollout: istio-canary\n"
                } else {
                    ""
                };
                // A quarter of the routes also serve clients outside the cluster (Cloud Run).
                let external = if id % 4 == 1 {
                    "  - external-mesh\n"
                } else {
                    ""
                };
                let app = id % APPS_PER_NAMESPACE;
                let host = format!("app-{app}.mesh-{ns:02}.svc.cluster.local");
                let _ = write!(
                    text,
                    "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: r{id:06}
  namespace: mesh-{ns:02}
  labels:
    app: app-{app}
{label}spec:
  hosts:
  - r{id:06}.istio.bench.internal
  gateways:
  - mesh
{external}  http:
  - name: canary
    route:
    - destination:
        host: {host}
        subset: v1
        port:
          number: 8080
      weight: {}
    - destination:
        host: {host}
        subset: v2
        port:
          number: 8080
      weight: {canary}
    timeout: 5s
    retries:
      attempts: 2
      perTryTimeout: 2s
      retryOn: connect-failure,refused-stream,unavailable
",
                    self.stable
                );
                format!("istio/mesh-{ns:02}/routes-{file_no:04}.yaml")
            }
            Flavor::Gateway => {
                let label = if self.progressive {
                    "    meshcd.dev/rollout: progressive\n"
                } else {
                    ""
                };
                let app = id % APPS_PER_NAMESPACE;
                let _ = write!(
                    text,
                    "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: r{id:06}
  namespace: gw-{ns:02}
  labels:
    app: app-{app}
{label}spec:
  parentRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: internal-gw
    namespace: infra
  hostnames:
  - r{id:06}.gw.bench.internal
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    backendRefs:
    - name: app-{app}
      port: 8080
      weight: {}
    - name: app-{app}-canary
      port: 8080
      weight: {canary}
",
                    self.stable
                );
                format!("gateway/gw-{ns:02}/routes-{file_no:04}.yaml")
            }
        };
        (path, text)
    }
}
