//! `meshcd envoy-bootstrap`: the bootstrap of a fleet Envoy, checked by a real Envoy
//! (`envoy --mode validate`), and its mTLS settings.

use std::process::Command;

use serde_json::Value;

use crate::common::envoy::envoy_binary;
use crate::common::meshcd;

#[test]
fn the_bootstrap_of_a_fleet_envoy_passes_envoys_own_validation() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = meshcd(
        &[
            "envoy-bootstrap",
            "--node-id",
            "e1",
            "--fleet",
            "edge",
            "--server",
            "127.0.0.1:18000",
            "--listen-address",
            "127.0.0.2",
            "--admin-port",
            "19901",
        ],
        &tmp.path().join("cache"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bootstrap: Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(bootstrap["node"]["id"], "e1");
    assert_eq!(bootstrap["node"]["cluster"], "edge");
    assert_eq!(
        bootstrap["node"]["metadata"]["meshcd.dev/listen-address"],
        "127.0.0.2"
    );
    assert_eq!(
        bootstrap["dynamic_resources"]["ads_config"]["api_type"],
        "DELTA_GRPC"
    );
    let file = tmp.path().join("bootstrap.json");
    std::fs::write(&file, &run.stdout).expect("write");
    let validated = Command::new(envoy_binary())
        .args(["--mode", "validate", "-c"])
        .arg(&file)
        .output()
        .expect("run envoy");
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );
}

#[test]
fn mtls_needs_the_whole_set_of_files() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let cache = tmp.path().join("cache");
    let base = [
        "envoy-bootstrap",
        "--node-id",
        "e1",
        "--fleet",
        "edge",
        "--server",
        "10.0.0.5:18000",
    ];
    let partial = meshcd(&[&base[..], &["--cert", "e1.pem"]].concat(), &cache);
    assert_eq!(partial.code, 2, "{}", partial.stdout);
    assert!(partial.stderr.contains("--key"), "{}", partial.stderr);
    let full = meshcd(
        &[
            &base[..],
            &[
                "--cert",
                "e1.pem",
                "--key",
                "e1.key",
                "--server-ca",
                "ca.pem",
                "--server-name",
                "xds.example.com",
            ],
        ]
        .concat(),
        &cache,
    );
    assert_eq!(full.code, 0, "{}", full.stderr);
    let bootstrap: Value = serde_json::from_str(&full.stdout).expect("JSON");
    let tls = &bootstrap["static_resources"]["clusters"][0]["transport_socket"]["typed_config"];
    assert_eq!(tls["sni"], "xds.example.com");
    assert!(
        tls["common_tls_context"]["tls_certificates"][0]["certificate_chain"]["filename"]
            .as_str()
            .is_some_and(|f| f.ends_with("/e1.pem"))
    );
}
