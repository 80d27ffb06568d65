//! Staged uploads: blocks read and sent in parallel with reused buffers, then one
//! `Put Block List`.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use http::Method;
use tokio::task::JoinSet;

use super::checksum::{OrderedMd5, TransactionalChecksum, encode_md5};
use super::client::BlobStore;
use super::plan::{BlockIds, MAX_BLOCKS};
use super::progress::report_bytes;
use super::request::BlobRequest;
use super::source::Source;
use super::upload::{MAX_BUFFERED_BYTES, UploadOptions, UploadReport, content_type, join_error};
use crate::{Error, ErrorKind, Result};

/// Blocks that may wait for the whole-content MD5 thread.
const WHOLE_MD5_QUEUE: usize = 4;

impl BlobStore {
    pub(crate) async fn put_blocks(
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
        // A reader's size is unknown, so its progress carries no total.
        let total = source.size();
        let ids = BlockIds::random();
        let pool = Arc::new(Mutex::new(Vec::<BytesMut>::new()));
        // The whole-content MD5 runs on its own thread in block order, and each block's
        // transactional checksum runs in its upload task, so reading waits for the whole MD5
        // only when it falls `WHOLE_MD5_QUEUE` blocks behind. A block's buffer returns to the
        // pool from whichever of the two finishes last, so at most
        // `concurrency + WHOLE_MD5_QUEUE + 2` buffers exist.
        let whole = options.put_md5.then(|| {
            let pool = pool.clone();
            OrderedMd5::start(WHOLE_MD5_QUEUE, move |data| reclaim(&pool, data))
        });
        let budget = (MAX_BUFFERED_BYTES / block_size) as usize;
        let in_flight = options
            .concurrency
            .min(budget.saturating_sub(WHOLE_MD5_QUEUE + 2))
            .max(1);
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
            let data = block.freeze();
            if let Some(whole) = &whole {
                whole.update(data.clone()).await?;
            }

            let id = ids.id(index);
            let requested = options.transactional_checksum;
            if index == 0 {
                let applied = self.resolve_checksum(requested);
                let (data, checksum) = block_checksum(data, applied).await?;
                let mut request = self.put_block_request(container, name, &id, data, checksum);
                // The first block goes alone, so a broken list of uncommitted blocks is
                // found and repaired, and a rejected CRC-64 header switched to MD5, before
                // the other blocks start.
                if let Some(condition) = self.put_first_block(&mut request, options).await? {
                    commit_condition = Some(condition);
                }
                report_bytes(options.progress.as_ref(), length, total);
                reclaim(&pool, request.body);
            } else {
                while tasks.len() >= in_flight {
                    join_one(&mut tasks).await?;
                }
                let store = self.clone();
                let pool = pool.clone();
                let progress = options.progress.clone();
                let (container, name) = (container.to_owned(), name.to_owned());
                tasks.spawn(async move {
                    let applied = store.resolve_checksum(requested);
                    let (data, checksum) = block_checksum(data, applied).await?;
                    let mut request =
                        store.put_block_request(&container, &name, &id, data, checksum);
                    store
                        .send_with_checksum(&mut request, requested, None)
                        .await?;
                    report_bytes(progress.as_ref(), length, total);
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
        // Every block was read: a file that changed since the start must not be committed.
        source.ensure_unchanged().await?;

        let digest = match whole {
            Some(whole) => Some(whole.finish().await?),
            None => None,
        };
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
    ///
    /// `request` keeps the checksum header it was last sent with, which is `Content-MD5`
    /// after a rejected CRC-64.
    async fn put_first_block(
        &self,
        request: &mut BlobRequest,
        options: &UploadOptions,
    ) -> Result<Option<(&'static str, String)>> {
        let requested = options.transactional_checksum;
        match self.send_with_checksum(request, requested, None).await {
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
        let requested = options.transactional_checksum;
        if let Some((header, value)) = self.resolve_checksum(requested).header(&body) {
            request = request.header(header, value);
        }
        if let Some((header, value)) = condition {
            request = request.header(header, value);
        }
        let mut request = request.body(body);
        let response = self
            .send_with_checksum(&mut request, requested, None)
            .await?;
        Ok(response.header("etag").unwrap_or("").to_owned())
    }
}

/// Computes a block's transactional checksum header off the async threads. `checksum` is
/// already resolved, so it is not `Auto`.
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
