//! State machine tests: every path of the transition table, and a property that the weights
//! asked of the target are always ones somebody chose.

use proptest::prelude::*;

use super::*;
use crate::plan::RolloutPlan;

fn map(target: u64) -> WeightMap {
    [
        ("stable".to_string(), 100 - target),
        ("canary".to_string(), target),
    ]
    .into_iter()
    .collect()
}

fn plan(on_failure: &str, on_inconclusive: &str) -> RolloutPlan {
    RolloutPlan {
        policy: "p".into(),
        canary: "canary".into(),
        bake_time: std::time::Duration::from_secs(1),
        on_failure: on_failure.parse().expect("an onFailure"),
        on_inconclusive: on_inconclusive.parse().expect("an onInconclusive"),
        from: map(0),
        steps: vec![map(10), map(50), map(100)],
        splits: Vec::new(),
    }
}

fn rollout(on_failure: &str, on_inconclusive: &str) -> Rollout {
    Rollout::new(
        "HTTPRoute/default/web".parse().expect("a route id"),
        "c1",
        plan(on_failure, on_inconclusive),
        vec![],
        0,
    )
}

fn verdict(verdict: Verdict) -> Event {
    Event::Judged(Judgement {
        verdict,
        reason: format!("{verdict:?}"),
        conditions: Vec::new(),
    })
}

#[test]
fn a_healthy_rollout_walks_every_step_and_promotes() {
    let mut r = rollout("rollback", "pause");
    let effects = r.on(Event::Start, 1).unwrap();
    assert_eq!(
        effects,
        vec![Effect::Hooks(HookKind::PreStep), Effect::Apply(map(10))]
    );
    assert!(!r.is_baking());
    assert_eq!(r.on(Event::Applied, 2).unwrap(), vec![Effect::Baseline]);
    assert!(r.is_baking());
    assert_eq!(r.since_ms, 2);
    assert!(r.on(verdict(Verdict::Continue), 3).unwrap().is_empty());
    for (step, next) in [(0, 50), (1, 100)] {
        assert_eq!(r.step, step);
        let effects = r.on(verdict(Verdict::Healthy), 10).unwrap();
        assert_eq!(
            effects,
            vec![Effect::Hooks(HookKind::PreStep), Effect::Apply(map(next))]
        );
        assert_eq!(r.last_good(), &map(if step == 0 { 10 } else { 50 }));
        r.on(Event::Applied, 11).unwrap();
    }
    let effects = r.on(verdict(Verdict::Healthy), 20).unwrap();
    assert_eq!(
        effects,
        vec![
            Effect::Hooks(HookKind::PostPromotion),
            Effect::Finished(Phase::Promoted)
        ]
    );
    assert_eq!(r.phase, Phase::Promoted);
    assert_eq!(r.want, map(100));
    assert!(
        r.on(Event::Manual(Gate::Abort), 21).is_err(),
        "a promoted rollout is final"
    );
}

#[test]
fn a_failed_step_rolls_back_to_the_weights_before_the_rollout() {
    let mut r = rollout("rollback", "pause");
    r.on(Event::Start, 1).unwrap();
    r.on(Event::Applied, 2).unwrap();
    r.on(verdict(Verdict::Healthy), 3).unwrap();
    r.on(Event::Applied, 4).unwrap();
    let effects = r.on(verdict(Verdict::Failed), 5).unwrap();
    assert_eq!(effects, vec![Effect::Apply(map(0))]);
    assert_eq!(r.phase, Phase::RollingBack);
    let effects = r.on(Event::Applied, 6).unwrap();
    assert!(matches!(effects[1], Effect::MarkFailed(ref why) if why.contains("step 2 failed")));
    assert_eq!(effects[2], Effect::Finished(Phase::RolledBack));
    assert_eq!(r.phase, Phase::RolledBack);
    assert_eq!(r.want, map(0));
}

#[test]
fn on_failure_pause_returns_to_the_last_healthy_step_and_resume_retries() {
    let mut r = rollout("pause", "pause");
    r.on(Event::Start, 1).unwrap();
    r.on(Event::Applied, 2).unwrap();
    r.on(verdict(Verdict::Healthy), 3).unwrap();
    r.on(Event::Applied, 4).unwrap();
    let effects = r.on(verdict(Verdict::Failed), 5).unwrap();
    assert_eq!(effects, vec![Effect::Apply(map(10))]);
    assert_eq!(r.phase, Phase::Paused);
    r.on(Event::Applied, 6).unwrap();
    assert_eq!(r.phase, Phase::Paused);
    assert!(
        r.on(verdict(Verdict::Healthy), 7).is_err(),
        "no verdicts while paused"
    );
    let effects = r.on(Event::Manual(Gate::Resume), 8).unwrap();
    assert_eq!(effects.last(), Some(&Effect::Apply(map(50))));
    assert_eq!((r.phase, r.step), (Phase::Progressing, 1));
}

