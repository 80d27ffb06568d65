//! Uploads: one `Put Blob` for small content, parallel `Put Block` plus `Put Block List` for
//! large content.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::Method;
use tokio::io::AsyncRead;
use tracing::Instrument;

use super::checksum::{MD5_HEADER, TransactionalChecksum, encode_md5};
use super::client::{BlobStore, describe};
use super::plan::{MIB, block_size_for, content_type_for};
use super::progress::{BytesCallback, report_bytes};
use super::request::BlobRequest;
use super::source::Source;
use crate::{Error, ErrorKind, Result};

/// The bytes of block or range buffers that one file's upload or download aims to stay
/// within, so that a high concurrency does not multiply memory use. Blocks or ranges
/// larger than 8 MiB can exceed it, and files of a tree transfer count separately.
pub const MAX_BUFFERED_BYTES: u64 = 64 * MIB;

/// Settings of one upload.
#[derive(Clone)]
pub struct UploadOptions {
    /// Preferred block size in bytes; raised automatically to stay under 50,000 blocks.
    pub block_size: u64,
    /// Content of at most this many bytes goes in one `Put Blob` request.
    pub single_put_max: u64,
    /// Maximum number of blocks in flight. A staged upload also keeps at most
    /// `MAX_BUFFERED_BYTES / block_size - 6` blocks (but at least 1) in flight, and holds
    /// at most 6 block buffers more than it has in flight, because up to 4 blocks may wait
    /// for the whole-content MD5. With blocks of up to 8 MiB the buffers therefore stay
    /// within [`MAX_BUFFERED_BYTES`].
    pub concurrency: usize,
    /// Whether an existing blob may be replaced.
    pub overwrite: bool,
    /// The stored content type; `None` chooses one by the name's extension.
    pub content_type: Option<String>,
    /// Whether to compute the whole content's MD5 and store it on the blob
    /// (`x-ms-blob-content-md5`), so downloads can verify it. On by default.
    pub put_md5: bool,
    /// The checksum sent with every request body, which the service checks before it
    /// stores the body. The default, [`TransactionalChecksum::Auto`], sends CRC-64 and
    /// switches the store to MD5 when the service rejects CRC-64.
    pub transactional_checksum: TransactionalChecksum,
    /// Receives the bytes of each block once its `Put Block` succeeded, or of the whole
    /// content once its `Put Blob` succeeded; `None` for none. Staged blocks count before
    /// the final `Put Block List` commits them, so the sum can reach the size of an upload
    /// that then fails.
    pub progress: Option<BytesCallback>,
}

impl fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadOptions")
            .field("block_size", &self.block_size)
            .field("single_put_max", &self.single_put_max)
            .field("concurrency", &self.concurrency)
            .field("overwrite", &self.overwrite)
            .field("content_type", &self.content_type)
            .field("put_md5", &self.put_md5)
            .field("transactional_checksum", &self.transactional_checksum)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            block_size: 4 * MIB,
            single_put_max: 4 * MIB,
            concurrency: 16,
            overwrite: true,
            content_type: None,
            put_md5: true,
            transactional_checksum: TransactionalChecksum::Auto,
            progress: None,
        }
    }
}

/// The outcome of an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReport {
    /// Bytes uploaded.
    pub bytes: u64,
    /// Blocks staged, or 0 when one `Put Blob` carried the content.
    pub blocks: u64,
    /// The whole content's MD5, when [`UploadOptions::put_md5`] is on.
    pub content_md5: Option<[u8; 16]>,
    /// The ETag of the new blob.
    pub etag: String,
}

