//! meshcd's HTTP listener: an HTTP connection manager that takes its routes from the RDS file.

use serde_json::{json, Value as Json};

use super::context::HttpFilters;
use crate::envoy::{EnvoySettings, RdsSource, LISTENER_NAME, LISTENER_TYPE};

/// `@type` of the HTTP connection manager.
const HCM_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/// The listener on `listen_address:http_port`. Its connection manager (stat prefix `meshcd`,
/// codec `AUTO`) reads route configuration `route_config_name` from `rds_path`, watching the
/// file's folder; its HTTP filters are, each only when some route needs it, CORS (before the
/// others, so preflights are answered whatever else the route does), fault injection and
/// stateful sessions, then the router.
pub(crate) fn listener(settings: &EnvoySettings, needed: &HttpFilters) -> Json {
    let mut filters = Vec::new();
    if needed.cors {
        filters.push(json!({
            "name": "envoy.filters.http.cors",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors",
            },
        }));
    }
    if needed.fault {
        filters.push(json!({
            "name": "envoy.filters.http.fault",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
            },
        }));
    }
    if needed.session {
        // No session state of its own: each route with affinity sets it (per-route config).
        filters.push(json!({
            "name": "envoy.filters.http.stateful_session",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSession",
            },
        }));
    }
    filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        },
    }));
    json!({
        "@type": LISTENER_TYPE,
        "name": LISTENER_NAME,
        "address": {"socket_address": {
            "address": settings.listen_address,
            "port_value": settings.http_port,
        }},
        "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": HCM_TYPE,
                "stat_prefix": "meshcd",
                "codec_type": "AUTO",
                "rds": {
                    "route_config_name": settings.route_config_name,
                    "config_source": rds_config_source(settings),
                },
                "http_filters": filters,
            },
        }]}],
    })
}

/// Where the connection manager asks for its route configuration: the RDS file (watching its
/// folder), or the ADS stream the listener came over.
fn rds_config_source(settings: &EnvoySettings) -> Json {
    match settings.rds_source {
        RdsSource::File => json!({
            "path_config_source": {
                "path": settings.rds_path,
                "watched_directory": {"path": parent_dir(&settings.rds_path)},
            },
            "resource_api_version": "V3",
        }),
        RdsSource::Ads => json!({"ads": {}, "resource_api_version": "V3"}),
    }
}

/// The folder of a file path (`.` for a bare file name, `/` for a file at the root).
fn parent_dir(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((dir, _)) => dir.into(),
        None => ".".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_the_folder_of_the_rds_file() {
        assert_eq!(
            parent_dir("/var/lib/meshcd/envoy/rds.yaml"),
            "/var/lib/meshcd/envoy"
        );
        assert_eq!(parent_dir("rds.yaml"), ".");
        assert_eq!(parent_dir("/rds.yaml"), "/");
    }

    #[test]
    fn routes_come_from_the_file_or_from_ads() {
        let source = |rds_source| {
            let settings = EnvoySettings {
                rds_source,
                ..EnvoySettings::default()
            };
            listener(&settings, &HttpFilters::default())
                .pointer("/filter_chains/0/filters/0/typed_config/rds/config_source")
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(
            source(RdsSource::Ads),
            json!({"ads": {}, "resource_api_version": "V3"})
        );
        assert_eq!(
            source(RdsSource::File)["path_config_source"]["watched_directory"]["path"],
            "/var/lib/meshcd/envoy"
        );
    }

    #[test]
    fn optional_filters_come_only_when_needed_and_before_the_router() {
        let names = |needed: HttpFilters| {
            let l = listener(&EnvoySettings::default(), &needed);
            l.pointer("/filter_chains/0/filters/0/typed_config/http_filters")
                .and_then(Json::as_array)
                .map(|f| {
                    f.iter()
                        .map(|f| f["name"].as_str().unwrap_or("").to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            names(HttpFilters::default()),
            vec!["envoy.filters.http.router"]
        );
        let fault = HttpFilters {
            fault: true,
            ..HttpFilters::default()
        };
        assert_eq!(
            names(fault),
            vec!["envoy.filters.http.fault", "envoy.filters.http.router"]
        );
        let all = HttpFilters {
            fault: true,
            cors: true,
            session: true,
        };
        assert_eq!(
            names(all),
            vec![
                "envoy.filters.http.cors",
                "envoy.filters.http.fault",
                "envoy.filters.http.stateful_session",
                "envoy.filters.http.router"
            ]
        );
    }
}
