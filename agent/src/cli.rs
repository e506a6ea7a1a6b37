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
    /// List the built-in rules with their codes.
    Rules(RulesArgs),
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
        conflicts_with = "applied",
        required_unless_present = "applied"
    )]
    pub base: Option<String>,
    /// Applied state: a folder of previously rendered resources.
    #[arg(long, value_name = "DIR")]
    pub applied: Option<PathBuf>,
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
