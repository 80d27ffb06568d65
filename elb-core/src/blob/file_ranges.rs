//! File downloads: ranges read by independent tasks and written at their offsets, with the
//! MD5 computed in order from the file as the ranges before each byte are written.

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use md5::{Digest, Md5};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::client::BlobStore;
use super::download::{DownloadOptions, FirstRange};
use super::plan::split_ranges;
use super::progress::report_bytes;
use super::upload::{MAX_BUFFERED_BYTES, join_error};
use crate::{Error, ErrorKind, Result};

/// Bytes the MD5 thread reads from the file at a time.
const HASH_CHUNK: usize = 1 << 20;

/// Range buffers that downloads reuse. The files of one multi-file download share one pool,
/// because buffers freed after each file stayed in glibc's heap. Downloading 16 files of
/// 64 MiB from Azurite peaked at 284 MB resident with a pool per file, 170 MB with one pool.
pub(crate) type RangeBuffers = Arc<Mutex<Vec<BytesMut>>>;

/// The outcome of [`BlobStore::download_ranges_to_file`].
pub(crate) struct FileRanges {
    /// Bytes written, counted from offset 0 without gaps.
    pub(crate) written: u64,
    /// The content's MD5, when `verify_md5` is on and the blob has a stored MD5.
    pub(crate) md5: Option<[u8; 16]>,
}

impl BlobStore {
    /// Writes `first` and every later range of the blob into `file` at their offsets.
    ///
    /// At most `options.concurrency` ranges, and no more than [`MAX_BUFFERED_BYTES`] of them
    /// (but at least one range), are in flight. Each reuses a buffer from `buffers`, so the
    /// buffers are those ranges plus `first`, its copy and one MD5 read chunk.
    pub(crate) async fn download_ranges_to_file(
        &self,
        container: &str,
        name: &str,
        first: &FirstRange,
        file: File,
        options: &DownloadOptions,
        buffers: RangeBuffers,
    ) -> Result<FileRanges> {
        let file = Arc::new(file);
        let total = first.total;
        // Without a stored MD5 there is nothing to compare, so the content is not hashed.
        let hash = options.verify_md5 && first.content_md5.is_some();
        let hasher = hash.then(|| FileMd5::start(file.clone()));
        let first_length = first.data.len() as u64;
        let mut copy = buffers
            .lock()
            .expect("range pool lock")
            .pop()
            .unwrap_or_default();
        copy.clear();
        copy.extend_from_slice(&first.data);
        let copy = write_at(&file, copy, 0).await?;
        buffers.lock().expect("range pool lock").push(copy);
        if let Some(hasher) = &hasher {
            hasher.written(0..first_length);
        }
        report_bytes(options.progress.as_ref(), first_length, Some(total));

        let pool = buffers;
        let mut tasks: JoinSet<Result<Range<u64>>> = JoinSet::new();
        let ranges = split_ranges(total - first_length, options.range_size)
            .into_iter()
            .map(|range| range.start + first_length..range.end + first_length);
        let budget = (MAX_BUFFERED_BYTES / options.range_size.max(1)) as usize;
        let in_flight = options.concurrency.min(budget).max(1);
        let mut written = first_length;
        for range in ranges {
            while tasks.len() >= in_flight {
                written += finish_one(&mut tasks, hasher.as_ref()).await?;
            }
            let store = self.clone();
            let (container, name, etag) =
                (container.to_owned(), name.to_owned(), first.etag.clone());
            let (file, pool) = (file.clone(), pool.clone());
            let progress = options.progress.clone();
            tasks.spawn(async move {
                let buffer = pool.lock().expect("range pool lock").pop();
                let buffer = buffer.unwrap_or_default();
                let data = store
                    .read_range_into(&container, &name, &etag, range.clone(), buffer)
                    .await?;
                let buffer = write_at(&file, data, range.start).await?;
                pool.lock().expect("range pool lock").push(buffer);
                report_bytes(progress.as_ref(), range.end - range.start, Some(total));
                Ok(range)
            });
        }
        while !tasks.is_empty() {
            written += finish_one(&mut tasks, hasher.as_ref()).await?;
        }
        let md5 = match hasher {
            Some(hasher) => {
                let (hashed, digest) = hasher.finish().await?;
                // Every range was written, so the MD5 thread must have reached the end.
                if hashed != written {
                    return Err(Error::new(
                        ErrorKind::Integrity,
                        format!("the download MD5 covered only {hashed} of {written} bytes"),
                    ));
                }
                Some(digest)
            }
            None => None,
        };
        if options.sync_file {
            tokio::task::spawn_blocking(move || file.sync_all())
                .await
                .map_err(join_error)?
                .map_err(|error| {
                    Error::new(ErrorKind::Transport, "cannot flush the downloaded file")
                        .with_source(error)
                })?;
        }
        Ok(FileRanges { written, md5 })
    }
}

