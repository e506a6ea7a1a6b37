//! Tests of whole plans: small revisions in, changes, diffs and rollouts out.

use serde_json::json;

use super::*;
use crate::load::load;
use crate::source::SourceFile;

fn revision(files: &[(&str, &str)]) -> Loaded {
    let loaded = load(
        files
            .iter()
            .map(|(path, text)| SourceFile::new(*path, *text))
            .collect(),
    );
    assert!(!loaded.has_errors(), "{:?}", loaded.findings);
    loaded
}

fn plan_of(desired: &str, applied: &str) -> Plan {
    plan(
        &revision(&[("routes.yaml", desired)]),
        &revision(&[("routes.yaml", applied)]),
    )
}

fn weights(pairs: &[(&str, u64)]) -> WeightMap {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn only_rollout(plan: &Plan) -> &RolloutPlan {
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    assert_eq!(plan.changes[0].action, Action::Update);
    plan.changes[0]
        .rollout
        .as_ref()
        .unwrap_or_else(|| panic!("no rollout: {:#?}", plan.changes[0]))
}

fn vs(name: &str, host: &str, v1: i64, v2: i64) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n  namespace: prod\nspec:\n  hosts: [{host}]\n  http:\n  - route:\n    - destination: {{host: {host}, subset: v1}}\n      weight: {v1}\n    - destination: {{host: {host}, subset: v2}}\n      weight: {v2}\n"
    )
}

/// A gcloud-form HttpRoute splitting between `target` and `target-green`.
fn ns_route(blue: i64, green: i64) -> String {
    format!(
        "name: projects/p/locations/global/httpRoutes/target-route\nhostnames:\n- target.meshapps.internal\nmeshes:\n- projects/p/locations/global/meshes/m\nrules:\n- action:\n    destinations:\n    - serviceName: projects/p/locations/global/backendServices/target\n      weight: {blue}\n    - serviceName: projects/p/locations/global/backendServices/target-green\n      weight: {green}\n"
    )
}

fn policy(name: &str, body: &str) -> String {
    format!("apiVersion: meshcd.dev/v1alpha1\nkind: RolloutPolicy\nmetadata: {{name: {name}}}\nspec:\n{body}")
}

#[test]
fn creates_updates_and_deletes() {
    let desired = revision(&[
        ("a.yaml", &vs("a", "a", 1, 0)),
        ("b.yaml", &vs("b", "b", 1, 0)),
    ]);
    let applied = revision(&[
        ("a.yaml", &vs("a", "a-old", 1, 0)),
        ("live/c.yaml", &vs("c", "c", 1, 0)),
    ]);
    let plan = plan(&desired, &applied);
    let actions: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action, c.name.as_str(), c.file.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (Action::Update, "a", "a.yaml"),
            (Action::Create, "b", "b.yaml"),
            (Action::Delete, "c", "live/c.yaml"),
        ]
    );
    assert_eq!(
        plan.summary,
        Summary {
            create: 1,
            update: 1,
            delete: 1,
            rollouts: 0,
            unchanged: 0
        }
    );
    assert!(!plan.is_empty());

    let update = &plan.changes[0];
    assert!(update.rollout.is_none());
    let fields: Vec<String> = update
        .fields
        .iter()
        .map(|f| format!("{} {:?} -> {:?}", f.path, f.before, f.after))
        .collect();
    assert_eq!(
        fields,
        vec![
            "spec.hosts[0] Some(String(\"a-old\")) -> Some(String(\"a\"))",
            "spec.http[0].route[0].destination.host Some(String(\"a-old\")) -> Some(String(\"a\"))",
            "spec.http[0].route[1].destination.host Some(String(\"a-old\")) -> Some(String(\"a\"))",
        ]
    );
    assert!(update.diff.starts_with("--- a/a.yaml\n+++ b/a.yaml\n@@ "));
    assert!(
        update.diff.contains("\n-  - a-old\n+  - a\n"),
        "{}",
        update.diff
    );

    let create = &plan.changes[1];
    assert!(create.fields.is_empty());
    assert_eq!(
        create.diff,
        "--- a/b.yaml\n+++ b/b.yaml\n@@ -0,0 +1,18 @@\n+apiVersion: networking.istio.io/v1\n+kind: VirtualService\n+metadata:\n+  name: b\n+  namespace: prod\n+spec:\n+  hosts:\n+  - b\n+  http:\n+  - route:\n+    - destination:\n+        host: b\n+        subset: v1\n+      weight: 1\n+    - destination:\n+        host: b\n+        subset: v2\n+      weight: 0\n"
    );
    let delete = &plan.changes[2];
    assert!(delete
        .diff
        .starts_with("--- a/live/c.yaml\n+++ b/live/c.yaml\n@@ -1,18 +0,0 @@\n-apiVersion"));
    assert!(delete.diff.lines().skip(3).all(|l| l.starts_with('-')));
}

