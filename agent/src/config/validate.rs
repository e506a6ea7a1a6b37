//! Turning the parsed YAML of `meshcd.yaml` into a [`Config`]: the file's raw shape, and the
//! checks that report every problem at its `line:col`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use meshcd_core::path::FieldPath;
use meshcd_core::yaml::Node;
use meshcd_core::{Location, Pos, SourceFile};
use serde::Deserialize;

use super::{
    Config, ConfigError, ConfigIssue, EnvoyConfig, EnvoyDelivery, GcpAuthConfig, GcpTargetConfig,
    KubernetesTargetConfig, RenderTargetConfig, RetryConfig, ScheduleConfig, Secret, ServerConfig,
    TargetConfig, Timezone, WebhookConfig, XdsConfig, DEFAULT_LISTEN, DEFAULT_POLL_INTERVAL,
    DEFAULT_RETRY_INITIAL, DEFAULT_RETRY_MAX, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_STATE_DIR,
};
use crate::source::{normalize_subpath, RepoSpec};

/// The file's shape, as written (durations, addresses and cron expressions still text).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawConfig {
    repo: String,
    #[serde(default)]
    rev: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    poll_interval: Option<String>,
    #[serde(default)]
    watch: Option<bool>,
    #[serde(default)]
    self_heal: Option<bool>,
    #[serde(default)]
    server: Option<RawServer>,
    #[serde(default)]
    webhook: Option<RawWebhook>,
    #[serde(default)]
    schedules: Option<Vec<RawSchedule>>,
    #[serde(default)]
    retry: Option<RawRetry>,
    #[serde(default)]
    shutdown_timeout: Option<String>,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    target: Option<RawTarget>,
    #[serde(default)]
    crds: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawServer {
    #[serde(default)]
    listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawWebhook {
    #[serde(default)]
    github_secret_file: Option<PathBuf>,
    #[serde(default)]
    github_secret_env: Option<String>,
    #[serde(default)]
    gitlab_token_file: Option<PathBuf>,
    #[serde(default)]
    gitlab_token_env: Option<String>,
    #[serde(default)]
    branch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSchedule {
    name: String,
    cron: String,
    #[serde(default)]
    timezone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRetry {
    #[serde(default)]
    initial: Option<String>,
    #[serde(default)]
    max: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTarget {
    #[serde(default)]
    envoy: Option<RawEnvoy>,
    #[serde(default)]
    gcp: Option<RawGcp>,
    #[serde(default)]
    kubernetes: Option<RawKubernetes>,
    #[serde(default)]
    render: Option<RawRender>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGcp {
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    auth: Option<RawGcpAuth>,
    #[serde(default)]
    prune: Option<bool>,
    #[serde(default)]
    requests_per_second: Option<u32>,
    #[serde(default)]
    operation_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawGcpAuth {
    #[serde(default)]
    metadata_host: Option<String>,
    #[serde(default)]
    service_account_key_file: Option<PathBuf>,
    #[serde(default)]
    access_token_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawKubernetes {
    #[serde(default)]
    kubeconfig: Option<PathBuf>,
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    field_manager: Option<String>,
    #[serde(default)]
    force_conflicts: Option<bool>,
    #[serde(default)]
    prune: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRender {
    #[serde(default)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnvoy {
    #[serde(default)]
    manage: Option<bool>,
    #[serde(default)]
    binary: Option<PathBuf>,
    #[serde(default)]
    admin_port: Option<u16>,
    #[serde(default)]
    http_port: Option<u16>,
    #[serde(default)]
    tls_port: Option<u16>,
    #[serde(default)]
    work_dir: Option<PathBuf>,
    #[serde(default)]
    backends: std::collections::BTreeMap<String, Vec<String>>,
    #[serde(default)]
    delivery: Option<String>,
    #[serde(default)]
    xds: Option<RawXds>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawXds {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    tls: Option<RawXdsTls>,
    #[serde(default)]
    admit: Vec<String>,
    #[serde(default)]
    ack_timeout: Option<String>,
    #[serde(default)]
    fleets: std::collections::BTreeMap<String, RawFleet>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFleet {
    routes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawXdsTls {
    cert: PathBuf,
    key: PathBuf,
    client_ca: PathBuf,
}

/// Collects problems while turning a [`RawConfig`] into a [`Config`].
pub(super) struct Checker {
    pub(super) file: SourceFile,
    pub(super) issues: Vec<ConfigIssue>,
}

impl Checker {
    pub(super) fn issue(&mut self, pos: Pos, message: String) {
        self.issues.push(ConfigIssue {
            location: Location {
                file: self.file.path.clone(),
                pos,
            },
            snippet: self.file.snippet(pos),
            message,
        });
    }

    /// Records a problem about the field at `path` (dotted, e.g. `retry.max`).
    fn field(&mut self, root: &Node, path: &str, message: impl fmt::Display) {
        let pos = root.locate(&FieldPath::parse(path), false);
        self.issue(pos, format!("`{path}`: {message}"));
    }

    pub(super) fn into_error(mut self) -> ConfigError {
        self.issues.sort_by_key(|i| i.location.pos);
        ConfigError::Invalid {
            issues: self.issues,
        }
    }

    fn duration(
        &mut self,
        root: &Node,
        path: &str,
        text: Option<&str>,
        default: Duration,
    ) -> Duration {
        let Some(text) = text else {
            return default;
        };
        match humantime::parse_duration(text.trim()) {
            Ok(duration) => duration,
            Err(error) => {
                self.field(
                    root,
                    path,
                    format!("invalid duration `{text}`: {error} (examples: 30s, 5m, 1h30m)"),
                );
                default
            }
        }
    }

    pub(super) fn validate(&mut self, raw: RawConfig, root: &Node, base: &Path) -> Config {
        let repo = raw.repo.trim().to_string();
        let repo = if repo.is_empty() {
            self.field(root, "repo", "must name a local repository or a URL");
            repo
        } else {
            match RepoSpec::parse(&repo) {
                RepoSpec::Local(path) => absolute(base, &path).display().to_string(),
                RepoSpec::Remote(url) => url,
            }
        };
        let rev = raw.rev.filter(|r| !r.trim().is_empty());
        let path = match normalize_subpath(raw.path.as_deref().unwrap_or("")) {
            Ok(path) => path,
            Err(error) => {
                self.field(root, "path", error);
                String::new()
            }
        };
        let poll = self.duration(
            root,
            "pollInterval",
            raw.poll_interval.as_deref(),
            DEFAULT_POLL_INTERVAL,
        );
        let server = raw.server.unwrap_or_default();
        let listen = match server.listen.as_deref().unwrap_or(DEFAULT_LISTEN).parse() {
            Ok(addr) => addr,
            Err(_) => {
                self.field(
                    root,
                    "server.listen",
                    "expected IP:PORT, e.g. 127.0.0.1:9090 or [::1]:9090",
                );
                SocketAddr::from(([127, 0, 0, 1], 9090))
            }
        };
        let retry = raw.retry.unwrap_or_default();
        let initial = self.duration(
            root,
            "retry.initial",
            retry.initial.as_deref(),
            DEFAULT_RETRY_INITIAL,
        );
        let max = self.duration(root, "retry.max", retry.max.as_deref(), DEFAULT_RETRY_MAX);
        if initial.is_zero() {
            self.field(root, "retry.initial", "must be more than 0s");
        }
        if max < initial {
            self.field(root, "retry.max", "must be at least `retry.initial`");
        }
        let shutdown_timeout = self.duration(
            root,
            "shutdownTimeout",
            raw.shutdown_timeout.as_deref(),
            DEFAULT_SHUTDOWN_TIMEOUT,
        );
        let state_dir = absolute(
            base,
            raw.state_dir
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_STATE_DIR)),
        );
        let webhook = self.webhook(raw.webhook.unwrap_or_default(), root, base, rev.as_deref());
        let schedules = self.schedules(raw.schedules.unwrap_or_default(), root);
        let target = self.target(raw.target.unwrap_or_default(), root, base, &state_dir);
        Config {
            file: PathBuf::from(&self.file.path),
            repo,
            rev,
            path,
            poll_interval: Some(poll).filter(|d| !d.is_zero()),
            watch: raw.watch.unwrap_or(true),
            self_heal: raw.self_heal.unwrap_or(false),
            server: ServerConfig { listen },
            webhook,
            schedules,
            retry: RetryConfig { initial, max },
            shutdown_timeout,
            state_dir,
            target,
            crds: raw.crds.iter().map(|p| absolute(base, p)).collect(),
        }
    }

    fn webhook(
        &mut self,
        raw: RawWebhook,
        root: &Node,
        base: &Path,
        rev: Option<&str>,
    ) -> WebhookConfig {
        let github_secret = self.secret(
            root,
            (
                "webhook.githubSecretFile",
                raw.github_secret_file.as_deref(),
            ),
            ("webhook.githubSecretEnv", raw.github_secret_env.as_deref()),
            base,
        );
        let gitlab_token = self.secret(
            root,
            ("webhook.gitlabTokenFile", raw.gitlab_token_file.as_deref()),
            ("webhook.gitlabTokenEnv", raw.gitlab_token_env.as_deref()),
            base,
        );
        let branch = raw
            .branch
            .or_else(|| rev.map(str::to_string))
            .map(|b| b.trim().trim_start_matches("refs/heads/").to_string())
            .filter(|b| !b.is_empty());
        WebhookConfig {
            github_secret,
            gitlab_token,
            branch,
        }
    }

    /// Reads a secret from a file or an environment variable (one of the two).
    fn secret(
        &mut self,
        root: &Node,
        (file_field, file): (&str, Option<&Path>),
        (env_field, env): (&str, Option<&str>),
        base: &Path,
    ) -> Option<Secret> {
        let value = match (file, env) {
            (Some(_), Some(_)) => {
                self.field(
                    root,
                    env_field,
                    format!("give either `{file_field}` or this, not both"),
                );
                return None;
            }
            (Some(file), None) => {
                let path = absolute(base, file);
                match std::fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.field(
                            root,
                            file_field,
                            format!("cannot read {}: {error}", path.display()),
                        );
                        return None;
                    }
                }
            }
            (None, Some(name)) => match std::env::var_os(name) {
                Some(value) => value.into_encoded_bytes(),
                None => {
                    self.field(
                        root,
                        env_field,
                        format!("environment variable `{name}` is not set"),
                    );
                    return None;
                }
            },
            (None, None) => return None,
        };
        // `echo secret > file` leaves a line break that is not part of the secret.
        let trimmed = value.trim_ascii_end();
        if trimmed.is_empty() {
            let field = if file.is_some() {
                file_field
            } else {
                env_field
            };
            self.field(root, field, "the secret is empty");
            return None;
        }
        Some(Secret::new(trimmed))
    }

    fn schedules(&mut self, raw: Vec<RawSchedule>, root: &Node) -> Vec<ScheduleConfig> {
        let mut schedules: Vec<ScheduleConfig> = Vec::new();
        for (i, schedule) in raw.into_iter().enumerate() {
            let at = |field: &str| format!("schedules[{i}].{field}");
            let name = schedule.name.trim().to_string();
            if name.is_empty() {
                self.field(root, &at("name"), "must not be empty");
            } else if schedules.iter().any(|s| s.name == name) {
                self.field(
                    root,
                    &at("name"),
                    format!("a schedule named `{name}` is defined twice"),
                );
            }
            let timezone = match schedule.timezone.as_deref().map(str::trim) {
                None | Some("") => Some(Timezone::Utc),
                Some(text) => match text.parse() {
                    Ok(tz) => Some(tz),
                    Err(message) => {
                        self.field(root, &at("timezone"), message);
                        None
                    }
                },
            };
            let cron = match parse_cron(&schedule.cron) {
                Ok(cron) => Some(cron),
                Err(message) => {
                    self.field(root, &at("cron"), message);
                    None
                }
            };
            if let (Some(cron), Some(timezone)) = (cron, timezone) {
                let entry = ScheduleConfig {
                    name,
                    cron,
                    timezone,
                };
                if entry.next_after(Utc::now()).is_none() {
                    self.field(root, &at("cron"), "never fires again");
                }
                schedules.push(entry);
            }
        }
        schedules
    }

    fn xds(
        &mut self,
        raw: Option<RawXds>,
        delivery: EnvoyDelivery,
        root: &Node,
        base: &Path,
    ) -> XdsConfig {
        let Some(raw) = raw else {
            return XdsConfig::default();
        };
        if delivery != EnvoyDelivery::Ads {
            self.field(root, "target.envoy.xds", "needs `delivery: ads`");
        }
        let listen = raw.listen.as_deref().and_then(|text| match text.parse() {
            Ok(address) => Some(address),
            Err(_) => {
                self.field(
                    root,
                    "target.envoy.xds.listen",
                    format!("`{text}` is not `address:port` (e.g. `0.0.0.0:18000`)"),
                );
                None
            }
        });
        let tls = raw.tls.map(|tls| crate::xds::TlsFiles {
            cert: absolute(base, &tls.cert),
            key: absolute(base, &tls.key),
            client_ca: absolute(base, &tls.client_ca),
        });
        if let Some(address) = listen {
            let address: std::net::SocketAddr = address;
            if tls.is_none() && !address.ip().is_loopback() {
                self.field(
                    root,
                    "target.envoy.xds.listen",
                    "off a loopback address Envoys connect with mTLS: set `xds.tls`",
                );
            }
        }
        if tls.is_some() && raw.admit.is_empty() {
            self.field(
                root,
                "target.envoy.xds.admit",
                "name the client certificate identities admitted (a SAN, a CN, or a prefix ending in `*`)",
            );
        }
        let ack_timeout = self.duration(
            root,
            "target.envoy.xds.ackTimeout",
            raw.ack_timeout.as_deref(),
            XdsConfig::default().ack_timeout,
        );
        for (name, fleet) in &raw.fleets {
            if name == crate::xds::LOCAL_FLEET {
                self.field(
                    root,
                    &format!("target.envoy.xds.fleets.{name}"),
                    "is the local managed Envoy's fleet, which serves every route: pick another name",
                );
            }
            if fleet.routes.iter().all(|r| r.trim().is_empty()) {
                self.field(
                    root,
                    &format!("target.envoy.xds.fleets.{name}.routes"),
                    "selects no route: list names, `namespace/name`, ids or prefixes ending in `*`",
                );
            }
        }
        XdsConfig {
            listen,
            tls,
            admit: raw.admit,
            ack_timeout,
            fleets: raw
                .fleets
                .into_iter()
                .map(|(name, fleet)| (name, fleet.routes))
                .collect(),
        }
    }

    fn target(
        &mut self,
        raw: RawTarget,
        root: &Node,
        base: &Path,
        state_dir: &Path,
    ) -> Option<TargetConfig> {
        let envoy = raw.envoy.map(|envoy| {
            let admin_port = envoy.admin_port.unwrap_or(9901);
            let http_port = envoy.http_port.unwrap_or(10000);
            if admin_port == 0 {
                self.field(root, "target.envoy.adminPort", "must not be 0");
            }
            if http_port == 0 {
                self.field(root, "target.envoy.httpPort", "must not be 0");
            }
            let tls_port = envoy.tls_port.unwrap_or(443);
            if tls_port == 0 {
                self.field(root, "target.envoy.tlsPort", "must not be 0");
            } else if tls_port == http_port {
                self.field(root, "target.envoy.tlsPort", "must differ from `httpPort`");
            }
            for (name, endpoints) in &envoy.backends {
                for (i, endpoint) in endpoints.iter().enumerate() {
                    if parse_endpoint(endpoint).is_none() {
                        self.field(
                            root,
                            &format!("target.envoy.backends.{name}[{i}]"),
                            "must be `host:port` (e.g. `127.0.0.1:18081`)",
                        );
                    }
                }
            }
            if admin_port == http_port && admin_port != 0 {
                self.field(
                    root,
                    "target.envoy.httpPort",
                    "must differ from `adminPort`",
                );
            }
            let delivery = match envoy.delivery.as_deref() {
                None | Some("files") => EnvoyDelivery::Files,
                Some("ads") => EnvoyDelivery::Ads,
                Some(other) => {
                    self.field(
                        root,
                        "target.envoy.delivery",
                        format!("`{other}` is not a delivery: use `files` or `ads`"),
                    );
                    EnvoyDelivery::Files
                }
            };
            let xds = self.xds(envoy.xds, delivery, root, base);
            EnvoyConfig {
                delivery,
                xds,
                manage: envoy.manage.unwrap_or(true),
                // A bare name (`envoy`) is looked up on PATH; anything with a slash is a path.
                binary: envoy.binary.map(|b| {
                    if b.components().count() > 1 {
                        absolute(base, &b)
                    } else {
                        b
                    }
                }),
                admin_port,
                http_port,
                tls_port,
                work_dir: envoy
                    .work_dir
                    .map_or_else(|| state_dir.join("envoy"), |d| absolute(base, &d)),
                backends: envoy.backends,
            }
        });
        let set = [
            envoy.is_some(),
            raw.gcp.is_some(),
            raw.kubernetes.is_some(),
            raw.render.is_some(),
        ];
        if set.iter().filter(|s| **s).count() > 1 {
            self.field(
                root,
                "target",
                "set one target: `envoy`, `gcp`, `kubernetes` or `render` (run one meshcd per target)",
            );
        }
        let gcp = raw.gcp.map(|gcp| self.gcp(gcp, root, base));
        let kubernetes = raw.kubernetes.map(|k| KubernetesTargetConfig {
            kubeconfig: k.kubeconfig.map(|p| absolute(base, &p)),
            context: k.context,
            field_manager: k
                .field_manager
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| "meshcd".to_string()),
            force_conflicts: k.force_conflicts.unwrap_or(false),
            prune: k.prune.unwrap_or(false),
        });
        let render = raw.render.and_then(|r| match r.dir {
            Some(dir) => Some(RenderTargetConfig {
                dir: absolute(base, &dir),
            }),
            None => {
                self.field(root, "target.render", "needs `dir`: the folder to write");
                None
            }
        });
        // One target at most (a second one was reported above).
        envoy
            .map(TargetConfig::Envoy)
            .or(gcp.map(TargetConfig::Gcp))
            .or(kubernetes.map(TargetConfig::Kubernetes))
            .or(render.map(TargetConfig::Render))
    }

    fn gcp(&mut self, raw: RawGcp, root: &Node, base: &Path) -> GcpTargetConfig {
        let project = raw.project.unwrap_or_default();
        if project.trim().is_empty() {
            self.field(root, "target.gcp", "needs `project`: the project id");
        }
        let auth = raw.auth.unwrap_or_default();
        let sources = [
            auth.metadata_host.is_some(),
            auth.service_account_key_file.is_some(),
            auth.access_token_env.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            self.field(
                root,
                "target.gcp.auth",
                "set one of `metadataHost`, `serviceAccountKeyFile`, `accessTokenEnv`",
            );
        }
        let auth = if let Some(path) = auth.service_account_key_file {
            GcpAuthConfig::ServiceAccountKey {
                path: absolute(base, &path),
            }
        } else if let Some(variable) = auth.access_token_env {
            GcpAuthConfig::AccessTokenEnv { variable }
        } else {
            GcpAuthConfig::Metadata {
                host: auth.metadata_host,
            }
        };
        let operation_timeout = match raw.operation_timeout.as_deref() {
            None => Duration::from_secs(600),
            Some(text) => match humantime::parse_duration(text) {
                Ok(d) if !d.is_zero() => d,
                _ => {
                    self.field(
                        root,
                        "target.gcp.operationTimeout",
                        "must be a duration such as `10m`",
                    );
                    Duration::from_secs(600)
                }
            },
        };
        let requests_per_second = raw.requests_per_second.unwrap_or(10);
        if requests_per_second == 0 {
            self.field(root, "target.gcp.requestsPerSecond", "must be at least 1");
        }
        GcpTargetConfig {
            project,
            location: raw.location.unwrap_or_else(|| "global".to_string()),
            endpoint: raw
                .endpoint
                .unwrap_or_else(|| "https://networkservices.googleapis.com".to_string())
                .trim_end_matches('/')
                .to_string(),
            auth,
            prune: raw.prune.unwrap_or(false),
            requests_per_second: requests_per_second.max(1),
            operation_timeout,
        }
    }
}

/// Parses a cron expression: 6 fields with seconds first (a 7th, the year, is allowed), or a
/// shorthand such as `@daily`.
pub fn parse_cron(expression: &str) -> Result<cron::Schedule, String> {
    let expression = expression.trim();
    let fields = expression.split_whitespace().count();
    if !expression.starts_with('@') && !(6..=7).contains(&fields) {
        return Err(format!(
            "cron expression `{expression}` has {fields} fields; meshcd wants 6, seconds first: \
             `sec min hour day-of-month month day-of-week` (e.g. `0 0 3 * * *`)"
        ));
    }
    cron::Schedule::from_str(expression)
        .map_err(|error| format!("invalid cron expression `{expression}`: {error}"))
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        let joined = base.join(path);
        std::path::absolute(&joined).unwrap_or(joined)
    }
}

/// `host:port` of a backend endpoint (`[::1]:8080` for IPv6), or `None` when it is not one.
pub fn parse_endpoint(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}
