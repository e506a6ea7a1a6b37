//! The `meshcd` binary: parse the command line, run the command, map the outcome to an exit code.

/// mimalloc instead of the system allocator: see the dependency's note in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use meshcd::cli::{Cli, Command, LogFormat, PolicyCommand};
use meshcd::commands::{self, default_cache_dir, EXIT_FINDINGS};
use meshcd_core::rollout::machine::Gate;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.log_format);
    let cache_dir = cli.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let result = match &cli.command {
        Command::Validate(args) => commands::validate::run(args, &cache_dir),
        Command::Plan(args) => commands::plan::run(args, &cache_dir).map_err(|mut failure| {
            // `terraform plan -detailed-exitcode` convention: 1 for any error.
            if args.detailed_exitcode {
                failure.exit = EXIT_FINDINGS;
            }
            failure
        }),
        Command::Report(args) => commands::report::run(args, &cache_dir),
        Command::Apply(args) => commands::apply::run(args),
        Command::Status(args) => commands::rollouts::status(args),
        Command::Promote(args) => commands::rollouts::gate(args, Gate::Promote),
        Command::Abort(args) => commands::rollouts::gate(args, Gate::Abort),
        Command::Pause(args) => commands::rollouts::gate(args, Gate::Pause),
        Command::Resume(args) => commands::rollouts::gate(args, Gate::Resume),
        Command::Rules(args) => Ok(commands::rules::run(args)),
        Command::Policy(PolicyCommand::Test(args)) => commands::policy::test(args),
        Command::Run(args) => commands::run::run(args),
        Command::History(args) => commands::history::run(args),
        Command::SampleBackend(args) => commands::sample_backend::run(args),
        Command::EnvoyBootstrap(args) => Ok(commands::envoy_bootstrap::run(args)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.exit)
        }
    }
}

/// Logs go to stderr, so stdout stays clean for `--format json`: text lines, coloured only on a
/// terminal (and never with `NO_COLOR` set), or JSON lines for log collectors.
fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "meshcd=debug,meshcd_core=debug,warn",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // Only fails when a subscriber is already set, which nothing else here does.
    let _ = match format {
        LogFormat::Text => logs.with_target(false).with_ansi(colour()).try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
}

/// ANSI colour for stderr: a terminal, and `NO_COLOR` (no-color.org) unset or empty.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
