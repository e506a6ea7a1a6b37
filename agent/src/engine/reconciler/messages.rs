//! The one-line messages a reconcile reports (status API, audit log, `meshcd apply`), written
//! for people: short commit ids, rounded durations, a few names rather than all.

use meshcd_core::human::millis;
use meshcd_core::model::ResourceId;
use meshcd_core::plan::{Change, Plan};

use crate::source::short_commit;
use crate::targets::ApplyReport;

/// `; 2 resource(s) not in Git kept (prune is off): HttpRoute/a, HttpRoute/b`, or nothing.
pub fn kept(kept: &[Change]) -> String {
    if kept.is_empty() {
        return String::new();
    }
    let names: Vec<String> = kept.iter().take(3).map(|c| c.id().to_string()).collect();
    format!(
        "; {} resource(s) not in Git kept (prune is off): {}{}",
        kept.len(),
        names.join(", "),
        if kept.len() > 3 { ", …" } else { "" }
    )
}

/// `; Kind/ns/name held at its earlier weights (why)` for each rolled-back route.
pub fn held(rolled_back: &[(ResourceId, String)]) -> String {
    rolled_back
        .iter()
        .map(|(route, why)| format!("; {route} held at its earlier weights ({why})"))
        .collect()
}

/// The first three changes: `update HttpRoute/a, create HttpRoute/b`.
pub fn changed_names(plan: &Plan) -> String {
    plan.changes
        .iter()
        .take(3)
        .map(|c| format!("{} {}/{}", c.action, c.kind, c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an apply did, in one line.
pub struct Applied<'a> {
    /// The commit.
    pub commit: &'a str,
    /// The target's id.
    pub target: &'a str,
    /// How many changes.
    pub changes: usize,
    /// The target's report (`None`: nothing was written).
    pub report: Option<&'a ApplyReport>,
    /// It corrected drift.
    pub drift: bool,
    /// Policy warnings of the revision.
    pub warnings: usize,
    /// Rollouts not ended.
    pub rollouts: usize,
    /// Rolled-back routes held at their earlier weights.
    pub rolled_back: &'a [(ResourceId, String)],
    /// Deletions kept back.
    pub kept: &'a [Change],
}

impl Applied<'_> {
    /// `abc1234 applied: 2 change(s), verified live in 183 ms; 1 rollout(s) in progress`.
    pub fn message(&self) -> String {
        let commit = short_commit(self.commit);
        let mut message = match (self.report, self.drift) {
            (Some(r), true) => format!(
                "drift corrected: {} holds {commit} again ({} change(s), live in {})",
                self.target,
                self.changes,
                millis(r.total_ms)
            ),
            (Some(r), false) => format!(
                "{commit} applied: {} change(s), verified live in {}",
                self.changes,
                millis(r.total_ms)
            ),
            (None, _) => format!("{commit} recorded: {} already holds it", self.target),
        };
        if self.warnings > 0 {
            message.push_str(&format!("; {} policy warning(s)", self.warnings));
        }
        if self.rollouts > 0 {
            message.push_str(&format!("; {} rollout(s) in progress", self.rollouts));
        }
        message.push_str(&held(self.rolled_back));
        message.push_str(&kept(self.kept));
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_apply_message_names_the_commit_and_the_time() {
        let report = ApplyReport {
            total_ms: 183.06328299999998,
            operations: 1,
            validated: true,
        };
        let message = Applied {
            commit: "0123456789abcdef",
            target: "envoy",
            changes: 2,
            report: Some(&report),
            drift: false,
            warnings: 1,
            rollouts: 0,
            rolled_back: &[],
            kept: &[],
        }
        .message();
        assert_eq!(
            message,
            "0123456 applied: 2 change(s), verified live in 183 ms; 1 policy warning(s)"
        );
    }
}
