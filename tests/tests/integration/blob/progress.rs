//! Byte progress of single-blob uploads and downloads, and the bytes events it gives tree
//! transfers, against Azurite and through the fault proxy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::blob_support::*;
use elb_core::blob::{
    BlobOptions, BlobStore, BytesCallback, BytesProgress, DownloadOptions, ProgressCallback,
    ProgressEvent, ProgressStage, TreeOptions, UploadOptions,
};
use elb_test_servers::azurite::Azurite;
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use http::Method;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// A file size that is not a multiple of the block or range size.
const SIZE: u64 = 3 * MIB + 12_345;

/// Returns a callback that records every call, and the record.
fn recorder() -> (BytesCallback, Arc<Mutex<Vec<BytesProgress>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&calls);
    let callback: BytesCallback = Arc::new(move |progress: BytesProgress| {
        sink.lock().unwrap().push(progress);
    });
    (callback, calls)
}

/// Returns a progress callback of tree transfers that records every event, and the record.
fn event_recorder() -> (ProgressCallback, Arc<Mutex<Vec<ProgressEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let callback: ProgressCallback = Arc::new(move |event: &ProgressEvent| {
        sink.lock().unwrap().push(event.clone());
    });
    (callback, events)
}

/// Checks that the recorded calls add up to `size` in several steps of at most `part`
/// bytes, each carrying the total.
fn assert_progress(calls: &[BytesProgress], size: u64, part: u64) {
    assert!(calls.len() > 1, "{} progress calls", calls.len());
    let mut done = 0;
    for call in calls {
        assert!(call.bytes > 0, "a call reported 0 bytes");
        assert!(call.bytes <= part, "a call reported {} bytes", call.bytes);
        assert_eq!(call.total, Some(size));
        done += call.bytes;
        assert!(done <= size, "progress reached {done} of {size} bytes");
    }
    assert_eq!(done, size);
}

/// Azurite with a container, and a fault proxy in front of it.
struct Setup {
    azurite: Azurite,
    direct: BlobStore,
    proxy: FaultProxy,
}

impl Setup {
    async fn start() -> Self {
        let (azurite, direct) = http_store("results").await;
        let proxy = FaultProxy::start(
            &format!("http://127.0.0.1:{}", azurite.port()),
            ProxyOptions::default(),
        )
        .await
        .unwrap();
        Self {
            azurite,
            direct,
            proxy,
        }
    }

    fn proxied(&self) -> BlobStore {
        let endpoint = format!("{}/{}", self.proxy.url(), self.azurite.account_name());
        let options = BlobOptions {
            retry: short_retries(),
            ..BlobOptions::default()
        };
        shared_key_store(&self.azurite, &endpoint, options)
    }
}

fn staged_upload(block_size: u64, progress: Option<BytesCallback>) -> UploadOptions {
    UploadOptions {
        block_size,
        single_put_max: block_size,
        concurrency: 4,
        progress,
        ..UploadOptions::default()
    }
}

fn ranged_download(range_size: u64, progress: Option<BytesCallback>) -> DownloadOptions {
    DownloadOptions {
        range_size,
        concurrency: 4,
        progress,
        ..DownloadOptions::default()
    }
}

#[tokio::test]
async fn upload_reports_every_block() {
    let (_azurite, store) = http_store("results").await;
    let dir = tempfile::tempdir().unwrap();
    let path = generate_file(dir.path(), "blocks.bin", SIZE, 3);

    let (callback, calls) = recorder();
    let options = staged_upload(256 * KIB, Some(callback));
    let report = store
        .upload_file("results", "blocks.bin", &path, &options)
        .await
        .unwrap();
    assert_eq!(report.blocks, 13);
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 13);
    assert_progress(&calls, SIZE, 256 * KIB);
}

#[tokio::test]
async fn single_put_reports_once() {
    let (_azurite, store) = http_store("results").await;
    let (callback, calls) = recorder();
    let options = UploadOptions {
        progress: Some(callback),
        ..UploadOptions::default()
    };
    store
        .upload_bytes("results", "small.txt", &b"hello, progress"[..], &options)
        .await
        .unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].bytes, 15);
    assert_eq!(calls[0].total, Some(15));
}

#[tokio::test]
async fn download_reports_every_range() {
    let (_azurite, store) = http_store("results").await;
    let dir = tempfile::tempdir().unwrap();
    let path = generate_file(dir.path(), "ranges.bin", SIZE, 4);
    store
        .upload_file("results", "ranges.bin", &path, &UploadOptions::default())
        .await
        .unwrap();

    let (callback, calls) = recorder();
    let target = dir.path().join("copy.bin");
    let report = store
        .download_file(
            "results",
            "ranges.bin",
            &target,
            &ranged_download(256 * KIB, Some(callback)),
        )
        .await
        .unwrap();
    assert!(report.verified);
    assert_eq!(md5_file(&target), md5_file(&path));
    assert_progress(&calls.lock().unwrap(), SIZE, 256 * KIB);

    // Downloads into memory report their ranges in order.
    let (callback, calls) = recorder();
    let (data, _) = store
        .download_bytes(
            "results",
            "ranges.bin",
            &ranged_download(512 * KIB, Some(callback)),
        )
        .await
        .unwrap();
    assert_eq!(data.len() as u64, SIZE);
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 7);
    assert_progress(&calls, SIZE, 512 * KIB);
}

