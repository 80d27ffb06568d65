//! The one place where `elb_core::Error` becomes a Python exception.
//!
//! The exception classes are defined in `elb_py._errors` as plain Python, so they can inherit
//! from builtins such as `FileNotFoundError`. This module picks the class for each
//! [`ErrorKind`] and fills its attributes.

use elb_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyModule};

/// Returns the name of the `elb_py` exception class for `kind`.
pub(crate) fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::Conflict => "ConflictError",
        ErrorKind::PreconditionFailed => "PreconditionFailedError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        ErrorKind::Authentication => "AuthenticationError",
        ErrorKind::Throttled => "ThrottledError",
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::TimedOut => "TimedOutError",
        ErrorKind::Integrity => "IntegrityError",
        ErrorKind::Unavailable => "UnavailableError",
        ErrorKind::Transport => "TransportError",
        ErrorKind::Service => "ServiceError",
        // A kind added to elb-core later still reaches Python as the base class.
        _ => "ElbError",
    }
}

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("elb_py._errors").map(Bound::unbind))
        .map(|module| module.bind(py))
}

/// Converts `error` to an instance of the matching `elb_py` exception class.
///
/// The message is the Rust `Display` text. The chain of causes is attached as notes
/// (`__notes__`, shown by Python 3.11 and later) with SAS signatures and tokens redacted.
pub(crate) fn to_pyerr(py: Python<'_>, error: &Error) -> PyErr {
    match build(py, error) {
        Ok(exception) => PyErr::from_value(exception),
        Err(failure) => failure,
    }
}

fn build<'py>(py: Python<'py>, error: &Error) -> PyResult<Bound<'py, PyAny>> {
    let class = errors_module(py)?.getattr(class_name(error.kind()))?;
    let exception = class.call1((redact_secrets(&error.to_string()),))?;

    exception.setattr("kind", error.kind().as_str())?;
    exception.setattr("status", error.status())?;
    exception.setattr("code", error.code())?;
    exception.setattr("target", error.target().map(redact_secrets))?;
    exception.setattr(
        "retry_after",
        error.retry_after().map(|delay| delay.as_secs_f64()),
    )?;

    let causes = cause_chain(error);
    if !causes.is_empty() {
        let notes: Vec<String> = causes
            .iter()
            .map(|cause| format!("caused by: {cause}"))
            .collect();
        exception.setattr("__notes__", PyList::new(py, notes)?)?;
    }
    Ok(exception)
}

/// Returns the redacted text of each cause of `error`, outermost first.
fn cause_chain(error: &Error) -> Vec<String> {
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        causes.push(redact_secrets(&cause.to_string()));
        next = cause.source();
    }
    causes
}

/// Query parameters and prefixes whose value is a secret.
const SECRET_MARKERS: [&str; 5] = [
    "sig=",
    "client_secret=",
    "client_assertion=",
    "Bearer ",
    "SharedKey ",
];

/// Replaces the value after each secret marker with `REDACTED`.
///
/// The messages of elb-core hold no secrets, but the causes come from other crates
/// (HTTP clients, the Azure SDK), which may print a request URL with its SAS query.
pub(crate) fn redact_secrets(text: &str) -> String {
    let mut redacted = text.to_owned();
    for marker in SECRET_MARKERS {
        let mut search_from = 0;
        while let Some(found) = redacted[search_from..].find(marker) {
            let value_start = search_from + found + marker.len();
            let value_end = redacted[value_start..]
                .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
                .map_or(redacted.len(), |end| value_start + end);
            redacted.replace_range(value_start..value_end, "REDACTED");
            search_from = value_start + "REDACTED".len();
        }
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_sas_signature() {
        let text = "GET https://a.blob.core.windows.net/c/b?sv=2024&sig=abc%2Fdef&se=x failed";
        assert_eq!(
            redact_secrets(text),
            "GET https://a.blob.core.windows.net/c/b?sv=2024&sig=REDACTED&se=x failed"
        );
    }

    #[test]
    fn redact_hides_every_occurrence() {
        let text = "client_secret=s1 then Bearer eyJ.a.b and sig=zz";
        assert_eq!(
            redact_secrets(text),
            "client_secret=REDACTED then Bearer REDACTED and sig=REDACTED"
        );
    }

    #[test]
    fn redact_keeps_text_without_secrets() {
        let text = "blob results/a.out.gz not found (HTTP 404, BlobNotFound)";
        assert_eq!(redact_secrets(text), text);
    }

    #[test]
    fn class_name_covers_each_kind() {
        assert_eq!(class_name(ErrorKind::NotFound), "NotFoundError");
        assert_eq!(class_name(ErrorKind::InvalidInput), "InvalidInputError");
        assert_eq!(class_name(ErrorKind::Service), "ServiceError");
    }
}
