//! Shared pieces of the Istio rules (MC203–MC213): name, duration, regex and header-value checks
//! as Istio's CRDs and validating webhook make them, `exportTo` visibility and hostname
//! overlaps, and a reporter that writes a rule's findings about one resource.

pub mod duration;
pub mod header_value;
pub mod matches;
pub mod names;
pub mod re2;
pub mod visibility;
pub mod workload;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::finding::{Finding, Severity};
use crate::model::istio::{view, StringMatch};
use crate::model::Resource;
use crate::path::FieldPath;
use crate::policy::{rules, Rule};

pub use duration::Need;

/// Writes one rule's findings about one resource.
pub struct Reporter<'r> {
    rule: &'static Rule,
    resource: &'r Resource,
    out: &'r mut Vec<Finding>,
}

impl<'r> Reporter<'r> {
    /// A reporter for `rule` about `resource`.
    pub fn new(rule: &'static Rule, resource: &'r Resource, out: &'r mut Vec<Finding>) -> Self {
        Self {
            rule,
            resource,
            out,
        }
    }

    /// The resource reported on.
    pub fn resource(&self) -> &'r Resource {
        self.resource
    }

    /// An error at `path`.
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.out.push(
            self.resource
                .finding(self.rule, Severity::Error, path, message),
        );
    }

    /// A warning at `path`.
    pub fn warning(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.out.push(
            self.resource
                .finding(self.rule, Severity::Warning, path, message),
        );
    }

    /// Checks an optional duration field.
    pub fn duration(&mut self, path: &FieldPath, value: Option<&String>, need: Need) {
        if let Some(Err(problem)) = value.map(|v| duration::check(v, need)) {
            self.error(path, format!("`{path}` {problem}"));
        }
    }

    /// Checks an optional port number: 1 to 65535 (a 0 counts as unset when `zero_is_unset`).
    pub fn port(&mut self, path: &FieldPath, value: Option<i64>, zero_is_unset: bool) {
        match value {
            Some(0) if zero_is_unset => {}
            Some(port) if !(1..=65535).contains(&port) => self.error(
                path,
                format!("`{path}` is {port}; a port number must be between 1 and 65535"),
            ),
            _ => {}
        }
    }

    /// Checks a regex field: not empty, a valid RE2 expression of at most 1024 characters.
    pub fn regex(&mut self, path: &FieldPath, pattern: &str) {
        if pattern.is_empty() {
            self.error(
                path,
                format!("`{path}` is empty; a regex match needs an expression"),
            );
        } else if let Err(problem) = re2::check(pattern) {
            self.error(path, format!("`{path}` {problem}"));
        }
    }

    /// Checks a string match: its regex is valid RE2, and (unless `empty_prefix_ok`, as for
    /// `uri`) its prefix is not empty.
    pub fn string_match(&mut self, path: &FieldPath, m: &StringMatch, empty_prefix_ok: bool) {
        if let Some(regex) = &m.regex {
            self.regex(&path.key("regex"), regex);
        }
        if !empty_prefix_ok && m.prefix.as_deref() == Some("") {
            let at = path.key("prefix");
            self.error(
                &at,
                format!("`{at}` is empty; a prefix match needs a prefix (leave out the value to match any)"),
            );
        }
        let set = [&m.exact, &m.prefix, &m.regex]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if set > 1 {
            self.error(
                path,
                format!("`{path}` sets more than one of `exact`, `prefix` and `regex`; keep one"),
            );
        }
    }

    /// Checks label keys and values as Istio does.
    pub fn labels<'l>(
        &mut self,
        path: &FieldPath,
        labels: impl IntoIterator<Item = (&'l String, &'l String)>,
    ) {
        for (key, value) in labels {
            let at = path.key(key);
            if let Err(problem) = names::check_label_key(key) {
                self.error(&at, format!("`{path}`: {problem}"));
            }
            if let Err(problem) = names::check_label_value(value) {
                self.error(&at, format!("`{at}`: {problem}"));
            }
        }
    }

    /// Checks a workload selector's labels: no empty key, no `*`, values of at most 63
    /// characters; a selector without labels selects everything (a warning).
    pub fn selector_labels<'l>(
        &mut self,
        path: &FieldPath,
        labels: impl ExactSizeIterator<Item = (&'l String, &'l String)>,
        selects_what: &str,
    ) {
        if labels.len() == 0 {
            self.warning(
                path,
                format!(
                    "`{path}` has no labels, so it selects {selects_what}; add labels or remove it"
                ),
            );
        }
        for (key, value) in labels {
            let at = path.key(key);
            if key.is_empty() {
                self.error(&at, format!("`{path}` has an empty label key"));
            }
            if key.contains('*') || value.contains('*') {
                self.error(
                    &at,
                    format!("`{at}`: a selector cannot use `*`; name the labels exactly"),
                );
            }
            if value.len() > names::MAX_LABEL_LEN {
                self.error(
                    &at,
                    format!(
                        "`{at}` is {} characters long; a label value has at most 63",
                        value.len()
                    ),
                );
            }
        }
    }

    /// Checks gateway names as Istio's webhook does: `namespace/name` with both DNS labels, or
    /// an older single name (`mesh`, `my-gateway`, `name.namespace`: a warning) that must be a
    /// valid FQDN. Like the webhook, stops at the first name without a `/`.
    pub fn gateway_names(&mut self, path: &FieldPath, gateways: &[String]) {
        for (i, gateway) in gateways.iter().enumerate() {
            let at = path.index(i);
            let Some((namespace, name)) = gateway.split_once('/') else {
                if let Some((name, namespace)) = gateway.split_once('.') {
                    self.warning(
                        &at,
                        format!(
                            "`{at}` `{}` uses the old `name.namespace` form; write \
                             `{}/{}`",
                            names::shown(gateway),
                            names::shown(namespace.split('.').next().unwrap_or(namespace)),
                            names::shown(name)
                        ),
                    );
                }
                if let Err(problem) = names::check_fqdn(gateway) {
                    self.error(
                        &at,
                        format!(
                            "`{at}` `{}` is not a valid gateway name: {problem}",
                            names::shown(gateway)
                        ),
                    );
                }
                return;
            };
            if namespace.is_empty() || name.is_empty() {
                self.error(
                    &at,
                    format!("`{at}` must be `namespace/name`, with neither part empty"),
                );
                continue;
            }
            for (part, value) in [("namespace", namespace), ("name", name)] {
                if !names::is_dns_label(value) {
                    self.error(
                        &at,
                        format!(
                            "`{at}`: gateway {part} `{}` is not a DNS label (at most 63 \
                             letters, digits or `-`, starting and ending with a letter or digit)",
                            names::shown(value)
                        ),
                    );
                }
            }
        }
    }

    /// Reads a JSON-kept field as its typed view, reporting a value of the wrong type (MC005)
    /// and unknown keys (MC006) as the loader does for typed fields. Only the rule that owns the
    /// field reports; others call [`quiet_view`].
    pub fn view<T: DeserializeOwned>(&mut self, path: &FieldPath, value: &Value) -> Option<T> {
        match view::<T>(value) {
            Ok(v) => {
                for unknown in v.unknown {
                    let at = path.join(&unknown);
                    let finding = Finding {
                        rule: rules::unknown_field::RULE.code,
                        name: rules::unknown_field::RULE.name,
                        severity: Severity::Warning,
                        location: crate::source::Location {
                            file: self.resource.file.clone(),
                            pos: self.resource.tree.locate(&at, true),
                        },
                        message: format!("unknown field `{at}` is ignored (misspelled?)"),
                        field: Some(at),
                        snippet: None,
                    };
                    self.out.push(finding);
                }
                Some(v.value)
            }
            Err(error) => {
                let at = path.join(&error.path);
                self.out.push(self.resource.finding(
                    &rules::schema::RULE,
                    Severity::Error,
                    &at,
                    format!("`{at}`: {}", error.message),
                ));
                None
            }
        }
    }
}

/// Reads a JSON-kept field as its typed view, silently (`None` when it has the wrong type: the
/// rule that owns the field reports that).
pub fn quiet_view<T: DeserializeOwned>(value: Option<&Value>) -> Option<T> {
    view::<T>(value?).ok().map(|v| v.value)
}
