//! Which changes of a plan wait for a change window (see [`crate::policy::windows`]).
//!
//! A created or updated route is judged with the windows of the desired revision that select
//! it. A deleted route is no longer in the desired revision, so only windows that select every
//! route (an empty selector) can hold its deletion back. Backends and meshcd's own kinds are
//! never held: they do not change traffic by themselves.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Action, Plan};
use crate::ir;
use crate::load::Loaded;
use crate::policy::windows::Windows;

/// A change that waits for a change window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    /// The change's resource, as `Kind/namespace/name` (or `Kind/name`).
    pub resource: String,
    /// Why: the window and until when.
    pub reason: String,
    /// When the route is open next (within a year), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// The changes of `plan` that a change window of `loaded` (the desired revision) holds back at
/// `now`, in plan order.
pub fn held_changes(plan: &Plan, loaded: &Loaded, now: DateTime<Utc>) -> Vec<Held> {
    held_changes_with(&Windows::from_loaded(loaded), plan, loaded, now)
}

/// [`held_changes`] with the revision's windows already parsed (callers that judge many plans
/// of one revision, such as the daemon, parse them once).
pub fn held_changes_with(
    windows: &Windows,
    plan: &Plan,
    loaded: &Loaded,
    now: DateTime<Utc>,
) -> Vec<Held> {
    if windows.is_empty() {
        return Vec::new();
    }
    let at = windows.at(now);
    let mut held = Vec::new();
    for change in &plan.changes {
        if !change.kind.is_route() {
            continue;
        }
        let id = change.id();
        let state = match change.action {
            Action::Delete => windows.state_of_any_route(now),
            _ => {
                let Some(route) = loaded
                    .resources
                    .iter()
                    .find(|r| r.id == id)
                    .and_then(ir::route)
                else {
                    continue;
                };
                at.state(&route)
            }
        };
        if !state.open {
            held.push(Held {
                resource: id.to_string(),
                reason: state
                    .reason
                    .unwrap_or_else(|| "a change window is closed".into()),
                until: state.until,
            });
        }
    }
    held
}
