//! What a reconcile writes to the state store: the applied commit with its audit entry (one
//! transaction), refusals, drift reports. Each write runs on the blocking pool.

use std::sync::Arc;

use chrono::Utc;
use meshcd_core::plan::{Action, Plan};
use sha2::{Digest, Sha256};

use super::desired::Desired;
use crate::engine::reconcile::ReconcileError;
use crate::source::Revision;
use crate::store::{AppliedRecord, AppliedResource, AuditAction, AuditEntry, ChangeCounts, Store};
use crate::targets::Target;

/// The commit the store records as applied to `target`, if any.
pub async fn last_applied(
    store: &Arc<Store>,
    target: &str,
) -> Result<Option<String>, ReconcileError> {
    let (store, target) = (store.clone(), target.to_string());
    tokio::task::spawn_blocking(move || store.last_applied(&target))
        .await
        .map_err(|source| ReconcileError::Task {
            what: "reading the state store",
            source,
        })?
        .map(|last| last.map(|l| l.commit))
        .map_err(ReconcileError::Record)
}

/// Records `desired` as applied to `target` (its configuration `config`) with an audit entry,
/// in one transaction.
pub async fn applied<T: Target>(
    store: &Arc<Store>,
    target: &T,
    desired: &Desired<T>,
    config: &T::Config,
    plan: &Plan,
    action: AuditAction,
    message: &str,
) -> Result<(), ReconcileError> {
    let record = AppliedRecord {
        commit: desired.commit.clone(),
        revision: desired.revision.label(),
        applied_at: Utc::now(),
        resources: desired
            .loaded
            .resources
            .iter()
            .map(|r| AppliedResource {
                id: r.id.to_string(),
                hash: hex::encode(&Sha256::digest(r.body.to_string().as_bytes())[..8]),
            })
            .collect(),
        config: target.record(config),
    };
    let entry = entry(target.id(), &desired.revision, action, plan, message);
    let (store, target) = (store.clone(), target.id().to_string());
    tokio::task::spawn_blocking(move || store.record_apply(&target, &record, &entry))
        .await
        .map_err(|source| ReconcileError::Task {
            what: "recording the apply",
            source,
        })?
        .map(|_| ())
        .map_err(ReconcileError::Record)
}

/// Appends an audit entry about `plan` (a drift report); a failure is logged.
pub async fn audit(
    store: &Arc<Store>,
    target: &str,
    revision: &Revision,
    action: AuditAction,
    plan: &Plan,
    message: &str,
) {
    let entry = entry(target, revision, action, plan, message);
    let store = store.clone();
    let result = tokio::task::spawn_blocking(move || store.append_audit(&entry)).await;
    if !matches!(result, Ok(Ok(_))) {
        tracing::warn!("could not write the audit log");
    }
}

/// Records a refused revision: an audit entry, and the commit marked failed.
pub async fn refusal(store: &Arc<Store>, target: &str, revision: &Revision, message: &str) {
    let mut entry = AuditEntry::new(target, AuditAction::Rejected);
    entry.commit = revision.commit.clone();
    entry.author = revision.author.clone();
    entry.summary = revision.summary.clone();
    entry.message = message.to_string();
    let store = store.clone();
    let target = target.to_string();
    let commit = revision.commit.clone();
    let reason = message.to_string();
    let result = tokio::task::spawn_blocking(move || {
        store.append_audit(&entry)?;
        store.mark_failed(&target, &commit, &reason)
    })
    .await;
    if !matches!(result, Ok(Ok(_))) {
        tracing::warn!("could not record the refused revision");
    }
}

fn entry(
    target: &str,
    revision: &Revision,
    action: AuditAction,
    plan: &Plan,
    message: &str,
) -> AuditEntry {
    let count = |action: Action| plan.changes.iter().filter(|c| c.action == action).count();
    let mut entry = AuditEntry::new(target, action);
    entry.commit = revision.commit.clone();
    entry.author = revision.author.clone();
    entry.summary = revision.summary.clone();
    entry.changes = ChangeCounts {
        create: count(Action::Create),
        update: count(Action::Update),
        delete: count(Action::Delete),
    };
    entry.resources = plan
        .changes
        .iter()
        .map(|c| format!("{}/{}", c.kind, c.name))
        .collect();
    entry.message = message.to_string();
    entry
}