#[test]
fn key_order_quoting_and_server_fields_are_unchanged() {
    let desired = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 90\n    - destination: {host: reviews, subset: v2}\n      weight: 10\n";
    let applied = r#"kind: "VirtualService"
apiVersion: 'networking.istio.io/v1'
metadata:
  uid: 6f1c
  namespace: default
  resourceVersion: "4711"
  generation: 3
  creationTimestamp: "2024-05-01T10:00:00Z"
  managedFields: [{manager: kubectl}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: "{}"
  name: "reviews"
spec:
  http:
  - route:
    - weight: 90
      destination: {subset: v1, host: "reviews"}
    - destination:
        host: reviews
        subset: "v2"
      weight: 10
  hosts:
  - reviews
status:
  observedGeneration: 3
"#;
    let plan = plan_of(desired, applied);
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert_eq!(plan.summary.unchanged, 1);
}

#[test]
fn networkservices_with_and_without_header_are_equal() {
    let headed = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nmetadata:\n  name: target-route\nhostnames: [target.meshapps.internal]\nmeshes: [projects/p/locations/global/meshes/m]\nrules:\n- action:\n    destinations:\n    - {serviceName: projects/p/locations/global/backendServices/target, weight: 99}\n    - {serviceName: projects/p/locations/global/backendServices/target-green, weight: 1}\n";
    let exported = format!(
        "{}createTime: '2024-05-01T10:00:00.123Z'\nupdateTime: '2024-05-02T10:00:00.123Z'\nselfLink: https://networkservices.googleapis.com/v1/projects/p/locations/global/httpRoutes/target-route\n",
        ns_route(99, 1)
    );
    let desired = revision(&[("target-route.yaml", headed)]);
    let applied = revision(&[("export/target-route.yaml", &exported)]);
    assert!(desired.resources[0].explicit_header);
    assert!(!applied.resources[0].explicit_header);
    let plan = plan(&desired, &applied);
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert_eq!(plan.summary.unchanged, 1);
}

#[test]
fn networkservices_weight_shift_follows_the_policy_that_names_the_route() {
    let desired = format!(
        "{}---\n{}---\n{}",
        ns_route(0, 100),
        policy(
            "target-canary",
            "  selector: {routes: [target-route]}\n  steps: [1, 10, 50, 100]\n  bakeTime: 1m\n"
        ),
        // Selects by hostname and sorts first, but a selection by name wins.
        policy(
            "all-meshapps",
            "  selector: {hostnames: ['*.meshapps.internal']}\n  steps: [25]\n"
        ),
    );
    let plan = plan_of(&desired, &ns_route(99, 1));
    let rollout = only_rollout(&plan);
    assert_eq!(
        rollout,
        &RolloutPlan {
            policy: "target-canary".into(),
            canary: "target-green".into(),
            bake_time: std::time::Duration::from_secs(60),
            on_failure: crate::rollout::OnFailure::Rollback,
            on_inconclusive: crate::rollout::OnInconclusive::Pause,
            from: weights(&[("target", 99), ("target-green", 1)]),
            steps: vec![
                weights(&[("target", 90), ("target-green", 10)]),
                weights(&[("target", 50), ("target-green", 50)]),
                weights(&[("target", 0), ("target-green", 100)]),
            ],
            splits: vec![(
                "rules[0]".into(),
                vec!["target".into(), "target-green".into()]
            )],
        }
    );
    assert_eq!(plan.summary.rollouts, 1);
    let change = &plan.changes[0];
    assert_eq!(change.family, Family::NetworkServices);
    assert_eq!(change.kind, Kind::NsHttpRoute);
    let paths: Vec<String> = change.fields.iter().map(|f| f.path.to_string()).collect();
    assert_eq!(
        paths,
        vec![
            "rules[0].action.destinations[0].weight",
            "rules[0].action.destinations[1].weight"
        ]
    );
}

#[test]
fn istio_subset_shift_uses_the_default_policy() {
    let plan = plan_of(
        &vs("reviews", "reviews", 50, 50),
        &vs("reviews", "reviews", 90, 10),
    );
    let rollout = only_rollout(&plan);
    assert_eq!(rollout.policy, "default");
    assert_eq!(rollout.canary, "reviews/v2");
    assert_eq!(
        (
            crate::rollout::duration::format(rollout.bake_time).as_str(),
            rollout.on_failure.as_str(),
            rollout.on_inconclusive.as_str()
        ),
        ("30s", "rollback", "pause")
    );
    assert_eq!(
        rollout.from,
        weights(&[("reviews/v1", 90), ("reviews/v2", 10)])
    );
    // No default step (10, 50, 100) lies strictly between 10 and 50: one final step.
    assert_eq!(
        rollout.steps,
        vec![weights(&[("reviews/v1", 50), ("reviews/v2", 50)])]
    );

    // The whole way, 100/0 → 0/100, stops at 10 and 50.
    let plan = plan_of(
        &vs("reviews", "reviews", 0, 1),
        &vs("reviews", "reviews", 1, 0),
    );
    let steps: Vec<Vec<u64>> = only_rollout(&plan)
        .steps
        .iter()
        .map(|s| s.values().copied().collect())
        .collect();
    assert_eq!(steps, vec![vec![90, 10], vec![50, 50], vec![0, 100]]);
}

fn store(backend_refs: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: store\n  namespace: shop\n  labels: {{team: store}}\nspec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [store.example.com]\n  rules:\n  - backendRefs:\n{backend_refs}"
    )
}

