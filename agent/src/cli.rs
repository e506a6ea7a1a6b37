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
    /// How logs are written to stderr: `text` for people (coloured on a terminal only), `json`
    /// (one object per line) for journald, Loki and other collectors.
    #[arg(
        long,
        global = true,
        env = "MESHCD_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people; ANSI colour only when stderr is a terminal and `NO_COLOR` is unset.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message`, the event's fields, `target`.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the route YAML of a revision against the built-in rules and the Rego policies
    /// (the repository's `policies/*.rego` at the revision, and any --policy).
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
    /// Write the pull-request report: a verdict, a summary table, policy findings, rollouts
    /// and one collapsible diff per changed resource, in GitHub-flavoured Markdown.
    ///
    /// Compares the head revision (--rev) with a base (--base, as `plan`). The report is split
    /// into comments of at most --max-comment-chars characters, the verdict and summary always
    /// in the first. Also available as `meshcd plan --format markdown`.
    ///
    /// Exit status: 0 no policy errors; 1 the head revision has policy errors (or cannot be
    /// translated for the target); 2 could not run.
    Report(ReportArgs),
    /// Reconcile once: plan against the live target, check policy, apply, verify.
    ///
    /// Reads the repository, revision and target from the daemon configuration (`--config`);
    /// `--rev` overrides the revision. The target must be running (with `target.envoy.manage:
    /// false` semantics: apply attaches to the Envoy, it does not start one). Refuses to apply
    /// when policy errors exist.
    ///
    /// Weight-only changes roll out step by step (see the RolloutPolicy docs); apply stays
    /// until every rollout is promoted, rolled back or paused, showing progress on stderr
    /// (`--format json`: one JSON event per line on stdout, then the result). Ctrl-C leaves
    /// the rollouts recorded; the next `apply` or `run` resumes them.
    ///
    /// A commit changing a route that a ChangeWindow holds back is not applied (exit 1, the
    /// message says until when); rollouts whose next step waits for a window are left
    /// recorded.
    ///
    /// Exit status: 0 applied and every rollout promoted (or nothing to do); 1 refused
    /// (policy or translation errors), held back by a change window, a rollout rolled back,
    /// or one paused for an operator or a window; 2 could not run (bad configuration, target
    /// unreachable, the update was rejected).
    Apply(ApplyArgs),
    /// Show the rollouts: phase, step, weights, metrics against thresholds, bake time left.
    ///
    /// Asks the running daemon (--server, or the `server.listen` of --config); without a
    /// daemon, reads the state store of --config. --watch redraws until Ctrl-C.
    ///
    /// Exit status: 0 shown; 2 could not run (no daemon and no readable store).
    Status(StatusArgs),
    /// Promote a rollout now: go to the desired weights without further analysis.
    ///
    /// ROUTE is the route's full name (`HTTPRoute/web/web`) or a short one that names one
    /// rollout (`web`). Acts through the running daemon; without one, records the gate in the
    /// state store of --config and the next `meshcd run` or `meshcd apply` carries it out.
    ///
    /// Exit status: 0 done; 1 the rollout cannot take the gate now (or none matches);
    /// 2 could not run.
    Promote(GateArgs),
    /// Abort a rollout: roll back to the weights before it and mark its commit failed.
    ///
    /// ROUTE and exit status as for `promote`.
    Abort(GateArgs),
    /// Pause a rollout at its current weights.
    ///
    /// ROUTE and exit status as for `promote`.
    Pause(GateArgs),
    /// Resume a paused rollout: retry the step it stopped at, with a fresh bake.
    ///
    /// ROUTE and exit status as for `promote`.
    Resume(GateArgs),
    /// List the built-in rules with their codes, the upstream checks they mirror and their docs.
    Rules(RulesArgs),
    /// Work with Rego policies: `meshcd policy test` runs their own tests.
    #[command(subcommand)]
    Policy(PolicyCommand),
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
    /// Print the bootstrap (JSON) of an Envoy that joins a fleet over meshcd's xDS server.
    ///
    /// The Envoy takes its listeners, clusters and routes from meshcd (delta ADS, mTLS when
    /// --cert is given); start it with `envoy -c bootstrap.json`. Exit status: 0 printed;
    /// 2 bad arguments.
    EnvoyBootstrap(EnvoyBootstrapArgs),
}

/// Where to read the desired state.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Repository: a local path, or a URL (file://, https://, ssh://, git@host:org/repo)
    /// [default: `.`, or the `repo` of `--config` when one is given].
    #[arg(long, value_name = "REPO")]
    pub repo: Option<String>,
    /// Branch, tag or commit to read (default: HEAD of the current branch; for a remote, its
    /// default branch; with `--config`, its `rev`). The committed tree is read, never the
    /// working copy.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Only read files below this folder of the repository [default: the whole repository, or
    /// the `path` of `--config`].
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
}

