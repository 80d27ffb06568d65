//! A ZIP archive of a prefix's blobs, streamed without staging on disk.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use time::OffsetDateTime;
use tokio::io::AsyncWrite;
use tracing::Instrument;

use super::fetch::{BlobFetch, spawn_fetch};
use super::writer::ZipStreamWriter;
use crate::blob::client::BlobStore;
use crate::blob::list::BlobItem;
use crate::blob::pattern::{NamePatterns, PatternFilter};
use crate::blob::progress::{ProgressCallback, ProgressTracker};
use crate::blob::tree::plan::{directory_prefix, relative_path};
use crate::{Error, ErrorKind, Result};

/// File name endings of data that is already compressed, and so stored even when
/// [`ZipOptions::deflate`] is set.
const COMPRESSED_SUFFIXES: [&str; 7] = [".gz", ".bz2", ".xz", ".zst", ".zip", ".tgz", ".lz4"];

/// Options of [`BlobStore::zip_prefix`].
#[derive(Clone)]
pub struct ZipOptions {
    /// Blobs to include, matched against the path relative to the prefix; empty includes all.
    pub include: NamePatterns,
    /// Blobs to leave out, even when `include` matches them.
    pub exclude: NamePatterns,
    /// Number of blobs downloaded ahead of the one being written, at least 1.
    ///
    /// Each download buffers at most 16 chunks as the HTTP client delivers them. hyper 1.x
    /// reads HTTP/1.1 bodies into buffers of 8 KiB growing to about 408 KiB, so the
    /// downloads hold at most `read_ahead` × 16 × 408 KiB whatever the blob sizes.
    pub read_ahead: usize,
    /// Compresses entries with deflate, except names that end in a compressed format's
    /// extension (`.gz`, `.bz2`, `.xz`, `.zst`, `.zip`, `.tgz`, `.lz4`), which are stored.
    pub deflate: bool,
    /// Receives progress events; `None` for none.
    pub progress: Option<ProgressCallback>,
}

impl Default for ZipOptions {
    fn default() -> Self {
        Self {
            include: NamePatterns::default(),
            exclude: NamePatterns::default(),
            read_ahead: 4,
            deflate: false,
            progress: None,
        }
    }
}

impl std::fmt::Debug for ZipOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipOptions")
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("read_ahead", &self.read_ahead)
            .field("deflate", &self.deflate)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// The summary of an archive that [`BlobStore::zip_prefix`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZipReport {
    /// Entry paths in archive order, relative to the prefix.
    pub entries: Vec<String>,
    /// Sum of the entries' uncompressed sizes, in bytes.
    pub content_bytes: u64,
    /// Size of the whole archive, in bytes.
    pub archive_bytes: u64,
    /// Blobs left out by the patterns or because they are directory markers.
    pub skipped: u64,
    /// Entries whose content was checked against the blob's stored Content-MD5.
    pub md5_verified: u64,
    /// Time from the start of the listing to the end of the archive.
    pub elapsed: Duration,
}