#[test]
fn inconclusive_follows_on_inconclusive() {
    let judge_first_step = |on_inconclusive: &str| {
        let mut r = rollout("rollback", on_inconclusive);
        r.on(Event::Start, 1).unwrap();
        r.on(Event::Applied, 2).unwrap();
        let effects = r.on(verdict(Verdict::Inconclusive), 3).unwrap();
        (r, effects)
    };
    let (r, effects) = judge_first_step("pause");
    assert_eq!((r.phase, r.want.clone()), (Phase::Paused, map(10)));
    assert!(
        effects.is_empty(),
        "a quiet step keeps its weights while paused"
    );
    let (r, effects) = judge_first_step("rollback");
    assert_eq!(r.phase, Phase::RollingBack);
    assert_eq!(effects, vec![Effect::Apply(map(0))]);
    let (r, effects) = judge_first_step("continue");
    assert_eq!((r.phase, r.step), (Phase::Progressing, 1));
    assert_eq!(effects.last(), Some(&Effect::Apply(map(50))));
}

#[test]
fn gates_promote_abort_and_pause() {
    let mut r = rollout("rollback", "pause");
    r.on(Event::Start, 1).unwrap();
    r.on(Event::Applied, 2).unwrap();
    assert!(
        r.on(Event::Manual(Gate::Resume), 3).is_err(),
        "running rollouts need no resume"
    );
    assert!(r.on(Event::Manual(Gate::Pause), 3).unwrap().is_empty());
    assert_eq!(r.phase, Phase::Paused);
    assert_eq!(
        r.on(Event::Manual(Gate::Promote), 4).unwrap(),
        vec![Effect::Apply(map(100))]
    );
    assert!(!r.is_baking(), "a forced promotion is not judged");
    let effects = r.on(Event::Applied, 5).unwrap();
    assert_eq!(effects.last(), Some(&Effect::Finished(Phase::Promoted)));

    let mut r = rollout("rollback", "pause");
    r.on(Event::Start, 1).unwrap();
    r.on(Event::Applied, 2).unwrap();
    assert_eq!(
        r.on(Event::Manual(Gate::Abort), 3).unwrap(),
        vec![Effect::Apply(map(0))]
    );
    let effects = r.on(Event::Applied, 4).unwrap();
    assert!(effects.contains(&Effect::MarkFailed("aborted by an operator".into())));
}

#[test]
fn a_refusing_pre_step_hook_halts_at_the_last_good_weights() {
    let mut r = rollout("rollback", "pause");
    r.on(Event::Start, 1).unwrap();
    r.on(Event::Applied, 2).unwrap();
    r.on(verdict(Verdict::Healthy), 3).unwrap();
    let effects = r
        .on(Event::HookFailed("gate returned 503".into()), 4)
        .unwrap();
    assert_eq!(effects, vec![Effect::Apply(map(10))]);
    assert_eq!(r.phase, Phase::Paused);
    assert!(r.reason.as_deref().unwrap().contains("503"));
}

#[test]
fn recover_reapplies_what_the_record_says_and_restarts_the_bake() {
    let mut r = rollout("rollback", "pause");
    r.on(Event::Start, 1).unwrap();
    r.on(Event::Applied, 2).unwrap();
    r.on(verdict(Verdict::Healthy), 3).unwrap();
    // Crash after the intent to apply step 2 was persisted.
    let saved = serde_json::to_string(&r).unwrap();
    let mut back: Rollout = serde_json::from_str(&saved).unwrap();
    assert_eq!(back, r);
    assert_eq!(
        back.on(Event::Recover, 100).unwrap(),
        vec![Effect::Apply(map(50))]
    );
    assert_eq!(
        back.on(Event::Applied, 101).unwrap(),
        vec![Effect::Baseline]
    );
    assert_eq!(back.since_ms, 101, "the bake starts again after a restart");
    assert!(
        back.log.last().unwrap().message.contains("after a restart"),
        "{:?}",
        back.log.last()
    );
    assert!(!back.recovering);
    // A rollback interrupted by a crash finishes after the restart.
    back.on(verdict(Verdict::Failed), 102).unwrap();
    assert_eq!(
        back.on(Event::Recover, 200).unwrap(),
        vec![Effect::Apply(map(0))]
    );
    back.on(Event::Applied, 201).unwrap();
    assert_eq!(back.phase, Phase::RolledBack);
    assert!(back.on(Event::Recover, 300).is_err());
}

