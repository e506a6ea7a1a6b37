//! Weight-only changes of a route become rollouts: the weights move step by step.
//!
//! # When an update is a rollout
//! An update of a route kind is a rollout when
//! 1. its canonical bodies are equal once the `weight` of every backend is removed
//!    (networkservices `destinations[].weight`, Istio `route[].weight` under `http`/`tcp`/`tls`,
//!    Gateway API `backendRefs[].weight`),
//! 2. the route IR of both sides has the same splits with the same backends in the same order,
//! 3. every split's weights are valid on both sides (see [`crate::ir::effective_weights`]),
//! 4. at least one split's traffic shares (whole percents) change, and every changed split
//!    sends traffic on both sides (a Gateway API split with all weights 0 sends none; turning
//!    it on or off is not a canary).
//!
//! Otherwise it is a plain update.
//!
//! # Steps
//! The *canary* is the backend whose share grows the most (ties: the first, in rule and backend
//! order); `c0`/`c1` are its applied/desired shares. The policy's step values (see
//! [`step_values`]) that lie strictly between `c0` and `c1` become intermediate steps: for a
//! step value `s`, `f = (s − c0) / (c1 − c0)` and every backend's share is
//! `applied + f × (desired − applied)`, rounded to whole percents summing to 100 per split by
//! largest remainder ([`crate::ir::percentages`] of the integer weights
//! `applied × (c1 − s) + desired × (s − c0)`, which are those shares scaled by `c1 − c0`). The
//! canary's share at step `s` is exactly `s`. The last step is always the desired split. With
//! no step value strictly between, the rollout is that single final step.
//!
//! Example: 99/1 → 0/100 with steps `[1, 10, 50, 100]` gives `from {target: 99, target-green:
//! 1}` and steps `{90, 10}`, `{50, 50}`, `{0, 100}`.
//!
//! # Keys
//! A [`WeightMap`] maps a backend key (`target`, `reviews/v2`) to its share. When several
//! splits of a route change, keys are prefixed with the rule's path, e.g. `rules[1]/target` or
//! `http[0]/reviews/v2`. A backend listed twice in one split gets `#index` appended.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::canonical::without_weights;
use super::select::policy_for;
use crate::ir::{self, RouteIr, Split};
use crate::model::meshcd::RolloutPolicySpec;
use crate::model::Resource;
use crate::path::FieldPath;
use crate::rollout::{OnFailure, OnInconclusive};

/// Backend key → traffic share in percent.
pub type WeightMap = BTreeMap<String, u64>;

/// The name a rollout reports when no RolloutPolicy selects the route.
pub const DEFAULT_POLICY_NAME: &str = "default";
/// Canary shares of the default policy.
pub const DEFAULT_STEPS: [i64; 3] = [10, 50, 100];
/// Bake time of the default policy (and of a policy that sets none).
pub const DEFAULT_BAKE_TIME: Duration = Duration::from_secs(30);
/// What the default policy does when a step fails.
pub const DEFAULT_ON_FAILURE: OnFailure = OnFailure::Rollback;
/// What the default policy does when a step's analysis is inconclusive.
pub const DEFAULT_ON_INCONCLUSIVE: OnInconclusive = OnInconclusive::Pause;

/// The policy used for routes no RolloutPolicy selects: steps `[10, 50, 100]`, bake time
/// `30s`, roll back on failure, pause when inconclusive. Fields a selected policy leaves unset
/// take these values too.
pub fn default_policy() -> RolloutPolicySpec {
    RolloutPolicySpec {
        steps: DEFAULT_STEPS.to_vec(),
        bake_time: Some(DEFAULT_BAKE_TIME),
        on_failure: Some(DEFAULT_ON_FAILURE),
        on_inconclusive: Some(DEFAULT_ON_INCONCLUSIVE),
        ..RolloutPolicySpec::default()
    }
}

/// How the weights of a route move: from the applied split through each step to the desired one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPlan {
    /// The RolloutPolicy that governs the route, or `default`.
    pub policy: String,
    /// Key of the backend whose share grows the most.
    pub canary: String,
    /// How long each step bakes before it is judged; written as text (`"30s"`, `"1m"`).
    #[serde(with = "crate::rollout::duration::text")]
    pub bake_time: Duration,
    /// What to do when a step fails (`rollback`, `pause`).
    pub on_failure: OnFailure,
    /// What to do when a step is inconclusive (`pause`, `rollback`, `continue`).
    pub on_inconclusive: OnInconclusive,
    /// Shares before the rollout (the applied weights).
    pub from: WeightMap,
    /// Shares at each step; the last is the desired split.
    pub steps: Vec<WeightMap>,
    /// Where the moving splits sit: each one's rule path (relative to the spec, e.g.
    /// `rules[1]`) and backend keys, in backend order. Targets use it to put a step's weights
    /// in place; not shown in plans.
    #[serde(skip)]
    pub splits: Vec<(String, Vec<String>)>,
}

