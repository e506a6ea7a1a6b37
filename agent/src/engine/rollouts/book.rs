//! The book of rollouts on one target: which rollouts exist, what each waits for, and what must
//! be done next. It does no I/O and never waits: every effect (persist, audit, call hooks, read
//! metrics, publish weights) is queued as [`Work`] that the rollout driver
//! ([`super::driver`]) carries out outside the book and feeds back as results. So the book can
//! be held only by the driver's task, readers get [`View`]s, and a slow hook or metrics server
//! never holds up another route.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshcd_core::model::meshcd::Hook;
use meshcd_core::model::ResourceId;
use meshcd_core::plan::{Plan, RolloutPlan, WeightMap};
use meshcd_core::rollout::analysis::QuerySpec;
use meshcd_core::rollout::judge::QueryValue;
use meshcd_core::rollout::judge::{judge, Observation};
use meshcd_core::rollout::machine::{Effect, Event, Gate, HookKind, Phase, Rollout};
use meshcd_core::rollout::{Counters, Judgement, OnInconclusive, Provider, Sample, Verdict};
use meshcd_core::Loaded;

use super::events::RolloutEvent;
use super::tracked::Tracked;
use super::view::{RolloutView, View};
use crate::analysis::{MetricsSource, TemplateVars};
use crate::store::{AuditAction, AuditEntry};
use crate::targets::MetricNames;

/// Weights to put on top of the desired configuration: the route, its moving splits (rule and
/// backend keys), and the weights.
pub type Override = (ResourceId, Vec<(String, Vec<String>)>, WeightMap);

/// How long a terminal rollout stays in the book (and in `meshcd status`) after it ended.
const KEEP_FINISHED: Duration = Duration::from_secs(600);

/// Why a gate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// No rollout matches the name.
    #[error("no rollout of `{0}` (see `meshcd status`)")]
    NotFound(String),
    /// Several rollouts match a short name.
    #[error("`{0}` names several rollouts: {1}")]
    Ambiguous(String, String),
    /// The rollout cannot take this gate in its phase.
    #[error("{0}")]
    NotNow(String),
    /// The rollout engine has stopped (the daemon is shutting down).
    #[error("the rollout engine has stopped")]
    Stopped,
}

/// An effect the book asks for, carried out by the driver in order. Store writes come before
/// the effects that follow them (a crash from there on finds the intent).
#[derive(Debug)]
pub enum Work {
    /// Write the rollout's state machine to the store.
    Persist(ResourceId, Box<Rollout>),
    /// Delete the rollout of a route from the store.
    Forget(ResourceId),
    /// Append to the audit log.
    Audit(Box<AuditEntry>),
    /// Mark a commit failed (a rolled-back rollout).
    MarkFailed {
        /// The commit.
        commit: String,
        /// Why.
        reason: String,
    },
    /// Call the pre-step hooks of a route; on success the book goes on with `rest`
    /// ([`Book::hooks_passed`]), else it feeds [`Event::HookFailed`] ([`Book::hooks_failed`]).
    PreStep(Call),
    /// Tell hooks what happened (post-promotion, on-rollback); failures are only logged.
    Notify(Call),
    /// Read the counters a route's step starts from ([`Book::baseline_read`]).
    Baseline(Reading),
    /// Read a route's metrics to judge its step ([`Book::measured`]).
    Measure(Reading),
}

/// Hooks to call, with the payload.
#[derive(Debug)]
pub struct Call {
    /// The route.
    pub route: ResourceId,
    /// Its epoch when the call was asked for (a later answer for another epoch is dropped).
    pub epoch: u64,
    /// Which hooks.
    pub kind: HookKind,
    /// The hooks.
    pub hooks: Vec<Hook>,
    /// The rollout as the hooks receive it.
    pub event: RolloutEvent,
    /// What follows a successful pre-step call.
    pub rest: Vec<Effect>,
}

