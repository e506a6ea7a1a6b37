//! Translation: a loaded revision → the listener, clusters and route configuration of the
//! local Envoy (naming, endpoints and coverage are described in the [module docs](crate::envoy)).
//!
//! [`routes`] builds one virtual host per route resource with the family's translator
//! ([`networkservices`], [`istio`], [`gateway_api`], which share [`matching`] and [`actions`]),
//! collecting the backends the routes use;
//! [`cors`] and [`session`] build the per-route configs of the CORS and stateful session
//! filters; [`l4`] builds the listeners of TCP, TLS and UDP routes ([`tcp`], [`tls`], [`udp`]);
//! [`clusters`] resolves the backends of both into clusters ([`service_entry`],
//! [`destination_rule`]); [`listener`] adds the HTTP listener.

mod actions;
pub(super) mod clusters;
mod context;
mod cors;
mod destination_rule;
mod gateway_api;
mod istio;
pub(super) mod l4;
mod listener;
mod matching;
mod networkservices;
pub(super) mod routes;
mod service_entry;
mod session;
mod tcp;
mod tls;
mod udp;
pub(super) mod value;

pub use clusters::cluster_name;
pub use routes::{chain_name, parse_chain_name, parse_vhost_name, vhost_name};

use super::{EnvoyConfig, EnvoySettings, TranslateError};
use crate::load::Loaded;

/// Translates a loaded revision into Envoy resources, or every reason it cannot be.
pub fn translate(
    loaded: &Loaded,
    settings: &EnvoySettings,
) -> Result<EnvoyConfig, Vec<TranslateError>> {
    let mut errors = Vec::new();
    let mut routes = routes::route_config(loaded, settings, &mut errors);
    let layer4 = l4::layer4(loaded, settings, &mut errors);
    routes.uses.extend(layer4.uses);
    let clusters = clusters::clusters(loaded, &routes.uses, settings, &mut errors);
    let listener = listener::listener(settings, &routes.filters);
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        return Err(errors);
    }
    Ok(EnvoyConfig {
        listeners: std::iter::once(listener).chain(layer4.listeners).collect(),
        clusters,
        route_config: routes.config,
    })
}
