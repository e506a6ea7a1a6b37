//! A small async client for Envoy's admin interface: readiness, `/config_dump`, `/stats` and
//! `/server_info`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use super::EnvoyError;

/// The timeout of every admin request.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A client for one Envoy's admin interface, e.g. `http://127.0.0.1:9901`.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

/// Numeric and text stats from `/stats?format=json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Counters and gauges by name.
    pub values: BTreeMap<String, u64>,
    /// Text readouts (such as `...rds.<name>.version_text`) by name.
    pub texts: BTreeMap<String, String>,
}

impl Stats {
    /// A counter or gauge; 0 if absent (Envoy creates some counters on first use).
    pub fn get(&self, name: &str) -> u64 {
        self.values.get(name).copied().unwrap_or(0)
    }

    /// The sum of every counter whose name ends with `suffix`.
    pub fn sum_suffix(&self, suffix: &str) -> u64 {
        self.values
            .iter()
            .filter(|(name, _)| name.ends_with(suffix))
            .map(|(_, v)| *v)
            .sum()
    }
}

/// What `/server_info` says about the running Envoy.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    /// The build version string.
    pub version: String,
    /// `LIVE`, `DRAINING`, `PRE_INITIALIZING` or `INITIALIZING`.
    pub state: String,
    /// Time since this process (epoch) started; it drops when Envoy restarts.
    pub uptime_current_epoch: Duration,
    /// Time since the first epoch started.
    pub uptime_all_epochs: Duration,
    /// The hot-restart epoch (`--restart-epoch`).
    pub restart_epoch: u64,
    /// The bootstrap path Envoy was started with.
    pub config_path: String,
}

