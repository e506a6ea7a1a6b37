//! `meshcd run` with `delivery: ads`: the managed Envoy (Unix socket) and two more Envoys of a
//! fleet (loopback TCP, each binding its own loopback address) follow one daemon; a rollout's
//! step is live only once every Envoy holds it, so at every live step each Envoy already serves
//! the step's weights; `GET /api/v1/xds` and `meshcd status` say how many Envoys hold which
//! version.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::daemon::*;
use crate::common::fleet::FleetEnvoy;
use crate::common::meshcd;
use meshcd::envoy::files::XdsClient;
use serde_json::Value;

const POLICY: &str = "apiVersion: meshcd.dev/v1alpha1
kind: RolloutPolicy
metadata: {name: canary}
spec:
  selector: {routes: [target-route]}
  steps: [10, 50, 100]
  bakeTime: 1s
  analysis: {provider: none}
";

fn xds(s: &Setup) -> Value {
    let (code, body) = s.daemon.get("/api/v1/xds");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// Requests through one Envoy's address: body → count.
fn through(address: [u8; 4], port: u16, n: usize) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..n {
        let addr = SocketAddr::from((address, port));
        let key = match try_http(addr, "GET", "/", HOST, Duration::from_secs(2)) {
            Ok((200, body)) => body,
            Ok((code, _)) => code.to_string(),
            Err(e) => format!("error: {e}"),
        };
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[test]
fn a_rollout_moves_every_envoy_of_the_fleet_in_step() {
    let _serial = serial();
    let started = Instant::now();
    let xds_port = meshcd::envoy::process::free_port().expect("a free port");
    let mut s = Setup::start_with_envoy(
        100,
        0,
        POLICY,
        "",
        &format!("    delivery: ads\n    xds:\n      listen: 127.0.0.1:{xds_port}\n"),
    );
    let server: SocketAddr = ([127, 0, 0, 1], xds_port).into();
    let fleet: Vec<FleetEnvoy> = [("e2", "127.0.0.2"), ("e3", "127.0.0.3")]
        .iter()
        .map(|(id, ip)| {
            FleetEnvoy::start(
                s.tmp.path(),
                &XdsClient {
                    node_id: id.to_string(),
                    fleet: "edge".into(),
                    server,
                    listen_address: Some(ip.to_string()),
                    tls: None,
                },
            )
        })
        .collect();
    s.daemon
        .wait_until("three Envoys hold the served version", |d| {
            let (_, body) = d.get("/api/v1/xds");
            let v: Value = serde_json::from_str(&body).unwrap_or_default();
            let served = v["served"].clone();
            v["envoys"]
                .as_array()
                .is_some_and(|e| e.len() == 3 && e.iter().all(|n| n["live"] == served))
        });
    for (address, name) in [([127, 0, 0, 2], "e2"), ([127, 0, 0, 3], "e3")] {
        let counts = through(address, s.http_port, 10);
        assert_eq!(counts.get("target"), Some(&10), "{name}: {counts:?}");
    }

    let commit = s.commit_route(0, 100);
    for (step, green) in [(1u64, 10u64), (2, 50), (3, 100)] {
        s.daemon.wait_until(&format!("step {step} live"), |d| {
            d.rollout("target-route").is_some_and(|r| {
                r["commit"] == commit.as_str() && r["step"] == step && r["live"] == true
            })
        });
        // Live means every Envoy ACKed the step: each one serves its weights now.
        let expected = weights(&[("target", 100 - green), ("target-green", green)]);
        for envoy in std::iter::once(s.admin_port).chain(fleet.iter().map(|e| e.admin_port)) {
            let served = served_weights(envoy);
            let rollout = s.daemon.rollout("target-route");
            if served.as_ref() != Some(&expected)
                && rollout.as_ref().is_some_and(|r| r["step"] == step)
            {
                s.daemon.fail(&format!(
                    "step {step} is live but the Envoy with admin port {envoy} serves {served:?}"
                ));
            }
        }
    }
    s.daemon.wait_until("the rollout promoted", |d| {
        d.rollout("target-route")
            .is_some_and(|r| r["phase"] == "promoted")
    });
    for (address, name) in [([127, 0, 0, 2], "e2"), ([127, 0, 0, 3], "e3")] {
        let counts = through(address, s.http_port, 10);
        assert_eq!(counts.get("target-green"), Some(&10), "{name}: {counts:?}");
    }
    let summary = xds(&s);
    assert_eq!(summary["fleets"]["edge"]["envoys"], 2, "{summary:#}");
    assert_eq!(summary["fleets"]["meshcd"]["envoys"], 1, "{summary:#}");
    let server = format!("http://{}", s.daemon.addr);
    let status = meshcd(
        &["status", "--server", &server],
        &s.tmp.path().join("cli-cache"),
    );
    assert!(
        status.stdout.contains("fleet edge: 2 Envoy(s)"),
        "{}\n{}",
        status.stdout,
        status.stderr
    );
    drop(fleet);
    s.shut_down();
    println!(
        "a_rollout_moves_every_envoy_of_the_fleet_in_step: {:?}",
        started.elapsed()
    );
}
