//! Which RolloutPolicy of the desired revision governs a route.
//!
//! Matching is [`crate::policy::selector::selects`]'s (names, hostnames, labels). When several
//! policies select a route, one selecting it by name wins over one selecting it by hostname,
//! which wins over one selecting it by labels; ties go to the alphabetically first policy name.

use crate::ir::RouteIr;
use crate::model::meshcd::{RolloutPolicySpec, Selector};
use crate::model::{Resource, Spec};
use crate::policy::selector::selects;

/// How a policy selects a route; the order is the precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum By {
    Name,
    Hostname,
    Labels,
}

/// The RolloutPolicy named `name` among `resources`.
pub fn policy_named<'a>(resources: &'a [Resource], name: &str) -> Option<&'a RolloutPolicySpec> {
    resources.iter().find_map(|r| match &r.spec {
        Spec::RolloutPolicy(spec) if r.id.name == name => Some(spec.as_ref()),
        _ => None,
    })
}

/// The policy (name and spec) that governs `route`, if any of `resources` selects it.
pub(crate) fn policy_for<'a>(
    resources: &'a [Resource],
    route: &RouteIr<'_>,
) -> Option<(&'a str, &'a RolloutPolicySpec)> {
    resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::RolloutPolicy(spec) => {
                selected_by(&spec.selector, route).map(|by| (by, r.id.name.as_str(), spec.as_ref()))
            }
            _ => None,
        })
        .min_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
        .map(|(_, name, spec)| (name, spec))
}

/// The strongest way the selector selects the route, if it does: each of its lists is tried
/// alone, strongest first.
fn selected_by(selector: &Selector, route: &RouteIr<'_>) -> Option<By> {
    let only = |selector: Selector| RolloutPolicySpec {
        selector,
        ..RolloutPolicySpec::default()
    };
    let parts = [
        (
            By::Name,
            only(Selector {
                routes: selector.routes.clone(),
                ..Selector::default()
            }),
        ),
        (
            By::Hostname,
            only(Selector {
                hostnames: selector.hostnames.clone(),
                ..Selector::default()
            }),
        ),
        (
            By::Labels,
            only(Selector {
                match_labels: selector.match_labels.clone(),
                ..Selector::default()
            }),
        ),
    ];
    parts
        .into_iter()
        .find(|(_, part)| selects(part, route))
        .map(|(by, _)| by)
}
