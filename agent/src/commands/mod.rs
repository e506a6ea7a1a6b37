//! The commands behind the CLI, and how their outcomes become exit codes.

pub mod apply;
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

use meshcd_core::finding::attach_snippets;
use meshcd_core::{Finding, Loaded};

use crate::cli::SourceArgs;
use crate::source::{GitSource, RepoSpec, Snapshot, SourceError};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the input has errors (policy or load findings).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: the command could not run.
pub const EXIT_CANNOT_RUN: u8 = 2;

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
    GitSource::open(&RepoSpec::parse(&args.repo), cache_dir)
}

/// Loads a snapshot and runs the built-in policy: the loaded revision and all its findings
/// (with snippets).
pub fn load_and_check(snapshot: &Snapshot) -> (Loaded, Vec<Finding>) {
    let loaded = meshcd_core::load(snapshot.files.as_ref().clone());
    let mut findings = meshcd_core::policy::check(&loaded);
    attach_snippets(&mut findings, &loaded.files);
    (loaded, findings)
}

/// [`load_and_check`] plus the Rego policies: their errors and the findings of their resource
/// packages (see [`policy`]), sorted with the built-in ones.
pub fn load_and_check_with(
    snapshot: &Snapshot,
    policies: &meshcd_core::policy::rego::Policies,
) -> (Loaded, Vec<Finding>) {
    let (loaded, mut findings) = load_and_check(snapshot);
    policy::check_resources(policies, &loaded, &mut findings);
    (loaded, findings)
}
