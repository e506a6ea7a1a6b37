//! Plans: what would change to make the applied state equal the desired one, as a value.
//!
//! [`plan`] matches the resources of two revisions by [`ResourceId`] and compares their
//! [canonical forms](canonical()): a resource only in the desired revision is created, one only
//! in the applied revision is deleted, and one whose canonical forms differ is updated, with a
//! field diff and a unified text diff of the canonical YAML. An update that only moves traffic
//! weights of a route carries a [`RolloutPlan`] (see [`rollout`] for the rules
//! and the step algorithm). meshcd's own kinds (RolloutPolicy, Backend) configure meshcd and are
//! never part of a plan.
//!
//! A plan is not undone by inverting it: a failed rollout returns its route to the `from`
//! weights of its [`RolloutPlan`], recorded in the persisted state machine
//! ([`crate::rollout::machine::Rollout`]), and any other change is undone by the next revision
//! Git holds.

pub(crate) mod canonical;
mod fields;
pub mod rollout;
pub mod select;
pub(crate) mod text;
pub mod weights;
pub mod windows;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use canonical::{canonical, canonical_yaml};
pub use fields::{field_diff, FieldChange};
pub use rollout::{
    default_policy, rollout_between, rollout_steps, step_values, RolloutPlan, SplitShares,
    WeightMap, DEFAULT_POLICY_NAME,
};

use crate::load::Loaded;
use crate::model::{Family, Kind, Resource, ResourceId};

/// What a change does to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The resource is only desired: create it.
    Create,
    /// The resource exists with other content: update it.
    Update,
    /// The resource is only applied: delete it.
    Delete,
}

impl Action {
    /// `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resource to create, update or delete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Create, update or delete.
    pub action: Action,
    /// The resource's kind.
    pub kind: Kind,
    /// The kind's family.
    pub family: Family,
    /// Kubernetes namespace; empty for networkservices.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The resource's name.
    pub name: String,
    /// The desired file (the applied file for deletes).
    pub file: String,
    /// Updates: the fields that change, in path order. Empty for creates and deletes.
    pub fields: Vec<FieldChange>,
    /// Unified diff of the canonical YAML (`a/<file>`, `b/<file>`, 3 lines of context); creates
    /// and deletes show the whole resource as `+` or `-` lines.
    pub diff: String,
    /// For an update that only moves a route's weights: how they move, step by step.
    pub rollout: Option<RolloutPlan>,
}

impl Change {
    /// The resource this change is about.
    pub fn id(&self) -> ResourceId {
        ResourceId {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    fn new(action: Action, resource: &Resource) -> Change {
        Change {
            action,
            kind: resource.id.kind,
            family: resource.id.kind.family(),
            namespace: resource.id.namespace.clone(),
            name: resource.id.name.clone(),
            file: resource.file.clone(),
            fields: Vec::new(),
            diff: String::new(),
            rollout: None,
        }
    }

    /// Sort key: family, kind, namespace, name.
    fn order_key(&self) -> (Family, Kind, &str, &str) {
        (self.family, self.kind, &self.namespace, &self.name)
    }
}

/// How many resources each action touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resources to create.
    pub create: usize,
    /// Resources to update (rollouts included).
    pub update: usize,
    /// Resources to delete.
    pub delete: usize,
    /// Updates that are rollouts.
    pub rollouts: usize,
    /// Resources present on both sides with equal canonical forms.
    pub unchanged: usize,
}

impl Summary {
    /// Counts the changes; `unchanged` is passed in, as no change records it.
    pub fn of(changes: &[Change], unchanged: usize) -> Summary {
        let count = |action| changes.iter().filter(|c| c.action == action).count();
        Summary {
            create: count(Action::Create),
            update: count(Action::Update),
            delete: count(Action::Delete),
            rollouts: changes.iter().filter(|c| c.rollout.is_some()).count(),
            unchanged,
        }
    }
}

/// What would change to make the applied state equal the desired one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The changes, sorted by family, kind, namespace and name.
    pub changes: Vec<Change>,
    /// Counts.
    pub summary: Summary,
}

impl Plan {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// This plan without its deletions, and the deletions (for targets that keep resources
    /// Git no longer has unless pruning is on).
    #[must_use]
    pub fn without_deletes(&self) -> (Plan, Vec<Change>) {
        let (deletes, changes): (Vec<Change>, Vec<Change>) = self
            .changes
            .iter()
            .cloned()
            .partition(|c| c.action == Action::Delete);
        (
            Plan {
                summary: Summary::of(&changes, self.summary.unchanged),
                changes,
            },
            deletes,
        )
    }
}

/// The plan that takes the `applied` revision to the `desired` one.
///
/// Resources are matched by [`ResourceId`]; meshcd's own kinds are left out, and when an id
/// occurs twice in one revision (a load error) its first resource is used. RolloutPolicies are
/// taken from the desired revision.
pub fn plan(desired: &Loaded, applied: &Loaded) -> Plan {
    let wanted = by_id(&desired.resources);
    let present = by_id(&applied.resources);
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for (id, desired_resource) in &wanted {
        match present.get(id) {
            None => changes.push(create(desired_resource)),
            Some(applied_resource) => {
                match update(desired_resource, applied_resource, &desired.resources) {
                    Some(change) => changes.push(change),
                    None => unchanged += 1,
                }
            }
        }
    }
    for (id, applied_resource) in &present {
        if !wanted.contains_key(id) {
            changes.push(delete(applied_resource));
        }
    }
    changes.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    Plan {
        summary: Summary::of(&changes, unchanged),
        changes,
    }
}

/// The planned resources of a revision by id (first occurrence wins).
fn by_id(resources: &[Resource]) -> BTreeMap<&ResourceId, &Resource> {
    let mut map = BTreeMap::new();
    for resource in resources {
        if resource.id.kind.family() != Family::Meshcd {
            map.entry(&resource.id).or_insert(resource);
        }
    }
    map
}

fn create(resource: &Resource) -> Change {
    Change {
        diff: text::unified("", &canonical_yaml(resource), &resource.file),
        ..Change::new(Action::Create, resource)
    }
}

fn delete(resource: &Resource) -> Change {
    Change {
        diff: text::unified(&canonical_yaml(resource), "", &resource.file),
        ..Change::new(Action::Delete, resource)
    }
}

/// The update from `applied` to `desired`, or `None` when their canonical forms are equal.
fn update(desired: &Resource, applied: &Resource, policies: &[Resource]) -> Option<Change> {
    let after = canonical(desired);
    let before = canonical(applied);
    if after == before {
        return None;
    }
    Some(Change {
        fields: field_diff(&before, &after),
        diff: text::unified(
            &canonical::to_yaml(&before),
            &canonical::to_yaml(&after),
            &desired.file,
        ),
        rollout: rollout::rollout(desired, applied, &after, &before, policies),
        ..Change::new(Action::Update, desired)
    })
}
