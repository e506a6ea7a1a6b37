//! The files a local Envoy reads: `bootstrap.yaml` and the watched `lds.yaml`, `cds.yaml` and
//! `rds.yaml`, published by atomic rename (the only change Envoy notices).
//!
//! All files are JSON text (JSON is YAML), so `serde_json` writes them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use meshcd_core::envoy::{LISTEN_ADDRESS_METADATA, LOCAL_NODE};
use serde_json::{json, Value as Json};

use super::EnvoyError;

/// The bootstrap file's name.
pub const BOOTSTRAP_FILE: &str = "bootstrap.yaml";

/// One of the three watched resource files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `lds.yaml`: listeners.
    Listeners,
    /// `cds.yaml`: clusters.
    Clusters,
    /// `rds.yaml`: route configurations.
    Routes,
}

impl ResourceKind {
    /// All three, in the order they are listed in messages.
    pub const ALL: [ResourceKind; 3] = [Self::Listeners, Self::Clusters, Self::Routes];

    /// The file name in the configuration folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Listeners => "lds.yaml",
            Self::Clusters => "cds.yaml",
            Self::Routes => "rds.yaml",
        }
    }

    /// The `@type` of each resource in the file.
    pub fn type_url(self) -> &'static str {
        match self {
            Self::Listeners => "type.googleapis.com/envoy.config.listener.v3.Listener",
            Self::Clusters => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            Self::Routes => "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        }
    }

    /// The file's path in `dir`.
    pub fn path(self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }
}

/// A parsed resource file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceFile {
    /// The file's `version_info`.
    pub version_info: String,
    /// Its `resources`.
    pub resources: Vec<Json>,
}

/// `dir` as an absolute path (Envoy resolves relative paths against its own working folder).
pub fn absolute_dir(dir: &Path) -> Result<PathBuf, EnvoyError> {
    std::path::absolute(dir).map_err(|e| EnvoyError::io(dir, e))
}

fn path_str(path: &Path) -> Result<&str, EnvoyError> {
    path.to_str().ok_or_else(|| EnvoyError::Invalid {
        reason: format!("path {} is not UTF-8", path.display()),
    })
}

/// The `config_source` that makes Envoy read `file` in `dir` and reload it when a file is renamed
/// into `dir`.
pub fn config_source(dir: &Path, kind: ResourceKind) -> Result<Json, EnvoyError> {
    let dir = absolute_dir(dir)?;
    let file = kind.path(&dir);
    Ok(json!({
        "resource_api_version": "V3",
        "path_config_source": {
            "path": path_str(&file)?,
            "watched_directory": { "path": path_str(&dir)? },
        },
    }))
}

/// The name of the bootstrap cluster through which an Envoy reaches meshcd's xDS server.
pub const XDS_CLUSTER: &str = "meshcd_xds";

/// The bootstrap for an Envoy whose listeners and clusters come from the files in `dir`, or,
/// with `ads` set, from meshcd's xDS server on that Unix socket (delta ADS).
pub fn bootstrap(dir: &Path, admin_port: u16, ads: Option<&Path>) -> Result<Json, EnvoyError> {
    let (dynamic_resources, static_resources) = match ads {
        None => (
            json!({
                "lds_config": config_source(dir, ResourceKind::Listeners)?,
                "cds_config": config_source(dir, ResourceKind::Clusters)?,
            }),
            json!({}),
        ),
        Some(socket) => (
            ads_dynamic_resources(),
            json!({"clusters": [xds_cluster(&json!({"pipe": {"path": path_str(socket)?}}))]}),
        ),
    };
    let mut bootstrap = with_node(
        json!({ "id": LOCAL_NODE, "cluster": LOCAL_NODE }),
        admin_port,
        dynamic_resources,
        static_resources,
    );
    if ads.is_some() {
        bootstrap["stats_sinks"] = metrics_sink();
    }
    Ok(bootstrap)
}

fn ads_dynamic_resources() -> Json {
    json!({
        "ads_config": {
            "api_type": "DELTA_GRPC",
            "transport_api_version": "V3",
            "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}],
            "set_node_on_first_message_only": true,
        },
        "lds_config": {"ads": {}, "resource_api_version": "V3"},
        "cds_config": {"ads": {}, "resource_api_version": "V3"},
    })
}

/// How an Envoy of a fleet reaches meshcd's xDS server over TCP.
#[derive(Debug, Clone)]
pub struct XdsClient {
    /// The Envoy's `node.id` (unique in the fleet).
    pub node_id: String,
    /// Its fleet (`node.cluster`).
    pub fleet: String,
    /// The xDS server's address.
    pub server: std::net::SocketAddr,
    /// The address its listeners bind instead of the configured one (node metadata
    /// `meshcd.dev/listen-address`).
    pub listen_address: Option<String>,
    /// mTLS towards the server.
    pub tls: Option<XdsClientTls>,
}

