//! Translation: a loaded revision → the listener, clusters and route configuration of the
//! local Envoy (naming, endpoints and coverage are described in the [module docs](crate::envoy)).
//!
//! [`routes`] builds one virtual host per route resource with the family's translator
//! ([`networkservices`], [`istio`], [`gateway_api`], which share [`matching`] and [`actions`]),
//! collecting the backends the routes use;
//! [`clusters`] resolves those into clusters ([`service_entry`], [`destination_rule`]);
//! [`listener`] adds the HTTP listener.

mod actions;
pub(super) mod clusters;
mod context;
mod destination_rule;
mod gateway_api;
mod istio;
mod listener;
mod matching;
mod networkservices;
pub(super) mod routes;
mod service_entry;
pub(super) mod value;

pub use clusters::cluster_name;
pub use routes::{parse_vhost_name, vhost_name};

use super::{EnvoyConfig, EnvoySettings, TranslateError};
use crate::load::Loaded;

/// Translates a loaded revision into Envoy resources, or every reason it cannot be.
pub fn translate(
    loaded: &Loaded,
    settings: &EnvoySettings,
) -> Result<EnvoyConfig, Vec<TranslateError>> {
    let mut errors = Vec::new();
    let routes = routes::route_config(loaded, settings, &mut errors);
    let clusters = clusters::clusters(loaded, &routes.uses, settings, &mut errors);
    let listener = listener::listener(settings, routes.fault);
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        return Err(errors);
    }
    Ok(EnvoyConfig {
        listeners: vec![listener],
        clusters,
        route_config: routes.config,
    })
}
