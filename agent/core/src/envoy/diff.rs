//! The plan that takes what an Envoy holds (applied) to what a revision asks for (desired).
//!
//! Virtual hosts are matched by name and stand for their route resource (the name is parsed
//! back with [`parse_vhost_name`]; a virtual host whose name meshcd did not make is not
//! meshcd's and is left out); so do the TCP, TLS and UDP routes of
//! [`EnvoyState::l4_routes`] (their filter chains and UDP listeners). Clusters are matched by name and reported as `Backend` changes.
//! A virtual host only desired is created, one only applied deleted, one that differs updated,
//! with the field diff and the text diff of the normalized JSON (as YAML).
//!
//! An update is a **rollout** when the two virtual hosts (or filter chain sets) are equal once
//! every `weighted_clusters.clusters[].weight` is removed and some split's shares move: `from` is the
//! applied (Envoy) shares, keyed by the desired split's backend keys (cluster names are mapped
//! back through the route resource's IR; the cluster name is the key when that fails), and the
//! steps follow [`rollout_steps`] with the RolloutPolicy of the revision that selects the route,
//! or the default policy.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::translate::clusters::{cluster_name, sanitize};
use super::translate::routes::{parse_vhost_name, rule_name};
use super::weights::{weighted_clusters, weighted_clusters_mut};
use super::EnvoyState;
use crate::ir::{self, RouteIr};
use crate::load::Loaded;
use crate::model::{Kind, Resource, ResourceId, Spec};
use crate::path::{FieldPath, Segment};
use crate::plan::canonical::to_yaml;
use crate::plan::rollout::{self, moving_splits, RuleShares};
use crate::plan::select::policy_for;
use crate::plan::{
    default_policy, field_diff, rollout_steps, text, Action, Change, Plan, RolloutPlan, Summary,
    DEFAULT_POLICY_NAME,
};

/// The plan that takes the `applied` Envoy state to the `desired` one; `loaded` is the desired
/// revision (files, route IR and RolloutPolicies).
pub fn diff(desired: &EnvoyState, applied: &EnvoyState, loaded: &Loaded) -> Plan {
    let mut routes: BTreeMap<&ResourceId, &Resource> = BTreeMap::new();
    for resource in &loaded.resources {
        routes.entry(&resource.id).or_insert(resource);
    }
    let find = |id: &ResourceId| routes.get(id).copied();
    let backend_files = backend_files(loaded);
    let backend_file = |cluster: &str| {
        backend_files
            .get(cluster)
            .map_or_else(String::new, |f| f.to_string())
    };
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for (wanted, held) in [
        (&desired.virtual_hosts, &applied.virtual_hosts),
        (&desired.l4_routes, &applied.l4_routes),
    ] {
        for (name, want) in wanted {
            let Some(id) = parse_vhost_name(name) else {
                continue;
            };
            let resource = find(&id);
            let file = resource.map(|r| r.file.clone()).unwrap_or_default();
            match held.get(name) {
                None => changes.push(whole(Action::Create, id, file, name, want)),
                Some(have) if have == want => unchanged += 1,
                Some(have) => {
                    let mut change = update(id, file, name, have, want);
                    change.rollout = rollout(want, have, resource, loaded);
                    changes.push(change);
                }
            }
        }
        for (name, have) in held {
            if wanted.contains_key(name) {
                continue;
            }
            if let Some(id) = parse_vhost_name(name) {
                let file = find(&id).map(|r| r.file.clone()).unwrap_or_default();
                changes.push(whole(Action::Delete, id, file, name, have));
            }
        }
    }
    for (name, want) in &desired.clusters {
        let id = backend_id(name);
        let file = backend_file(name);
        match applied.clusters.get(name) {
            None => changes.push(whole(Action::Create, id, file, name, want)),
            Some(have) if have == want => unchanged += 1,
            Some(have) => changes.push(update(id, file, name, have, want)),
        }
    }
    for (name, have) in &applied.clusters {
        if !desired.clusters.contains_key(name) {
            let file = backend_file(name);
            changes.push(whole(Action::Delete, backend_id(name), file, name, have));
        }
    }
    changes.sort_by(|a, b| {
        (a.family, a.kind, &a.namespace, &a.name).cmp(&(b.family, b.kind, &b.namespace, &b.name))
    });
    Plan {
        summary: Summary::of(&changes, unchanged),
        changes,
    }
}

/// The id a cluster's change carries: a `Backend` named like the cluster.
fn backend_id(cluster: &str) -> ResourceId {
    ResourceId {
        kind: Kind::Backend,
        namespace: String::new(),
        name: cluster.to_string(),
    }
}

/// The files of meshcd Backends by the cluster names they most likely stand for (their name,
/// and each alias, sanitized; the first Backend wins).
fn backend_files(loaded: &Loaded) -> BTreeMap<String, &str> {
    let mut files = BTreeMap::new();
    for r in &loaded.resources {
        if let Spec::Backend(spec) = &r.spec {
            for name in std::iter::once(&r.id.name).chain(&spec.aliases) {
                files.entry(sanitize(name)).or_insert(r.file.as_str());
            }
        }
    }
    files
}

fn change(action: Action, id: ResourceId, file: String) -> Change {
    Change {
        action,
        kind: id.kind,
        family: id.kind.family(),
        namespace: id.namespace,
        name: id.name,
        file,
        fields: Vec::new(),
        diff: String::new(),
        rollout: None,
    }
}