/// A rollout as an earlier meshcd persisted it, when route, bake time, actions and phase were
/// strings in the code: the same JSON still loads, and is written back unchanged.
#[test]
fn rollouts_persisted_with_string_fields_still_load() {
    let stored = r#"{
        "route": "HTTPRoute/shop/web",
        "commit": "c1",
        "plan": {
            "policy": "canary",
            "canary": "web-green",
            "bakeTime": "1m",
            "onFailure": "pause",
            "onInconclusive": "continue",
            "from": {"web": 90, "web-green": 10},
            "steps": [{"web": 50, "web-green": 50}, {"web": 0, "web-green": 100}]
        },
        "splits": [["rules[0]", ["web", "web-green"]]],
        "phase": "rollingBack",
        "step": 1,
        "passed": 1,
        "want": {"web": 90, "web-green": 10},
        "live": false,
        "sinceMs": 5,
        "createdMs": 1,
        "updatedMs": 5
    }"#;
    let r: Rollout = serde_json::from_str(stored).expect("an old rollout loads");
    assert_eq!(
        r.route,
        ResourceId {
            kind: crate::model::Kind::GwHttpRoute,
            namespace: "shop".into(),
            name: "web".into(),
        }
    );
    assert_eq!(r.plan.bake_time, std::time::Duration::from_secs(60));
    assert_eq!(r.plan.on_failure, OnFailure::Pause);
    assert_eq!(r.plan.on_inconclusive, OnInconclusive::Continue);
    assert_eq!(r.phase, Phase::RollingBack);
    assert_eq!(
        r.splits,
        vec![(
            "rules[0]".to_string(),
            vec!["web".to_string(), "web-green".to_string()]
        )]
    );
    let written = serde_json::to_value(&r).expect("serializes");
    let old: serde_json::Value = serde_json::from_str(stored).expect("json");
    for key in ["route", "phase"] {
        assert_eq!(written[key], old[key], "{key}");
    }
    for key in ["bakeTime", "onFailure", "onInconclusive"] {
        assert_eq!(written["plan"][key], old["plan"][key], "{key}");
    }
    // A record that does not hold a route id or a duration is refused, not defaulted.
    for (bad, why) in [
        (
            stored.replace("HTTPRoute/shop/web", "web"),
            "not a resource id",
        ),
        (stored.replace("\"1m\"", "\"3 parsecs\""), "not a duration"),
        (
            stored.replace("\"pause\"", "\"rolback\""),
            "unknown variant",
        ),
    ] {
        let error = serde_json::from_str::<Rollout>(&bad)
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{error}");
    }
}

#[test]
fn phases_read_back_their_shown_names() {
    for phase in Phase::ALL {
        assert_eq!(phase.as_str().parse(), Ok(phase));
        assert_eq!(phase.to_string(), phase.as_str());
    }
    assert_eq!(
        "rolledBack".parse::<Phase>().unwrap_err().to_string(),
        "`rolledBack` is not a rollout phase (pending, progressing, paused, rolling-back, \
         promoted, rolled-back)"
    );
}

fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Start),
        Just(Event::Applied),
        Just(verdict(Verdict::Continue)),
        Just(verdict(Verdict::Healthy)),
        Just(verdict(Verdict::Failed)),
        Just(verdict(Verdict::Inconclusive)),
        Just(Event::Manual(Gate::Promote)),
        Just(Event::Manual(Gate::Abort)),
        Just(Event::Manual(Gate::Pause)),
        Just(Event::Manual(Gate::Resume)),
        Just(Event::HookFailed("no".into())),
        Just(Event::Recover),
    ]
}

proptest! {
    #[test]
    fn the_target_is_only_ever_asked_for_chosen_weights(
        events in proptest::collection::vec(any_event(), 0..60),
        on_failure in prop_oneof![Just("rollback"), Just("pause")],
        on_inconclusive in prop_oneof![Just("pause"), Just("rollback"), Just("continue")],
    ) {
        let mut r = rollout(on_failure, on_inconclusive);
        let chosen: Vec<WeightMap> = vec![map(0), map(10), map(50), map(100)];
        for (t, event) in events.into_iter().enumerate() {
            let before = r.clone();
            match r.on(event, t as u64 + 1) {
                Err(_) => prop_assert_eq!(&r, &before, "a refused event changes nothing"),
                Ok(effects) => {
                    for effect in effects {
                        if let Effect::Apply(w) = effect {
                            prop_assert!(chosen.contains(&w));
                        }
                    }
                }
            }
            prop_assert!(chosen.contains(&r.want));
            prop_assert!(r.log.len() <= LOG_LIMIT);
            if r.phase == Phase::RolledBack {
                prop_assert_eq!(&r.want, &map(0));
            }
            if r.phase == Phase::Promoted {
                prop_assert_eq!(&r.want, &map(100));
            }
        }
    }
}
