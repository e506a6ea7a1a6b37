//! `meshcd run`: load the daemon configuration, build the runtime, run the daemon (or, with
//! `--once`, one reconcile).

use std::time::Duration;

use super::{cannot_run, Failure, EXIT_FINDINGS, EXIT_OK};
use crate::cli::RunArgs;

use crate::config::{load_config, Config};
use crate::daemon;
use crate::engine::{GitWatchReconciler, OutcomeAction, Reconcile, TargetReconciler, Trigger};

/// How long the runtime waits for blocking work (a Git fetch) when the daemon has stopped.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(2);

/// Runs `meshcd run` and returns the exit status.
///
/// Exit status: 0 the daemon stopped on a signal, or `--once` reconciled; 1 `--once` and the
/// commit was refused by policy; 2 the configuration is invalid (each problem printed as
/// `file:line:col: message`), the port cannot be bound, or `--once` failed.
pub fn run(args: &RunArgs) -> Result<u8, Failure> {
    let config = load_config(&args.config).map_err(cannot_run)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("meshcd")
        .build()?;
    let result = if config.target.is_some() {
        runtime.block_on(async {
            let store = super::targets::open_store(&config, "")?;
            let options = super::targets::reconciler_options(&config, config.self_heal)?;
            crate::with_target!(&config, true, target => {
                let reconciler = TargetReconciler::new(options, target, store);
                drive(args, config.clone(), reconciler).await
            })
        })
    } else {
        let schemas = super::targets::config_schemas(&config)?;
        let reconciler = GitWatchReconciler::from_config(&config, schemas);
        runtime.block_on(drive(args, config, reconciler))
    };
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    result
}

async fn drive<R: Reconcile>(args: &RunArgs, config: Config, reconciler: R) -> Result<u8, Failure> {
    if args.once {
        once(&reconciler).await
    } else {
        daemon::run(config, reconciler)
            .await
            .map(|()| EXIT_OK)
            .map_err(cannot_run)
    }
}

/// One reconcile, reported on stdout.
async fn once<R: Reconcile>(reconciler: &R) -> Result<u8, Failure> {
    match reconciler.reconcile(Trigger::Manual).await {
        Ok(outcome) => {
            println!(
                "{} {}: {}",
                outcome.action.as_str(),
                outcome.commit,
                outcome.message
            );
            Ok(if outcome.action == OutcomeAction::Refused {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            })
        }
        Err(error) => Err(cannot_run(error)),
    }
}
