//! An Envoy of a fleet for tests: started from an xDS bootstrap (`xds_client_bootstrap`) as a
//! process of its own, killed on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use meshcd::envoy::files::{xds_client_bootstrap, XdsClient};
use meshcd::envoy::find_envoy;

/// An Envoy of the fleet, started from an xDS bootstrap; killed on drop.
pub struct FleetEnvoy {
    child: Child,
    /// Its node id.
    pub id: String,
    bootstrap: PathBuf,
    /// Its admin port on 127.0.0.1.
    pub admin_port: u16,
    log: PathBuf,
}

impl FleetEnvoy {
    /// Starts an Envoy for `client` (bootstrap and log in `dir`).
    pub fn start(dir: &Path, client: &XdsClient) -> Self {
        let admin_port = meshcd::envoy::process::free_port().expect("a free port");
        let bootstrap = dir.join(format!("{}.json", client.node_id));
        let value = xds_client_bootstrap(client, admin_port);
        std::fs::write(&bootstrap, value.to_string()).expect("write the bootstrap");
        let log = dir.join(format!("{}.log", client.node_id));
        let mut envoy = Self {
            child: spawn(&bootstrap, admin_port, &log),
            id: client.node_id.clone(),
            bootstrap,
            admin_port,
            log,
        };
        envoy.id = client.node_id.clone();
        envoy
    }

    /// Kills it (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again from the same bootstrap.
    pub fn restart(&mut self) {
        self.kill();
        self.child = spawn(&self.bootstrap, self.admin_port, &self.log);
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for FleetEnvoy {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(bootstrap: &Path, admin_port: u16, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the Envoy log");
    let binary = find_envoy(None).expect("these tests need a real Envoy (or MESHCD_ENVOY)");
    Command::new(binary)
        .arg("-c")
        .arg(bootstrap)
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "--log-level",
            "info",
        ])
        .args(["--base-id", &admin_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start Envoy")
}