#[test]
fn gateway_api_default_weight_is_one() {
    let defaults = store("    - {name: store-v1, port: 80}\n    - {name: store-v2, port: 80}\n");
    // Omitted weights are 1 each: 50/50 → 25/75.
    let shifted = store(
        "    - {name: store-v1, port: 80, weight: 1}\n    - {name: store-v2, port: 80, weight: 3}\n",
    );
    let plan = plan_of(&shifted, &defaults);
    let rollout = only_rollout(&plan);
    assert_eq!(rollout.canary, "store-v2");
    assert_eq!(rollout.from, weights(&[("store-v1", 50), ("store-v2", 50)]));
    assert_eq!(
        rollout.steps,
        vec![weights(&[("store-v1", 25), ("store-v2", 75)])]
    );

    // Writing out the default moves no traffic: a plain update.
    let explicit = store(
        "    - {name: store-v1, port: 80, weight: 1}\n    - {name: store-v2, port: 80, weight: 1}\n",
    );
    let plan = plan_of(&explicit, &defaults);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].action, Action::Update);
    assert!(plan.changes[0].rollout.is_none());
    assert_eq!(plan.summary.rollouts, 0);
}

#[test]
fn weights_and_anything_else_is_a_plain_update() {
    let desired =
        vs("reviews", "reviews", 50, 50).replace("  - route:", "  - timeout: 5s\n    route:");
    let plan = plan_of(&desired, &vs("reviews", "reviews", 90, 10));
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].rollout.is_none());
    assert_eq!(plan.changes[0].fields.len(), 3);

    // A backend swapped for another is not a weight change either.
    let desired = ns_route(50, 50).replace("target-green", "target-blue");
    let plan = plan_of(&desired, &ns_route(99, 1));
    assert!(plan.changes[0].rollout.is_none());
}

#[test]
fn invalid_weights_are_a_plain_update() {
    // Istio: several destinations with a total of zero.
    let plan = plan_of(
        &vs("reviews", "reviews", 0, 0),
        &vs("reviews", "reviews", 90, 10),
    );
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].rollout.is_none());
    // networkservices: some destinations weighted, some not (applied side invalid).
    let partial = ns_route(99, 1).replacen("      weight: 99\n", "", 1);
    let plan = plan_of(&ns_route(50, 50), &partial);
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].rollout.is_none());
    // Gateway API: all weights 0 sends no traffic; turning it on is not a canary.
    let off = store("    - {name: store-v1, port: 8080, weight: 0}\n    - {name: store-v2, port: 8080, weight: 0}\n");
    let on = store("    - {name: store-v1, port: 8080, weight: 0}\n    - {name: store-v2, port: 8080, weight: 1}\n");
    assert!(plan_of(&on, &off).changes[0].rollout.is_none());
}

