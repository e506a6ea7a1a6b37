//! The `.git` watcher: a commit, checkout, reset or fetch into a local repository moves a ref
//! or HEAD, and that becomes one [`Trigger::FileChange`].
//!
//! Git (and libgit2) move a ref by writing `<ref>.lock` and renaming it over the ref: that rename
//! is the last step, so it triggers at once (the commit-to-live path waits for nothing). Any
//! other change to a ref file (a lock being written, `packed-refs` rewritten in place) triggers
//! after a short quiet period instead.
//!
//! Only HEAD, `packed-refs` and the `refs/` tree are watched; reads (meshcd's own reconciles
//! open these files) and metadata changes are ignored, so a reconcile never triggers itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::triggers::TriggerSender;
use crate::engine::Trigger;

/// Quiet period after the last `.git` event before a trigger is sent: a commit writes a lock
/// file, renames it and appends to logs in quick succession.
pub const DEBOUNCE: Duration = Duration::from_millis(50);

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The path is not inside a Git repository.
    #[error("cannot watch {path}: not a Git repository ({reason})")]
    NotARepository {
        /// The path.
        path: String,
        /// What libgit2 said.
        reason: String,
    },
    /// The operating system refused the watch (e.g. inotify limits).
    #[error("cannot watch {path}")]
    Notify {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: notify::Error,
    },
}

/// The files of a repository whose changes mean "a ref moved".
#[derive(Debug, Clone)]
struct GitPaths {
    head: PathBuf,
    packed_refs: PathBuf,
    refs: PathBuf,
}

impl GitPaths {
    fn relevant(&self, path: &Path) -> bool {
        path == self.head || path == self.packed_refs || path.starts_with(&self.refs)
    }
}

/// The ref file a rename onto it completes an update of (not a `.lock`), if the event is one.
/// Linux reports one rename twice (`To`, then `Both` with both paths): the caller drops the
/// second by its path.
fn completed_ref<'e>(event: &'e notify::Event, paths: &GitPaths) -> Option<&'e PathBuf> {
    use notify::event::RenameMode;
    let target = match event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => event.paths.first(),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => event.paths.get(1),
        _ => None,
    };
    target.filter(|path| paths.relevant(path) && path.extension().is_none_or(|ext| ext != "lock"))
}

/// True for events that can mean a change: creations, writes, renames, removals; not reads,
/// opens or metadata changes.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// Starts watching the repository at `repo` (its work tree, any folder inside it, or a bare
/// repository) and sends [`Trigger::FileChange`] after each burst of ref changes, until
/// `shutdown` turns true.
pub fn spawn_git_watch(
    repo: &Path,
    sender: TriggerSender,
    mut shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, WatchError> {
    let shown = repo.display().to_string();
    let repository = git2::Repository::discover(repo).map_err(|e| WatchError::NotARepository {
        path: shown.clone(),
        reason: e.message().to_string(),
    })?;
    let git_dir = repository.path().to_path_buf();
    let common = repository.commondir().to_path_buf();
    let paths = GitPaths {
        head: git_dir.join("HEAD"),
        packed_refs: common.join("packed-refs"),
        refs: common.join("refs"),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<notify::Event>();
    let mut watcher: RecommendedWatcher =
        notify::recommended_watcher(move |result: notify::Result<notify::Event>| {
            match result {
                Ok(event) => {
                    // The receiver is gone only after shutdown.
                    let _ = tx.send(event);
                }
                Err(error) => tracing::warn!(%error, "watching .git failed"),
            }
        })
        .map_err(|source| WatchError::Notify {
            path: shown.clone(),
            source,
        })?;
    let mut targets = vec![(git_dir.clone(), RecursiveMode::NonRecursive)];
    if common != git_dir {
        targets.push((common.clone(), RecursiveMode::NonRecursive));
    }
    targets.push((paths.refs.clone(), RecursiveMode::Recursive));
    for (path, mode) in targets {
        watcher
            .watch(&path, mode)
            .map_err(|source| WatchError::Notify {
                path: path.display().to_string(),
                source,
            })?;
    }
    tracing::info!(git_dir = %git_dir.display(), "watching the repository for new commits");
    Ok(tokio::spawn(async move {
        // Keep the watcher alive for as long as the task runs.
        let _watcher = watcher;
        let mut deadline: Option<tokio::time::Instant> = None;
        let mut last_moved: Option<(PathBuf, tokio::time::Instant)> = None;
        loop {
            tokio::select! {
                event = rx.recv() => {
                    let Some(event) = event else { break };
                    if let Some(moved) = completed_ref(&event, &paths) {
                        deadline = None;
                        let now = tokio::time::Instant::now();
                        let repeated = last_moved.as_ref().is_some_and(|(path, at)| {
                            path == moved && now.duration_since(*at) < DEBOUNCE
                        });
                        last_moved = Some((moved.clone(), now));
                        if !repeated {
                            tracing::debug!("a ref of the watched repository moved");
                            sender.send(Trigger::FileChange);
                        }
                    } else if is_change(&event.kind)
                        && event.paths.iter().any(|p| paths.relevant(p))
                    {
                        deadline = Some(tokio::time::Instant::now() + DEBOUNCE);
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    deadline = None;
                    tracing::debug!("a ref of the watched repository changed");
                    sender.send(Trigger::FileChange);
                }
                _ = shutdown.changed() => break,
            }
        }
    }))
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use notify::event::CreateKind;

    use super::*;

    #[test]
    fn a_rename_onto_a_ref_completes_an_update_and_a_lock_does_not() {
        use notify::event::RenameMode;
        let paths = GitPaths {
            head: PathBuf::from("/r/.git/HEAD"),
            packed_refs: PathBuf::from("/r/.git/packed-refs"),
            refs: PathBuf::from("/r/.git/refs"),
        };
        let event = |kind, paths: &[&str]| notify::Event {
            kind,
            paths: paths.iter().map(PathBuf::from).collect(),
            attrs: Default::default(),
        };
        let both = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
        let to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        let main = "/r/.git/refs/heads/main";
        let lock = "/r/.git/refs/heads/main.lock";
        let moved = |kind, list: &[&str]| completed_ref(&event(kind, list), &paths).cloned();
        assert_eq!(moved(both, &[lock, main]), Some(PathBuf::from(main)));
        assert_eq!(moved(to, &[main]), Some(PathBuf::from(main)));
        assert_eq!(
            moved(to, &["/r/.git/HEAD"]),
            Some(PathBuf::from("/r/.git/HEAD"))
        );
        assert_eq!(moved(to, &[lock]), None);
        assert_eq!(moved(to, &["/r/.git/logs/HEAD"]), None);
        assert_eq!(moved(EventKind::Create(CreateKind::File), &[lock]), None);
    }

    #[test]
    fn reads_and_metadata_are_not_changes() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!is_change(&EventKind::Modify(ModifyKind::Metadata(
            notify::event::MetadataKind::Any
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
    }

    #[test]
    fn only_refs_and_head_are_relevant() {
        let paths = GitPaths {
            head: "/r/.git/HEAD".into(),
            packed_refs: "/r/.git/packed-refs".into(),
            refs: "/r/.git/refs".into(),
        };
        assert!(paths.relevant(Path::new("/r/.git/refs/heads/main")));
        assert!(paths.relevant(Path::new("/r/.git/HEAD")));
        assert!(!paths.relevant(Path::new("/r/.git/objects/ab/cdef")));
        assert!(!paths.relevant(Path::new("/r/.git/index")));
    }
}