/// The canary shares a policy stops at, increasing, each in `1..=100`: its `steps` when it has
/// any; else `stepWeight`, 2×`stepWeight`, ... up to `maxWeight` (default and at most 100);
/// else the default steps.
pub fn step_values(policy: &RolloutPolicySpec) -> Vec<u64> {
    let in_range = |v: &i64| (1..=100).contains(v);
    let mut values: Vec<u64> = if !policy.steps.is_empty() {
        policy
            .steps
            .iter()
            .filter(|v| in_range(v))
            .map(|v| *v as u64)
            .collect()
    } else if let Some(step) = policy.step_weight.filter(|w| in_range(w)) {
        let max = policy.max_weight.unwrap_or(100).min(100);
        (1..=100)
            .map(|k| k * step)
            .take_while(|v| *v <= max)
            .map(|v| v as u64)
            .collect()
    } else {
        DEFAULT_STEPS.iter().map(|v| *v as u64).collect()
    };
    values.sort_unstable();
    values.dedup();
    values
}

/// One split whose traffic shares move: its backend keys, and their shares in whole percents
/// before and after (each side summing to 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitShares {
    /// The rule's path relative to the spec (`rules[1]`, `http[0]`); empty when unknown.
    pub rule: String,
    /// Backend keys, in backend order (see "Keys" in the module docs).
    pub keys: Vec<String>,
    /// Shares before (the applied weights).
    pub from: Vec<u64>,
    /// Shares after (the desired weights).
    pub to: Vec<u64>,
}

/// The rollout of an update from `applied` to `desired` (both canonical), when it only moves
/// weights (see the module docs); `policies` are the desired revision's resources.
pub(crate) fn rollout(
    desired: &Resource,
    applied: &Resource,
    desired_canonical: &Json,
    applied_canonical: &Json,
    policies: &[Resource],
) -> Option<RolloutPlan> {
    if !desired.id.kind.is_route() {
        return None;
    }
    let desired_ir = ir::route(desired)?;
    let applied_ir = ir::route(applied)?;
    if without_weights(desired_canonical, &desired_ir)
        != without_weights(applied_canonical, &applied_ir)
    {
        return None;
    }
    let changes = changed_splits(desired, &applied_ir, &desired_ir)?;
    let (policy_name, selected) = match policy_for(policies, &desired_ir) {
        Some((name, spec)) => (name, spec.clone()),
        None => (DEFAULT_POLICY_NAME, default_policy()),
    };
    rollout_steps(policy_name, &selected, &changes)
}

/// The rollout that moves `changes` from their `from` to their `to` shares under a policy
/// (reported by `policy_name`; the fields it leaves unset take the default policy's values):
/// the canary, the intermediate steps and the final one, as described in the module docs.
/// `None` when no backend's share grows, or when a split's `keys`, `from` and `to` differ in
/// length or a side does not sum to 100.
pub fn rollout_steps(
    policy_name: &str,
    policy: &RolloutPolicySpec,
    changes: &[SplitShares],
) -> Option<RolloutPlan> {
    let well_formed = changes.iter().all(|c| {
        c.keys.len() == c.from.len()
            && c.keys.len() == c.to.len()
            && sums_to_100(c.from.iter())
            && sums_to_100(c.to.iter())
    });
    if !well_formed {
        return None;
    }
    let (canary, c0, c1) = canary(changes)?;
    let mut steps: Vec<WeightMap> = step_values(policy)
        .into_iter()
        .filter(|s| c0 < *s && *s < c1)
        .map(|s| {
            weight_map(changes, |change| {
                let scaled: Vec<u64> = change
                    .from
                    .iter()
                    .zip(&change.to)
                    .map(|(a, d)| {
                        a.saturating_mul(c1 - s)
                            .saturating_add(d.saturating_mul(s - c0))
                    })
                    .collect();
                ir::percentages(&scaled)
            })
        })
        .collect();
    steps.push(weight_map(changes, |change| change.to.clone()));
    Some(RolloutPlan {
        policy: policy_name.to_string(),
        canary,
        bake_time: policy.bake_time.unwrap_or(DEFAULT_BAKE_TIME),
        on_failure: policy.on_failure.unwrap_or(DEFAULT_ON_FAILURE),
        on_inconclusive: policy.on_inconclusive.unwrap_or(DEFAULT_ON_INCONCLUSIVE),
        from: weight_map(changes, |change| change.from.clone()),
        steps,
        splits: changes
            .iter()
            .map(|c| (c.rule.clone(), c.keys.clone()))
            .collect(),
    })
}

