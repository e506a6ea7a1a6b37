//! The embedded, crash-safe state store: per target, the last applied state, an append-only
//! audit log, a failed-revision marker and rollout progress, in one redb file.
//!
//! # Contract
//! - Every write is one redb write transaction committed with [`Durability::Immediate`]: when a
//!   method returns `Ok`, its change is on disk and survives a crash or power loss; when it
//!   returns `Err` or the process dies first, none of it is.
//! - [`Store::record_apply`] writes the applied record and its audit entry in the same
//!   transaction, so a reader never sees one without the other.
//! - One process at a time: redb locks the file. A second [`Store::open`] fails with
//!   [`StoreError::InUse`], naming the holder's pid when it left one in `<file>.pid`.
//! - The API is synchronous; async callers wrap calls in `tokio::task::spawn_blocking`.
//!   [`Store`] is `Send + Sync`; share it with an `Arc`.

mod audit;
mod error;
mod record;
mod schema;
mod state;

use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, Durability, ReadTransaction, WriteTransaction};

pub use error::StoreError;
pub use record::{
    rfc3339, AppliedRecord, AppliedResource, AuditAction, AuditEntry, ChangeCounts, FailedRevision,
};
pub use schema::SCHEMA_VERSION;

use error::AtPath;

/// The file name of the store inside a state folder.
pub const STATE_FILE: &str = "state.redb";

/// The environment variable naming the state folder.
pub const STATE_DIR_ENV: &str = "MESHCD_STATE_DIR";

/// The state store. See the module documentation for its guarantees.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens the store at `path`, creating the file and its parent folders when missing.
    ///
    /// Fails with [`StoreError::InUse`] when another process (or another `Store` in this one)
    /// has the file open, and with [`StoreError::SchemaTooNew`] for a file written by a newer
    /// meshcd. A file left by a crashed process is repaired by redb on open.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs_err::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::InUse {
                    pid: read_pid(&path),
                    path,
                })
            }
            Err(error) => return Err(error).at(&path),
        };
        schema::prepare(&db, &path)?;
        write_pid(&path);
        Ok(Self { db, path })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a write transaction that commits durably.
    fn write(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write().at(&self.path)?;
        txn.set_durability(Durability::Immediate);
        Ok(txn)
    }

    /// Starts a read transaction (a consistent snapshot).
    fn read(&self) -> Result<ReadTransaction, StoreError> {
        self.db.begin_read().at(&self.path)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Only the holder of the lock writes the pid file, so it is ours; best effort.
        let pid_path = pid_path(&self.path);
        if read_pid(&self.path) == Some(std::process::id()) {
            let _ = fs_err::remove_file(pid_path);
        }
    }
}

/// The store file in a state folder: `<dir>/state.redb`.
pub fn state_path_in(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// The default store file: `$MESHCD_STATE_DIR/state.redb`, else
/// `$XDG_STATE_HOME/meshcd/state.redb`, else `~/.local/state/meshcd/state.redb`, else a file
/// in the temp folder.
pub fn default_state_path() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var(STATE_DIR_ENV) {
        return state_path_in(Path::new(&dir));
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return state_path_in(&PathBuf::from(dir).join("meshcd"));
    }
    if let Some(home) = var("HOME") {
        return state_path_in(&PathBuf::from(home).join(".local/state/meshcd"));
    }
    state_path_in(&std::env::temp_dir().join("meshcd-state"))
}

/// Picks the store file: an explicit file, else a state folder (`--state-dir`), else the default.
pub fn resolve_state_path(file: Option<&Path>, dir: Option<&Path>) -> PathBuf {
    match (file, dir) {
        (Some(file), _) => file.to_path_buf(),
        (None, Some(dir)) => state_path_in(dir),
        (None, None) => default_state_path(),
    }
}

fn pid_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pid");
    PathBuf::from(name)
}

fn write_pid(path: &Path) {
    if let Err(error) = fs_err::write(pid_path(path), format!("{}\n", std::process::id())) {
        tracing::debug!(%error, "could not write the state store's pid file");
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    let text = fs_err::read_to_string(pid_path(path)).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_path_resolution() {
        let file = Path::new("/x/s.redb");
        let dir = Path::new("/y");
        assert_eq!(resolve_state_path(Some(file), Some(dir)), file);
        assert_eq!(
            resolve_state_path(None, Some(dir)),
            Path::new("/y/state.redb")
        );
        assert!(resolve_state_path(None, None).ends_with(STATE_FILE));
    }

    #[test]
    fn open_creates_parent_folders_and_refuses_a_second_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b/state.redb");
        let store = Store::open(&path).expect("opens");
        assert!(path.exists());
        match Store::open(&path) {
            Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(store);
        assert!(
            !pid_path(&path).exists(),
            "the pid file is removed on close"
        );
        Store::open(&path).expect("opens again after close");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.redb");
        drop(Store::open(&path).expect("opens"));
        {
            let db = Database::create(&path).expect("raw open");
            let txn = db.begin_write().expect("txn");
            txn.open_table(schema::META)
                .expect("meta")
                .insert(schema::SCHEMA_VERSION_KEY, SCHEMA_VERSION + 1)
                .expect("insert");
            txn.commit().expect("commit");
        }
        let error = Store::open(&path).expect_err("refused");
        assert!(
            matches!(error, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1)
        );
        assert!(error.to_string().contains("upgrade meshcd"), "{error}");
    }
}
