//! Retries and failure handling of blob transfers, through the fault-injection proxy in
//! front of Azurite: 503 with Retry-After, 500, resets and truncated bodies mid-download,
//! stalls, a blob that changes mid-download and the operation deadline.

use std::time::{Duration, Instant};

use crate::blob_support::*;
use bytes::Bytes;
use elb_core::ErrorKind;
use elb_core::blob::{BlobOptions, BlobStore, DownloadOptions, RetryOptions, UploadOptions};
use elb_test_servers::azurite::Azurite;
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use http::Method;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// Azurite with a container, a direct store and a proxy in front of it.
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

    fn proxied(&self, retry: RetryOptions) -> BlobStore {
        let endpoint = format!("{}/{}", self.proxy.url(), self.azurite.account_name());
        let options = BlobOptions {
            retry,
            ..BlobOptions::default()
        };
        shared_key_store(&self.azurite, &endpoint, options)
    }

    /// Uploads `size` bytes of varied content directly and returns them.
    async fn put(&self, name: &str, size: usize) -> Bytes {
        let data = Bytes::from((0..size).map(|i| (i * 31 % 251) as u8).collect::<Vec<u8>>());
        let options = UploadOptions {
            block_size: MIB,
            ..UploadOptions::default()
        };
        self.direct
            .upload_bytes("results", name, data.clone(), &options)
            .await
            .unwrap();
        data
    }
}

fn ranges(range_size: u64, concurrency: usize) -> DownloadOptions {
    DownloadOptions {
        range_size,
        concurrency,
        ..DownloadOptions::default()
    }
}

#[tokio::test]
async fn server_busy_is_retried_after_retry_after() {
    let setup = Setup::start().await;
    let store = setup.proxied(short_retries());
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::PUT).first(2),
        Fault::server_busy(1),
    ));
    let started = Instant::now();
    let report = store
        .upload_bytes(
            "results",
            "busy.txt",
            Bytes::from_static(b"hello"),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.bytes, 5);
    assert_eq!(rule.faults_injected(), 2);
    // Each retry waited the requested second, far longer than the 200 ms backoff cap.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    let (data, _) = setup
        .direct
        .download_bytes("results", "busy.txt", &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(&data[..], b"hello");
}

#[tokio::test]
async fn persistent_throttling_ends_as_throttled() {
    let setup = Setup::start().await;
    let store = setup.proxied(short_retries());
    let rule = setup
        .proxy
        .add_rule(FaultRule::new(Matcher::any(), Fault::server_busy(0)));
    let error = store.properties("results", "any.txt").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.code(), Some("ServerBusy"));
    assert_eq!(rule.faults_injected(), 5);
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let setup = Setup::start().await;
    let store = setup.proxied(short_retries());
    let error = store.properties("results", "absent.txt").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(setup.proxy.requests_seen(), 1);
}

#[tokio::test]
async fn internal_errors_on_blocks_are_retried() {
    let setup = Setup::start().await;
    let store = setup.proxied(short_retries());
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=block").share(0.3, 11),
        Fault::internal_error(),
    ));
    let data = Bytes::from((0..6 * MIB).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
    let options = UploadOptions {
        block_size: 256 * KIB,
        concurrency: 4,
        ..UploadOptions::default()
    };
    let report = store
        .upload_bytes("results", "flaky.bin", data.clone(), &options)
        .await
        .unwrap();
    assert_eq!(report.blocks, 24);
    assert!(rule.faults_injected() > 0);
    let (copy, download) = setup
        .direct
        .download_bytes("results", "flaky.bin", &DownloadOptions::default())
        .await
        .unwrap();
    assert!(download.verified);
    assert_eq!(copy, data);
}

#[tokio::test]
async fn reset_mid_body_resumes_range() {
    let setup = Setup::start().await;
    let data = setup.put("reset.bin", 4 * MIB as usize + 17).await;
    let store = setup.proxied(short_retries());
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).nth(2),
        Fault::ResetMidBody,
    ));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("reset.bin");
    let report = store
        .download_file("results", "reset.bin", &target, &ranges(MIB, 2))
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 1);
    assert!(report.verified);
    assert_eq!(std::fs::read(&target).unwrap(), data);
}

