//! The commands behind the CLI, and how their outcomes become exit codes.

pub mod apply;
pub mod compare;
pub mod envoy_bootstrap;
pub mod history;
pub mod plan;
pub mod policy;
pub mod report;
pub mod rollouts;
pub mod rules;
pub mod run;
pub mod sample_backend;
pub mod targets;
pub mod validate;

use std::path::{Path, PathBuf};

use crate::cli::SourceArgs;
use crate::source::{GitSource, RepoSpec, SourceError};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the input has errors (policy or load findings).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: the command could not run.
pub const EXIT_CANNOT_RUN: u8 = 2;
/// Exit status of `plan --detailed-exitcode` when the plan has changes.
pub const EXIT_CHANGES: u8 = 2;

/// A command that could not run: the one-line reason and the exit status to use.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: anyhow::Error,
    /// The exit status.
    pub exit: u8,
}

/// A failure with exit status 2 ("could not run").
pub fn cannot_run(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        error: error.into(),
        exit: EXIT_CANNOT_RUN,
    }
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Self {
        Self {
            error: error.into(),
            exit: EXIT_CANNOT_RUN,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self {
            error: error.into(),
            exit: EXIT_CANNOT_RUN,
        }
    }
}

/// The default cache folder: `$XDG_CACHE_HOME/meshcd`, else `~/.cache/meshcd`, else a temp dir.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("meshcd");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("meshcd");
    }
    std::env::temp_dir().join("meshcd-cache")
}

/// Opens the repository named by `--repo`.
pub fn open_source(args: &SourceArgs, cache_dir: &Path) -> Result<GitSource, SourceError> {
    GitSource::open(&RepoSpec::parse(args.repo()), cache_dir)
}
