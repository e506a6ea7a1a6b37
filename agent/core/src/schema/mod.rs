//! Structural schemas: what an API server checks before it accepts an object, checked here
//! first, at the offending field's `file:line:col`.
//!
//! A [`model::Schema`] tree comes from meshcd's own model of an API ([`builtin`]: the Gateway
//! API route kinds and ReferenceGrant) or from a CustomResourceDefinition the user supplies
//! ([`crd`], `meshcd validate --crd DIR`). [`validate`] checks a document against either, in the
//! API server's order: nulls dropped, defaults applied, OpenAPI bounds, then the validation
//! rules (CEL for CRDs, Rust for the built-in model).

pub mod builtin;
pub mod cel;
pub mod crd;
pub mod findings;
pub mod model;
pub mod validate;

pub use crd::{CrdKind, CrdSet};
pub use model::Schema;
pub use validate::{Problem, Violation};

/// Where a schema comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// meshcd's own model of a standard API.
    Builtin,
    /// A CRD the user supplied.
    Crd,
}

/// The answer of [`Schemas::lookup`].
#[derive(Debug)]
pub enum Lookup<'a> {
    /// The schema of the object's version.
    Found(&'a Schema, Origin),
    /// The kind is known but its version is not served.
    NotServed {
        /// The versions that are served.
        served: Vec<String>,
        /// Where the kind's definition comes from.
        origin: Origin,
    },
    /// No schema is known for the kind.
    Unknown,
}

/// The schemas documents are checked against: the built-in ones, and the user's CRDs, which
/// take precedence for the kinds they define.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    crds: CrdSet,
}

impl Schemas {
    /// The built-in schemas only.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// The built-in schemas, and these CRDs before them.
    pub fn with_crds(crds: CrdSet) -> Self {
        Self { crds }
    }

    /// The user's CRDs.
    pub fn crds(&self) -> &CrdSet {
        &self.crds
    }

    /// The schema for an object's `apiVersion` and `kind`.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Lookup<'_> {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        if let Some(crd) = self.crds.get(group, kind) {
            return match crd.served(version) {
                Some(schema) => Lookup::Found(schema, Origin::Crd),
                None => Lookup::NotServed {
                    served: crd
                        .served_versions()
                        .iter()
                        .map(|v| v.to_string())
                        .collect(),
                    origin: Origin::Crd,
                },
            };
        }
        builtin::lookup(group, version, kind)
    }
}
