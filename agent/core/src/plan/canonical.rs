//! The canonical form of a resource: what a plan compares, diffs and shows.
//!
//! Two documents that say the same thing have the same canonical form, whatever their key order,
//! quoting style, or the fields a server adds on its own:
//!
//! - dropped everywhere: `status`; top-level `createTime`, `updateTime`, `selfLink`, `etag`;
//!   `metadata.{creationTimestamp, resourceVersion, uid, generation, managedFields, selfLink}`
//!   and the annotation `kubectl.kubernetes.io/last-applied-configuration` (an `annotations`
//!   map left empty is dropped too);
//! - Kubernetes-style kinds: `metadata.namespace` is set to the resource's namespace, so a
//!   document that omits `namespace: default` equals one that states it;
//! - networkservices: the `gcloud ... import` form, so a document with an `apiVersion`/`kind`
//!   header equals a header-less export of the same route: `apiVersion`, `kind`, `metadata` and
//!   `name` are dropped (the name is the resource id's; the full `projects/...` path is where
//!   the route lives, not what it says);
//! - keys sorted at every level.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::ir::RouteIr;
use crate::model::{Family, Resource};
use crate::path::{FieldPath, Segment};

/// Top-level fields a server sets (networkservices output-only fields and the like).
const SERVER_TOP_LEVEL: &[&str] = &["status", "createTime", "updateTime", "selfLink", "etag"];

/// `metadata` fields a Kubernetes API server sets.
const SERVER_METADATA: &[&str] = &[
    "creationTimestamp",
    "resourceVersion",
    "uid",
    "generation",
    "managedFields",
    "selfLink",
];

/// The annotation `kubectl apply` keeps its input in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The canonical form of a resource's document (see the module docs), keys sorted.
pub fn canonical(resource: &Resource) -> Json {
    let mut fields = match &resource.body {
        Json::Object(map) => map.clone(),
        other => return sorted(other.clone()),
    };
    for key in SERVER_TOP_LEVEL {
        fields.remove(*key);
    }
    if resource.id.kind.family() == Family::NetworkServices {
        for key in ["apiVersion", "kind", "metadata", "name"] {
            fields.remove(key);
        }
    } else {
        if fields.contains_key("apiVersion") {
            // Served versions of one kind (Istio v1alpha3/v1beta1/v1, Gateway API v1beta1/v1)
            // are the same stored object: a version bump alone is not a change.
            fields.insert(
                "apiVersion".into(),
                Json::String(resource.id.kind.api_version().to_string()),
            );
        }
        if let Some(Json::Object(metadata)) = fields.get_mut("metadata") {
            strip_server_metadata(metadata, &resource.id.namespace);
        }
    }
    sorted(Json::Object(fields))
}

/// Removes what the API server adds to `metadata`, and spells out the namespace.
fn strip_server_metadata(metadata: &mut serde_json::Map<String, Json>, namespace: &str) {
    for key in SERVER_METADATA {
        metadata.remove(*key);
    }
    let annotations_left = match metadata.get_mut("annotations") {
        Some(Json::Object(annotations)) => {
            annotations.remove(LAST_APPLIED);
            !annotations.is_empty()
        }
        _ => true,
    };
    if !annotations_left {
        metadata.remove("annotations");
    }
    if !namespace.is_empty() {
        metadata.insert("namespace".into(), Json::String(namespace.to_string()));
    }
}

/// The canonical form of a resource as YAML text (what a plan's text diff shows).
pub fn canonical_yaml(resource: &Resource) -> String {
    to_yaml(&canonical(resource))
}

/// Emits a JSON value as block YAML ending in a newline. Should the emitter ever refuse a
/// value, pretty JSON (which is YAML too) is returned instead.
pub(crate) fn to_yaml(value: &Json) -> String {
    let mut text = serde_yaml_ng::to_string(value)
        .unwrap_or_else(|_| serde_json::to_string_pretty(value).unwrap_or_default());
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The value with the keys of every mapping sorted.
pub(crate) fn sorted(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let ordered: BTreeMap<String, Json> =
                map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Json::Object(ordered.into_iter().collect::<Map<String, Json>>())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A canonical body with the `weight` of every backend of the route's splits removed: two
/// bodies equal in this form differ at most in their weights.
///
/// The backends are found through the route IR (networkservices `destinations[]`, Istio
/// `route[]` under `http`/`tcp`/`tls`, Gateway API `backendRefs[]`), whose paths are the same
/// in the document and in its canonical form.
pub(crate) fn without_weights(canonical: &Json, route: &RouteIr<'_>) -> Json {
    let mut value = canonical.clone();
    for split in route.rules.iter().filter_map(|rule| rule.split.as_ref()) {
        for backend in &split.backends {
            if let Some(Json::Object(entry)) = pointer_mut(&mut value, &backend.path) {
                entry.remove("weight");
            }
        }
    }
    value
}

/// The value at a field path, mutably.
fn pointer_mut<'a>(value: &'a mut Json, path: &FieldPath) -> Option<&'a mut Json> {
    path.segments()
        .iter()
        .try_fold(value, |current, segment| match (segment, current) {
            (Segment::Key(key), Json::Object(map)) => map.get_mut(key),
            (Segment::Index(i), Json::Array(items)) => items.get_mut(*i),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load;
    use crate::source::SourceFile;

    fn first(text: &str) -> Resource {
        let loaded = load(vec![SourceFile::new("r.yaml", text)]);
        loaded.resources.into_iter().next().expect("one resource")
    }

    #[test]
    fn drops_server_fields_and_sorts_keys() {
        let resource = first(
            "kind: VirtualService\napiVersion: networking.istio.io/v1\nmetadata:\n  name: a\n  uid: x\n  resourceVersion: '7'\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{}'\nspec: {hosts: [a]}\nstatus: {ok: true}\n",
        );
        assert_eq!(
            canonical_yaml(&resource),
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: a\n  namespace: default\nspec:\n  hosts:\n  - a\n"
        );
    }

    #[test]
    fn networkservices_takes_the_gcloud_form() {
        let resource = first(
            "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\nmetadata: {name: r}\nname: projects/p/locations/global/httpRoutes/r\nupdateTime: '2024-01-01T00:00:00Z'\nhostnames: [a.internal]\nrules: []\n",
        );
        assert_eq!(
            canonical_yaml(&resource),
            "hostnames:\n- a.internal\nrules: []\n"
        );
    }
}
