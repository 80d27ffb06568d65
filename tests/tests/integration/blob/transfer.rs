//! Uploads, downloads and single-blob operations against Azurite with Shared Key over HTTP.

use crate::blob_support::*;
use bytes::Bytes;
use elb_core::ErrorKind;
use elb_core::blob::{BlobRequest, DownloadOptions, UploadOptions};
use http::Method;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

fn small_blocks(block_size: u64) -> UploadOptions {
    UploadOptions {
        block_size,
        single_put_max: block_size,
        concurrency: 4,
        ..UploadOptions::default()
    }
}

fn small_ranges(range_size: u64) -> DownloadOptions {
    DownloadOptions {
        range_size,
        concurrency: 4,
        ..DownloadOptions::default()
    }
}

#[tokio::test]
async fn query_files_round_trip_with_md5() {
    let (_azurite, store) = http_store("queries").await;
    let out = tempfile::tempdir().unwrap();
    let queries = data_dir().join("queries");
    for entry in std::fs::read_dir(&queries).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = md5_file(&path);

        // 64 KiB blocks make pathogen-1000.fa (3.9 MB) a staged upload of 60 blocks.
        let report = store
            .upload_file("queries", &name, &path, &small_blocks(64 * KIB))
            .await
            .unwrap();
        assert_eq!(
            report.bytes,
            std::fs::metadata(&path).unwrap().len(),
            "{name}"
        );
        assert_eq!(report.content_md5, Some(expected), "{name}");
        let expected_blocks = if report.bytes > 64 * KIB {
            report.bytes.div_ceil(64 * KIB)
        } else {
            0
        };
        assert_eq!(report.blocks, expected_blocks, "{name}");

        let properties = store.properties("queries", &name).await.unwrap();
        assert_eq!(properties.size, report.bytes, "{name}");
        assert_eq!(properties.content_md5, Some(expected), "{name}");
        assert_eq!(
            properties.content_type.as_deref(),
            Some("text/plain"),
            "{name}"
        );
        assert_eq!(properties.etag, report.etag, "{name}");
        assert!(properties.last_modified.is_some(), "{name}");

        let target = out.path().join(&name);
        let download = store
            .download_file("queries", &name, &target, &small_ranges(100 * KIB))
            .await
            .unwrap();
        assert!(download.verified, "{name}");
        assert_eq!(md5_file(&target), expected, "{name}");
    }
    assert!(hidden_files(out.path()).is_empty());
}

#[tokio::test]
async fn blast_db_files_round_trip() {
    let (_azurite, store) = http_store("blast-db").await;
    let out = tempfile::tempdir().unwrap();
    let synced = DownloadOptions {
        sync_file: true,
        ..small_ranges(5 * KIB)
    };
    for entry in std::fs::read_dir(data_dir().join("blastdb")).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("testdb/{}", path.file_name().unwrap().to_str().unwrap());
        store
            .upload_file("blast-db", &name, &path, &small_blocks(4 * KIB))
            .await
            .unwrap();
        let properties = store.properties("blast-db", &name).await.unwrap();
        assert_eq!(
            properties.content_type.as_deref(),
            Some("application/octet-stream")
        );
        let target = out.path().join(path.file_name().unwrap());
        store
            .download_file("blast-db", &name, &target, &synced)
            .await
            .unwrap();
        assert_eq!(md5_file(&target), md5_file(&path), "{name}");
    }
}

#[tokio::test]
async fn large_file_uses_many_blocks() {
    let (_azurite, store) = http_store("results").await;
    let dir = tempfile::tempdir().unwrap();
    let source = generate_file(dir.path(), "large.bin", 64 * MIB + 123, 7);
    let expected = md5_file(&source);

    let report = store
        .upload_file("results", "big/large.bin", &source, &small_blocks(MIB))
        .await
        .unwrap();
    assert_eq!(report.blocks, 65);
    assert_eq!(report.bytes, 64 * MIB + 123);
    assert_eq!(report.content_md5, Some(expected));

    let target = dir.path().join("copy.bin");
    let download = store
        .download_file("results", "big/large.bin", &target, &small_ranges(MIB))
        .await
        .unwrap();
    assert_eq!(download.bytes, 64 * MIB + 123);
    assert!(download.verified);
    assert_eq!(md5_file(&target), expected);
}

