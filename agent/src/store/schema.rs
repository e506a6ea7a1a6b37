//! The tables of the state store, the schema version, and JSON encoding of values.
//!
//! Values are JSON text, so a field added later (with a serde default) needs no migration;
//! a change that old code would misread bumps [`SCHEMA_VERSION`].

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, TableError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{AtPath, StoreError};

/// The schema this build writes, and the newest it can read.
pub const SCHEMA_VERSION: u64 = 1;

/// `meta`: store-wide settings; holds [`SCHEMA_VERSION_KEY`].
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The key of the schema version in [`META`].
pub(crate) const SCHEMA_VERSION_KEY: &str = "schema_version";
/// `applied`: target → [`super::AppliedRecord`] JSON.
pub(crate) const APPLIED: TableDefinition<&str, &str> = TableDefinition::new("applied");
/// `audit`: seq → [`super::AuditEntry`] JSON; append-only.
pub(crate) const AUDIT: TableDefinition<u64, &str> = TableDefinition::new("audit");
/// `audit_by_target`: (target, seq) → (); an index of [`AUDIT`] by target.
pub(crate) const AUDIT_BY_TARGET: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("audit_by_target");
/// `failed`: target → [`super::FailedRevision`] JSON.
pub(crate) const FAILED: TableDefinition<&str, &str> = TableDefinition::new("failed");
/// `rollouts`: (target, route) → rollout state JSON.
pub(crate) const ROLLOUTS: TableDefinition<(&str, &str), &str> = TableDefinition::new("rollouts");

/// Checks the schema version, and on a new file creates every table and writes the version.
///
/// A file with a newer version is refused; an up-to-date file is only read, not written.
pub(crate) fn prepare(db: &Database, path: &Path) -> Result<(), StoreError> {
    if let Some(found) = read_version(db, path)? {
        return check_version(found, path);
    }
    let mut txn = db.begin_write().at(path)?;
    txn.set_durability(redb::Durability::Immediate);
    {
        let mut meta = txn.open_table(META).at(path)?;
        let existing = meta.get(SCHEMA_VERSION_KEY).at(path)?.map(|v| v.value());
        if let Some(found) = existing {
            check_version(found, path)?;
        }
        txn.open_table(APPLIED).at(path)?;
        txn.open_table(AUDIT).at(path)?;
        txn.open_table(AUDIT_BY_TARGET).at(path)?;
        txn.open_table(FAILED).at(path)?;
        txn.open_table(ROLLOUTS).at(path)?;
        if existing.is_none() {
            meta.insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION).at(path)?;
        }
    }
    txn.commit().at(path)
}

fn read_version(db: &Database, path: &Path) -> Result<Option<u64>, StoreError> {
    let txn = db.begin_read().at(path)?;
    let meta = match txn.open_table(META) {
        Ok(table) => table,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(error).at(path),
    };
    let version = meta.get(SCHEMA_VERSION_KEY).at(path)?;
    Ok(version.map(|v| v.value()))
}

fn check_version(found: u64, path: &Path) -> Result<(), StoreError> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    // Versions below SCHEMA_VERSION would be migrated here; version 1 is the first.
    Ok(())
}

/// Encodes a value as JSON text.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode {
        what: what.to_string(),
        source,
    })
}

/// Decodes JSON text read from the store.
pub(crate) fn decode<T: DeserializeOwned>(
    text: &str,
    what: impl FnOnce() -> String,
    path: &Path,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        what: what(),
        source,
    })
}