/// A metrics reading to make.
#[derive(Debug)]
pub struct Reading {
    /// The route.
    pub route: ResourceId,
    /// Its epoch when the reading was asked for.
    pub epoch: u64,
    /// Where the metrics come from (`None`: they cannot be read).
    pub source: Option<Arc<MetricsSource>>,
    /// Metric names: the canary first.
    pub backends: Vec<String>,
    /// Custom queries to run, with their template variables.
    pub queries: Option<(Vec<QuerySpec>, TemplateVars)>,
}

/// What a [`Reading`] brought back.
#[derive(Debug, Default)]
pub struct Readout {
    /// Counters by metric name, or why they could not be read.
    pub counters: Option<BTreeMap<String, Counters>>,
    /// The custom queries' values.
    pub queries: Vec<QueryValue>,
}

/// Every rollout of one target.
pub struct Book {
    target: String,
    admin_url: Option<String>,
    /// The fleet's summed metrics, when the target publishes over xDS (provider `envoy` reads
    /// them instead of the local admin interface).
    fleet: Option<Arc<crate::xds::FleetMetrics>>,
    rollouts: BTreeMap<ResourceId, Entry>,
    /// Bumped whenever some rollout asks the target for new weights.
    generation: u64,
    /// Effects to carry out, in order.
    outbox: Vec<Work>,
    /// Routes whose rollout changed since the last [`Book::take_changed`].
    changed: Vec<ResourceId>,
    recovered: bool,
}