#[test]
fn step_weight_and_max_weight_with_a_label_selector() {
    let desired = format!(
        "{}---\n{}",
        store("    - {name: store-v1, port: 8080, weight: 0}\n    - {name: store-v2, port: 8080, weight: 1}\n"),
        policy(
            "store-labels",
            "  selector: {matchLabels: {team: store}}\n  stepWeight: 20\n  maxWeight: 60\n  onFailure: pause\n"
        ),
    );
    let applied = store("    - {name: store-v1, port: 8080, weight: 1}\n    - {name: store-v2, port: 8080, weight: 0}\n");
    let rollout = only_rollout(&plan_of(&desired, &applied)).clone();
    assert_eq!(rollout.policy, "store-labels");
    assert_eq!(rollout.on_failure.as_str(), "pause");
    assert_eq!(crate::rollout::duration::format(rollout.bake_time), "30s");
    let canary: Vec<u64> = rollout.steps.iter().map(|s| s["store-v2"]).collect();
    assert_eq!(canary, vec![20, 40, 60, 100]);
    assert!(rollout.steps.iter().all(|s| s.values().sum::<u64>() == 100));
}

#[test]
fn several_changed_splits_prefix_keys_with_the_rule() {
    let route = |a: i64, b: i64, c: i64, d: i64| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r, namespace: prod}}\nspec:\n  hosts: [r]\n  http:\n  - match: [{{uri: {{prefix: /api}}}}]\n    route:\n    - {{destination: {{host: api}}, weight: {a}}}\n    - {{destination: {{host: api-next}}, weight: {b}}}\n  - route:\n    - {{destination: {{host: web}}, weight: {c}}}\n    - {{destination: {{host: web-next}}, weight: {d}}}\n"
        )
    };
    let plan = plan_of(&route(20, 80, 0, 100), &route(100, 0, 100, 0));
    let rollout = only_rollout(&plan);
    assert_eq!(rollout.canary, "http[1]/web-next");
    assert_eq!(
        rollout.from,
        weights(&[
            ("http[0]/api", 100),
            ("http[0]/api-next", 0),
            ("http[1]/web", 100),
            ("http[1]/web-next", 0)
        ])
    );
    assert_eq!(
        rollout.steps,
        vec![
            weights(&[
                ("http[0]/api", 92),
                ("http[0]/api-next", 8),
                ("http[1]/web", 90),
                ("http[1]/web-next", 10)
            ]),
            weights(&[
                ("http[0]/api", 60),
                ("http[0]/api-next", 40),
                ("http[1]/web", 50),
                ("http[1]/web-next", 50)
            ]),
            weights(&[
                ("http[0]/api", 20),
                ("http[0]/api-next", 80),
                ("http[1]/web", 0),
                ("http[1]/web-next", 100)
            ]),
        ]
    );
}

#[test]
fn policy_precedence_is_name_then_hostname_then_labels_then_policy_name() {
    let route = store("    - {name: store-v1, port: 8080, weight: 0}\n    - {name: store-v2, port: 8080, weight: 1}\n");
    let applied = store("    - {name: store-v1, port: 8080, weight: 1}\n    - {name: store-v2, port: 8080, weight: 0}\n");
    let chosen = |policies: &[String]| {
        let desired = std::iter::once(route.clone())
            .chain(policies.iter().cloned())
            .collect::<Vec<_>>()
            .join("---\n");
        only_rollout(&plan_of(&desired, &applied)).policy.clone()
    };
    let by_labels = policy("a-labels", "  selector: {matchLabels: {team: store}}\n");
    let by_host = policy("b-host", "  selector: {hostnames: ['*.example.com']}\n");
    let by_host_too = policy("c-host", "  selector: {hostnames: [store.example.com]}\n");
    let by_name = policy("d-name", "  selector: {routes: [shop/store]}\n");
    let other = policy(
        "0-other",
        "  selector: {routes: [cart], matchLabels: {team: cart}}\n",
    );
    assert_eq!(chosen(std::slice::from_ref(&other)), "default");
    assert_eq!(chosen(&[by_labels.clone(), other.clone()]), "a-labels");
    assert_eq!(chosen(&[by_labels.clone(), by_host_too.clone()]), "c-host");
    assert_eq!(chosen(&[by_host_too.clone(), by_host.clone()]), "b-host");
    assert_eq!(
        chosen(&[by_labels, by_host, by_host_too, by_name, other]),
        "d-name"
    );
}

