//! Terminal markers and result blobs looked up in Azure Blob Storage.

use async_trait::async_trait;
use futures::StreamExt;

use super::markers::MarkerSource;
use super::status::Markers;
use crate::blob::{BlobStore, BlobUrl, ListItem, ListOptions};
use crate::{Error, Result};

/// Name of the success marker under a search's `metadata/` folder.
pub const SUCCESS_MARKER: &str = "SUCCESS.txt";
/// Name of the failure marker under a search's `metadata/` folder.
pub const FAILURE_MARKER: &str = "FAILURE.txt";

/// A [`MarkerSource`] that lists a search's results location in blob storage.
///
/// `results_prefix` is the results URL
/// (`https://<account>.blob.core.windows.net/results/[YYYY/MM/DD/]<job_id>/<elb_job_id>`)
/// or `<container>/<path>` in the store's account.
#[derive(Clone)]
pub struct BlobMarkers {
    store: BlobStore,
}

impl BlobMarkers {
    /// Creates a marker source on `store`.
    pub fn new(store: BlobStore) -> Self {
        Self { store }
    }
}

/// Splits `results_prefix` into the container and the folder path ending with `/`.
fn split_prefix(results_prefix: &str) -> Result<(String, String)> {
    let (container, path) =
        if results_prefix.starts_with("http://") || results_prefix.starts_with("https://") {
            let url = BlobUrl::parse(results_prefix)?;
            let container = url.container().unwrap_or_default().to_owned();
            (container, url.name().unwrap_or_default().to_owned())
        } else {
            let (container, path) = results_prefix
                .split_once('/')
                .unwrap_or((results_prefix, ""));
            (container.to_owned(), path.to_owned())
        };
    if container.is_empty() || path.trim_matches('/').is_empty() {
        return Err(Error::invalid_input(format!(
            "invalid results location {results_prefix:?}: expected a container and a search folder"
        )));
    }
    Ok((container, format!("{}/", path.trim_end_matches('/'))))
}

/// Returns whether a blob name is a BLAST result (`*.out.gz` or `*.out`).
fn is_result(name: &str) -> bool {
    name.ends_with(".out.gz") || name.ends_with(".out")
}

impl BlobMarkers {
    /// Returns whether a result blob is listable directly under `folder` or under one of its
    /// `shard_<XX>/` folders, stopping at the first one found.
    async fn results_listable(&self, container: &str, folder: &str) -> Result<bool> {
        let options = ListOptions::prefix(folder).with_delimiter("/");
        let mut items = std::pin::pin!(self.store.list(container, &options));
        let mut shards = Vec::new();
        while let Some(item) = items.next().await {
            match item? {
                ListItem::Blob(blob) if is_result(&blob.name) => return Ok(true),
                ListItem::Prefix(prefix) if prefix[folder.len()..].starts_with("shard_") => {
                    shards.push(prefix)
                }
                _ => {}
            }
        }
        for shard in shards {
            let options = ListOptions::prefix(shard);
            let mut items = std::pin::pin!(self.store.list(container, &options));
            while let Some(item) = items.next().await {
                if matches!(item?, ListItem::Blob(blob) if is_result(&blob.name)) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[async_trait]
impl MarkerSource for BlobMarkers {
    async fn markers(&self, results_prefix: &str) -> Result<Markers> {
        let (container, folder) = split_prefix(results_prefix)?;
        let metadata = format!("{folder}metadata/");
        let blobs = self.store.list_blobs(&container, &metadata).await?;
        let has = |marker: &str| {
            blobs
                .iter()
                .any(|blob| blob.name[metadata.len()..] == *marker)
        };
        let success = has(SUCCESS_MARKER);
        let failure = has(FAILURE_MARKER);
        let results_listable = success && self.results_listable(&container, &folder).await?;
        Ok(Markers {
            success,
            failure,
            results_listable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_from_url_and_path() {
        let (container, folder) = split_prefix(
            "https://acct.blob.core.windows.net/results/2025/06/01/0a1b2c3d/job-7f598a7eb6aa4e53a122c2a4d85a117f",
        )
        .unwrap();
        assert_eq!(container, "results");
        assert_eq!(
            folder,
            "2025/06/01/0a1b2c3d/job-7f598a7eb6aa4e53a122c2a4d85a117f/"
        );
        let (container, folder) = split_prefix("results/0a1b2c3d/job-1/").unwrap();
        assert_eq!(container, "results");
        assert_eq!(folder, "0a1b2c3d/job-1/");
    }

    #[test]
    fn prefix_without_folder_is_rejected() {
        assert!(split_prefix("results").is_err());
        assert!(split_prefix("results/").is_err());
    }

    #[test]
    fn result_names() {
        assert!(is_result("job-1/batch_000-blastn-core_nt_virus.out.gz"));
        assert!(is_result("job-1/shard_00/batch_000-blastn-nt.out"));
        assert!(!is_result("job-1/metadata/SUCCESS.txt"));
    }
}