/// Waits for one range task and reports its range to the MD5 thread. Returns the range's
/// length.
async fn finish_one(
    tasks: &mut JoinSet<Result<Range<u64>>>,
    hasher: Option<&FileMd5>,
) -> Result<u64> {
    let range = match tasks.join_next().await {
        Some(Ok(result)) => result?,
        Some(Err(error)) => return Err(join_error(error)),
        None => return Ok(0),
    };
    if let Some(hasher) = hasher {
        hasher.written(range.clone());
    }
    Ok(range.end - range.start)
}

/// Writes `data` at `offset` off the async threads and returns the buffer for reuse.
async fn write_at(file: &Arc<File>, data: BytesMut, offset: u64) -> Result<BytesMut> {
    let file = file.clone();
    tokio::task::spawn_blocking(move || {
        file.write_all_at(&data, offset).map_err(|error| {
            Error::new(ErrorKind::Transport, "cannot write the downloaded content")
                .with_source(error)
        })?;
        Ok(data)
    })
    .await
    .map_err(join_error)?
}

/// An MD5 of the file computed on its own thread, which reads each byte back once every
/// range before it is written.
struct FileMd5 {
    sender: mpsc::UnboundedSender<Range<u64>>,
    task: tokio::task::JoinHandle<std::io::Result<(u64, [u8; 16])>>,
}

impl FileMd5 {
    fn start(file: Arc<File>) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Range<u64>>();
        let task = tokio::task::spawn_blocking(move || {
            let mut hasher = Md5::new();
            let mut buffer = vec![0u8; HASH_CHUNK];
            let mut ready = BTreeMap::new();
            let mut cursor = 0u64;
            while let Some(range) = receiver.blocking_recv() {
                ready.insert(range.start, range.end);
                while let Some(end) = ready.remove(&cursor) {
                    hash_file_range(&file, cursor..end, &mut hasher, &mut buffer)?;
                    cursor = end;
                }
            }
            Ok((cursor, hasher.finalize().into()))
        });
        Self { sender, task }
    }

    /// Reports that `range` of the file is written.
    fn written(&self, range: Range<u64>) {
        // A send fails only after the thread stopped, and `finish` returns the reason.
        let _ = self.sender.send(range);
    }

    /// Returns how many bytes from offset 0 were hashed, and their MD5.
    async fn finish(self) -> Result<(u64, [u8; 16])> {
        drop(self.sender);
        self.task.await.map_err(join_error)?.map_err(|error| {
            Error::new(
                ErrorKind::Transport,
                "cannot read back the downloaded content",
            )
            .with_source(error)
        })
    }
}

fn hash_file_range(
    file: &File,
    range: Range<u64>,
    hasher: &mut Md5,
    buffer: &mut [u8],
) -> std::io::Result<()> {
    let mut offset = range.start;
    while offset < range.end {
        let length = ((range.end - offset) as usize).min(buffer.len());
        file.read_exact_at(&mut buffer[..length], offset)?;
        hasher.update(&buffer[..length]);
        offset += length as u64;
    }
    Ok(())
}
