//! Deleting every blob under a prefix.

use futures::{StreamExt, TryStreamExt, stream};
use tracing::Instrument;

use super::client::BlobStore;
use super::tree::plan::directory_prefix;
use crate::{Error, ErrorKind, Result};

/// Number of delete requests in flight at once in [`BlobStore::delete_prefix`].
pub const DELETE_CONCURRENCY: usize = 32;

impl BlobStore {
    /// Deletes every blob under `prefix` with its snapshots, and returns how many it deleted.
    ///
    /// A non-empty `prefix` is a directory: `results/job1` deletes `results/job1/...` and
    /// leaves `results/job10/...` alone. Up to [`DELETE_CONCURRENCY`] deletes run at once.
    /// A blob that is already gone when its delete arrives counts as done but not as
    /// deleted, so a second call, or a race with another deleter, succeeds.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] for an empty prefix (deleting a whole container is
    /// a container operation), the listing's error, or the first failed delete.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops sending deletes; blobs already deleted stay deleted.
    pub async fn delete_prefix(&self, container: &str, prefix: &str) -> Result<usize> {
        if prefix.is_empty() || prefix == "/" {
            return Err(Error::invalid_input(format!(
                "prefix {prefix:?} would delete the whole container {container}; \
                 pass a non-empty prefix such as \"results/<job>/\""
            )));
        }
        let prefix = directory_prefix(prefix);
        let span = tracing::debug_span!(
            "blob.delete_prefix",
            blob.container = container,
            blob.prefix = %prefix
        );
        self.delete_listed(container, &prefix)
            .instrument(span)
            .await
    }

    async fn delete_listed(&self, container: &str, prefix: &str) -> Result<usize> {
        let blobs = self.list_blobs(container, prefix).await?;
        let total = blobs.len();

        let deleted: Vec<bool> = stream::iter(blobs)
            .map(|blob| self.delete_if_present(container, blob.name))
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect()
            .await?;
        let deleted = deleted.into_iter().filter(|&deleted| deleted).count();
        tracing::debug!(
            blob.container = container,
            blob.prefix = %prefix,
            listed = total,
            deleted,
            "deleted a prefix"
        );
        Ok(deleted)
    }

    /// Deletes one blob with its snapshots; returns `false` when it did not exist.
    async fn delete_if_present(&self, container: &str, name: String) -> Result<bool> {
        match self.delete_blob(container, &name).await {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound && is_blob_missing(&error) => {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }
}

/// Returns `true` when a 404 means the blob is gone rather than the container.
fn is_blob_missing(error: &Error) -> bool {
    error.code() != Some("ContainerNotFound")
}
