//! The rollout driver: one task owns the [`Book`] of a target, takes commands from the reconcile
//! and the API ([`Rollouts`]), carries out the book's [`Work`] and feeds the results back.
//!
//! # Contract
//! - **Nothing waits for I/O while holding the book.** Store writes are done by the driver in
//!   the book's order (each rollout's state is persisted before the effects it asks for); hook
//!   calls and metrics readings run as tasks of their own and come back as results, so a hook
//!   that answers after ten seconds holds up neither the status API nor another route's step.
//! - **Readers never wait for the driver.** After every change it publishes a [`View`] through
//!   a `watch` channel, and each changed rollout's progress event on a broadcast channel.
//! - **Stale results are dropped.** Every result carries the rollout's epoch when it was asked
//!   for; one that comes back after the rollout moved on (a gate, a superseding commit) is
//!   ignored.
//! - **Weights are published by the target's writer**, which watches the view: see
//!   [`crate::engine::reconciler`]. It reports back with [`Rollouts::applied`].
//!
//! The driver stops when every [`Rollouts`] handle is dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use meshcd_core::model::ResourceId;
use meshcd_core::rollout::machine::{Effect, Gate, Phase, Rollout};
use meshcd_core::Loaded;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::book::{Book, Call, GateError, Reading, Readout, Work};
use super::events::RolloutEvent;
use super::hooks::{self, HookPayload};
use super::view::View;
use crate::store::Store;
use meshcd_core::plan::RolloutPlan;

/// Maps a rollout's backend keys to metric names (see [`crate::targets::MetricNames`]).
pub type Names =
    Arc<dyn Fn(&ResourceId, &[(String, Vec<String>)]) -> Vec<(String, String)> + Send + Sync>;

/// Whether a change window holds a route back now, and why.
pub type Closed = Arc<dyn Fn(&ResourceId) -> Option<String> + Send + Sync>;

/// A handle on the rollout driver of one target.
#[derive(Clone)]
pub struct Rollouts {
    commands: mpsc::UnboundedSender<Command>,
    view: watch::Receiver<Arc<View>>,
    events: broadcast::Sender<RolloutEvent>,
}

impl std::fmt::Debug for Rollouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollouts").finish_non_exhaustive()
    }
}

/// A revision's weight moves, for [`Rollouts::sync`].
pub struct SyncRequest {
    /// The desired commit.
    pub commit: String,
    /// Weight moves by route.
    pub moves: std::collections::BTreeMap<ResourceId, RolloutPlan>,
    /// Every route the plan changes.
    pub touched: Vec<ResourceId>,
    /// The revision (its RolloutPolicies give analysis and hooks).
    pub loaded: Arc<Loaded>,
    /// Metric names of backends.
    pub names: Names,
    /// Whether weight moves no rollout covers start one.
    pub start_new: bool,
}

enum Command {
    Recover {
        loaded: Arc<Loaded>,
        names: Names,
        reply: oneshot::Sender<Arc<View>>,
    },
    Sync(Box<SyncRequest>, oneshot::Sender<Arc<View>>),
    Abandon {
        route: ResourceId,
        why: String,
        reply: oneshot::Sender<Arc<View>>,
    },
    Applied(u64),
    Gate {
        route: String,
        gate: Gate,
        reply: oneshot::Sender<Result<RolloutEvent, GateError>>,
    },
    Windows(Closed),
}

enum Done {
    PreStep {
        route: ResourceId,
        epoch: u64,
        result: Result<(), String>,
        rest: Vec<Effect>,
    },
    Baseline {
        route: ResourceId,
        epoch: u64,
        readout: Readout,
    },
    Measured {
        route: ResourceId,
        epoch: u64,
        readout: Readout,
    },
}

impl Rollouts {
    /// Starts the driver of `target` (its id in the store); `admin_url` is the Envoy admin URL
    /// the `envoy` analysis provider reads by default, `fleet` the summed metrics of an xDS
    /// fleet it reads instead when there is one. Needs a Tokio runtime.
    pub fn spawn(
        target: impl Into<String>,
        admin_url: Option<String>,
        fleet: Option<Arc<crate::xds::FleetMetrics>>,
        store: Arc<Store>,
    ) -> Self {
        let target = target.into();
        let (commands, inbox) = mpsc::unbounded_channel();
        let (view_tx, view) = watch::channel(Arc::new(View::default()));
        let (events, _) = broadcast::channel(256);
        let driver = Driver {
            book: Book::new(target.clone(), admin_url).with_fleet(fleet),
            target,
            store,
            view: view_tx,
            events: events.clone(),
            tasks: JoinSet::new(),
            client: reqwest::Client::new(),
            closed: Arc::new(|_| None),
        };
        tokio::spawn(driver.run(inbox));
        Rollouts {
            commands,
            view,
            events,
        }
    }

    /// The rollouts now.
    pub fn view(&self) -> Arc<View> {
        self.view.borrow().clone()
    }

    /// A receiver of every new view.
    pub fn watch(&self) -> watch::Receiver<Arc<View>> {
        self.view.clone()
    }

