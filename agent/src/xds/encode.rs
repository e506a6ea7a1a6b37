//! Encoding: a resource of meshcd's JSON translation (a listener, cluster or route
//! configuration with its `@type`) → the protobuf `Any` an xDS response carries.
//!
//! The translation in `meshcd_core::envoy` writes Envoy's v3 resources as JSON (the form file
//! delivery writes and `/config_dump` reads back). The xDS server encodes the same JSON with
//! prost-reflect, which implements protobuf's canonical JSON mapping (including `Any` with an
//! inline `@type`, durations such as `"1s"` and wrapper types), over the descriptors of the Envoy
//! types meshcd emits (`envoy-descriptors.bin`, compiled from the `.proto` files of the
//! `envoy-types` crate by `scripts/envoy-descriptors.sh`). So one translation feeds both
//! deliveries, and what is served over xDS is byte for byte what the JSON says.
//!
//! Unknown JSON fields are an error here (Envoy would only warn about them in a file), so a
//! misspelt field in the translation is caught before any Envoy sees it.

use std::sync::LazyLock;

use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage};
use serde_json::Value as Json;

/// The descriptors of the Envoy types meshcd encodes.
static POOL: LazyLock<Result<DescriptorPool, String>> = LazyLock::new(|| {
    DescriptorPool::decode(&include_bytes!("envoy-descriptors.bin")[..])
        .map_err(|e| format!("meshcd's Envoy descriptors do not decode: {e}"))
});

/// Why a resource cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The resource has no `@type`, or a `@type` that is not a `type.googleapis.com/` URL.
    #[error("resource has no `@type`")]
    NoType,
    /// The type is not among the Envoy types meshcd knows.
    #[error(
        "type `{0}` is not among the Envoy types meshcd encodes (scripts/envoy-descriptors.sh)"
    )]
    UnknownType(String),
    /// The JSON does not follow the type's protobuf JSON mapping.
    #[error("`{type_name}` does not accept this JSON: {message}")]
    Invalid {
        /// The message type.
        type_name: String,
        /// prost-reflect's reason (field and what is wrong).
        message: String,
    },
    /// The descriptors themselves are broken (a build problem, not an input problem).
    #[error("{0}")]
    Descriptors(String),
}

/// The type URL of a JSON resource (its `@type`).
pub fn type_url(resource: &Json) -> Result<&str, EncodeError> {
    resource
        .get("@type")
        .and_then(Json::as_str)
        .filter(|t| t.contains('/'))
        .ok_or(EncodeError::NoType)
}

/// Encodes one JSON resource (with its `@type`) as an `Any`.
pub fn encode(resource: &Json) -> Result<Any, EncodeError> {
    let type_url = type_url(resource)?;
    let type_name = type_url.rsplit_once('/').map_or(type_url, |(_, name)| name);
    let pool = POOL
        .as_ref()
        .map_err(|e| EncodeError::Descriptors(e.clone()))?;
    let descriptor = pool
        .get_message_by_name(type_name)
        .ok_or_else(|| EncodeError::UnknownType(type_name.to_string()))?;
    // The top-level `@type` belongs to the `Any` wrapper, not to the message.
    let body = match resource {
        Json::Object(map) if map.contains_key("@type") => {
            let mut map = map.clone();
            map.remove("@type");
            Json::Object(map)
        }
        other => other.clone(),
    };
    let options = DeserializeOptions::new().deny_unknown_fields(true);
    let message =
        DynamicMessage::deserialize_with_options(descriptor, body, &options).map_err(|e| {
            EncodeError::Invalid {
                type_name: type_name.to_string(),
                message: e.to_string(),
            }
        })?;
    Ok(Any {
        type_url: type_url.to_string(),
        value: message.encode_to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::{
        cluster::v3::Cluster, listener::v3::Listener, route::v3::RouteConfiguration,
    };
    use serde_json::json;

    #[test]
    fn a_cluster_encodes_to_what_the_envoy_types_read() {
        let cluster = json!({
            "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "name": "canary",
            "connect_timeout": "1.5s",
            "type": "STATIC",
            "load_assignment": {"cluster_name": "canary", "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 8080}}}}
            ]}]},
        });
        let any = encode(&cluster).expect("encodes");
        assert_eq!(
            any.type_url,
            "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        );
        let decoded = Cluster::decode(any.value.as_slice()).expect("decodes");
        assert_eq!(decoded.name, "canary");
        let timeout = decoded.connect_timeout.expect("timeout");
        assert_eq!((timeout.seconds, timeout.nanos), (1, 500_000_000));
        let endpoint = &decoded.load_assignment.expect("endpoints").endpoints[0].lb_endpoints[0];
        assert!(format!("{endpoint:?}").contains("8080"));
    }

    #[test]
    fn nested_any_with_inline_type_is_encoded() {
        let listener = json!({
            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
            "name": "meshcd_http",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "meshcd",
                    "rds": {"route_config_name": "meshcd_http", "config_source": {"ads": {}, "resource_api_version": "V3"}},
                    "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                },
            }]}],
        });
        let any = encode(&listener).expect("encodes");
        let decoded = Listener::decode(any.value.as_slice()).expect("decodes");
        let hcm = decoded.filter_chains[0].filters[0]
            .config_type
            .as_ref()
            .expect("config");
        assert!(format!("{hcm:?}").contains("HttpConnectionManager"));
    }

    #[test]
    fn unknown_fields_types_and_bad_values_are_errors_not_panics() {
        let misspelt = json!({"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
            "name": "r", "virtual_hostz": []});
        assert!(matches!(
            encode(&misspelt),
            Err(EncodeError::Invalid { .. })
        ));
        let unknown = json!({"@type": "type.googleapis.com/envoy.config.Nope", "name": "x"});
        assert_eq!(
            encode(&unknown),
            Err(EncodeError::UnknownType("envoy.config.Nope".into()))
        );
        assert_eq!(encode(&json!({"name": "x"})), Err(EncodeError::NoType));
        let bad = json!({"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "name": "c", "connect_timeout": "soon"});
        assert!(matches!(encode(&bad), Err(EncodeError::Invalid { .. })));
        let ok = json!({"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
            "name": "r", "virtual_hosts": []});
        let decoded = RouteConfiguration::decode(encode(&ok).expect("ok").value.as_slice());
        assert_eq!(decoded.expect("decodes").name, "r");
    }
}
