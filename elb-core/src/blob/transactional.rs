//! Sending request bodies with their transactional checksum, and the switch of
//! [`TransactionalChecksum::Auto`] from CRC-64 to MD5 when the service rejects CRC-64.

use std::sync::atomic::Ordering;

use http::HeaderValue;

use super::checksum::{CRC64_HEADER, MD5_HEADER, TransactionalChecksum, encode_md5, md5_digest};
use super::client::BlobStore;
use super::request::{BlobRequest, BlobResponse};
use super::upload::join_error;
use crate::{Error, ErrorKind, Result};

/// The error code of Azurite 3.35 in strict mode for a header it does not implement.
const FEATURE_NOT_SUPPORTED: &str = "FeatureNotSupported";

impl BlobStore {
    /// Returns the checksum that requests with `requested` send now: `Auto` becomes `Crc64`,
    /// or `Md5` once the service has rejected `x-ms-content-crc64` for this store or one of
    /// its clones. Every other value is returned unchanged.
    pub fn resolve_checksum(&self, requested: TransactionalChecksum) -> TransactionalChecksum {
        match requested {
            TransactionalChecksum::Auto if self.inner.crc64_rejected.load(Ordering::Relaxed) => {
                TransactionalChecksum::Md5
            }
            TransactionalChecksum::Auto => TransactionalChecksum::Crc64,
            other => other,
        }
    }

    /// Sends a request whose checksum header for `requested` is already set, and handles a
    /// rejected `x-ms-content-crc64`.
    ///
    /// With `Auto`, the request is sent again with `Content-MD5` and the store switches
    /// `Auto` to MD5. `body_md5` is the body's MD5 when the caller has it, which saves
    /// hashing the body again. With `Crc64`, the returned error names MD5 as the fix.
    pub(crate) async fn send_with_checksum(
        &self,
        request: &mut BlobRequest,
        requested: TransactionalChecksum,
        body_md5: Option<[u8; 16]>,
    ) -> Result<BlobResponse> {
        let error = match self.send(request).await {
            Err(error) if request.headers.contains_key(CRC64_HEADER) && rejects_crc64(&error) => {
                error
            }
            other => return other,
        };
        if requested != TransactionalChecksum::Auto {
            return Err(crc64_unsupported(error, request));
        }
        self.switch_to_md5(request, &error);
        let digest = match body_md5 {
            Some(digest) => digest,
            None => {
                let body = request.body.clone();
                tokio::task::spawn_blocking(move || md5_digest(&body))
                    .await
                    .map_err(join_error)?
            }
        };
        request.headers.remove(CRC64_HEADER);
        let value = HeaderValue::from_str(&encode_md5(&digest)).expect("base64 is header text");
        request.headers.insert(MD5_HEADER, value);
        self.send(request).await
    }

    /// Makes `Auto` send MD5 from now on, and logs a warning the first time.
    fn switch_to_md5(&self, request: &BlobRequest, error: &Error) {
        let already = self.inner.crc64_rejected.swap(true, Ordering::Relaxed);
        if !already {
            tracing::warn!(
                operation = request.operation,
                url = error.target().unwrap_or(""),
                status = error.status(),
                code = error.code().unwrap_or(""),
                "the service rejected the x-ms-content-crc64 header, so this request is resent \
                 with Content-MD5, and so are all later requests of this store that use the \
                 automatic checksum"
            );
        }
    }
}

/// Checks whether `error` is the service rejecting the `x-ms-content-crc64` header as
/// unsupported.
///
/// Azurite 3.35 in strict mode returns `500 FeatureNotSupported` with the message
/// "x-ms-content-crc64 header or parameter is not supported in Azurite strict mode. ...".
/// The same code names other unsupported headers too, so the message must name this one.
pub(crate) fn rejects_crc64(error: &Error) -> bool {
    if error.code() != Some(FEATURE_NOT_SUPPORTED) {
        return false;
    }
    std::error::Error::source(error).is_some_and(|cause| cause.to_string().contains(CRC64_HEADER))
}

/// Turns the rejection of an explicit `Crc64` into an error that names the header and the fix.
fn crc64_unsupported(error: Error, request: &BlobRequest) -> Error {
    let container = request.container.as_deref().unwrap_or_default();
    let name = request.name.as_deref().unwrap_or_default();
    let message = format!(
        "{} on blob {container}/{name} failed because the service does not support the \
         {CRC64_HEADER} header of the CRC-64 checksum: choose the MD5 checksum \
         (TransactionalChecksum::Md5, checksum=\"md5\" in Python) or the automatic one, which \
         falls back to MD5, or start Azurite with --loose",
        request.operation
    );
    error.reclassify(ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Message(&'static str);

    impl std::fmt::Display for Message {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Message {}

    fn service_error(code: &str, message: &'static str) -> Error {
        Error::new(ErrorKind::Service, "put block on blob c/b failed")
            .with_status(500)
            .with_code(code)
            .with_source(Message(message))
    }

    #[test]
    fn crc64_rejection_needs_code_and_header_name() {
        let azurite = "x-ms-content-crc64 header or parameter is not supported in Azurite \
                       strict mode. Switch to loose model by Azurite command line parameter \
                       \"--loose\"";
        assert!(rejects_crc64(&service_error(
            "FeatureNotSupported",
            azurite
        )));
        let encryption = "x-ms-encryption-key header or parameter is not supported";
        assert!(!rejects_crc64(&service_error(
            "FeatureNotSupported",
            encryption
        )));
        assert!(!rejects_crc64(&service_error("InternalError", azurite)));
        let without_cause = Error::new(ErrorKind::Service, "x").with_code("FeatureNotSupported");
        assert!(!rejects_crc64(&without_cause));
    }

    #[test]
    fn explicit_crc64_error_names_header_and_fix() {
        let error = crc64_unsupported(
            service_error("FeatureNotSupported", "x-ms-content-crc64 header"),
            &BlobRequest::new("put block", http::Method::PUT).blob("c", "b"),
        )
        .with_target("http://127.0.0.1:1/a/c/b");
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(error.status(), Some(500));
        assert_eq!(error.code(), Some("FeatureNotSupported"));
        assert!(
            error.message().starts_with("put block on blob c/b failed"),
            "{error}"
        );
        assert!(error.message().contains("x-ms-content-crc64"), "{error}");
        assert!(
            error.message().contains("TransactionalChecksum::Md5"),
            "{error}"
        );
        assert!(error.message().contains("--loose"), "{error}");
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert_eq!(cause, "x-ms-content-crc64 header");
    }
}
