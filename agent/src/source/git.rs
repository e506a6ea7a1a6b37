//! Reads route files from a Git revision with libgit2: a local repository, or a remote one
//! mirrored into a cache folder and fetched on each use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use git2::{FetchOptions, ObjectType, RemoteCallbacks, Repository, TreeWalkMode, TreeWalkResult};
use meshcd_core::load::is_yaml_path;
use meshcd_core::SourceFile;
use sha2::{Digest, Sha256};

use super::{normalize_subpath, Revision, Snapshot, SnapshotCache, SourceError};

/// Files larger than this are skipped: no route file is this big, and a stray dump must not
/// exhaust memory.
const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// What `--repo` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSpec {
    /// A repository on this machine (any folder inside its work tree, or a bare repository).
    Local(PathBuf),
    /// A URL: `file://`, `https://`, `ssh://` or scp-like `git@host:org/repo.git`.
    Remote(String),
}

impl RepoSpec {
    /// Reads a `--repo` argument.
    pub fn parse(text: &str) -> Self {
        let scp_like = !text.contains("://")
            && text
                .split_once(':')
                .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'));
        if text.contains("://") || scp_like {
            RepoSpec::Remote(text.to_string())
        } else {
            RepoSpec::Local(PathBuf::from(text))
        }
    }

    /// The repository for messages, with any password in a URL removed.
    pub fn display(&self) -> String {
        match self {
            RepoSpec::Local(path) => path.display().to_string(),
            RepoSpec::Remote(url) => redact_url(url),
        }
    }
}

/// Removes `user:password@` credentials from a URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() || !parsed.username().is_empty() => {
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// An opened repository that snapshots can be read from.
pub struct GitSource {
    repo: Repository,
    spec: RepoSpec,
    cache: Arc<SnapshotCache>,
}

