//! [`GcpError`]: what can go wrong talking to Google Cloud, worded for an operator (what failed,
//! the HTTP status, the API's own message, the resource), and never carrying a token.

use std::time::Duration;

/// A failed Google Cloud call.
///
/// Messages name the resource and quote the API's `error.message`; no variant ever holds an
/// access token, a JWT assertion or key material.
#[derive(Debug, thiserror::Error)]
pub enum GcpError {
    /// No token could be obtained, or the API refused the one presented.
    #[error("Google Cloud authentication failed: {0}")]
    Auth(String),
    /// The API could not be reached (connection refused, reset, timed out), after retries.
    #[error("{method} {resource}: no answer from {url} after {attempts} attempt(s): {message}")]
    Http {
        /// The HTTP method.
        method: String,
        /// The resource (or collection) the request was about.
        resource: String,
        /// The URL called (it never holds a token).
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The transport error.
        message: String,
    },
    /// The API answered with an error status.
    #[error(
        "{method} {resource}: Google Cloud answered HTTP {status}{} after {attempts} attempt(s): \
         {message}",
        reason_suffix(.reason)
    )]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's `error.status` (`NOT_FOUND`, `INVALID_ARGUMENT`, ...), empty when absent.
        reason: String,
        /// The API's `error.message` (or the start of the body when it is not Google-shaped).
        message: String,
        /// The resource (or collection) the request was about.
        resource: String,
        /// The HTTP method.
        method: String,
        /// How many attempts were made (more than one when the status was retried).
        attempts: u32,
    },
    /// A long-running operation finished with an error.
    #[error(
        "operation {operation} on {resource} failed with code {code}{}: {message}",
        code_suffix(*.code)
    )]
    Operation {
        /// The `google.rpc.Code` of the operation's error.
        code: i64,
        /// The operation's `error.message`.
        message: String,
        /// The resource the operation changed.
        resource: String,
        /// The operation's name.
        operation: String,
    },
    /// A long-running operation was not done in time.
    #[error(
        "operation {operation} on {resource} was still running after {}s (the operation timeout); \
         it may still complete",
        waited.as_secs()
    )]
    Timeout {
        /// The operation's name.
        operation: String,
        /// The resource the operation changes.
        resource: String,
        /// How long meshcd waited.
        waited: Duration,
    },
    /// An answer could not be understood.
    #[error("{resource}: unexpected answer from Google Cloud: {message}")]
    Decode {
        /// The resource (or collection) the request was about.
        resource: String,
        /// What was wrong with the answer.
        message: String,
    },
    /// The client's options or credentials files are unusable.
    #[error("Google Cloud client configuration: {0}")]
    Config(String),
}

impl GcpError {
    /// Whether trying again later may succeed: network errors, 429 and 5xx answers, and
    /// operations that timed out are; other 4xx answers, operation errors, authentication and
    /// configuration errors are not.
    pub fn retryable(&self) -> bool {
        match self {
            GcpError::Http { .. } | GcpError::Timeout { .. } => true,
            GcpError::Api { status, .. } => *status == 429 || (500..=599).contains(status),
            GcpError::Auth(_)
            | GcpError::Operation { .. }
            | GcpError::Decode { .. }
            | GcpError::Config(_) => false,
        }
    }

    /// The HTTP status of an [`GcpError::Api`] error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GcpError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn reason_suffix(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

fn code_suffix(code: i64) -> String {
    match rpc_code_name(code) {
        Some(name) => format!(" ({name})"),
        None => String::new(),
    }
}

/// The name of a `google.rpc.Code`.
pub(crate) fn rpc_code_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> GcpError {
        GcpError::Api {
            status,
            reason: "UNAVAILABLE".into(),
            message: "The service is currently unavailable.".into(),
            resource: "projects/p/locations/global/httpRoutes/web".into(),
            method: "PATCH".into(),
            attempts: 5,
        }
    }

    #[test]
    fn api_error_names_status_reason_message_resource_and_attempts() {
        let text = api(503).to_string();
        assert_eq!(
            text,
            "PATCH projects/p/locations/global/httpRoutes/web: Google Cloud answered HTTP 503 \
             (UNAVAILABLE) after 5 attempt(s): The service is currently unavailable."
        );
    }

    #[test]
    fn operation_error_names_the_code() {
        let error = GcpError::Operation {
            code: 3,
            message: "hostname conflict".into(),
            resource: "projects/p/locations/global/httpRoutes/web".into(),
            operation: "projects/p/locations/global/operations/operation-1".into(),
        };
        assert_eq!(
            error.to_string(),
            "operation projects/p/locations/global/operations/operation-1 on \
             projects/p/locations/global/httpRoutes/web failed with code 3 (INVALID_ARGUMENT): \
             hostname conflict"
        );
        assert!(!error.retryable());
    }

    #[test]
    fn retryable_follows_the_status() {
        assert!(api(429).retryable());
        assert!(api(500).retryable());
        assert!(api(503).retryable());
        assert!(!api(400).retryable());
        assert!(!api(404).retryable());
        assert!(!api(409).retryable());
        assert!(GcpError::Timeout {
            operation: "o".into(),
            resource: "r".into(),
            waited: Duration::from_secs(600),
        }
        .retryable());
        assert!(!GcpError::Auth("x".into()).retryable());
        assert!(!GcpError::Config("x".into()).retryable());
    }
}
