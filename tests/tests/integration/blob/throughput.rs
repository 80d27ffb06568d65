//! A throughput measurement of elb's blob transfers next to curl on the same Azurite, for
//! comparing engines by hand. It prints timings and asserts only correctness.
//!
//! Run with
//! `cargo test -p elb-test-servers --test integration blob::throughput -- --ignored --nocapture`.
//! Debug builds run MD5 and the HTTP stack unoptimized, so only release numbers mean much.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::blob_support::*;
use elb_core::blob::{AccountSas, DownloadOptions, TransactionalChecksum, UploadOptions};
use secrecy::ExposeSecret;
use time::OffsetDateTime;

const MIB: u64 = 1024 * 1024;

fn rate(bytes: u64, elapsed: Duration) -> String {
    format!(
        "{:.0} MiB/s",
        bytes as f64 / MIB as f64 / elapsed.as_secs_f64()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement for manual runs; prints timings"]
async fn upload_and_download_next_to_curl() {
    let (azurite, store) = http_store("bench").await;
    let dir = tempfile::tempdir().unwrap();
    let size = 128 * MIB;
    let source = generate_file(dir.path(), "volume.bin", size, 5);
    let expected = md5_file(&source);

    let key = secrecy::SecretString::from(azurite.account_key().to_owned());
    let sas = AccountSas::new(OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .sign(azurite.account_name(), &key)
        .unwrap();
    let url = format!(
        "{}/bench/curl.bin?{}",
        azurite.blob_endpoint(),
        sas.expose_secret()
    );

    // curl sends the file in one Put Blob and reads it in one Get Blob: the ceiling of one
    // connection without checksums.
    let started = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT", "-H", "x-ms-blob-type: BlockBlob"])
        .arg("--data-binary")
        .arg(format!("@{}", source.display()))
        .arg(&url)
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!("curl upload: {}", rate(size, started.elapsed()));
    let started = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "-f", "-o"])
        .arg(dir.path().join("curl-copy.bin"))
        .arg(&url)
        .status()
        .unwrap();
    assert!(status.success());
    eprintln!("curl download: {}", rate(size, started.elapsed()));

    for (label, put_md5, checksum) in [
        ("md5 on", true, TransactionalChecksum::Md5),
        ("md5 off", false, TransactionalChecksum::None),
    ] {
        let options = UploadOptions {
            block_size: 8 * MIB,
            put_md5,
            transactional_checksum: checksum,
            ..UploadOptions::default()
        };
        let started = Instant::now();
        store
            .upload_file("bench", "elb.bin", &source, &options)
            .await
            .unwrap();
        eprintln!("elb upload ({label}): {}", rate(size, started.elapsed()));

        let target = dir.path().join("elb-copy.bin");
        let download = DownloadOptions {
            range_size: 8 * MIB,
            verify_md5: put_md5,
            ..DownloadOptions::default()
        };
        let started = Instant::now();
        store
            .download_file("bench", "elb.bin", &target, &download)
            .await
            .unwrap();
        eprintln!("elb download ({label}): {}", rate(size, started.elapsed()));
        assert_eq!(md5_file(&target), expected);
    }
}
