//! The one error type of elb-core.

use std::fmt;
use std::time::Duration;

/// A boxed error used as the cause of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of elb-core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The category of an [`Error`], chosen by what the caller does next.
///
/// Kinds are sorted by the caller's next step, not by the service that failed, so code that
/// handles "the object is gone" is the same for a blob and for a ConfigMap.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object (blob, container, record, Kubernetes object, file) does not exist.
    NotFound,
    /// The object already exists and the operation must not replace it.
    AlreadyExists,
    /// A concurrent writer changed the object first (a stale `resourceVersion` or lease).
    Conflict,
    /// A condition of the request (ETag, `If-None-Match`) did not hold.
    PreconditionFailed,
    /// The identity is known but lacks the permission for the operation.
    PermissionDenied,
    /// No valid identity: a token could not be obtained or was rejected.
    Authentication,
    /// The service asked the client to slow down and retries ran out.
    Throttled,
    /// An argument or configuration value is invalid; the message names it and the fix.
    InvalidInput,
    /// An operation, a request or a wait ran past its deadline.
    TimedOut,
    /// Data failed an integrity check (checksum mismatch, content changed mid-transfer).
    Integrity,
    /// A credential or endpoint is not configured or not reachable in this environment.
    Unavailable,
    /// The connection failed or broke (reset, TLS failure, truncated body).
    Transport,
    /// The service returned an error that fits no other kind, after retries.
    Service,
}

impl ErrorKind {
    /// Returns a short lowercase name of the kind, as used in logs and in the Python bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::AlreadyExists => "already exists",
            Self::Conflict => "conflict",
            Self::PreconditionFailed => "precondition failed",
            Self::PermissionDenied => "permission denied",
            Self::Authentication => "authentication failed",
            Self::Throttled => "throttled",
            Self::InvalidInput => "invalid input",
            Self::TimedOut => "timed out",
            Self::Integrity => "integrity check failed",
            Self::Unavailable => "unavailable",
            Self::Transport => "transport error",
            Self::Service => "service error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from elb-core, with the context a caller needs to act on it.
///
/// The message is a lowercase fragment that names the failing thing and, for configuration
/// faults, the fix. The cause is available through [`std::error::Error::source`] and is not
/// repeated in the message. No field contains a secret: URLs are stored without their SAS
/// query and tokens are never included.
pub struct Error {
    kind: ErrorKind,
    message: String,
    target: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
}

impl Error {
    /// Creates an error of `kind` with a message that names what failed.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            target: None,
            status: None,
            code: None,
            retry_after: None,
            source: None,
        }
    }

    /// Creates an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Sets the object the operation acted on: a URL without its query, a blob name, or a
    /// Kubernetes object as `Kind namespace/name`.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the HTTP status the service returned.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the service's error code (`BlobNotFound`, `AADSTS700024`, `AlreadyExists`).
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the delay the service asked for before a retry.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Sets the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Replaces the kind and message, keeping the target, status, code, requested delay
    /// and cause.
    pub(crate) fn reclassify(mut self, kind: ErrorKind, message: impl Into<String>) -> Self {
        self.kind = kind;
        self.message = message.into();
        self
    }

    /// Returns what the caller does next about this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Returns the message, without the status, code or cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns the object the operation acted on, if known.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// Returns the HTTP status the service returned, if any.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Returns the service's error code, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Returns the delay the service asked for before a retry, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.status, self.code.as_deref()) {
            (Some(status), Some(code)) => write!(f, " (HTTP {status}, {code})"),
            (Some(status), None) => write!(f, " (HTTP {status})"),
            (None, Some(code)) => write!(f, " ({code})"),
            (None, None) => Ok(()),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("kind", &self.kind)
            .field("message", &self.message);
        if let Some(target) = &self.target {
            debug.field("target", target);
        }
        if let Some(status) = self.status {
            debug.field("status", &status);
        }
        if let Some(code) = &self.code {
            debug.field("code", code);
        }
        if let Some(source) = &self.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_appends_status_and_code() {
        let error = Error::new(ErrorKind::NotFound, "blob results/a.out.gz not found")
            .with_status(404)
            .with_code("BlobNotFound");
        assert_eq!(
            error.to_string(),
            "blob results/a.out.gz not found (HTTP 404, BlobNotFound)"
        );
    }

    #[test]
    fn source_is_kept_out_of_message() {
        let cause = std::io::Error::other("connection reset");
        let error = Error::new(ErrorKind::Transport, "request failed").with_source(cause);
        assert_eq!(error.to_string(), "request failed");
        let source = std::error::Error::source(&error).expect("source is set");
        assert_eq!(source.to_string(), "connection reset");
    }
}