struct Entry {
    tracked: Tracked,
    source: Option<Arc<MetricsSource>>,
    finished_at: Option<Instant>,
    /// Bumped on every event: results asked for in an earlier epoch are stale.
    epoch: u64,
    /// The generation at which the target was asked for `rollout.want`.
    want_generation: u64,
    /// A hook call or a metrics reading is under way.
    busy: bool,
    /// While a step's pre-step hooks have not answered: the weights before the step, which the
    /// target keeps holding until they do.
    gated: Option<WeightMap>,
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Book {
    /// An empty book for `target` (its id in the store); `admin_url` is the Envoy admin URL the
    /// `envoy` analysis provider reads by default.
    pub fn new(target: impl Into<String>, admin_url: Option<String>) -> Book {
        Book {
            target: target.into(),
            admin_url,
            fleet: None,
            rollouts: BTreeMap::new(),
            generation: 0,
            outbox: Vec::new(),
            changed: Vec::new(),
            recovered: false,
        }
    }

    /// The book of a target that publishes over xDS: provider `envoy` reads `fleet`'s summed
    /// metrics instead of the local admin interface.
    pub fn with_fleet(mut self, fleet: Option<Arc<crate::xds::FleetMetrics>>) -> Book {
        self.fleet = fleet;
        self
    }

    /// The work queued since the last call.
    pub fn take_work(&mut self) -> Vec<Work> {
        std::mem::take(&mut self.outbox)
    }

    /// The progress events of the rollouts that changed since the last call.
    pub fn take_changed(&mut self) -> Vec<RolloutEvent> {
        let mut routes = std::mem::take(&mut self.changed);
        routes.dedup();
        let now = now_ms();
        routes
            .iter()
            .filter_map(|route| self.rollouts.get(route))
            .map(|e| e.tracked.event(now))
            .collect()
    }

    /// What readers see.
    pub fn view(&self) -> View {
        let now = now_ms();
        View {
            generation: self.generation,
            rollouts: self
                .rollouts
                .values()
                .map(|e| RolloutView {
                    event: e.tracked.event(now),
                    splits: e.tracked.rollout.splits.clone(),
                    want: e
                        .gated
                        .clone()
                        .unwrap_or_else(|| e.tracked.rollout.want.clone()),
                    target: e.tracked.rollout.target().clone(),
                    phase: e.tracked.rollout.phase,
                    active: e.tracked.rollout.is_active(),
                    pending_apply: e.tracked.pending_apply,
                    want_generation: e.want_generation,
                })
                .collect(),
        }
    }

    /// True once [`Self::recover`] ran.
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// Takes the rollouts the store held for this target (once, after a start) and resumes the
    /// active ones (see the module docs of [`crate::engine::rollouts`]): each re-applies its
    /// weights. `loaded` is the revision whose policies give analysis and hooks; `names` maps
    /// backend keys to metric names (for Envoy, clusters).
    pub fn recover(
        &mut self,
        stored: Vec<(String, Rollout)>,
        loaded: &Loaded,
        names: MetricNames<'_>,
    ) {
        if self.recovered {
            return;
        }
        self.recovered = true;
        for (_, rollout) in stored {
            let route = rollout.route.clone();
            if rollout.phase.is_terminal() {
                // Kept for the hold of a rolled-back route; dropped when its commit is gone.
                if rollout.phase == Phase::RolledBack {
                    self.insert(rollout, loaded, names, true);
                }
                continue;
            }
            tracing::warn!(
                %route,
                phase = rollout.phase.as_str(),
                step = rollout.step + 1,
                "resuming a rollout after a restart"
            );
            self.insert(rollout, loaded, names, false);
            self.event(&route, Event::Recover);
        }
    }

    /// Brings the book in line with a revision's plan (desired `commit` against what the target
    /// serves): keeps rollouts whose final weights the commit still asks for, drops superseded
    /// and old rolled-back ones, and starts a rollout for each weight move of `moves` that none
    /// covers (only when `start_new`). `touched` are the routes the plan changes at all.
    pub fn sync(
        &mut self,
        commit: &str,
        moves: &BTreeMap<ResourceId, RolloutPlan>,
        touched: &[ResourceId],
        loaded: &Loaded,
        names: MetricNames<'_>,
        start_new: bool,
    ) {
        let routes: Vec<ResourceId> = self.rollouts.keys().cloned().collect();
        for route in routes {
            let Some(entry) = self.rollouts.get_mut(&route) else {
                continue;
            };
            let rollout = &mut entry.tracked.rollout;
            if rollout.commit == commit {
                continue;
            }
            let keep = match moves.get(&route) {
                // The commit asks for the same final weights: the rollout goes on.
                Some(next) => rollout.is_active() && next.steps.last() == Some(rollout.target()),
                // Nothing to move: the route already holds what the commit asks for.
                None => false,
            };
            if keep {
                rollout.commit = commit.to_string();
                self.persist(&route);
                continue;
            }
            let message = match rollout.phase {
                Phase::Promoted => None,
                Phase::RolledBack => Some(format!(
                    "new commit {}: the rolled-back route is tried again",
                    short(commit)
                )),
                _ => Some(format!(
                    "superseded by {} at canary {}% (step {}/{}){}",
                    short(commit),
                    rollout.canary_share(),
                    rollout.step + 1,
                    rollout.steps(),
                    if moves.contains_key(&route) {
                        "; a new rollout starts from these weights"
                    } else if touched.contains(&route) {
                        "; the route changed and is applied as it is"
                    } else {
                        "; the commit asks for the weights the route has"
                    }
                )),
            };
            if let Some(message) = &message {
                tracing::info!(%route, "{message}");
            }
            self.remove(&route, message.as_deref());
        }
        for (route, plan) in moves {
            if !start_new || self.rollouts.contains_key(route) {
                continue;
            }
            let rollout = Rollout::new(
                route.clone(),
                commit,
                plan.clone(),
                plan.splits.clone(),
                now_ms(),
            );
            self.insert(rollout, loaded, names, false);
            self.event(route, Event::Start);
        }
    }

    /// Drops a rollout whose weights cannot be put into the configuration any more (the route
    /// changed shape); the desired route is then applied as it is.
    pub fn abandon(&mut self, route: &ResourceId, why: &str) {
        if self.rollouts.contains_key(route) {
            tracing::warn!(%route, "rollout dropped: {why}");
            self.remove(route, Some(&format!("dropped: {why}")));
        }
    }

    /// The target confirmed the weights published at `generation`: every rollout that waited
    /// for weights asked for at or before it takes `Applied`.
    pub fn applied(&mut self, generation: u64) {
        let confirmed: Vec<ResourceId> = self
            .rollouts
            .iter()
            .filter(|(_, e)| e.tracked.pending_apply && e.want_generation <= generation)
            .map(|(route, _)| route.clone())
            .collect();
        for route in confirmed {
            if let Some(entry) = self.rollouts.get_mut(&route) {
                entry.tracked.pending_apply = false;
            }
            self.event(&route, Event::Applied);
        }
    }

    /// Forgets rollouts that ended long ago and asks for a metrics reading of every baking
    /// rollout whose interval is due and which has none under way.
    pub fn due(&mut self, now: Instant) {
        self.rollouts.retain(|_, e| {
            e.finished_at.is_none_or(|at| {
                now.duration_since(at) < KEEP_FINISHED
                    || e.tracked.rollout.phase == Phase::RolledBack
            })
        });
        let due: Vec<ResourceId> = self
            .rollouts
            .iter()
            .filter(|(_, e)| {
                !e.busy && e.tracked.rollout.is_baking() && e.tracked.next_check <= now
            })
            .map(|(route, _)| route.clone())
            .collect();
        for route in due {
            self.ask_measure(&route, now);
        }
    }

    /// When the next rollout is due for a measurement (for the driver's sleep).
    pub fn next_due(&self) -> Option<Instant> {
        self.rollouts
            .values()
            .filter(|e| !e.busy && e.tracked.rollout.is_baking())
            .map(|e| e.tracked.next_check)
            .min()
    }

    /// An operator gate on the rollout of `route` (a full name, or a short name that matches
    /// one rollout's name or `namespace/name`).
    pub fn gate(&mut self, route: &str, gate: Gate) -> Result<RolloutEvent, GateError> {
        let route = self.resolve(route)?;
        let entry = self
            .rollouts
            .get(&route)
            .ok_or_else(|| GateError::NotFound(route.to_string()))?;
        // Tried on a copy first, so a refused gate is an error and changes nothing.
        if let Err(e) = entry
            .tracked
            .rollout
            .clone()
            .on(Event::Manual(gate), now_ms())
        {
            return Err(GateError::NotNow(e.to_string()));
        }
        self.event(&route, Event::Manual(gate));
        let entry = &self.rollouts[&route];
        Ok(entry.tracked.event(now_ms()))
    }

    /// The pre-step hooks of `call` answered 2xx: the step goes on.
    pub fn hooks_passed(&mut self, route: &ResourceId, epoch: u64, rest: Vec<Effect>) {
        if let Some(entry) = self.current(route, epoch) {
            entry.busy = false;
            entry.gated = None;
            let before = entry.tracked.rollout.want.clone();
            self.effects(route, rest, before);
        }
    }

    /// A pre-step hook refused: the rollout halts (see [`Event::HookFailed`]).
    pub fn hooks_failed(&mut self, route: &ResourceId, epoch: u64, why: String) {
        if let Some(entry) = self.current(route, epoch) {
            entry.busy = false;
            entry.gated = None;
            self.event(route, Event::HookFailed(why));
        }
    }

    /// The counters a step starts from were read (or not: the first reading then serves).
    pub fn baseline_read(&mut self, route: &ResourceId, epoch: u64, readout: Readout) {
        if let Some(entry) = self.current(route, epoch) {
            entry.busy = false;
            entry.tracked.baseline = readout.counters;
        }
    }

    /// A reading of a baking rollout came back: judge the step.
    ///
    /// `closed` says whether a change window holds the route back (its reason): a step that
    /// passed then waits at its weights until the window opens; failures never wait.
    pub fn measured(
        &mut self,
        route: &ResourceId,
        epoch: u64,
        readout: Readout,
        closed: impl Fn(&ResourceId) -> Option<String>,
    ) {
        let Some(entry) = self.current(route, epoch) else {
            return;
        };
        entry.busy = false;
        let Some(judgement) = judgement(entry, readout) else {
            return;
        };
        let advances = match judgement.verdict {
            Verdict::Healthy => true,
            Verdict::Inconclusive => {
                entry.tracked.rollout.plan.on_inconclusive == OnInconclusive::Continue
            }
            _ => false,
        };
        let waiting = if advances { closed(route) } else { None };
        entry.tracked.waiting = waiting.clone();
        if let Some(why) = waiting {
            entry.tracked.rollout.conditions = judgement.conditions.clone();
            tracing::info!(%route, "step passed; the next waits for a change window: {why}");
            self.changed.push(route.clone());
            return;
        }
        self.event(route, Event::Judged(judgement));
    }

    fn current(&mut self, route: &ResourceId, epoch: u64) -> Option<&mut Entry> {
        self.rollouts.get_mut(route).filter(|e| e.epoch == epoch)
    }

    fn resolve(&self, name: &str) -> Result<ResourceId, GateError> {
        if let Some(route) = name
            .parse::<ResourceId>()
            .ok()
            .filter(|route| self.rollouts.contains_key(route))
        {
            return Ok(route);
        }
        let matches: Vec<&ResourceId> = self
            .rollouts
            .keys()
            .filter(|route| route.answers_to(name))
            .collect();
        match matches.as_slice() {
            [] => Err(GateError::NotFound(name.to_string())),
            [one] => Ok((*one).clone()),
            many => Err(GateError::Ambiguous(
                name.to_string(),
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    fn insert(
        &mut self,
        rollout: Rollout,
        loaded: &Loaded,
        names: MetricNames<'_>,
        finished: bool,
    ) {
        let clusters = names(&rollout.route, &rollout.splits);
        let route = rollout.route.clone();
        let tracked = Tracked::new(rollout, loaded, &clusters);
        let source = match MetricsSource::for_spec_in_fleet(
            &tracked.analysis,
            self.admin_url.as_deref(),
            self.fleet.as_ref(),
        ) {
            Ok(source) => Some(Arc::new(source)),
            Err(error) => {
                tracing::warn!(%route, %error, "the rollout's metrics cannot be read");
                None
            }
        };
        self.rollouts.insert(
            route,
            Entry {
                tracked,
                source,
                finished_at: finished.then(Instant::now),
                epoch: 0,
                want_generation: 0,
                busy: false,
                gated: None,
            },
        );
    }

    fn remove(&mut self, route: &ResourceId, message: Option<&str>) {
        if let Some(entry) = self.rollouts.remove(route) {
            self.outbox.push(Work::Forget(route.clone()));
            if let Some(message) = message {
                self.audit(
                    &entry.tracked.rollout,
                    AuditAction::RolloutSuperseded,
                    message,
                );
            }
        }
    }

    /// Feeds `event` to the rollout of `route`, persists, and queues the effects.
    fn event(&mut self, route: &ResourceId, event: Event) {
        let Some(entry) = self.rollouts.get_mut(route) else {
            return;
        };
        // The weights the target holds (or is being given) before this event.
        let before = entry
            .gated
            .clone()
            .unwrap_or_else(|| entry.tracked.rollout.want.clone());
        let effects = match entry.tracked.rollout.on(event, now_ms()) {
            Ok(effects) => effects,
            Err(refused) => {
                tracing::debug!(%route, "{refused}");
                return;
            }
        };
        entry.epoch += 1;
        entry.busy = false;
        entry.gated = None;
        self.changed.push(route.clone());
        // Persist before carrying out: a crash from here on finds the intent.
        self.persist(route);
        self.effects(route, effects, before);
    }

    /// Queues `effects` of the rollout of `route`, in order. A pre-step hook call stops the
    /// queue: what follows waits for its answer.
    fn effects(&mut self, route: &ResourceId, effects: Vec<Effect>, before: WeightMap) {
        let mut gated_from = before;
        let mut effects = effects.into_iter();
        while let Some(effect) = effects.next() {
            match effect {
                Effect::Hooks(kind) => {
                    let Some(call) = self.call(route, kind) else {
                        continue;
                    };
                    if kind == HookKind::PreStep {
                        if let Some(entry) = self.rollouts.get_mut(route) {
                            entry.busy = true;
                            entry.gated = Some(std::mem::take(&mut gated_from));
                        }
                        self.outbox.push(Work::PreStep(Call {
                            rest: effects.collect(),
                            ..call
                        }));
                        return;
                    }
                    self.outbox.push(Work::Notify(call));
                }
                Effect::Apply(_) => {
                    self.generation += 1;
                    if let Some(entry) = self.rollouts.get_mut(route) {
                        entry.tracked.pending_apply = true;
                        entry.want_generation = self.generation;
                    }
                }
                Effect::Baseline => self.ask_baseline(route),
                Effect::MarkFailed(reason) => {
                    if let Some(entry) = self.rollouts.get(route) {
                        self.outbox.push(Work::MarkFailed {
                            commit: entry.tracked.rollout.commit.clone(),
                            reason: format!("rollout of {route} rolled back: {reason}"),
                        });
                    }
                }
                Effect::Finished(phase) => self.finished(route, phase),
            }
        }
    }

    fn persist(&mut self, route: &ResourceId) {
        if let Some(entry) = self.rollouts.get(route) {
            self.outbox.push(Work::Persist(
                route.clone(),
                Box::new(entry.tracked.rollout.clone()),
            ));
        }
    }

    /// The hooks of `kind` of a route, or `None` when it has none.
    fn call(&self, route: &ResourceId, kind: HookKind) -> Option<Call> {
        let entry = self.rollouts.get(route)?;
        let hooks = match kind {
            HookKind::PreStep => &entry.tracked.hooks.pre_step,
            HookKind::PostPromotion => &entry.tracked.hooks.post_promotion,
            HookKind::OnRollback => &entry.tracked.hooks.on_rollback,
        };
        (!hooks.is_empty()).then(|| Call {
            route: route.clone(),
            epoch: entry.epoch,
            kind,
            hooks: hooks.clone(),
            event: entry.tracked.event(now_ms()),
            rest: Vec::new(),
        })
    }

    fn ask_baseline(&mut self, route: &ResourceId) {
        let Some(entry) = self.rollouts.get_mut(route) else {
            return;
        };
        entry.tracked.baseline = None;
        entry.tracked.next_check = Instant::now() + entry.tracked.analysis.interval();
        if entry.source.is_none() {
            return;
        }
        entry.busy = true;
        self.outbox.push(Work::Baseline(Reading {
            route: route.clone(),
            epoch: entry.epoch,
            source: entry.source.clone(),
            backends: entry.tracked.backends(),
            queries: None,
        }));
    }

    fn ask_measure(&mut self, route: &ResourceId, now: Instant) {
        let Some(entry) = self.rollouts.get_mut(route) else {
            return;
        };
        let tracked = &mut entry.tracked;
        tracked.next_check = now + tracked.analysis.interval();
        let elapsed = Duration::from_millis(now_ms().saturating_sub(tracked.rollout.since_ms));
        let queries = (!tracked.analysis.queries.is_empty()).then(|| {
            let vars = TemplateVars {
                canary: tracked.canary.clone(),
                stable: tracked.stable.clone(),
                route: route.name.clone(),
                namespace: route.namespace.clone(),
                window: elapsed,
            };
            (tracked.analysis.queries.clone(), vars)
        });
        entry.busy = true;
        self.outbox.push(Work::Measure(Reading {
            route: route.clone(),
            epoch: entry.epoch,
            source: entry.source.clone(),
            backends: entry.tracked.backends(),
            queries,
        }));
    }

    fn finished(&mut self, route: &ResourceId, phase: Phase) {
        let Some(entry) = self.rollouts.get_mut(route) else {
            return;
        };
        entry.finished_at = Some(Instant::now());
        let rollout = entry.tracked.rollout.clone();
        let (action, message) = match phase {
            Phase::Promoted => (
                AuditAction::RolloutPromoted,
                format!(
                    "{route} promoted through {} step(s) to {}",
                    rollout.steps(),
                    weights_text(rollout.target())
                ),
            ),
            _ => (
                AuditAction::RolloutRolledBack,
                format!(
                    "{route} rolled back to {}: {}",
                    weights_text(&rollout.plan.from),
                    rollout.reason.clone().unwrap_or_default()
                ),
            ),
        };
        tracing::info!("{message}");
        self.audit(&rollout, action, &message);
    }

    fn audit(&mut self, rollout: &Rollout, action: AuditAction, message: &str) {
        let mut entry = AuditEntry::new(&self.target, action);
        entry.commit = rollout.commit.clone();
        entry.resources = vec![rollout.route.to_string()];
        entry.message = message.to_string();
        self.outbox.push(Work::Audit(Box::new(entry)));
    }
}

/// The judgement of a baking step on a reading; `None` when there is nothing to judge yet (the
/// reading failed and will be retried, or it is the step's first reading, which becomes the
/// baseline).
fn judgement(entry: &mut Entry, readout: Readout) -> Option<Judgement> {
    let tracked = &mut entry.tracked;
    let elapsed = Duration::from_millis(now_ms().saturating_sub(tracked.rollout.since_ms));
    let mut observation = Observation {
        elapsed,
        bake: tracked.bake,
        ..Observation::default()
    };
    if tracked.analysis.provider != Provider::None {
        if entry.source.is_none() {
            // Without a source the step can never be judged healthy.
            observation.elapsed = observation.elapsed.max(tracked.bake);
            return Some(judge(&tracked.analysis, &observation));
        }
        let counters = readout.counters?;
        let Some(baseline) = &tracked.baseline else {
            tracked.baseline = Some(counters);
            return None;
        };
        observation.canary = window_of(&counters, baseline, &tracked.canary);
        if !tracked.stable.is_empty() && counters.len() > 1 {
            observation.stable = Some(
                tracked
                    .stable
                    .iter()
                    .map(|name| window_of(&counters, baseline, name))
                    .fold(Sample::default(), |a, b| a.merged(&b)),
            );
        }
        observation.queries = readout.queries;
    }
    Some(judge(&tracked.analysis, &observation))
}

/// What `name` did between `baseline` and `now` (all of `now` when it has no baseline).
fn window_of(
    now: &BTreeMap<String, Counters>,
    baseline: &BTreeMap<String, Counters>,
    name: &String,
) -> Sample {
    match (now.get(name), baseline.get(name)) {
        (Some(now), Some(then)) => now.since(then),
        (Some(now), None) => now.since(&Default::default()),
        _ => Sample::default(),
    }
}

/// `target 90%, target-green 10%`.
pub fn weights_text(weights: &WeightMap) -> String {
    weights
        .iter()
        .map(|(k, v)| format!("{k} {v}%"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// The weight moves and touched routes of a plan, keyed by route (`vhost_of` names the route of
/// a change, or `None` for changes that are not routes).
pub fn moves_of(
    plan: &Plan,
    vhost_of: impl Fn(&meshcd_core::plan::Change) -> Option<ResourceId>,
) -> (BTreeMap<ResourceId, RolloutPlan>, Vec<ResourceId>) {
    let mut moves = BTreeMap::new();
    let mut touched = Vec::new();
    for change in &plan.changes {
        let Some(vhost) = vhost_of(change) else {
            continue;
        };
        touched.push(vhost.clone());
        if let Some(rollout) = &change.rollout {
            moves.insert(vhost, rollout.clone());
        }
    }
    (moves, touched)
}

#[cfg(test)]
mod tests;
