//! Printing an error for people: its own message, then each cause once, on one line.
//!
//! The convention of this crate: an error's `Display` says what failed in its own layer (a file,
//! a target, a commit), and the cause is its [`std::error::Error::source`], never both. Whatever
//! prints an error for a user (the CLI's `error:` line, logs, the status API) prints the chain
//! with [`report`] (or anyhow's `{:#}`).

use std::error::Error;

/// An error and its causes on one line, each said once: `a not applied: envoy rejected …`.
///
/// A cause whose text the message so far already holds is not repeated (some libraries repeat
/// their source in their own message).
pub fn report(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        let part = error.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = error.source();
    }
    text
}

/// Whether an I/O error may pass: not when the file system refuses the operation itself
/// (permissions, a read-only file system, an invalid name or content, an unsupported
/// operation); a full disk, a timeout or an interrupted call may pass.
pub fn io_retryable(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    !matches!(
        error.kind(),
        ErrorKind::PermissionDenied
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::InvalidInput
            | ErrorKind::InvalidData
            | ErrorKind::InvalidFilename
            | ErrorKind::Unsupported
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read meshcd.yaml")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_cause_is_said_once() {
        let error = Outer(std::io::Error::from(std::io::ErrorKind::NotFound));
        let text = report(&error);
        assert_eq!(text, format!("cannot read meshcd.yaml: {}", error.0));
        assert_eq!(text.matches(&error.0.to_string()).count(), 1, "{text}");
    }

    #[test]
    fn io_errors_that_may_pass() {
        use std::io::{Error, ErrorKind};
        assert!(io_retryable(&Error::from(ErrorKind::StorageFull)));
        assert!(io_retryable(&Error::from(ErrorKind::TimedOut)));
        assert!(!io_retryable(&Error::from(ErrorKind::PermissionDenied)));
        assert!(!io_retryable(&Error::from(ErrorKind::ReadOnlyFilesystem)));
    }
}
