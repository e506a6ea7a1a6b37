//! From `.rego` files to [`Policies`]: parse each file, prepare them together, and find the
//! conftest rules (`deny`, `violation`, `warn`, `exception`) and tests (`test_*`) they declare.
//!
//! A file that does not parse, or that keeps the whole set from compiling, becomes an error
//! finding and is left out; the other files still run.

use std::collections::BTreeSet;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::OnceLock;

use regex::Regex;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, PolicyLengthConfig};

use crate::finding::Finding;
use crate::source::{Location, Pos, SourceFile};

use super::{code, errors, evaluate, is_test_path, Options, MAX_POLICY_BYTES, MAX_POLICY_FILES};

/// What a package is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// Once per resource.
    Resource,
    /// Once per plan.
    Plan,
}

/// The kinds of conftest rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    /// `deny`, `deny_<name>`: errors.
    Deny,
    /// `violation`, `violation_<name>`: errors.
    Violation,
    /// `warn`, `warn_<name>`: warnings.
    Warn,
}

/// One conftest rule of a package.
#[derive(Debug, Clone)]
pub(crate) struct RuleRef {
    /// The rule's name, e.g. `deny_no_owner`.
    pub name: String,
    /// Deny, violation or warn.
    pub kind: RuleKind,
    /// The finding code, `rego:<package>.<rule>`.
    pub code: &'static str,
    /// The finding name: the file's stem.
    pub label: &'static str,
    /// Where the rule is declared (its first line in the first file declaring it).
    pub location: Location,
}

impl RuleRef {
    /// The name exceptions use for this rule: `x` for `deny_x`, `""` for `deny`.
    pub fn short_name(&self) -> &str {
        self.name.split_once('_').map_or("", |(_, suffix)| suffix)
    }
}

/// A selected package and its rules.
#[derive(Debug, Clone)]
pub(crate) struct PackageRules {
    /// Dotted name, e.g. `main.owner`.
    pub name: String,
    /// The path regorus evaluates rules under, e.g. `data.main.owner`.
    pub query: String,
    /// Resource or plan package.
    pub level: Level,
    /// Its deny/violation/warn rules, in name order.
    pub rules: Vec<RuleRef>,
    /// Whether it declares an `exception` rule.
    pub has_exception: bool,
}

/// A `test_*` rule of a `*_test.rego` file.
#[derive(Debug, Clone)]
pub(crate) struct TestRule {
    /// Dotted package name.
    pub package: String,
    /// The rule's path for regorus, e.g. `data.main.owner_test.test_denied`.
    pub query: String,
    /// The rule's name.
    pub name: String,
    /// Where it is declared.
    pub location: Location,
}

/// Compiled policies: what to evaluate, and the errors met while compiling.
#[derive(Debug, Clone)]
pub struct Policies {
    pub(crate) engine: Option<Engine>,
    pub(crate) files: Vec<SourceFile>,
    pub(crate) packages: Vec<PackageRules>,
    pub(crate) tests: Vec<TestRule>,
    pub(crate) errors: Vec<Finding>,
}

/// A file that parsed, and whether it needed Rego v0.
struct Accepted {
    file: SourceFile,
    v0: bool,
}

impl Policies {
    /// No policies at all.
    pub fn empty() -> Self {
        Self::compile(&[], &Options::default())
    }

    /// Parses and prepares policy files (paths should be unique; later duplicates are skipped).
    /// Never fails: problems are kept as [`errors`](Self::errors).
    pub fn compile(files: &[SourceFile], options: &Options) -> Self {
        let mut sorted: Vec<&SourceFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        sorted.dedup_by(|a, b| a.path == b.path);
        let kept: Vec<SourceFile> = sorted.into_iter().cloned().collect();
        let mut errors = Vec::new();
        let mut accepted = Vec::new();
        let mut engine = new_engine(options);
        for file in &kept {
            let start = Location {
                file: file.path.clone(),
                pos: Pos::START,
            };
            if accepted.len() >= MAX_POLICY_FILES {
                errors.push(errors::at(
                    start,
                    format!("more than {MAX_POLICY_FILES} policy files; this one is not read"),
                    &kept,
                ));
                continue;
            }
            if file.text.len() > MAX_POLICY_BYTES {
                errors.push(errors::at(
                    start,
                    format!(
                        "policy file of {} bytes is larger than {MAX_POLICY_BYTES}; not read",
                        file.text.len()
                    ),
                    &kept,
                ));
                continue;
            }
            match add_file(&mut engine, file) {
                Ok(v0) => accepted.push(Accepted {
                    file: file.clone(),
                    v0,
                }),
                Err(text) => errors.push(errors::finding(&text, "Rego syntax error", start, &kept)),
            }
        }
        let engine = prepare(engine, &mut accepted, options, &kept, &mut errors);
        let (packages, tests) = match &engine {
            Some(engine) => index(engine, &accepted, options),
            None => (Vec::new(), Vec::new()),
        };
        Self {
            engine,
            files: kept,
            packages,
            tests,
            errors,
        }
    }