#[tokio::test]
async fn truncated_body_resumes_range() {
    let setup = Setup::start().await;
    let data = setup.put("truncated.bin", 3 * MIB as usize + 5).await;
    let store = setup.proxied(short_retries());
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).first(2),
        Fault::TruncatedBody,
    ));
    let (copy, report) = store
        .download_bytes("results", "truncated.bin", &ranges(MIB, 4))
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 2);
    assert!(report.verified);
    assert_eq!(copy, data);
}

#[tokio::test]
async fn stalled_request_times_out_and_retries() {
    let setup = Setup::start().await;
    let data = setup.put("stall.bin", 2 * MIB as usize).await;
    let retry = RetryOptions {
        request_timeout: Duration::from_millis(500),
        ..short_retries()
    };
    let store = setup.proxied(retry);
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).nth(2),
        Fault::Stall(Duration::from_secs(5)),
    ));
    let (copy, report) = store
        .download_bytes("results", "stall.bin", &ranges(512 * KIB, 2))
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 1);
    assert!(report.verified);
    assert_eq!(copy, data);
}

#[tokio::test]
async fn failed_download_keeps_old_file() {
    let setup = Setup::start().await;
    setup.put("broken.bin", 3 * MIB as usize).await;
    let store = setup.proxied(short_retries());
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET),
        Fault::internal_error(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("broken.bin");
    std::fs::write(&target, b"previous content").unwrap();
    let error = store
        .download_file("results", "broken.bin", &target, &ranges(MIB, 2))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Service, "{error:?}");
    assert_eq!(error.status(), Some(500));
    assert!(rule.faults_injected() >= 5);
    assert_eq!(std::fs::read(&target).unwrap(), b"previous content");
    assert!(
        hidden_files(dir.path()).is_empty(),
        "{:?}",
        hidden_files(dir.path())
    );
}

#[tokio::test]
async fn blob_changed_mid_download_fails() {
    let setup = Setup::start().await;
    setup.put("changing.bin", 3 * MIB as usize).await;
    let store = setup.proxied(short_retries());
    // The second range waits while the blob is replaced, then reaches Azurite with the old
    // ETag in If-Match.
    let rule = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).nth(2),
        Fault::Stall(Duration::from_millis(1500)),
    ));

    let direct = setup.direct.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        direct
            .upload_bytes(
                "results",
                "changing.bin",
                Bytes::from_static(b"new"),
                &UploadOptions::default(),
            )
            .await
            .unwrap();
    });

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("changing.bin");
    let error = store
        .download_file("results", "changing.bin", &target, &ranges(MIB, 1))
        .await
        .unwrap_err();
    writer.await.unwrap();

    assert_eq!(rule.faults_injected(), 1);
    assert_eq!(error.kind(), ErrorKind::PreconditionFailed, "{error:?}");
    assert_eq!(error.status(), Some(412));
    assert!(
        error.message().contains("changed during the download"),
        "{}",
        error.message()
    );
    assert!(!target.exists());
    assert!(hidden_files(dir.path()).is_empty());
}

#[tokio::test]
async fn deadline_ends_operation() {
    let setup = Setup::start().await;
    setup.put("slow.bin", 1024).await;
    let retry = RetryOptions {
        deadline: Some(Duration::from_millis(800)),
        request_timeout: Duration::from_secs(30),
        ..short_retries()
    };
    let store = setup.proxied(retry);
    setup.proxy.add_rule(FaultRule::new(
        Matcher::any(),
        Fault::Stall(Duration::from_secs(10)),
    ));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("slow.bin");
    let error = store
        .download_file("results", "slow.bin", &target, &DownloadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert!(error.message().contains("800 ms"), "{}", error.message());
    assert!(!target.exists());
    assert!(hidden_files(dir.path()).is_empty());
}

#[tokio::test]
async fn no_overwrite_sends_no_blocks() {
    let setup = Setup::start().await;
    setup.put("exists.bin", 1024).await;
    let store = setup.proxied(short_retries());
    // A zero stall forwards every request unchanged and only counts it.
    let blocks = setup.proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=block"),
        Fault::Stall(Duration::ZERO),
    ));
    let options = UploadOptions {
        overwrite: false,
        block_size: 64 * KIB,
        single_put_max: 64 * KIB,
        ..UploadOptions::default()
    };
    let data = Bytes::from(vec![9u8; 512 * KIB as usize]);
    let error = store
        .upload_bytes("results", "exists.bin", data, &options)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(blocks.requests_matched(), 0);
    assert_eq!(setup.proxy.requests_seen(), 1);
}
