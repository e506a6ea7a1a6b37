//! CustomResourceDefinitions as the user installs them: their `openAPIV3Schema` read into a
//! [`Schema`], and their CEL rules compiled, one entry per served version.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::cel;
use super::model::{any, Check, Extra, Format, ListType, Pattern, Schema, Type, Validation};
use crate::path::FieldPath;

/// A CRD that cannot be used, with the field that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {reason}")]
pub struct CrdError {
    /// The field of the CRD document.
    pub field: FieldPath,
    /// What is wrong.
    pub reason: String,
}

fn error(field: &FieldPath, reason: impl Into<String>) -> CrdError {
    CrdError {
        field: field.clone(),
        reason: reason.into(),
    }
}

/// One version of a kind.
#[derive(Debug, Clone)]
pub struct Version {
    /// `v1`, `v1beta1`, ...
    pub name: String,
    /// Whether the API server serves it.
    pub served: bool,
    /// The schema of the whole object.
    pub schema: Schema,
}

/// A kind a CRD defines.
#[derive(Debug, Clone)]
pub struct CrdKind {
    /// The CRD's name (`httproutes.gateway.networking.k8s.io`).
    pub crd: String,
    /// API group.
    pub group: String,
    /// Kind name.
    pub kind: String,
    /// Versions, as the CRD lists them.
    pub versions: Vec<Version>,
}

impl CrdKind {
    /// The schema of a served version.
    pub fn served(&self, version: &str) -> Option<&Schema> {
        self.versions
            .iter()
            .find(|v| v.served && v.name == version)
            .map(|v| &v.schema)
    }

    /// The names of the served versions.
    pub fn served_versions(&self) -> Vec<&str> {
        self.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect()
    }
}

/// True when the document is a CustomResourceDefinition.
pub fn is_crd(doc: &Json) -> bool {
    doc.get("kind").and_then(Json::as_str) == Some("CustomResourceDefinition")
        && doc
            .get("apiVersion")
            .and_then(Json::as_str)
            .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"))
}

/// Reads a CustomResourceDefinition document.
pub fn parse(doc: &Json) -> Result<CrdKind, CrdError> {
    let root = FieldPath::root();
    let spec = doc
        .get("spec")
        .ok_or_else(|| error(&root.key("spec"), "missing"))?;
    let at = root.key("spec");
    let text = |v: Option<&Json>, path: &FieldPath| -> Result<String, CrdError> {
        v.and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| error(path, "missing or not a string"))
    };
    let group = text(spec.get("group"), &at.key("group"))?;
    let kind = text(
        spec.get("names").and_then(|n| n.get("kind")),
        &at.key("names").key("kind"),
    )?;
    let crd = doc
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    let mut versions = Vec::new();
    let list = spec
        .get("versions")
        .and_then(Json::as_array)
        .ok_or_else(|| error(&at.key("versions"), "missing or not a list"))?;
    for (i, version) in list.iter().enumerate() {
        let vat = at.key("versions").index(i);
        let name = text(version.get("name"), &vat.key("name"))?;
        let served = version
            .get("served")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let schema_at = vat.key("schema").key("openAPIV3Schema");
        let schema = match version.pointer("/schema/openAPIV3Schema") {
            Some(s) => root_schema(read(s, &schema_at)?),
            None => any(),
        };
        versions.push(Version {
            name,
            served,
            schema,
        });
    }
    Ok(CrdKind {
        crd,
        group,
        kind,
        versions,
    })
}

/// The object's own schema, without what the API server handles itself: `apiVersion`, `kind`
/// and `metadata` (checked as object metadata) and `status` (written by controllers).
fn root_schema(mut schema: Schema) -> Schema {
    for own in ["apiVersion", "kind", "metadata", "status"] {
        schema.properties.insert(own.to_string(), any());
    }
    schema.required.retain(|r| r != "status");
    schema
}

fn u64_of(node: &Json, key: &str, at: &FieldPath) -> Result<Option<u64>, CrdError> {
    match node.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| error(&at.key(key), "must be a non-negative integer")),
    }
}

fn f64_of(node: &Json, key: &str, at: &FieldPath) -> Result<Option<f64>, CrdError> {
    match node.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| error(&at.key(key), "must be a number")),
    }
}

fn flag(node: &Json, key: &str) -> bool {
    node.get(key).and_then(Json::as_bool).unwrap_or(false)
}

