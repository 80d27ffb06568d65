//! MD5 checks of every contender's output against the generated files.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use elb_core::blob::{BlobStore, DownloadOptions};
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::io::AsyncWrite;

use crate::workloads::Dataset;

/// Checks that `dir` contains exactly the dataset's files with the same MD5 digests.
///
/// # Errors
///
/// Returns a message naming the first missing, extra or different file.
pub fn verify_download(dir: &Path, dataset: &Dataset) -> Result<(), String> {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = dataset.files.iter().map(|(name, _)| name.clone()).collect();
    expected.sort();
    if found != expected {
        return Err(format!(
            "{} holds {} entries, expected the {} generated files (first found: {:?})",
            dir.display(),
            found.len(),
            expected.len(),
            found.first()
        ));
    }
    for (name, digest) in &dataset.files {
        let path = dir.join(name);
        let actual = md5_file(&path)?;
        if &actual != digest {
            return Err(format!(
                "{} has MD5 {}, expected {}",
                path.display(),
                hex::encode(actual),
                hex::encode(digest)
            ));
        }
    }
    Ok(())
}

fn md5_file(path: &Path) -> Result<[u8; 16], String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().into())
}

/// Checks that `prefix` contains exactly the dataset's files by listing it and downloading
/// every blob with elb into an MD5 hasher.
///
/// # Errors
///
/// Returns a message naming the first missing, extra or different blob.
pub async fn verify_upload(
    store: &BlobStore,
    container: &str,
    prefix: &str,
    dataset: &Dataset,
) -> Result<(), String> {
    let blobs = store
        .list_blobs(container, prefix)
        .await
        .map_err(|error| format!("cannot list {prefix}: {error}"))?;
    let mut found: Vec<String> = blobs
        .iter()
        .map(|blob| blob.name.trim_start_matches(prefix).to_owned())
        .collect();
    found.sort();
    let mut expected: Vec<String> = dataset.files.iter().map(|(name, _)| name.clone()).collect();
    expected.sort();
    if found != expected {
        return Err(format!(
            "{container}/{prefix} holds {} blobs, expected the {} generated files (first: {:?})",
            found.len(),
            expected.len(),
            found.first()
        ));
    }

    // One plain `Get Blob` per blob: the quickest read on Azurite, and independent of the
    // ranged download code under test.
    let options = DownloadOptions {
        range_size: 1 << 40,
        concurrency: 1,
        verify_md5: false,
        ..DownloadOptions::default()
    };
    let checks = dataset.files.iter().map(|(name, digest)| {
        let options = options.clone();
        async move {
            let blob = format!("{prefix}{name}");
            let mut hasher = HashWriter::default();
            store
                .download_to_writer(container, &blob, &mut hasher, &options)
                .await
                .map_err(|error| format!("cannot read back {blob}: {error}"))?;
            let actual: [u8; 16] = hasher.hasher.finalize().into();
            if &actual != digest {
                return Err(format!(
                    "{blob} has MD5 {}, expected {}",
                    hex::encode(actual),
                    hex::encode(digest)
                ));
            }
            Ok(())
        }
    });

    let results: Vec<Result<(), String>> = futures::stream::iter(checks)
        .buffer_unordered(16)
        .collect()
        .await;
    results.into_iter().collect()
}

/// An async writer that only feeds an MD5 hasher.
#[derive(Default)]
struct HashWriter {
    hasher: Md5,
}

impl AsyncWrite for HashWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.hasher.update(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