impl BlobStore {
    /// Writes a ZIP archive of the blobs under `prefix` to `writer`, and returns what it wrote.
    ///
    /// A non-empty `prefix` is a directory (`results/job` means `results/job/`). Entries
    /// are the matching blobs in name order, named by their path relative to the prefix,
    /// with the blob's last-modified time. Blobs are downloaded up to
    /// [`ZipOptions::read_ahead`] at a time and written in order, so memory stays bounded
    /// whatever the blob sizes. Each entry's content is checked against its listed size and,
    /// when the blob has one, its Content-MD5. The archive ends with its central directory
    /// only after every entry succeeded.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] naming a blob whose name is not a safe relative
    /// path (`..`, empty components). Returns [`ErrorKind::Integrity`] when a blob's content
    /// does not match its listed size or MD5, and [`ErrorKind::PreconditionFailed`] when a
    /// blob changed after the listing. Returns [`ErrorKind::Transport`] when `writer` fails,
    /// and request errors otherwise. After an error the output is an incomplete archive and
    /// should be discarded.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the downloads; the output is then an incomplete archive.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn example(store: elb_core::blob::BlobStore) -> elb_core::Result<()> {
    /// use elb_core::blob::ZipOptions;
    ///
    /// let file = tokio::fs::File::create("results.zip").await.map_err(|error| {
    ///     elb_core::Error::invalid_input("cannot create results.zip").with_source(error)
    /// })?;
    /// let report = store
    ///     .zip_prefix("results", "1a2b3c4d/job-0123", &ZipOptions::default(), file)
    ///     .await?;
    /// println!("{} entries, {} bytes", report.entries.len(), report.archive_bytes);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn zip_prefix<W>(
        &self,
        container: &str,
        prefix: &str,
        options: &ZipOptions,
        writer: W,
    ) -> Result<ZipReport>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let span = tracing::debug_span!(
            "blob.zip_prefix",
            blob.container = container,
            blob.prefix = prefix
        );
        self.zip_prefix_inner(container, prefix, options, writer)
            .instrument(span)
            .await
    }

    async fn zip_prefix_inner<W>(
        &self,
        container: &str,
        prefix: &str,
        options: &ZipOptions,
        writer: W,
    ) -> Result<ZipReport>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let started = Instant::now();
        let prefix = directory_prefix(prefix);
        let filter = PatternFilter {
            include: options.include.clone(),
            exclude: options.exclude.clone(),
        };
        let (mut selected, skipped) =
            select_entries(self.list_blobs(container, &prefix).await?, &prefix, &filter)?;
        selected.sort_by(|a, b| a.0.cmp(&b.0));

        let total_bytes = selected.iter().map(|(_, blob)| blob.size).sum();
        let progress =
            ProgressTracker::start(options.progress.clone(), selected.len() as u64, total_bytes);
        let mut zip = ZipStreamWriter::new(writer);
        let read_ahead = options.read_ahead.max(1);
        let mut pending = selected.iter();
        let mut fetches: VecDeque<BlobFetch> = VecDeque::with_capacity(read_ahead);
        for (_, blob) in pending.by_ref().take(read_ahead) {
            fetches.push_back(spawn_fetch(self, container, blob));
        }

        let mut report = ZipReport {
            entries: Vec::with_capacity(selected.len()),
            content_bytes: 0,
            archive_bytes: 0,
            skipped,
            md5_verified: 0,
            elapsed: Duration::ZERO,
        };
        for (entry_name, blob) in &selected {
            let mut fetch = fetches.pop_front().expect("one fetch per selected blob");
            if let Some((_, next)) = pending.next() {
                fetches.push_back(spawn_fetch(self, container, next));
            }
            let deflate = options.deflate && !is_compressed(entry_name);
            let verified =
                write_entry(&mut zip, entry_name, blob, deflate, &mut fetch, &progress).await?;
            progress.file_done(entry_name, 0);
            report.md5_verified += u64::from(verified);
            report.content_bytes += blob.size;
            report.entries.push(entry_name.clone());
        }
        let (_, archive_bytes) = zip.finish().await.map_err(write_failed)?;
        progress.finish();

        report.archive_bytes = archive_bytes;
        report.elapsed = started.elapsed();
        tracing::debug!(
            blob.container = container,
            blob.prefix = %prefix,
            entries = report.entries.len(),
            archive_bytes,
            "wrote a zip archive of a prefix"
        );
        Ok(report)
    }
}

/// Picks the blobs that become entries, with their entry names, and counts the others.
fn select_entries(
    blobs: Vec<BlobItem>,
    prefix: &str,
    filter: &PatternFilter,
) -> Result<(Vec<(String, BlobItem)>, u64)> {
    let mut selected = Vec::new();
    let mut skipped = 0;
    for blob in blobs {
        // Accounts with a hierarchical namespace list directories as empty blobs whose
        // names end with `/`; they carry no file content.
        if blob.name.ends_with('/') && blob.size == 0 {
            skipped += 1;
            continue;
        }
        let relative = relative_path(prefix, &blob.name)?;
        if filter.accepts(&relative) {
            selected.push((relative, blob));
        } else {
            skipped += 1;
        }
    }
    Ok((selected, skipped))
}

