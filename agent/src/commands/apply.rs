//! `meshcd apply`: one reconcile against the live target, with the plan shown first.

use std::sync::Arc;

use serde_json::json;

use super::{cannot_run, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::{ApplyArgs, PlanFormat};
use crate::daemon::{
    self, EnvoyReconciler, EnvoyReconcilerOptions, OutcomeAction, Reconcile, Trigger,
};
use crate::render::{plan_text, Style};
use crate::store::{state_path_in, Store};
use crate::target::{EnvoyTarget, EnvoyTargetOptions};

/// Runs `apply` and returns the exit status.
pub fn run(args: &ApplyArgs) -> Result<u8, Failure> {
    let mut config = daemon::load_config(&args.config).map_err(cannot_run)?;
    if args.rev.is_some() {
        config.rev = args.rev.clone();
    }
    let Some(envoy) = config.target.envoy.clone() else {
        return Err(cannot_run(anyhow::anyhow!(
            "{} has no `target.envoy`: nothing to apply to",
            config.file.display()
        )));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = Store::open(state_path_in(&config.state_dir)).map_err(|e| {
            cannot_run(anyhow::anyhow!(
                "{e}; if the meshcd daemon runs, ask it instead: curl -X POST http://{}/api/v1/reconcile",
                config.server.listen
            ))
        })?;
        let target = EnvoyTarget::open(&EnvoyTargetOptions::from_config(&envoy, false))
        .await
        .map_err(cannot_run)?;
        let reconciler = EnvoyReconciler::new(
            EnvoyReconcilerOptions {
                repo: config.repo.clone(),
                rev: config.rev.clone(),
                path: config.path.clone(),
                cache_dir: config.cache_dir(),
                self_heal: true,
                backends: envoy.backends.clone(),
            },
            target,
            Arc::new(store),
        );
        let planned = reconciler.plan().await;
        if let (Ok((revision, plan)), PlanFormat::Text) = (&planned, args.format) {
            print!(
                "{}",
                plan_text::render(plan, &revision.label(), reconciler.target().id(), Style::for_stdout())
            );
        }
        let outcome = reconciler
            .reconcile(Trigger::Manual)
            .await
            .map_err(|e| cannot_run(anyhow::anyhow!(e.message)))?;
        match args.format {
            PlanFormat::Text => println!("{}: {}", outcome.action.as_str(), outcome.message),
            PlanFormat::Json => {
                let plan = planned.ok().map(|(_, plan)| plan);
                let value = json!({
                    "target": reconciler.target().id(),
                    "commit": outcome.commit,
                    "action": outcome.action.as_str(),
                    "message": outcome.message,
                    "changes": plan.map(|p| p.changes).unwrap_or_default(),
                });
                println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            }
        }
        Ok(if outcome.action == OutcomeAction::Refused { EXIT_FINDINGS } else { EXIT_OK })
    })
}
