//! Google Cloud service routing (networkservices v1) over REST: authentication
//! ([`TokenSource`]), CRUD on routes, meshes and gateways ([`GcpClient`]) with retries, a shared
//! rate limit and long-running operation polling.
//!
//! URLs are `{endpoint}/v1/projects/{project}/locations/{location}/{collection}[/{name}]`;
//! create, patch and delete answer an `Operation` that [`GcpClient`] polls until done. Errors
//! carry the HTTP status, the API's `error.message` and the resource name ([`GcpError`]); tokens
//! and keys appear in no log, error or `Debug` output.

mod auth;
mod client;
mod collection;
mod error;
mod operation;
mod options;
mod retry;
mod service_account;
mod transport;

pub use auth::{
    AuthConfig, Secret, TokenSource, CREDENTIALS_FILE_VARIABLE, DEFAULT_METADATA_HOST,
    DEFAULT_TOKEN_VARIABLE, METADATA_HOST_VARIABLE,
};
pub use client::GcpClient;
pub use collection::Collection;
pub use error::GcpError;
pub use options::{GcpOptions, DEFAULT_ENDPOINT};
pub use service_account::CLOUD_PLATFORM_SCOPE;
pub use transport::ClientStats;
