//! Parity of meshcd's built-in Gateway API schemas with the upstream v1.6.1 standard CRDs.
//!
//! A valid document of each kind covering every field (`valid/*.yaml`) is checked in every
//! served version, then mutated: once per constraint the CRD declares (generated from the CRD,
//! see [`mutate`]) and once or more per validation rule, at every place it applies (see
//! [`rules`]). For each mutation both judges must report the same findings (rule code,
//! severity, field, `line:col`), and the upstream one must give the verdict the mutation aims
//! at, so a mutation that breaks nothing fails the test. The schema trees are also compared
//! node by node ([`structure`]).

mod harness;
mod mutate;
mod rules;
mod structure;

use std::collections::BTreeSet;

use meshcd_core::schema::{builtin, Lookup};
use serde_json::Value as Json;

use harness::{builtin as ours, crd_spec, crds as theirs, shape};
use mutate::{Expect, Mutation};

/// Each kind with its valid document and served versions.
const KINDS: &[(&str, &str, &[&str])] = &[
    (
        "HTTPRoute",
        include_str!("valid/httproute.yaml"),
        &["v1", "v1beta1"],
    ),
    ("GRPCRoute", include_str!("valid/grpcroute.yaml"), &["v1"]),
    ("TCPRoute", include_str!("valid/tcproute.yaml"), &["v1"]),
    ("TLSRoute", include_str!("valid/tlsroute.yaml"), &["v1"]),
    ("UDPRoute", include_str!("valid/udproute.yaml"), &["v1"]),
    (
        "ReferenceGrant",
        include_str!("valid/referencegrant.yaml"),
        &["v1", "v1beta1"],
    ),
];

const GROUP: &str = "gateway.networking.k8s.io";

/// The valid document of a kind in a version, as YAML text and as JSON.
fn valid(text: &str, version: &str) -> (String, Json) {
    let text = text.replace(
        &format!("apiVersion: {GROUP}/v1\n"),
        &format!("apiVersion: {GROUP}/{version}\n"),
    );
    let json: Json = serde_yaml_ng::from_str(&text).expect("valid YAML");
    (text, json)
}

fn pretty(doc: &Json) -> String {
    serde_json::to_string_pretty(doc).expect("JSON prints")
}

#[test]
fn valid_documents_pass_both_and_cover_every_field() {
    for (kind, text, versions) in KINDS {
        for version in *versions {
            let (yaml, json) = valid(text, version);
            for doc in [yaml, pretty(&json)] {
                let (a, b) = (ours(&doc), theirs(&doc));
                assert!(
                    a.seen.is_empty(),
                    "{kind} {version} built-in: {:#?}",
                    a.seen
                );
                assert!(
                    b.seen.is_empty(),
                    "{kind} {version} upstream: {:#?}",
                    b.seen
                );
            }
            let mut schema_fields = BTreeSet::new();
            fields_of_schema(crd_spec(kind, version), "spec", &mut schema_fields);
            let mut doc_fields = BTreeSet::new();
            fields_of_doc(&json["spec"], "spec", &mut doc_fields);
            let missing: Vec<_> = schema_fields.difference(&doc_fields).collect();
            assert!(
                missing.is_empty(),
                "{kind} {version}: the valid document lacks {missing:#?}"
            );
        }
    }
}