/// The rollout of one split given as two weight maps of the same keys, shares in percent each
/// summing to 100 (see [`rollout_steps`]); `None` when the keys differ, a side does not sum to
/// 100, or no share grows.
pub fn rollout_between(
    from: &WeightMap,
    to: &WeightMap,
    policy_name: &str,
    policy: &RolloutPolicySpec,
) -> Option<RolloutPlan> {
    if !from.keys().eq(to.keys()) {
        return None;
    }
    let split = SplitShares {
        rule: String::new(),
        keys: from.keys().cloned().collect(),
        from: from.values().copied().collect(),
        to: to.values().copied().collect(),
    };
    rollout_steps(policy_name, policy, &[split])
}

/// True when the shares add up to exactly 100 (without overflowing).
fn sums_to_100<'a>(mut shares: impl Iterator<Item = &'a u64>) -> bool {
    shares.try_fold(0u64, |total, share| total.checked_add(*share)) == Some(100)
}

/// The splits whose shares change, with their keys; `None` when the update is not a rollout
/// (splits differ in backends, weights are invalid, nothing moves, or a split sends no traffic).
fn changed_splits(
    resource: &Resource,
    applied: &RouteIr<'_>,
    desired: &RouteIr<'_>,
) -> Option<Vec<SplitShares>> {
    let applied_splits = splits(applied);
    let desired_splits = splits(desired);
    if applied_splits.len() != desired_splits.len() {
        return None;
    }
    let mut shares = Vec::new();
    for ((rule, a), (_, d)) in applied_splits.iter().zip(&desired_splits) {
        if !same_backends(a, d) {
            return None;
        }
        let from = a.percentages().ok()?;
        let to = d.percentages().ok()?;
        shares.push(((*rule).clone(), keys(d), from, to));
    }
    moving_splits(shares, &resource.spec_path())
}

/// The shares of one split of a route: the path of its rule, its backend keys, and its shares
/// before and after.
pub(crate) type RuleShares = (FieldPath, Vec<String>, Vec<u64>, Vec<u64>);

/// The splits of a route whose shares move, keyed as the module docs say (prefixed with the
/// rule's path relative to `spec_path` when several move); `None` when none moves, or when a
/// moving split sends no traffic on one side (the update is then not a rollout).
pub(crate) fn moving_splits(
    splits: Vec<RuleShares>,
    spec_path: &FieldPath,
) -> Option<Vec<SplitShares>> {
    let mut changes = Vec::new();
    for (rule, keys, from, to) in splits {
        if from == to {
            continue;
        }
        if !sums_to_100(from.iter()) || !sums_to_100(to.iter()) {
            return None;
        }
        changes.push((rule, keys, from, to));
    }
    if changes.is_empty() {
        return None;
    }
    let several = changes.len() > 1;
    Some(
        changes
            .into_iter()
            .map(|(rule, keys, from, to)| {
                let rule = relative(&rule, spec_path).to_string();
                SplitShares {
                    keys: if several {
                        keys.into_iter().map(|k| format!("{rule}/{k}")).collect()
                    } else {
                        keys
                    },
                    rule,
                    from,
                    to,
                }
            })
            .collect(),
    )
}

/// The route's splits with the path of their rule, in rule order.
fn splits<'r>(route: &'r RouteIr<'_>) -> Vec<(&'r FieldPath, &'r Split)> {
    route
        .rules
        .iter()
        .filter_map(|rule| rule.split.as_ref().map(|split| (&rule.path, split)))
        .collect()
}

fn same_backends(a: &Split, b: &Split) -> bool {
    a.path == b.path
        && a.backends.len() == b.backends.len()
        && a.backends.iter().zip(&b.backends).all(|(x, y)| {
            (&x.key, &x.name, &x.namespace, &x.subset) == (&y.key, &y.name, &y.namespace, &y.subset)
        })
}

/// Backend keys of a split, made unique with `#index` where a key repeats.
pub(crate) fn keys(split: &Split) -> Vec<String> {
    split
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let repeated = split.backends.iter().filter(|o| o.key == b.key).count() > 1;
            if repeated {
                format!("{}#{i}", b.key)
            } else {
                b.key.clone()
            }
        })
        .collect()
}

/// `path` without the leading `base` (the rule path under `spec`).
pub(crate) fn relative(path: &FieldPath, base: &FieldPath) -> FieldPath {
    match path.segments().strip_prefix(base.segments()) {
        Some(rest) => FieldPath(rest.to_vec()),
        None => path.clone(),
    }
}

