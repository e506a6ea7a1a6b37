//! The `render` target: writes the files that `gcloud network-services … import` and
//! `kubectl apply -f` take, one per resource under stable names, for teams whose CI applies them
//! itself. The folder is the applied state: it is read back and diffed like any target, files of
//! resources Git no longer has are removed, and a rollout step rewrites the route's file with the
//! step's weights.
//!
//! Layout (`DIR` is `target.render.dir`):
//! - `DIR/network-services/http-routes/NAME.yaml` (also `grpc-routes`, `tcp-routes`,
//!   `tls-routes`, `meshes`, `gateways`): the import form, without `apiVersion`, `kind` and
//!   `name` (gcloud takes the name on its command line):
//!   `gcloud network-services http-routes import NAME --source=FILE --location=global`;
//! - `DIR/kubernetes/NAMESPACE/KIND-NAME.yaml` (kind in lower case, e.g.
//!   `virtualservice-reviews.yaml`): the manifest, for `kubectl apply -f DIR/kubernetes -R`
//!   (or `--server-side`).
//!
//! Files are written atomically (a temporary file renamed into place), keys sorted, so an
//! unchanged resource renders to the same bytes.

use std::path::{Path, PathBuf};

use meshcd_core::model::{Family, Kind, Resource, ResourceId};
use serde_json::Value as Json;

use super::resources::{ResourceApi, ResourceTarget};
use super::TargetError;

/// The `render` target.
pub type RenderTarget = ResourceTarget<RenderDir>;

/// The folder a `render` target writes.
#[derive(Debug, Clone)]
pub struct RenderDir {
    id: String,
    dir: PathBuf,
}

impl RenderDir {
    /// A render folder (created on first write).
    pub fn new(dir: &Path) -> RenderDir {
        RenderDir {
            id: format!("render:{}", dir.display()),
            dir: dir.to_path_buf(),
        }
    }

    /// Opens the `render` target writing to `dir`.
    pub fn target(dir: &Path) -> RenderTarget {
        ResourceTarget::new(RenderDir::new(dir))
    }

    /// The file a resource renders to, relative to the folder.
    pub fn relative_path(id: &ResourceId) -> PathBuf {
        match gcloud_group(id.kind) {
            Some(group) => Path::new("network-services")
                .join(group)
                .join(format!("{}.yaml", id.name)),
            None => {
                let namespace = if id.namespace.is_empty() {
                    "_cluster"
                } else {
                    &id.namespace
                };
                Path::new("kubernetes").join(namespace).join(format!(
                    "{}-{}.yaml",
                    id.kind.name().to_ascii_lowercase(),
                    id.name
                ))
            }
        }
    }

    fn write(&self, resource: &Resource, body: &Json) -> Result<(), TargetError> {
        let path = self.dir.join(Self::relative_path(&resource.id));
        let mut rendered = resource.clone();
        rendered.body = body.clone();
        let yaml = meshcd_core::plan::canonical_yaml(&rendered);
        let header = match gcloud_group(resource.id.kind) {
            Some(group) => format!(
                "# Rendered by meshcd from {}. Apply with:\n#   gcloud network-services {group} import {} --source={} --location=global\n",
                resource.file,
                resource.id.name,
                Self::relative_path(&resource.id).display()
            ),
            None => format!("# Rendered by meshcd from {}.\n", resource.file),
        };
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        let temporary = path.with_extension("yaml.tmp");
        std::fs::write(&temporary, format!("{header}{yaml}"))
            .map_err(|e| io_error(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| io_error(&path, e))
    }

    /// Every rendered file under the folder, relative paths sorted.
    fn files(&self) -> Result<Vec<PathBuf>, TargetError> {
        let mut found = Vec::new();
        for top in ["network-services", "kubernetes"] {
            walk(&self.dir.join(top), &mut found)?;
        }
        let mut relative: Vec<PathBuf> = found
            .into_iter()
            .filter_map(|p| p.strip_prefix(&self.dir).ok().map(Path::to_path_buf))
            .collect();
        relative.sort();
        Ok(relative)
    }
}

impl ResourceApi for RenderDir {
    fn id(&self) -> &str {
        &self.id
    }

    fn describe(&self) -> String {
        format!("{} (files for gcloud import and kubectl apply)", self.id)
    }

    fn manages(&self, kind: Kind) -> bool {
        matches!(
            kind.family(),
            Family::NetworkServices | Family::Istio | Family::GatewayApi
        )
    }

    fn prunes(&self) -> bool {
        // The folder is meshcd's own: a file Git no longer has is removed.
        true
    }

    async fn read(&self, _wanted: &[ResourceId]) -> Result<Vec<(String, Json)>, TargetError> {
        let mut documents = Vec::new();
        for relative in self.files()? {
            let path = self.dir.join(&relative);
            let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
            let mut document: Json =
                serde_yaml_ng::from_str(&text).map_err(|source| TargetError::NotYaml {
                    path: path.clone(),
                    source,
                })?;
            let parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if let [top, group, file] = parts.as_slice() {
                if top == "network-services" {
                    let Some(kind) = kind_of_group(group) else {
                        continue;
                    };
                    if let Json::Object(map) = &mut document {
                        map.insert("apiVersion".into(), Json::from(kind.api_version()));
                        map.insert("kind".into(), Json::from(kind.name()));
                        map.insert(
                            "name".into(),
                            Json::from(file.trim_end_matches(".yaml").to_string()),
                        );
                    }
                }
            }
            documents.push((relative.display().to_string(), document));
        }
        Ok(documents)
    }

    async fn create(&self, resource: &Resource, body: &Json) -> Result<(), TargetError> {
        self.write(resource, body)
    }

    async fn update(
        &self,
        resource: &Resource,
        body: &Json,
        _fields: &[String],
    ) -> Result<(), TargetError> {
        self.write(resource, body)
    }

    async fn delete(&self, id: &ResourceId) -> Result<(), TargetError> {
        let path = self.dir.join(Self::relative_path(id));
        match std::fs::remove_file(&path) {
            Ok(()) => {
                // Folders left empty go too (best effort).
                if let Some(parent) = path.parent() {
                    let _ = std::fs::remove_dir(parent);
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn managed_label(&self, _kind: Kind) -> (&'static str, &'static str) {
        // Files are not labelled: the folder itself says they are meshcd's.
        ("", "")
    }
}

/// The gcloud command group of a networkservices kind (`http-routes`, …).
pub fn gcloud_group(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::NsHttpRoute => "http-routes",
        Kind::NsGrpcRoute => "grpc-routes",
        Kind::NsTcpRoute => "tcp-routes",
        Kind::NsTlsRoute => "tls-routes",
        Kind::NsMesh => "meshes",
        Kind::NsGateway => "gateways",
        _ => return None,
    })
}

fn kind_of_group(group: &str) -> Option<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .find(|k| gcloud_group(*k) == Some(group))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), TargetError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "yaml") {
            found.push(path);
        }
    }
    Ok(())
}

fn io_error(path: &Path, source: std::io::Error) -> TargetError {
    TargetError::Io {
        path: path.to_path_buf(),
        source,
    }
}