/// Reads one schema node.
fn read(node: &Json, at: &FieldPath) -> Result<Schema, CrdError> {
    if !node.is_object() {
        return Err(error(at, "a schema must be a mapping"));
    }
    let mut schema = Schema::default();
    if let Some(t) = node.get("type") {
        let name = t.as_str().unwrap_or_default();
        schema.ty = Some(
            Type::parse(name)
                .ok_or_else(|| error(&at.key("type"), format!("unknown type `{t}`")))?,
        );
    }
    schema.int_or_string = flag(node, "x-kubernetes-int-or-string");
    schema.nullable = flag(node, "nullable");
    if let Some(props) = node.get("properties").and_then(Json::as_object) {
        for (name, sub) in props {
            let sub_at = at.key("properties").key(name);
            schema.properties.insert(name.clone(), read(sub, &sub_at)?);
        }
        if schema.ty.is_none() {
            schema.ty = Some(Type::Object);
        }
    }
    if let Some(required) = node.get("required").and_then(Json::as_array) {
        schema.required = required
            .iter()
            .filter_map(Json::as_str)
            .map(str::to_string)
            .collect();
    }
    schema.extra = if flag(node, "x-kubernetes-preserve-unknown-fields")
        || flag(node, "x-kubernetes-embedded-resource")
    {
        Extra::Preserve
    } else {
        match node.get("additionalProperties") {
            Some(Json::Bool(true)) => Extra::Preserve,
            Some(sub @ Json::Object(_)) => {
                Extra::Values(Box::new(read(sub, &at.key("additionalProperties"))?))
            }
            _ if schema.ty.is_none() => Extra::Preserve,
            _ => Extra::Unknown,
        }
    };
    if let Some(items) = node.get("items") {
        schema.items = Some(Box::new(read(items, &at.key("items"))?));
    }
    schema.list_type = match node.get("x-kubernetes-list-type").and_then(Json::as_str) {
        Some("set") => ListType::Set,
        Some("map") => ListType::Map(
            node.get("x-kubernetes-list-map-keys")
                .and_then(Json::as_array)
                .map(|keys| {
                    keys.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => ListType::Atomic,
    };
    if let Some(values) = node.get("enum").and_then(Json::as_array) {
        schema.allowed = values.clone();
    }
    if let Some(pattern) = node.get("pattern").and_then(Json::as_str) {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| error(&at.key("pattern"), format!("pattern does not compile: {e}")))?;
        schema.pattern = Some(Pattern {
            source: pattern.to_string(),
            regex,
        });
    }
    schema.min_length = u64_of(node, "minLength", at)?;
    schema.max_length = u64_of(node, "maxLength", at)?;
    schema.min_items = u64_of(node, "minItems", at)?.or(u64_of(node, "minProperties", at)?);
    schema.max_items = u64_of(node, "maxItems", at)?.or(u64_of(node, "maxProperties", at)?);
    schema.minimum = f64_of(node, "minimum", at)?;
    schema.maximum = f64_of(node, "maximum", at)?;
    schema.exclusive_minimum = flag(node, "exclusiveMinimum");
    schema.exclusive_maximum = flag(node, "exclusiveMaximum");
    schema.format = node.get("format").and_then(Json::as_str).map(|f| match f {
        "date-time" => Format::DateTime,
        _ => Format::Other,
    });
    schema.default = node.get("default").cloned();
    if let Some(rules) = node
        .get("x-kubernetes-validations")
        .and_then(Json::as_array)
    {
        for (i, rule) in rules.iter().enumerate() {
            let rule_at = at.key("x-kubernetes-validations").index(i);
            if let Some(validation) = read_rule(rule, &rule_at)? {
                schema.rules.push(validation);
            }
        }
    }
    Ok(schema)
}

/// Reads one `x-kubernetes-validations` entry; `None` for transition rules (they compare with
/// the stored object, which a repository does not have).
fn read_rule(rule: &Json, at: &FieldPath) -> Result<Option<Validation>, CrdError> {
    let source = rule
        .get("rule")
        .and_then(Json::as_str)
        .ok_or_else(|| error(&at.key("rule"), "missing or not a string"))?;
    if source.contains("oldSelf") {
        return Ok(None);
    }
    let compiled = cel::Rule::compile(source).map_err(|e| error(&at.key("rule"), e.reason))?;
    let message = rule
        .get("message")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("failed rule: {source}"));
    let field = rule
        .get("fieldPath")
        .and_then(Json::as_str)
        .map(|p| FieldPath::parse(p.trim_start_matches('.')));
    Ok(Some(Validation {
        check: Check::Cel(std::sync::Arc::new(compiled)),
        message,
        field,
    }))
}

/// The kinds of a set of CRDs, by API group and kind.
#[derive(Debug, Clone, Default)]
pub struct CrdSet {
    kinds: BTreeMap<(String, String), CrdKind>,
}

impl CrdSet {
    /// Adds a kind; a later CRD for the same group and kind replaces an earlier one.
    pub fn insert(&mut self, kind: CrdKind) {
        self.kinds
            .insert((kind.group.clone(), kind.kind.clone()), kind);
    }

    /// The kind for a group and kind name.
    pub fn get(&self, group: &str, kind: &str) -> Option<&CrdKind> {
        self.kinds.get(&(group.to_string(), kind.to_string()))
    }

    /// True when no CRD was added.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Every kind.
    pub fn kinds(&self) -> impl Iterator<Item = &CrdKind> {
        self.kinds.values()
    }
}

/// Reads every CustomResourceDefinition in `files` (other documents are ignored). A CRD that
/// cannot be used is an error finding at its offending field, and is left out.
pub fn load(files: &[crate::source::SourceFile]) -> (CrdSet, Vec<crate::finding::Finding>) {
    use crate::finding::{Finding, Severity};
    use crate::policy::rules::openapi_schema::RULE;
    use crate::source::Location;
    let mut set = CrdSet::default();
    let mut findings = Vec::new();
    for file in files {
        let parsed = crate::yaml::parse(&file.text);
        let mut problem = |pos, message: String| {
            findings.push(Finding {
                rule: RULE.code,
                name: RULE.name,
                severity: Severity::Error,
                location: Location {
                    file: file.path.clone(),
                    pos,
                },
                field: None,
                message,
                snippet: None,
            })
        };
        if let Some(e) = parsed.error {
            problem(e.pos, format!("CRD file is not valid YAML: {}", e.message));
            continue;
        }
        for document in parsed.documents {
            let json = document.root.to_json();
            if !is_crd(&json) {
                continue;
            }
            match parse(&json) {
                Ok(kind) => set.insert(kind),
                Err(e) => problem(
                    document.root.locate(&e.field, false),
                    format!("CRD cannot be used: {e}"),
                ),
            }
        }
    }
    (set, findings)
}