    /// Progress events as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<RolloutEvent> {
        self.events.subscribe()
    }

    /// Loads the rollouts the store holds (once) and resumes the active ones.
    pub async fn recover(&self, loaded: Arc<Loaded>, names: Names) -> Arc<View> {
        self.ask(|reply| Command::Recover {
            loaded,
            names,
            reply,
        })
        .await
    }

    /// Brings the rollouts in line with a revision's weight moves (see [`Book::sync`]).
    pub async fn sync(&self, sync: SyncRequest) -> Arc<View> {
        self.ask(|reply| Command::Sync(Box::new(sync), reply)).await
    }

    /// Drops the rollout of a route whose weights no longer fit it.
    pub async fn abandon(&self, route: &ResourceId, why: &str) -> Arc<View> {
        self.ask(|reply| Command::Abandon {
            route: route.clone(),
            why: why.to_string(),
            reply,
        })
        .await
    }

    /// The target confirmed the weights of the view of `generation`.
    pub fn applied(&self, generation: u64) {
        let _ = self.commands.send(Command::Applied(generation));
    }

    /// Which routes a change window holds back from here on.
    pub fn set_windows(&self, closed: Closed) {
        let _ = self.commands.send(Command::Windows(closed));
    }

    /// An operator gate.
    pub async fn gate(&self, route: &str, gate: Gate) -> Result<RolloutEvent, GateError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Gate {
            route: route.to_string(),
            gate,
            reply,
        };
        if self.commands.send(command).is_err() {
            return Err(GateError::Stopped);
        }
        answer.await.unwrap_or(Err(GateError::Stopped))
    }

    /// Waits until no rollout moves (all promoted, rolled back or paused), or one of them only
    /// waits for a change window.
    pub async fn settled(&self) {
        let mut view = self.view.clone();
        let _ = view
            .wait_for(|v| {
                let active: Vec<_> = v
                    .rollouts
                    .iter()
                    .filter(|r| {
                        matches!(
                            r.phase,
                            Phase::Pending | Phase::Progressing | Phase::RollingBack
                        )
                    })
                    .collect();
                !v.is_moving()
                    || (!active.is_empty() && active.iter().all(|r| r.event.waiting.is_some()))
            })
            .await;
    }

    async fn ask(&self, command: impl FnOnce(oneshot::Sender<Arc<View>>) -> Command) -> Arc<View> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(command(reply)).is_err() {
            return self.view();
        }
        answer.await.unwrap_or_else(|_| self.view())
    }
}

struct Driver {
    book: Book,
    target: String,
    store: Arc<Store>,
    view: watch::Sender<Arc<View>>,
    events: broadcast::Sender<RolloutEvent>,
    tasks: JoinSet<Done>,
    client: reqwest::Client,
    closed: Closed,
}

/// How long the driver sleeps when nothing is due (it wakes for commands and results anyway).
const IDLE: Duration = Duration::from_secs(3600);

