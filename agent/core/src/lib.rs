//! meshcd's pure core: the route model, built-in policy and plans.
//!
//! Nothing here does I/O or needs an async runtime: callers hand in file contents and get back
//! resources, findings and plans as values.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod envoy;
pub mod finding;
pub mod human;
pub mod ir;
pub mod load;
pub mod model;
pub mod path;
pub mod plan;
pub mod policy;
pub mod rollout;
pub mod schema;
pub mod source;
pub mod yaml;

pub use finding::{Finding, Severity};
pub use load::{load, Loaded};
pub use source::{Location, Pos, SourceFile};
