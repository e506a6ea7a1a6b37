//! The command line: `meshcd validate`, `meshcd plan`, `meshcd rules`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// meshcd keeps service-mesh routes in Git and the mesh in sync with them.
///
/// It reads Cloud Service Mesh (networkservices), Istio and Gateway API route YAML from a Git
/// revision, checks it against built-in policy, and shows what would change.
#[derive(Debug, Parser)]
#[command(
    name = "meshcd",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Log more (to stderr): -v for debug, -vv for trace. `RUST_LOG` also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Folder for cached clones of remote repositories.
    #[arg(long, global = true, env = "MESHCD_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the route YAML of a revision against the built-in rules.
    ///
    /// Every finding is reported at once, with its rule code, severity and file:line:col.
    ///
    /// Exit status: 0 no errors; 1 errors found (or warnings, with --deny-warnings);
    /// 2 could not run (bad arguments, unreachable remote, unknown revision, bad path).
    Validate(ValidateArgs),
    /// Show what would change: desired revision against an applied state.
    ///
    /// The applied state is another revision (--base, e.g. the pull request's base branch) or a
    /// folder of previously rendered resources (--applied). Weight-only changes are shown as
    /// rollouts, with the steps of the RolloutPolicy that selects the route.
    ///
    /// Exit status: 0 success (changes or not); 1 the desired revision has policy errors;
    /// 2 could not run. With --detailed-exitcode (as `terraform plan`): 0 no changes, 1 error
    /// of any kind, 2 changes present.
    Plan(PlanArgs),
    /// Reconcile once: plan against the live target, check policy, apply, verify.
    ///
    /// Reads the repository, revision and target from the daemon configuration (`--config`);
    /// `--rev` overrides the revision. The target must be running (with `target.envoy.manage:
    /// false` semantics: apply attaches to the Envoy, it does not start one). Refuses to apply
    /// when policy errors exist.
    ///
    /// Exit status: 0 applied (or nothing to do); 1 refused (policy or translation errors);
    /// 2 could not run (bad configuration, target unreachable, the update was rejected).
    Apply(ApplyArgs),
    /// List the built-in rules with their codes.
    Rules(RulesArgs),
    /// Run the daemon: keep the target in sync with Git (poll, watch, webhooks, schedules).
    ///
    /// Serves /healthz, /readyz, /metrics, /api/v1/status, POST /api/v1/reconcile and the
    /// GitHub/GitLab push webhooks. SIGTERM or SIGINT stops it after the running reconcile.
    ///
    /// Exit status: 0 stopped by a signal (or, with --once, reconciled); 1 with --once, the
    /// commit was refused by policy; 2 could not run (bad configuration, with file:line:col).
    Run(RunArgs),
    /// Show the audit log of the state store, newest first.
    ///
    /// Every apply, drift, rejection, skip and rollback, with its commit, author and how many
    /// resources changed. Exit status: 0 success; 2 the store could not be read (for example,
    /// while a running meshcd holds it).
    History(HistoryArgs),
    /// Serve a tiny HTTP backend that answers with its name (for demos and tests).
    ///
    /// It can fail a share of requests (`--fail-percent`) or add latency, to play a bad canary.
    SampleBackend(SampleBackendArgs),
}

/// Where to read the desired state.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Repository: a local path, or a URL (file://, https://, ssh://, git@host:org/repo).
    #[arg(long, default_value = ".", value_name = "REPO")]
    pub repo: String,
    /// Branch, tag or commit to read (default: HEAD of the current branch; for a remote, its
    /// default branch). The committed tree is read, never the working copy.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Only read files below this folder of the repository.
    #[arg(long, default_value = "", value_name = "PATH")]
    pub path: String,
}

/// `meshcd validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Source of the route files.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
    /// Treat warnings as errors for the exit status.
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Output formats of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// Findings with a source snippet, for people.
    Text,
    /// `{"findings": [...]}`, for machines.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
}

/// `meshcd plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Source of the desired route files.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Applied state: another revision of the same repository (e.g. `origin/main`).
    #[arg(
        long,
        value_name = "REV",
        conflicts_with_all = ["applied", "target"],
        required_unless_present_any = ["applied", "target"]
    )]
    pub base: Option<String>,
    /// Applied state: a folder of previously rendered resources.
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub applied: Option<PathBuf>,
    /// Applied state: what a live target really serves (read back from it), as configured in
    /// `--config`. A change made to the target behind meshcd's back shows up as drift.
    #[arg(long, value_enum, requires = "config")]
    pub target: Option<TargetKind>,
    /// meshcd configuration file naming the target (the daemon's `meshcd.yaml`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 0 for no changes, 1 for errors, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// A summary, field changes, rollout steps and unified diffs, for people.
    Text,
    /// `{"changes": [...]}`, for machines.
    Json,
}

/// `meshcd rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

/// `meshcd sample-backend`.
#[derive(Debug, Args)]
pub struct SampleBackendArgs {
    /// Name to answer with.
    #[arg(long)]
    pub name: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18081")]
    pub listen: std::net::SocketAddr,
    /// Answer 503 to this share of requests (0–100), spread evenly.
    #[arg(long, default_value_t = 0)]
    pub fail_percent: u8,
    /// Delay each answer, e.g. `200ms`.
    #[arg(long)]
    pub latency: Option<String>,
}

/// `meshcd history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only entries of this target (e.g. `envoy:local`).
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// At most this many entries (0 for all).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
    /// The store file (default: `state.redb` in --state-dir).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// The state folder (default: `$XDG_STATE_HOME/meshcd`, else `~/.local/state/meshcd`).
    #[arg(long, env = "MESHCD_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Read the history from a running daemon (it holds the store), e.g.
    /// `http://127.0.0.1:9090`.
    #[arg(long, value_name = "URL", conflicts_with_all = ["state", "state_dir"])]
    pub server: Option<String>,
}

/// Output formats of `history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// A table, one line per entry, for people.
    Text,
    /// `{"entries": [...]}`, for machines.
    Json,
}

/// `meshcd run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The daemon's configuration file.
    #[arg(long, value_name = "PATH", default_value = "meshcd.yaml")]
    pub config: PathBuf,
    /// Reconcile once, print the outcome and exit (no server, no triggers).
    #[arg(long)]
    pub once: bool,
}

/// Live targets `plan` can read applied state from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// The local Envoy of `target.envoy` (read back from its admin `/config_dump`).
    Envoy,
}

/// `meshcd apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The meshcd configuration file (repository, target, state folder).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Revision to apply instead of the configured one.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}
