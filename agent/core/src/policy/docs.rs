//! The documentation of every built-in rule as data: the `//!` docs of its file (**What it
//! does / Why / Example**), the upstream checks it mirrors, and its address in `docs/rules.md`.
//!
//! SARIF (`fullDescription`, `help`, `helpUri`), `meshcd rules` and `docs/rules.md` read it from
//! here. The docs stay in the rule files, the one place they are written: [`TABLE`] includes
//! each file's text and only adds what a rule file does not say, the upstream checks. A rule
//! missing from the table still gets docs, its summary, so a new rule renders before it is
//! added; a test requires an entry for every rule of [`rules::ALL`](super::rules::ALL).

use super::Rule;

/// The rules' documentation page; each rule has an anchor in it (see [`RuleDocs::url`]).
pub const DOCS_URL: &str = "https://github.com/meshcd/meshcd/blob/main/docs/rules.md";

/// Who enforces the check that a rule mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The YAML 1.2 specification, which every loader follows.
    Yaml,
    /// The Kubernetes API server (object identity, field validation, the kinds' schemas).
    Kubernetes,
    /// The Gateway API CRDs: their OpenAPI schema and CEL validation rules.
    GatewayApi,
    /// Istio's validating webhook (istiod's `pkg/config/validation`).
    IstioWebhook,
    /// An `istioctl analyze` analyzer, named by its message code (`IST0130`).
    IstioAnalyzer,
    /// The Network Services API (`networkservices.googleapis.com`): its field behaviours and
    /// validation.
    NetworkServices,
    /// Cloud Service Mesh's documented behaviour for `external-mesh` clients.
    CloudServiceMesh,
    /// The GKE `GCPBackend` CRD (`networking.gke.io`).
    Gke,
    /// meshcd's own check: no API server or analyzer has it.
    Meshcd,
}

impl Source {
    /// Stable identifier, for JSON: `gateway-api`, `istio-analyzer`, `meshcd`.
    pub fn id(self) -> &'static str {
        match self {
            Source::Yaml => "yaml",
            Source::Kubernetes => "kubernetes",
            Source::GatewayApi => "gateway-api",
            Source::IstioWebhook => "istio-webhook",
            Source::IstioAnalyzer => "istio-analyzer",
            Source::NetworkServices => "networkservices",
            Source::CloudServiceMesh => "cloud-service-mesh",
            Source::Gke => "gke",
            Source::Meshcd => "meshcd",
        }
    }

    /// For people: `Gateway API CRD`, `istioctl analyze`.
    pub fn label(self) -> &'static str {
        match self {
            Source::Yaml => "YAML 1.2",
            Source::Kubernetes => "Kubernetes API server",
            Source::GatewayApi => "Gateway API CRD",
            Source::IstioWebhook => "Istio webhook",
            Source::IstioAnalyzer => "istioctl analyze",
            Source::NetworkServices => "networkservices API",
            Source::CloudServiceMesh => "Cloud Service Mesh",
            Source::Gke => "GKE CRD",
            Source::Meshcd => "meshcd",
        }
    }
}

/// One upstream check a rule mirrors: who enforces it, and which check it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    /// Who enforces it.
    pub source: Source,
    /// Which check: a field and its constraint, a webhook's message, an analyzer's code and
    /// name.
    pub check: &'static str,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.source.label(), self.check)
    }
}

/// One row of [`TABLE`].
struct Entry {
    code: &'static str,
    /// The rule file's text (its `//!` docs are read from it).
    source: &'static str,
    upstream: &'static [Upstream],
}

/// `entry!("MC001", "yaml_syntax.rs", [(Source, "check"), ...])`.
macro_rules! entry {
    ($code:literal, $file:literal, [$(($source:ident, $check:expr)),* $(,)?]) => {
        Entry {
            code: $code,
            source: include_str!(concat!("rules/", $file)),
            upstream: &[$(Upstream { source: Source::$source, check: $check }),*],
        }
    };
}