    /// Syntax and compile errors, one finding each (with snippets).
    pub fn errors(&self) -> &[Finding] {
        &self.errors
    }

    /// True when no rule would run (no files, or none selected).
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// The policy files given (all of them, for snippets).
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The selected packages, each with `resource` or `plan` (for logs and `--verbose`).
    pub fn packages(&self) -> Vec<(String, &'static str)> {
        self.packages
            .iter()
            .map(|p| {
                let level = match p.level {
                    Level::Resource => "resource",
                    Level::Plan => "plan",
                };
                (p.name.clone(), level)
            })
            .collect()
    }

    /// The number of `test_*` rules found in `*_test.rego` files.
    pub fn test_count(&self) -> usize {
        self.tests.len()
    }
}

fn new_engine(options: &Options) -> Engine {
    let mut engine = Engine::new();
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: options.time_limit,
        check_interval: NonZeroU32::new(32).unwrap_or(NonZeroU32::MIN),
    });
    engine.set_policy_length_config(PolicyLengthConfig {
        max_col: NonZeroU32::new(4096).unwrap_or(NonZeroU32::MIN),
        max_file_bytes: NonZeroUsize::new(MAX_POLICY_BYTES).unwrap_or(NonZeroUsize::MIN),
        max_lines: NonZeroUsize::new(20_000).unwrap_or(NonZeroUsize::MIN),
    });
    // As OPA and conftest: a builtin that fails (to_number("x")) makes its expression undefined.
    engine.set_strict_builtin_errors(false);
    engine
}

/// Adds a file as Rego v1, else, when the v1 error says it is written in v0 (a rule body
/// without `if`, a partial set without `contains`), as v0; returns whether v0 was needed, or
/// the v1 error text. (Parsing as v0 only then also keeps regorus's v0 warnings off stderr.)
fn add_file(engine: &mut Engine, file: &SourceFile) -> Result<bool, String> {
    let add = |engine: &mut Engine, v0: bool| {
        engine.set_rego_v0(v0);
        let result = evaluate::guard(|| {
            engine
                .add_policy(file.path.clone(), file.text.to_string())
                .map_err(|e| format!("{e:#}"))
        });
        engine.set_rego_v0(false);
        result
    };
    match add(engine, false) {
        Ok(_) => Ok(false),
        Err(v1_error) => {
            let written_in_v0 =
                v1_error.contains("keyword is required") && !file.text.contains("import rego.v1");
            if !written_in_v0 {
                return Err(v1_error);
            }
            add(engine, true).map(|_| true).map_err(|_| v1_error)
        }
    }
}

/// Prepares the engine for evaluation; a file that keeps it from compiling is reported and
/// left out, and the rest tried again. `None` when nothing usable is left.
fn prepare(
    mut engine: Engine,
    accepted: &mut Vec<Accepted>,
    options: &Options,
    files: &[SourceFile],
    errors: &mut Vec<Finding>,
) -> Option<Engine> {
    loop {
        if accepted.is_empty() {
            return None;
        }
        let error = match evaluate::guard(|| {
            engine
                .eval_query("true".to_string(), false)
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        }) {
            Ok(()) => return Some(engine),
            Err(text) => text,
        };
        let parsed = errors::parse(&error);
        let culprit = parsed
            .location
            .as_ref()
            .and_then(|l| accepted.iter().position(|a| a.file.path == l.file));
        let fallback = Location {
            file: accepted[culprit.unwrap_or(0)].file.path.clone(),
            pos: Pos::START,
        };
        errors.push(errors::finding(
            &error,
            "Rego compile error",
            fallback,
            files,
        ));
        let Some(culprit) = culprit else {
            // Not attributable to one file: nothing can be trusted to run.
            return None;
        };
        accepted.remove(culprit);
        engine = new_engine(options);
        for a in accepted.iter() {
            engine.set_rego_v0(a.v0);
            // These files parsed before; a failure now would be reported by the next prepare.
            let _ = evaluate::guard(|| {
                engine
                    .add_policy(a.file.path.clone(), a.file.text.to_string())
                    .map(|_| ())
                    .map_err(|e| format!("{e:#}"))
            });
            engine.set_rego_v0(false);
        }
    }
}

