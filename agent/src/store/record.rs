//! The records kept in the state store: what was applied, the audit log, failed revisions.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What was last applied to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    /// The Git commit id that was applied.
    pub commit: String,
    /// A human label for the revision (branch or tag and short commit).
    pub revision: String,
    /// When the apply finished.
    #[serde(with = "rfc3339")]
    pub applied_at: DateTime<Utc>,
    /// Every resource that was applied, with a hash of its content.
    pub resources: Vec<AppliedResource>,
    /// The rendered target configuration, as JSON text: compared to judge drift, and restored
    /// by a rollback.
    pub config: String,
}

/// One applied resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedResource {
    /// The resource id (e.g. `networkservices/HttpRoute/target-route`).
    pub id: String,
    /// A hash of the resource's content (e.g. SHA-256 hex).
    pub hash: String,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A revision was applied.
    Apply,
    /// The target no longer holds what was applied.
    DriftDetected,
    /// Drift was undone by applying the last applied state again.
    DriftCorrected,
    /// A revision was refused (policy errors, a sync window, a failed revision).
    Rejected,
    /// Nothing was done (unchanged commit, no changes).
    Skipped,
    /// A previous state was restored.
    Rollback,
    /// A rollout reached the desired weights.
    RolloutPromoted,
    /// A rollout went back to the weights before it (a failed step, or an operator's abort).
    RolloutRolledBack,
    /// A rollout was superseded by a new commit or dropped.
    RolloutSuperseded,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 9] = [
        Self::Apply,
        Self::DriftDetected,
        Self::DriftCorrected,
        Self::Rejected,
        Self::Skipped,
        Self::Rollback,
        Self::RolloutPromoted,
        Self::RolloutRolledBack,
        Self::RolloutSuperseded,
    ];

    /// The name used in JSON and on screen (`drift-detected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "apply",
            Self::DriftDetected => "drift-detected",
            Self::DriftCorrected => "drift-corrected",
            Self::Rejected => "rejected",
            Self::Skipped => "skipped",
            Self::Rollback => "rollback",
            Self::RolloutPromoted => "rollout-promoted",
            Self::RolloutRolledBack => "rollout-rolled-back",
            Self::RolloutSuperseded => "rollout-superseded",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many resources a change creates, updates and deletes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    /// Resources created.
    pub create: usize,
    /// Resources updated.
    pub update: usize,
    /// Resources deleted.
    pub delete: usize,
}

/// One entry of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, assigned by the store when the entry is appended (1, 2, ...); the
    /// value given to `append_audit` or `record_apply` is ignored.
    pub seq: u64,
    /// When it happened (RFC 3339, UTC).
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    /// The target id (e.g. `envoy:local`).
    pub target: String,
    /// The Git commit id concerned (empty when none).
    pub commit: String,
    /// The commit's author.
    pub author: String,
    /// The commit's subject line.
    pub summary: String,
    /// What happened.
    pub action: AuditAction,
    /// How many resources changed.
    pub changes: ChangeCounts,
    /// The ids of the resources that changed.
    pub resources: Vec<String>,
    /// A one-line explanation for people.
    pub message: String,
}

impl AuditEntry {
    /// An entry for `target` and `action`, at the current time, with every other field empty.
    pub fn new(target: impl Into<String>, action: AuditAction) -> Self {
        Self {
            seq: 0,
            time: Utc::now(),
            target: target.into(),
            commit: String::new(),
            author: String::new(),
            summary: String::new(),
            action,
            changes: ChangeCounts::default(),
            resources: Vec::new(),
            message: String::new(),
        }
    }
}

/// A revision that failed on a target, not to be retried until a new commit arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRevision {
    /// The commit id that failed.
    pub commit: String,
    /// Why it failed.
    pub reason: String,
    /// When it was marked.
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
}

/// Times as RFC 3339 UTC text (`2024-05-01T12:00:00Z`), keeping sub-second digits when present.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Formats a time.
    pub fn format(time: &DateTime<Utc>) -> String {
        time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }

    /// Serializes a time as RFC 3339 text.
    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(time))
    }

    /// Deserializes RFC 3339 text (any offset) into UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn audit_entry_json_shape() {
        let mut entry = AuditEntry::new("envoy:local", AuditAction::DriftCorrected);
        entry.time = Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 0, 0)
            .single()
            .expect("valid time");
        entry.changes.update = 2;
        let value = serde_json::to_value(&entry).expect("encodes");
        assert_eq!(value["time"], "2024-05-01T12:00:00Z");
        assert_eq!(value["action"], "drift-corrected");
        assert_eq!(
            value["changes"],
            serde_json::json!({"create": 0, "update": 2, "delete": 0})
        );
        let back: AuditEntry = serde_json::from_value(value).expect("decodes");
        assert_eq!(back, entry);
    }

    #[test]
    fn times_keep_their_precision() {
        let time = Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .expect("valid");
        let text = rfc3339::format(&time);
        assert_eq!(text, "2023-11-14T22:13:20.123456789Z");
        let parsed = DateTime::parse_from_rfc3339(&text).expect("parses");
        assert_eq!(parsed.with_timezone(&Utc), time);
    }

    #[test]
    fn action_names_match_serde() {
        for action in AuditAction::ALL {
            let json = serde_json::to_value(action).expect("encodes");
            assert_eq!(json, action.as_str());
        }
    }
}