/// The backend whose share grows the most (the first on ties), with its shares before and after.
fn canary(changes: &[SplitShares]) -> Option<(String, u64, u64)> {
    let mut best: Option<(String, u64, u64)> = None;
    for change in changes {
        for ((key, from), to) in change.keys.iter().zip(&change.from).zip(&change.to) {
            let increase = to.saturating_sub(*from);
            if increase > 0 && best.as_ref().is_none_or(|(_, c0, c1)| increase > c1 - c0) {
                best = Some((key.clone(), *from, *to));
            }
        }
    }
    best
}

fn weight_map(changes: &[SplitShares], shares: impl Fn(&SplitShares) -> Vec<u64>) -> WeightMap {
    changes
        .iter()
        .flat_map(|change| change.keys.iter().cloned().zip(shares(change)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(
        steps: &[i64],
        step_weight: Option<i64>,
        max_weight: Option<i64>,
    ) -> RolloutPolicySpec {
        RolloutPolicySpec {
            steps: steps.to_vec(),
            step_weight,
            max_weight,
            ..RolloutPolicySpec::default()
        }
    }

    #[test]
    fn step_values_come_from_steps_or_step_weight() {
        assert_eq!(
            step_values(&policy(&[50, 1, 10, 100], None, None)),
            vec![1, 10, 50, 100]
        );
        assert_eq!(
            step_values(&policy(&[], Some(20), None)),
            vec![20, 40, 60, 80, 100]
        );
        assert_eq!(step_values(&policy(&[], Some(20), Some(50))), vec![20, 40]);
        assert_eq!(
            step_values(&policy(&[], Some(30), Some(500))),
            vec![30, 60, 90]
        );
        assert_eq!(step_values(&policy(&[], Some(0), None)), vec![10, 50, 100]);
        assert_eq!(
            step_values(&policy(&[-5, 0, 250], None, None)),
            Vec::<u64>::new()
        );
        assert_eq!(step_values(&default_policy()), vec![10, 50, 100]);
        assert_eq!(step_values(&policy(&[10], Some(5), None)), vec![10]);
    }

    fn map(pairs: &[(&str, u64)]) -> WeightMap {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn rollout_between_two_weight_maps_follows_the_policy() {
        let rollout = rollout_between(
            &map(&[("target", 99), ("target-green", 1)]),
            &map(&[("target", 0), ("target-green", 100)]),
            "target-canary",
            &policy(&[1, 10, 50, 100], None, None),
        )
        .expect("a rollout");
        assert_eq!(rollout.policy, "target-canary");
        assert_eq!(rollout.canary, "target-green");
        assert_eq!(rollout.from, map(&[("target", 99), ("target-green", 1)]));
        assert_eq!(
            rollout.steps,
            vec![
                map(&[("target", 90), ("target-green", 10)]),
                map(&[("target", 50), ("target-green", 50)]),
                map(&[("target", 0), ("target-green", 100)]),
            ]
        );
        // Fields the policy leaves unset take the default policy's values.
        assert_eq!(rollout.bake_time, DEFAULT_BAKE_TIME);
        assert_eq!(rollout.on_failure, DEFAULT_ON_FAILURE);
        assert_eq!(rollout.on_inconclusive, DEFAULT_ON_INCONCLUSIVE);
    }

    #[test]
    fn rollout_between_refuses_what_is_not_a_weight_move() {
        let p = default_policy();
        let a = map(&[("a", 50), ("b", 50)]);
        assert_eq!(rollout_between(&a, &a, "p", &p), None);
        assert_eq!(
            rollout_between(&a, &map(&[("a", 50), ("c", 50)]), "p", &p),
            None
        );
        assert_eq!(
            rollout_between(&a, &map(&[("a", 60), ("b", 60)]), "p", &p),
            None
        );
        assert_eq!(
            rollout_between(&a, &map(&[("a", u64::MAX), ("b", 2)]), "p", &p),
            None
        );
    }

    #[test]
    fn rollout_steps_of_several_splits_move_them_together() {
        let splits = [
            SplitShares {
                rule: "r0".into(),
                keys: vec!["r0/a".into(), "r0/b".into()],
                from: vec![100, 0],
                to: vec![0, 100],
            },
            SplitShares {
                rule: "r1".into(),
                keys: vec!["r1/a".into(), "r1/b".into()],
                from: vec![80, 20],
                to: vec![60, 40],
            },
        ];
        let rollout = rollout_steps("default", &default_policy(), &splits).expect("a rollout");
        assert_eq!(rollout.canary, "r0/b");
        assert_eq!(
            rollout.steps[0],
            map(&[("r0/a", 90), ("r0/b", 10), ("r1/a", 78), ("r1/b", 22)])
        );
        assert_eq!(rollout.steps.len(), 3);
        let malformed = [SplitShares {
            rule: String::new(),
            keys: vec!["a".into()],
            from: vec![100, 0],
            to: vec![0, 100],
        }];
        assert_eq!(
            rollout_steps("default", &default_policy(), &malformed),
            None
        );
    }
}
