//! meshcd's own schemas of standard APIs, written in Rust: no upstream file is needed.
//!
//! The Gateway API route kinds (HTTPRoute, GRPCRoute, TCPRoute, TLSRoute, UDPRoute) and
//! ReferenceGrant, in the versions the v1.6 standard channel serves, with every bound and
//! validation rule of the standard CRDs. The trees are built once, on first use.

mod common;
mod duration;
mod filters;
mod grpc;
mod http;
mod l4;
mod reference_grant;
mod tri;

use std::sync::OnceLock;

use super::model::Schema;
use super::{Lookup, Origin};

/// The Gateway API group.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// One built-in kind: its served versions share one schema.
struct Kind {
    name: &'static str,
    versions: &'static [&'static str],
    schema: Schema,
}

fn kinds() -> &'static [Kind] {
    static KINDS: OnceLock<Vec<Kind>> = OnceLock::new();
    KINDS.get_or_init(|| {
        let kind = |name, versions, schema| Kind {
            name,
            versions,
            schema,
        };
        vec![
            kind("HTTPRoute", &["v1", "v1beta1"], http::schema()),
            kind("GRPCRoute", &["v1"], grpc::schema()),
            kind("TCPRoute", &["v1"], l4::plain()),
            kind("TLSRoute", &["v1"], l4::tls()),
            kind("UDPRoute", &["v1"], l4::plain()),
            kind(
                "ReferenceGrant",
                &["v1", "v1beta1"],
                reference_grant::schema(),
            ),
        ]
    })
}

/// The built-in schema for a group, version and kind.
pub fn lookup(group: &str, version: &str, kind: &str) -> Lookup<'static> {
    if group != GATEWAY_GROUP {
        return Lookup::Unknown;
    }
    let Some(found) = kinds().iter().find(|k| k.name == kind) else {
        return Lookup::Unknown;
    };
    if found.versions.contains(&version) {
        Lookup::Found(&found.schema, Origin::Builtin)
    } else {
        Lookup::NotServed {
            served: found.versions.iter().map(|v| v.to_string()).collect(),
            origin: Origin::Builtin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_the_standard_versions() {
        assert!(matches!(
            lookup(GATEWAY_GROUP, "v1beta1", "HTTPRoute"),
            Lookup::Found(_, Origin::Builtin)
        ));
        assert!(matches!(
            lookup(GATEWAY_GROUP, "v1alpha2", "TLSRoute"),
            Lookup::NotServed { ref served, origin: Origin::Builtin } if served == &["v1"]
        ));
        assert!(matches!(
            lookup(GATEWAY_GROUP, "v1", "Gateway"),
            Lookup::Unknown
        ));
        assert!(matches!(
            lookup("example.com", "v1", "HTTPRoute"),
            Lookup::Unknown
        ));
    }
}
