//! Transactional checksums against Azurite: the automatic choice between CRC-64 and MD5, an
//! explicit CRC-64 that Azurite rejects, and damaged bodies that the checksum catches.
//!
//! A fault proxy sits between the store and Azurite. Its counting rules select no request
//! and only count the uploads that carry each checksum header.

use std::sync::Arc;

use crate::blob_support::*;
use bytes::Bytes;
use elb_core::ErrorKind;
use elb_core::blob::{BlobStore, DownloadOptions, TransactionalChecksum, UploadOptions};
use elb_test_servers::azurite::{Azurite, AzuriteMode, AzuriteOptions};
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions, RuleHandle};
use http::Method;

const KIB: u64 = 1024;

/// 300 KiB: four full blocks of 64 KiB and one of 44 KiB.
const STAGED_LEN: usize = 300 * 1024;
const STAGED_BLOCKS: u64 = 5;

/// The part of the warning that a rejected CRC-64 logs.
const FALLBACK_WARNING: &str = "rejected the x-ms-content-crc64 header";

/// Azurite with a container, and a store that reaches it through a fault proxy.
struct Setup {
    _azurite: Azurite,
    proxy: FaultProxy,
    store: BlobStore,
    /// Uploads that carry `x-ms-content-crc64`.
    crc64_requests: RuleHandle,
    /// Uploads that carry `Content-MD5`.
    md5_requests: RuleHandle,
}

impl Setup {
    /// Starts Azurite with `extra_args`, such as `--loose`.
    async fn start(extra_args: &[&str]) -> Self {
        let azurite_options = AzuriteOptions {
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            ..AzuriteOptions::from_env()
        };
        let azurite = Azurite::start_with(AzuriteMode::Http, azurite_options)
            .await
            .expect("Azurite must start: run `npm ci` in the repository root");

        let proxy = FaultProxy::start(
            &format!("http://127.0.0.1:{}", azurite.port()),
            ProxyOptions::default(),
        )
        .await
        .unwrap();

        // Counting rules come first and select nothing, so later rules still see every
        // request.
        let crc64_requests = proxy.add_rule(FaultRule::new(
            Matcher::any()
                .method(Method::PUT)
                .header_present("x-ms-content-crc64")
                .first(0),
            Fault::internal_error(),
        ));
        let md5_requests = proxy.add_rule(FaultRule::new(
            Matcher::any()
                .method(Method::PUT)
                .header_present("content-md5")
                .first(0),
            Fault::internal_error(),
        ));

        let endpoint = format!("{}/{}", proxy.url(), azurite.account_name());
        let store = shared_key_store(&azurite, &endpoint, options());
        assert!(store.create_container_if_missing("results").await.unwrap());
        Self {
            _azurite: azurite,
            proxy,
            store,
            crc64_requests,
            md5_requests,
        }
    }
}

/// Options that stage `STAGED_LEN` bytes as `STAGED_BLOCKS` blocks.
fn staged(checksum: TransactionalChecksum) -> UploadOptions {
    UploadOptions {
        block_size: 64 * KIB,
        single_put_max: 64 * KIB,
        concurrency: 4,
        transactional_checksum: checksum,
        ..UploadOptions::default()
    }
}