/// The files of an Envoy's client certificate for xDS.
#[derive(Debug, Clone)]
pub struct XdsClientTls {
    /// Its certificate chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA that signed the server's certificate (PEM).
    pub server_ca: PathBuf,
    /// The name the server's certificate must carry (SNI and verification).
    pub server_name: String,
}

/// The bootstrap of an Envoy that takes everything from meshcd's xDS server over TCP (delta
/// ADS, mTLS when `tls` is set), with its admin interface on `127.0.0.1:admin_port`.
pub fn xds_client_bootstrap(client: &XdsClient, admin_port: u16) -> Json {
    let address = json!({"socket_address": {
        "address": client.server.ip().to_string(),
        "port_value": client.server.port(),
    }});
    let mut cluster = xds_cluster(&address);
    if let Some(tls) = &client.tls {
        cluster["transport_socket"] = json!({
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": tls.server_name,
                "common_tls_context": {
                    "alpn_protocols": ["h2"],
                    "tls_certificates": [{
                        "certificate_chain": {"filename": tls.cert.display().to_string()},
                        "private_key": {"filename": tls.key.display().to_string()},
                    }],
                    "validation_context": {
                        "trusted_ca": {"filename": tls.server_ca.display().to_string()},
                        "match_typed_subject_alt_names": [{
                            "san_type": "DNS",
                            "matcher": {"exact": tls.server_name},
                        }],
                    },
                },
            },
        });
    }
    let mut node = json!({"id": client.node_id, "cluster": client.fleet});
    if let Some(address) = &client.listen_address {
        node["metadata"] = json!({ LISTEN_ADDRESS_METADATA: address });
    }
    let mut bootstrap = with_node(
        node,
        admin_port,
        ads_dynamic_resources(),
        json!({"clusters": [cluster]}),
    );
    bootstrap["stats_sinks"] = metrics_sink();
    bootstrap
}

/// Envoy's metrics service stat sink towards meshcd (over the xDS cluster): cumulative
/// counters and histograms with their buckets, every `stats_flush_interval`; meshcd sums them
/// over the fleet for rollouts judged with the `envoy` provider.
fn metrics_sink() -> Json {
    json!([{
        "name": "envoy.stat_sinks.metrics_service",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig",
            "transport_api_version": "V3",
            "grpc_service": {"envoy_grpc": {"cluster_name": XDS_CLUSTER}},
            "histogram_emit_mode": "HISTOGRAM",
        },
    }])
}

/// A bootstrap around its node, admin port and resources, with meshcd's stats settings.
fn with_node(node: Json, admin_port: u16, dynamic_resources: Json, static_resources: Json) -> Json {
    json!({
        "node": node,
        "admin": {
            "address": { "socket_address": { "address": "127.0.0.1", "port_value": admin_port } },
        },
        "dynamic_resources": dynamic_resources,
        "static_resources": static_resources,
        "stats_flush_interval": "1s",
        // Finer latency buckets than Envoy's default (which jumps 100 → 250 → 500 ms), so
        // rollout conditions such as `p99 <= 200ms` are judged on a bucket edge.
        "stats_config": {
            "histogram_bucket_settings": [{
                "match": {"suffix": "upstream_rq_time"},
                "buckets": LATENCY_BUCKETS_MS,
            }],
        },
    })
}

/// The static cluster that reaches meshcd's xDS server at `address` (HTTP/2, as gRPC needs).
pub fn xds_cluster(address: &Json) -> Json {
    json!({
        "name": XDS_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            },
        },
        "load_assignment": {
            "cluster_name": XDS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
        },
    })
}

/// Upper bounds (ms) of the `upstream_rq_time` histogram buckets the bootstrap asks for.
pub const LATENCY_BUCKETS_MS: [u32; 24] = [
    1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000,
    5000, 10000, 30000, 60000,
];

/// Writes `bootstrap.yaml` into `dir` (creating it) and an empty resource file for each of the
/// three that does not exist yet. Existing resource files are kept: Envoy starts with them.
/// Returns the bootstrap's path.
pub fn write_bootstrap(dir: &Path, admin_port: u16) -> Result<PathBuf, EnvoyError> {
    write_bootstrap_with(dir, admin_port, None)
}

/// [`write_bootstrap`], with the listeners and clusters from meshcd's xDS server on the Unix
/// socket `ads` when it is set.
pub fn write_bootstrap_with(
    dir: &Path,
    admin_port: u16,
    ads: Option<&Path>,
) -> Result<PathBuf, EnvoyError> {
    fs_err::create_dir_all(dir).map_err(|e| EnvoyError::io(dir, e))?;
    let dir = absolute_dir(dir)?;
    for kind in ResourceKind::ALL {
        if !kind.path(&dir).exists() {
            write_resources(&dir, kind, "0", &[])?;
        }
    }
    let path = dir.join(BOOTSTRAP_FILE);
    write_atomic(&path, &bootstrap_bytes(&dir, admin_port, ads)?)?;
    Ok(path)
}

