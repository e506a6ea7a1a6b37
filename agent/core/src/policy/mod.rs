//! Built-in policy: rules that check a loaded revision and report every finding at once.
//!
//! Each rule lives in its own file under `rules/`, with a stable code, a name, and docs that say
//! what it checks, why, and an example. Rules whose `check` is `None` are reported by the loader
//! (syntax, schema, unknown kinds); they are listed here so every code is documented in one place.
//! [`docs`] holds those docs as data, with the upstream check each rule mirrors.

pub mod docs;
pub mod istio;
pub mod rego;
pub mod rules;
pub mod selector;
pub mod windows;

use crate::finding::{sort_findings, Finding};
use crate::ir::{self, RouteIr};
use crate::load::Loaded;
use crate::model::{Kind, Resource};

/// A built-in rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable code, e.g. `MC101`.
    pub code: &'static str,
    /// Kebab-case name, e.g. `weight-negative`.
    pub name: &'static str,
    /// One line: what the rule checks.
    pub summary: &'static str,
    /// The check; `None` for rules the loader reports.
    pub check: Option<fn(&Context<'_>, &mut Vec<Finding>)>,
}

/// What rules see: all resources of a revision and their route IR.
pub struct Context<'a> {
    /// Every resource.
    pub resources: &'a [Resource],
    /// The IR of every route resource.
    pub routes: Vec<RouteIr<'a>>,
}

impl<'a> Context<'a> {
    /// Builds the context of a set of resources.
    pub fn new(resources: &'a [Resource]) -> Self {
        Self {
            resources,
            routes: ir::routes(resources),
        }
    }

    /// Resources of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &'a Resource> + '_ {
        self.resources.iter().filter(move |r| r.id.kind == kind)
    }
}

/// Runs every built-in rule over a loaded revision and returns all findings (the loader's
/// included), sorted by file and position.
pub fn check(loaded: &Loaded) -> Vec<Finding> {
    let context = Context::new(&loaded.resources);
    let mut findings = loaded.findings.clone();
    for rule in rules::ALL {
        if let Some(check) = rule.check {
            check(&context, &mut findings);
        }
    }
    sort_findings(&mut findings);
    findings
}

/// Finds a rule by code (`MC101`) or name (`weight-negative`).
pub fn rule(code_or_name: &str) -> Option<&'static Rule> {
    rules::ALL
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
}

/// Test support: runs every rule over one YAML fixture (file `fixture.yaml`) and renders each
/// finding as `CODE severity line:col message`, sorted, so rule tests read like snapshots.
#[cfg(test)]
pub(crate) fn check_fixture(yaml: &str) -> Vec<String> {
    check_fixtures(&[("fixture.yaml", yaml)])
}

/// Test support: [`check_fixture`] keeping only one rule's lines (other rules' findings on the
/// same fixture are theirs to test).
#[cfg(test)]
pub(crate) fn findings_of(code: &str, yaml: &str) -> Vec<String> {
    let prefix = format!("{code} ");
    check_fixture(yaml)
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

/// Test support: a networkservices document of `kind` named `ads`, with `rest` after its
/// header.
#[cfg(test)]
pub(crate) fn ns_fixture(kind: &str, rest: &str) -> String {
    format!("apiVersion: networkservices.googleapis.com/v1\nkind: {kind}\nname: ads\n{rest}")
}

/// Test support: like [`check_fixture`] over several files; lines start with the file name.
#[cfg(test)]
pub(crate) fn check_fixtures(files: &[(&str, &str)]) -> Vec<String> {
    let loaded = crate::load::load(
        files
            .iter()
            .map(|(path, text)| crate::source::SourceFile::new(*path, *text))
            .collect(),
    );
    let single = files.len() == 1;
    check(&loaded)
        .iter()
        .map(|f| {
            let at = if single {
                f.location.pos.to_string()
            } else {
                f.location.to_string()
            };
            format!("{} {} {} {}", f.rule, f.severity, at, f.message)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_helper_renders_loader_findings() {
        assert_eq!(
            check_fixture("a: [1, 2\n"),
            vec!["MC001 error 1:9 YAML syntax error: while parsing a flow sequence, expected ',' or ']'".to_string()]
        );
    }
}
