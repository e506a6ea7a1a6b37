//! The book without I/O: what it asks for, in which order, and what it does with answers.

use meshcd_core::plan::plan;
use meshcd_core::rollout::machine::Gate;
use meshcd_core::{load, SourceFile};

use super::*;

fn route(stable: u32, canary: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: web, \
         namespace: prod}}\nspec:\n  hosts: [web]\n  http:\n  - route:\n    - destination: \
         {{host: web, subset: stable}}\n      weight: {stable}\n    - destination: {{host: web, \
         subset: canary}}\n      weight: {canary}\n"
    )
}

const POLICY: &str = "apiVersion: meshcd.dev/v1alpha1\nkind: RolloutPolicy\nmetadata: {name: \
     web}\nspec:\n  selector: {routes: [web]}\n  steps: [50, 100]\n  bakeTime: 1s\n  analysis: \
     {provider: none}\n  hooks:\n    preStep:\n    - {name: gate, url: 'http://127.0.0.1:1/'}\n";

/// `(stable, canary)` of a weight map.
fn split_of(weights: &WeightMap) -> (u64, u64) {
    let of = |name: &str| {
        weights
            .iter()
            .find(|(k, _)| k.contains(name))
            .map_or(0, |(_, v)| *v)
    };
    (of("stable"), of("canary"))
}

/// A book with the rollout of `web` from 100/0 to 0/100 just started.
fn started() -> (Book, ResourceId) {
    let desired = load(vec![
        SourceFile::new("web.yaml", route(0, 100)),
        SourceFile::new("policy.yaml", POLICY),
    ]);
    let applied = load(vec![SourceFile::new("web.yaml", route(100, 0))]);
    let plan = plan(&desired, &applied);
    let (moves, touched) = moves_of(&plan, |c| c.kind.is_route().then(|| c.id()));
    let id = touched[0].clone();
    let mut book = Book::new("memory:test", None);
    let names = |_: &ResourceId, _: &[(String, Vec<String>)]| Vec::new();
    book.sync("c0ffee", &moves, &touched, &desired, &names, true);
    (book, id)
}

#[test]
fn a_step_is_persisted_before_its_hooks_and_its_weights_wait_for_them() {
    let (mut book, id) = started();
    let work = book.take_work();
    assert!(
        matches!(work.as_slice(), [Work::Persist(r, _), Work::PreStep(call)] if *r == id && call.route == id),
        "{work:#?}"
    );
    let view = book.view();
    assert!(
        !view.needs_publish(),
        "nothing to publish before the hook answers"
    );
    let (_, _, weights) = &view.overrides()[0];
    assert_eq!(split_of(weights), (100, 0), "the weights before the step");
    let Work::PreStep(call) = &work[1] else {
        unreachable!()
    };
    book.hooks_passed(&id, call.epoch, call.rest.clone());
    let view = book.view();
    assert!(view.needs_publish());
    assert_eq!(view.generation, 1);
    let (_, _, weights) = &view.overrides()[0];
    assert_eq!(split_of(weights), (50, 50));
    // A publish of an earlier view confirms nothing; this one confirms the step.
    book.applied(0);
    assert!(book.view().needs_publish());
    book.applied(1);
    assert!(!book.view().needs_publish());
    assert!(book.view().events()[0].live);
}

#[test]
fn an_answer_for_an_earlier_epoch_is_dropped() {
    let (mut book, id) = started();
    let work = book.take_work();
    let Some(Work::PreStep(call)) = work.into_iter().nth(1) else {
        panic!("no pre-step call");
    };
    // The operator aborts while the hook is being called; its late "yes" changes nothing.
    book.gate("web", Gate::Abort).expect("abort");
    let before = book.view().generation;
    book.hooks_passed(&id, call.epoch, call.rest);
    assert_eq!(
        book.view().generation,
        before,
        "the stale answer applied weights"
    );
    assert_ne!(book.view().events()[0].phase, Phase::Progressing);
}

#[test]
fn a_refusing_hook_holds_the_route_at_its_last_good_weights() {
    let (mut book, id) = started();
    let work = book.take_work();
    let Some(Work::PreStep(call)) = work.into_iter().nth(1) else {
        panic!("no pre-step call");
    };
    book.hooks_failed(&id, call.epoch, "gate answered 503".into());
    let view = book.view();
    let event = &view.events()[0];
    assert_eq!(event.phase, Phase::Paused, "{event:?}");
    assert!(
        event.reason.as_deref().unwrap_or_default().contains("503"),
        "{event:?}"
    );
    let (_, _, weights) = &view.overrides()[0];
    assert_eq!(split_of(weights), (100, 0));
    assert!(book.take_work().iter().any(
        |w| matches!(w, Work::Persist(r, rollout) if *r == id && rollout.phase == Phase::Paused)
    ));
}
