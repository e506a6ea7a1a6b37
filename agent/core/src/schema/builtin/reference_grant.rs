//! ReferenceGrant (`gateway.networking.k8s.io/v1` and `v1beta1`, the same schema): which
//! objects of other namespaces may refer to objects of this one.

use super::common::{group, kind, namespace, object_name, root};
use crate::schema::model::{array, object, Schema};

/// The whole ReferenceGrant object.
pub fn schema() -> Schema {
    let from = object()
        .required_field("group", group(None))
        .required_field("kind", kind(None))
        .required_field("namespace", namespace());
    let to = object()
        .required_field("group", group(None))
        .required_field("kind", kind(None))
        .field("name", object_name());
    let spec = object()
        .required_field("from", array(from).min_items(1).max_items(16))
        .required_field("to", array(to).min_items(1).max_items(16));
    root(spec)
}
