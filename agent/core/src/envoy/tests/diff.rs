//! Plans from Envoy states: creates, deletes, updates, rollouts from the applied weights, drift.

use serde_json::{json, Value as Json};

use super::*;
use crate::envoy::{diff, EnvoyState};
use crate::model::{Family, Kind};
use crate::plan::{Action, Plan, RolloutPlan, WeightMap};

fn state(loaded: &Loaded) -> EnvoyState {
    EnvoyState::from_config(&translated(loaded))
}

fn shares(pairs: &[(&str, u64)]) -> WeightMap {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Sets the weights of the weighted clusters of every route of a virtual host whose name is
/// `route` or starts with `route.`.
fn set_weights(state: &mut EnvoyState, vhost: &str, route: &str, weights: &[u64]) {
    let routes = state
        .virtual_hosts
        .get_mut(vhost)
        .and_then(|v| v.get_mut("routes"))
        .and_then(Json::as_array_mut)
        .expect("routes");
    let mut found = false;
    for r in routes {
        let name = r["name"].as_str().unwrap_or("").to_string();
        if name != route && !name.starts_with(&format!("{route}.")) {
            continue;
        }
        let clusters = r
            .pointer_mut("/route/weighted_clusters/clusters")
            .and_then(Json::as_array_mut)
            .expect("weighted clusters");
        for (c, w) in clusters.iter_mut().zip(weights) {
            c["weight"] = json!(w);
        }
        found = true;
    }
    assert!(found, "no route {route} in {vhost}");
}

fn only_rollout(plan: &Plan) -> &RolloutPlan {
    assert_eq!(plan.changes.len(), 1, "{:#?}", plan.changes);
    assert_eq!(plan.changes[0].action, Action::Update);
    plan.changes[0]
        .rollout
        .as_ref()
        .unwrap_or_else(|| panic!("no rollout: {:#?}", plan.changes[0]))
}

/// The cloud-run-mesh sample with target-route's weights replaced.
fn cloud_run_with(blue: u64, green: u64) -> Loaded {
    let files: Vec<(&str, String)> = CLOUD_RUN_MESH
        .iter()
        .map(|(path, text)| {
            let text = if *path == "routes/target-route.yaml" {
                text.replace("weight: 99", &format!("weight: {blue}"))
                    .replace("weight: 1\n", &format!("weight: {green}\n"))
            } else {
                text.to_string()
            };
            (*path, text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    revision(&borrowed)
}

#[test]
fn equal_states_plan_nothing() {
    let loaded = revision(CLOUD_RUN_MESH);
    let desired = state(&loaded);
    let plan = diff(&desired, &desired.clone(), &loaded);
    assert!(plan.is_empty());
    assert_eq!(plan.summary.unchanged, 3 + 6);
}

#[test]
fn creates_deletes_and_updates_virtual_hosts_and_clusters() {
    let loaded = revision(CLOUD_RUN_MESH);
    let desired = state(&loaded);
    let mut applied = desired.clone();
    applied.virtual_hosts.remove("HttpRoute/route-target23");
    applied.virtual_hosts.insert(
        "VirtualService/legacy/old".into(),
        json!({"name": "VirtualService/legacy/old", "domains": ["old"], "routes": []}),
    );
    applied.virtual_hosts.insert(
        "local_service".into(),
        json!({"name": "local_service", "domains": ["*"], "routes": []}),
    );
    applied.clusters.remove("target3");
    applied
        .clusters
        .insert("retired".into(), json!({"name": "retired"}));
    if let Some(v) = applied
        .virtual_hosts
        .get_mut("GrpcRoute/payments-grpc-route")
    {
        v["routes"][0]["route"]["timeout"] = json!("30s");
    }
    let plan = diff(&desired, &applied, &loaded);
    let summary: Vec<(Action, Kind, &str, &str, &str)> = plan
        .changes
        .iter()
        .map(|c| {
            (
                c.action,
                c.kind,
                c.namespace.as_str(),
                c.name.as_str(),
                c.file.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Action::Create,
                Kind::NsHttpRoute,
                "",
                "route-target23",
                "routes/route-target23.yaml"
            ),
            (
                Action::Update,
                Kind::NsGrpcRoute,
                "",
                "payments-grpc-route",
                "routes/payments-grpc-route.yaml"
            ),
            (Action::Delete, Kind::VirtualService, "legacy", "old", ""),
            (Action::Delete, Kind::Backend, "", "retired", ""),
            (
                Action::Create,
                Kind::Backend,
                "",
                "target3",
                "meshcd/backends.yaml"
            ),
        ]
    );
    assert_eq!(plan.changes[3].family, Family::Meshcd);
    assert_eq!(plan.summary.create, 2);
    assert_eq!(plan.summary.update, 1);
    assert_eq!(plan.summary.delete, 2);
    assert_eq!(plan.summary.unchanged, 1 + 5);
    let update = &plan.changes[1];
    assert!(update.rollout.is_none());
    assert_eq!(update.fields.len(), 1);
    assert_eq!(update.fields[0].path.to_string(), "routes[0].route.timeout");
    assert_eq!(update.fields[0].before, Some(json!("30s")));
    assert_eq!(update.fields[0].after, Some(json!("60s")));
    assert!(
        update
            .diff
            .contains("-    timeout: 30s\n+    timeout: 60s\n"),
        "{}",
        update.diff
    );
    assert!(update
        .diff
        .starts_with("--- a/routes/payments-grpc-route.yaml\n"));
    let create = &plan.changes[0];
    assert!(
        create.diff.contains("+name: HttpRoute/route-target23\n"),
        "{}",
        create.diff
    );
    // A deleted route whose file is gone is labelled with its virtual host.
    assert!(plan.changes[2]
        .diff
        .starts_with("--- a/VirtualService/legacy/old\n"));
}

#[test]
fn a_weight_change_rolls_out_from_the_weights_envoy_reports() {
    let applied = EnvoyState::from_config_dump(
        &serde_json::from_str(include_str!("../fixtures/cloud-run-mesh.routes.json"))
            .expect("json"),
        &serde_json::from_str(include_str!("../fixtures/cloud-run-mesh.clusters.json"))
            .expect("json"),
        &json!({}),
    )
    .expect("dump");
    let loaded = cloud_run_with(0, 100);
    let plan = diff(&state(&loaded), &applied, &loaded);
    let rollout = only_rollout(&plan);
    assert_eq!(plan.changes[0].name, "target-route");
    assert_eq!(rollout.policy, "target-canary");
    assert_eq!(rollout.canary, "target-green");
    assert_eq!(crate::rollout::duration::format(rollout.bake_time), "30s");
    assert_eq!(rollout.from, shares(&[("target", 99), ("target-green", 1)]));
    assert_eq!(
        rollout.steps,
        [
            shares(&[("target", 90), ("target-green", 10)]),
            shares(&[("target", 50), ("target-green", 50)]),
            shares(&[("target", 0), ("target-green", 100)]),
        ]
    );
    assert_eq!(
        plan.changes[0]
            .fields
            .iter()
            .map(|f| f.path.to_string())
            .collect::<Vec<_>>(),
        [
            "routes[0].route.weighted_clusters.clusters[0].weight",
            "routes[0].route.weighted_clusters.clusters[1].weight"
        ]
    );
}

#[test]
fn drift_in_a_weight_rolls_back_to_the_desired_split() {
    let loaded = revision(CLOUD_RUN_MESH);
    let desired = state(&loaded);
    let mut applied = desired.clone();
    // Someone moved traffic by hand: Envoy serves 50/50, the repository says 99/1.
    set_weights(
        &mut applied,
        "HttpRoute/target-route",
        "rules[0]",
        &[50, 50],
    );
    let plan = diff(&desired, &applied, &loaded);
    let rollout = only_rollout(&plan);
    assert_eq!(
        rollout.from,
        shares(&[("target", 50), ("target-green", 50)])
    );
    assert_eq!(rollout.canary, "target");
    assert_eq!(
        rollout.steps,
        [shares(&[("target", 99), ("target-green", 1)])]
    );
}

#[test]
fn drift_in_a_header_is_a_plain_update() {
    let loaded = revision(CLOUD_RUN_MESH);
    let desired = state(&loaded);
    let mut applied = desired.clone();
    if let Some(v) = applied.virtual_hosts.get_mut("HttpRoute/target-route") {
        v["routes"][0]["request_headers_to_add"] =
            json!([{"header": {"key": "x-debug", "value": "1"}}]);
    }
    set_weights(
        &mut applied,
        "HttpRoute/target-route",
        "rules[0]",
        &[50, 50],
    );
    let plan = diff(&desired, &applied, &loaded);
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(change.action, Action::Update);
    assert!(change.rollout.is_none());
    assert!(change
        .fields
        .iter()
        .any(|f| f.path.to_string() == "routes[0].request_headers_to_add" && f.after.is_none()));
}

#[test]
fn istio_rollouts_use_the_route_keys_and_the_policy_selecting_the_host() {
    let loaded = revision_with(
        ISTIO_EXTERNAL_MESH,
        ("meshcd/backends.yaml", ISTIO_BACKENDS),
    );
    let applied = state(&loaded);
    let mut desired = applied.clone();
    set_weights(&mut desired, "VirtualService/ads/ads", "http[0]", &[50, 50]);
    let plan = diff(&desired, &applied, &loaded);
    let rollout = only_rollout(&plan);
    assert_eq!(rollout.policy, "ads-v2");
    assert_eq!(rollout.canary, "ads.ads.svc.cluster.local/v2");
    assert_eq!(rollout.on_inconclusive.as_str(), "rollback");
    assert_eq!(
        rollout.from,
        shares(&[
            ("ads.ads.svc.cluster.local/v1", 90),
            ("ads.ads.svc.cluster.local/v2", 10)
        ])
    );
    assert_eq!(
        rollout.steps,
        [
            shares(&[
                ("ads.ads.svc.cluster.local/v1", 75),
                ("ads.ads.svc.cluster.local/v2", 25)
            ]),
            shares(&[
                ("ads.ads.svc.cluster.local/v1", 50),
                ("ads.ads.svc.cluster.local/v2", 50)
            ]),
        ]
    );
}

#[test]
fn a_rule_with_several_matches_is_one_split() {
    let loaded = revision(&[("kitchen.yaml", KITCHEN)]);
    let desired = state(&loaded);
    let mut applied = desired.clone();
    set_weights(&mut applied, "HttpRoute/kitchen", "rules[0]", &[100, 0]);
    let plan = diff(&desired, &applied, &loaded);
    let rollout = only_rollout(&plan);
    assert_eq!(rollout.policy, "default");
    assert_eq!(
        rollout.from,
        shares(&[("target", 100), ("target-green", 0)])
    );
    assert_eq!(
        rollout.steps,
        [
            shares(&[("target", 90), ("target-green", 10)]),
            shares(&[("target", 70), ("target-green", 30)]),
        ]
    );
}

#[test]
fn gateway_api_keys_come_from_rules_whatever_the_route_order() {
    let loaded = revision(&[("kitchen.yaml", KITCHEN)]);
    let desired = state(&loaded);
    let mut applied = desired.clone();
    set_weights(&mut applied, "HTTPRoute/web/web", "rules[0]", &[1, 1]);
    let plan = diff(&desired, &applied, &loaded);
    let rollout = only_rollout(&plan);
    assert_eq!(plan.changes[0].name, "web");
    assert_eq!(rollout.from, shares(&[("web", 50), ("web-canary", 50)]));
    assert_eq!(rollout.steps, [shares(&[("web", 90), ("web-canary", 10)])]);
}

#[test]
fn several_moving_splits_prefix_keys_with_their_rule() {
    let route = |w: u64| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: two, namespace: prod}}\nspec:\n  hosts: [c]\n  http:\n  - match: [{{uri: {{prefix: /a}}}}]\n    route: [{{destination: {{host: a}}, weight: {w}}}, {{destination: {{host: b}}, weight: {}}}]\n  - route: [{{destination: {{host: a}}, weight: {w}}}, {{destination: {{host: b}}, weight: {}}}]\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {{name: a}}\nspec: {{endpoints: [{{address: 10.0.0.1, port: 80}}]}}\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {{name: b}}\nspec: {{endpoints: [{{address: 10.0.0.2, port: 80}}]}}\n",
            100 - w,
            100 - w
        )
    };
    let applied_files = route(90);
    let desired_files = route(50);
    let applied = state(&revision(&[("vs.yaml", &applied_files)]));
    let loaded = revision(&[("vs.yaml", &desired_files)]);
    let plan = diff(&state(&loaded), &applied, &loaded);
    let rollout = only_rollout(&plan);
    assert_eq!(rollout.canary, "http[0]/b");
    assert_eq!(
        rollout.from,
        shares(&[
            ("http[0]/a", 90),
            ("http[0]/b", 10),
            ("http[1]/a", 90),
            ("http[1]/b", 10)
        ])
    );
    assert_eq!(
        rollout.steps.last(),
        Some(&shares(&[
            ("http[0]/a", 50),
            ("http[0]/b", 50),
            ("http[1]/a", 50),
            ("http[1]/b", 50)
        ]))
    );
}