impl SourceArgs {
    /// The repository to read (`.` unless `--repo` names one).
    pub fn repo(&self) -> &str {
        self.repo.as_deref().unwrap_or(".")
    }

    /// The folder of the repository to read (`""`: all of it).
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("")
    }

    /// These arguments, with what they leave unsaid taken from `meshcd.yaml`: a command given
    /// `--config` reads the repository, revision and folder the configuration names, unless
    /// told otherwise.
    pub fn or_config(&self, config: &crate::config::Config) -> SourceArgs {
        SourceArgs {
            repo: Some(self.repo.clone().unwrap_or_else(|| config.repo.clone())),
            rev: self.rev.clone().or_else(|| config.rev.clone()),
            path: Some(self.path.clone().unwrap_or_else(|| config.path.clone())),
        }
    }
}

/// `meshcd validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Source of the route files.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Rego policies to evaluate besides the repository's.
    #[command(flatten)]
    pub policy: PolicyArgs,
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
    #[arg(long, value_enum, default_value_t = PlanOutputFormat::Text)]
    pub format: PlanOutputFormat,
    /// Exit 0 for no changes, 1 for errors, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Rego policies to evaluate besides the repository's (resource and plan packages).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Judge change windows at this time (RFC 3339, e.g. `2026-12-24T18:00:00+01:00`)
    /// instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Parses an RFC 3339 time for `--at`.
pub fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time such as 2026-12-24T18:00:00Z: {e}"))
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// A summary, field changes, rollout steps and unified diffs, for people.
    Text,
    /// `{"changes": [...]}`, for machines.
    Json,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutputFormat {
    /// A summary, field changes, rollout steps and unified diffs, for people.
    Text,
    /// `{"changes": [...]}`, for machines.
    Json,
    /// The pull-request report of `meshcd report` (all comments, with its defaults).
    Markdown,
}

/// `meshcd report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Source of the head (desired) route files; `--rev` is the head.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Base revision the head is compared with (e.g. `origin/main`).
    #[arg(
        long,
        value_name = "REV",
        conflicts_with_all = ["applied", "target"],
        required_unless_present_any = ["applied", "target"]
    )]
    pub base: Option<String>,
    /// Compare with a folder of previously rendered resources instead.
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub applied: Option<PathBuf>,
    /// Compare with what a live target serves instead, as configured in `--config`.
    #[arg(long, value_enum, requires = "config")]
    pub target: Option<TargetKind>,
    /// meshcd configuration file naming the target (the daemon's `meshcd.yaml`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Web address of the repository, for links to files at the head commit (default: derived
    /// from `--repo` or the `origin` remote when it is on GitHub or GitLab).
    #[arg(long, value_name = "URL")]
    pub repo_url: Option<String>,
    /// Longest comment, in characters (GitHub: 65536); a longer report is split.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 65_536,
        value_parser = clap::value_parser!(u32).range(2_000..)
    )]
    pub max_comment_chars: u32,
    /// Write the comments to DIR/comment-1.md, comment-2.md, ... instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Rego policies to evaluate besides the repository's (resource and plan packages).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Judge change windows at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The comments, separated by a marker line.
    Markdown,
    /// `{"verdict", "summary", "comments": [...]}`, for a CI script that posts them.
    Json,
    /// SARIF 2.1.0 of the head's findings, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
}

/// `meshcd rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,
}

/// Output formats of `rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// Each rule's code, name and summary, the upstream checks it mirrors and its docs address.
    Text,
    /// `{"rules": [{code, name, summary, description, upstream, url}]}`, for machines.
    Json,
    /// Every rule's documentation as one Markdown page (`docs/rules.md`).
    Markdown,
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

/// `meshcd envoy-bootstrap`.
#[derive(Debug, Args)]
pub struct EnvoyBootstrapArgs {
    /// The Envoy's node id (unique in its fleet).
    #[arg(long)]
    pub node_id: String,
    /// Its fleet (`node.cluster`; `target.envoy.xds.fleets` says which routes it serves).
    #[arg(long)]
    pub fleet: String,
    /// meshcd's xDS address (`target.envoy.xds.listen`), as `address:port`.
    #[arg(long)]
    pub server: std::net::SocketAddr,
    /// The address the Envoy's listeners bind instead of the configured one.
    #[arg(long)]
    pub listen_address: Option<String>,
    /// Its admin port on 127.0.0.1.
    #[arg(long, default_value_t = 9901)]
    pub admin_port: u16,
    /// Its client certificate (PEM), for mTLS; needs --key, --server-ca and --server-name.
    #[arg(long, requires_all = ["key", "server_ca", "server_name"])]
    pub cert: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    #[arg(long, requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// The CA of meshcd's server certificate (PEM).
    #[arg(long, requires = "cert")]
    pub server_ca: Option<std::path::PathBuf>,
    /// The DNS name meshcd's server certificate carries.
    #[arg(long, requires = "cert")]
    pub server_name: Option<String>,
}