fn content(len: usize, seed: usize) -> Bytes {
    Bytes::from(
        (0..len)
            .map(|i| ((i * 131 + seed) % 253) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Downloads a blob, checking it against its stored MD5, and returns the bytes.
async fn download_verified(store: &BlobStore, name: &str) -> Bytes {
    let (data, report) = store
        .download_bytes("results", name, &DownloadOptions::default())
        .await
        .unwrap();
    assert!(report.verified, "{name} was not checked against its MD5");
    data
}

/// A log sink shared between the subscriber and the test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn auto_is_the_default() {
    let options = UploadOptions::default();
    assert_eq!(options.transactional_checksum, TransactionalChecksum::Auto);
    assert_eq!(
        TransactionalChecksum::default(),
        TransactionalChecksum::Auto
    );
    assert!(options.put_md5);
}

#[tokio::test]
async fn auto_falls_back_to_md5_on_plain_azurite() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // While only one dispatcher exists, tracing-core 0.1 decides whether a log statement is
    // enabled by the default dispatcher of the thread that reaches it first, which can be a
    // test thread without a subscriber. A second live dispatcher makes it ask every
    // dispatcher instead.
    let _second = tracing::Dispatch::new(tracing_subscriber::registry());
    // The test runtime has one thread, where every request and its log line run.
    let _default = tracing::subscriber::set_default(subscriber);

    let setup = Setup::start(&[]).await;
    let store = &setup.store;
    assert_eq!(
        store.resolve_checksum(TransactionalChecksum::Auto),
        TransactionalChecksum::Crc64
    );

    let data = content(STAGED_LEN, 1);
    let report = store
        .upload_bytes(
            "results",
            "staged.bin",
            data.clone(),
            &staged(TransactionalChecksum::Auto),
        )
        .await
        .unwrap();
    assert_eq!(report.bytes, STAGED_LEN as u64);
    assert_eq!(report.blocks, STAGED_BLOCKS);
    assert_eq!(report.content_md5, Some(md5_bytes(&data)));
    let properties = store.properties("results", "staged.bin").await.unwrap();
    assert_eq!(properties.content_md5, Some(md5_bytes(&data)));
    assert!(download_verified(store, "staged.bin").await == data);

    // Only the first block went with CRC-64, once: the 500 was not retried. It was resent
    // with MD5, like the other blocks and the block list.
    assert_eq!(setup.crc64_requests.requests_matched(), 1);
    assert_eq!(setup.md5_requests.requests_matched(), STAGED_BLOCKS + 1);
    assert_eq!(
        store.resolve_checksum(TransactionalChecksum::Auto),
        TransactionalChecksum::Md5
    );

    // A clone shares the switch, so its single-request upload sends MD5 at once.
    let clone = store.clone();
    let small = content(10 * KIB as usize, 2);
    let report = clone
        .upload_bytes(
            "results",
            "small.bin",
            small.clone(),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.blocks, 0);
    assert_eq!(report.content_md5, Some(md5_bytes(&small)));
    assert_eq!(setup.crc64_requests.requests_matched(), 1);
    assert_eq!(setup.md5_requests.requests_matched(), STAGED_BLOCKS + 2);
    assert!(download_verified(&clone, "small.bin").await == small);

    let text = logs.text();
    assert_eq!(text.matches(FALLBACK_WARNING).count(), 1, "{text}");
    assert!(text.contains("WARN"), "{text}");
}

#[tokio::test]
async fn auto_fallback_resends_single_put() {
    let setup = Setup::start(&[]).await;
    let data = content(20 * KIB as usize, 3);
    let report = setup
        .store
        .upload_bytes(
            "results",
            "one.bin",
            data.clone(),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.blocks, 0);
    assert_eq!(report.content_md5, Some(md5_bytes(&data)));
    assert_eq!(setup.crc64_requests.requests_matched(), 1);
    assert_eq!(setup.md5_requests.requests_matched(), 1);
    assert!(download_verified(&setup.store, "one.bin").await == data);
}

#[tokio::test]
async fn auto_keeps_crc64_on_loose_azurite() {
    let setup = Setup::start(&["--loose"]).await;
    let store = &setup.store;
    let data = content(STAGED_LEN, 4);
    let report = store
        .upload_bytes(
            "results",
            "staged.bin",
            data.clone(),
            &staged(TransactionalChecksum::Auto),
        )
        .await
        .unwrap();
    assert_eq!(report.blocks, STAGED_BLOCKS);
    assert_eq!(report.content_md5, Some(md5_bytes(&data)));
    assert!(download_verified(store, "staged.bin").await == data);

    // Every block and the block list carried CRC-64, and none carried MD5.
    assert_eq!(setup.crc64_requests.requests_matched(), STAGED_BLOCKS + 1);
    assert_eq!(setup.md5_requests.requests_matched(), 0);
    assert_eq!(
        store.resolve_checksum(TransactionalChecksum::Auto),
        TransactionalChecksum::Crc64
    );

    // An explicit CRC-64 single request succeeds too.
    let small = content(10 * KIB as usize, 5);
    let options = UploadOptions {
        transactional_checksum: TransactionalChecksum::Crc64,
        ..UploadOptions::default()
    };
    store
        .upload_bytes("results", "small.bin", small.clone(), &options)
        .await
        .unwrap();
    assert_eq!(setup.crc64_requests.requests_matched(), STAGED_BLOCKS + 2);
    assert!(download_verified(store, "small.bin").await == small);
}

#[tokio::test]
async fn explicit_crc64_fails_on_plain_azurite() {
    let setup = Setup::start(&[]).await;
    let store = &setup.store;
    for (name, len, blocks) in [("staged.bin", STAGED_LEN, true), ("one.bin", 1000, false)] {
        let error = store
            .upload_bytes(
                "results",
                name,
                content(len, 6),
                &staged(TransactionalChecksum::Crc64),
            )
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        assert_eq!(error.status(), Some(500));
        assert_eq!(error.code(), Some("FeatureNotSupported"));
        let message = error.message();
        let operation = if blocks { "put block" } else { "put blob" };
        assert!(
            message.starts_with(&format!("{operation} on blob results/{name} failed")),
            "{message}"
        );
        assert!(message.contains("x-ms-content-crc64"), "{message}");
        assert!(message.contains("TransactionalChecksum::Md5"), "{message}");
        assert!(message.contains("--loose"), "{message}");
        // Azurite's own message stays available as the cause.
        let cause = std::error::Error::source(&error).unwrap().to_string();
        assert!(cause.contains("strict mode"), "{cause}");
        let missing = store.properties("results", name).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }
    // One request each, without retries, and no MD5 fallback.
    assert_eq!(setup.crc64_requests.requests_matched(), 2);
    assert_eq!(setup.md5_requests.requests_matched(), 0);
    // An explicit CRC-64 leaves the automatic choice alone.
    assert_eq!(
        store.resolve_checksum(TransactionalChecksum::Auto),
        TransactionalChecksum::Crc64
    );
}

#[tokio::test]
async fn damaged_block_is_sent_again() {
    let setup = Setup::start(&[]).await;
    let store = &setup.store;
    for checksum in [TransactionalChecksum::Md5, TransactionalChecksum::Auto] {
        // The second block that carries an MD5. With Auto that comes after the fallback.
        let damage = setup.proxy.add_rule(FaultRule::new(
            Matcher::any()
                .method(Method::PUT)
                .query_contains("blockid=")
                .header_present("content-md5")
                .nth(2),
            Fault::CorruptRequestBody,
        ));
        let name = format!("damaged-{checksum:?}.bin");
        let data = content(STAGED_LEN, 7);
        let report = store
            .upload_bytes("results", &name, data.clone(), &staged(checksum))
            .await
            .unwrap();
        assert_eq!(damage.faults_injected(), 1, "{checksum:?}");
        assert_eq!(report.content_md5, Some(md5_bytes(&data)), "{checksum:?}");

        let (stored, download) = store
            .download_bytes("results", &name, &DownloadOptions::default())
            .await
            .unwrap();
        assert!(download.verified, "{checksum:?}");
        assert_eq!(md5_bytes(&stored), md5_bytes(&data), "{checksum:?}");
        setup.proxy.clear_rules();
    }
}

#[tokio::test]
async fn block_damaged_every_time_fails() {
    let setup = Setup::start(&[]).await;
    let store = &setup.store;
    let damage = setup.proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(Method::PUT)
            .query_contains("blockid=")
            .header_present("content-md5"),
        Fault::CorruptRequestBody,
    ));

    let error = store
        .upload_bytes(
            "results",
            "damaged.bin",
            content(STAGED_LEN, 9),
            &staged(TransactionalChecksum::Md5),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error:?}");
    // Azurite 3.35 returns 400 InvalidOperation "Provided contentMD5 doesn't match.", and
    // the Blob service returns 400 Md5Mismatch.
    assert_eq!(error.status(), Some(400), "{error:?}");
    assert!(error.message().contains("changed on the way"), "{error}");

    // Every attempt of the damaged block was sent again until the retries ran out.
    let max_attempts = u64::from(short_retries().max_retries) + 1;
    assert!(
        damage.faults_injected() >= max_attempts,
        "{}",
        damage.faults_injected()
    );

    // Nothing was committed.
    let missing = store
        .properties("results", "damaged.bin")
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn damaged_block_without_checksum_fails_download() {
    // The same damage without a request checksum is stored, and only the whole-content MD5
    // catches it, when the blob is downloaded.
    let setup = Setup::start(&[]).await;
    let store = &setup.store;
    let damage = setup.proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(Method::PUT)
            .query_contains("blockid=")
            .nth(2),
        Fault::CorruptRequestBody,
    ));
    let data = content(STAGED_LEN, 8);
    let report = store
        .upload_bytes(
            "results",
            "damaged.bin",
            data.clone(),
            &staged(TransactionalChecksum::None),
        )
        .await
        .unwrap();
    assert_eq!(damage.faults_injected(), 1);
    assert_eq!(report.content_md5, Some(md5_bytes(&data)));

    let error = store
        .download_bytes("results", "damaged.bin", &DownloadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error:?}");

    let unchecked = DownloadOptions {
        verify_md5: false,
        ..DownloadOptions::default()
    };
    let (stored, _) = store
        .download_bytes("results", "damaged.bin", &unchecked)
        .await
        .unwrap();
    assert_eq!(stored.len(), data.len());
    let differing: Vec<usize> = (0..data.len()).filter(|&i| stored[i] != data[i]).collect();
    // The blocks go in parallel, so the second block sent may be any block but the first.
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert_eq!(differing[0] % (64 * KIB as usize), 0, "{differing:?}");
    assert_ne!(differing[0], 0);
}
