//! Downloads: parallel ranged reads pinned to one ETag, resumed after a broken body, and
//! verified against the stored MD5.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use super::client::{BlobStore, describe};
use super::file_ranges::RangeBuffers;
use super::plan::{MIB, split_ranges};
use super::progress::{BytesCallback, report_bytes};
use super::upload::join_error;
use crate::{Error, ErrorKind, Result};

/// Settings of one download.
#[derive(Clone)]
pub struct DownloadOptions {
    /// Bytes per ranged request.
    pub range_size: u64,
    /// Maximum number of ranges in flight; memory use is at most this many ranges. A file
    /// download also keeps its ranges in flight within
    /// [`MAX_BUFFERED_BYTES`](crate::blob::MAX_BUFFERED_BYTES).
    pub concurrency: usize,
    /// Whether to compare the content with the blob's stored MD5, when it has one.
    pub verify_md5: bool,
    /// Whether a file download is flushed to disk (`fsync`) before it replaces the target.
    /// Off by default: the rename already keeps readers from seeing a partial file, and an
    /// `fsync` per file slows downloads of many small files.
    pub sync_file: bool,
    /// Receives the bytes of each range once it was written to its destination (the file,
    /// memory or writer); `None` for none. Ranges count before the MD5 check, so the sum can
    /// reach the size of a download that then fails.
    pub progress: Option<BytesCallback>,
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("range_size", &self.range_size)
            .field("concurrency", &self.concurrency)
            .field("verify_md5", &self.verify_md5)
            .field("sync_file", &self.sync_file)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            range_size: 4 * MIB,
            concurrency: 16,
            verify_md5: true,
            sync_file: false,
            progress: None,
        }
    }
}

/// The outcome of a download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadReport {
    /// Bytes downloaded.
    pub bytes: u64,
    /// The ETag every range was read from.
    pub etag: String,
    /// The blob's stored MD5, if it has one.
    pub content_md5: Option<[u8; 16]>,
    /// Whether the content was compared with the stored MD5 and matched.
    pub verified: bool,
}

impl BlobStore {
    /// Downloads a blob to a file, replacing it only when the download is complete.
    ///
    /// The content goes to a temporary file in the target's folder, which is renamed over
    /// the target once every byte arrived and the MD5 matched. On failure the temporary file
    /// is removed and an existing target is left untouched. Missing folders of the target
    /// are created first, and they stay when the download fails.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::NotFound`] for a missing blob, and [`ErrorKind::InvalidInput`]
    /// when the target is a directory. Returns [`ErrorKind::PreconditionFailed`] when the blob
    /// changed during the download, [`ErrorKind::Integrity`] when the content does not match
    /// the stored MD5, and the typed error of any failed request or file operation.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future removes the temporary file and leaves the target untouched.
    pub async fn download_file(
        &self,
        container: &str,
        name: &str,
        path: impl AsRef<Path>,
        options: &DownloadOptions,
    ) -> Result<DownloadReport> {
        self.download_file_with_buffers(container, name, path.as_ref(), options, None)
            .await
    }

    /// Downloads a blob to a file as [`BlobStore::download_file`] does, taking range buffers
    /// from `buffers` when given, so that the files of one transfer share them.
    pub(crate) async fn download_file_with_buffers(
        &self,
        container: &str,
        name: &str,
        path: &Path,
        options: &DownloadOptions,
        buffers: Option<RangeBuffers>,
    ) -> Result<DownloadReport> {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Checked before any request, so that a large blob is not downloaded only to fail
        // at the final rename.
        if tokio::fs::metadata(path)
            .await
            .is_ok_and(|metadata| metadata.is_dir())
        {
            return Err(Error::invalid_input(format!(
                "download target {} is a directory: give the path of a file",
                path.display()
            ))
            .with_target(path.display().to_string()));
        }
        // Without this, a missing folder would fail as NotFound, which callers read as a
        // missing blob.
        tokio::fs::create_dir_all(folder)
            .await
            .map_err(|error| file_error("cannot create the folder", folder, error))?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(".partial")
            .tempfile_in(folder)
            .map_err(|error| file_error("cannot create a temporary file in", folder, error))?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|error| file_error("cannot open", temp.path(), error))?;

