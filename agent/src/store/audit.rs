//! The audit log (append-only, newest first on read) and recording an apply.

use redb::{ReadableTable, WriteTransaction};

use super::error::{AtPath, StoreError};
use super::schema::{decode, encode, APPLIED, AUDIT, AUDIT_BY_TARGET};
use super::{AppliedRecord, AuditEntry, Store};

impl Store {
    /// Records an apply: the new last-applied state of `target` and its audit entry, in one
    /// durable transaction, so either both are stored or neither is. Returns the entry's seq.
    ///
    /// Fails with [`StoreError::TargetMismatch`] when `entry.target` is not `target`. The
    /// failed-revision mark is left alone: clearing it is the caller's decision.
    pub fn record_apply(
        &self,
        target: &str,
        applied: &AppliedRecord,
        entry: &AuditEntry,
    ) -> Result<u64, StoreError> {
        if entry.target != target {
            return Err(StoreError::TargetMismatch {
                target: target.to_string(),
                entry: entry.target.clone(),
            });
        }
        let record = encode(applied, "applied")?;
        let txn = self.write()?;
        let seq = {
            let mut table = txn.open_table(APPLIED).at(&self.path)?;
            table.insert(target, record.as_str()).at(&self.path)?;
            self.append_in(&txn, entry)?
        };
        txn.commit().at(&self.path)?;
        Ok(seq)
    }

    /// Appends an entry to the audit log and returns the seq it was given.
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let txn = self.write()?;
        let seq = self.append_in(&txn, entry)?;
        txn.commit().at(&self.path)?;
        Ok(seq)
    }

    /// The audit log, newest first: at most `limit` entries, of one target or of all.
    pub fn history(
        &self,
        target: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let txn = self.read()?;
        let audit = txn.open_table(AUDIT).at(&self.path)?;
        let mut entries = Vec::new();
        match target {
            None => {
                for row in audit.iter().at(&self.path)?.rev().take(limit) {
                    let (seq, text) = row.at(&self.path)?;
                    entries.push(self.decode_entry(seq.value(), text.value())?);
                }
            }
            Some(target) => {
                let index = txn.open_table(AUDIT_BY_TARGET).at(&self.path)?;
                let range = index
                    .range((target, 0)..=(target, u64::MAX))
                    .at(&self.path)?;
                for row in range.rev().take(limit) {
                    let (key, _) = row.at(&self.path)?;
                    let seq = key.value().1;
                    let text = audit.get(seq).at(&self.path)?;
                    let text = text.as_ref().map(|t| t.value()).unwrap_or_default();
                    entries.push(self.decode_entry(seq, text)?);
                }
            }
        }
        Ok(entries)
    }

    /// Appends `entry` inside `txn`, giving it the next seq (1 for the first entry).
    fn append_in(&self, txn: &WriteTransaction, entry: &AuditEntry) -> Result<u64, StoreError> {
        let mut audit = txn.open_table(AUDIT).at(&self.path)?;
        let last = audit.last().at(&self.path)?.map(|(seq, _)| seq.value());
        let seq = last.unwrap_or(0) + 1;
        let mut entry = entry.clone();
        entry.seq = seq;
        let text = encode(&entry, "audit")?;
        audit.insert(seq, text.as_str()).at(&self.path)?;
        let mut index = txn.open_table(AUDIT_BY_TARGET).at(&self.path)?;
        index
            .insert((entry.target.as_str(), seq), ())
            .at(&self.path)?;
        Ok(seq)
    }

    fn decode_entry(&self, seq: u64, text: &str) -> Result<AuditEntry, StoreError> {
        decode(text, || format!("audit entry {seq}"), &self.path)
    }
}