/// Every built-in rule's file and upstream checks, in code order.
const TABLE: &[Entry] = &[
    entry!("MC001", "yaml_syntax.rs", [
        (Yaml, "the YAML 1.2 grammar; `kubectl` and `gcloud` refuse a file that does not parse"),
    ]),
    entry!("MC002", "duplicate_key.rs", [
        (Yaml, "mapping keys are unique (YAML 1.2, 3.2.1.1)"),
        (Kubernetes, "field validation reports duplicate fields; `kubectl --validate=strict` refuses them"),
    ]),
    entry!("MC003", "unknown_kind.rs", [
        (Meshcd, "a document whose kind meshcd does not model is skipped, not applied"),
    ]),
    entry!("MC004", "ambiguous_shape.rs", [
        (Meshcd, "reading `gcloud network-services ... export` documents, which have no `kind`"),
    ]),
    entry!("MC005", "schema.rs", [
        (Kubernetes, "the kind's OpenAPI schema: types and required fields"),
        (NetworkServices, "the resource's REST schema (`gcloud ... import` refuses a mismatch)"),
    ]),
    entry!("MC006", "unknown_field.rs", [
        (Kubernetes, "field validation drops unknown fields; `kubectl --validate=strict` refuses them"),
    ]),
    entry!("MC007", "duplicate_resource.rs", [
        (Kubernetes, "an object is identified by kind, namespace and name: a second one replaces the first"),
    ]),
    entry!("MC008", "openapi_schema.rs", [
        (GatewayApi, "the v1.6 standard CRDs' OpenAPI v3 schema: required, type, enum, pattern, lengths, bounds, maxItems, list-map keys"),
        (Kubernetes, "the OpenAPI schema of any CRD given with `--crd`"),
    ]),
    entry!("MC009", "validation_rule.rs", [
        (GatewayApi, "every `x-kubernetes-validations` CEL rule of the v1.6 standard CRDs"),
        (Kubernetes, "the `x-kubernetes-validations` CEL rules of any CRD given with `--crd`"),
    ]),
    entry!("MC101", "weight_negative.rs", [
        (IstioWebhook, "`weight < 0`"),
        (GatewayApi, "`backendRefs[].weight` minimum 0"),
        (NetworkServices, "`destinations[].weight` is not negative"),
    ]),
    entry!("MC102", "weight_zero_total.rs", [
        (IstioWebhook, "`total destination weight = 0`"),
        (NetworkServices, "the weights of a rule's destinations add up to more than 0"),
    ]),
    entry!("MC103", "weight_partial.rs", [
        (NetworkServices, "`destinations[].weight` is set on every destination or on none"),
    ]),
    entry!("MC104", "weight_range.rs", [
        (GatewayApi, "`backendRefs[].weight` maximum 1000000"),
        (IstioWebhook, "`weight` is an int32"),
        (NetworkServices, "`destinations[].weight` is an int32"),
    ]),
    entry!("MC201", "host_conflict.rs", [
        (IstioAnalyzer, "IST0109 ConflictingMeshGatewayVirtualServiceHosts"),
        (NetworkServices, "one route per hostname on a Mesh"),
    ]),
    entry!("MC202", "unreachable_rule.rs", [
        (IstioAnalyzer, "IST0130 VirtualServiceUnreachableRule"),
    ]),
    entry!("MC203", "ineffective_match.rs", [
        (IstioAnalyzer, "IST0131 VirtualServiceIneffectiveMatch"),
    ]),
    entry!("MC204", "istio_hostname_invalid.rs", [
        (IstioWebhook, "`ValidateWildcardDomain`/`ValidateFQDN`: hosts are FQDNs or wildcards within DNS limits"),
    ]),
    entry!("MC205", "istio_match_invalid.rs", [
        (IstioWebhook, "`validateHTTPRouteMatchRequest`: RE2 regexes, header names, ports, labels, gateways, subnets"),
    ]),
    entry!("MC206", "istio_route_invalid.rs", [
        (IstioWebhook, "`validateHTTPRoute`: direct responses, redirects, rewrites, header operations, faults, mirrors, CORS, delegates, destinations"),
    ]),
    entry!("MC207", "istio_duration_invalid.rs", [
        (IstioWebhook, "`ValidateDuration`: timeouts and connection-pool durations well formed and in range"),
    ]),
    entry!("MC208", "istio_retry_invalid.rs", [
        (IstioWebhook, "`validateHTTPRetry`: attempts, perTryTimeout and retryOn conditions"),
    ]),
    entry!("MC209", "destination_rule_invalid.rs", [
        (IstioWebhook, "`ValidateDestinationRule`: subsets, labels, traffic policy"),
    ]),
    entry!("MC210", "service_entry_invalid.rs", [
        (IstioWebhook, "`ValidateServiceEntry`: hosts, ports, resolution and endpoints, addresses"),
    ]),
    entry!("MC211", "workload_entry_invalid.rs", [
        (IstioWebhook, "`ValidateWorkloadEntry`: address, ports, labels"),
    ]),
    entry!("MC212", "peer_authentication_invalid.rs", [
        (IstioWebhook, "`ValidatePeerAuthentication`: mTLS modes, portLevelMtls needs a selector"),
    ]),
    entry!("MC213", "export_to_invalid.rs", [
        (IstioWebhook, "`validateExportTo`: `.`, `*`, `~` or namespace names, not mixed"),
    ]),
    entry!("MC301", "subset_missing.rs", [
        (IstioAnalyzer, "IST0101 ReferencedResourceNotFound (host and subset in a DestinationRule)"),
    ]),
    entry!("MC302", "backend_unresolved.rs", [
        (IstioAnalyzer, "IST0101 ReferencedResourceNotFound (destination host)"),
    ]),
    entry!("MC303", "rollout_policy_invalid.rs", [
        (Meshcd, "the RolloutPolicy kind (`meshcd.dev/v1alpha1`) is meshcd's own"),
    ]),
    entry!("MC304", "change_window_invalid.rs", [
        (Meshcd, "the ChangeWindow kind (`meshcd.dev/v1alpha1`), with Argo CD's sync-window schedules"),
    ]),
    entry!("MC401", "external_mesh_ignored_field.rs", [
        (CloudServiceMesh, "VirtualService fields unsupported for `external-mesh`"),
    ]),
    entry!("MC402", "external_mesh_destination_tls.rs", [
        (CloudServiceMesh, "DestinationRule `trafficPolicy.tls` unsupported for `external-mesh`"),
    ]),
    entry!("MC403", "external_mesh_strict_mtls.rs", [
        (CloudServiceMesh, "`external-mesh` destinations take plain text: PeerAuthentication PERMISSIVE"),
    ]),
    entry!("MC404", "external_mesh_namespace.rs", [
        (CloudServiceMesh, "an `external-mesh` VirtualService lives in its destination Service's namespace"),
    ]),
    entry!("MC501", "redirect_with_destinations.rs", [
        (IstioWebhook, "`redirect` excludes `route`, `fault`, `rewrite` and `directResponse`"),
        (GatewayApi, "CEL: `RequestRedirect` excludes `backendRefs` and `URLRewrite`"),
        (NetworkServices, "`action.redirect` excludes `destinations`"),
    ]),
    entry!("MC502", "route_action_missing.rs", [
        (IstioWebhook, "`HTTP route, redirect or direct response required`"),
        (NetworkServices, "`rules[].action` and its `destinations` are required"),
    ]),
    entry!("MC503", "value_range.rs", [
        (IstioWebhook, "status codes, percentages and durations in range"),
        (GatewayApi, "`RequestRedirect.statusCode` enum 301, 302, 303, 307, 308"),
        (NetworkServices, "enums and ranges of `redirect`, `faultInjectionPolicy`, `retryPolicy`"),
    ]),
    entry!("MC504", "output_only_field.rs", [
        (NetworkServices, "OUTPUT_ONLY fields (`createTime`, `updateTime`, `selfLink`, `etag`) are ignored on import"),
    ]),
    entry!("MC505", "ns_name_format.rs", [
        (NetworkServices, "resource names `projects/*/locations/*/<collection>/*` and their ID rules; `meshes`, `gateways` references"),
    ]),
    entry!("MC506", "ns_service_name.rs", [
        (NetworkServices, "`serviceName` REQUIRED, a backend service (or Service Directory service) reference"),
    ]),
    entry!("MC507", "ns_required_field.rs", [
        (NetworkServices, "REQUIRED field behaviours of the v1 protos"),
    ]),
    entry!("MC508", "ns_oneof.rs", [
        (NetworkServices, "`oneof` groups of the v1 protos (path, header and query matches, direct response)"),
    ]),
    entry!("MC509", "ns_enum_value.rs", [
        (NetworkServices, "enum values of the v1 protos"),
    ]),
    entry!("MC510", "ns_duration.rs", [
        (NetworkServices, "`google.protobuf.Duration` fields: well formed, not negative"),
    ]),
    entry!("MC511", "ns_port_range.rs", [
        (NetworkServices, "ports 1-65535"),
    ]),
    entry!("MC512", "ns_field_limits.rs", [
        (NetworkServices, "documented limits (mirror percent, direct response sizes, ranges, sniHost/alpn counts)"),
    ]),
    entry!("MC513", "tcp_match_address.rs", [
        (NetworkServices, "`TcpRoute` match `address`: an IPv4 address or CIDR"),
    ]),
    entry!("MC520", "cloud_run_mesh_name.rs", [
        (CloudServiceMesh, "Cloud Run `run.googleapis.com/mesh` annotation / v2 `serviceMesh.mesh`: `projects/P/locations/global/meshes/M`"),
    ]),
    entry!("MC521", "cloud_run_mesh_unknown.rs", [
        (Meshcd, "the mesh a Cloud Run service joins is one the repository's routes attach to"),
    ]),
    entry!("MC601", "gateway_api_limits.rs", [
        (GatewayApi, "`maxItems` of hostnames, parentRefs, rules, matches, filters, backendRefs, headers, queryParams; unique header names"),
    ]),
    entry!("MC602", "hostname_pattern.rs", [
        (GatewayApi, "`Hostname` pattern, maxLength 253"),
        (NetworkServices, "`hostnames` are RFC 1123 names with an optional `*.`"),
    ]),
    entry!("MC603", "path_pattern.rs", [
        (GatewayApi, "CEL rules of `HTTPPathMatch` and `HTTPPathModifier`"),
    ]),
    entry!("MC604", "tls_route_matches.rs", [
        (NetworkServices, "TlsRoute `rules[].matches` and `action.destinations` are required"),
    ]),
    entry!("MC605", "tcp_route_action.rs", [
        (NetworkServices, "TcpRoute `action`: `destinations` or `originalDestination`, one of them"),
    ]),
    entry!("MC606", "gcp_backend_name.rs", [
        (Gke, "GCPBackend `spec.backendService` name and project patterns"),
    ]),
];

