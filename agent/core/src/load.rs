//! From YAML files to typed resources: classify each document, deserialize it, report problems.
//!
//! Pure: takes file contents, returns resources and findings. A document states what it is with
//! `apiVersion`/`kind`; a header-less document exactly as `gcloud network-services ... export`
//! writes it is recognized by its shape (an ambiguous shape is a warning).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::finding::{sort_findings, Finding, Severity};
use crate::model::kubernetes::ObjectMeta;
use crate::model::meshcd::{RolloutPolicySpec, RolloutPolicyWire};
use crate::model::{cloud_run, networkservices as ns, Family, Kind, Resource, ResourceId, Spec};
use crate::path::FieldPath;
use crate::policy::{rules, Rule};
use crate::schema::{self, Lookup, Origin, Schemas};
use crate::source::{Location, Pos, SourceFile};
use crate::yaml::{self, Document, Node};

/// Everything loaded from one revision: its files, resources and load-time findings.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// The YAML files read, for snippets.
    pub files: Vec<SourceFile>,
    /// Resources, in file and document order.
    pub resources: Vec<Resource>,
    /// Problems met while loading (syntax, schema, unknown kinds...).
    pub findings: Vec<Finding>,
}

impl Loaded {
    /// True when loading met an error (the revision must not be applied).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// True for the files meshcd reads: `*.yaml` and `*.yml`.
pub fn is_yaml_path(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// Loads every document of every file, checking them against the built-in schemas. Never
/// panics on bad input: problems become findings.
pub fn load(files: Vec<SourceFile>) -> Loaded {
    load_with(files, &Schemas::builtin())
}

/// [`load`], checking documents against `schemas` (the built-in ones and the user's CRDs).
pub fn load_with(files: Vec<SourceFile>, schemas: &Schemas) -> Loaded {
    let mut loaded = Loaded::default();
    for file in &files {
        load_file(file, schemas, &mut loaded);
    }
    flag_duplicates(&mut loaded);
    sort_findings(&mut loaded.findings);
    loaded.files = files;
    loaded
}

/// Loads the documents of one file, appending resources and findings.
pub fn load_file(file: &SourceFile, schemas: &Schemas, loaded: &mut Loaded) {
    let parsed = yaml::parse(&file.text);
    if let Some(error) = parsed.error {
        loaded.findings.push(file_finding(
            &rules::yaml_syntax::RULE,
            Severity::Error,
            file,
            error.pos,
            format!("YAML syntax error: {}", error.message),
        ));
        return;
    }
    for issue in parsed.duplicate_keys {
        loaded.findings.push(file_finding(
            &rules::duplicate_key::RULE,
            Severity::Error,
            file,
            issue.pos,
            issue.message,
        ));
    }
    for document in parsed.documents {
        load_document(file, document, schemas, loaded);
    }
}

fn file_finding(
    rule: &Rule,
    severity: Severity,
    file: &SourceFile,
    pos: Pos,
    message: String,
) -> Finding {
    Finding {
        rule: rule.code,
        name: rule.name,
        severity,
        location: Location {
            file: file.path.clone(),
            pos,
        },
        field: None,
        message,
        snippet: None,
    }
}

/// What the schema check of a document found.
struct Checked {
    /// A schema (built-in or CRD) covered the document: it reported unknown fields itself.
    covered: bool,
    /// A field has the wrong type: the typed model cannot read the document.
    blocking: bool,
}

/// Checks a document with a header against its schema, if one is known.
fn check_schema(
    schemas: &Schemas,
    (api_version, kind): (&str, &str),
    body: &Json,
    file: &SourceFile,
    root: &Node,
    loaded: &mut Loaded,
) -> Checked {
    match schemas.lookup(api_version, kind) {
        Lookup::Unknown => Checked {
            covered: false,
            blocking: false,
        },
        Lookup::NotServed { served, origin } => {
            let (severity, hint) = match origin {
                Origin::Builtin => (
                    Severity::Warning,
                    "; if your cluster installs other CRDs (the experimental channel), pass them with `--crd`",
                ),
                Origin::Crd => (Severity::Error, ""),
            };
            let at = root.locate(&FieldPath::parse("apiVersion"), false);
            loaded.findings.push(file_finding(
                &rules::openapi_schema::RULE,
                severity,
                file,
                at,
                format!(
                    "{kind} is not served in version `{api_version}`: the CRDs serve {}{hint}",
                    served.join(", ")
                ),
            ));
            Checked {
                covered: false,
                blocking: origin == Origin::Crd,
            }
        }
        Lookup::Found(found, _) => {
            let mut value = body.clone();
            let violations = schema::validate::validate(found, &mut value, &FieldPath::root());
            let blocking = violations
                .iter()
                .any(|v| matches!(v.problem, schema::Problem::Type { .. }));
            loaded
                .findings
                .extend(schema::findings::of(&violations, file, root));
            Checked {
                covered: true,
                blocking,
            }
        }
    }
}

fn load_document(file: &SourceFile, document: Document, schemas: &Schemas, loaded: &mut Loaded) {
    let root = document.root;
    let pos = root.pos;
    let body = root.to_json();
    let Json::Object(map) = &body else {
        loaded.findings.push(file_finding(
            &rules::unknown_kind::RULE,
            Severity::Warning,
            file,
            pos,
            "document is not a mapping; skipped".into(),
        ));
        return;
    };
    let api_version = map.get("apiVersion").and_then(Json::as_str);
    let kind_name = map.get("kind").and_then(Json::as_str);
    let checked = match (api_version, kind_name) {
        (Some(api), Some(kind_name)) => {
            check_schema(schemas, (api, kind_name), &body, file, &root, loaded)
        }
        _ => Checked {
            covered: false,
            blocking: false,
        },
    };
    if checked.blocking {
        return;
    }
    let (kind, explicit) = match (api_version, kind_name) {
        (Some(api), Some(kind_name)) => match Kind::from_api(api, kind_name) {
            Some(kind) => (kind, true),
            None if checked.covered => return,
            None => {
                let at = root.locate(&FieldPath::parse("kind"), false);
                loaded.findings.push(file_finding(
                    &rules::unknown_kind::RULE,
                    Severity::Warning,
                    file,
                    at,
                    format!("unknown kind `{kind_name}` of `{api}`; skipped"),
                ));
                return;
            }
        },
        (None, None) => match detect_shape(&body) {
            Shape::One(kind) => (kind, false),
            Shape::Ambiguous(kind, others) => {
                loaded.findings.push(file_finding(
                    &rules::ambiguous_shape::RULE,
                    Severity::Warning,
                    file,
                    pos,
                    format!(
                        "header-less document could be a networkservices {}; read as {kind}. \
                         Add `apiVersion: networkservices.googleapis.com/v1` and `kind: {kind}` to say which",
                        others.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or ")
                    ),
                ));
                (kind, false)
            }
            Shape::Unknown => {
                loaded.findings.push(file_finding(
                    &rules::unknown_kind::RULE,
                    Severity::Warning,
                    file,
                    pos,
                    "document has no `apiVersion`/`kind` and is not a networkservices resource in gcloud form (nor a Cloud Run v2 service); skipped".into(),
                ));
                return;
            }
        },
        _ => {
            let missing = if api_version.is_none() {
                "apiVersion"
            } else {
                "kind"
            };
            loaded.findings.push(file_finding(
                &rules::schema::RULE,
                Severity::Error,
                file,
                pos,
                format!("document has no `{missing}` (or it is not a string)"),
            ));
            return;
        }
    };
    let tree = Arc::new(root);
    let report_unknown = !checked.covered;
    if let Some((name, namespace, labels, spec)) =
        typed(kind, &body, report_unknown, file, &tree, loaded)
    {
        loaded.resources.push(Resource {
            id: ResourceId {
                kind,
                namespace,
                name,
            },
            file: file.path.clone(),
            doc_index: document.index,
            pos,
            labels,
            spec,
            body,
            tree,
            explicit_header: explicit,
        });
    }
}

enum Shape {
    One(Kind),
    Ambiguous(Kind, Vec<Kind>),
    Unknown,
}

/// Recognizes a header-less networkservices document, or a Cloud Run service in the Admin API
/// v2 form, by its fields.
fn detect_shape(body: &Json) -> Shape {
    if is_cloud_run_v2(body) {
        return Shape::One(Kind::CloudRunService);
    }
    // `name: projects/p/locations/l/httpRoutes/n` says it outright.
    if let Some(name) = body.get("name").and_then(Json::as_str) {
        let collection = name.rsplit('/').nth(1).unwrap_or("");
        let by_collection = match collection {
            "httpRoutes" => Some(Kind::NsHttpRoute),
            "grpcRoutes" => Some(Kind::NsGrpcRoute),
            "tcpRoutes" => Some(Kind::NsTcpRoute),
            "tlsRoutes" => Some(Kind::NsTlsRoute),
            "meshes" => Some(Kind::NsMesh),
            "gateways" => Some(Kind::NsGateway),
            _ => None,
        };
        if let Some(kind) = by_collection {
            return Shape::One(kind);
        }
    }
    let has = |k: &str| body.get(k).is_some();
    if has("interceptionPort") || (has("envoyHeaders") && !has("rules")) {
        return Shape::One(Kind::NsMesh);
    }
    if has("ports") && (has("scope") || has("type")) && !has("rules") {
        return Shape::One(Kind::NsGateway);
    }
    if !has("rules") {
        return Shape::Unknown;
    }
    let rules = body
        .get("rules")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let match_keys: Vec<String> = rules
        .iter()
        .filter_map(|r| r.get("matches").and_then(Json::as_array))
        .flatten()
        .filter_map(Json::as_object)
        .flat_map(|m| m.keys().cloned())
        .collect();
    let any = |keys: &[&str]| match_keys.iter().any(|k| keys.contains(&k.as_str()));
    if any(&["sniHost", "alpn"]) {
        return Shape::One(Kind::NsTlsRoute);
    }
    if any(&["address", "port"])
        || rules
            .iter()
            .any(|r| r.pointer("/action/originalDestination").is_some())
    {
        return Shape::One(Kind::NsTcpRoute);
    }
    if any(&["method"]) {
        return Shape::One(Kind::NsGrpcRoute);
    }
    if any(&[
        "fullPathMatch",
        "prefixMatch",
        "regexMatch",
        "queryParameters",
        "ignoreCase",
    ]) {
        return Shape::One(Kind::NsHttpRoute);
    }
    let http_only_action = [
        "redirect",
        "urlRewrite",
        "requestHeaderModifier",
        "responseHeaderModifier",
        "corsPolicy",
        "requestMirrorPolicy",
        "directResponse",
    ];
    if rules.iter().any(|r| {
        http_only_action
            .iter()
            .any(|k| r.get("action").and_then(|a| a.get(k)).is_some())
    }) {
        return Shape::One(Kind::NsHttpRoute);
    }
    if has("hostnames") {
        // Only destinations (and maybe headers): an HttpRoute or a GrpcRoute.
        return Shape::Ambiguous(
            Kind::NsHttpRoute,
            vec![Kind::NsHttpRoute, Kind::NsGrpcRoute],
        );
    }
    // No hostnames and only destinations: TCP.
    Shape::One(Kind::NsTcpRoute)
}

/// A Cloud Run service as the Admin API v2 writes it: a `template` mapping, and a name of
/// the `services` collection or a template with `containers` or `serviceMesh`.
fn is_cloud_run_v2(body: &Json) -> bool {
    let Some(template) = body.get("template").and_then(Json::as_object) else {
        return false;
    };
    let service_name = body
        .get("name")
        .and_then(Json::as_str)
        .is_some_and(|n| n.starts_with("projects/") && n.rsplit('/').nth(1) == Some("services"));
    service_name || template.contains_key("containers") || template.contains_key("serviceMesh")
}

type Typed = (String, String, BTreeMap<String, String>, Spec);

fn typed(
    kind: Kind,
    body: &Json,
    report_unknown: bool,
    file: &SourceFile,
    tree: &Node,
    loaded: &mut Loaded,
) -> Option<Typed> {
    if kind.family() == Family::NetworkServices {
        return typed_networkservices(kind, body, file, tree, loaded);
    }
    if kind == Kind::CloudRunService && cloud_run_form(body) == cloud_run::Form::AdminV2 {
        return typed_cloud_run_v2(body, file, tree, loaded);
    }
    let meta: ObjectMeta = deserialize(
        body.get("metadata").cloned().unwrap_or(Json::Null),
        &FieldPath::root().key("metadata"),
        false,
        file,
        tree,
        loaded,
    )?;
    let Some(name) = meta.name.clone().filter(|n| !n.is_empty()) else {
        loaded.findings.push(file_finding(
            &rules::schema::RULE,
            Severity::Error,
            file,
            tree.locate(&FieldPath::parse("metadata.name"), false),
            format!("{kind} has no `metadata.name`"),
        ));
        return None;
    };
    let namespaced = !matches!(
        kind,
        Kind::RolloutPolicy | Kind::Backend | Kind::ChangeWindow
    );
    let namespace = if namespaced {
        meta.namespace.clone().unwrap_or_else(|| "default".into())
    } else {
        meta.namespace.clone().unwrap_or_default()
    };
    let spec_json = body
        .get("spec")
        .cloned()
        .unwrap_or(Json::Object(Default::default()));
    let at = FieldPath::root().key("spec");
    // Every kind reads `spec` the same way: at `spec`, unknown fields reported unless a schema
    // already did.
    macro_rules! spec {
        () => {
            deserialize(spec_json, &at, report_unknown, file, tree, loaded)?
        };
    }
    let spec = match kind {
        Kind::VirtualService => Spec::VirtualService(spec!()),
        Kind::DestinationRule => Spec::DestinationRule(spec!()),
        Kind::ServiceEntry => Spec::ServiceEntry(spec!()),
        Kind::WorkloadEntry => Spec::WorkloadEntry(spec!()),
        Kind::PeerAuthentication => Spec::PeerAuthentication(spec!()),
        Kind::GwHttpRoute
        | Kind::GwGrpcRoute
        | Kind::GwTcpRoute
        | Kind::GwTlsRoute
        | Kind::GwUdpRoute => Spec::GwRoute(spec!()),
        Kind::ReferenceGrant => Spec::ReferenceGrant(spec!()),
        Kind::RolloutPolicy => {
            let wire = spec!();
            Spec::RolloutPolicy(Box::new(rollout_policy(wire, &at, file, tree, loaded)))
        }
        Kind::Backend => Spec::Backend(spec!()),
        Kind::ChangeWindow => Spec::ChangeWindow(spec!()),
        Kind::Service => Spec::Service(deserialize(spec_json, &at, false, file, tree, loaded)?),
        Kind::GcpBackend => Spec::GcpBackend(spec!()),
        Kind::CloudRunService => {
            let spec: cloud_run::KnativeSpec =
                deserialize(spec_json, &at, false, file, tree, loaded)?;
            Spec::CloudRunService(spec.into_spec())
        }
        _ => unreachable!("networkservices kinds and Cloud Run v2 services are handled above"),
    };
    Some((name, namespace, meta.labels, spec))
}

/// The typed RolloutPolicy of its wire form; each field that cannot be read is an MC303 error
/// (and is left unset, so the rest of the policy is still checked).
fn rollout_policy(
    wire: RolloutPolicyWire,
    at: &FieldPath,
    file: &SourceFile,
    tree: &Node,
    loaded: &mut Loaded,
) -> RolloutPolicySpec {
    RolloutPolicySpec::try_from(wire).unwrap_or_else(|invalid| {
        for problem in &invalid.problems {
            let path = at.key(problem.key());
            loaded.findings.push(Finding {
                rule: rules::rollout_policy_invalid::RULE.code,
                name: rules::rollout_policy_invalid::RULE.name,
                severity: Severity::Error,
                location: Location {
                    file: file.path.clone(),
                    pos: tree.locate(&path, false),
                },
                message: problem.to_string(),
                field: Some(path),
                snippet: None,
            });
        }
        *invalid.rest
    })
}

fn typed_networkservices(
    kind: Kind,
    body: &Json,
    file: &SourceFile,
    tree: &Node,
    loaded: &mut Loaded,
) -> Option<Typed> {
    let mut fields = body.as_object().cloned().unwrap_or_default();
    let meta = fields.remove("metadata");
    fields.remove("apiVersion");
    fields.remove("kind");
    for output_only in ns::OUTPUT_ONLY {
        if fields.remove(*output_only).is_some() {
            let path = FieldPath::root().key(output_only);
            loaded.findings.push(Finding {
                rule: rules::output_only_field::RULE.code,
                name: rules::output_only_field::RULE.name,
                severity: Severity::Warning,
                location: Location {
                    file: file.path.clone(),
                    pos: tree.locate(&path, true),
                },
                message: format!(
                    "`{output_only}` is output only: the API server sets it and ignores it on \
                     input, and meshcd ignores it too; it can stay as `gcloud ... export` wrote \
                     it, or be removed"
                ),
                field: Some(path),
                snippet: None,
            });
        }
    }
    let meta_name = meta
        .as_ref()
        .and_then(|m| m.get("name"))
        .and_then(Json::as_str)
        .map(str::to_string);
    let json = Json::Object(fields);
    let root = FieldPath::root();
    let (name, labels, spec) = match kind {
        Kind::NsHttpRoute => {
            let s: ns::HttpRoute = deserialize(json, &root, true, file, tree, loaded)?;
            (s.name.clone(), s.labels.clone(), Spec::NsHttpRoute(s))
        }
        Kind::NsGrpcRoute => {
            let s: ns::GrpcRoute = deserialize(json, &root, true, file, tree, loaded)?;
            (s.name.clone(), s.labels.clone(), Spec::NsGrpcRoute(s))
        }
        Kind::NsTcpRoute => {
            let s: ns::TcpRoute = deserialize(json, &root, true, file, tree, loaded)?;
            (s.name.clone(), s.labels.clone(), Spec::NsTcpRoute(s))
        }
        Kind::NsTlsRoute => {
            let s: ns::TlsRoute = deserialize(json, &root, true, file, tree, loaded)?;
            (s.name.clone(), s.labels.clone(), Spec::NsTlsRoute(s))
        }
        Kind::NsMesh => {
            let s: ns::Mesh = deserialize(json, &root, true, file, tree, loaded)?;
            (s.name.clone(), s.labels.clone(), Spec::NsMesh(s))
        }
        Kind::NsGateway => {
            let s: ns::Gateway = deserialize(json, &root, true, file, tree, loaded)?;
            (s.name.clone(), s.labels.clone(), Spec::NsGateway(s))
        }
        _ => unreachable!("only networkservices kinds reach here"),
    };
    // Name: the `name` field's last segment, else metadata.name, else the file's stem
    // (as `gcloud ... import NAME --source=NAME.yaml` is usually used).
    let name = name
        .map(|n| ns::short_name(&n).to_string())
        .or(meta_name)
        .unwrap_or_else(|| file_stem(&file.path));
    Some((name, String::new(), labels, spec))
}

/// The form of a Cloud Run service document: Knative (`serving.knative.dev/v1` or
/// `run.googleapis.com/v1`), or the Admin API v2 (`run.googleapis.com/v2`, or no header).
fn cloud_run_form(body: &Json) -> cloud_run::Form {
    match body.get("apiVersion").and_then(Json::as_str) {
        None => cloud_run::Form::AdminV2,
        Some(api) if api.starts_with("run.googleapis.com/v2") => cloud_run::Form::AdminV2,
        Some(_) => cloud_run::Form::Knative,
    }
}

/// A Cloud Run service in the Admin API v2 form: top-level fields, `name` a full path or an
/// ID. Only the mesh is modelled; the rest is accepted as written.
fn typed_cloud_run_v2(
    body: &Json,
    file: &SourceFile,
    tree: &Node,
    loaded: &mut Loaded,
) -> Option<Typed> {
    let mut fields = body.as_object().cloned().unwrap_or_default();
    fields.remove("apiVersion");
    fields.remove("kind");
    let service: cloud_run::AdminV2Service = deserialize(
        Json::Object(fields),
        &FieldPath::root(),
        false,
        file,
        tree,
        loaded,
    )?;
    let name = service
        .name
        .as_deref()
        .map(|n| ns::short_name(n).to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| file_stem(&file.path));
    let spec = service.to_spec();
    Some((
        name,
        String::new(),
        service.labels,
        Spec::CloudRunService(spec),
    ))
}

fn file_stem(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.trim_end_matches(".yaml")
        .trim_end_matches(".yml")
        .to_string()
}

/// Deserializes `json` (found at `at` in the document) into `T`, turning a type error into a
/// schema finding at the offending field, and unknown fields into warnings.
fn deserialize<T: DeserializeOwned>(
    json: Json,
    at: &FieldPath,
    report_unknown: bool,
    file: &SourceFile,
    tree: &Node,
    loaded: &mut Loaded,
) -> Option<T> {
    let mut unknown: Vec<FieldPath> = Vec::new();
    let mut on_ignored = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
    let result: Result<T, _> =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(json, &mut on_ignored));
    match result {
        Ok(value) => {
            if report_unknown {
                for field in unknown {
                    let path = join(at, &field);
                    loaded.findings.push(Finding {
                        rule: rules::unknown_field::RULE.code,
                        name: rules::unknown_field::RULE.name,
                        severity: Severity::Warning,
                        location: Location {
                            file: file.path.clone(),
                            pos: tree.locate(&path, true),
                        },
                        message: format!("unknown field `{path}` is ignored (misspelled?)"),
                        field: Some(path),
                        snippet: None,
                    });
                }
            }
            Some(value)
        }
        Err(error) => {
            let path = join(at, &FieldPath::from(error.path()));
            loaded.findings.push(Finding {
                rule: rules::schema::RULE.code,
                name: rules::schema::RULE.name,
                severity: Severity::Error,
                location: Location {
                    file: file.path.clone(),
                    pos: tree.locate(&path, false),
                },
                message: format!("`{path}`: {}", error.inner()),
                field: Some(path),
                snippet: None,
            });
            None
        }
    }
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> FieldPath {
    use serde_ignored::Path as P;
    match path {
        P::Root => FieldPath::root(),
        P::Seq { parent, index } => ignored_path(parent).index(*index),
        P::Map { parent, key } => ignored_path(parent).key(key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}

fn join(base: &FieldPath, rest: &FieldPath) -> FieldPath {
    let mut path = base.clone();
    path.0.extend(rest.0.iter().cloned());
    path
}

fn flag_duplicates(loaded: &mut Loaded) {
    let mut first: HashMap<&ResourceId, &Resource> = HashMap::new();
    let mut findings = Vec::new();
    for resource in &loaded.resources {
        if let Some(previous) = first.get(&resource.id) {
            findings.push(resource.finding(
                &rules::duplicate_resource::RULE,
                Severity::Error,
                &FieldPath::root(),
                format!(
                    "{} is defined twice; first at {}",
                    resource.id,
                    previous.locate(&FieldPath::root())
                ),
            ));
        } else {
            first.insert(&resource.id, resource);
        }
    }
    loaded.findings.extend(findings);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_one(text: &str) -> Loaded {
        load(vec![SourceFile::new("r.yaml", text)])
    }

    #[test]
    fn reads_gcloud_export_without_header() {
        let loaded = load_one(
            "name: projects/p/locations/global/httpRoutes/target-route\nhostnames:\n- target.meshapps.internal\nmeshes:\n- projects/p/locations/global/meshes/m\nrules:\n- action:\n    destinations:\n    - serviceName: projects/p/locations/global/backendServices/target\n",
        );
        assert!(loaded.findings.is_empty(), "{:?}", loaded.findings);
        assert_eq!(loaded.resources[0].id.kind, Kind::NsHttpRoute);
        assert_eq!(loaded.resources[0].id.name, "target-route");
        assert!(!loaded.resources[0].explicit_header);
    }

    #[test]
    fn ambiguous_shape_is_a_warning_and_still_loads() {
        let loaded = load_one(
            "hostnames: [a.internal]\nrules:\n- action:\n    destinations:\n    - serviceName: x\n",
        );
        assert_eq!(loaded.resources.len(), 1);
        assert_eq!(loaded.findings.len(), 1);
        assert_eq!(loaded.findings[0].rule, rules::ambiguous_shape::RULE.code);
        assert_eq!(loaded.resources[0].id.name, "r");
    }

    #[test]
    fn schema_error_points_at_the_field() {
        let loaded = load_one(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: heavy\n",
        );
        assert!(loaded.resources.is_empty());
        let f = &loaded.findings[0];
        assert_eq!(f.rule, rules::schema::RULE.code);
        assert_eq!((f.location.pos.line, f.location.pos.column), (9, 15));
        assert!(
            f.message.contains("spec.http[0].route[0].weight"),
            "{}",
            f.message
        );
    }

    #[test]
    fn unknown_fields_and_kinds_are_warnings() {
        let loaded = load_one(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: a}\nspec:\n  rules:\n  - backendRefs:\n    - name: a\n      port: 80\n      weigth: 5\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
        );
        assert_eq!(loaded.resources.len(), 1);
        let codes: Vec<_> = loaded
            .findings
            .iter()
            .map(|f| (f.rule, f.location.pos.line))
            .collect();
        assert_eq!(
            codes,
            vec![
                (rules::unknown_field::RULE.code, 9),
                (rules::unknown_kind::RULE.code, 12)
            ]
        );
    }

    #[test]
    fn duplicate_resources_are_errors() {
        let doc = "apiVersion: meshcd.dev/v1alpha1\nkind: Backend\nmetadata: {name: a}\nspec: {}\n";
        let loaded = load_one(&format!("{doc}---\n{doc}"));
        assert_eq!(loaded.findings.len(), 1);
        assert_eq!(
            loaded.findings[0].rule,
            rules::duplicate_resource::RULE.code
        );
        assert_eq!(loaded.findings[0].location.pos.line, 6);
    }
}
