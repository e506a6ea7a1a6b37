//! Putting a rollout step's weights into a route's document, for targets that store route
//! resources as they are written (Cloud Service Mesh, Kubernetes, rendered files): a step is
//! the desired document with the weights of its moving splits replaced.

use serde_json::Value as Json;

use super::rollout::relative;
use super::WeightMap;
use crate::ir;
use crate::model::Resource;
use crate::path::{FieldPath, Segment};

/// The body of `resource` with the weights of a rollout step: for each moving split
/// `(rule, keys)` of the rollout (see [`super::RolloutPlan::splits`]), the `i`th backend of
/// that rule gets `weights[keys[i]]` as its `weight` (every backend of the split is given one,
/// as networkservices asks "all or none weighted"). An empty `rule` names the route's only
/// split. Errors when the rule, a backend or a key is missing (the route changed shape and the
/// rollout no longer applies); `resource` is never changed.
pub fn with_weights(
    resource: &Resource,
    splits: &[(String, Vec<String>)],
    weights: &WeightMap,
) -> Result<Json, String> {
    let route = ir::route(resource).ok_or_else(|| format!("{} is not a route", resource.id))?;
    if splits.is_empty() {
        return Err(format!("the rollout of {} names no split", resource.id));
    }
    let spec_path = resource.spec_path();
    let rules: Vec<(String, &ir::Split)> = route
        .rules
        .iter()
        .filter_map(|rule| {
            let split = rule.split.as_ref()?;
            Some((relative(&rule.path, &spec_path).to_string(), split))
        })
        .collect();
    let mut body = resource.body.clone();
    for (rule, keys) in splits {
        let split = match rules.iter().find(|(path, _)| path == rule) {
            Some((_, split)) => *split,
            None if rule.is_empty() && rules.len() == 1 => rules[0].1,
            None => return Err(format!("{} has no split at {rule}", resource.id)),
        };
        if split.backends.len() != keys.len() {
            return Err(format!(
                "{} {rule} has {} backends, the rollout {}",
                resource.id,
                split.backends.len(),
                keys.len()
            ));
        }
        for (backend, key) in split.backends.iter().zip(keys) {
            let weight = weights
                .get(key)
                .ok_or_else(|| format!("the step has no weight for `{key}` of {}", resource.id))?;
            match field_mut(&mut body, &backend.path) {
                Some(Json::Object(entry)) => {
                    entry.insert("weight".into(), Json::from(*weight));
                }
                _ => {
                    return Err(format!(
                        "{} has no backend entry at {}",
                        resource.id, backend.path
                    ))
                }
            }
        }
    }
    Ok(body)
}

/// The value at `path` inside `value`.
fn field_mut<'a>(value: &'a mut Json, path: &FieldPath) -> Option<&'a mut Json> {
    path.segments()
        .iter()
        .try_fold(value, |current, segment| match segment {
            Segment::Key(key) => current.get_mut(key.as_str()),
            Segment::Index(i) => current.get_mut(*i),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load;
    use crate::plan::plan;
    use crate::source::SourceFile;

    fn one(text: &str) -> Resource {
        let loaded = load(vec![SourceFile::new("r.yaml", text)]);
        assert!(loaded.findings.is_empty(), "{:?}", loaded.findings);
        loaded.resources.into_iter().next().expect("a resource")
    }

    const NS_ROUTE: &str = "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nname: r\nhostnames: [a.example]\nmeshes: [projects/p/locations/global/meshes/m]\nrules:\n- action:\n    destinations:\n    - serviceName: projects/p/locations/global/backendServices/a\n      weight: 100\n    - serviceName: projects/p/locations/global/backendServices/b\n      weight: 0\n";

    #[test]
    fn each_step_of_a_rollout_sets_the_split_weights_and_nothing_else() {
        let applied = one(NS_ROUTE);
        let desired = one(&NS_ROUTE
            .replace("weight: 100", "weight: 0")
            .replace("b\n      weight: 0", "b\n      weight: 100"));
        let change = plan(
            &crate::Loaded {
                resources: vec![desired.clone()],
                ..Default::default()
            },
            &crate::Loaded {
                resources: vec![applied.clone()],
                ..Default::default()
            },
        )
        .changes
        .remove(0);
        let rollout = change.rollout.expect("a weight move is a rollout");
        let first = with_weights(&desired, &rollout.splits, &rollout.steps[0]).expect("fits");
        let shares: Vec<u64> = first["rules"][0]["action"]["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .map(|d| d["weight"].as_u64().expect("weight"))
            .collect();
        assert_eq!(shares, vec![90, 10]);
        let mut without = first.clone();
        without["rules"][0]["action"]["destinations"][0]["weight"] = Json::from(0);
        without["rules"][0]["action"]["destinations"][1]["weight"] = Json::from(100);
        assert_eq!(without, desired.body, "only weights differ");
        let last = with_weights(
            &desired,
            &rollout.splits,
            rollout.steps.last().expect("steps"),
        )
        .expect("fits");
        assert_eq!(last, desired.body);
    }

    #[test]
    fn a_rollout_that_no_longer_fits_the_route_is_an_error() {
        let route = one(NS_ROUTE);
        let mut weights = WeightMap::new();
        weights.insert("a".into(), 50);
        let splits = vec![("rules[0]".to_string(), vec!["a".to_string()])];
        let error = with_weights(&route, &splits, &weights).expect_err("one key for two backends");
        assert!(error.contains("2 backends"), "{error}");
        let splits = vec![("rules[3]".to_string(), vec!["a".into(), "b".into()])];
        assert!(with_weights(&route, &splits, &weights).is_err());
        let splits = vec![("rules[0]".to_string(), vec!["a".into(), "b".into()])];
        let error = with_weights(&route, &splits, &weights).expect_err("no weight for b");
        assert!(error.contains("`b`"), "{error}");
    }

    #[test]
    fn istio_and_gateway_api_weights_are_set_in_their_own_fields() {
        let vs = one("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: ns}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r, subset: v1}\n      weight: 100\n    - destination: {host: r, subset: v2}\n");
        let mut weights = WeightMap::new();
        weights.insert("r/v1".into(), 70);
        weights.insert("r/v2".into(), 30);
        let splits = vec![("http[0]".to_string(), vec!["r/v1".into(), "r/v2".into()])];
        let body = with_weights(&vs, &splits, &weights).expect("fits");
        assert_eq!(body["spec"]["http"][0]["route"][0]["weight"], 70);
        assert_eq!(body["spec"]["http"][0]["route"][1]["weight"], 30);
        let hr = one("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: ns}\nspec:\n  rules:\n  - backendRefs:\n    - {name: a, port: 80}\n    - {name: b, port: 80, weight: 0}\n");
        let mut weights = WeightMap::new();
        weights.insert("a".into(), 60);
        weights.insert("b".into(), 40);
        let splits = vec![(String::new(), vec!["a".into(), "b".into()])];
        let body = with_weights(&hr, &splits, &weights).expect("the only split");
        assert_eq!(body["spec"]["rules"][0]["backendRefs"][0]["weight"], 60);
        assert_eq!(body["spec"]["rules"][0]["backendRefs"][1]["weight"], 40);
    }
}