impl Driver {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        loop {
            let due = self
                .book
                .next_due()
                .unwrap_or_else(|| Instant::now() + IDLE);
            let mut reply = Reply::None;
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(command) => reply = self.handle(command).await,
                    None => break,
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    match done {
                        Ok(done) => self.feed(done),
                        Err(error) => tracing::error!(%error, "a rollout task failed"),
                    }
                }
                () = tokio::time::sleep_until(due.into()) => self.book.due(Instant::now()),
            }
            self.carry_out().await;
            let view = Arc::new(self.book.view());
            self.view.send_replace(view.clone());
            for event in self.book.take_changed() {
                let _ = self.events.send(event);
            }
            reply.send(view);
        }
        self.tasks.abort_all();
    }

    async fn handle(&mut self, command: Command) -> Reply {
        match command {
            Command::Recover {
                loaded,
                names,
                reply,
            } => {
                if !self.book.recovered() {
                    let stored = self.stored().await;
                    self.book.recover(stored, &loaded, &*names);
                }
                Reply::View(reply)
            }
            Command::Sync(sync, reply) => {
                self.book.sync(
                    &sync.commit,
                    &sync.moves,
                    &sync.touched,
                    &sync.loaded,
                    &*sync.names,
                    sync.start_new,
                );
                Reply::View(reply)
            }
            Command::Abandon { route, why, reply } => {
                self.book.abandon(&route, &why);
                Reply::View(reply)
            }
            Command::Applied(generation) => {
                self.book.applied(generation);
                Reply::None
            }
            Command::Gate { route, gate, reply } => {
                // Answered once the gate's transition is persisted.
                Reply::Gate(reply, Box::new(self.book.gate(&route, gate)))
            }
            Command::Windows(closed) => {
                self.closed = closed;
                Reply::None
            }
        }
    }

    /// The rollouts the store holds for this target (read once, at recovery).
    async fn stored(&self) -> Vec<(String, Rollout)> {
        let (store, target) = (self.store.clone(), self.target.clone());
        let read =
            tokio::task::spawn_blocking(move || store.list_rollouts::<Rollout>(&target)).await;
        match read
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            Ok(stored) => stored,
            Err(error) => {
                tracing::error!(%error, "could not read the stored rollouts");
                Vec::new()
            }
        }
    }

    fn feed(&mut self, done: Done) {
        match done {
            Done::PreStep {
                route,
                epoch,
                result: Ok(()),
                rest,
            } => self.book.hooks_passed(&route, epoch, rest),
            Done::PreStep {
                route,
                epoch,
                result: Err(why),
                ..
            } => self.book.hooks_failed(&route, epoch, why),
            Done::Baseline {
                route,
                epoch,
                readout,
            } => self.book.baseline_read(&route, epoch, readout),
            Done::Measured {
                route,
                epoch,
                readout,
            } => {
                let closed = self.closed.clone();
                self.book
                    .measured(&route, epoch, readout, move |route| closed(route));
            }
        }
    }

    /// Carries out the book's work in order: store writes now, hooks and readings as tasks.
    async fn carry_out(&mut self) {
        for work in self.book.take_work() {
            match work {
                Work::Persist(route, rollout) => {
                    let (store, target) = (self.store.clone(), self.target.clone());
                    let key = route.to_string();
                    let written = tokio::task::spawn_blocking(move || {
                        store.put_rollout(&target, &key, &rollout)
                    })
                    .await;
                    if !matches!(written, Ok(Ok(()))) {
                        tracing::error!(%route, "could not persist the rollout's state");
                    }
                }
                Work::Forget(route) => {
                    let (store, target) = (self.store.clone(), self.target.clone());
                    let key = route.to_string();
                    let _ =
                        tokio::task::spawn_blocking(move || store.delete_rollout(&target, &key))
                            .await;
                }
                Work::Audit(entry) => {
                    let store = self.store.clone();
                    let written =
                        tokio::task::spawn_blocking(move || store.append_audit(&entry)).await;
                    if !matches!(written, Ok(Ok(_))) {
                        tracing::warn!("could not write the audit log");
                    }
                }
                Work::MarkFailed { commit, reason } => {
                    let (store, target) = (self.store.clone(), self.target.clone());
                    let _ = tokio::task::spawn_blocking(move || {
                        store.mark_failed(&target, &commit, &reason)
                    })
                    .await;
                }
                Work::PreStep(call) => {
                    let (client, target) = (self.client.clone(), self.target.clone());
                    self.tasks.spawn(async move {
                        let result = call_hooks(&client, &target, &call).await;
                        Done::PreStep {
                            route: call.route,
                            epoch: call.epoch,
                            result,
                            rest: call.rest,
                        }
                    });
                }
                Work::Notify(call) => {
                    let (client, target) = (self.client.clone(), self.target.clone());
                    tokio::spawn(async move {
                        if let Err(why) = call_hooks(&client, &target, &call).await {
                            tracing::warn!(route = %call.route, "{why}");
                        }
                    });
                }
                Work::Baseline(reading) => {
                    self.tasks.spawn(async move {
                        let (route, epoch) = (reading.route.clone(), reading.epoch);
                        let readout = read(reading, false).await;
                        Done::Baseline {
                            route,
                            epoch,
                            readout,
                        }
                    });
                }
                Work::Measure(reading) => {
                    self.tasks.spawn(async move {
                        let (route, epoch) = (reading.route.clone(), reading.epoch);
                        let readout = read(reading, true).await;
                        Done::Measured {
                            route,
                            epoch,
                            readout,
                        }
                    });
                }
            }
        }
    }
}

/// A reply owed to a command, sent once its work is carried out.
enum Reply {
    None,
    View(oneshot::Sender<Arc<View>>),
    Gate(
        oneshot::Sender<Result<RolloutEvent, GateError>>,
        Box<Result<RolloutEvent, GateError>>,
    ),
}

impl Reply {
    fn send(self, view: Arc<View>) {
        match self {
            Reply::None => {}
            Reply::View(reply) => {
                let _ = reply.send(view);
            }
            Reply::Gate(reply, result) => {
                let _ = reply.send(*result);
            }
        }
    }
}

async fn call_hooks(client: &reqwest::Client, target: &str, call: &Call) -> Result<(), String> {
    let payload = HookPayload {
        hook: call.kind,
        target,
        rollout: &call.event,
    };
    hooks::call_all(client, &call.hooks, &payload).await
}

/// Reads what `reading` asks for (`probe`: send this interval's probes first).
async fn read(reading: Reading, probe: bool) -> Readout {
    let Some(source) = reading.source else {
        return Readout::default();
    };
    if probe {
        source.probe_round().await;
    }
    let counters = match source.counters(&reading.backends).await {
        Ok(counters) => Some(counters),
        Err(error) => {
            tracing::warn!(route = %reading.route, %error, "reading metrics failed");
            None
        }
    };
    let queries = match &reading.queries {
        Some((queries, vars)) if counters.is_some() => source.queries(queries, vars).await,
        _ => Vec::new(),
    };
    Readout { counters, queries }
}