#[tokio::test]
async fn zero_byte_file_round_trips() {
    let (_azurite, store) = http_store("results").await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let report = store
        .upload_file("results", "empty.txt", &empty, &UploadOptions::default())
        .await
        .unwrap();
    assert_eq!(report.bytes, 0);
    assert_eq!(report.blocks, 0);

    let properties = store.properties("results", "empty.txt").await.unwrap();
    assert_eq!(properties.size, 0);

    let target = dir.path().join("copy.txt");
    std::fs::write(&target, b"old content").unwrap();
    let download = store
        .download_file("results", "empty.txt", &target, &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(download.bytes, 0);
    assert_eq!(std::fs::read(&target).unwrap(), b"");
}

#[tokio::test]
async fn special_names_round_trip() {
    let (_azurite, store) = http_store("queries").await;
    let names = [
        "with space.fa",
        "100%.fa",
        "hash#tag.fa",
        "question?.fa",
        "plus+and&amp.fa",
        "données/日本語/é.fa",
        "dir/sub dir/x=y;z.fa",
    ];
    for (index, name) in names.iter().enumerate() {
        let content = Bytes::from(format!(">{index}\nACGT{name}\n"));
        store
            .upload_bytes("queries", name, content.clone(), &UploadOptions::default())
            .await
            .unwrap();
        assert!(store.exists("queries", name).await.unwrap(), "{name}");
        let (data, _) = store
            .download_bytes("queries", name, &DownloadOptions::default())
            .await
            .unwrap();
        assert_eq!(data, content, "{name}");
        assert!(
            store.delete_blob_if_exists("queries", name).await.unwrap(),
            "{name}"
        );
        assert!(!store.exists("queries", name).await.unwrap(), "{name}");
    }
}

#[tokio::test]
async fn no_overwrite_rejects_existing_blob() {
    let (_azurite, store) = http_store("queries").await;
    let no_overwrite = UploadOptions {
        overwrite: false,
        ..small_blocks(4 * KIB)
    };
    store
        .upload_bytes(
            "queries",
            "job.fa",
            Bytes::from_static(b">a\nACGT\n"),
            &no_overwrite,
        )
        .await
        .unwrap();

    // One Put Blob with If-None-Match.
    let error = store
        .upload_bytes(
            "queries",
            "job.fa",
            Bytes::from_static(b">b\nTTTT\n"),
            &no_overwrite,
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(error.status(), Some(409));
    assert_eq!(error.code(), Some("BlobAlreadyExists"));

    // A staged upload checks before sending any block.
    let large = Bytes::from(vec![b'A'; 20 * KIB as usize]);
    let error = store
        .upload_bytes("queries", "job.fa", large, &no_overwrite)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);

    let (data, _) = store
        .download_bytes("queries", "job.fa", &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(&data[..], b">a\nACGT\n");

    // A new name is created by a staged upload that commits with If-None-Match.
    let fresh = Bytes::from(vec![b'C'; 20 * KIB as usize]);
    let report = store
        .upload_bytes("queries", "new.fa", fresh.clone(), &no_overwrite)
        .await
        .unwrap();
    assert_eq!(report.blocks, 5);
}

#[tokio::test]
async fn conflicting_uncommitted_blocks_are_recovered() {
    let (_azurite, store) = http_store("queries").await;
    // An interrupted upload by another tool left a block whose id has another length.
    let stale = BlobRequest::new("put block", Method::PUT)
        .blob("queries", "stale.fa")
        .query("comp", "block")
        .query("blockid", "c2hvcnQ=")
        .body(Bytes::from_static(b"stale"));
    store.send(&stale).await.unwrap();

    let content = Bytes::from((0..40 * KIB).map(|i| (i % 199) as u8).collect::<Vec<u8>>());
    let report = store
        .upload_bytes(
            "queries",
            "stale.fa",
            content.clone(),
            &small_blocks(8 * KIB),
        )
        .await
        .unwrap();
    assert_eq!(report.blocks, 5);
    let (data, download) = store
        .download_bytes("queries", "stale.fa", &small_ranges(7 * KIB))
        .await
        .unwrap();
    assert_eq!(data, content);
    assert!(download.verified);
}

#[tokio::test]
async fn uncommitted_blocks_recovered_without_overwrite() {
    let (_azurite, store) = http_store("queries").await;
    let stale = BlobRequest::new("put block", Method::PUT)
        .blob("queries", "stale.fa")
        .query("comp", "block")
        .query("blockid", "c2hvcnQ=")
        .body(Bytes::from_static(b"stale"));
    store.send(&stale).await.unwrap();

    let options = UploadOptions {
        overwrite: false,
        ..small_blocks(8 * KIB)
    };
    let content = Bytes::from(vec![7u8; 30 * KIB as usize]);
    store
        .upload_bytes("queries", "stale.fa", content.clone(), &options)
        .await
        .unwrap();
    let (data, _) = store
        .download_bytes("queries", "stale.fa", &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(data, content);
}

#[tokio::test]
async fn reader_upload_and_writer_download() {
    let (_azurite, store) = http_store("results").await;
    let path = data_dir().join("queries/pathogen-100.fa");
    let expected = std::fs::read(&path).unwrap();

    let file = tokio::fs::File::open(&path).await.unwrap();
    let report = store
        .upload_reader("results", "from-reader.fa", file, &small_blocks(50 * KIB))
        .await
        .unwrap();
    assert_eq!(report.bytes, expected.len() as u64);
    assert_eq!(report.blocks, (expected.len() as u64).div_ceil(50 * KIB));
    assert_eq!(report.content_md5, Some(md5_bytes(&expected)));

    // A short reader goes in one Put Blob.
    let small = std::io::Cursor::new(b">q\nACGT\n".to_vec());
    let report = store
        .upload_reader("results", "small.fa", small, &UploadOptions::default())
        .await
        .unwrap();
    assert_eq!(report.blocks, 0);

    let mut written: Vec<u8> = Vec::new();
    let download = store
        .download_to_writer(
            "results",
            "from-reader.fa",
            &mut written,
            &small_ranges(33 * KIB),
        )
        .await
        .unwrap();
    assert!(download.verified);
    assert_eq!(written, expected);
}

#[tokio::test]
async fn checksums_can_be_turned_off() {
    let (_azurite, store) = http_store("results").await;
    let options = UploadOptions {
        put_md5: false,
        transactional_checksum: elb_core::blob::TransactionalChecksum::None,
        ..small_blocks(8 * KIB)
    };
    let content = Bytes::from(vec![3u8; 20 * KIB as usize]);
    let report = store
        .upload_bytes("results", "plain.bin", content.clone(), &options)
        .await
        .unwrap();
    assert_eq!(report.content_md5, None);
    let (data, download) = store
        .download_bytes("results", "plain.bin", &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(data, content);
    assert!(!download.verified);
    assert_eq!(download.content_md5, None);
}

#[tokio::test]
async fn missing_blob_and_container_errors() {
    let (_azurite, store) = http_store("results").await;
    let error = store.properties("results", "absent.txt").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.status(), Some(404));

    let error = store
        .delete_blob("results", "absent.txt")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("BlobNotFound"));
    assert!(
        !store
            .delete_blob_if_exists("results", "absent.txt")
            .await
            .unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("absent.txt");
    let error = store
        .download_file(
            "results",
            "absent.txt",
            &target,
            &DownloadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("BlobNotFound"));
    assert!(!target.exists());
    assert!(hidden_files(dir.path()).is_empty());

    let error = store.properties("nocontainer", "a").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn container_lifecycle() {
    let (_azurite, store) = http_store("queries").await;
    assert!(!store.create_container_if_missing("queries").await.unwrap());
    store
        .upload_bytes(
            "queries",
            "a.fa",
            Bytes::from_static(b">a\n"),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    store.delete_container("queries").await.unwrap();
    let error = store.delete_container("queries").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("ContainerNotFound"));
    assert!(!store.delete_container_if_exists("queries").await.unwrap());

    let error = store
        .create_container_if_missing("Bad_Name")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn upload_to_missing_container_names_container() {
    let (_azurite, store) = http_store("queries").await;
    let error = store
        .upload_bytes(
            "blast-db",
            "testdb/testdb.pin",
            Bytes::from_static(b"pin"),
            &UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.code(), Some("ContainerNotFound"));
    assert!(
        error
            .message()
            .starts_with("container blast-db not found: create it first"),
        "{error}"
    );

    let error = store.delete_container("blast-db").await.unwrap_err();
    assert_eq!(error.message(), "container blast-db not found");
}

#[tokio::test]
async fn wrong_account_key_is_authentication_error() {
    let azurite = azurite_http().await;
    let auth = elb_core::blob::BlobAuth::shared_key(
        azurite.account_name(),
        "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=",
    );
    let store = elb_core::blob::BlobStore::new(&azurite.blob_endpoint(), auth, options()).unwrap();
    let error = store
        .create_container_if_missing("results")
        .await
        .unwrap_err();
    // Azurite 3.35 rejects a wrong signature with AuthorizationFailure, which maps to
    // PermissionDenied, so both kinds pass.
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Authentication | ErrorKind::PermissionDenied
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(403));
    assert!(error.code().is_some());
    assert!(!format!("{error:?}").contains("d3Jvbmcga2V5"));
}

#[tokio::test]
async fn wrong_account_key_message_names_key() {
    let azurite = azurite_http().await;
    let auth = elb_core::blob::BlobAuth::shared_key(
        azurite.account_name(),
        "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=",
    );
    let store = elb_core::blob::BlobStore::new(&azurite.blob_endpoint(), auth, options()).unwrap();
    let error = store
        .upload_bytes(
            "results",
            "a.bin",
            Bytes::from_static(b"a"),
            &UploadOptions::default(),
        )
        .await
        .unwrap_err();
    // Azurite 3.35 rejects a wrong Shared Key signature with 403 AuthorizationFailure.
    assert_eq!(error.code(), Some("AuthorizationFailure"));
    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert!(error.message().contains("account key or SAS"), "{error}");
    assert!(
        error.message().contains("Storage Blob Data Contributor"),
        "{error}"
    );
}

#[tokio::test]
async fn crc64_header_reaches_azurite() {
    let (_azurite, store) = http_store("results").await;
    let options = UploadOptions {
        transactional_checksum: elb_core::blob::TransactionalChecksum::Crc64,
        ..small_blocks(8 * KIB)
    };
    let content = Bytes::from((0..30 * KIB).map(|i| (i % 17) as u8).collect::<Vec<u8>>());
    // Azurite 3.35 in strict mode rejects x-ms-content-crc64 instead of checking it, which
    // shows that the header was sent.
    let error = store
        .upload_bytes("results", "crc.bin", content, &options)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(error.code(), Some("FeatureNotSupported"));
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("x-ms-content-crc64"), "{cause}");
}
