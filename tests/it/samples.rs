//! The example repositories under `samples/`.
//!
//! - Every valid sample (each folder but `invalid/`) loads with no findings at all, errors or
//!   warnings, and holds the resources and weights its README describes.
//! - Every file `samples/invalid/MCxxx-rule-name.yaml`, loaded alone, makes rule `MCxxx` fire,
//!   and every built-in rule has such a file.
//!
//! The samples are read with `std::fs` and checked through the pure core (load, policy, IR); the
//! command line is tested elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use meshcd_core::ir::{self, PathMatch};
use meshcd_core::model::{Kind, Resource, Spec};
use meshcd_core::{policy, Finding, Loaded, SourceFile};

/// The folder of fixtures that must fail; every other folder of `samples/` must pass.
const INVALID: &str = "invalid";

/// The valid samples this file knows; a new folder is checked for findings too, but should get
/// its own test of what it holds.
const KNOWN_SAMPLES: &[&str] = &[
    "cloud-run-mesh",
    "gateway-api-canary",
    "istio-external-mesh",
];

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// The valid sample folders, sorted.
fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("read samples/")
        .map(|entry| entry.expect("read samples/ entry"))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != INVALID)
        .collect();
    names.sort();
    names
}

/// Every `*.yaml` / `*.yml` file under `dir`, recursively, with paths relative to `dir` (with
/// `/` separators), sorted by path.
fn yaml_files(dir: &Path) -> Vec<SourceFile> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}"));
        for entry in entries {
            let path = entry.expect("read dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .expect("path under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if meshcd_core::load::is_yaml_path(&relative) {
                let text =
                    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
                out.push(SourceFile::new(relative, text));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Loads one sample folder and runs every built-in rule over it.
fn check_sample(name: &str) -> (Loaded, Vec<Finding>) {
    let files = yaml_files(&samples_dir().join(name));
    assert!(!files.is_empty(), "samples/{name} has no YAML files");
    let loaded = meshcd_core::load::load(files);
    let findings = policy::check(&loaded);
    (loaded, findings)
}

/// Loads a sample that must be clean, failing with every finding when it is not.
fn clean_sample(name: &str) -> Loaded {
    let (loaded, findings) = check_sample(name);
    assert!(
        findings.is_empty(),
        "samples/{name} must load with no findings, got:\n{}",
        render(&findings)
    );
    loaded
}

fn render(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}\n"))
        .collect::<String>()
}

/// The resource with this kind, namespace and name, or a failure listing what was loaded.
fn find<'a>(loaded: &'a Loaded, kind: Kind, namespace: &str, name: &str) -> &'a Resource {
    loaded
        .resources
        .iter()
        .find(|r| r.id.kind == kind && r.id.namespace == namespace && r.id.name == name)
        .unwrap_or_else(|| {
            let ids: Vec<String> = loaded.resources.iter().map(|r| r.id.to_string()).collect();
            panic!("no {kind} {namespace:?}/{name:?}; loaded: {ids:?}")
        })
}

/// Traffic shares in percent of rule `rule` of a route, under its family's weight semantics.
fn percentages(resource: &Resource, rule: usize) -> Vec<u64> {
    let route = ir::route(resource).unwrap_or_else(|| panic!("{} is not a route", resource.id));
    let split = route.rules[rule]
        .split
        .as_ref()
        .unwrap_or_else(|| panic!("rule {rule} of {} has no split", resource.id));
    split
        .percentages()
        .unwrap_or_else(|e| panic!("weights of {}: {e:?}", resource.id))
}

/// Backend keys of rule `rule` of a route (`target`, `ads/v1`...), in order.
fn backend_names(resource: &Resource, rule: usize) -> Vec<(String, Option<String>)> {
    let route = ir::route(resource).expect("a route");
    route.rules[rule]
        .split
        .as_ref()
        .expect("a split")
        .backends
        .iter()
        .map(|b| (b.name.clone(), b.subset.clone()))
        .collect()
}

