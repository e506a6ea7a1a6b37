//! The `input` documents policies see: one resource, or the whole plan (shapes in the
//! [module docs](super)).

use serde_json::{json, Map, Value as Json};

use crate::ir::{self, RouteIr, Scope};
use crate::load::Loaded;
use crate::model::{Family, Resource};
use crate::plan::select::policy_for;
use crate::plan::{Change, Plan, RolloutPlan, WeightMap};

/// The `input` of resource packages for one resource. `resources` are all resources of the
/// revision (to find the RolloutPolicy that selects a route).
pub fn resource_input(resource: &Resource, resources: &[Resource]) -> Json {
    let mut object = match &resource.body {
        Json::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let kind = resource.id.kind;
    if resource.id.kind.family() == Family::NetworkServices {
        let mut spec = object.clone();
        spec.remove("apiVersion");
        spec.remove("kind");
        object.insert("spec".into(), Json::Object(spec));
        object.insert(
            "metadata".into(),
            json!({"name": resource.id.name, "labels": resource.labels}),
        );
    } else {
        let mut metadata = match object.remove("metadata") {
            Some(Json::Object(map)) => map,
            _ => Map::new(),
        };
        metadata
            .entry("name")
            .or_insert_with(|| Json::String(resource.id.name.clone()));
        if !resource.id.namespace.is_empty() {
            metadata
                .entry("namespace")
                .or_insert_with(|| Json::String(resource.id.namespace.clone()));
        }
        object.insert("metadata".into(), Json::Object(metadata));
    }
    object
        .entry("apiVersion")
        .or_insert_with(|| Json::String(kind.api_version().into()));
    object
        .entry("kind")
        .or_insert_with(|| Json::String(kind.api_kind().into()));
    object.insert("file".into(), json!(resource.file));
    object.insert("line".into(), json!(resource.pos.line));
    object.insert("column".into(), json!(resource.pos.column));
    object.insert("document".into(), json!(resource.doc_index));
    object.insert("family".into(), json!(kind.family().as_str()));
    object.insert("id".into(), json!(resource.id.to_string()));
    let route = ir::route(resource).map_or(Json::Null, |r| route_facts(&r, resources));
    object.insert("route".into(), route);
    Json::Object(object)
}

/// meshcd's reading of a route: hosts, where it attaches, its policy, its splits.
fn route_facts(route: &RouteIr<'_>, resources: &[Resource]) -> Json {
    let mut meshes = Vec::new();
    let mut gateways = Vec::new();
    let mut external_mesh = false;
    for scope in &route.scopes {
        match scope {
            Scope::Mesh(Some(name)) => meshes.push(name.clone()),
            Scope::Mesh(None) => meshes.push("*".to_string()),
            Scope::ExternalMesh => external_mesh = true,
            Scope::Gateway(name) => gateways.push(name.clone()),
        }
    }
    let rules: Vec<Json> = route
        .rules
        .iter()
        .map(|rule| {
            let backends: Vec<Json> = match &rule.split {
                Some(split) => {
                    let shares = split.percentages().ok();
                    split
                        .backends
                        .iter()
                        .enumerate()
                        .map(|(i, b)| {
                            json!({
                                "key": b.key,
                                "name": b.name,
                                "namespace": b.namespace,
                                "weight": b.weight,
                                "share": shares.as_ref().and_then(|s| s.get(i)),
                            })
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            json!({
                "path": rule.path.to_string(),
                "protocol": rule.protocol,
                "redirect": rule.redirect,
                "backends": backends,
            })
        })
        .collect();
    json!({
        "hosts": route.hosts.iter().map(|h| &h.value).collect::<Vec<_>>(),
        "meshes": meshes,
        "gateways": gateways,
        "externalMesh": external_mesh,
        "rolloutPolicy": policy_for(resources, route).map(|(name, _)| name),
        "rules": rules,
    })
}

/// The `input` of plan packages: the plan's changes (each with its `id` and, for rollouts,
/// how much traffic moves), its summary, and every resource of the desired revision.
pub fn plan_input(plan: &Plan, desired: &Loaded) -> Json {
    let changes: Vec<Json> = plan.changes.iter().map(change_input).collect();
    let resources: Vec<Json> = desired
        .resources
        .iter()
        .map(|r| resource_input(r, &desired.resources))
        .collect();
    json!({
        "changes": changes,
        "summary": plan.summary,
        "resources": resources,
    })
}

fn change_input(change: &Change) -> Json {
    let mut value = serde_json::to_value(change).unwrap_or(Json::Null);
    if let Json::Object(map) = &mut value {
        map.insert("id".into(), json!(change.id().to_string()));
        map.entry("namespace").or_insert_with(|| json!(""));
        let traffic = change.rollout.as_ref().map_or(Json::Null, |r| {
            let (shift, max_step) = traffic(r);
            json!({"shift": shift, "maxStep": max_step})
        });
        map.insert("traffic".into(), traffic);
    }
    value
}

/// How much of a split's traffic a rollout moves, in percent: from `from` to the last step,
/// and in its largest single step; the largest over the moving splits.
fn traffic(rollout: &RolloutPlan) -> (u64, u64) {
    let all_keys: Vec<String> = rollout.from.keys().cloned().collect();
    let splits: Vec<&[String]> = if rollout.splits.is_empty() {
        vec![all_keys.as_slice()]
    } else {
        rollout
            .splits
            .iter()
            .map(|(_, keys)| keys.as_slice())
            .collect()
    };
    let moved = |a: &WeightMap, b: &WeightMap, keys: &[String]| -> u64 {
        keys.iter()
            .map(|k| {
                let before = a.get(k).copied().unwrap_or(0);
                let after = b.get(k).copied().unwrap_or(0);
                after.saturating_sub(before)
            })
            .sum()
    };
    let mut stages = vec![&rollout.from];
    stages.extend(rollout.steps.iter());
    let last = stages.last().copied().unwrap_or(&rollout.from);
    let mut shift = 0;
    let mut max_step = 0;
    for keys in splits {
        shift = shift.max(moved(&rollout.from, last, keys));
        for pair in stages.windows(2) {
            max_step = max_step.max(moved(pair[0], pair[1], keys));
        }
    }
    (shift, max_step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::default_policy;
    use crate::plan::rollout_between;

    fn map(pairs: &[(&str, u64)]) -> WeightMap {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn traffic_counts_what_moves() {
        let rollout = rollout_between(
            &map(&[("blue", 99), ("green", 1)]),
            &map(&[("blue", 0), ("green", 100)]),
            "default",
            &default_policy(),
        )
        .unwrap();
        // 1 → 10 → 50 → 100: the whole commit moves 99 %, its largest step 50 %.
        assert_eq!(traffic(&rollout), (99, 50));
    }
}
