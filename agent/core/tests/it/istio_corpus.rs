//! A corpus of valid Istio resources using every field of VirtualService, DestinationRule,
//! ServiceEntry, WorkloadEntry and PeerAuthentication (`tests/fixtures/istio-valid/`): it loads
//! with no error and no unknown field, and only the deprecated fields warn. (The two fields Istio
//! refuses, a fault's `exponentialDelay` and `http2Error`, are left out.)

use std::path::Path;

use meshcd_core::{load, policy, SourceFile};

fn corpus() -> Vec<SourceFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/istio-valid");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {dir:?}: {e}"))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            SourceFile::new(name, text)
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

#[test]
fn the_valid_istio_corpus_has_no_findings_but_deprecation_warnings() {
    let files = corpus();
    assert!(files.len() >= 5, "the corpus has {} files", files.len());
    let loaded = load::load(files);
    let kinds: std::collections::BTreeSet<String> = loaded
        .resources
        .iter()
        .map(|r| r.id.kind.to_string())
        .collect();
    for kind in [
        "VirtualService",
        "DestinationRule",
        "ServiceEntry",
        "WorkloadEntry",
        "PeerAuthentication",
    ] {
        assert!(kinds.contains(kind), "no {kind} in the corpus: {kinds:?}");
    }
    let findings: Vec<String> = policy::check(&loaded)
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{} {}",
                f.rule, f.severity, f.location.file, f.location.pos.line, f.message
            )
        })
        .collect();
    assert_eq!(
        findings,
        vec![
            "MC206 warning deprecated.yaml:15 `spec.http[0].mirrorPercent` is deprecated; use `mirrorPercentage: {value: 10}`",
            "MC206 warning deprecated.yaml:23 `spec.http[1].mirror_percent` is deprecated; use `mirrorPercentage: {value: 20}`",
            "MC209 warning deprecated.yaml:34 `spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize` is deprecated; write `ringHash: {minimumRingSize: 1024}`",
            "MC209 warning deprecated.yaml:35 `spec.trafficPolicy.outlierDetection.consecutiveErrors` is deprecated; use `consecutiveGatewayErrors` or `consecutive5xxErrors`",
        ]
    );
}
