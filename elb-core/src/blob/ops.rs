//! Single-blob and container operations: properties, exists, delete, create.

use http::Method;
use time::OffsetDateTime;
use time::macros::format_description;

use super::checksum::decode_md5;
use super::client::{BlobStore, describe};
use super::request::{BlobRequest, BlobResponse};
use crate::{ErrorKind, Result};

/// The properties of a blob, read without downloading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobProperties {
    /// Size in bytes.
    pub size: u64,
    /// The ETag, with its quotes.
    pub etag: String,
    /// The stored MD5 of the whole content, if the blob has one.
    pub content_md5: Option<[u8; 16]>,
    /// The stored content type.
    pub content_type: Option<String>,
    /// The time of the last change.
    pub last_modified: Option<OffsetDateTime>,
}

impl BlobProperties {
    pub(crate) fn from_response(response: &BlobResponse) -> Self {
        Self {
            size: response
                .header("content-length")
                .and_then(|value| value.parse().ok())
                .unwrap_or(0),
            etag: response.header("etag").unwrap_or("").to_owned(),
            content_md5: response.header("content-md5").and_then(decode_md5),
            content_type: response.header("content-type").map(str::to_owned),
            last_modified: response.header("last-modified").and_then(parse_http_date),
        }
    }
}

/// Parses an RFC 1123 HTTP date such as `Fri, 04 Dec 2026 16:00:00 GMT`.
pub(crate) fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(|time| time.assume_utc())
}

impl BlobStore {
    /// Reads a blob's properties with `Get Blob Properties` (a `HEAD` request).
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::NotFound`] when the blob or container does not exist, and the
    /// typed error of any other failure.
    pub async fn properties(&self, container: &str, name: &str) -> Result<BlobProperties> {
        let request = BlobRequest::new("get blob properties", Method::HEAD).blob(container, name);
        let response = self
            .with_deadline(
                &describe("get blob properties", container, name),
                self.send(&request),
            )
            .await?;
        Ok(BlobProperties::from_response(&response))
    }

    /// Returns whether a blob exists.
    ///
    /// # Errors
    ///
    /// Returns the typed error of a failure other than "not found".
    pub async fn exists(&self, container: &str, name: &str) -> Result<bool> {
        match self.properties(container, name).await {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Deletes a blob and its snapshots.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::NotFound`] when the blob does not exist; use
    /// [`BlobStore::delete_blob_if_exists`] to treat that as success.
    pub async fn delete_blob(&self, container: &str, name: &str) -> Result<()> {
        let request = BlobRequest::new("delete blob", Method::DELETE)
            .blob(container, name)
            .header("x-ms-delete-snapshots", "include");
        self.with_deadline(
            &describe("delete blob", container, name),
            self.send(&request),
        )
        .await
        .map(drop)
    }

    /// Deletes a blob and its snapshots; returns `false` when it did not exist.
    ///
    /// # Errors
    ///
    /// Returns the typed error of a failure other than "not found".
    pub async fn delete_blob_if_exists(&self, container: &str, name: &str) -> Result<bool> {
        match self.delete_blob(container, name).await {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Creates a private container unless it exists; returns `true` when it was created.
    ///
    /// # Errors
    ///
    /// Returns the typed error of a failure other than "already exists".
    pub async fn create_container_if_missing(&self, container: &str) -> Result<bool> {
        super::location::validate_container(container)?;
        let request = BlobRequest::new("create container", Method::PUT)
            .container(container)
            .query("restype", "container");
        match self
            .with_deadline("create container", self.send(&request))
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Deletes a container and every blob in it.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::NotFound`] when the container does not exist; use
    /// [`BlobStore::delete_container_if_exists`] to treat that as success.
    pub async fn delete_container(&self, container: &str) -> Result<()> {
        let request = BlobRequest::new("delete container", Method::DELETE)
            .container(container)
            .query("restype", "container");
        self.with_deadline("delete container", self.send(&request))
            .await
            .map(drop)
    }

    /// Deletes a container and every blob in it; returns `false` when it did not exist.
    ///
    /// # Errors
    ///
    /// Returns the typed error of a failure other than "not found".
    pub async fn delete_container_if_exists(&self, container: &str) -> Result<bool> {
        match self.delete_container(container).await {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_date_parses() {
        assert_eq!(
            parse_http_date("Fri, 04 Dec 2026 16:05:09 GMT"),
            Some(datetime!(2026-12-04 16:05:09 UTC))
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
