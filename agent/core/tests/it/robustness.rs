//! Robustness: arbitrary text and mutated sample files never make load, policy or plan panic,
//! and every finding points inside its file (line within the file, column from 1).

use meshcd_core::plan::plan;
use meshcd_core::{finding, ir, policy, Loaded, SourceFile};
use proptest::prelude::*;
use proptest::sample::Index;

/// The samples, grouped as they are deployed together: (path, text).
const SAMPLES: &[&[(&str, &str)]] = &[
    &[
        (
            "cloud-run-mesh/mesh.yaml",
            include_str!("../../../../samples/cloud-run-mesh/mesh.yaml"),
        ),
        (
            "cloud-run-mesh/routes/target-route.yaml",
            include_str!("../../../../samples/cloud-run-mesh/routes/target-route.yaml"),
        ),
        (
            "cloud-run-mesh/routes/route-target23.yaml",
            include_str!("../../../../samples/cloud-run-mesh/routes/route-target23.yaml"),
        ),
        (
            "cloud-run-mesh/routes/payments-grpc-route.yaml",
            include_str!("../../../../samples/cloud-run-mesh/routes/payments-grpc-route.yaml"),
        ),
        (
            "cloud-run-mesh/meshcd/rollout-policy.yaml",
            include_str!("../../../../samples/cloud-run-mesh/meshcd/rollout-policy.yaml"),
        ),
    ],
    &[
        (
            "istio-external-mesh/virtual-service.yaml",
            include_str!("../../../../samples/istio-external-mesh/virtual-service.yaml"),
        ),
        (
            "istio-external-mesh/destination-rule.yaml",
            include_str!("../../../../samples/istio-external-mesh/destination-rule.yaml"),
        ),
        (
            "istio-external-mesh/service.yaml",
            include_str!("../../../../samples/istio-external-mesh/service.yaml"),
        ),
        (
            "istio-external-mesh/peer-authentication.yaml",
            include_str!("../../../../samples/istio-external-mesh/peer-authentication.yaml"),
        ),
        (
            "istio-external-mesh/meshcd/rollout-policy.yaml",
            include_str!("../../../../samples/istio-external-mesh/meshcd/rollout-policy.yaml"),
        ),
    ],
    &[
        (
            "gateway-api-canary/httproute.yaml",
            include_str!("../../../../samples/gateway-api-canary/httproute.yaml"),
        ),
        (
            "gateway-api-canary/services.yaml",
            include_str!("../../../../samples/gateway-api-canary/services.yaml"),
        ),
        (
            "gateway-api-canary/meshcd/rollout-policy.yaml",
            include_str!("../../../../samples/gateway-api-canary/meshcd/rollout-policy.yaml"),
        ),
    ],
];

/// Headers that steer arbitrary text into each kind's typed path.
const HEADERS: &[&str] = &[
    "",
    "apiVersion: networkservices.googleapis.com/v1\nkind: HttpRoute\n",
    "apiVersion: networkservices.googleapis.com/v1\nkind: GrpcRoute\n",
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\n",
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n",
    "apiVersion: meshcd.dev/v1alpha1\nkind: RolloutPolicy\n",
    "name: projects/p/locations/global/httpRoutes/r\n",
];

/// Loads files, runs policy, builds the IR and snippets, and checks every finding's position.
fn exercise(files: Vec<SourceFile>) -> Loaded {
    let loaded = meshcd_core::load(files);
    let _ = ir::routes(&loaded.resources);
    let mut findings = policy::check(&loaded);
    finding::attach_snippets(&mut findings, &loaded.files);
    for f in &findings {
        let file = loaded
            .files
            .iter()
            .find(|file| file.path == f.location.file)
            .unwrap_or_else(|| panic!("finding in an unknown file: {f}"));
        let lines = yaml_lines(&file.text);
        let pos = f.location.pos;
        assert!(
            (1..=lines).contains(&pos.line),
            "line out of range ({lines} lines): {f}\n---\n{}",
            file.text
        );
        assert!(pos.column >= 1, "column 0: {f}\n---\n{}", file.text);
        let _ = f.to_string();
    }
    loaded
}

