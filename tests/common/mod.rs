//! Test support: real Git repositories made with libgit2 in temporary folders, and a runner for
//! the real `meshcd` binary.

#![allow(dead_code)]

pub mod backend;
pub mod daemon;
pub mod envoy;
pub mod fleet;
pub mod gcp_server;
pub mod kube_server;
pub mod prometheus;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use git2::{IndexAddOption, Repository, Signature};
use tempfile::TempDir;

/// A Git work tree in a temporary folder.
pub struct TestRepo {
    pub dir: TempDir,
    pub repo: Repository,
}

impl TestRepo {
    /// An empty repository on branch `main`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = git2::RepositoryInitOptions::new();
        options.initial_head("main");
        let repo = Repository::init_opts(dir.path(), &options).expect("git init");
        Self { dir, repo }
    }

    /// The work tree's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating folders).
    pub fn write(&self, relative: &str, text: &str) -> &Self {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    /// Removes a file.
    pub fn remove(&self, relative: &str) -> &Self {
        std::fs::remove_file(self.path().join(relative)).unwrap();
        self
    }

    /// Copies a folder of this source tree (e.g. `samples/cloud-run-mesh`) into the work tree.
    pub fn copy_from_project(&self, from: &str, to: &str) -> &Self {
        let source = project_root().join(from);
        copy_dir(&source, &self.path().join(to));
        self
    }

    /// Stages everything and commits; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        let mut index = self.repo.index().unwrap();
        index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
        index.update_all(["*"], None).unwrap();
        index.write().unwrap();
        let tree_id = index.write_tree().unwrap();
        let tree = self.repo.find_tree(tree_id).unwrap();
        let signature = Signature::now("Test Author", "author@example.com").unwrap();
        let parents: Vec<git2::Commit<'_>> = self
            .repo
            .head()
            .ok()
            .and_then(|h| h.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &parent_refs,
            )
            .unwrap()
            .to_string()
    }

    /// Creates a branch at HEAD.
    pub fn branch(&self, name: &str) {
        let head = self.repo.head().unwrap().peel_to_commit().unwrap();
        self.repo.branch(name, &head, true).unwrap();
    }

    /// Switches HEAD to a branch and updates the work tree.
    pub fn checkout(&self, name: &str) {
        let refname = format!("refs/heads/{name}");
        self.repo.set_head(&refname).unwrap();
        self.repo
            .checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .unwrap();
    }

    /// Tags HEAD.
    pub fn tag(&self, name: &str) {
        let head = self
            .repo
            .head()
            .unwrap()
            .peel(git2::ObjectType::Commit)
            .unwrap();
        self.repo.tag_lightweight(name, &head, true).unwrap();
    }

    /// Makes a bare clone (a "remote") in a new temp folder; returns its folder.
    pub fn bare_remote(&self) -> TempDir {
        let dir = tempfile::tempdir().unwrap();
        let bare = Repository::init_bare(dir.path()).unwrap();
        drop(bare);
        self.push_to(dir.path(), true);
        dir
    }

    /// Pushes every branch to a bare repository (force when asked).
    pub fn push_to(&self, bare: &Path, force: bool) {
        let mut remote = self
            .repo
            .remote_anonymous(&format!("file://{}", bare.display()))
            .unwrap();
        let branches: Vec<String> = self
            .repo
            .branches(Some(git2::BranchType::Local))
            .unwrap()
            .map(|b| b.unwrap().0.name().unwrap().unwrap().to_string())
            .collect();
        let specs: Vec<String> = branches
            .iter()
            .map(|b| {
                format!(
                    "{}refs/heads/{b}:refs/heads/{b}",
                    if force { "+" } else { "" }
                )
            })
            .collect();
        let refs: Vec<&str> = specs.iter().map(String::as_str).collect();
        remote.push(&refs, None).unwrap();
        let bare_repo = Repository::open_bare(bare).unwrap();
        bare_repo.set_head("refs/heads/main").unwrap();
    }

    /// Moves `main` back to its parent commit (to force-push a rewritten history).
    pub fn reset_hard_to_parent(&self) {
        let head = self.repo.head().unwrap().peel_to_commit().unwrap();
        let parent = head.parent(0).unwrap();
        self.repo
            .reset(parent.as_object(), git2::ResetType::Hard, None)
            .unwrap();
    }
}

/// The root of this source tree.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The result of running the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `meshcd` with arguments, a private cache folder and no colors.
pub fn meshcd(args: &[&str], cache: &Path) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_meshcd"))
        .args(args)
        .env("MESHCD_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run meshcd");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Snapshot filters for things that change from run to run: temp folders and commit ids.
pub fn filters(repo: &Path) -> Vec<(String, String)> {
    vec![
        (
            regex_escape(&repo.display().to_string()),
            "[REPO]".to_string(),
        ),
        (r"/tmp/\.tmp[A-Za-z0-9]+".to_string(), "[TMP]".to_string()),
        (r"\b[0-9a-f]{40}\b".to_string(), "[COMMIT]".to_string()),
        (r"\b[0-9a-f]{7}\b".to_string(), "[SHORT]".to_string()),
    ]
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// `meshcd apply --config CONFIG --format json [EXTRA...]`: exit code, the JSON lines on stdout
/// (rollout events, then the result), and stderr.
pub fn apply_json(
    config: &Path,
    cache: &Path,
    extra: &[&str],
) -> (i32, Vec<serde_json::Value>, String) {
    let config = config.to_str().expect("utf-8");
    let mut args = vec!["apply", "--config", config, "--format", "json"];
    args.extend_from_slice(extra);
    let run = meshcd(&args, cache);
    let lines = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{}", run.stderr))
        })
        .collect();
    (run.code, lines, run.stderr)
}

/// `meshcd plan --repo REPO --target TARGET --config CONFIG --format json`, which must exit 0.
pub fn plan_against_target(
    repo: &Path,
    target: &str,
    config: &Path,
    cache: &Path,
) -> serde_json::Value {
    let run = meshcd(
        &[
            "plan",
            "--repo",
            repo.to_str().expect("utf-8"),
            "--target",
            target,
            "--config",
            config.to_str().expect("utf-8"),
            "--format",
            "json",
        ],
        cache,
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    run.json()
}
