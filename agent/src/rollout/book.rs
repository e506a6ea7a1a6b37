//! The book of rollouts on one target: starts, drives, persists and reports them. The target
//! itself is not touched here: the owner (a reconciler) asks [`Book::overrides`] which weights
//! to put on top of the desired configuration, publishes, and reports back with
//! [`Book::applied`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meshcd_core::model::ResourceId;
use meshcd_core::plan::{Plan, WeightMap};
use meshcd_core::rollout::judge::{judge, Observation};
use meshcd_core::rollout::machine::{Effect, Event, Gate, HookKind, Phase, Rollout};
use meshcd_core::rollout::{OnInconclusive, Provider, Sample, Verdict};
use meshcd_core::Loaded;
use tokio::sync::broadcast;

use super::events::RolloutEvent;
use super::hooks::{self, HookPayload};
use super::tracked::Tracked;
use crate::analysis::{MetricsSource, TemplateVars};
use crate::store::{AuditAction, AuditEntry, Store};
use crate::target::MetricNames;

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
}

/// Every rollout of one target, with the store that persists them.
pub struct Book {
    target: String,
    store: Arc<Store>,
    admin_url: Option<String>,
    rollouts: BTreeMap<ResourceId, Entry>,
    events: broadcast::Sender<RolloutEvent>,
    client: reqwest::Client,
    recovered: bool,
}

struct Entry {
    tracked: Tracked,
    source: Option<MetricsSource>,
    finished_at: Option<Instant>,
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
    pub fn new(target: impl Into<String>, store: Arc<Store>, admin_url: Option<String>) -> Book {
        let (events, _) = broadcast::channel(256);
        Book {
            target: target.into(),
            store,
            admin_url,
            rollouts: BTreeMap::new(),
            events,
            client: reqwest::Client::new(),
            recovered: false,
        }
    }