/// Lines as YAML counts them: `\r\n`, `\r` and `\n` each end a line, and the empty line after
/// a final line break is a line too.
fn yaml_lines(text: &str) -> u32 {
    let breaks = text.replace("\r\n", "\n").matches(['\n', '\r']).count();
    u32::try_from(breaks + 1).unwrap_or(u32::MAX)
}

/// Plans both ways and checks the two agree.
fn plan_both_ways(a: &Loaded, b: &Loaded) {
    let forward = plan(a, b);
    let backward = plan(b, a);
    assert_eq!(backward.changes.len(), forward.changes.len());
    assert_eq!(backward.summary.create, forward.summary.delete);
    assert_eq!(backward.summary.delete, forward.summary.create);
    assert_eq!(backward.summary.update, forward.summary.update);
}

/// YAML-ish text: mostly characters that mean something to YAML, in short lines.
fn yamlish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~\n\t]{0,200}",
        "([ ]{0,4}[-a-zA-Z0-9_]{0,8}(: |:|- |-)?[\\[\\]{}:,#&*!|>'\"%@`a-z0-9 .-]{0,12}\n){0,16}",
        any::<String>(),
    ]
}

/// One edit of a file's text.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    Indent(Index, i8),
    ReplaceChar(Index, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), -4i8..=4).prop_map(|(i, d)| Mutation::Indent(i, d)),
        (
            any::<Index>(),
            prop_oneof![
                proptest::sample::select(vec![
                    ' ', '\n', '\t', ':', '-', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>',
                    '\'', '"', '0', '9', 'a', '\r', 'é', '\u{feff}'
                ]),
                any::<char>(),
            ]
        )
            .prop_map(|(i, c)| Mutation::ReplaceChar(i, c)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    match mutation {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
        }
        Mutation::DuplicateLine(i) => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        Mutation::Indent(i, delta) => {
            let at = i.index(lines.len());
            let line = &mut lines[at];
            if *delta >= 0 {
                line.insert_str(0, &" ".repeat(*delta as usize));
            } else {
                let strip = line
                    .chars()
                    .take(delta.unsigned_abs() as usize)
                    .take_while(|c| *c == ' ')
                    .count();
                line.replace_range(..strip, "");
            }
        }
        Mutation::ReplaceChar(i, c) => {
            let text = lines.join("\n");
            let count = text.chars().count();
            if count == 0 {
                return c.to_string();
            }
            let at = i.index(count);
            return text
                .chars()
                .enumerate()
                .map(|(n, old)| if n == at { *c } else { old })
                .collect();
        }
    }
    lines.join("\n")
}

fn sample_files(sample: &[(&str, &str)]) -> Vec<SourceFile> {
    sample
        .iter()
        .map(|(path, text)| SourceFile::new(*path, *text))
        .collect()
}

#[test]
fn samples_exercise_cleanly() {
    for sample in SAMPLES {
        let loaded = exercise(sample_files(sample));
        assert!(!loaded.resources.is_empty());
        plan_both_ways(&loaded, &Loaded::default());
    }
}

proptest! {
    // No regression file: reproduced failures go to tests/it/fuzz_regressions.rs as plain tests.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// (a) Arbitrary text, with or without a kind header, never panics load, check or plan.
    #[test]
    fn arbitrary_text_never_panics(
        header_a in proptest::sample::select(HEADERS),
        body_a in yamlish(),
        header_b in proptest::sample::select(HEADERS),
        body_b in yamlish(),
    ) {
        let a = exercise(vec![SourceFile::new("a.yaml", format!("{header_a}{body_a}"))]);
        let b = exercise(vec![SourceFile::new("a.yaml", format!("{header_b}{body_b}"))]);
        plan_both_ways(&a, &b);
    }

    /// (b) Mutated samples never panic, and findings point inside their file.
    #[test]
    fn mutated_samples_never_panic(
        sample in proptest::sample::select(SAMPLES),
        file in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..5),
    ) {
        let original = sample_files(sample);
        let mut mutated = original.clone();
        let target = &mut mutated[file.index(sample.len())];
        let mut text = target.text.to_string();
        for m in &mutations {
            text = apply(&text, m);
        }
        target.text = text.into();
        let before = exercise(original);
        let after = exercise(mutated);
        plan_both_ways(&after, &before);
    }
}