impl AdminClient {
    /// A client for the admin interface at `base` (such as `http://127.0.0.1:9901`).
    pub fn new(base: &str) -> Result<Self, EnvoyError> {
        let base = base.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(ADMIN_TIMEOUT)
            .connect_timeout(ADMIN_TIMEOUT)
            .no_proxy()
            .build()
            .map_err(|e| EnvoyError::Admin {
                url: base.clone(),
                message: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Self { base, http })
    }

    /// A client for `http://127.0.0.1:<port>`.
    pub fn loopback(port: u16) -> Result<Self, EnvoyError> {
        Self::new(&format!("http://127.0.0.1:{port}"))
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /ready`: the server state text (`LIVE` when ready), whatever the HTTP status.
    pub async fn ready(&self) -> Result<String, EnvoyError> {
        let (_, body) = self.get("/ready", &[]).await?;
        Ok(body.trim().to_string())
    }

    /// The dynamic route configurations (`/config_dump?resource=dynamic_route_configs`): the
    /// dump's `configs` array (each with `route_config`, `version_info`, `last_updated`).
    pub async fn config_dump_routes(&self) -> Result<Vec<Json>, EnvoyError> {
        self.config_dump(&[("resource", "dynamic_route_configs")])
            .await
    }

    /// The active dynamic clusters (`/config_dump?resource=dynamic_active_clusters`): the dump's
    /// `configs` array (each with `cluster`, `version_info`, `last_updated`).
    pub async fn config_dump_clusters(&self) -> Result<Vec<Json>, EnvoyError> {
        self.config_dump(&[("resource", "dynamic_active_clusters")])
            .await
    }

    /// The dynamic listeners (`/config_dump?resource=dynamic_listeners`): the dump's `configs`
    /// array (each with `name` and `active_state.listener`, or `warming_state` while warming).
    pub async fn config_dump_listeners(&self) -> Result<Vec<Json>, EnvoyError> {
        self.config_dump(&[("resource", "dynamic_listeners")]).await
    }

    /// The names of the active dynamic clusters, each with its `version_info` (a masked, cheaper
    /// form of [`Self::config_dump_clusters`]).
    pub async fn active_clusters(&self) -> Result<BTreeMap<String, String>, EnvoyError> {
        let configs = self
            .config_dump(&[
                ("resource", "dynamic_active_clusters"),
                ("mask", "version_info,cluster.name"),
            ])
            .await?;
        Ok(configs
            .iter()
            .filter_map(|c| {
                let name = c.pointer("/cluster/name")?.as_str()?;
                let version = c.get("version_info").and_then(Json::as_str).unwrap_or("");
                Some((name.to_string(), version.to_string()))
            })
            .collect())
    }

    /// The dynamic listeners by name, each `true` when it is active and not warming (a listener
    /// warming up, or being replaced, is `false`).
    pub async fn listener_states(&self) -> Result<BTreeMap<String, bool>, EnvoyError> {
        let configs = self
            .config_dump(&[
                ("resource", "dynamic_listeners"),
                (
                    "mask",
                    "name,active_state.version_info,warming_state.version_info",
                ),
            ])
            .await?;
        Ok(configs
            .iter()
            .filter_map(|c| {
                let name = c.get("name")?.as_str()?;
                let ready = c.get("active_state").is_some() && c.get("warming_state").is_none();
                Some((name.to_string(), ready))
            })
            .collect())
    }

    async fn config_dump(&self, query: &[(&str, &str)]) -> Result<Vec<Json>, EnvoyError> {
        // An Envoy that has loaded no resource of the kind yet answers 404 "... not found in
        // config dump": that is an empty list, not an error.
        let url = self.url("/config_dump", query);
        let (status, body) = self.get("/config_dump", query).await?;
        if status == reqwest::StatusCode::NOT_FOUND && body.contains("not found in config dump") {
            return Ok(Vec::new());
        }
        let value = parse_json(&url, status, &body)?;
        match value.get("configs") {
            Some(Json::Array(configs)) => Ok(configs.clone()),
            None => Ok(Vec::new()),
            Some(other) => Err(EnvoyError::Admin {
                url,
                message: format!("`configs` is not an array: {other}"),
            }),
        }
    }

    /// `GET /stats?format=json&filter=<filter>` (`filter` is an RE2 regular expression over stat
    /// names; empty for all). Histograms are left out.
    pub async fn stats(&self, filter: &str) -> Result<Stats, EnvoyError> {
        let mut query = vec![("format", "json")];
        if !filter.is_empty() {
            query.push(("filter", filter));
        }
        let (_, value) = self.get_json("/stats", &query).await?;
        let mut stats = Stats::default();
        for stat in value
            .get("stats")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = stat.get("name").and_then(Json::as_str) else {
                continue; // histograms
            };
            match stat.get("value") {
                Some(Json::Number(n)) => {
                    if let Some(v) = n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)) {
                        stats.values.insert(name.to_string(), v);
                    }
                }
                Some(Json::String(s)) => {
                    stats.texts.insert(name.to_string(), s.clone());
                }
                _ => {}
            }
        }
        Ok(stats)
    }

    /// `GET /server_info`: version, state, uptimes (use them to notice restarts).
    pub async fn server_info(&self) -> Result<ServerInfo, EnvoyError> {
        let (url, value) = self.get_json("/server_info", &[]).await?;
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let duration = |pointer: &str| -> Result<Duration, EnvoyError> {
            parse_proto_duration(&text(pointer)).ok_or_else(|| EnvoyError::Admin {
                url: url.clone(),
                message: format!("{pointer} is not a duration: {:?}", value.pointer(pointer)),
            })
        };
        Ok(ServerInfo {
            version: text("/version"),
            state: text("/state"),
            uptime_current_epoch: duration("/uptime_current_epoch")?,
            uptime_all_epochs: duration("/uptime_all_epochs")?,
            restart_epoch: value
                .pointer("/command_line_options/restart_epoch")
                .and_then(Json::as_u64)
                .unwrap_or(0),
            config_path: text("/command_line_options/config_path"),
        })
    }

    /// `GET path?query`: the status and the body text. Any status is Ok.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, String), EnvoyError> {
        let url = self.url(path, query);
        let fail = |e: reqwest::Error| EnvoyError::Unreachable {
            url: url.clone(),
            source: e.without_url(),
        };
        let response = self.http.get(&url).send().await.map_err(fail)?;
        let status = response.status();
        let body = response.text().await.map_err(fail)?;
        Ok((status, body))
    }

    async fn get_json(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<(String, Json), EnvoyError> {
        let url = self.url(path, query);
        let (status, body) = self.get(path, query).await?;
        let value = parse_json(&url, status, &body)?;
        Ok((url, value))
    }

    /// The full URL of an admin path with a query.
    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.base);
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode(key));
            url.push('=');
            url.push_str(&encode(value));
        }
        url
    }
}

/// A successful JSON answer, or an error naming the URL.
fn parse_json(url: &str, status: reqwest::StatusCode, body: &str) -> Result<Json, EnvoyError> {
    if !status.is_success() {
        return Err(EnvoyError::Admin {
            url: url.to_string(),
            message: format!("HTTP {status}: {}", first_line(body)),
        });
    }
    serde_json::from_str(body).map_err(|e| EnvoyError::Admin {
        url: url.to_string(),
        message: format!("not JSON: {e}"),
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// Percent-encodes a query component (RFC 3986 unreserved characters and `,` stay).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Parses a protobuf JSON duration such as `12s` or `0.5s`.
pub fn parse_proto_duration(text: &str) -> Option<Duration> {
    let seconds: f64 = text.strip_suffix('s')?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// Escapes `text` for use inside an RE2 regular expression (such as a `/stats` filter).
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded() {
        let admin = AdminClient::loopback(9901).expect("client");
        assert_eq!(
            admin.url(
                "/stats",
                &[("format", "json"), ("filter", r"^cluster\.a\.")]
            ),
            "http://127.0.0.1:9901/stats?format=json&filter=%5Ecluster%5C.a%5C."
        );
    }

    #[test]
    fn durations_and_escapes() {
        assert_eq!(parse_proto_duration("12s"), Some(Duration::from_secs(12)));
        assert_eq!(parse_proto_duration("x"), None);
        assert_eq!(regex_escape("a.b-c"), r"a\.b-c");
    }
}
