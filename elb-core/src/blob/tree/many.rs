//! Properties and existence of many blobs, read concurrently.

use futures::{StreamExt, stream};

use crate::blob::client::BlobStore;
use crate::blob::ops::BlobProperties;
use crate::{Error, ErrorKind, Result};

/// One blob's name with its properties, `None` when it does not exist, or the error.
pub type PropertiesResult = (String, Result<Option<BlobProperties>>);

impl BlobStore {
    /// Reads the properties of many blobs with up to `concurrency` requests at once.
    ///
    /// Results come back in the order of `names`. A missing blob gives `Ok(None)`; any other
    /// failure is kept with its blob and does not stop the others.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] when `concurrency` is 0.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the remaining requests; nothing is changed by them.
    pub async fn properties_many<I, S>(
        &self,
        container: &str,
        names: I,
        concurrency: usize,
    ) -> Result<Vec<PropertiesResult>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if concurrency == 0 {
            return Err(Error::invalid_input(
                "properties concurrency is 0; use at least 1",
            ));
        }
        let results = stream::iter(names.into_iter().map(Into::into))
            .map(|name: String| async move {
                let properties = match self.properties(container, &name).await {
                    Ok(properties) => Ok(Some(properties)),
                    Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(error),
                };
                (name, properties)
            })
            .buffered(concurrency)
            .collect()
            .await;
        Ok(results)
    }

    /// Returns, in the order of `names`, whether each blob exists.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] when `concurrency` is 0, and the first failure
    /// other than "not found".
    ///
    /// # Cancel safety
    ///
    /// As [`BlobStore::properties_many`].
    pub async fn exists_many<I, S>(
        &self,
        container: &str,
        names: I,
        concurrency: usize,
    ) -> Result<Vec<bool>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.properties_many(container, names, concurrency)
            .await?
            .into_iter()
            .map(|(_, properties)| properties.map(|found| found.is_some()))
            .collect()
    }
}
