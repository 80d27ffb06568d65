//! Ranged reads of one blob, pinned to an ETag and resumed at the first missing byte.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::Method;

use super::checksum::decode_md5;
use super::client::BlobStore;
use super::download::FirstRange;
use super::request::BlobRequest;
use crate::{Error, ErrorKind, Result};

impl BlobStore {
    /// Reads the first range of a blob, which fixes its size, ETag and stored MD5.
    pub(crate) async fn first_range(
        &self,
        container: &str,
        name: &str,
        range_size: u64,
    ) -> Result<FirstRange> {
        let request = BlobRequest::new("get blob", Method::GET)
            .blob(container, name)
            .header("x-ms-range", format!("bytes=0-{}", range_size - 1));
        let response = match self.send_streaming(&request).await {
            Ok(response) => response,
            // The service rejects any range of an empty blob with 416.
            Err(error) if error.status() == Some(416) => {
                let whole = BlobRequest::new("get blob", Method::GET).blob(container, name);
                let response = self.send(&whole).await?;
                return Ok(FirstRange {
                    total: response.body.len() as u64,
                    etag: response.header("etag").unwrap_or("").to_owned(),
                    content_md5: response.header("content-md5").and_then(decode_md5),
                    data: response.body,
                });
            }
            Err(error) => return Err(error),
        };

        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header("etag").unwrap_or_default();
        let (total, content_md5) = if response.status().as_u16() == 206 {
            let total = header("content-range")
                .as_deref()
                .and_then(total_of_content_range)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::Service,
                        "ranged read returned no valid Content-Range",
                    )
                    .with_target(self.blob_url(container, name))
                })?;
            (
                total,
                header("x-ms-blob-content-md5")
                    .as_deref()
                    .and_then(decode_md5),
            )
        } else {
            let total = header("content-length")
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            (total, header("content-md5").as_deref().and_then(decode_md5))
        };
        let length = total.min(range_size);
        let length = if response.status().as_u16() == 206 {
            length
        } else {
            total
        };
        let data = self
            .fill_range(
                container,
                name,
                &etag,
                0..length,
                Some(response),
                BytesMut::new(),
            )
            .await?
            .freeze();
        Ok(FirstRange {
            data,
            total,
            etag,
            content_md5,
        })
    }

    /// Reads one range of a blob whose ETag must still be `etag`.
    pub(crate) async fn read_range(
        &self,
        container: &str,
        name: &str,
        etag: &str,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let buffer = BytesMut::new();
        let data = self.fill_range(container, name, etag, range, None, buffer);
        Ok(data.await?.freeze())
    }

    /// Reads one range of a blob whose ETag must still be `etag` into `buffer`, which is
    /// cleared first.
    pub(crate) async fn read_range_into(
        &self,
        container: &str,
        name: &str,
        etag: &str,
        range: Range<u64>,
        buffer: BytesMut,
    ) -> Result<BytesMut> {
        self.fill_range(container, name, etag, range, None, buffer)
            .await
    }

    /// Reads `range` into `buffer`, starting from `response` when given; after a broken or
    /// stalled body it requests only the missing bytes.
    async fn fill_range(
        &self,
        container: &str,
        name: &str,
        etag: &str,
        range: Range<u64>,
        mut response: Option<reqwest::Response>,
        mut buffer: BytesMut,
    ) -> Result<BytesMut> {
        let length = (range.end - range.start) as usize;
        buffer.clear();
        buffer.reserve(length);
        let mut retry = 0;
        let stall = self.inner.options.retry.stall_timeout;
        loop {
            if buffer.len() == length {
                return Ok(buffer);
            }
            let start = range.start + buffer.len() as u64;
            let request = BlobRequest::new("get blob", Method::GET)
                .blob(container, name)
                .header("x-ms-range", format!("bytes={start}-{}", range.end - 1))
                .header("if-match", etag);
            let mut current = match response.take() {
                Some(response) => response,
                None => self
                    .send_counting(&request, &mut retry)
                    .await
                    .map_err(|error| changed_error(error, container, name))?,
            };
            let before = buffer.len();
            let outcome = loop {
                match tokio::time::timeout(stall, current.chunk()).await {
                    Err(_) => {
                        break Err(Error::new(
                            ErrorKind::TimedOut,
                            format!(
                                "get blob {container}/{name} made no progress for {}",
                                super::client::format_duration(stall)
                            ),
                        )
                        .with_target(self.blob_url(container, name)));
                    }
                    Ok(Err(error)) => {
                        break Err(super::status::error_from_transport(
                            &request,
                            &self.blob_url(container, name),
                            error,
                        ));
                    }
                    Ok(Ok(None)) => break Ok(()),
                    Ok(Ok(Some(chunk))) => {
                        if buffer.len() + chunk.len() > length {
                            return Err(Error::new(
                                ErrorKind::Integrity,
                                format!(
                                    "get blob {container}/{name} returned more bytes than the \
                                     requested range {}-{}",
                                    range.start,
                                    range.end - 1
                                ),
                            ));
                        }
                        buffer.extend_from_slice(&chunk);
                    }
                }
            };
            let error = match outcome {
                Ok(()) if buffer.len() == length => continue,
                Ok(()) => Error::new(
                    ErrorKind::Transport,
                    format!(
                        "get blob {container}/{name} ended after {} of {length} bytes",
                        buffer.len()
                    ),
                )
                .with_target(self.blob_url(container, name)),
                Err(error) => error,
            };
            if buffer.len() > before {
                // Progress was made, so the retry budget starts again for the rest.
                retry = 0;
            }
            self.pause_before_retry(&request, &mut retry, error).await?;
        }
    }
}

/// Rewords a failed `If-Match` condition as a blob that changed mid-download.
fn changed_error(error: Error, container: &str, name: &str) -> Error {
    if error.kind() != ErrorKind::PreconditionFailed {
        return error;
    }
    let mut changed = Error::new(
        ErrorKind::PreconditionFailed,
        format!(
            "blob {container}/{name} changed during the download (its ETag no longer \
             matches): download it again"
        ),
    )
    .with_status(412);
    if let Some(target) = error.target() {
        changed = changed.with_target(target);
    }
    if let Some(code) = error.code() {
        changed = changed.with_code(code);
    }
    changed
}

/// Returns the total size from a `Content-Range` value such as `bytes 0-99/1000`.
fn total_of_content_range(value: &str) -> Option<u64> {
    value.rsplit_once('/')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_total() {
        assert_eq!(total_of_content_range("bytes 0-99/1000"), Some(1000));
        assert_eq!(total_of_content_range("bytes 0-0/1"), Some(1));
        assert_eq!(total_of_content_range("bytes */1000"), Some(1000));
        assert_eq!(total_of_content_range("bytes 0-99/*"), None);
    }
}