/// What a rule's docs say, read from its file and [`TABLE`].
#[derive(Debug, Clone)]
pub struct RuleDocs {
    /// The rule.
    pub rule: &'static Rule,
    /// The first paragraph of the docs, one line: ``MC104 `weight-range`: a backend weight is
    /// above what the family accepts.``
    pub title: String,
    /// **What it does.**, as Markdown.
    pub what: String,
    /// **Why.**, as Markdown.
    pub why: String,
    /// **Example.**, as Markdown (code blocks included).
    pub example: String,
    /// The upstream checks the rule mirrors; empty when the table has no entry for it.
    pub upstream: &'static [Upstream],
}

impl RuleDocs {
    /// The docs of a rule: its file's, or its summary alone when [`TABLE`] has no entry.
    pub fn of(rule: &'static Rule) -> Self {
        let Some(entry) = TABLE.iter().find(|e| e.code == rule.code) else {
            return Self {
                rule,
                title: format!("{} `{}`: {}", rule.code, rule.name, rule.summary),
                what: rule.summary.to_string(),
                why: String::new(),
                example: String::new(),
                upstream: &[],
            };
        };
        let doc = module_doc(entry.source);
        let (title, body) = doc.split_once("\n\n").unwrap_or((doc.as_str(), ""));
        let body = rustdoc_links_as_code(body);
        let section = |label: &str, next: Option<&str>| -> String {
            let Some(start) = body.find(label) else {
                return String::new();
            };
            let rest = &body[start + label.len()..];
            let end = next.and_then(|n| rest.find(n)).unwrap_or(rest.len());
            rest[..end].trim().to_string()
        };
        Self {
            rule,
            title: title.split_whitespace().collect::<Vec<_>>().join(" "),
            what: section(WHAT, Some(WHY)),
            why: section(WHY, Some(EXAMPLE)),
            example: section(EXAMPLE, None),
            upstream: entry.upstream,
        }
    }