/// Identifiers that may name conftest rules or tests.
fn candidates(text: &str) -> BTreeSet<&str> {
    static PATTERN: OnceLock<Option<Regex>> = OnceLock::new();
    let Some(pattern) = PATTERN
        .get_or_init(|| {
            Regex::new(
                r"\b((?:deny|violation|warn)(?:_[A-Za-z0-9_]+)?|exception|test_[A-Za-z0-9_]*)\b",
            )
            .ok()
        })
        .as_ref()
    else {
        return BTreeSet::new();
    };
    pattern.find_iter(text).map(|m| m.as_str()).collect()
}

/// Where a rule is declared: the first line starting with its name.
fn declared_at(file: &SourceFile, name: &str) -> Location {
    let pos = crate::source::yaml_lines(&file.text)
        .enumerate()
        .find_map(|(i, line)| {
            let trimmed = line.trim_start();
            let rest = trimmed.strip_prefix(name)?;
            let next = rest.chars().next();
            if next.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            let indent = line.chars().count() - trimmed.chars().count();
            Some(Pos::new(
                u32::try_from(i + 1).unwrap_or(u32::MAX),
                u32::try_from(indent + 1).unwrap_or(u32::MAX),
            ))
        })
        .unwrap_or(Pos::START);
    Location {
        file: file.path.clone(),
        pos,
    }
}

/// `data.a.b` for components `[a, b]`; components that are not identifiers in brackets.
fn query_path(components: &[String]) -> String {
    let mut path = String::from("data");
    for c in components {
        let identifier = c
            .chars()
            .next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if identifier {
            path.push('.');
            path.push_str(c);
        } else {
            path.push_str(&format!("[{}]", serde_json::Value::String(c.clone())));
        }
    }
    path
}

/// True when a package is under one of the namespaces (or every package runs).
fn selected(components: &[String], options: &Options) -> bool {
    options.all_namespaces
        || options.namespaces.iter().any(|ns| {
            let prefix: Vec<&str> = ns.split('.').filter(|p| !p.is_empty()).collect();
            !prefix.is_empty()
                && components.len() >= prefix.len()
                && prefix.iter().zip(components).all(|(p, c)| *p == c)
        })
}

fn rule_kind(name: &str) -> Option<RuleKind> {
    let head = name.split('_').next().unwrap_or(name);
    match head {
        "deny" => Some(RuleKind::Deny),
        "violation" => Some(RuleKind::Violation),
        "warn" => Some(RuleKind::Warn),
        _ => None,
    }
}

/// Finds the selected packages with their rules, and the tests.
fn index(
    engine: &Engine,
    accepted: &[Accepted],
    options: &Options,
) -> (Vec<PackageRules>, Vec<TestRule>) {
    let components = engine.get_policy_package_components().unwrap_or_default();
    let mut packages: Vec<PackageRules> = Vec::new();
    let mut tests = Vec::new();
    for row in components {
        let Some(file) = accepted.iter().find(|a| a.file.path == row.source_file) else {
            continue;
        };
        let file = &file.file;
        let name = row.components.join(".");
        let query = query_path(&row.components);
        let declared = |rule: &str| {
            engine
                .has_declared_rule_rooted_at(&file.path, rule)
                .unwrap_or(false)
        };
        let names = candidates(&file.text);
        if is_test_path(&file.path) {
            for rule in names.iter().filter(|n| n.starts_with("test_")) {
                if declared(rule) {
                    tests.push(TestRule {
                        package: name.clone(),
                        query: format!("{query}.{rule}"),
                        name: rule.to_string(),
                        location: declared_at(file, rule),
                    });
                }
            }
            continue;
        }
        if !selected(&row.components, options) {
            continue;
        }
        let position = match packages.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                let level = if row.components.iter().any(|c| c == "plan") {
                    Level::Plan
                } else {
                    Level::Resource
                };
                packages.push(PackageRules {
                    name: name.clone(),
                    query: query.clone(),
                    level,
                    rules: Vec::new(),
                    has_exception: false,
                });
                packages.len() - 1
            }
        };
        let package = &mut packages[position];
        for rule in names {
            if rule == "exception" {
                package.has_exception |= declared(rule);
                continue;
            }
            let Some(kind) = rule_kind(rule) else {
                continue;
            };
            if package.rules.iter().any(|r| r.name == rule) || !declared(rule) {
                continue;
            }
            package.rules.push(RuleRef {
                name: rule.to_string(),
                kind,
                code: code::rule_code(&name, rule),
                label: code::file_name(&file.path),
                location: declared_at(file, rule),
            });
        }
        package.rules.sort_by(|a, b| a.name.cmp(&b.name));
    }
    packages.retain(|p| !p.rules.is_empty());
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    tests.sort_by(|a, b| (&a.location, &a.name).cmp(&(&b.location, &b.name)));
    (packages, tests)
}
