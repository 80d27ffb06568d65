//! Downloading the blobs under a prefix to a local directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use super::plan::{directory_prefix, io_error, local_path, relative_path};
use super::run::{FileJob, FileOutcome, run_files};
use super::{FailedFile, TreeOptions, TreeReport};
use crate::Result;
use crate::blob::client::BlobStore;
use crate::blob::download::DownloadOptions;
use crate::blob::file_ranges::RangeBuffers;
use crate::blob::list::BlobItem;
use crate::blob::progress::{BytesCallback, ProgressTracker};

/// The blob and local path of one file's download.
pub(crate) struct DownloadJob {
    name: String,
    path: PathBuf,
}

impl BlobStore {
    /// Downloads the blobs under `prefix` into `local_dir`, keeping their relative paths.
    ///
    /// A non-empty `prefix` is a directory (`results/job` means `results/job/`). Blobs are
    /// selected by [`TreeOptions::include`] and [`TreeOptions::exclude`] against their path
    /// relative to the prefix. Each file is written to a temporary file in its folder and
    /// renamed into place once complete and verified, and missing folders are created.
    /// Directory marker blobs (names ending with `/`) are skipped.
    ///
    /// # Errors
    ///
    /// Returns an error only when nothing could start: invalid options, a failed listing,
    /// or a `local_dir` that cannot be created. Each blob whose name is not a safe relative
    /// path (`..`, an absolute part, NUL, backslash or empty components) fails with
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) naming it and is never
    /// written. Failed files are listed in [`TreeReport::failed`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the downloads in flight; their temporary files are
    /// removed, and files already renamed into place stay.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn example(store: elb_core::blob::BlobStore) -> elb_core::Result<()> {
    /// use elb_core::blob::TreeOptions;
    ///
    /// let options = TreeOptions::default().with_include("*.out.gz;*.out")?;
    /// let report = store
    ///     .download_prefix("results", "2026/12/04/1a2b3c4d/job-0123", "out", &options)
    ///     .await?
    ///     .ensure_success()?;
    /// println!("{} files, {} bytes", report.files, report.bytes);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_prefix(
        &self,
        container: &str,
        prefix: &str,
        local_dir: impl AsRef<Path>,
        options: &TreeOptions,
    ) -> Result<TreeReport> {
        let local_dir = local_dir.as_ref().to_path_buf();
        let span = tracing::debug_span!(
            "blob.download_prefix",
            blob.container = container,
            blob.prefix = prefix,
            path = %local_dir.display()
        );
        self.download_prefix_inner(container, prefix, local_dir, options)
            .instrument(span)
            .await
    }

    async fn download_prefix_inner(
        &self,
        container: &str,
        prefix: &str,
        local_dir: PathBuf,
        options: &TreeOptions,
    ) -> Result<TreeReport> {
        let started = Instant::now();
        options.validate()?;
        let prefix = directory_prefix(prefix);
        let blobs = self.list_blobs(container, &prefix).await?;
        tokio::fs::create_dir_all(&local_dir)
            .await
            .map_err(|error| io_error(&local_dir, error))?;

        let mut report = TreeReport::default();
        let (jobs, rejected) = plan_downloads(blobs, &prefix, &local_dir, options, &mut report);
        let files_total = (jobs.len() + rejected.len()) as u64;
        let bytes_total = jobs.iter().map(|job| job.size).sum();
        let progress = Arc::new(ProgressTracker::start(
            options.progress.clone(),
            files_total,
            bytes_total,
        ));
        for failed in &rejected {
            progress.file_failed(&failed.path, &failed.error);
        }
        let stop_early = options.fail_fast && !rejected.is_empty();
        report.failed.extend(rejected);

        if stop_early {
            report.cancelled += jobs.len() as u64;
        } else {
            let buffers = RangeBuffers::default();
            let transfer = |job: DownloadJob, concurrency: usize, bytes: BytesCallback| {
                let store = self.clone();
                let buffers = buffers.clone();
                let container = container.to_owned();
                let download = DownloadOptions {
                    concurrency,
                    progress: Some(bytes),
                    ..options.download.clone()
                };
                async move {
                    if let Some(parent) = job.path.parent() {
                        tokio::fs::create_dir_all(parent)
                            .await
                            .map_err(|error| io_error(parent, error))?;
                    }
                    let downloaded = store
                        .download_file_with_buffers(
                            &container,
                            &job.name,
                            &job.path,
                            &download,
                            Some(buffers),
                        )
                        .await?;
                    Ok(FileOutcome::Done(downloaded.bytes))
                }
            };
            run_files(jobs, options, &progress, &mut report, transfer).await;
        }
        progress.finish();

        report.elapsed = started.elapsed();
        tracing::debug!(
            files = report.files,
            bytes = report.bytes,
            failed = report.failed.len(),
            "downloaded a prefix"
        );
        Ok(report)
    }
}

/// Turns listed blobs into download jobs; counts skipped ones in `report` and returns the
/// blobs whose names are unsafe as failures.
fn plan_downloads(
    blobs: Vec<BlobItem>,
    prefix: &str,
    local_dir: &Path,
    options: &TreeOptions,
    report: &mut TreeReport,
) -> (Vec<FileJob<DownloadJob>>, Vec<FailedFile>) {
    let filter = options.filter();
    let range_size = options.download.range_size.max(1);
    let mut jobs = Vec::new();
    let mut rejected = Vec::new();
    for blob in blobs {
        if blob.name.ends_with('/') && blob.size == 0 {
            report.skipped += 1;
            continue;
        }
        let relative = match relative_path(prefix, &blob.name) {
            Ok(relative) => relative,
            Err(error) => {
                rejected.push(FailedFile {
                    path: blob.name,
                    error,
                });
                continue;
            }
        };
        if !filter.accepts(&relative) {
            report.skipped += 1;
            continue;
        }
        let path = local_path(local_dir, &relative);
        if !options.overwrite && path.exists() {
            report.skipped_existing += 1;
            continue;
        }
        jobs.push(FileJob {
            relative,
            size: blob.size,
            parts: blob.size.div_ceil(range_size).max(1),
            payload: DownloadJob {
                name: blob.name,
                path,
            },
        });
    }
    (jobs, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(name: &str, size: u64) -> BlobItem {
        BlobItem {
            name: name.to_owned(),
            size,
            ..BlobItem::default()
        }
    }

    #[test]
    fn plan_skips_rejects_and_maps_paths() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("old.out"), b"x").unwrap();
        let options = TreeOptions {
            overwrite: false,
            ..TreeOptions::default()
                .with_include("*.out.gz;*.out")
                .unwrap()
        };
        let blobs = vec![
            blob("j/a.out.gz", 10 * 1024 * 1024),
            blob("j/dir/", 0),
            blob("j/../evil.out", 1),
            blob("j/logs/x.log", 1),
            blob("j/old.out", 1),
            blob("j/shard_00/b.out", 0),
        ];
        let mut report = TreeReport::default();
        let (jobs, rejected) = plan_downloads(blobs, "j/", root.path(), &options, &mut report);

        let relative: Vec<_> = jobs.iter().map(|job| job.relative.as_str()).collect();
        assert_eq!(relative, ["a.out.gz", "shard_00/b.out"]);
        assert_eq!(jobs[0].parts, 3);
        assert_eq!(jobs[1].parts, 1);
        assert_eq!(
            jobs[1].payload.path,
            root.path().join("shard_00").join("b.out")
        );
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].path, "j/../evil.out");
        assert_eq!(report.skipped, 2);
        assert_eq!(report.skipped_existing, 1);
    }
}
