//! Listing the blobs of a container: flat, or one "directory" level with a delimiter.

mod xml;

use futures::{Stream, StreamExt, TryStreamExt, stream};
use http::Method;
use time::OffsetDateTime;

use super::client::BlobStore;
use super::request::BlobRequest;
use crate::{Error, Result};

/// The largest page the service returns; it also caps `page_size`.
pub const MAX_PAGE_SIZE: u32 = 5_000;

/// Options of a blob listing: prefix, delimiter and page size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only blobs whose names start with this text (a plain prefix, not a glob).
    pub prefix: Option<String>,
    /// Groups names by this separator (normally `/`): names that contain it after the prefix
    /// are returned once as a [`ListItem::Prefix`], like a directory.
    pub delimiter: Option<String>,
    /// Maximum entries per page, 1 to [`MAX_PAGE_SIZE`]; `None` lets the service choose
    /// (5,000).
    pub page_size: Option<u32>,
}

impl ListOptions {
    /// Creates options that list every blob under `prefix`, without a delimiter.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: Some(prefix.into()),
            ..Self::default()
        }
    }

    /// Sets the delimiter.
    pub fn with_delimiter(mut self, delimiter: impl Into<String>) -> Self {
        self.delimiter = Some(delimiter.into());
        self
    }

    /// Sets the page size.
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    fn validate(&self) -> Result<()> {
        if let Some(size) = self.page_size
            && !(1..=MAX_PAGE_SIZE).contains(&size)
        {
            return Err(Error::invalid_input(format!(
                "list page size {size} is out of range; use 1 to {MAX_PAGE_SIZE}"
            )));
        }
        if self.delimiter.as_deref() == Some("") {
            return Err(Error::invalid_input(
                "list delimiter is empty; use \"/\" or leave it unset",
            ));
        }
        Ok(())
    }
}

/// A blob and the properties the listing returns for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobItem {
    /// The full blob name, decoded.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag in the quoted form of the `ETag` header, as in
    /// [`BlobProperties::etag`](crate::blob::BlobProperties::etag).
    pub etag: Option<String>,
    /// MD5 of the whole content, when the writer stored one.
    pub content_md5: Option<[u8; 16]>,
    /// Time of the last change.
    pub last_modified: Option<OffsetDateTime>,
    /// The `Content-Type` property.
    pub content_type: Option<String>,
    /// `BlockBlob`, `AppendBlob` or `PageBlob`.
    pub blob_type: Option<String>,
}

/// One entry of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListItem {
    /// A blob.
    Blob(BlobItem),
    /// A name prefix that ends with the delimiter and groups further blobs (a "directory");
    /// returned only when a delimiter is set.
    Prefix(String),
}

impl ListItem {
    /// Returns the blob or prefix name.
    pub fn name(&self) -> &str {
        match self {
            Self::Blob(blob) => &blob.name,
            Self::Prefix(prefix) => prefix,
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListPage {
    /// Blobs and prefixes in name order.
    pub items: Vec<ListItem>,
    /// The continuation marker of the next page, or `None` on the last page.
    pub next_marker: Option<String>,
}

impl BlobStore {
    /// Lists a container page by page, following continuation markers.
    ///
    /// Each page is one List Blobs request, sent with the store's retries. The stream ends
    /// after the last page or the first error.
    ///
    /// # Errors
    ///
    /// The stream yields [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) first
    /// for invalid options, [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for a
    /// missing container, and the request's error otherwise.
    pub fn list_pages(
        &self,
        container: &str,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<ListPage>> + Send + 'static {
        let store = self.clone();
        let container = container.to_owned();
        let options = options.clone();
        // The state is the marker of the next page; `None` after the last page.
        let first: Option<Option<String>> = Some(None);
        stream::try_unfold(first, move |state| {
            let store = store.clone();
            let container = container.clone();
            let options = options.clone();
            async move {
                let Some(marker) = state else {
                    return Ok(None);
                };
                options.validate()?;
                let page = store
                    .list_page(&container, &options, marker.as_deref())
                    .await?;
                let next = page.next_marker.clone().map(Some);
                Ok(Some((page, next)))
            }
        })
    }

    /// Lists a container item by item; see [`BlobStore::list_pages`].
    ///
    /// # Errors
    ///
    /// As [`BlobStore::list_pages`].
    pub fn list(
        &self,
        container: &str,
        options: &ListOptions,
    ) -> impl Stream<Item = Result<ListItem>> + Send + 'static {
        self.list_pages(container, options)
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
    }

    /// Lists a container completely and returns every item in name order.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::list_pages`].
    pub async fn list_all(&self, container: &str, options: &ListOptions) -> Result<Vec<ListItem>> {
        self.list(container, options).try_collect().await
    }

    /// Lists every blob whose name starts with `prefix`, without a delimiter.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::list_pages`].
    pub async fn list_blobs(&self, container: &str, prefix: &str) -> Result<Vec<BlobItem>> {
        let options = ListOptions::prefix(prefix);
        let mut pages = std::pin::pin!(self.list_pages(container, &options));
        let mut blobs = Vec::new();
        while let Some(page) = pages.next().await {
            blobs.extend(page?.items.into_iter().filter_map(|item| match item {
                ListItem::Blob(blob) => Some(blob),
                ListItem::Prefix(_) => None,
            }));
        }
        Ok(blobs)
    }

    async fn list_page(
        &self,
        container: &str,
        options: &ListOptions,
        marker: Option<&str>,
    ) -> Result<ListPage> {
        let mut request = BlobRequest::new("list blobs", Method::GET)
            .container(container)
            .query("restype", "container")
            .query("comp", "list");
        if let Some(prefix) = options
            .prefix
            .as_deref()
            .filter(|prefix| !prefix.is_empty())
        {
            request = request.query("prefix", prefix);
        }
        if let Some(delimiter) = &options.delimiter {
            request = request.query("delimiter", delimiter);
        }
        if let Some(marker) = marker {
            request = request.query("marker", marker);
        }
        if let Some(size) = options.page_size {
            request = request.query("maxresults", size.to_string());
        }
        let response = self.send(&request).await?;
        let text = std::str::from_utf8(&response.body).map_err(|_| {
            Error::new(
                crate::ErrorKind::Service,
                "invalid List Blobs response: the body is not UTF-8",
            )
            .with_target(self.blob_url(container, ""))
        })?;
        let page = xml::parse_page(text)
            .map_err(|error| error.with_target(self.blob_url(container, "")))?;
        tracing::debug!(
            blob.container = container,
            items = page.items.len(),
            more = page.next_marker.is_some(),
            "listed a page of blobs"
        );
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_reject_bad_page_size() {
        for size in [0, MAX_PAGE_SIZE + 1] {
            let error = ListOptions::prefix("a/")
                .with_page_size(size)
                .validate()
                .unwrap_err();
            assert!(error.message().contains(&size.to_string()), "{error}");
        }
        assert!(ListOptions::default().with_page_size(1).validate().is_ok());
    }

    #[test]
    fn options_reject_empty_delimiter() {
        let error = ListOptions::default()
            .with_delimiter("")
            .validate()
            .unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
    }
}
