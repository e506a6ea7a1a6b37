//! No input makes translation or diffing panic: the invalid samples, and resources whose
//! documents were scrambled at random paths.

use proptest::prelude::*;
use serde_json::{json, Value as Json};

use super::*;
use crate::envoy::{diff, EnvoyState};
use crate::load::load;

macro_rules! invalid_samples {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../../samples/invalid/", $name)))),*]
    };
}

const INVALID: &[(&str, &str)] = invalid_samples![
    "MC001-yaml-syntax.yaml",
    "MC002-duplicate-key.yaml",
    "MC003-unknown-kind.yaml",
    "MC004-ambiguous-shape.yaml",
    "MC005-schema.yaml",
    "MC006-unknown-field.yaml",
    "MC007-duplicate-resource.yaml",
    "MC101-weight-negative.yaml",
    "MC102-weight-zero-total.yaml",
    "MC103-weight-partial.yaml",
    "MC104-weight-range.yaml",
    "MC201-host-conflict.yaml",
    "MC202-unreachable-rule.yaml",
    "MC203-ineffective-match.yaml",
    "MC204-istio-hostname-invalid.yaml",
    "MC205-istio-match-invalid.yaml",
    "MC206-istio-route-invalid.yaml",
    "MC207-istio-duration-invalid.yaml",
    "MC208-istio-retry-invalid.yaml",
    "MC209-destination-rule-invalid.yaml",
    "MC210-service-entry-invalid.yaml",
    "MC211-workload-entry-invalid.yaml",
    "MC212-peer-authentication-invalid.yaml",
    "MC213-export-to-invalid.yaml",
    "MC301-subset-missing.yaml",
    "MC302-backend-unresolved.yaml",
    "MC303-rollout-policy-invalid.yaml",
    "MC401-external-mesh-ignored-field.yaml",
    "MC402-external-mesh-destination-tls.yaml",
    "MC403-external-mesh-strict-mtls.yaml",
    "MC404-external-mesh-namespace.yaml",
    "MC501-redirect-with-destinations.yaml",
    "MC502-route-action-missing.yaml",
    "MC503-value-range.yaml",
    "MC601-gateway-api-limits.yaml",
    "MC602-hostname-pattern.yaml",
    "MC603-path-pattern.yaml",
    "MC604-tls-route-matches.yaml",
    "MC605-tcp-route-action.yaml",
];

#[test]
fn invalid_samples_translate_or_fail_without_panicking() {
    for (name, text) in INVALID {
        let loaded = load(vec![SourceFile::new(*name, *text)]);
        if let Ok(config) = translate(&loaded, &EnvoySettings::default()) {
            let state = EnvoyState::from_config(&config);
            let _ = diff(&state, &EnvoyState::default(), &loaded);
        }
    }
}

/// Strange values to put anywhere.
fn oddity(n: u64) -> Json {
    match n % 12 {
        0 => Json::Null,
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(""),
        4 => json!("-5s"),
        5 => json!([]),
        6 => json!({}),
        7 => json!([{"x": 1}]),
        8 => json!(1.5e300),
        9 => json!(true),
        10 => json!({"type": "RequestRedirect"}),
        _ => json!("(*"),
    }
}

/// Every path of a JSON value, as JSON pointers.
fn pointers(value: &Json, at: String, out: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The typed model and the IR still come from the intact document, the translators read the
    /// scrambled one: their disagreement must not panic either.
    #[test]
    fn scrambled_documents_never_panic(edits in proptest::collection::vec((any::<u64>(), any::<u64>()), 1..8)) {
        let mut loaded = revision(&[("kitchen.yaml", KITCHEN)]);
        for (which, what) in edits {
            let count = loaded.resources.len() as u64;
            let resource = &mut loaded.resources[(which % count) as usize];
            let mut paths = Vec::new();
            pointers(&resource.body, String::new(), &mut paths);
            if paths.is_empty() {
                continue;
            }
            let path = &paths[((which / count) % paths.len() as u64) as usize];
            if let Some(slot) = resource.body.pointer_mut(path) {
                *slot = oddity(what);
            }
        }
        if let Ok(config) = translate(&loaded, &EnvoySettings::default()) {
            let state = EnvoyState::from_config(&config);
            let plan = diff(&state, &EnvoyState::default(), &loaded);
            prop_assert_eq!(plan.summary.delete, 0);
        }
    }
}
