//! The storage check of the health report.

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Map, Value};

use crate::Result;
use crate::blob::{BlobStore, ListOptions};

/// A storage check: proves that the service's identity can read blob storage.
#[async_trait]
pub trait StorageProbe: Send + Sync {
    /// Runs the check and returns the details to report next to `"status": "ok"`.
    ///
    /// # Errors
    ///
    /// Returns the storage error, which the report shows as the check's message.
    async fn probe(&self) -> Result<Map<String, Value>>;
}

/// A storage check that lists at most one blob of a container.
#[derive(Clone)]
pub struct ContainerProbe {
    store: BlobStore,
    container: String,
}

impl ContainerProbe {
    /// Creates a probe of `container` in the account of `store`.
    pub fn new(store: BlobStore, container: impl Into<String>) -> Self {
        Self {
            store,
            container: container.into(),
        }
    }
}

#[async_trait]
impl StorageProbe for ContainerProbe {
    async fn probe(&self) -> Result<Map<String, Value>> {
        let options = ListOptions::default().with_page_size(1);
        let mut pages = std::pin::pin!(self.store.list_pages(&self.container, &options));
        if let Some(page) = pages.next().await {
            page?;
        }
        let mut details = Map::new();
        details.insert(
            "container".to_owned(),
            Value::String(self.container.clone()),
        );
        Ok(details)
    }
}