/// Where the rollouts live: a running daemon, or the state store of a configuration.
#[derive(Debug, Clone, Args)]
pub struct RolloutSource {
    /// The daemon's URL, e.g. `http://127.0.0.1:9090` (default: from --config, else that).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The meshcd configuration (its `server.listen`, and its state store when no daemon runs).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = HistoryFormat::Text)]
    pub format: HistoryFormat,
}

/// `meshcd status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the rollouts live.
    #[command(flatten)]
    pub source: RolloutSource,
    /// Keep showing changes until Ctrl-C (JSON: one object per line on each change).
    #[arg(long)]
    pub watch: bool,
    /// How often --watch asks, e.g. `1s`.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub interval: String,
}

/// `meshcd promote|abort|pause|resume`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The route whose rollout to act on.
    #[arg(value_name = "ROUTE")]
    pub route: String,
    /// Where the rollouts live.
    #[command(flatten)]
    pub source: RolloutSource,
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
    /// The Cloud Service Mesh API of `target.gcp` (routes read with list).
    Gcp,
    /// The cluster of `target.kubernetes` (resources read with get and list).
    Kubernetes,
    /// The folder of `target.render` (the rendered files read back).
    Render,
}

impl From<TargetKind> for crate::config::TargetKind {
    fn from(kind: TargetKind) -> Self {
        match kind {
            TargetKind::Envoy => Self::Envoy,
            TargetKind::Gcp => Self::Gcp,
            TargetKind::Kubernetes => Self::Kubernetes,
            TargetKind::Render => Self::Render,
        }
    }
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
    /// `kubernetes` target: take over fields another field manager owns instead of failing
    /// with a conflict (as `kubectl apply --server-side --force-conflicts`), for this apply.
    #[arg(long)]
    pub force_conflicts: bool,
}

/// Rego policies (conftest style): the repository's `policies/*.rego` at the revision are
/// always evaluated; these options add more and choose the packages.
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyArgs {
    /// Also evaluate the Rego policies of this file or folder, read from disk (repeatable).
    #[arg(long = "policy", value_name = "PATH")]
    pub policy: Vec<PathBuf>,
    /// Evaluate the packages under this namespace (repeatable; default: `main` and `meshcd`).
    #[arg(long = "namespace", value_name = "NS")]
    pub namespace: Vec<String>,
    /// Evaluate every package, whatever its namespace.
    #[arg(long)]
    pub all_namespaces: bool,
    /// Check documents against the CustomResourceDefinitions of this file or folder
    /// (repeatable): their OpenAPI schemas and CEL validation rules, as the API server does.
    /// Use it for the CRDs the cluster installs (the Gateway API experimental channel, a newer
    /// release, your own kinds); they replace the built-in model for the kinds they define.
    #[arg(long = "crd", value_name = "PATH")]
    pub crd: Vec<PathBuf>,
}

/// `meshcd policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the policies' own tests, as `opa test` and `conftest verify` do.
    ///
    /// Reads every `.rego` file of the paths (default: `policies`, from disk) and runs the
    /// rules named `test_*` of the `*_test.rego` files; a test passes when it is true (use
    /// `with input as {...}` to feed it). Prints PASS/FAIL per test and a summary.
    ///
    /// Exit status: 0 every test passed; 1 a test failed or errored, a policy has errors, or
    /// there is no test; 2 could not run (a path does not exist).
    Test(PolicyTestArgs),
}

/// `meshcd policy test`.
#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// Policy files or folders.
    #[arg(value_name = "PATH", default_value = "policies")]
    pub paths: Vec<PathBuf>,
    /// Only run the tests whose `package.name` contains this text.
    #[arg(long, value_name = "TEXT")]
    pub run: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PolicyTestFormat::Text)]
    pub format: PolicyTestFormat,
}

/// Output formats of `policy test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyTestFormat {
    /// One line per test and a summary, for people.
    Text,
    /// `{"summary", "errors", "tests": [...]}`, for machines.
    Json,
}
