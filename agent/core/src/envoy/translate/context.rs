//! What a translator carries while it walks one route resource: errors, backends used, flags.
//!
//! The accessors read the resource's JSON body (all fields as written, including those the typed
//! model does not know), report a wrong type as an error, and [`Ctx::object`] reports every key
//! a translator does not handle, so nothing is dropped silently.

use serde_json::{Map, Value as Json};

use super::value;
use crate::envoy::TranslateError;
use crate::ir::BackendIr;
use crate::model::{Family, Resource};
use crate::path::{FieldPath, Segment};

/// A backend a route sends (or mirrors) traffic to.
#[derive(Debug, Clone)]
pub(crate) struct BackendUse<'a> {
    /// The route resource.
    pub resource: &'a Resource,
    /// The route's family.
    pub family: Family,
    /// The backend.
    pub backend: BackendIr,
    /// True when the route is gRPC (the cluster then speaks HTTP/2).
    pub grpc: bool,
    /// Other names the backend is known by: networkservices' full `serviceName`, Istio's host as
    /// written.
    pub aliases: Vec<String>,
    /// The port the route names (Istio `destination.port.number`), if any.
    pub port: Option<u16>,
    /// True when a TCP, TLS or UDP route uses the backend (a Backend of `protocol: tcp` then
    /// serves it).
    pub layer4: bool,
}

/// The state of translating one resource.
pub(crate) struct Ctx<'a, 'e> {
    /// The resource.
    pub resource: &'a Resource,
    /// Errors so far (of every resource).
    pub errors: &'e mut Vec<TranslateError>,
    /// Backends used so far (of every resource).
    pub uses: &'e mut Vec<BackendUse<'a>>,
    /// Set when a route of the resource injects faults.
    pub fault: bool,
    /// Set when a route of the resource has a CORS policy.
    pub cors: bool,
    /// Set when a route of the resource has session affinity.
    pub session: bool,
    /// True while translating a TCP, TLS or UDP route.
    pub layer4: bool,
}

/// The optional HTTP filters the routes need in the HTTP connection manager.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HttpFilters {
    /// `envoy.filters.http.fault`: some route injects faults.
    pub fault: bool,
    /// `envoy.filters.http.cors`: some route has a CORS policy.
    pub cors: bool,
    /// `envoy.filters.http.stateful_session`: some route has session affinity.
    pub session: bool,
}

impl HttpFilters {
    /// Adds the filters `other` needs.
    pub fn add(&mut self, other: HttpFilters) {
        self.fault |= other.fault;
        self.cors |= other.cors;
        self.session |= other.session;
    }
}

impl<'a, 'e> Ctx<'a, 'e> {
    /// A context for one resource.
    pub fn new(
        resource: &'a Resource,
        errors: &'e mut Vec<TranslateError>,
        uses: &'e mut Vec<BackendUse<'a>>,
    ) -> Self {
        Ctx {
            resource,
            errors,
            uses,
            fault: false,
            cors: false,
            session: false,
            layer4: false,
        }
    }

    /// The HTTP filters the resource's routes need.
    pub fn filters(&self) -> HttpFilters {
        HttpFilters {
            fault: self.fault,
            cors: self.cors,
            session: self.session,
        }
    }

