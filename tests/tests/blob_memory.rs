//! Peak memory of a large upload and download stays within the bound that the block size
//! and concurrency set, because buffers are reused and files are never read whole.
//!
//! This file contains one test so that no other test in the process moves the peak.

#[path = "integration/blob_support/mod.rs"]
mod blob_support;

use blob_support::*;
use elb_core::blob::{DownloadOptions, UploadOptions};

const MIB: u64 = 1024 * 1024;

/// Returns the peak resident set size of this process (`VmHWM`) in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Resets the peak resident set size to the current one (Linux 4.0 and later).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM through clear_refs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfer_memory_is_bounded() {
    let (_azurite, store) = http_store("blast-db").await;
    let dir = tempfile::tempdir().unwrap();
    let size = 256 * MIB + 4321;
    let source = generate_file(dir.path(), "volume.bin", size, 3);
    let expected = md5_file(&source);

    let block_size = 4 * MIB;
    let concurrency = 8;
    // At most `concurrency` block buffers, one more being read, plus allocator and HTTP
    // slack; the file itself is 256 MiB, far above the bound.
    let bound = block_size * (concurrency as u64 + 1) + 48 * MIB;

    reset_peak_rss();
    let before = peak_rss();
    let upload = UploadOptions {
        block_size,
        single_put_max: block_size,
        concurrency,
        ..UploadOptions::default()
    };
    let report = store
        .upload_file("blast-db", "db/volume.bin", &source, &upload)
        .await
        .unwrap();
    let upload_growth = peak_rss().saturating_sub(before);
    eprintln!("upload peak RSS growth: {} MiB", upload_growth / MIB);
    assert_eq!(report.blocks, size.div_ceil(block_size));
    assert_eq!(report.content_md5, Some(expected));
    assert!(
        upload_growth < bound,
        "upload peak grew by {} MiB, bound {} MiB",
        upload_growth / MIB,
        bound / MIB
    );

    reset_peak_rss();
    let before = peak_rss();
    let target = dir.path().join("copy.bin");
    let download = DownloadOptions {
        range_size: block_size,
        concurrency,
        ..DownloadOptions::default()
    };
    let report = store
        .download_file("blast-db", "db/volume.bin", &target, &download)
        .await
        .unwrap();
    let download_growth = peak_rss().saturating_sub(before);
    eprintln!("download peak RSS growth: {} MiB", download_growth / MIB);
    assert!(report.verified);
    assert!(
        download_growth < bound,
        "download peak grew by {} MiB, bound {} MiB",
        download_growth / MIB,
        bound / MIB
    );
    assert_eq!(md5_file(&target), expected);
}
