//! [`Collection`]: the networkservices v1 resource kinds meshcd manages, with their REST names.

use std::fmt;

/// A networkservices v1 collection under `projects/*/locations/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    /// `HttpRoute`s.
    HttpRoutes,
    /// `GrpcRoute`s.
    GrpcRoutes,
    /// `TcpRoute`s.
    TcpRoutes,
    /// `TlsRoute`s.
    TlsRoutes,
    /// `Mesh`es.
    Meshes,
    /// `Gateway`s.
    Gateways,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 6] = [
        Collection::HttpRoutes,
        Collection::GrpcRoutes,
        Collection::TcpRoutes,
        Collection::TlsRoutes,
        Collection::Meshes,
        Collection::Gateways,
    ];

    /// The collection's path segment: `httpRoutes`, `grpcRoutes`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::HttpRoutes => "httpRoutes",
            Collection::GrpcRoutes => "grpcRoutes",
            Collection::TcpRoutes => "tcpRoutes",
            Collection::TlsRoutes => "tlsRoutes",
            Collection::Meshes => "meshes",
            Collection::Gateways => "gateways",
        }
    }

    /// The query parameter naming a new resource on create: `httpRouteId`, ...
    pub fn id_param(self) -> &'static str {
        match self {
            Collection::HttpRoutes => "httpRouteId",
            Collection::GrpcRoutes => "grpcRouteId",
            Collection::TcpRoutes => "tcpRouteId",
            Collection::TlsRoutes => "tlsRouteId",
            Collection::Meshes => "meshId",
            Collection::Gateways => "gatewayId",
        }
    }

    /// The array field of a list answer (the same as [`Collection::as_str`]).
    pub fn list_field(self) -> &'static str {
        self.as_str()
    }

    /// The collection whose path segment is `segment`.
    pub fn from_segment(segment: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.as_str() == segment)
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_rest_api() {
        let names: Vec<_> = Collection::ALL
            .iter()
            .map(|c| (c.as_str(), c.id_param(), c.list_field()))
            .collect();
        assert_eq!(
            names,
            [
                ("httpRoutes", "httpRouteId", "httpRoutes"),
                ("grpcRoutes", "grpcRouteId", "grpcRoutes"),
                ("tcpRoutes", "tcpRouteId", "tcpRoutes"),
                ("tlsRoutes", "tlsRouteId", "tlsRoutes"),
                ("meshes", "meshId", "meshes"),
                ("gateways", "gatewayId", "gateways"),
            ]
        );
        for c in Collection::ALL {
            assert_eq!(Collection::from_segment(c.as_str()), Some(c));
        }
        assert_eq!(Collection::from_segment("routes"), None);
    }
}
