//! The report's numbers: resources created, updated and deleted, rollouts, and policy errors and
//! warnings, per route family and in total; and the one-line verdict drawn from them.

use std::collections::BTreeMap;

use meshcd_core::model::{Family, Resource};
use meshcd_core::plan::{Action, Plan};
use meshcd_core::{Finding, Severity};
use serde::Serialize;

use crate::render::plural;

/// Counts of one row of the summary table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Resources to create.
    pub created: usize,
    /// Resources to update (rollouts included).
    pub updated: usize,
    /// Resources to delete.
    pub deleted: usize,
    /// Updates that are rollouts.
    pub rollouts: usize,
    /// Policy errors.
    pub errors: usize,
    /// Policy warnings.
    pub warnings: usize,
}

impl Tally {
    /// Resources that change.
    pub fn changes(&self) -> usize {
        self.created + self.updated + self.deleted
    }

    fn add(&mut self, other: &Tally) {
        self.created += other.created;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.rollouts += other.rollouts;
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

/// The counts of one route family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyTally {
    /// `networkservices`, `istio`, `gateway-api`, `meshcd`, `kubernetes`, or `other` (findings
    /// in files that hold no resource, such as YAML that does not parse).
    pub family: &'static str,
    /// The family as the table names it.
    #[serde(skip)]
    pub title: &'static str,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Tally,
}

/// What the report sums up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// False when the head revision was not planned (its files fail to load): the change
    /// counts are then unknown and left at 0.
    pub planned: bool,
    /// One entry per family with anything to count, in family order.
    pub families: Vec<FamilyTally>,
    /// The sum of the families.
    pub total: Tally,
    /// Resources present on both sides and equal.
    pub unchanged: usize,
    /// Errors translating the head for the live target (a report against `--target`).
    pub translation_errors: usize,
}

impl ReportSummary {
    /// Counts a plan (`None`: not planned) and the head revision's findings; `resources` (the
    /// head's) tell which family a finding belongs to.
    pub fn of(
        plan: Option<&Plan>,
        findings: &[Finding],
        resources: &[Resource],
        translation_errors: usize,
    ) -> ReportSummary {
        // Families sort in their order, findings outside any resource last.
        let mut rows: BTreeMap<(bool, Option<Family>), Tally> = BTreeMap::new();
        for change in plan.iter().flat_map(|p| &p.changes) {
            let row = rows.entry((false, Some(change.family))).or_default();
            match change.action {
                Action::Create => row.created += 1,
                Action::Update => row.updated += 1,
                Action::Delete => row.deleted += 1,
            }
            if change.rollout.is_some() {
                row.rollouts += 1;
            }
        }
        for finding in findings {
            let family = family_of(finding, resources);
            let row = rows.entry((family.is_none(), family)).or_default();
            match finding.severity {
                Severity::Error => row.errors += 1,
                Severity::Warning => row.warnings += 1,
            }
        }
        let mut total = Tally::default();
        let families = rows
            .into_iter()
            .map(|((_, family), counts)| {
                total.add(&counts);
                let (family, title) =
                    family.map_or(("other", "other files"), |f| (f.as_str(), title(f)));
                FamilyTally {
                    family,
                    title,
                    counts,
                }
            })
            .collect();
        ReportSummary {
            planned: plan.is_some(),
            families,
            total,
            unchanged: plan.map_or(0, |p| p.summary.unchanged),
            translation_errors,
        }
    }

    /// True when the change must not be merged as is: policy or translation errors.
    pub fn blocked(&self) -> bool {
        self.total.errors > 0 || self.translation_errors > 0
    }

    /// One line: `✅ 3 changes, 1 rollout, no policy errors` or `❌ 2 policy errors block this
    /// change`.
    pub fn verdict(&self) -> String {
        let t = &self.total;
        if self.blocked() {
            let mut blockers = Vec::new();
            if t.errors > 0 {
                blockers.push(plural(t.errors, "policy error"));
            }
            if self.translation_errors > 0 {
                blockers.push(plural(self.translation_errors, "translation error"));
            }
            let verb = if t.errors + self.translation_errors == 1 {
                "blocks"
            } else {
                "block"
            };
            return format!("❌ {} {verb} this change", blockers.join(" and "));
        }
        let mut parts = vec![if t.changes() == 0 {
            "No changes".to_string()
        } else {
            plural(t.changes(), "change")
        }];
        if t.rollouts > 0 {
            parts.push(plural(t.rollouts, "rollout"));
        }
        parts.push("no policy errors".into());
        if t.warnings > 0 {
            parts.push(plural(t.warnings, "warning"));
        }
        format!("✅ {}", parts.join(", "))
    }
}

/// The family as the summary table names it.
fn title(family: Family) -> &'static str {
    match family {
        Family::NetworkServices => "networkservices",
        Family::Istio => "Istio",
        Family::GatewayApi => "Gateway API",
        Family::Meshcd => "meshcd",
        Family::Kubernetes => "Kubernetes",
    }
}

/// The family of the resource a finding points into: the last document of its file that starts
/// at or before the finding's line. `None` when the file holds no resource.
fn family_of(finding: &Finding, resources: &[Resource]) -> Option<Family> {
    let line = finding.location.pos.line;
    let in_file = || resources.iter().filter(|r| r.file == finding.location.file);
    in_file()
        .filter(|r| r.pos.line <= line)
        .max_by_key(|r| (r.pos.line, r.doc_index))
        .or_else(|| in_file().min_by_key(|r| (r.pos.line, r.doc_index)))
        .map(|r| r.id.kind.family())
}
