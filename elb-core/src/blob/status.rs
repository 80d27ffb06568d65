//! Mapping of service error responses and transport failures to typed errors.

use http::HeaderMap;

use super::request::BlobRequest;
use super::retry::requested_delay;
use crate::{Error, ErrorKind};

/// The message of a service error body (`<Error><Code>..</Code><Message>..</Message>`),
/// kept as the cause of an [`Error`].
#[derive(Debug)]
struct ServiceMessage(String);

impl std::fmt::Display for ServiceMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServiceMessage {}

/// Returns the `x-ms-error-code` header.
pub(crate) fn service_error_code(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-ms-error-code")
        .and_then(|value| value.to_str().ok())
}

/// Returns the text between `<tag>` and `</tag>` in an XML error body.
fn xml_element<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + body[start..].find(&format!("</{tag}>"))?;
    Some(body[start..end].trim())
}

/// Returns the error kind of a non-success status and service error code.
pub(crate) fn kind_of(status: u16, code: Option<&str>) -> ErrorKind {
    match (status, code) {
        (_, Some("ContainerAlreadyExists" | "BlobAlreadyExists")) => ErrorKind::AlreadyExists,
        (
            _,
            Some(
                "InvalidAuthenticationInfo"
                | "AuthenticationFailed"
                | "NoAuthenticationInformation",
            ),
        ) => ErrorKind::Authentication,
        (401, _) => ErrorKind::Authentication,
        (403, _) => ErrorKind::PermissionDenied,
        (404, _) => ErrorKind::NotFound,
        (409, _) => ErrorKind::Conflict,
        (412, _) => ErrorKind::PreconditionFailed,
        (408 | 504, _) => ErrorKind::TimedOut,
        (429 | 503, _) => ErrorKind::Throttled,
        (400, Some("Md5Mismatch" | "Crc64Mismatch")) => ErrorKind::Integrity,
        (400 | 416, _) => ErrorKind::InvalidInput,
        _ => ErrorKind::Service,
    }
}

/// Builds the error of a non-success response.
pub(crate) fn error_from_response(
    request: &BlobRequest,
    target: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let body = String::from_utf8_lossy(body);
    let code = service_error_code(headers)
        .map(str::to_owned)
        .or_else(|| xml_element(&body, "Code").map(str::to_owned));
    let mut kind = kind_of(status, code.as_deref());
    // Azurite 3.35 reports a request body that does not match its Content-MD5 as
    // InvalidOperation, where the Blob service uses Md5Mismatch.
    if status == 400
        && code.as_deref() == Some("InvalidOperation")
        && body.contains("contentMD5 doesn't match")
    {
        kind = ErrorKind::Integrity;
    }
    let resource = match (&request.container, &request.name) {
        (Some(container), Some(name)) => format!("blob {container}/{name}"),
        (Some(container), None) => format!("container {container}"),
        _ => "account".to_owned(),
    };
    let message = match kind {
        // A missing container fails every blob request in it, so the error names the
        // container rather than the blob. Creating it is no fix for a delete.
        ErrorKind::NotFound if code.as_deref() == Some("ContainerNotFound") => {
            match &request.container {
                Some(container) if request.operation.starts_with("delete") => {
                    format!("container {container} not found")
                }
                Some(container) => container_not_found(container),
                None => format!("{resource} not found"),
            }
        }
        ErrorKind::NotFound => format!("{resource} not found"),
        ErrorKind::AlreadyExists => format!("{resource} already exists"),
        ErrorKind::PreconditionFailed => {
            format!(
                "{} on {resource} failed because a condition did not hold",
                request.operation
            )
        }
        ErrorKind::Authentication => format!(
            "{} on {resource} was rejected: the credential, SAS or account key is not valid \
             for this account",
            request.operation
        ),
        // Azurite 3.35 rejects a wrong Shared Key signature with 403 AuthorizationFailure,
        // where the Blob service returns AuthenticationFailed, so a 403 may also mean a
        // wrong key or SAS.
        ErrorKind::PermissionDenied => format!(
            "{} on {resource} is not permitted: check that the account key or SAS is \
             correct for this account, then grant the identity a data role such as \
             Storage Blob Data Contributor, or use a SAS with this permission",
            request.operation
        ),
        ErrorKind::Integrity => format!(
            "{} on {resource} failed because the service computed a different checksum of \
             the request body, so the body changed on the way",
            request.operation
        ),
        _ => format!("{} on {resource} failed", request.operation),
    };
    let mut error = Error::new(kind, message)
        .with_target(target)
        .with_status(status);
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(delay) = requested_delay(headers) {
        error = error.with_retry_after(delay);
    }
    if let Some(service_message) = xml_element(&body, "Message") {
        // The first line names the problem; later lines repeat request and time ids.
        let first_line = service_message.lines().next().unwrap_or("").to_owned();
        error = error.with_source(ServiceMessage(first_line));
    }
    error
}