    /// Records an error about a field.
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.errors
            .push(TranslateError::new(self.resource, path, message));
    }

    /// Records that a field is not supported by the Envoy target.
    pub fn unsupported(&mut self, path: &FieldPath) {
        let name = match path.segments().last() {
            Some(Segment::Key(key)) => format!("`{key}`"),
            _ => "this field".to_string(),
        };
        self.error(
            path,
            format!(
                "{name} is not translated by the envoy target; remove it or use another target"
            ),
        );
    }

    /// Records that a backend is used.
    pub fn use_backend(
        &mut self,
        backend: BackendIr,
        grpc: bool,
        aliases: Vec<String>,
        port: Option<u16>,
    ) {
        self.uses.push(BackendUse {
            resource: self.resource,
            family: self.resource.id.kind.family(),
            backend,
            grpc,
            aliases,
            port,
            layer4: self.layer4,
        });
    }

    /// The resource's `spec` as an object with the fields `known` (see [`Ctx::object`]); a
    /// resource without one is an error.
    pub fn spec(&mut self, known: &[&str]) -> Option<&'a Map<String, Json>> {
        let resource = self.resource;
        let path = resource.spec_path();
        let Some(spec) = resource.body.get("spec") else {
            self.error(&path, "the route has no `spec`");
            return None;
        };
        self.object(spec, &path, known)
    }

    /// The value as an object, reporting every key outside `known` as not translated. A value
    /// that is not an object is an error (`None`); `null` is treated as empty.
    pub fn object<'j>(
        &mut self,
        value: &'j Json,
        path: &FieldPath,
        known: &[&str],
    ) -> Option<&'j Map<String, Json>> {
        match value {
            Json::Object(map) => {
                for key in map.keys() {
                    if !known.contains(&key.as_str()) {
                        self.unsupported(&path.key(key));
                    }
                }
                Some(map)
            }
            Json::Null => None,
            _ => {
                self.error(path, "expected a mapping");
                None
            }
        }
    }

    /// A string field (`None` when absent or of another type, which is an error).
    pub fn str<'j>(
        &mut self,
        map: &'j Map<String, Json>,
        key: &str,
        path: &FieldPath,
    ) -> Option<&'j str> {
        match map.get(key)? {
            Json::String(s) => Some(s),
            Json::Null => None,
            _ => {
                self.error(&path.key(key), "expected a string");
                None
            }
        }
    }

    /// An integer field.
    pub fn int(&mut self, map: &Map<String, Json>, key: &str, path: &FieldPath) -> Option<i64> {
        match map.get(key)? {
            Json::Number(n) if n.as_i64().is_some() => n.as_i64(),
            Json::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            Json::Null => None,
            _ => {
                self.error(&path.key(key), "expected an integer");
                None
            }
        }
    }

    /// An integer field within `range`.
    pub fn int_in(
        &mut self,
        map: &Map<String, Json>,
        key: &str,
        path: &FieldPath,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let n = self.int(map, key, path)?;
        if range.contains(&n) {
            Some(n)
        } else {
            self.error(
                &path.key(key),
                format!("{n} is outside {}..={}", range.start(), range.end()),
            );
            None
        }
    }

    /// A number field (integer or not).
    pub fn number(&mut self, map: &Map<String, Json>, key: &str, path: &FieldPath) -> Option<f64> {
        match map.get(key)? {
            Json::Number(n) => n.as_f64(),
            Json::Null => None,
            _ => {
                self.error(&path.key(key), "expected a number");
                None
            }
        }
    }

    /// A boolean field.
    pub fn bool(&mut self, map: &Map<String, Json>, key: &str, path: &FieldPath) -> Option<bool> {
        match map.get(key)? {
            Json::Bool(b) => Some(*b),
            Json::Null => None,
            _ => {
                self.error(&path.key(key), "expected true or false");
                None
            }
        }
    }

    /// A sequence field (empty when absent).
    pub fn array<'j>(
        &mut self,
        map: &'j Map<String, Json>,
        key: &str,
        path: &FieldPath,
    ) -> &'j [Json] {
        match map.get(key) {
            Some(Json::Array(items)) => items,
            None | Some(Json::Null) => &[],
            Some(_) => {
                self.error(&path.key(key), "expected a sequence");
                &[]
            }
        }
    }

    /// A duration field in Envoy's form (`30s`, `0.250s`).
    pub fn duration(
        &mut self,
        map: &Map<String, Json>,
        key: &str,
        path: &FieldPath,
    ) -> Option<String> {
        let text = self.str(map, key, path)?;
        let converted = value::duration(text);
        if converted.is_none() {
            self.error(
                &path.key(key),
                format!("`{text}` is not a duration such as `30s` or `250ms`"),
            );
        }
        converted
    }

    /// A percentage field (`0..=100`) as a `FractionalPercent`.
    pub fn percent(
        &mut self,
        map: &Map<String, Json>,
        key: &str,
        path: &FieldPath,
    ) -> Option<Json> {
        let n = self.number(map, key, path)?;
        let converted = value::fractional_percent(n);
        if converted.is_none() {
            self.error(
                &path.key(key),
                format!("{n} is not a percentage in 0..=100"),
            );
        }
        converted
    }
}