/// Writes one entry from its download, and returns whether its MD5 was checked.
async fn write_entry<W: AsyncWrite + Unpin + Send>(
    zip: &mut ZipStreamWriter<W>,
    entry_name: &str,
    blob: &BlobItem,
    deflate: bool,
    fetch: &mut BlobFetch,
    progress: &ProgressTracker,
) -> Result<bool> {
    let modified = blob.last_modified.unwrap_or_else(OffsetDateTime::now_utc);
    zip.start_entry(entry_name, modified, blob.size, deflate)
        .await
        .map_err(write_failed)?;
    let mut md5 = blob.content_md5.map(|_| Md5::new());
    let mut received: u64 = 0;
    while let Some(chunk) = fetch.chunks.recv().await {
        let chunk = chunk?;
        received += chunk.len() as u64;
        if received > blob.size {
            return Err(changed(blob, "it is longer than listed"));
        }
        if let Some(md5) = md5.as_mut() {
            md5.update(&chunk);
        }
        zip.write(&chunk).await.map_err(write_failed)?;
        progress.add_bytes(chunk.len() as u64);
    }
    if received != blob.size {
        return Err(changed(blob, "it is shorter than listed"));
    }
    let verified = match (md5, blob.content_md5) {
        (Some(md5), Some(expected)) => {
            if md5.finalize().as_slice() != expected {
                return Err(Error::new(
                    ErrorKind::Integrity,
                    format!(
                        "blob {} does not match its stored Content-MD5; download it again \
                         or re-upload it",
                        blob.name
                    ),
                )
                .with_target(blob.name.clone()));
            }
            true
        }
        _ => false,
    };
    zip.finish_entry().await.map_err(write_failed)?;
    Ok(verified)
}

fn is_compressed(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    COMPRESSED_SUFFIXES
        .iter()
        .any(|suffix| lower.ends_with(suffix))
}

fn changed(blob: &BlobItem, how: &str) -> Error {
    Error::new(
        ErrorKind::Integrity,
        format!(
            "blob {} changed while it was archived: {how} ({} bytes); retry the archive",
            blob.name, blob.size
        ),
    )
    .with_target(blob.name.clone())
}

fn write_failed(error: std::io::Error) -> Error {
    Error::new(ErrorKind::Transport, "writing the zip archive failed").with_source(error)
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
    fn selection_applies_patterns_and_markers() {
        let filter = PatternFilter::parse("*.out.gz;metadata/*", "").unwrap();
        let blobs = vec![
            blob("r/j/batch_000.out.gz", 5),
            blob("r/j/logs/", 0),
            blob("r/j/logs/submit.log", 3),
            blob("r/j/metadata/SUCCESS.txt", 0),
        ];
        let (selected, skipped) = select_entries(blobs, "r/j/", &filter).unwrap();
        let names: Vec<_> = selected.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["batch_000.out.gz", "metadata/SUCCESS.txt"]);
        assert_eq!(skipped, 2);
    }

    #[test]
    fn selection_rejects_unsafe_names() {
        let blobs = vec![blob("r/j/../x", 1)];
        let error = select_entries(blobs, "r/j/", &PatternFilter::default()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(error.target(), Some("r/j/../x"));
    }

    #[test]
    fn compressed_names_are_stored() {
        assert!(is_compressed("batch_000-blastn-nt.out.gz"));
        assert!(is_compressed("ARCHIVE.ZIP"));
        assert!(!is_compressed("metadata/SUCCESS.txt"));
        assert!(!is_compressed("query_batches/batch_000.fa"));
    }
}
