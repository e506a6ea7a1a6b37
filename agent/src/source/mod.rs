//! Where desired and applied states come from: a Git revision, or a folder of rendered files.

pub mod cache;
pub mod folder;
pub mod git;
pub mod policy_files;

use std::sync::Arc;

use meshcd_core::SourceFile;
use serde::Serialize;

pub use cache::SnapshotCache;
pub use git::{GitSource, RepoSpec};

/// The files of one revision, as read from the committed tree (never the working copy).
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// What the files were read from.
    pub revision: Revision,
    /// The YAML files, with repository-relative paths.
    pub files: Arc<Vec<SourceFile>>,
}

/// Describes where a snapshot came from, for output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// Repository path or URL, or the folder.
    pub source: String,
    /// Full commit id (empty for folders).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commit: String,
    /// The revision as asked for (`main`, `v1.2`, a commit id).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rev: String,
    /// First line of the commit message.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// Commit author, `Name <email>`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Sub-folder the files were limited to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub path: String,
}

impl Revision {
    /// A short label: `abc1234` for commits, the folder path otherwise.
    pub fn label(&self) -> String {
        if self.commit.is_empty() {
            self.source.clone()
        } else {
            short_commit(&self.commit).to_string()
        }
    }
}

/// The first 7 characters of a commit id, as Git shows it.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// Why a source could not be read. Each renders as one line.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The repository path does not exist or is not a Git repository.
    #[error("cannot open repository {path}: {reason}")]
    Open {
        /// The path given.
        path: String,
        /// What libgit2 said.
        reason: String,
    },
    /// A remote could not be fetched.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL (credentials removed).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The revision does not name a commit.
    #[error("unknown revision `{rev}` in {repo}")]
    UnknownRevision {
        /// The revision asked for.
        rev: String,
        /// The repository.
        repo: String,
    },
    /// `--path` is absolute, leaves the repository, or names no folder at the revision.
    #[error("path `{path}` {reason}")]
    BadPath {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading the tree or a folder failed.
    #[error("{0}")]
    Read(String),
}

/// Checks a `--path` argument: relative, inside the repository, normalized to `a/b`.
pub fn normalize_subpath(path: &str) -> Result<String, SourceError> {
    let bad = |reason: &str| SourceError::BadPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.starts_with('/') || path.contains('\\') {
        return Err(bad(
            "is outside the repository (give a path relative to its root)",
        ));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(bad("is outside the repository"));
                }
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subpaths_stay_inside_the_repository() {
        assert_eq!(
            normalize_subpath("./samples//cloud-run/").unwrap(),
            "samples/cloud-run"
        );
        assert_eq!(normalize_subpath("a/../b").unwrap(), "b");
        assert_eq!(normalize_subpath("").unwrap(), "");
        assert!(normalize_subpath("../x").is_err());
        assert!(normalize_subpath("/etc").is_err());
        assert!(normalize_subpath("a/../../x").is_err());
    }
}
