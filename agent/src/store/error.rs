//! What can go wrong with the state store; every error names the store file.

use std::path::PathBuf;

/// An error of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's folder could not be created.
    #[error("cannot create the state folder {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the store open (redb allows one process at a time).
    #[error(
        "state store {} is in use by another meshcd ({}); stop it, or point this command at \
         another store with --state",
        path.display(),
        match pid { Some(pid) => format!("pid {pid}"), None => "pid unknown".to_string() }
    )]
    InUse {
        /// The store file.
        path: PathBuf,
        /// The process that holds it, when it left its pid behind.
        pid: Option<u32>,
    },
    /// The store was written by a newer meshcd, with a schema this one does not know.
    #[error(
        "state store {} has schema version {found}, but this meshcd supports up to version \
         {supported}; upgrade meshcd (or use another --state)",
        path.display()
    )]
    SchemaTooNew {
        /// The store file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
        /// The newest version this build knows.
        supported: u64,
    },
    /// An audit entry was recorded for another target than the one being applied.
    #[error("audit entry is for target `{entry}`, but the apply is for target `{target}`")]
    TargetMismatch {
        /// The target being applied.
        target: String,
        /// The target named by the audit entry.
        entry: String,
    },
    /// A stored record did not decode (a damaged or hand-edited store).
    #[error("state store {}: the {what} record is not valid", path.display())]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// Which record (table and key).
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be encoded as JSON.
    #[error("cannot encode the {what} record")]
    Encode {
        /// Which record.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The embedded database failed (I/O, a damaged file, a full disk).
    #[error("state store {}", path.display())]
    Database {
        /// The store file.
        path: PathBuf,
        /// The cause (boxed: redb's error is large).
        #[source]
        source: Box<redb::Error>,
    },
}

/// Attaches the store path to a redb error.
pub(crate) trait AtPath<T> {
    /// Maps the error to [`StoreError::Database`] naming `path`.
    fn at(self, path: &std::path::Path) -> Result<T, StoreError>;
}

impl<T, E: Into<redb::Error>> AtPath<T> for Result<T, E> {
    fn at(self, path: &std::path::Path) -> Result<T, StoreError> {
        self.map_err(|error| StoreError::Database {
            path: path.to_path_buf(),
            source: Box::new(error.into()),
        })
    }
}
