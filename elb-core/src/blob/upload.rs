//! Uploads: one `Put Blob` for small content, parallel `Put Block` plus `Put Block List` for
//! large content.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use http::Method;
use md5::{Digest, Md5};
use tokio::io::AsyncRead;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::checksum::{TransactionalChecksum, encode_md5};
use super::client::BlobStore;
use super::plan::{BlockIds, MAX_BLOCKS, MIB, block_size_for, content_type_for};
use super::request::BlobRequest;
use super::source::Source;
use crate::{Error, ErrorKind, Result};

/// Settings of one upload.
#[derive(Clone, Debug)]
pub struct UploadOptions {
    /// Preferred block size in bytes; raised automatically to stay under 50,000 blocks.
    pub block_size: u64,
    /// Content of at most this many bytes goes in one `Put Blob` request.
    pub single_put_max: u64,
    /// Maximum number of blocks in flight; memory use is at most this many blocks.
    pub concurrency: usize,
    /// Whether an existing blob may be replaced.
    pub overwrite: bool,
    /// The stored content type; `None` chooses one by the name's extension.
    pub content_type: Option<String>,
    /// Whether to compute the whole content's MD5 and store it on the blob
    /// (`x-ms-blob-content-md5`), so downloads can verify it.
    pub put_md5: bool,
    /// The checksum sent with every request body.
    pub transactional_checksum: TransactionalChecksum,
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
            transactional_checksum: TransactionalChecksum::Md5,
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
    /// Fails when the file cannot be read, with [`ErrorKind::AlreadyExists`] when
    /// `overwrite` is off and the blob exists, and with the typed error of a failed request.
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
        let size = file
            .metadata()
            .map_err(|error| {
                Error::invalid_input(format!("cannot read the size of {}", path.display()))
                    .with_source(error)
            })?
            .len();
        let source = Source::File {
            file: Arc::new(file),
            size,
        };
        let span =
            tracing::debug_span!("blob.upload", blob.container = container, blob.name = name);
        let operation = self.upload_source(container, name, source, options);
        self.with_deadline("upload", operation.instrument(span))
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
        self.with_deadline("upload", operation.instrument(span))
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
        self.with_deadline("upload", operation.instrument(span))
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
            Some(data) => self.put_blob(container, name, data, options).await,
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
        let (data, digest, checksum) =
            hash_block(data, options.put_md5, options.transactional_checksum).await?;
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
        let response = self.send(&request.body(data)).await?;
        Ok(UploadReport {
            bytes,
            blocks: 0,
            content_md5: digest,
            etag: response.header("etag").unwrap_or("").to_owned(),
        })
    }

    async fn put_blocks(
        &self,
        container: &str,
        name: &str,
        mut source: Source,
        block_size: u64,
        options: &UploadOptions,
    ) -> Result<UploadReport> {
        // A conditional request checks before any data is sent; the commit repeats the
        // condition, so a blob created meanwhile is not replaced either.
        if !options.overwrite && self.exists(container, name).await? {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("blob {container}/{name} already exists"),
            )
            .with_target(self.blob_url(container, name)));
        }
        let ids = BlockIds::random();
        let pool = Arc::new(Mutex::new(Vec::<BytesMut>::new()));
        let mut whole = options.put_md5.then(Md5::new);
        let mut tasks: JoinSet<Result<()>> = JoinSet::new();
        let mut index = 0u64;
        let mut offset = 0u64;
        let mut commit_condition = (!options.overwrite).then(|| ("if-none-match", "*".to_owned()));

        loop {
            let buffer = pool
                .lock()
                .expect("buffer pool lock")
                .pop()
                .unwrap_or_else(|| BytesMut::with_capacity(block_size as usize));
            let block = source.read_block(buffer, offset, block_size).await?;
            if block.is_empty() && index > 0 {
                break;
            }
            if index >= MAX_BLOCKS {
                return Err(Error::invalid_input(format!(
                    "content exceeds 50,000 blocks of {block_size} bytes: raise the block size"
                )));
            }
            let length = block.len() as u64;
            // The whole-content MD5 runs here in block order, and each block's transactional
            // checksum runs in its upload task, so the two hashes use different cores.
            let (data, hasher) = update_whole_md5(block.freeze(), whole.take()).await?;
            whole = hasher;

            let id = ids.id(index);
            let checksum_kind = options.transactional_checksum;
            if index == 0 {
                let (data, checksum) = block_checksum(data, checksum_kind).await?;
                let request = self.put_block_request(container, name, &id, data, checksum);
                // The first block goes alone, so a broken list of uncommitted blocks is
                // found and repaired before the other blocks start.
                if let Some(condition) = self.put_first_block(&request, options).await? {
                    commit_condition = Some(condition);
                }
                reclaim(&pool, request.body);
            } else {
                while tasks.len() >= options.concurrency {
                    join_one(&mut tasks).await?;
                }
                let store = self.clone();
                let pool = pool.clone();
                let (container, name) = (container.to_owned(), name.to_owned());
                tasks.spawn(async move {
                    let (data, checksum) = block_checksum(data, checksum_kind).await?;
                    let request = store.put_block_request(&container, &name, &id, data, checksum);
                    store.send(&request).await?;
                    reclaim(&pool, request.body);
                    Ok(())
                });
            }
            index += 1;
            offset += length;
            if length < block_size {
                break;
            }
        }
        while !tasks.is_empty() {
            join_one(&mut tasks).await?;
        }

        let digest: Option<[u8; 16]> = whole.map(|hasher| hasher.finalize().into());
        let etag = self
            .put_block_list(
                container,
                name,
                &ids,
                index,
                digest,
                commit_condition,
                options,
            )
            .await?;
        Ok(UploadReport {
            bytes: offset,
            blocks: index,
            content_md5: digest,
            etag,
        })
    }

    fn put_block_request(
        &self,
        container: &str,
        name: &str,
        id: &str,
        data: Bytes,
        checksum: Option<(&'static str, String)>,
    ) -> BlobRequest {
        let mut request = BlobRequest::new("put block", Method::PUT)
            .blob(container, name)
            .query("comp", "block")
            .query("blockid", id);
        if let Some((header, value)) = checksum {
            request = request.header(header, value);
        }
        request.body(data)
    }

    /// Stages the first block, repairing a blob whose uncommitted blocks have ids of another
    /// length (`400 InvalidBlobOrBlock`) once; returns the commit condition the repair needs.
    async fn put_first_block(
        &self,
        request: &BlobRequest,
        options: &UploadOptions,
    ) -> Result<Option<(&'static str, String)>> {
        match self.send(request).await {
            Ok(_) => Ok(None),
            Err(error) if error.code() == Some("InvalidBlobOrBlock") => {
                let container = request.container.as_deref().unwrap_or_default();
                let name = request.name.as_deref().unwrap_or_default();
                tracing::info!(
                    blob.container = container,
                    blob.name = name,
                    "uncommitted blocks of an earlier upload have ids of another length; discarding them and retrying"
                );
                // Committing a block list discards every uncommitted block of the blob. The
                // empty list leaves an empty blob until the upload commits.
                let mut reset = BlobRequest::new("put block list", Method::PUT)
                    .blob(container, name)
                    .query("comp", "blocklist")
                    .body(Bytes::from_static(
                        b"<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList></BlockList>",
                    ));
                if !options.overwrite {
                    reset = reset.header("if-none-match", "*");
                }
                let response = self.send(&reset).await?;
                self.send(request).await?;
                let condition = (!options.overwrite)
                    .then(|| {
                        response
                            .header("etag")
                            .map(|etag| ("if-match", etag.to_owned()))
                    })
                    .flatten();
                Ok(condition)
            }
            Err(error) => Err(error),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn put_block_list(
        &self,
        container: &str,
        name: &str,
        ids: &BlockIds,
        count: u64,
        digest: Option<[u8; 16]>,
        condition: Option<(&'static str, String)>,
        options: &UploadOptions,
    ) -> Result<String> {
        let mut xml = String::with_capacity(64 + count as usize * 40);
        xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for index in 0..count {
            xml.push_str("<Latest>");
            xml.push_str(&ids.id(index));
            xml.push_str("</Latest>");
        }
        xml.push_str("</BlockList>");
        let body = Bytes::from(xml);
        let mut request = BlobRequest::new("put block list", Method::PUT)
            .blob(container, name)
            .query("comp", "blocklist")
            .header("x-ms-blob-content-type", content_type(name, options));
        if let Some(digest) = &digest {
            request = request.header("x-ms-blob-content-md5", encode_md5(digest));
        }
        if let Some((header, value)) = options.transactional_checksum.header(&body) {
            request = request.header(header, value);
        }
        if let Some((header, value)) = condition {
            request = request.header(header, value);
        }
        let response = self.send(&request.body(body)).await?;
        Ok(response.header("etag").unwrap_or("").to_owned())
    }
}

fn content_type(name: &str, options: &UploadOptions) -> String {
    options
        .content_type
        .clone()
        .unwrap_or_else(|| content_type_for(name).to_owned())
}

/// Hashes a whole small body off the async threads.
async fn hash_block(
    data: Bytes,
    whole_md5: bool,
    checksum: TransactionalChecksum,
) -> Result<(Bytes, Option<[u8; 16]>, Option<(&'static str, String)>)> {
    tokio::task::spawn_blocking(move || {
        let digest = whole_md5.then(|| super::checksum::md5_digest(&data));
        let header = match (checksum, digest) {
            // The whole content's MD5 is also the body's MD5: compute it once.
            (TransactionalChecksum::Md5, Some(digest)) => {
                Some(("content-md5", encode_md5(&digest)))
            }
            (checksum, _) => checksum.header(&data),
        };
        (data, digest, header)
    })
    .await
    .map_err(join_error)
}

/// Feeds a block to the whole-content MD5 off the async threads.
async fn update_whole_md5(data: Bytes, whole: Option<Md5>) -> Result<(Bytes, Option<Md5>)> {
    let Some(mut hasher) = whole else {
        return Ok((data, None));
    };
    tokio::task::spawn_blocking(move || {
        hasher.update(&data);
        (data, Some(hasher))
    })
    .await
    .map_err(join_error)
}

/// Computes a block's transactional checksum header off the async threads.
async fn block_checksum(
    data: Bytes,
    checksum: TransactionalChecksum,
) -> Result<(Bytes, Option<(&'static str, String)>)> {
    if checksum == TransactionalChecksum::None {
        return Ok((data, None));
    }
    tokio::task::spawn_blocking(move || {
        let header = checksum.header(&data);
        (data, header)
    })
    .await
    .map_err(join_error)
}

/// Returns a sent block's buffer to the pool when no other reference to it remains.
fn reclaim(pool: &Mutex<Vec<BytesMut>>, body: Bytes) {
    if let Ok(mut buffer) = body.try_into_mut() {
        buffer.clear();
        pool.lock().expect("buffer pool lock").push(buffer);
    }
}

async fn join_one(tasks: &mut JoinSet<Result<()>>) -> Result<()> {
    match tasks.join_next().await {
        Some(Ok(result)) => result,
        Some(Err(error)) => Err(join_error(error)),
        None => Ok(()),
    }
}

pub(crate) fn join_error(error: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Service, "a transfer task failed").with_source(error)
}