/// The label of a text diff: the file, or the Envoy name when the file is not known.
fn label<'a>(file: &'a str, name: &'a str) -> &'a str {
    if file.is_empty() {
        name
    } else {
        file
    }
}

/// A create (the whole value as `+` lines) or a delete (as `-` lines).
fn whole(action: Action, id: ResourceId, file: String, name: &str, value: &Json) -> Change {
    let yaml = to_yaml(value);
    let diff = match action {
        Action::Delete => text::unified(&yaml, "", label(&file, name)),
        _ => text::unified("", &yaml, label(&file, name)),
    };
    Change {
        diff,
        ..change(action, id, file)
    }
}

fn update(id: ResourceId, file: String, name: &str, have: &Json, want: &Json) -> Change {
    Change {
        fields: field_diff(have, want),
        diff: text::unified(&to_yaml(have), &to_yaml(want), label(&file, name)),
        ..change(Action::Update, id, file)
    }
}

/// The routes of a virtual host, or the filter chains of a TCP or TLS route: the entries that
/// carry weighted clusters, each named after its rule.
const WEIGHTED_ENTRIES: [&str; 2] = ["routes", "filter_chains"];

fn entries(value: &Json) -> Vec<&Json> {
    WEIGHTED_ENTRIES
        .iter()
        .filter_map(|key| value.get(*key).and_then(Json::as_array))
        .flatten()
        .collect()
}

/// A virtual host (or a TCP or TLS route) without the weights of its weighted clusters.
fn without_weights(vhost: &Json) -> Json {
    let mut value = vhost.clone();
    for key in WEIGHTED_ENTRIES {
        if let Some(Json::Array(items)) = value.get_mut(key) {
            for item in items {
                if let Some(clusters) = weighted_clusters_mut(item) {
                    for cluster in clusters {
                        if let Json::Object(entry) = cluster {
                            entry.remove("weight");
                        }
                    }
                }
            }
        }
    }
    value
}

/// The rollout of an update of a virtual host, when it only moves weights (see the module
/// docs).
fn rollout(
    want: &Json,
    have: &Json,
    resource: Option<&Resource>,
    loaded: &Loaded,
) -> Option<RolloutPlan> {
    if without_weights(want) != without_weights(have) {
        return None;
    }
    let route_ir = resource.and_then(ir::route);
    let want_routes = entries(want);
    let have_routes = entries(have);
    let mut rules_seen = BTreeSet::new();
    let mut shares: Vec<RuleShares> = Vec::new();
    for (w, h) in want_routes.into_iter().zip(have_routes) {
        let (Some(w_clusters), Some(h_clusters)) = (weighted_clusters(w), weighted_clusters(h))
        else {
            continue;
        };
        let rule = rule_of(w.get("name").and_then(Json::as_str).unwrap_or(""));
        if !rules_seen.insert(rule.clone()) {
            continue;
        }
        let to = ir::percentages(&weights(w_clusters)?);
        let from = ir::percentages(&weights(h_clusters)?);
        let names: Vec<&str> = w_clusters
            .iter()
            .map(|c| c.get("name").and_then(Json::as_str).unwrap_or(""))
            .collect();
        let keys = route_ir
            .as_ref()
            .and_then(|route| split_keys(route, &rule, &names))
            .unwrap_or_else(|| names.iter().map(|n| n.to_string()).collect());
        shares.push((rule, keys, from, to));
    }
    let changes = moving_splits(shares, &FieldPath::root())?;
    let (policy_name, policy) = match route_ir
        .as_ref()
        .and_then(|route| policy_for(&loaded.resources, route))
    {
        Some((name, spec)) => (name, spec.clone()),
        None => (DEFAULT_POLICY_NAME, default_policy()),
    };
    rollout_steps(policy_name, &policy, &changes)
}

/// The weights of weighted clusters; `None` when one has none (not a weight-only change).
fn weights(clusters: &[Json]) -> Option<Vec<u64>> {
    clusters
        .iter()
        .map(|c| c.get("weight").and_then(Json::as_u64))
        .collect()
}

/// The rule path of an Envoy route name: `rules[0].matches[1]` → `rules[0]`.
pub(crate) fn rule_of(route_name: &str) -> FieldPath {
    let path = FieldPath::parse(route_name);
    match path.segments() {
        [rest @ .., Segment::Key(key), Segment::Index(_)]
            if (key == "matches" || key == "match") && !rest.is_empty() =>
        {
            FieldPath(rest.to_vec())
        }
        _ => path,
    }
}

/// The backend keys of the route's split at `rule` (relative to the spec), when its backends map
/// to exactly these clusters, in order.
fn split_keys(route: &RouteIr<'_>, rule: &FieldPath, clusters: &[&str]) -> Option<Vec<String>> {
    let wanted = rule.to_string();
    let split = route
        .rules
        .iter()
        .find(|r| rule_name(route.resource, &r.path) == wanted)?
        .split
        .as_ref()?;
    let same = split.backends.len() == clusters.len()
        && split
            .backends
            .iter()
            .zip(clusters)
            .all(|(b, c)| cluster_name(b) == *c);
    same.then(|| rollout::keys(split))
}
