//! Background download of one blob into a bounded channel of chunks, for read-ahead.

use bytes::Bytes;
use futures::StreamExt;
use http::Method;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Result;
use crate::blob::client::BlobStore;
use crate::blob::list::BlobItem;
use crate::blob::request::BlobRequest;
use crate::blob::status::error_from_transport;

/// Chunks buffered per blob before its download waits for the consumer.
pub(crate) const CHUNKS_PER_BLOB: usize = 16;

/// A blob download running in the background; dropping it stops the download.
pub(crate) struct BlobFetch {
    pub(crate) chunks: mpsc::Receiver<Result<Bytes>>,
    task: JoinHandle<()>,
}

impl Drop for BlobFetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts downloading `blob` on a new task.
///
/// The download sends `If-Match` with the listed ETag, so a blob replaced after the listing
/// fails with [`ErrorKind::PreconditionFailed`](crate::ErrorKind::PreconditionFailed)
/// instead of mixing two versions. A body that breaks off is resumed from the next byte
/// with a ranged request, within the store's retry budget.
pub(crate) fn spawn_fetch(store: &BlobStore, container: &str, blob: &BlobItem) -> BlobFetch {
    let (sender, chunks) = mpsc::channel(CHUNKS_PER_BLOB);
    let store = store.clone();
    let container = container.to_owned();
    let name = blob.name.clone();
    let etag = blob.etag.clone();
    let task = tokio::spawn(async move {
        if let Err(error) = fetch(&store, &container, &name, etag.as_deref(), &sender).await {
            // A send fails only when the archive was dropped, which needs no error.
            let _ = sender.send(Err(error)).await;
        }
    });
    BlobFetch { chunks, task }
}

async fn fetch(
    store: &BlobStore,
    container: &str,
    name: &str,
    etag: Option<&str>,
    sender: &mpsc::Sender<Result<Bytes>>,
) -> Result<()> {
    let mut offset: u64 = 0;
    let mut retry = 0;
    loop {
        let mut request = BlobRequest::new("get blob", Method::GET).blob(container, name);
        if let Some(etag) = etag {
            request = request.header("if-match", format!("\"{}\"", etag.trim_matches('"')));
        }
        if offset > 0 {
            request = request.header("x-ms-range", format!("bytes={offset}-"));
        }
        let response = store.send_streaming(&request).await?;
        let mut body = response.bytes_stream();
        let broken = loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    offset += chunk.len() as u64;
                    if sender.send(Ok(chunk)).await.is_err() {
                        return Ok(());
                    }
                }
                Some(Err(error)) => break error,
                None => return Ok(()),
            }
        };
        let error = error_from_transport(&request, &store.target(&request), broken);
        store
            .pause_before_retry(&request, &mut retry, error)
            .await?;
    }
}