/// The bytes [`write_bootstrap_with`] writes as `bootstrap.yaml` for `dir`, `admin_port` and
/// `ads`.
pub fn bootstrap_bytes(
    dir: &Path,
    admin_port: u16,
    ads: Option<&Path>,
) -> Result<Vec<u8>, EnvoyError> {
    let dir = absolute_dir(dir)?;
    json_bytes(
        &dir.join(BOOTSTRAP_FILE),
        &bootstrap(&dir, admin_port, ads)?,
    )
}

/// Publishes `resources` as `kind`'s file in `dir` with `version_info` = `version`, by atomic
/// rename. Adds the resource `@type` where missing.
pub fn write_resources(
    dir: &Path,
    kind: ResourceKind,
    version: &str,
    resources: &[Json],
) -> Result<(), EnvoyError> {
    let resources: Vec<Json> = resources
        .iter()
        .map(|r| with_type(r.clone(), kind.type_url()))
        .collect();
    let file = json!({ "version_info": version, "resources": resources });
    write_json(&kind.path(dir), &file)
}

/// Reads `kind`'s file in `dir`; `None` if it does not exist.
pub fn read_resources(dir: &Path, kind: ResourceKind) -> Result<Option<ResourceFile>, EnvoyError> {
    let path = kind.path(dir);
    let Some(bytes) = read_raw(&path)? else {
        return Ok(None);
    };
    let value: Json = serde_json::from_slice(&bytes).map_err(|e| EnvoyError::Invalid {
        reason: format!("{}: not JSON: {e}", path.display()),
    })?;
    let version_info = match value.get("version_info") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let resources = match value.get("resources") {
        Some(Json::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    Ok(Some(ResourceFile {
        version_info,
        resources,
    }))
}

/// A file's bytes; `None` if it does not exist.
pub fn read_raw(path: &Path) -> Result<Option<Vec<u8>>, EnvoyError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EnvoyError::io(path, e)),
    }
}

fn write_json(path: &Path, value: &Json) -> Result<(), EnvoyError> {
    write_atomic(path, &json_bytes(path, value)?)
}

/// `value` as pretty JSON text ending with a newline; `path` names the file in errors.
fn json_bytes(path: &Path, value: &Json) -> Result<Vec<u8>, EnvoyError> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|e| EnvoyError::Invalid {
        reason: format!("{}: cannot serialize: {e}", path.display()),
    })?;
    text.push(b'\n');
    Ok(text)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename over
/// `path`, fsync the folder. Readers see the old or the new content, never a mix; and in a
/// watched folder the rename is what makes Envoy reload.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EnvoyError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = fs_err::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs_err::rename(&tmp, path)?;
        // Make the rename itself durable; a failure here does not undo it, so only log it.
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            tracing::debug!("fsync of {} failed: {e}", dir.display());
        }
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = std::fs::remove_file(&tmp);
        EnvoyError::io(path, e)
    })
}

/// `resource` with `"@type": type_url` first, unless it already has a `@type`.
pub fn with_type(resource: Json, type_url: &str) -> Json {
    match resource {
        Json::Object(map) if !map.contains_key("@type") => {
            let mut typed = serde_json::Map::with_capacity(map.len() + 1);
            typed.insert("@type".to_string(), Json::String(type_url.to_string()));
            typed.extend(map);
            Json::Object(typed)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_and_resources_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_bootstrap(dir.path(), 19000).expect("bootstrap");
        let text = std::fs::read_to_string(&path).expect("read");
        let value: Json = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value["admin"]["address"]["socket_address"]["port_value"],
            19000
        );
        let lds = &value["dynamic_resources"]["lds_config"];
        assert_eq!(lds["resource_api_version"], "V3");
        assert!(lds["path_config_source"]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("/lds.yaml")));
        assert_eq!(value["stats_flush_interval"], "1s");
        assert_eq!(
            value["stats_config"]["histogram_bucket_settings"][0]["buckets"][10],
            200
        );
        for kind in ResourceKind::ALL {
            let file = read_resources(dir.path(), kind)
                .expect("read")
                .expect("exists");
            assert_eq!(file.version_info, "0");
            assert!(file.resources.is_empty());
        }
        write_resources(
            dir.path(),
            ResourceKind::Clusters,
            "7",
            &[json!({"name": "a"})],
        )
        .expect("write");
        let file = read_resources(dir.path(), ResourceKind::Clusters)
            .expect("read")
            .expect("exists");
        assert_eq!(file.version_info, "7");
        assert_eq!(
            file.resources[0]["@type"],
            ResourceKind::Clusters.type_url()
        );
        // No temporary files are left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");
    }
}