#[test]
fn other_cluster_lists_are_not_rollouts() {
    let loaded = revision(CLOUD_RUN_MESH);
    let desired = state(&loaded);
    let mut applied = desired.clone();
    if let Some(v) = applied.virtual_hosts.get_mut("HttpRoute/target-route") {
        v["routes"][0]["route"]["weighted_clusters"]["clusters"][1]["name"] = json!("target2");
    }
    let plan = diff(&desired, &applied, &loaded);
    assert_eq!(plan.changes.len(), 1);
    assert!(plan.changes[0].rollout.is_none());
}

/// Every step of a rollout put into the desired configuration with `set_route_weights` is read
/// back by `diff` as exactly that step's shares (the right weight on the right cluster), and
/// the configuration differs from the desired one only in weights.
#[test]
fn rollout_steps_put_into_a_config_read_back_as_those_shares() {
    let two_splits = |w: u64| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: two, namespace: prod}}\nspec:\n  hosts: [c]\n  http:\n  - match: [{{uri: {{prefix: /a}}}}, {{uri: {{prefix: /z}}}}]\n    route: [{{destination: {{host: a}}, weight: {w}}}, {{destination: {{host: b}}, weight: {}}}]\n  - route: [{{destination: {{host: a}}, weight: {w}}}, {{destination: {{host: b}}, weight: {}}}]\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {{name: a}}\nspec: {{endpoints: [{{address: 10.0.0.1, port: 80}}]}}\n---\napiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {{name: b}}\nspec: {{endpoints: [{{address: 10.0.0.2, port: 80}}]}}\n",
            100 - w,
            100 - w
        )
    };
    let (applied_text, desired_text) = (two_splits(90), two_splits(40));
    let cases = [
        (revision(CLOUD_RUN_MESH), cloud_run_with(0, 100)),
        (
            revision(&[("vs.yaml", &applied_text)]),
            revision(&[("vs.yaml", &desired_text)]),
        ),
    ];
    for (applied_loaded, loaded) in cases {
        let desired = translated(&loaded);
        let plan = diff(
            &EnvoyState::from_config(&desired),
            &state(&applied_loaded),
            &loaded,
        );
        let change = &plan.changes[0];
        let rollout = change.rollout.as_ref().expect("a rollout");
        let vhost = format!("{}/{}", change.kind, change.name);
        let vhost = EnvoyState::from_config(&desired)
            .virtual_hosts
            .keys()
            .find(|k| k.ends_with(&format!("/{}", change.name)))
            .cloned()
            .unwrap_or(vhost);
        assert!(!rollout.splits.is_empty());
        for (i, step) in std::iter::once(&rollout.from)
            .chain(&rollout.steps)
            .enumerate()
        {
            let mut config = desired.clone();
            crate::envoy::set_route_weights(&mut config, &vhost, &rollout.splits, step)
                .expect("weights set");
            assert!(crate::envoy::same_but_weights(&config, &desired));
            // Reading the stepped config as the applied side gives a rollout starting there.
            let back = diff(
                &EnvoyState::from_config(&desired),
                &EnvoyState::from_config(&config),
                &loaded,
            );
            if i == rollout.steps.len() {
                // The last step is the desired split: at most equal shares, never a rollout.
                assert!(back.changes.iter().all(|c| c.rollout.is_none()));
                continue;
            }
            let read = back.changes[0].rollout.as_ref().expect("a rollout");
            assert_eq!(&read.from, step, "step {i} of {vhost}");
        }
        let mut broken = desired.clone();
        let wrong = vec![(rollout.splits[0].0.clone(), vec!["nope".to_string()])];
        assert!(
            crate::envoy::set_route_weights(&mut broken, &vhost, &wrong, &rollout.from).is_err()
        );
        assert_eq!(broken, desired, "a failed set changes nothing");
    }
}

#[test]
fn weights_are_valid_needs_a_positive_sum_per_split() {
    let with = |weights: &[Json]| {
        json!({"virtual_hosts": [{"name": "v", "routes": [{"name": "r", "route": {
            "weighted_clusters": {"clusters": weights.iter().enumerate()
                .map(|(i, w)| json!({"name": format!("c{i}"), "weight": w}))
                .collect::<Vec<_>>()}}}]}]})
    };
    assert!(crate::envoy::weights_are_valid(&with(&[
        json!(90),
        json!(10)
    ])));
    assert!(crate::envoy::weights_are_valid(&with(&[
        json!(0),
        json!(1)
    ])));
    assert!(!crate::envoy::weights_are_valid(&with(&[
        json!(0),
        json!(0)
    ])));
    assert!(!crate::envoy::weights_are_valid(&with(&[
        json!(-1),
        json!(5)
    ])));
    assert!(!crate::envoy::weights_are_valid(&with(&[
        json!(u64::from(u32::MAX)),
        json!(1)
    ])));
    assert!(!crate::envoy::weights_are_valid(&with(&[json!("10")])));
    assert!(crate::envoy::weights_are_valid(
        &json!({"virtual_hosts": []})
    ));
}
