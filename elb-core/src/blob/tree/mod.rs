//! Directory upload and prefix download: many files in one call, with name patterns, one
//! shared concurrency limit, progress events and a per-file report.

mod download;
mod many;
pub(crate) mod plan;
mod run;
mod upload;

use std::fmt;
use std::time::Duration;

use super::download::DownloadOptions;
use super::pattern::{NamePatterns, PatternFilter};
use super::progress::ProgressCallback;
use super::upload::UploadOptions;
use crate::{Error, Result};

pub use many::PropertiesResult;

/// Default number of requests in flight across all files of one call: azcopy's default on
/// machines with up to 4 cores.
pub const DEFAULT_TREE_CONCURRENCY: usize = 32;

/// Options of [`BlobStore::upload_dir`](super::BlobStore::upload_dir) and
/// [`BlobStore::download_prefix`](super::BlobStore::download_prefix).
#[derive(Clone)]
pub struct TreeOptions {
    /// Files to transfer, matched against the path relative to the directory or prefix;
    /// empty transfers all. See [`NamePatterns`] for the syntax.
    pub include: NamePatterns,
    /// Files to leave out, even when `include` matches them.
    pub exclude: NamePatterns,
    /// Maximum number of requests in flight across all files, blocks and ranges of the call.
    pub concurrency: usize,
    /// Whether an existing destination (blob or local file) is replaced; when off, it is
    /// left alone and counted in [`TreeReport::skipped_existing`].
    pub overwrite: bool,
    /// Whether the first failed file cancels the files still running or waiting; when off,
    /// every file is attempted and all failures are reported.
    pub fail_fast: bool,
    /// Receives progress events; `None` for none.
    ///
    /// Bytes count as each block is staged or each range is written, so a large file
    /// moves `bytes_done` during its transfer, with [`ProgressStage::Bytes`] events at most
    /// every [`BYTES_EVENT_INTERVAL`].
    ///
    /// [`ProgressStage::Bytes`]: super::progress::ProgressStage::Bytes
    /// [`BYTES_EVENT_INTERVAL`]: super::progress::BYTES_EVENT_INTERVAL
    pub progress: Option<ProgressCallback>,
    /// Settings of each file's upload; its `concurrency`, `overwrite` and `progress` are set
    /// per file.
    pub upload: UploadOptions,
    /// Settings of each file's download; its `concurrency` and `progress` are set per file.
    pub download: DownloadOptions,
}

impl Default for TreeOptions {
    fn default() -> Self {
        Self {
            include: NamePatterns::default(),
            exclude: NamePatterns::default(),
            concurrency: DEFAULT_TREE_CONCURRENCY,
            overwrite: true,
            fail_fast: false,
            progress: None,
            upload: UploadOptions::default(),
            download: DownloadOptions::default(),
        }
    }
}

impl TreeOptions {
    /// Sets the include patterns from a `;`-separated list such as `"*.out.gz;*.out"`.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming a glob
    /// that does not parse.
    pub fn with_include(mut self, patterns: &str) -> Result<Self> {
        self.include = NamePatterns::parse(patterns)?;
        Ok(self)
    }

    /// Sets the exclude patterns from a `;`-separated list.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming a glob
    /// that does not parse.
    pub fn with_exclude(mut self, patterns: &str) -> Result<Self> {
        self.exclude = NamePatterns::parse(patterns)?;
        Ok(self)
    }

    pub(crate) fn filter(&self) -> PatternFilter {
        PatternFilter {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.concurrency == 0 {
            return Err(Error::invalid_input(
                "tree transfer concurrency is 0; use at least 1",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for TreeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeOptions")
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("concurrency", &self.concurrency)
            .field("overwrite", &self.overwrite)
            .field("fail_fast", &self.fail_fast)
            .field("progress", &self.progress.is_some())
            .field("upload", &self.upload)
            .field("download", &self.download)
            .finish()
    }
}

/// A file that failed, with its error.
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedFile {
    /// The path relative to the directory or prefix (for a download, the blob name when it
    /// is not a safe relative path).
    pub path: String,
    /// The cause of the failure.
    pub error: Error,
}

/// The outcome of a directory upload or prefix download.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct TreeReport {
    /// Files transferred.
    pub files: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Files left out by the include and exclude patterns (and, for downloads, directory
    /// marker blobs whose names end with `/`).
    pub skipped: u64,
    /// Files not transferred because the destination exists and `overwrite` is off.
    pub skipped_existing: u64,
    /// Files that failed, in the order they failed.
    pub failed: Vec<FailedFile>,
    /// Files never finished because `fail_fast` stopped the call.
    pub cancelled: u64,
    /// Time from the start of the listing or walk to the end of the last file.
    pub elapsed: Duration,
}

impl TreeReport {
    /// Returns `true` when no file failed or was cancelled.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.cancelled == 0
    }

    /// Returns the report when every file succeeded, or an error that counts the failures
    /// and carries the first one as its cause.
    ///
    /// # Errors
    ///
    /// Returns an error of the first failure's kind, naming its file.
    pub fn ensure_success(mut self) -> Result<Self> {
        if self.failed.is_empty() {
            return Ok(self);
        }
        let count = self.failed.len();
        let first = self.failed.remove(0);
        let message = format!(
            "{count} file(s) failed, the first being {}: {}",
            first.path,
            first.error.message()
        );
        Err(Error::new(first.error.kind(), message)
            .with_target(first.path)
            .with_source(first.error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn report_success_and_failure() {
        let report = TreeReport::default();
        assert!(report.is_success());
        assert!(report.ensure_success().is_ok());

        let report = TreeReport {
            failed: vec![
                FailedFile {
                    path: "a/b.txt".into(),
                    error: Error::new(ErrorKind::NotFound, "blob a/b.txt not found"),
                },
                FailedFile {
                    path: "c".into(),
                    error: Error::invalid_input("bad"),
                },
            ],
            ..TreeReport::default()
        };
        assert!(!report.is_success());
        let error = report.ensure_success().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(error.target(), Some("a/b.txt"));
        assert_eq!(
            error.message(),
            "2 file(s) failed, the first being a/b.txt: blob a/b.txt not found"
        );
    }

    #[test]
    fn options_reject_zero_concurrency() {
        let options = TreeOptions {
            concurrency: 0,
            ..TreeOptions::default()
        };
        assert_eq!(
            options.validate().unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let error = TreeOptions::default().with_include("[").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
    }
}
