//! Uploading a local directory tree to a blob prefix.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;

use super::plan::{LocalFile, blob_name, directory_prefix, walk};
use super::run::{FileJob, FileOutcome, run_files};
use super::{TreeOptions, TreeReport};
use crate::blob::client::BlobStore;
use crate::blob::plan::block_size_for;
use crate::blob::progress::{BytesCallback, ProgressTracker};
use crate::blob::upload::UploadOptions;
use crate::{ErrorKind, Result};

impl BlobStore {
    /// Uploads the files under `local_dir` to blobs named `<prefix>/<relative path>`.
    ///
    /// A non-empty `prefix` is a directory (`/` is added when missing). Files are selected by
    /// [`TreeOptions::include`] and [`TreeOptions::exclude`] against their relative path,
    /// and uploaded with one shared limit of [`TreeOptions::concurrency`] requests. Each
    /// file's outcome goes to the returned report and to the progress callback.
    ///
    /// # Errors
    ///
    /// Returns an error only when nothing could start: invalid options, or a `local_dir`
    /// that is missing, not a directory or has a file name that is not UTF-8. Failed files
    /// are listed in [`TreeReport::failed`]; use [`TreeReport::ensure_success`] to turn them
    /// into an error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the uploads in flight. Blobs already committed stay;
    /// a blob whose upload was interrupted keeps its previous content.
    pub async fn upload_dir(
        &self,
        local_dir: impl AsRef<Path>,
        container: &str,
        prefix: &str,
        options: &TreeOptions,
    ) -> Result<TreeReport> {
        let local_dir = local_dir.as_ref().to_path_buf();
        let span = tracing::debug_span!(
            "blob.upload_dir",
            blob.container = container,
            blob.prefix = prefix,
            path = %local_dir.display()
        );
        self.upload_dir_inner(local_dir, container, prefix, options)
            .instrument(span)
            .await
    }

    async fn upload_dir_inner(
        &self,
        local_dir: std::path::PathBuf,
        container: &str,
        prefix: &str,
        options: &TreeOptions,
    ) -> Result<TreeReport> {
        let started = Instant::now();
        options.validate()?;
        crate::blob::location::validate_container(container)?;
        let prefix = directory_prefix(prefix);
        let files = tokio::task::spawn_blocking(move || walk(&local_dir))
            .await
            .map_err(crate::blob::upload::join_error)??;

        let filter = options.filter();
        let mut report = TreeReport::default();
        let mut jobs = Vec::new();
        for file in files {
            if !filter.accepts(&file.relative) {
                report.skipped += 1;
                continue;
            }
            jobs.push(FileJob {
                relative: file.relative.clone(),
                size: file.size,
                parts: upload_parts(file.size, &options.upload),
                payload: file,
            });
        }
        let bytes_total = jobs.iter().map(|job| job.size).sum();
        let progress = Arc::new(ProgressTracker::start(
            options.progress.clone(),
            jobs.len() as u64,
            bytes_total,
        ));

        let transfer = |file: LocalFile, concurrency: usize, bytes: BytesCallback| {
            let store = self.clone();
            let container = container.to_owned();
            let name = blob_name(&prefix, &file.relative);
            let upload = UploadOptions {
                concurrency,
                overwrite: options.overwrite,
                progress: Some(bytes),
                ..options.upload.clone()
            };
            async move {
                match store
                    .upload_file(&container, &name, &file.path, &upload)
                    .await
                {
                    Ok(uploaded) => Ok(FileOutcome::Done(uploaded.bytes)),
                    Err(error) if !upload.overwrite && error.kind() == ErrorKind::AlreadyExists => {
                        Ok(FileOutcome::Existing)
                    }
                    Err(error) => Err(error),
                }
            }
        };
        run_files(jobs, options, &progress, &mut report, transfer).await;
        progress.finish();

        report.elapsed = started.elapsed();
        tracing::debug!(
            files = report.files,
            bytes = report.bytes,
            failed = report.failed.len(),
            "uploaded a directory"
        );
        Ok(report)
    }
}

/// Returns how many requests an upload of `size` bytes can run at once.
fn upload_parts(size: u64, options: &UploadOptions) -> u64 {
    if size <= options.single_put_max {
        return 1;
    }
    match block_size_for(size, options.block_size) {
        Ok(block_size) => size.div_ceil(block_size).max(1),
        // The upload itself reports the invalid block size.
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::plan::MIB;

    #[test]
    fn parts_follow_block_plan() {
        let options = UploadOptions {
            block_size: 4 * MIB,
            single_put_max: 4 * MIB,
            ..UploadOptions::default()
        };
        assert_eq!(upload_parts(0, &options), 1);
        assert_eq!(upload_parts(4 * MIB, &options), 1);
        assert_eq!(upload_parts(4 * MIB + 1, &options), 2);
        assert_eq!(upload_parts(100 * MIB, &options), 25);
    }
}