#[test]
fn meshcd_kinds_are_not_planned_and_order_is_by_family_kind_namespace_name() {
    let gw = store("    - {name: store-v1, port: 8080}\n");
    let backend = "apiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: b}\nspec: {endpoints: [{address: 127.0.0.1, port: 8080}]}\n";
    let desired = format!(
        "{gw}---\n{}---\n{}---\n{backend}---\n{}",
        vs("z", "z", 1, 0),
        ns_route(1, 0),
        policy("p", "  steps: [50]\n"),
    );
    let plan = plan_of(&desired, "");
    let order: Vec<(Family, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.family, c.name.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (Family::NetworkServices, "target-route"),
            (Family::Istio, "z"),
            (Family::GatewayApi, "store"),
        ]
    );
    assert!(plan_of("", "").is_empty());
}

#[test]
fn serializes_with_the_documented_field_names() {
    let plan = plan_of(
        &vs("reviews", "reviews", 50, 50),
        &vs("reviews", "reviews", 90, 10),
    );
    let value = serde_json::to_value(&plan).unwrap_or_default();
    let change = &value["changes"][0];
    assert_eq!(change["action"], json!("update"));
    assert_eq!(change["kind"], json!("VirtualService"));
    assert_eq!(change["namespace"], json!("prod"));
    assert_eq!(
        change["fields"][0],
        json!({"path": "spec.http[0].route[0].weight", "before": 90, "after": 50})
    );
    assert_eq!(change["rollout"]["bakeTime"], json!("30s"));
    assert_eq!(change["rollout"]["onFailure"], json!("rollback"));
    assert_eq!(change["rollout"]["onInconclusive"], json!("pause"));
    assert_eq!(
        value["summary"],
        json!({"create": 0, "update": 1, "delete": 0, "rollouts": 1, "unchanged": 0})
    );
    let create = serde_json::to_value(plan_of(&ns_route(1, 1), "")).unwrap_or_default();
    assert!(create["changes"][0].get("namespace").is_none());
    assert_eq!(create["changes"][0]["action"], json!("create"));
}

fn vs3(w: [i64; 3]) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: r, namespace: prod}}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - {{destination: {{host: a}}, weight: {}}}\n    - {{destination: {{host: b}}, weight: {}}}\n    - {{destination: {{host: c}}, weight: {}}}\n",
        w[0], w[1], w[2]
    )
}

proptest::proptest! {
    /// Whatever the weights: every step is a whole split of 100, the canary only grows, the
    /// rollout starts at the applied shares and ends at the desired ones.
    #[test]
    fn rollouts_walk_from_applied_to_desired(
        applied in proptest::array::uniform3(0i64..40),
        desired in proptest::array::uniform3(0i64..40),
        steps in proptest::collection::vec(1i64..=100, 0..6),
    ) {
        let policy = policy(
            "p",
            &format!("  selector: {{routes: [r]}}\n  steps: {steps:?}\n"),
        );
        let plan = plan_of(&format!("{}---\n{policy}", vs3(desired)), &vs3(applied));
        let percent = |w: [i64; 3]| {
            let total: i64 = w.iter().sum();
            (total > 0).then(|| crate::ir::percentages(&w.map(|v| v as u64)))
        };
        let (Some(from), Some(to)) = (percent(applied), percent(desired)) else {
            return Ok(());
        };
        if from == to {
            proptest::prop_assert!(plan.changes.iter().all(|c| c.rollout.is_none()));
            return Ok(());
        }
        let rollout = only_rollout(&plan);
        let keys = ["a", "b", "c"];
        let values = |m: &WeightMap| keys.map(|k| m.get(k).copied().unwrap_or(u64::MAX)).to_vec();
        proptest::prop_assert_eq!(values(&rollout.from), from);
        proptest::prop_assert_eq!(rollout.steps.last().map(values), Some(to));
        let mut canary = rollout.from[&rollout.canary];
        for step in &rollout.steps {
            proptest::prop_assert_eq!(step.values().sum::<u64>(), 100);
            proptest::prop_assert!(step[&rollout.canary] > canary);
            canary = step[&rollout.canary];
        }
    }
}