#[tokio::test]
async fn retried_range_counts_once() {
    let setup = Setup::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = generate_file(dir.path(), "reset.bin", SIZE, 5);
    setup
        .direct
        .upload_file("results", "reset.bin", &path, &UploadOptions::default())
        .await
        .unwrap();
    let store = setup.proxied();
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).nth(3),
        Fault::ResetMidBody,
    ));

    let (callback, calls) = recorder();
    let target = dir.path().join("copy.bin");
    let report = store
        .download_file(
            "results",
            "reset.bin",
            &target,
            &ranged_download(512 * KIB, Some(callback)),
        )
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 1);
    assert!(report.verified);
    assert_progress(&calls.lock().unwrap(), SIZE, 512 * KIB);
}

#[tokio::test]
async fn retried_block_counts_once() {
    let setup = Setup::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = generate_file(dir.path(), "flaky.bin", SIZE, 6);
    let store = setup.proxied();
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=block&").nth(4),
        Fault::internal_error(),
    ));

    let (callback, calls) = recorder();
    let options = staged_upload(512 * KIB, Some(callback));
    let report = store
        .upload_file("results", "flaky.bin", &path, &options)
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 1);
    assert_eq!(report.blocks, 7);
    assert_progress(&calls.lock().unwrap(), SIZE, 512 * KIB);
}

/// Returns the stages of `events` before the first `FileDone`, and checks the last event.
fn stages_before_file_done(events: &[ProgressEvent]) -> Vec<ProgressStage> {
    let last = events.last().expect("no progress events");
    assert_eq!(last.stage, ProgressStage::Finished);
    assert_eq!(last.files_done, 1);
    assert_eq!(last.bytes_done, SIZE);
    assert_eq!(last.bytes_total, SIZE);
    let done = events
        .iter()
        .position(|event| event.stage == ProgressStage::FileDone)
        .expect("no FileDone event");
    events[..done].iter().map(|event| event.stage).collect()
}

/// A stalled request delays one file's transfer by more than the bytes event interval
/// (100 ms), so the tree sends a bytes event while the file is still moving.
const STALL: Duration = Duration::from_millis(400);

#[tokio::test]
async fn tree_sends_bytes_events_within_a_file() {
    let setup = Setup::start().await;
    let store = setup.proxied();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    std::fs::create_dir(&source).unwrap();
    let path = generate_file(&source, "large.bin", SIZE, 7);

    // Upload: the fifth Put Block waits, so the blocks before it are reported first.
    let upload_stall = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=block&").nth(5),
        Fault::Stall(STALL),
    ));
    let (callback, events) = event_recorder();
    let options = TreeOptions {
        progress: Some(callback),
        upload: staged_upload(256 * KIB, None),
        ..TreeOptions::default()
    };
    let report = store
        .upload_dir(&source, "results", "tree", &options)
        .await
        .unwrap()
        .ensure_success()
        .unwrap();
    assert_eq!(upload_stall.faults_injected(), 1);
    assert_eq!(report.bytes, SIZE);
    let stages = stages_before_file_done(&events.lock().unwrap());
    assert_eq!(stages[0], ProgressStage::Started);
    assert!(
        stages.contains(&ProgressStage::Bytes),
        "upload stages before FileDone: {stages:?}"
    );
    setup.proxy.clear_rules();

    // Download: the fourth ranged read waits.
    let download_stall = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).nth(4),
        Fault::Stall(STALL),
    ));
    let (callback, events) = event_recorder();
    let options = TreeOptions {
        progress: Some(callback),
        download: ranged_download(256 * KIB, None),
        ..TreeOptions::default()
    };
    let target = dir.path().join("target");
    let report = store
        .download_prefix("results", "tree", &target, &options)
        .await
        .unwrap()
        .ensure_success()
        .unwrap();
    assert_eq!(download_stall.faults_injected(), 1);
    assert_eq!(report.bytes, SIZE);
    assert_eq!(md5_file(&target.join("large.bin")), md5_file(&path));
    let stages = stages_before_file_done(&events.lock().unwrap());
    assert_eq!(stages[0], ProgressStage::Started);
    assert!(
        stages.contains(&ProgressStage::Bytes),
        "download stages before FileDone: {stages:?}"
    );
}
