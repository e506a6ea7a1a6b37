//! `meshcd apply`: one reconcile against the live target, with the plan shown first, then every
//! rollout it started driven to its end with live progress (text on stderr, or one JSON event
//! per line on stdout with `--format json`).

use std::io::IsTerminal;

use meshcd_core::model::ResourceId;
use meshcd_core::rollout::machine::Phase;
use serde_json::json;

use super::{cannot_run, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{ApplyArgs, PlanFormat};
use crate::config::{load_config, TargetConfig};
use crate::engine::rollouts::book::weights_text;
use crate::engine::rollouts::{progress_line, RolloutEvent};
use crate::engine::{OutcomeAction, Reconcile, TargetReconciler, Trigger};
use crate::render::{plan_text, Style};
use crate::targets::Target;

/// Runs `apply` and returns the exit status.
pub fn run(args: &ApplyArgs) -> Result<u8, Failure> {
    let mut config = load_config(&args.config).map_err(cannot_run)?;
    if args.rev.is_some() {
        config.rev = args.rev.clone();
    }
    if args.force_conflicts {
        match config.target.as_mut() {
            Some(TargetConfig::Kubernetes(kubernetes)) => kubernetes.force_conflicts = true,
            _ => {
                return Err(cannot_run(anyhow::anyhow!(
                    "--force-conflicts is for the `kubernetes` target; {} configures another",
                    args.config.display()
                )))
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let hint = format!(
            "; if the meshcd daemon runs, ask it instead: curl -X POST http://{}/api/v1/reconcile",
            config.server.listen
        );
        let store = super::targets::open_store(&config, &hint)?;
        let options = super::targets::reconciler_options(&config, true)?;
        crate::with_target!(&config, false, target => {
            apply_to(args, TargetReconciler::new(options, target, store)).await
        })
    })
}

/// Plans, applies and drives the rollouts on one target.
async fn apply_to<T: Target>(
    args: &ApplyArgs,
    reconciler: TargetReconciler<T>,
) -> Result<u8, Failure> {
    {
        let planned = reconciler.plan().await;
        if let (Ok((revision, plan)), PlanFormat::Text) = (&planned, args.format) {
            print!(
                "{}",
                plan_text::render(
                    plan,
                    &revision.label(),
                    reconciler.target().id(),
                    Style::for_stdout()
                )
            );
        }
        let json = matches!(args.format, PlanFormat::Json);
        let events = reconciler.subscribe();
        let outcome = reconciler
            .reconcile(Trigger::Manual)
            .await
            .map_err(cannot_run)?;
        if !json {
            println!("{}: {}", outcome.action.as_str(), outcome.message);
        }
        let interrupted = drive_rollouts(&reconciler, events, json).await;
        let rollouts = reconciler.rollouts();
        let failed = rollouts
            .iter()
            .filter(|r| r.phase == Phase::RolledBack)
            .count();
        let waiting = rollouts.iter().filter(|r| !r.phase.is_terminal()).count();
        if json {
            let plan = planned.ok().map(|(_, plan)| plan);
            let value = json!({
                "type": "result",
                "target": reconciler.target().id(),
                "commit": outcome.commit,
                "action": outcome.action.as_str(),
                "message": outcome.message,
                "changes": plan.map(|p| p.changes).unwrap_or_default(),
                "rollouts": rollouts,
            });
            println!("{}", serde_json::to_string(&value).unwrap_or_default());
        } else {
            for r in &rollouts {
                println!("rollout {}: {}", r.route, rollout_summary(r));
            }
            if interrupted {
                println!(
                    "interrupted: rollout state is kept; `meshcd apply` or `meshcd run` resumes it"
                );
            }
        }
        Ok(
            if matches!(
                outcome.action,
                OutcomeAction::Refused | OutcomeAction::Waiting
            ) || failed > 0
                || waiting > 0
            {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            },
        )
    }
}

/// Shows each rollout event until no rollout moves (all promoted, rolled back or paused, or
/// waiting for a change window). Returns true when interrupted (Ctrl-C): the rollouts stay
/// persisted as they are.
async fn drive_rollouts<T: Target>(
    reconciler: &TargetReconciler<T>,
    mut events: tokio::sync::broadcast::Receiver<RolloutEvent>,
    json: bool,
) -> bool {
    let mut progress = Progress::new(json);
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let mut settled = std::pin::pin!(reconciler.rollout_driver().settled());
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => progress.show(&event),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            () = &mut settled => break,
            _ = &mut interrupt => {
                progress.finish();
                return true;
            }
        }
    }
    while let Ok(event) = events.try_recv() {
        progress.show(&event);
    }
    // Rollouts whose next step waits for a change window may wait for hours: they stay
    // recorded (the daemon, or the next apply, carries on).
    for event in reconciler.rollouts().iter().filter(|r| r.waiting.is_some()) {
        progress.show(event);
    }
    progress.finish();
    false
}

/// `promoted (3 steps)`, `rolled back: step 1 failed: ...`, `paused at step 2/4: ...`.
fn rollout_summary(r: &RolloutEvent) -> String {
    match r.phase {
        Phase::Promoted => format!("promoted through {} step(s) to {}", r.steps, weights_text(&r.weights)),
        Phase::RolledBack => format!(
            "rolled back to {}: {}",
            weights_text(&r.weights),
            r.reason.clone().unwrap_or_default()
        ),
        phase => format!(
            "{phase} at step {}/{} ({}){}",
            r.step,
            r.steps,
            weights_text(&r.weights),
            r.reason
                .as_ref()
                .map(|why| format!(": {why}; `meshcd resume|promote|abort` through `meshcd run`, or `meshcd apply` again"))
                .unwrap_or_default()
        ),
    }
}

/// Shows rollout events: JSON lines on stdout, or lines on stderr (rewritten in place on a
/// terminal while a step bakes).
struct Progress {
    json: bool,
    tty: bool,
    open_line: Option<(ResourceId, Phase, usize)>,
}

impl Progress {
    fn new(json: bool) -> Self {
        Self {
            json,
            tty: std::io::stderr().is_terminal(),
            open_line: None,
        }
    }

    fn show(&mut self, event: &RolloutEvent) {
        if self.json {
            let mut value = serde_json::to_value(event).unwrap_or_default();
            if let Some(object) = value.as_object_mut() {
                object.insert("type".into(), json!("rollout"));
            }
            println!("{}", serde_json::to_string(&value).unwrap_or_default());
            return;
        }
        let line = progress_line(event);
        let key = (event.route.clone(), event.phase, event.step);
        if self.tty {
            if self.open_line.as_ref() == Some(&key) {
                eprint!("\r\x1b[2K{line}");
            } else {
                if self.open_line.is_some() {
                    eprintln!();
                }
                eprint!("{line}");
            }
            self.open_line = Some(key);
        } else {
            eprintln!("{line}");
        }
    }

    fn finish(&mut self) {
        if self.tty && self.open_line.take().is_some() {
            eprintln!();
        }
    }
}