impl BlobStore {
    /// Uploads a file to a blob.
    ///
    /// # Errors
    ///
    /// Fails when the file cannot be read or is a directory. Returns
    /// [`ErrorKind::Integrity`] when its size or modification time changed during the upload,
    /// and then nothing is committed. Returns [`ErrorKind::AlreadyExists`] when `overwrite` is
    /// off and the blob exists, and the typed error of any failed request.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the upload. A blob committed earlier keeps its old content,
    /// unless recovery from stale blocks had already emptied it (see the module's
    /// limitations). Staged blocks stay uncommitted until the service discards them.
    pub async fn upload_file(
        &self,
        container: &str,
        name: &str,
        path: impl AsRef<Path>,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        let path = path.as_ref();
        // Opening a FIFO would block, and reading a directory fails with a vague error. An
        // error of this check is left to `open`, which reports it.
        if let Ok(metadata) = std::fs::metadata(path)
            && !metadata.is_file()
        {
            let message = if metadata.is_dir() {
                format!(
                    "cannot upload {}: it is a directory; upload it with upload_dir",
                    path.display()
                )
            } else {
                format!("cannot upload {}: it is not a regular file", path.display())
            };
            return Err(Error::invalid_input(message).with_target(path.display().to_string()));
        }
        let file = std::fs::File::open(path).map_err(|error| {
            let kind = match error.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ => ErrorKind::InvalidInput,
            };
            Error::new(kind, format!("cannot open {} for upload", path.display()))
                .with_target(path.display().to_string())
                .with_source(error)
        })?;
        let metadata = file.metadata().map_err(|error| {
            Error::invalid_input(format!("cannot read the size of {}", path.display()))
                .with_source(error)
        })?;
        let source = Source::File {
            file: Arc::new(file),
            path: path.to_path_buf(),
            size: metadata.len(),
            modified: metadata.modified().ok(),
        };
        let span =
            tracing::debug_span!("blob.upload", blob.container = container, blob.name = name);
        let operation = self.upload_source(container, name, source, options);
        self.with_deadline(
            &describe("upload", container, name),
            operation.instrument(span),
        )
        .await
    }

    /// Uploads bytes to a blob.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::upload_file`], without the file errors.
    ///
    /// # Cancel safety
    ///
    /// As [`BlobStore::upload_file`].
    pub async fn upload_bytes(
        &self,
        container: &str,
        name: &str,
        data: impl Into<Bytes>,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        let source = Source::Bytes(data.into());
        let span =
            tracing::debug_span!("blob.upload", blob.container = container, blob.name = name);
        let operation = self.upload_source(container, name, source, options);
        self.with_deadline(
            &describe("upload", container, name),
            operation.instrument(span),
        )
        .await
    }

    /// Uploads everything `reader` yields to a blob, reading one block at a time.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::upload_file`], and when the content needs more than 50,000 blocks of
    /// [`UploadOptions::block_size`]. The size of a reader is unknown up front, so its block
    /// size is not raised automatically.
    ///
    /// # Cancel safety
    ///
    /// As [`BlobStore::upload_file`].
    pub async fn upload_reader(
        &self,
        container: &str,
        name: &str,
        reader: impl AsyncRead + Send + Unpin + 'static,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        let source = Source::Reader(Box::new(reader));
        let span =
            tracing::debug_span!("blob.upload", blob.container = container, blob.name = name);
        let operation = self.upload_source(container, name, source, options);
        self.with_deadline(
            &describe("upload", container, name),
            operation.instrument(span),
        )
        .await
    }

    async fn upload_source(
        &self,
        container: &str,
        name: &str,
        mut source: Source,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        super::location::validate_container(container)?;
        super::location::validate_blob_name(name)?;
        if options.concurrency == 0 {
            return Err(Error::invalid_input(
                "upload concurrency is 0: use at least 1",
            ));
        }
        let block_size = match source.size() {
            Some(size) => block_size_for(size, options.block_size)?,
            None => block_size_for(0, options.block_size)?,
        };
        // Small content, and readers that end within the first block, go in one request.
        let single = match source.size() {
            Some(size) if size <= options.single_put_max => Some(source.read_all().await?),
            Some(_) => None,
            None => {
                let first = source
                    .read_block(BytesMut::with_capacity(block_size as usize), 0, block_size)
                    .await?;
                if (first.len() as u64) < block_size && first.len() as u64 <= options.single_put_max
                {
                    Some(first.freeze())
                } else {
                    source.push_back(first);
                    None
                }
            }
        };
        match single {
            Some(data) => {
                source.ensure_unchanged().await?;
                self.put_blob(container, name, data, options).await
            }
            None => {
                self.put_blocks(container, name, source, block_size, options)
                    .await
            }
        }
    }

    async fn put_blob(
        &self,
        container: &str,
        name: &str,
        data: Bytes,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        let requested = options.transactional_checksum;
        let (data, digest, checksum) =
            hash_block(data, options.put_md5, self.resolve_checksum(requested)).await?;
        let mut request = BlobRequest::new("put blob", Method::PUT)
            .blob(container, name)
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-ms-blob-content-type", content_type(name, options));
        if let Some(digest) = &digest {
            request = request.header("x-ms-blob-content-md5", encode_md5(digest));
        }
        if let Some((header, value)) = checksum {
            request = request.header(header, value);
        }
        if !options.overwrite {
            request = request.header("if-none-match", "*");
        }
        let bytes = data.len() as u64;
        let mut request = request.body(data);
        // The whole content's MD5 is also the body's MD5, for a fallback from CRC-64.
        let response = self
            .send_with_checksum(&mut request, requested, digest)
            .await?;
        report_bytes(options.progress.as_ref(), bytes, Some(bytes));
        Ok(UploadReport {
            bytes,
            blocks: 0,
            content_md5: digest,
            etag: response.header("etag").unwrap_or("").to_owned(),
        })
    }
}

pub(crate) fn content_type(name: &str, options: &UploadOptions) -> String {
    options
        .content_type
        .clone()
        .unwrap_or_else(|| content_type_for(name).to_owned())
}

/// Hashes a whole small body off the async threads. `checksum` is already resolved, so it
/// is not `Auto`.
async fn hash_block(
    data: Bytes,
    whole_md5: bool,
    checksum: TransactionalChecksum,
) -> Result<(Bytes, Option<[u8; 16]>, Option<(&'static str, String)>)> {
    tokio::task::spawn_blocking(move || {
        let digest = whole_md5.then(|| super::checksum::md5_digest(&data));
        let header = match (checksum, digest) {
            // The whole content's MD5 is also the body's MD5: compute it once.
            (TransactionalChecksum::Md5, Some(digest)) => Some((MD5_HEADER, encode_md5(&digest))),
            (checksum, _) => checksum.header(&data),
        };
        (data, digest, header)
    })
    .await
    .map_err(join_error)
}

pub(crate) fn join_error(error: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Service, "a transfer task failed").with_source(error)
}
