//! The two judges: meshcd's built-in Gateway API schemas and the upstream standard CRDs, each
//! run through the same loader, and their findings reduced to what must agree.

use std::sync::OnceLock;

use meshcd_core::schema::{crd, CrdSet, Schemas};
use meshcd_core::{load::load, load::load_with, Severity, SourceFile};
use serde_json::Value as Json;

use crate::upstream::gateway_api_crds;

/// The upstream CRDs, loaded once.
pub fn upstream() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let (set, problems) = crd::load(&gateway_api_crds());
        assert!(problems.is_empty(), "the upstream CRDs load: {problems:#?}");
        Schemas::with_crds(set)
    })
}

/// The upstream CRDs as raw documents (for the mutation generator), by kind.
pub fn raw_crds() -> &'static Vec<Json> {
    static RAW: OnceLock<Vec<Json>> = OnceLock::new();
    RAW.get_or_init(|| {
        gateway_api_crds()
            .iter()
            .map(|file| {
                serde_yaml_ng::from_str::<Json>(&file.text)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.path))
            })
            .collect()
    })
}

/// The `openAPIV3Schema.properties.spec` of a kind's version, from the upstream CRD.
pub fn crd_spec(kind: &str, version: &str) -> &'static Json {
    let crd = raw_crds()
        .iter()
        .find(|c| c.pointer("/spec/names/kind").and_then(Json::as_str) == Some(kind))
        .unwrap_or_else(|| panic!("no upstream CRD for {kind}"));
    crd.pointer("/spec/versions")
        .and_then(Json::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("name").and_then(Json::as_str) == Some(version))
        })
        .and_then(|v| v.pointer("/schema/openAPIV3Schema/properties/spec"))
        .unwrap_or_else(|| panic!("no {kind} {version} in the upstream CRD"))
}

/// The upstream CRDs' kinds as a set, for tests that need the set itself.
pub fn crd_set() -> CrdSet {
    upstream().crds().clone()
}

/// One finding as both judges must agree on it: rule code, severity, field, `line:col`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub code: String,
    pub severity: String,
    pub field: String,
    pub at: String,
}

/// A verdict: the findings, sorted, and the upstream messages of failed rules (for coverage).
#[derive(Debug, Default)]
pub struct Verdict {
    pub seen: Vec<Seen>,
    /// `(field, message)` of each failed validation rule.
    pub rules: Vec<(String, String)>,
}

impl Verdict {
    /// True when some finding is an error.
    pub fn rejects(&self) -> bool {
        self.seen
            .iter()
            .any(|s| s.severity == Severity::Error.to_string())
    }
}

fn verdict_of(loaded: &meshcd_core::Loaded) -> Verdict {
    let mut seen: Vec<Seen> = loaded
        .findings
        .iter()
        .map(|f| Seen {
            code: f.rule.to_string(),
            severity: f.severity.to_string(),
            field: f.field.as_ref().map(|p| p.to_string()).unwrap_or_default(),
            at: f.location.pos.to_string(),
        })
        .collect();
    // Messages differ (they are each judge's own), so findings that differ only by message
    // count once.
    seen.sort();
    seen.dedup();
    let rules = loaded
        .findings
        .iter()
        .filter(|f| f.rule == "MC009")
        .filter_map(|f| {
            let field = f.field.as_ref()?.to_string();
            let message = f.message.strip_prefix(&format!("`{field}`: "))?;
            Some((field, message.to_string()))
        })
        .collect();
    Verdict { seen, rules }
}

/// The built-in judge.
pub fn builtin(text: &str) -> Verdict {
    verdict_of(&load(vec![SourceFile::new("doc.yaml", text)]))
}

/// The upstream judge.
pub fn crds(text: &str) -> Verdict {
    verdict_of(&load_with(
        vec![SourceFile::new("doc.yaml", text)],
        upstream(),
    ))
}

/// A field path with its indices erased: `spec.rules[3].filters[0]` → `spec.rules[].filters[]`.
pub fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}