fn fields_of_schema(schema: &Json, at: &str, out: &mut BTreeSet<String>) {
    out.insert(at.to_string());
    if let Some(props) = schema.get("properties").and_then(Json::as_object) {
        for (k, v) in props {
            fields_of_schema(v, &format!("{at}.{k}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        fields_of_schema(items, &format!("{at}[]"), out);
    }
}

fn fields_of_doc(value: &Json, at: &str, out: &mut BTreeSet<String>) {
    out.insert(at.to_string());
    match value {
        Json::Object(m) => m
            .iter()
            .for_each(|(k, v)| fields_of_doc(v, &format!("{at}.{k}"), out)),
        Json::Array(items) => items
            .iter()
            .for_each(|v| fields_of_doc(v, &format!("{at}[]"), out)),
        _ => {}
    }
}

/// Every validation rule of a CRD version, as `(field shape, upstream message)`.
fn rules_of_schema(schema: &Json, at: &str, out: &mut BTreeSet<(String, String)>) {
    for rule in schema
        .get("x-kubernetes-validations")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let text = rule["rule"].as_str().unwrap_or_default();
        if !text.contains("oldSelf") {
            let message = rule["message"].as_str().unwrap_or_default();
            out.insert((at.to_string(), message.to_string()));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Json::as_object) {
        for (k, v) in props {
            rules_of_schema(v, &format!("{at}.{k}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        rules_of_schema(items, &format!("{at}[]"), out);
    }
}

/// What one mutation showed.
struct Outcome {
    /// What went wrong, if anything.
    failures: Vec<String>,
    /// The upstream rules it broke, as `(field shape, message)`.
    broken: Vec<(String, String)>,
}

fn judge(doc: &Json, m: &Mutation) -> Outcome {
    let text = pretty(&m.apply(doc));
    let (a, b) = (ours(&text), theirs(&text));
    let mut failures = Vec::new();
    if a.seen != b.seen {
        failures.push(format!(
            "verdicts differ\n  built-in: {:?}\n  upstream: {:?}",
            a.seen, b.seen
        ));
    }
    let warns = b.seen.iter().any(|s| s.code == "MC006");
    let met = match m.expect {
        Expect::Error => b.rejects(),
        Expect::Warning => !b.rejects() && warns,
        Expect::Valid => b.seen.is_empty(),
        Expect::Any => true,
    };
    if !met {
        failures.push(format!(
            "expected {:?} from the CRDs, got {:?}",
            m.expect, b.seen
        ));
    }
    let broken = b
        .rules
        .into_iter()
        .map(|(f, msg)| (shape(&f), msg))
        .collect();
    Outcome { failures, broken }
}

/// Judges every mutation, on as many threads as the machine has cores.
fn judge_all(doc: &Json, mutations: &[Mutation]) -> Vec<Outcome> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = mutations.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = mutations
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|m| judge(doc, m)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a judge thread panicked"))
            .collect()
    })
}

#[test]
fn mutations_get_the_same_verdict_from_both() {
    let mut total = 0;
    let mut by_expectation = [0usize; 4];
    let mut failures = Vec::new();
    for (kind, text, versions) in KINDS {
        for version in *versions {
            let (_, doc) = valid(text, version);
            let mut mutations: Vec<Mutation> = Vec::new();
            mutate::by_schema(
                crd_spec(kind, version),
                &doc["spec"],
                "/spec",
                &mut mutations,
            );
            rules::by_rules(kind, &doc["spec"], "/spec", "spec", &mut mutations);
            total += mutations.len();
            for m in &mutations {
                by_expectation[m.expect as usize] += 1;
            }
            let outcomes = judge_all(&doc, &mutations);
            let mut broken = BTreeSet::new();
            for (m, outcome) in mutations.iter().zip(outcomes) {
                let prefix = format!("{kind} {version} {}", m.name);
                failures.extend(
                    outcome
                        .failures
                        .into_iter()
                        .map(|f| format!("{prefix}: {f}")),
                );
                broken.extend(outcome.broken);
            }
            let mut all_rules = BTreeSet::new();
            rules_of_schema(crd_spec(kind, version), "spec", &mut all_rules);
            let unbroken: Vec<_> = all_rules.difference(&broken).collect();
            if !unbroken.is_empty() {
                failures.push(format!(
                    "{kind} {version}: rules no mutation breaks: {unbroken:#?}"
                ));
            }
        }
    }
    eprintln!(
        "gateway parity: {total} mutations ({} errors, {} warnings, {} valid near misses, {} either)",
        by_expectation[0], by_expectation[1], by_expectation[2], by_expectation[3]
    );
    assert!(total > 2000, "only {total} mutations");
    assert!(
        failures.is_empty(),
        "{} of {total} mutations failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_built_in_trees_match_the_crds_node_by_node() {
    let set = harness::crd_set();
    let mut out = Vec::new();
    for (kind, _, versions) in KINDS {
        let upstream = set.get(GROUP, kind).expect("upstream kind");
        assert_eq!(&upstream.served_versions(), versions, "{kind}");
        for version in *versions {
            let Lookup::Found(ours, _) = builtin::lookup(GROUP, version, kind) else {
                panic!("no built-in {kind} {version}");
            };
            let theirs = upstream.served(version).expect("served");
            structure::differences(ours, theirs, &format!("{kind} {version}"), &mut out);
        }
        let unserved = upstream.versions.iter().filter(|v| !v.served);
        for v in unserved {
            assert!(
                matches!(
                    builtin::lookup(GROUP, &v.name, kind),
                    Lookup::NotServed { .. }
                ),
                "{kind} {} is not served",
                v.name
            );
        }
    }
    assert!(out.is_empty(), "{}", out.join("\n"));
}