    /// Progress events, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<RolloutEvent> {
        self.events.subscribe()
    }

    /// Every rollout the book holds, as events (sorted by route).
    pub fn snapshot(&self) -> Vec<RolloutEvent> {
        let now = now_ms();
        self.rollouts
            .values()
            .map(|e| e.tracked.event(now))
            .collect()
    }

    /// True while a rollout is pending, progressing or rolling back (paused ones wait for an
    /// operator and do not count).
    pub fn is_moving(&self) -> bool {
        self.rollouts.values().any(|e| {
            matches!(
                e.tracked.rollout.phase,
                Phase::Pending | Phase::Progressing | Phase::RollingBack
            ) || e.tracked.pending_apply
        })
    }

    /// The rollouts that ended, paused or still run, by route (for `meshcd apply`'s summary).
    pub fn phases(&self) -> Vec<(ResourceId, Phase, Option<String>)> {
        self.rollouts
            .values()
            .map(|e| {
                let r = &e.tracked.rollout;
                (r.route.clone(), r.phase, r.reason.clone())
            })
            .collect()
    }

    /// Loads the rollouts the store holds for this target (once, after a start) and resumes
    /// the active ones (see the module docs of [`crate::rollout`]): each re-applies its weights,
    /// so the caller must publish. `loaded` is the revision whose policies give analysis and
    /// hooks; `names` maps backend keys to metric names (for Envoy, clusters).
    pub async fn recover(&mut self, loaded: &Loaded, names: MetricNames<'_>) {
        if self.recovered {
            return;
        }
        self.recovered = true;
        let store = self.store.clone();
        let target = self.target.clone();
        let stored = tokio::task::spawn_blocking(move || store.list_rollouts::<Rollout>(&target))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
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
            self.event(&route, Event::Recover).await;
        }
    }

    /// Brings the book in line with a revision's plan (desired `commit` against what the target
    /// serves): keeps rollouts whose final weights the commit still asks for, drops superseded
    /// and old rolled-back ones, and starts a rollout for each weight move of `plan` that none
    /// covers (only when `start_new`). `names` maps backend keys to metric names.
    pub async fn sync(
        &mut self,
        commit: &str,
        plan: &Plan,
        loaded: &Loaded,
        names: MetricNames<'_>,
        vhost_of: impl Fn(&meshcd_core::plan::Change) -> Option<ResourceId>,
        start_new: bool,
    ) {
        let mut moves: BTreeMap<ResourceId, meshcd_core::plan::RolloutPlan> = BTreeMap::new();
        let mut touched: Vec<ResourceId> = Vec::new();
        for change in &plan.changes {
            let Some(vhost) = vhost_of(change) else {
                continue;
            };
            touched.push(vhost.clone());
            if let Some(rollout) = &change.rollout {
                moves.insert(vhost, rollout.clone());
            }
        }
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
                self.persist(&route).await;
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
            self.remove(&route, message.as_deref()).await;
        }
        for (route, plan) in moves {
            if !start_new || self.rollouts.contains_key(&route) {
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
            self.event(&route, Event::Start).await;
        }
    }

    /// The weights to put on top of the desired configuration: every rollout whose route must
    /// not (yet) hold the desired weights, with its splits.
    pub fn overrides(&self) -> Vec<Override> {
        self.rollouts
            .values()
            .filter_map(|e| {
                let r = &e.tracked.rollout;
                (r.want != *r.target() || r.phase == Phase::RolledBack)
                    .then(|| (r.route.clone(), r.splits.clone(), r.want.clone()))
            })
            .collect()
    }

    /// The rollouts of `commit` that rolled back, with their reasons (the route is held at its
    /// weights before the rollout until a new commit arrives).
    pub fn rolled_back(&self, commit: &str) -> Vec<(ResourceId, String)> {
        self.rollouts
            .values()
            .map(|e| &e.tracked.rollout)
            .filter(|r| r.phase == Phase::RolledBack && r.commit == commit)
            .map(|r| (r.route.clone(), r.reason.clone().unwrap_or_default()))
            .collect()
    }

    /// True when `plan` (a weight move of `route` from its current weights) only carries on
    /// the active rollout of the route: it ends at the same weights.
    pub fn continues(&self, route: &ResourceId, plan: &meshcd_core::plan::RolloutPlan) -> bool {
        self.rollouts.get(route).is_some_and(|e| {
            e.tracked.rollout.is_active() && plan.steps.last() == Some(e.tracked.rollout.target())
        })
    }

    /// True when some rollout waits for its weights to be published.
    pub fn needs_publish(&self) -> bool {
        self.rollouts.values().any(|e| e.tracked.pending_apply)
    }

    /// Drops a rollout whose weights cannot be put into the configuration any more (the route
    /// changed shape); the desired route is then applied as it is.
    pub async fn abandon(&mut self, route: &ResourceId, why: &str) {
        if self.rollouts.contains_key(route) {
            tracing::warn!(%route, "rollout dropped: {why}");
            self.remove(route, Some(&format!("dropped: {why}"))).await;
        }
    }

    /// The owner published the overrides and the target confirmed them: every rollout that
    /// waited takes `Applied`.
    pub async fn applied(&mut self) {
        let waiting: Vec<ResourceId> = self
            .rollouts
            .iter()
            .filter(|(_, e)| e.tracked.pending_apply)
            .map(|(route, _)| route.clone())
            .collect();
        for route in waiting {
            if let Some(entry) = self.rollouts.get_mut(&route) {
                entry.tracked.pending_apply = false;
            }
            self.event(&route, Event::Applied).await;
        }
    }

    /// Reads metrics and judges every baking rollout whose interval is due. Returns true when a
    /// rollout needs its weights published.
    ///
    /// `closed` says whether a change window holds a route back (its reason): a step that
    /// passed then waits at its weights until the window opens; failures and rollbacks never
    /// wait.
    pub async fn tick(&mut self, closed: impl Fn(&ResourceId) -> Option<String>) -> bool {
        let now = Instant::now();
        self.rollouts.retain(|_, e| {
            e.finished_at.is_none_or(|at| {
                now.duration_since(at) < KEEP_FINISHED
                    || e.tracked.rollout.phase == Phase::RolledBack
            })
        });
        let due: Vec<ResourceId> = self
            .rollouts
            .iter()
            .filter(|(_, e)| e.tracked.rollout.is_baking() && e.tracked.next_check <= now)
            .map(|(route, _)| route.clone())
            .collect();
        for route in due {
            let Some(judgement) = self.measure(&route).await else {
                continue;
            };
            let advances = match judgement.verdict {
                Verdict::Healthy => true,
                Verdict::Inconclusive => self.rollouts.get(&route).is_some_and(|e| {
                    e.tracked.rollout.plan.on_inconclusive == OnInconclusive::Continue
                }),
                _ => false,
            };
            let waiting = if advances { closed(&route) } else { None };
            if let Some(entry) = self.rollouts.get_mut(&route) {
                entry.tracked.waiting = waiting.clone();
            }
            if let Some(why) = waiting {
                if let Some(entry) = self.rollouts.get_mut(&route) {
                    entry.tracked.rollout.conditions = judgement.conditions.clone();
                }
                tracing::info!(%route, "step passed; the next waits for a change window: {why}");
                self.publish_event(&route);
                continue;
            }
            self.event(&route, Event::Judged(judgement)).await;
        }
        self.needs_publish()
    }

    /// When the next rollout is due for a measurement (for the caller's sleep).
    pub fn next_due(&self) -> Option<Instant> {
        self.rollouts
            .values()
            .filter(|e| e.tracked.rollout.is_baking())
            .map(|e| e.tracked.next_check)
            .min()
    }

    /// An operator gate on the rollout of `route` (a full name, or a short name that matches
    /// one rollout's name or `namespace/name`).
    pub async fn gate(&mut self, route: &str, gate: Gate) -> Result<RolloutEvent, GateError> {
        let route = self.resolve(route)?;
        let now = now_ms();
        let entry = self
            .rollouts
            .get(&route)
            .ok_or_else(|| GateError::NotFound(route.to_string()))?;
        // Tried on a copy first, so a refused gate is an error and changes nothing.
        if let Err(e) = entry.tracked.rollout.clone().on(Event::Manual(gate), now) {
            return Err(GateError::NotNow(e.to_string()));
        }
        self.event(&route, Event::Manual(gate)).await;
        let entry = &self.rollouts[&route];
        Ok(entry.tracked.event(now_ms()))
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
        let source = match MetricsSource::for_spec(&tracked.analysis, self.admin_url.as_deref()) {
            Ok(source) => Some(source),
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
            },
        );
    }

    async fn remove(&mut self, route: &ResourceId, message: Option<&str>) {
        if let Some(entry) = self.rollouts.remove(route) {
            let store = self.store.clone();
            let target = self.target.clone();
            let key = route.to_string();
            let _ = tokio::task::spawn_blocking(move || store.delete_rollout(&target, &key)).await;
            if let Some(message) = message {
                self.audit(
                    &entry.tracked.rollout,
                    AuditAction::RolloutSuperseded,
                    message,
                )
                .await;
            }
        }
    }

    /// Feeds `event` to the rollout of `route`, persists, and carries out the effects (which may
    /// feed further events: a refusing pre-step hook).
    async fn event(&mut self, route: &ResourceId, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let Some(entry) = self.rollouts.get_mut(route) else {
                return;
            };
            let effects = match entry.tracked.rollout.on(event, now_ms()) {
                Ok(effects) => effects,
                Err(refused) => {
                    tracing::debug!(%route, "{refused}");
                    continue;
                }
            };
            // Persist before carrying out: a crash from here on finds the intent.
            self.persist(route).await;
            let mut halted = false;
            for effect in effects {
                if halted {
                    break;
                }
                match effect {
                    Effect::Hooks(HookKind::PreStep) => {
                        if let Err(why) = self.call_hooks(route, HookKind::PreStep).await {
                            queue.push(Event::HookFailed(why));
                            halted = true;
                        }
                    }
                    Effect::Hooks(kind) => {
                        if let Err(why) = self.call_hooks(route, kind).await {
                            tracing::warn!(%route, "{why}");
                        }
                    }
                    Effect::Apply(_) => {
                        if let Some(entry) = self.rollouts.get_mut(route) {
                            entry.tracked.pending_apply = true;
                        }
                    }
                    Effect::Baseline => self.baseline(route).await,
                    Effect::MarkFailed(reason) => self.mark_failed(route, &reason).await,
                    Effect::Finished(phase) => self.finished(route, phase).await,
                }
            }
            self.publish_event(route);
        }
    }

    fn publish_event(&self, route: &ResourceId) {
        if let Some(entry) = self.rollouts.get(route) {
            let _ = self.events.send(entry.tracked.event(now_ms()));
        }
    }

    async fn persist(&self, route: &ResourceId) {
        let Some(entry) = self.rollouts.get(route) else {
            return;
        };
        let store = self.store.clone();
        let target = self.target.clone();
        let rollout = entry.tracked.rollout.clone();
        let key = route.to_string();
        let result =
            tokio::task::spawn_blocking(move || store.put_rollout(&target, &key, &rollout)).await;
        if !matches!(result, Ok(Ok(()))) {
            tracing::error!(%route, "could not persist the rollout's state");
        }
    }

    async fn baseline(&mut self, route: &ResourceId) {
        let Some(entry) = self.rollouts.get_mut(route) else {
            return;
        };
        entry.tracked.baseline = None;
        let interval = entry.tracked.analysis.interval();
        entry.tracked.next_check = Instant::now() + interval;
        let backends = entry.tracked.backends();
        let Some(source) = &entry.source else {
            return;
        };
        match source.counters(&backends).await {
            Ok(counters) => entry.tracked.baseline = Some(counters),
            Err(error) => {
                tracing::warn!(%route, %error, "reading the step's first counters failed")
            }
        }
    }

    /// Reads the metrics of one baking rollout and judges them; `None` when they cannot be read
    /// (retried next interval).
    async fn measure(&mut self, route: &ResourceId) -> Option<meshcd_core::rollout::Judgement> {
        let entry = self.rollouts.get_mut(route)?;
        let tracked = &mut entry.tracked;
        let interval = tracked.analysis.interval();
        tracked.next_check = Instant::now() + interval;
        let elapsed = Duration::from_millis(now_ms().saturating_sub(tracked.rollout.since_ms));
        let mut observation = Observation {
            elapsed,
            bake: tracked.bake,
            ..Observation::default()
        };
        if tracked.analysis.provider != Provider::None {
            let Some(source) = &entry.source else {
                // Without a source the step can never be judged healthy.
                observation.elapsed = observation.elapsed.max(tracked.bake);
                return Some(judge(&tracked.analysis, &observation));
            };
            source.probe_round().await;
            let backends = tracked.backends();
            let counters = match source.counters(&backends).await {
                Ok(counters) => counters,
                Err(error) => {
                    tracing::warn!(%route, %error, "reading metrics failed");
                    return None;
                }
            };
            let Some(baseline) = &tracked.baseline else {
                tracked.baseline = Some(counters);
                return None;
            };
            let window = |name: &String| window_of(&counters, baseline, name);
            observation.canary = window_of(&counters, baseline, &tracked.canary);
            if !tracked.stable.is_empty() && counters.len() > 1 {
                observation.stable = Some(
                    tracked
                        .stable
                        .iter()
                        .map(window)
                        .fold(Sample::default(), |a, b| a.merged(&b)),
                );
            }
            if !tracked.analysis.queries.is_empty() {
                let vars = TemplateVars {
                    canary: tracked.canary.clone(),
                    stable: tracked.stable.clone(),
                    route: route.name.clone(),
                    namespace: route.namespace.clone(),
                    window: elapsed,
                };
                observation.queries = source.queries(&tracked.analysis.queries, &vars).await;
            }
        }
        Some(judge(&tracked.analysis, &observation))
    }

    async fn call_hooks(&self, route: &ResourceId, kind: HookKind) -> Result<(), String> {
        let Some(entry) = self.rollouts.get(route) else {
            return Ok(());
        };
        let hooks = match kind {
            HookKind::PreStep => &entry.tracked.hooks.pre_step,
            HookKind::PostPromotion => &entry.tracked.hooks.post_promotion,
            HookKind::OnRollback => &entry.tracked.hooks.on_rollback,
        };
        if hooks.is_empty() {
            return Ok(());
        }
        let event = entry.tracked.event(now_ms());
        let payload = HookPayload {
            hook: kind,
            target: &self.target,
            rollout: &event,
        };
        hooks::call_all(&self.client, hooks, &payload).await
    }

    async fn mark_failed(&self, route: &ResourceId, reason: &str) {
        let Some(entry) = self.rollouts.get(route) else {
            return;
        };
        let store = self.store.clone();
        let target = self.target.clone();
        let commit = entry.tracked.rollout.commit.clone();
        let reason = format!("rollout of {route} rolled back: {reason}");
        let _ =
            tokio::task::spawn_blocking(move || store.mark_failed(&target, &commit, &reason)).await;
    }

    async fn finished(&mut self, route: &ResourceId, phase: Phase) {
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
        self.audit(&rollout, action, &message).await;
    }

    async fn audit(&self, rollout: &Rollout, action: AuditAction, message: &str) {
        let mut entry = AuditEntry::new(&self.target, action);
        entry.commit = rollout.commit.clone();
        entry.resources = vec![rollout.route.to_string()];
        entry.message = message.to_string();
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.append_audit(&entry)).await;
    }
}

/// What `name` did between `baseline` and `now` (all of `now` when it has no baseline).
fn window_of(
    now: &BTreeMap<String, meshcd_core::rollout::Counters>,
    baseline: &BTreeMap<String, meshcd_core::rollout::Counters>,
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