impl std::fmt::Debug for GitSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitSource")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl GitSource {
    /// Opens a local repository, or mirrors and fetches a remote one into `cache_dir`.
    pub fn open(spec: &RepoSpec, cache_dir: &Path) -> Result<Self, SourceError> {
        let repo = match spec {
            RepoSpec::Local(path) => Repository::discover(path).map_err(|e| SourceError::Open {
                path: path.display().to_string(),
                reason: e.message().to_string(),
            })?,
            RepoSpec::Remote(url) => mirror(url, cache_dir)?,
        };
        Ok(Self {
            repo,
            spec: spec.clone(),
            cache: Arc::new(SnapshotCache::default()),
        })
    }

    /// Shares a snapshot cache (the daemon keeps one across reconciles).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<SnapshotCache>) -> Self {
        self.cache = cache;
        self
    }

    /// The commit id a revision names (`None`: HEAD of the current branch, or the remote's
    /// default branch).
    pub fn resolve(&self, rev: Option<&str>) -> Result<git2::Oid, SourceError> {
        let unknown = || SourceError::UnknownRevision {
            rev: rev.unwrap_or("HEAD").to_string(),
            repo: self.spec.display(),
        };
        let name = rev.unwrap_or("HEAD");
        let object = self.repo.revparse_single(name).map_err(|_| unknown())?;
        let commit = object.peel_to_commit().map_err(|_| unknown())?;
        Ok(commit.id())
    }

    /// Reads the YAML files of a revision, limited to `path` (relative to the repository root).
    /// Paths in the snapshot stay relative to the repository root.
    pub fn snapshot(&self, rev: Option<&str>, path: &str) -> Result<Snapshot, SourceError> {
        let subpath = normalize_subpath(path)?;
        let oid = self.resolve(rev)?;
        let commit_id = oid.to_string();
        if let Some(hit) = self.cache.get(&commit_id, &subpath) {
            tracing::debug!(commit = %commit_id, "snapshot cache hit");
            return Ok(hit);
        }
        let commit = self.repo.find_commit(oid).map_err(read_error)?;
        let root = commit.tree().map_err(read_error)?;
        let tree = if subpath.is_empty() {
            root
        } else {
            let entry = root
                .get_path(Path::new(&subpath))
                .map_err(|_| SourceError::BadPath {
                    path: path.to_string(),
                    reason: format!("does not exist at {}", &commit_id[..7]),
                })?;
            if entry.kind() != Some(ObjectType::Tree) {
                return Err(SourceError::BadPath {
                    path: path.to_string(),
                    reason: "is not a folder".into(),
                });
            }
            self.repo.find_tree(entry.id()).map_err(read_error)?
        };
        let files = self.read_tree(&tree, &subpath)?;
        let author = commit.author();
        let snapshot = Snapshot {
            revision: Revision {
                source: self.spec.display(),
                commit: commit_id,
                rev: rev.unwrap_or("HEAD").to_string(),
                summary: commit.summary().ok().flatten().unwrap_or("").to_string(),
                author: format!(
                    "{} <{}>",
                    author.name().unwrap_or(""),
                    author.email().unwrap_or("")
                ),
                path: subpath,
            },
            files: Arc::new(files),
        };
        self.cache.put(snapshot.clone());
        Ok(snapshot)
    }

    /// The `.rego` files under the repository's `policies/` folder at a commit (see
    /// [`super::policy_files`]); none when the folder is missing.
    pub fn policy_files(&self, commit: &str) -> Result<Vec<SourceFile>, SourceError> {
        super::policy_files::from_commit(&self.repo, commit)
    }

    fn read_tree(
        &self,
        tree: &git2::Tree<'_>,
        prefix: &str,
    ) -> Result<Vec<SourceFile>, SourceError> {
        let mut blobs = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or("");
            if name.starts_with('.') {
                // Hidden folders (.github, .git-crypt...) hold no routes.
                return TreeWalkResult::Skip;
            }
            if entry.kind() == Some(ObjectType::Blob) && is_yaml_path(name) {
                blobs.push((format!("{dir}{name}"), entry.id()));
            }
            TreeWalkResult::Ok
        })
        .map_err(read_error)?;
        let mut files = Vec::with_capacity(blobs.len());
        for (relative, id) in blobs {
            let blob = self.repo.find_blob(id).map_err(read_error)?;
            let path = if prefix.is_empty() {
                relative
            } else {
                format!("{prefix}/{relative}")
            };
            if blob.size() > MAX_FILE_BYTES {
                tracing::warn!(%path, size = blob.size(), "skipping file larger than 8 MiB");
                continue;
            }
            let text = String::from_utf8_lossy(blob.content());
            files.push(SourceFile::new(path, text.as_ref()));
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

fn read_error(error: git2::Error) -> SourceError {
    SourceError::Read(error.message().to_string())
}

/// Mirrors a remote into `cache_dir/repos/<name>-<hash>` (bare) and fetches all branches and
/// tags, so any branch, tag or commit can be read. HEAD follows the remote's default branch.
fn mirror(url: &str, cache_dir: &Path) -> Result<Repository, SourceError> {
    let shown = redact_url(url);
    let fetch_error = |reason: String| SourceError::Fetch {
        url: shown.clone(),
        reason,
    };
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let base = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect::<String>();
    let dir = cache_dir.join("repos").join(format!("{base}-{hash}"));
    fs_err::create_dir_all(&dir).map_err(|e| fetch_error(format!("cache folder: {e}")))?;
    let repo = match Repository::open_bare(&dir) {
        Ok(repo) => repo,
        Err(_) => Repository::init_bare(&dir).map_err(|e| fetch_error(e.message().to_string()))?,
    };
    {
        let mut remote = repo
            .remote_anonymous(url)
            .map_err(|e| fetch_error(e.message().to_string()))?;
        let mut options = FetchOptions::new();
        options.remote_callbacks(credentials());
        options.prune(git2::FetchPrune::On);
        remote
            .fetch(
                &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                Some(&mut options),
                None,
            )
            .map_err(|e| fetch_error(e.message().to_string()))?;
        if let Ok(default) = remote.default_branch() {
            if let Ok(name) = default.as_str() {
                repo.set_head(name)
                    .map_err(|e| fetch_error(e.message().to_string()))?;
            }
        }
    }
    Ok(repo)
}

/// Credentials for fetching: the SSH agent, Git's credential helpers, or
/// `MESHCD_GIT_USERNAME`/`MESHCD_GIT_PASSWORD` (a token). Never logged.
fn credentials() -> RemoteCallbacks<'static> {
    let mut callbacks = RemoteCallbacks::new();
    let mut attempts = 0;
    callbacks.credentials(move |url, username, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            if let Ok(password) = std::env::var("MESHCD_GIT_PASSWORD") {
                let user = std::env::var("MESHCD_GIT_USERNAME")
                    .unwrap_or_else(|_| "x-access-token".into());
                return git2::Cred::userpass_plaintext(&user, &password);
            }
            if let Ok(config) = git2::Config::open_default() {
                return git2::Cred::credential_helper(&config, url, username);
            }
        }
        git2::Cred::default()
    });
    callbacks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_spec_tells_urls_from_paths() {
        assert_eq!(RepoSpec::parse("."), RepoSpec::Local(".".into()));
        assert_eq!(RepoSpec::parse("/tmp/r"), RepoSpec::Local("/tmp/r".into()));
        assert!(matches!(
            RepoSpec::parse("file:///tmp/r.git"),
            RepoSpec::Remote(_)
        ));
        assert!(matches!(
            RepoSpec::parse("https://github.com/o/r"),
            RepoSpec::Remote(_)
        ));
        assert!(matches!(
            RepoSpec::parse("git@github.com:o/r.git"),
            RepoSpec::Remote(_)
        ));
        assert_eq!(
            RepoSpec::parse("dir:with/colon"),
            RepoSpec::Local("dir:with/colon".into())
        );
    }

    #[test]
    fn urls_lose_their_credentials_in_messages() {
        assert_eq!(
            redact_url("https://user:s3cret@example.com/r.git"),
            "https://example.com/r.git"
        );
        assert_eq!(
            redact_url("https://example.com/r.git"),
            "https://example.com/r.git"
        );
    }
}
