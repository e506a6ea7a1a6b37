//! `meshcd envoy-bootstrap`: the bootstrap of an Envoy that joins a fleet over meshcd's xDS
//! server (delta ADS, mTLS when a client certificate is given), printed as JSON.

use super::EXIT_OK;
use crate::cli::EnvoyBootstrapArgs;
use crate::envoy::files::{xds_client_bootstrap, XdsClient, XdsClientTls};

/// Prints the bootstrap; returns the exit status.
pub fn run(args: &EnvoyBootstrapArgs) -> u8 {
    let tls = match (&args.cert, &args.key, &args.server_ca, &args.server_name) {
        (Some(cert), Some(key), Some(server_ca), Some(server_name)) => Some(XdsClientTls {
            cert: std::path::absolute(cert).unwrap_or_else(|_| cert.clone()),
            key: std::path::absolute(key).unwrap_or_else(|_| key.clone()),
            server_ca: std::path::absolute(server_ca).unwrap_or_else(|_| server_ca.clone()),
            server_name: server_name.clone(),
        }),
        _ => None,
    };
    let client = XdsClient {
        node_id: args.node_id.clone(),
        fleet: args.fleet.clone(),
        server: args.server,
        listen_address: args.listen_address.clone(),
        tls,
    };
    let bootstrap = xds_client_bootstrap(&client, args.admin_port);
    println!(
        "{}",
        serde_json::to_string_pretty(&bootstrap).unwrap_or_default()
    );
    EXIT_OK
}