        let span = tracing::debug_span!(
            "blob.download",
            blob.container = container,
            blob.name = name
        );
        let buffers = buffers.unwrap_or_default();
        let operation = self.download_to_open_file(container, name, file, options, buffers);
        let report = self
            .with_deadline(
                &describe("download", container, name),
                operation.instrument(span),
            )
            .await?;
        temp.persist(path)
            .map_err(|error| file_error("cannot replace", path, error.error))?;
        Ok(report)
    }

    /// Downloads a blob into memory.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::download_file`], without the file errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future discards what was read.
    pub async fn download_bytes(
        &self,
        container: &str,
        name: &str,
        options: &DownloadOptions,
    ) -> Result<(Bytes, DownloadReport)> {
        let span = tracing::debug_span!(
            "blob.download",
            blob.container = container,
            blob.name = name
        );
        let mut data = Vec::new();
        let operation = self.download_in_order(container, name, &mut data, options);
        let report = self
            .with_deadline(
                &describe("download", container, name),
                operation.instrument(span),
            )
            .await?;
        Ok((Bytes::from(data), report))
    }

    /// Downloads a blob into an async writer, in order.
    ///
    /// The writer may have received part of the content when an error is returned, and the
    /// MD5 check happens after the last byte was written.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::download_file`], and when the writer fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the download; the writer keeps what it received.
    pub async fn download_to_writer(
        &self,
        container: &str,
        name: &str,
        writer: &mut (dyn AsyncWrite + Send + Unpin),
        options: &DownloadOptions,
    ) -> Result<DownloadReport> {
        let span = tracing::debug_span!(
            "blob.download",
            blob.container = container,
            blob.name = name
        );
        let operation = self.download_in_order(container, name, writer, options);
        let report = self
            .with_deadline(
                &describe("download", container, name),
                operation.instrument(span),
            )
            .await?;
        Ok(report)
    }

    /// Downloads into an open file, writing ranges at their offsets as they arrive.
    async fn download_to_open_file(
        &self,
        container: &str,
        name: &str,
        file: std::fs::File,
        options: &DownloadOptions,
        buffers: RangeBuffers,
    ) -> Result<DownloadReport> {
        check_options(options)?;
        let first = self
            .first_range(container, name, options.range_size)
            .await?;
        let ranges = self
            .download_ranges_to_file(container, name, &first, file, options, buffers)
            .await?;
        self.verify(container, name, first, ranges.written, ranges.md5)
    }

    /// Downloads into a writer that takes the content in order, while later ranges are
    /// already in flight.
    async fn download_in_order(
        &self,
        container: &str,
        name: &str,
        writer: &mut (dyn AsyncWrite + Send + Unpin),
        options: &DownloadOptions,
    ) -> Result<DownloadReport> {
        check_options(options)?;
        let first = self
            .first_range(container, name, options.range_size)
            .await?;
        // Without a stored MD5 there is nothing to compare, so the content is not hashed.
        let mut hasher = (options.verify_md5 && first.content_md5.is_some()).then(Md5::new);
        let total = first.total;
        let progress = options.progress.as_ref();
        let mut written = first.data.len() as u64;
        hasher = write_chunk(writer, first.data.clone(), hasher).await?;
        report_bytes(progress, written, Some(total));

        let done = first.data.len() as u64;
        let ranges: Vec<Range<u64>> = split_ranges(total - done, options.range_size)
            .into_iter()
            .map(|range| range.start + done..range.end + done)
            .collect();
        let etag = first.etag.clone();
        let mut chunks = futures::stream::iter(ranges)
            .map(|range| self.read_range(container, name, &etag, range))
            .buffered(options.concurrency);
        while let Some(chunk) = chunks.try_next().await? {
            let length = chunk.len() as u64;
            hasher = write_chunk(writer, chunk, hasher).await?;
            written += length;
            report_bytes(progress, length, Some(total));
        }
        writer.flush().await.map_err(|error| {
            Error::new(ErrorKind::Transport, "failed to flush the download writer")
                .with_source(error)
        })?;
        let actual = hasher.map(|hasher| hasher.finalize().into());
        self.verify(container, name, first, written, actual)
    }

    /// Checks the byte count and the MD5 of a finished download and returns its report.
    fn verify(
        &self,
        container: &str,
        name: &str,
        first: FirstRange,
        written: u64,
        actual: Option<[u8; 16]>,
    ) -> Result<DownloadReport> {
        let total = first.total;
        if written != total {
            return Err(Error::new(
                ErrorKind::Integrity,
                format!("download of blob {container}/{name} got {written} of {total} bytes"),
            )
            .with_target(self.blob_url(container, name)));
        }
        let verified = match (actual, first.content_md5) {
            (Some(actual), Some(expected)) => {
                if actual != expected {
                    return Err(Error::new(
                        ErrorKind::Integrity,
                        format!(
                            "downloaded content of blob {container}/{name} does not match its \
                             stored Content-MD5 (expected {}, got {})",
                            hex::encode(expected),
                            hex::encode(actual)
                        ),
                    )
                    .with_target(self.blob_url(container, name)));
                }
                true
            }
            _ => false,
        };
        Ok(DownloadReport {
            bytes: written,
            etag: first.etag,
            content_md5: first.content_md5,
            verified,
        })
    }
}

fn check_options(options: &DownloadOptions) -> Result<()> {
    if options.range_size == 0 || options.concurrency == 0 {
        return Err(Error::invalid_input(format!(
            "invalid download options: range size {} and concurrency {} must both be at least 1",
            options.range_size, options.concurrency
        )));
    }
    Ok(())
}

/// Writes one chunk to the writer and feeds it to the MD5 off the async threads.
async fn write_chunk(
    writer: &mut (dyn AsyncWrite + Send + Unpin),
    chunk: Bytes,
    hasher: Option<Md5>,
) -> Result<Option<Md5>> {
    writer.write_all(&chunk).await.map_err(|error| {
        Error::new(
            ErrorKind::Transport,
            "failed to write the downloaded content",
        )
        .with_source(error)
    })?;
    update_off_thread(hasher, chunk).await
}

fn update(hasher: Option<Md5>, chunk: &[u8]) -> Option<Md5> {
    hasher.map(|mut hasher| {
        hasher.update(chunk);
        hasher
    })
}

async fn update_off_thread(hasher: Option<Md5>, chunk: Bytes) -> Result<Option<Md5>> {
    if hasher.is_none() {
        return Ok(None);
    }
    tokio::task::spawn_blocking(move || update(hasher, &chunk))
        .await
        .map_err(join_error)
}

fn file_error(action: &str, path: &Path, error: std::io::Error) -> Error {
    let kind = match error.kind() {
        std::io::ErrorKind::NotFound => ErrorKind::NotFound,
        std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::InvalidInput,
    };
    Error::new(kind, format!("{action} {}", path.display()))
        .with_target(path.display().to_string())
        .with_source(error)
}

/// The first range of a download, which fixes the size, ETag and stored MD5.
pub(crate) struct FirstRange {
    pub(crate) data: Bytes,
    pub(crate) total: u64,
    pub(crate) etag: String,
    pub(crate) content_md5: Option<[u8; 16]>,
}