fn rollout_policy<'a>(
    loaded: &'a Loaded,
    name: &str,
) -> &'a meshcd_core::model::meshcd::RolloutPolicySpec {
    match &find(loaded, Kind::RolloutPolicy, "", name).spec {
        Spec::RolloutPolicy(spec) => spec,
        other => panic!("RolloutPolicy {name} has spec {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_valid_sample_loads_without_findings() {
    let names = sample_names();
    for known in KNOWN_SAMPLES {
        assert!(
            names.iter().any(|n| n == known),
            "samples/{known} is missing"
        );
    }
    let mut failures = String::new();
    for name in &names {
        let (loaded, findings) = check_sample(name);
        if !findings.is_empty() {
            failures += &format!("samples/{name}:\n{}", render(&findings));
        }
        if loaded.resources.is_empty() {
            failures += &format!("samples/{name}: no resources loaded\n");
        }
    }
    assert!(
        failures.is_empty(),
        "valid samples must load with no findings:\n{failures}"
    );
}

#[test]
fn every_sample_is_documented_and_every_file_explains_itself() {
    let index =
        std::fs::read_to_string(samples_dir().join("README.md")).expect("samples/README.md");
    let mut problems = Vec::new();
    for name in sample_names().into_iter().chain([INVALID.to_string()]) {
        if !index.contains(&format!("`{name}/`")) {
            problems.push(format!("samples/README.md does not describe `{name}/`"));
        }
    }
    for name in sample_names() {
        let dir = samples_dir().join(&name);
        if !dir.join("README.md").is_file() {
            problems.push(format!("samples/{name} has no README.md"));
        }
        for file in yaml_files(&dir) {
            if !file.text.starts_with('#') {
                problems.push(format!(
                    "samples/{name}/{} does not start with a comment saying why it exists",
                    file.path
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn cloud_run_mesh_holds_a_canary_an_even_split_and_a_grpc_route() {
    let loaded = clean_sample("cloud-run-mesh");

    let mesh = find(&loaded, Kind::NsMesh, "", "mesh");
    assert!(mesh.explicit_header);

    // The Cloud Run caller joins that mesh through its revision annotation.
    let client = find(&loaded, Kind::CloudRunService, "default", "client");
    let Spec::CloudRunService(service) = &client.spec else {
        unreachable!()
    };
    assert_eq!(
        service.mesh.as_ref().map(|m| m.name.as_str()),
        Some("projects/my-project/locations/global/meshes/mesh")
    );

    let target = find(&loaded, Kind::NsHttpRoute, "", "target-route");
    assert!(target.explicit_header);
    assert_eq!(percentages(target, 0), vec![99, 1]);
    assert_eq!(
        backend_names(target, 0),
        vec![("target".into(), None), ("target-green".into(), None)]
    );
    let Spec::NsHttpRoute(spec) = &target.spec else {
        unreachable!()
    };
    assert_eq!(spec.hostnames, strings(&["target.meshapps.internal"]));
    assert_eq!(
        spec.meshes,
        strings(&["projects/my-project/locations/global/meshes/mesh"])
    );

    // Recognized by shape: exactly what `gcloud network-services http-routes export` writes.
    let target23 = find(&loaded, Kind::NsHttpRoute, "", "route-target23");
    assert!(!target23.explicit_header);
    assert_eq!(
        target23.body["name"],
        "projects/my-project/locations/global/httpRoutes/route-target23"
    );
    assert_eq!(percentages(target23, 0), vec![50, 50]);
    assert_eq!(
        backend_names(target23, 0),
        vec![("target2".into(), None), ("target3".into(), None)]
    );

    let grpc = find(&loaded, Kind::NsGrpcRoute, "", "payments-grpc-route");
    let grpc_ir = ir::route(grpc).expect("a route");
    assert_eq!(
        grpc_ir.rules[0].matches[0].method.as_deref(),
        Some("payments.v1.Payments/Refund")
    );
    assert!(grpc_ir.rules.last().unwrap().matches.is_empty());

    let policy = rollout_policy(&loaded, "target-canary");
    assert_eq!(policy.selector.routes, strings(&["target-route"]));
    assert_eq!(policy.steps, vec![1, 10, 50, 100]);
    assert_eq!(
        policy
            .bake_time
            .map(meshcd_core::rollout::duration::format)
            .as_deref(),
        Some("30s")
    );
    assert_eq!(policy.on_failure.map(|a| a.as_str()), Some("rollback"));
    let analysis = policy.analysis.as_ref().expect("analysis");
    assert_eq!(analysis.min_requests, Some(50));
    assert_eq!(analysis.success_rate.as_ref().map(|s| s.min), Some(99.0));
    assert_eq!(
        analysis.latency_p99.as_ref().map(|l| l.max.as_str()),
        Some("500ms")
    );

    // Every backend service a route names has a loopback Backend, under its short name and with
    // the full path as an alias, on a port of its own from 18081 up.
    let mut ports = BTreeSet::new();
    for route in ir::routes(&loaded.resources) {
        for rule in &route.rules {
            for backend in rule.split.iter().flat_map(|s| &s.backends) {
                let resource = find(&loaded, Kind::Backend, "", &backend.name);
                let Spec::Backend(spec) = &resource.spec else {
                    unreachable!()
                };
                let path = format!(
                    "projects/my-project/locations/global/backendServices/{}",
                    backend.name
                );
                assert_eq!(spec.aliases, vec![path], "aliases of {}", resource.id);
                assert_eq!(spec.endpoints.len(), 1, "endpoints of {}", resource.id);
                assert_eq!(spec.endpoints[0].address, "127.0.0.1");
                assert!(spec.endpoints[0].port >= 18081, "port of {}", resource.id);
                ports.insert((backend.name.clone(), spec.endpoints[0].port));
            }
        }
    }
    let names: BTreeSet<_> = ports.iter().map(|(n, _)| n.as_str()).collect();
    let numbers: BTreeSet<_> = ports.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        numbers.len(),
        names.len(),
        "each backend has its own port: {ports:?}"
    );
    assert!(names.is_superset(&BTreeSet::from([
        "target",
        "target-green",
        "target2",
        "target3"
    ])));
}

#[test]
fn istio_external_mesh_exports_ads_to_cloud_run_with_a_90_10_split() {
    let loaded = clean_sample("istio-external-mesh");

    let vs = find(&loaded, Kind::VirtualService, "ads", "ads");
    let Spec::VirtualService(spec) = &vs.spec else {
        unreachable!()
    };
    assert_eq!(spec.gateways, strings(&["mesh", "external-mesh"]));
    assert_eq!(spec.hosts, strings(&["ads.ads.svc.cluster.local"]));
    assert!(spec.export_to.is_empty() && spec.tls.is_empty() && spec.tcp.is_empty());
    assert_eq!(percentages(vs, 0), vec![90, 10]);
    let backends = backend_names(vs, 0);
    assert_eq!(
        backends
            .iter()
            .map(|(_, subset)| subset.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("v1"), Some("v2")]
    );

    let dr = find(&loaded, Kind::DestinationRule, "ads", "ads");
    let Spec::DestinationRule(dr_spec) = &dr.spec else {
        unreachable!()
    };
    assert_eq!(
        ir::istio_fqdn(&dr_spec.host, "ads"),
        "ads.ads.svc.cluster.local"
    );
    let subsets: Vec<&str> = dr_spec.subsets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(subsets, vec!["v1", "v2"]);
    let tls = dr_spec
        .traffic_policy
        .as_ref()
        .and_then(|p| p.get("tls"))
        .or_else(|| {
            dr_spec
                .subsets
                .iter()
                .find_map(|s| s.traffic_policy.as_ref().and_then(|p| p.get("tls")))
        });
    assert!(
        tls.is_none(),
        "external-mesh hosts do not support trafficPolicy.tls"
    );

    let peer = loaded
        .resources
        .iter()
        .find(|r| r.id.kind == Kind::PeerAuthentication && r.id.namespace == "ads")
        .expect("a PeerAuthentication in namespace ads");
    let Spec::PeerAuthentication(pa) = &peer.spec else {
        unreachable!()
    };
    assert_eq!(
        pa.mtls.as_ref().and_then(|m| m.mode.as_deref()),
        Some("PERMISSIVE")
    );

    find(&loaded, Kind::Service, "ads", "ads");

    let policy = rollout_policy(&loaded, "ads-v2");
    assert_eq!(policy.selector.hostnames, spec.hosts);
}

#[test]
fn gateway_api_canary_splits_store_90_10_and_grows_by_label() {
    let loaded = clean_sample("gateway-api-canary");

    let route = find(&loaded, Kind::GwHttpRoute, "store", "store");
    let Spec::GwRoute(spec) = &route.spec else {
        unreachable!()
    };
    assert_eq!(spec.hostnames, strings(&["store.example.internal"]));
    assert_eq!(spec.parent_refs.len(), 1);
    assert_eq!(spec.parent_refs[0].name, "internal-gw");
    assert_eq!(spec.parent_refs[0].namespace.as_deref(), Some("infra"));
    assert_eq!(percentages(route, 0), vec![90, 10]);
    assert_eq!(
        backend_names(route, 0),
        vec![("store".into(), None), ("store-canary".into(), None)]
    );
    let route_ir = ir::route(route).expect("a route");
    assert!(
        route_ir.rules[0].matches.iter().any(|m| matches!(
            m.path,
            Some(PathMatch::Prefix(_)) | Some(PathMatch::Exact(_))
        )),
        "the canary rule has a path match"
    );

    // Every backendRef names a Service of this sample; one in another namespace needs a
    // ReferenceGrant in that namespace that admits HTTPRoutes from the route's namespace.
    for rule in &spec.rules {
        for backend in &rule.backend_refs {
            let namespace = backend.namespace.as_deref().unwrap_or(&route.id.namespace);
            find(&loaded, Kind::Service, namespace, &backend.name);
            if namespace != route.id.namespace {
                let granted = loaded.resources.iter().any(|r| {
                    r.id.namespace == namespace
                        && matches!(&r.spec, Spec::ReferenceGrant(grant)
                        if grant.from.iter().any(|f| {
                            f.get("kind").map(String::as_str) == Some("HTTPRoute")
                                && f.get("namespace") == Some(&route.id.namespace)
                        }))
                });
                assert!(
                    granted,
                    "no ReferenceGrant for {namespace}/{}",
                    backend.name
                );
            }
        }
    }

    let policy = rollout_policy(&loaded, "progressive");
    assert_eq!(
        (policy.step_weight, policy.max_weight),
        (Some(20), Some(80))
    );
    assert!(policy.steps.is_empty());
    assert!(!policy.selector.match_labels.is_empty());
    let selected = policy
        .selector
        .match_labels
        .iter()
        .all(|(k, v)| route.labels.get(k) == Some(v));
    assert!(selected, "the policy's matchLabels select the store route");
}

/// The rule code and name a fixture file states: `MC101-weight-negative.yaml` →
/// (`MC101`, `weight-negative`).
fn code_and_name(file_name: &str) -> (&str, &str) {
    let stem = file_name
        .strip_suffix(".yaml")
        .or_else(|| file_name.strip_suffix(".yml"))
        .unwrap_or(file_name);
    stem.split_once('-').unwrap_or((stem, ""))
}

fn invalid_files() -> Vec<SourceFile> {
    yaml_files(&samples_dir().join(INVALID))
}

#[test]
fn every_invalid_sample_fires_the_rule_it_is_named_after() {
    let files = invalid_files();
    assert!(!files.is_empty(), "samples/invalid has no fixtures");
    let mut failures = Vec::new();
    for file in files {
        let (code, name) = code_and_name(&file.path);
        let Some(rule) = policy::rule(code) else {
            failures.push(format!(
                "{}: no built-in rule has code `{code}` (name files MCxxx-rule-name.yaml)",
                file.path
            ));
            continue;
        };
        if rule.name != name {
            failures.push(format!(
                "{}: {code} is named `{}`; rename the file {code}-{}.yaml",
                file.path, rule.name, rule.name
            ));
        }
        let path = file.path.clone();
        let findings = policy::check(&meshcd_core::load::load(vec![file.clone()]));
        if !findings.iter().any(|f| f.rule == rule.code) {
            failures.push(format!(
                "{path}: {code} {} did not fire; findings:\n{}",
                rule.name,
                if findings.is_empty() {
                    "  (none)\n".to_string()
                } else {
                    render(&findings)
                }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_an_invalid_sample() {
    let mut covered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in invalid_files() {
        let (code, _) = code_and_name(&file.path);
        covered
            .entry(code.to_ascii_uppercase())
            .or_default()
            .push(file.path.clone());
    }
    let missing: Vec<String> = policy::rules::ALL
        .iter()
        .filter(|rule| !covered.contains_key(rule.code))
        .map(|rule| format!("  {}-{}.yaml  ({})", rule.code, rule.name, rule.summary))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} rules have no fixture in samples/invalid/:\n{}",
        missing.len(),
        policy::rules::ALL.len(),
        missing.join("\n")
    );
}