    /// The anchor of the rule's heading in `docs/rules.md` (`mc104-weight-range`), as GitHub
    /// makes it from the heading ``MC104 `weight-range` ``.
    pub fn anchor(&self) -> String {
        format!("{}-{}", self.rule.code.to_ascii_lowercase(), self.rule.name)
    }

    /// The rule's documentation: [`DOCS_URL`] and its [`anchor`](Self::anchor).
    pub fn url(&self) -> String {
        format!("{DOCS_URL}#{}", self.anchor())
    }

    /// What the rule checks and why, as plain paragraphs (SARIF's `fullDescription`): the
    /// source's line wrapping undone, list items kept one a line.
    pub fn description(&self) -> String {
        [self.what.as_str(), self.why.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| unwrap_lines(s))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// The upstream checks on one line, `;`-separated; `not documented yet` without an entry.
    pub fn upstream_line(&self) -> String {
        if self.upstream.is_empty() {
            return "not documented yet".to_string();
        }
        self.upstream
            .iter()
            .map(Upstream::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The whole documentation as Markdown, headed by `heading` (`##`): the title, the
    /// sections, and the upstream checks as a list.
    pub fn markdown(&self, heading: &str) -> String {
        let mut out = format!(
            "{heading} {} `{}`\n\n{}\n",
            self.rule.code, self.rule.name, self.rule.summary
        );
        for (label, text) in [
            ("What it does", &self.what),
            ("Why", &self.why),
            ("Example", &self.example),
        ] {
            if text.is_empty() {
                continue;
            }
            // A block (code, list) cannot follow the label on its line.
            let block = text.starts_with("```") || text.starts_with("- ");
            let gap = if block { "\n\n" } else { " " };
            out.push_str(&format!("\n**{label}.**{gap}{text}\n"));
        }
        out.push_str("\n**Mirrors.**\n\n");
        if self.upstream.is_empty() {
            out.push_str("- not documented yet\n");
        }
        for upstream in self.upstream {
            out.push_str(&format!(
                "- {}: {}\n",
                upstream.source.label(),
                upstream.check
            ));
        }
        out
    }
}

impl Rule {
    /// The rule's documentation (see [`RuleDocs`]).
    pub fn docs(&'static self) -> RuleDocs {
        RuleDocs::of(self)
    }
}

const WHAT: &str = "**What it does.**";
const WHY: &str = "**Why.**";
const EXAMPLE: &str = "**Example.**";

/// The `//!` lines at the top of a Rust file, without their `//!` and its one following space.
fn module_doc(source: &str) -> String {
    source
        .lines()
        .map_while(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paragraphs with their line wrapping undone: lines of a paragraph joined with a space, except
/// that a list item (`- `) starts a new line and a code block is kept as it is.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|paragraph| {
            if paragraph.starts_with("```") {
                return paragraph.to_string();
            }
            let mut out = String::new();
            for line in paragraph.lines() {
                if out.is_empty() {
                    out.push_str(line.trim());
                } else if line.starts_with("- ") {
                    out.push('\n');
                    out.push_str(line.trim());
                } else {
                    out.push(' ');
                    out.push_str(line.trim());
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Rustdoc's intra-doc links (`` [`istio_fqdn`] ``, `` [`a`](crate::b) ``) as plain code spans:
/// outside rustdoc they lead nowhere.
fn rustdoc_links_as_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(close) = after.find("`]") else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&after[..=close]);
        rest = &after[close + 2..];
        if rest.starts_with('(') {
            if let Some(end) = rest.find(')') {
                rest = &rest[end + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::ALL;

    #[test]
    fn every_rule_has_an_entry_that_is_its_own_file() {
        let missing: Vec<_> = ALL
            .iter()
            .filter(|r| !TABLE.iter().any(|e| e.code == r.code))
            .map(|r| r.code)
            .collect();
        assert!(
            missing.is_empty(),
            "add these rules to policy/docs.rs TABLE: {missing:?}"
        );
        let stale: Vec<_> = TABLE
            .iter()
            .filter(|e| !ALL.iter().any(|r| r.code == e.code))
            .map(|e| e.code)
            .collect();
        assert!(stale.is_empty(), "no such rules: {stale:?}");
        for entry in TABLE {
            assert!(
                entry.source.contains(&format!("code: \"{}\"", entry.code)),
                "{}: the table names another rule's file",
                entry.code
            );
            assert!(!entry.upstream.is_empty(), "{}: no upstream", entry.code);
        }
    }

    #[test]
    fn every_rule_documents_what_why_and_an_example() {
        for rule in ALL {
            let docs = rule.docs();
            assert!(
                docs.title
                    .starts_with(&format!("{} `{}`: ", rule.code, rule.name)),
                "{}",
                docs.title
            );
            for (section, text) in [("what", &docs.what), ("why", &docs.why)] {
                assert!(text.len() > 20, "{}: {section} is {text:?}", rule.code);
            }
            assert!(!docs.example.is_empty(), "{}: no example", rule.code);
            assert!(
                !docs.description().contains("**") && !docs.description().contains("[`"),
                "{}: {}",
                rule.code,
                docs.description()
            );
        }
    }

    #[test]
    fn sections_are_split_where_the_file_says() {
        let docs = crate::policy::rules::weight_range::RULE.docs();
        assert_eq!(
            docs.title,
            "MC104 `weight-range`: a backend weight is above what the family accepts."
        );
        assert!(docs.what.starts_with("Reports every Gateway API"));
        assert!(docs.what.ends_with("the type of\nthose fields)."));
        assert!(docs.description().starts_with(
            "Reports every Gateway API `backendRefs[].weight` above 1,000,000 and every \
             networkservices or Istio weight"
        ));
        assert!(docs
            .markdown("##")
            .contains("**Example.**\n\n```yaml\nbackendRefs:"));
        assert!(docs.why.starts_with("The API server rejects the value"));
        assert!(docs.example.starts_with("```yaml\nbackendRefs:"));
        assert!(docs.example.ends_with("weight: 1000000\n```"));
        assert_eq!(docs.anchor(), "mc104-weight-range");
        assert_eq!(docs.url(), format!("{DOCS_URL}#mc104-weight-range"));
        assert_eq!(
            docs.upstream_line(),
            "Gateway API CRD: `backendRefs[].weight` maximum 1000000; Istio webhook: `weight` is \
             an int32; networkservices API: `destinations[].weight` is an int32"
        );
    }

    #[test]
    fn a_rule_without_an_entry_falls_back_to_its_summary() {
        static NEW: Rule = Rule {
            code: "MC999",
            name: "brand-new",
            summary: "something new",
            check: None,
        };
        let docs = NEW.docs();
        assert_eq!(docs.title, "MC999 `brand-new`: something new");
        assert_eq!(docs.description(), "something new");
        assert_eq!(docs.upstream_line(), "not documented yet");
    }

    #[test]
    fn wrapped_lines_are_joined_but_list_items_and_code_kept() {
        assert_eq!(
            unwrap_lines("a\nb:\n\n- c\n  d\n- e\n\n```yaml\nx: 1\ny: 2\n```"),
            "a b:\n\n- c d\n- e\n\n```yaml\nx: 1\ny: 2\n```"
        );
    }

    #[test]
    fn rustdoc_links_become_code_spans() {
        assert_eq!(
            rustdoc_links_as_code("see [`istio_fqdn`]; ([`A::b`](crate::a::A::b)) and [x]"),
            "see `istio_fqdn`; (`A::b`) and [x]"
        );
        assert_eq!(rustdoc_links_as_code("a [`open"), "a [`open");
    }
}