/// Returns the message for a request whose container does not exist.
fn container_not_found(container: &str) -> String {
    format!(
        "container {container} not found: create it first, for example with \
         BlobStore::create_container_if_missing (create_container in Python) or \
         `az storage container create --name {container}`, or correct the container name"
    )
}

/// Builds the error of a request that got no complete response.
pub(crate) fn error_from_transport(
    request: &BlobRequest,
    target: &str,
    error: reqwest::Error,
) -> Error {
    let (kind, what) = if error.is_timeout() {
        (ErrorKind::TimedOut, "timed out")
    } else if error.is_connect() {
        (ErrorKind::Transport, "could not connect")
    } else if error.is_body() || error.is_decode() {
        (
            ErrorKind::Transport,
            "broke off while transferring the body",
        )
    } else if error.is_builder() {
        (ErrorKind::InvalidInput, "could not be built")
    } else {
        (ErrorKind::Transport, "failed")
    };
    // The URL may carry a SAS, so the cause is kept without it.
    Error::new(kind, format!("{} on {target} {what}", request.operation))
        .with_target(target)
        .with_source(error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Method};

    fn request() -> BlobRequest {
        BlobRequest::new("get blob", Method::GET).blob("queries", "a.fa")
    }

    #[test]
    fn kinds_of_statuses_and_codes() {
        let cases = [
            (404, Some("BlobNotFound"), ErrorKind::NotFound),
            (
                409,
                Some("ContainerAlreadyExists"),
                ErrorKind::AlreadyExists,
            ),
            (409, Some("BlobAlreadyExists"), ErrorKind::AlreadyExists),
            (409, Some("LeaseIdMissing"), ErrorKind::Conflict),
            (412, Some("ConditionNotMet"), ErrorKind::PreconditionFailed),
            (400, Some("Md5Mismatch"), ErrorKind::Integrity),
            (400, Some("Crc64Mismatch"), ErrorKind::Integrity),
            (400, Some("InvalidOperation"), ErrorKind::InvalidInput),
            (
                403,
                Some("AuthorizationPermissionMismatch"),
                ErrorKind::PermissionDenied,
            ),
            (403, Some("AuthenticationFailed"), ErrorKind::Authentication),
            (
                401,
                Some("InvalidAuthenticationInfo"),
                ErrorKind::Authentication,
            ),
            (401, None, ErrorKind::Authentication),
            (503, Some("ServerBusy"), ErrorKind::Throttled),
            (429, None, ErrorKind::Throttled),
            (400, Some("InvalidBlobOrBlock"), ErrorKind::InvalidInput),
            (500, Some("InternalError"), ErrorKind::Service),
        ];
        for (status, code, kind) in cases {
            assert_eq!(kind_of(status, code), kind, "{status} {code:?}");
        }
    }

    #[test]
    fn error_carries_status_code_and_service_message() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-error-code", HeaderValue::from_static("BlobNotFound"));
        let body = b"<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code>\
            <Message>The specified blob does not exist.\nRequestId:1</Message></Error>";
        let error = error_from_response(&request(), "http://h/a/queries/a.fa", 404, &headers, body);
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(error.status(), Some(404));
        assert_eq!(error.code(), Some("BlobNotFound"));
        assert_eq!(error.message(), "blob queries/a.fa not found");
        let source = std::error::Error::source(&error).unwrap();
        assert_eq!(source.to_string(), "The specified blob does not exist.");
    }

    #[test]
    fn missing_container_names_container_and_fix() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-error-code",
            HeaderValue::from_static("ContainerNotFound"),
        );
        let request =
            BlobRequest::new("put blob", Method::PUT).blob("blast-db", "testdb/testdb.pin");
        let error = error_from_response(&request, "t", 404, &headers, b"");
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(error.code(), Some("ContainerNotFound"));
        assert!(
            error
                .message()
                .starts_with("container blast-db not found: create it first"),
            "{}",
            error.message()
        );
        assert!(
            !error.message().contains("testdb.pin"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn permission_denied_names_key_and_role() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-error-code",
            HeaderValue::from_static("AuthorizationFailure"),
        );
        let error = error_from_response(&request(), "t", 403, &headers, b"");
        assert_eq!(error.kind(), ErrorKind::PermissionDenied);
        assert!(
            error.message().contains("account key or SAS"),
            "{}",
            error.message()
        );
        assert!(
            error.message().contains("Storage Blob Data Contributor"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn code_falls_back_to_body() {
        let body = b"<Error><Code>ServerBusy</Code><Message>busy</Message></Error>";
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("1"));
        let error = error_from_response(&request(), "t", 503, &headers, body);
        assert_eq!(error.code(), Some("ServerBusy"));
        assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(1)));
    }
}
