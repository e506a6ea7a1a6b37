//! Per-target state: the last applied record, the failed-revision marker, rollout progress.

use chrono::Utc;
use redb::{ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{AtPath, StoreError};
use super::schema::{decode, encode, APPLIED, FAILED, ROLLOUTS};
use super::{AppliedRecord, FailedRevision, Store};

impl Store {
    /// What was last applied to `target`, if anything.
    pub fn last_applied(&self, target: &str) -> Result<Option<AppliedRecord>, StoreError> {
        self.get_json(APPLIED, target, "applied")
    }

    /// Marks `commit` as failed on `target` (replacing any earlier mark): it is not retried
    /// until a new commit arrives or the mark is cleared.
    pub fn mark_failed(&self, target: &str, commit: &str, reason: &str) -> Result<(), StoreError> {
        let failed = FailedRevision {
            commit: commit.to_string(),
            reason: reason.to_string(),
            time: Utc::now(),
        };
        let text = encode(&failed, "failed")?;
        let txn = self.write()?;
        txn.open_table(FAILED)
            .at(&self.path)?
            .insert(target, text.as_str())
            .at(&self.path)?;
        txn.commit().at(&self.path)
    }

    /// The failed-revision mark of `target`, if any.
    pub fn failed_revision(&self, target: &str) -> Result<Option<FailedRevision>, StoreError> {
        self.get_json(FAILED, target, "failed")
    }

    /// Removes the failed-revision mark of `target`; returns whether there was one.
    pub fn clear_failed(&self, target: &str) -> Result<bool, StoreError> {
        let txn = self.write()?;
        let removed = txn
            .open_table(FAILED)
            .at(&self.path)?
            .remove(target)
            .at(&self.path)?
            .is_some();
        txn.commit().at(&self.path)?;
        Ok(removed)
    }

    /// Stores the rollout state of `route` on `target` (replacing any earlier state).
    pub fn put_rollout<T: Serialize + ?Sized>(
        &self,
        target: &str,
        route: &str,
        state: &T,
    ) -> Result<(), StoreError> {
        let text = encode(state, "rollout")?;
        let txn = self.write()?;
        txn.open_table(ROLLOUTS)
            .at(&self.path)?
            .insert((target, route), text.as_str())
            .at(&self.path)?;
        txn.commit().at(&self.path)
    }

    /// The rollout state of `route` on `target`, if any.
    pub fn get_rollout<T: DeserializeOwned>(
        &self,
        target: &str,
        route: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(ROLLOUTS).at(&self.path)?;
        let Some(text) = table.get((target, route)).at(&self.path)? else {
            return Ok(None);
        };
        let what = || format!("rollout {target}/{route}");
        decode(text.value(), what, &self.path).map(Some)
    }

    /// Removes the rollout state of `route` on `target`; returns whether there was one.
    pub fn delete_rollout(&self, target: &str, route: &str) -> Result<bool, StoreError> {
        let txn = self.write()?;
        let removed = txn
            .open_table(ROLLOUTS)
            .at(&self.path)?
            .remove((target, route))
            .at(&self.path)?
            .is_some();
        txn.commit().at(&self.path)?;
        Ok(removed)
    }

    /// Every rollout state of every target, as `(target, route, state)` sorted by both.
    pub fn list_all_rollouts<T: DeserializeOwned>(
        &self,
    ) -> Result<Vec<(String, String, T)>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(ROLLOUTS).at(&self.path)?;
        let mut rollouts = Vec::new();
        for row in table.iter().at(&self.path)? {
            let (key, text) = row.at(&self.path)?;
            let (target, route) = key.value();
            let what = || format!("rollout {target}/{route}");
            let state: T = decode(text.value(), what, &self.path)?;
            rollouts.push((target.to_string(), route.to_string(), state));
        }
        Ok(rollouts)
    }

    /// Every rollout state on `target`, by route name (sorted).
    pub fn list_rollouts<T: DeserializeOwned>(
        &self,
        target: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(ROLLOUTS).at(&self.path)?;
        let mut rollouts = Vec::new();
        for row in table.range((target, "")..).at(&self.path)? {
            let (key, text) = row.at(&self.path)?;
            let (row_target, route) = key.value();
            if row_target != target {
                break;
            }
            let what = || format!("rollout {target}/{route}");
            rollouts.push((route.to_string(), decode(text.value(), what, &self.path)?));
        }
        Ok(rollouts)
    }

    /// Reads a JSON value keyed by target.
    fn get_json<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &str>,
        target: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(table).at(&self.path)?;
        let Some(text) = table.get(target).at(&self.path)? else {
            return Ok(None);
        };
        decode(text.value(), || format!("{what} {target}"), &self.path).map(Some)
    }
}
