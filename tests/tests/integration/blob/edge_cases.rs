//! Edge cases of single-blob transfers, trees and errors, against Azurite and through the
//! fault proxy: local paths that do not fit, sizes at range and block boundaries, files
//! that change during an upload, unusual names, races and what errors reveal.

use std::path::Path;
use std::time::Duration;

use crate::blob_support::*;
use bytes::Bytes;
use elb_core::blob::{
    AccountSas, BlobAuth, BlobOptions, BlobRequest, BlobStore, DownloadOptions, RetryOptions,
    TreeOptions, UploadOptions,
};
use elb_core::{Error, ErrorKind};
use elb_test_servers::azurite::Azurite;
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use http::Method;
use secrecy::ExposeSecret;
use time::OffsetDateTime;

const KIB: u64 = 1024;

/// Varied content of `size` bytes, different for each seed.
fn content(size: usize, seed: u8) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| ((i * 31 + seed as usize * 7) % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn ranges(range_size: u64, concurrency: usize) -> DownloadOptions {
    DownloadOptions {
        range_size,
        concurrency,
        ..DownloadOptions::default()
    }
}

/// Starts a fault proxy in front of Azurite and returns it with a store that uses it.
async fn proxied(azurite: &Azurite, retry: RetryOptions) -> (FaultProxy, BlobStore) {
    let proxy = FaultProxy::start(
        &format!("http://127.0.0.1:{}", azurite.port()),
        ProxyOptions::default(),
    )
    .await
    .unwrap();
    let endpoint = format!("{}/{}", proxy.url(), azurite.account_name());
    let options = BlobOptions {
        retry,
        ..BlobOptions::default()
    };
    let store = shared_key_store(azurite, &endpoint, options);
    (proxy, store)
}

/// Returns the names of every entry in a folder, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts that an error's text, debug form and causes contain none of `secrets`.
fn assert_no_secret(error: &Error, secrets: &[&str]) {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    for text in &texts {
        assert!(!text.contains("sig="), "{text}");
        for secret in secrets {
            assert!(!text.contains(secret), "secret in {text}");
        }
    }
}

#[tokio::test]
async fn download_creates_missing_folders() {
    let (_azurite, store) = http_store("results").await;
    let data = content(10_000, 1);
    store
        .upload_bytes("results", "a.bin", data.clone(), &UploadOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("x/y/a.bin");
    let report = store
        .download_file("results", "a.bin", &target, &DownloadOptions::default())
        .await
        .unwrap();
    assert!(report.verified);
    assert_eq!(std::fs::read(&target).unwrap(), data);
    assert!(hidden_files(&dir.path().join("x/y")).is_empty());

    // A missing blob is the error, not the missing folder.
    let error = store
        .download_file(
            "results",
            "missing.bin",
            dir.path().join("z/missing.bin"),
            &DownloadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");
    assert_eq!(error.status(), Some(404), "{error:?}");
    assert!(error.message().contains("results/missing.bin"), "{error}");
    assert!(!dir.path().join("z/missing.bin").exists());
}

#[tokio::test]
async fn download_onto_directory_fails() {
    let (_azurite, store) = http_store("results").await;
    store
        .upload_bytes(
            "results",
            "a.bin",
            content(5000, 2),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), b"keep").unwrap();

    for target in [&empty, &full] {
        let error = store
            .download_file("results", "a.bin", target, &DownloadOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        assert!(
            error.message().contains(&target.display().to_string()),
            "{error}"
        );
        assert!(target.is_dir());
    }
    assert_eq!(entries(&empty), Vec::<String>::new());
    assert_eq!(entries(&full), ["keep.txt"]);
    assert_eq!(entries(dir.path()), ["empty", "full"]);
}

#[tokio::test]
async fn failed_downloads_keep_existing_file() {
    let (azurite, direct) = http_store("results").await;
    let range = 64 * KIB;
    let data = content(3 * range as usize + 100, 3);
    direct
        .upload_bytes("results", "a.bin", data.clone(), &UploadOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("a.bin");
    std::fs::write(&target, b"old content").unwrap();
    let no_retries = RetryOptions {
        max_retries: 0,
        ..short_retries()
    };
    let (proxy, store) = proxied(&azurite, no_retries).await;

    // A missing blob.
    let error = store
        .download_file("results", "missing.bin", &target, &ranges(range, 2))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");

    // Permission denied on the first request.
    proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET),
        Fault::status(403, "AuthorizationPermissionMismatch"),
    ));
    let error = store
        .download_file("results", "a.bin", &target, &ranges(range, 2))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PermissionDenied, "{error:?}");
    proxy.clear_rules();

    // A reset on the last of four ranges, with no retries left.
    proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET).nth(4),
        Fault::ResetMidBody,
    ));
    let error = store
        .download_file("results", "a.bin", &target, &ranges(range, 1))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    proxy.clear_rules();

    // A stored MD5 that does not match the content.
    let set_md5 = BlobRequest::new("set blob properties", Method::PUT)
        .blob("results", "a.bin")
        .query("comp", "properties")
        .header("x-ms-blob-content-md5", "AAAAAAAAAAAAAAAAAAAAAA==");
    direct.send(&set_md5).await.unwrap();
    let error = store
        .download_file("results", "a.bin", &target, &ranges(range, 2))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error:?}");
    assert!(error.message().contains("results/a.bin"), "{error}");

    assert_eq!(std::fs::read(&target).unwrap(), b"old content");
    assert_eq!(entries(dir.path()), ["a.bin"]);
}

#[tokio::test]
async fn sizes_at_range_boundaries() {
    let (_azurite, store) = http_store("results").await;
    let range = 64 * KIB;
    let dir = tempfile::tempdir().unwrap();
    for size in [0, 1, range - 1, range, range + 1, 2 * range, 3 * range - 1] {
        let name = format!("size-{size}.bin");
        let data = content(size as usize, 4);
        store
            .upload_bytes("results", &name, data.clone(), &UploadOptions::default())
            .await
            .unwrap();

        let target = dir.path().join(&name);
        let report = store
            .download_file("results", &name, &target, &ranges(range, 3))
            .await
            .unwrap();
        assert_eq!(report.bytes, size, "{name}");
        assert!(report.verified, "{name}");
        assert_eq!(std::fs::read(&target).unwrap(), data, "{name}");

        let (bytes, report) = store
            .download_bytes("results", &name, &ranges(range, 3))
            .await
            .unwrap();
        assert_eq!(bytes, data, "{name}");
        assert!(report.verified, "{name}");
    }
    assert!(hidden_files(dir.path()).is_empty());
}

#[tokio::test]
async fn concurrent_downloads_to_same_path() {
    let (_azurite, store) = http_store("results").await;
    let data = content(700 * KIB as usize, 5);
    store
        .upload_bytes(
            "results",
            "same.bin",
            data.clone(),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("same.bin");
    let downloads = (0..8).map(|_| {
        let store = store.clone();
        let target = target.clone();
        async move {
            store
                .download_file("results", "same.bin", &target, &ranges(64 * KIB, 4))
                .await
        }
    });
    for result in futures::future::join_all(downloads).await {
        assert!(result.unwrap().verified);
    }
    assert_eq!(std::fs::read(&target).unwrap(), data);
    assert_eq!(entries(dir.path()), ["same.bin"]);
}

#[tokio::test]
async fn single_put_threshold_and_one_over() {
    let (_azurite, store) = http_store("results").await;
    let dir = tempfile::tempdir().unwrap();
    let options = UploadOptions {
        single_put_max: 100 * KIB,
        block_size: 40 * KIB,
        ..UploadOptions::default()
    };
    let cases = [(100 * KIB, 0), (100 * KIB + 1, 3), (120 * KIB, 3)];
    for (size, blocks) in cases {
        let name = format!("put-{size}.bin");
        let path = generate_file(dir.path(), &name, size, size);
        let report = store
            .upload_file("results", &name, &path, &options)
            .await
            .unwrap();
        assert_eq!(report.bytes, size, "{name}");
        assert_eq!(report.blocks, blocks, "{name}");
        let (data, download) = store
            .download_bytes("results", &name, &DownloadOptions::default())
            .await
            .unwrap();
        assert!(download.verified, "{name}");
        assert_eq!(md5_bytes(&data), md5_file(&path), "{name}");
    }
}

/// Uploads a file while the first block's request is held at the proxy, and changes the
/// file with `change` meanwhile.
async fn upload_while_changing(change: fn(&Path)) -> (Error, BlobStore) {
    let (azurite, direct) = http_store("results").await;
    let (proxy, store) = proxied(&azurite, short_retries()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = generate_file(dir.path(), "growing.bin", 200 * KIB, 6);
    proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=block").first(1),
        Fault::Stall(Duration::from_millis(800)),
    ));
    let options = UploadOptions {
        single_put_max: 64 * KIB,
        block_size: 64 * KIB,
        concurrency: 1,
        ..UploadOptions::default()
    };
    let upload = store.upload_file("results", "growing.bin", &path, &options);
    let changer = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        change(&path);
    };
    let (result, ()) = tokio::join!(upload, changer);
    let error = result.unwrap_err();
    assert!(error.message().contains("growing.bin"), "{error}");
    assert!(!direct.exists("results", "growing.bin").await.unwrap());
    drop(azurite);
    (error, direct)
}

#[tokio::test]
async fn file_growing_during_upload_fails() {
    let (error, _) = upload_while_changing(|path| {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(&[7u8; 50_000]).unwrap();
    })
    .await;
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error:?}");
}

#[tokio::test]
async fn file_shrinking_during_upload_fails() {
    let (error, _) = upload_while_changing(|path| {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_len(100 * KIB).unwrap();
    })
    .await;
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error:?}");
}

#[tokio::test]
async fn file_rewritten_in_place_during_upload_fails() {
    let (error, _) = upload_while_changing(|path| {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.write_all_at(&[0u8; 1000], 0).unwrap();
    })
    .await;
    assert_eq!(error.kind(), ErrorKind::Integrity, "{error:?}");
}

#[tokio::test]
async fn upload_rejects_directory_and_missing_file() {
    let (_azurite, store) = http_store("results").await;
    let dir = tempfile::tempdir().unwrap();
    let error = store
        .upload_file("results", "dir.bin", dir.path(), &UploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    assert!(
        error.message().contains(&dir.path().display().to_string()),
        "{error}"
    );
    assert!(error.message().contains("directory"), "{error}");

    let dangling = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let error = store
        .upload_file("results", "link.bin", &dangling, &UploadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");
    assert!(error.message().contains("link"), "{error}");
    assert!(!store.exists("results", "dir.bin").await.unwrap());
    assert!(!store.exists("results", "link.bin").await.unwrap());
}

#[tokio::test]
async fn unusual_names_round_trip() {
    let (_azurite, store) = http_store("results").await;
    let long_ascii = format!("long/{}", "n".repeat(1019));
    let long_unicode = "é".repeat(1024);
    let names = [
        "trailing space ".to_owned(),
        " leading and trailing  ".to_owned(),
        "dir%2Ffile.txt".to_owned(),
        "percent%25.txt".to_owned(),
        "caf\u{e9}.fa".to_owned(),
        "cafe\u{301}.fa".to_owned(),
        long_ascii.clone(),
        long_unicode.clone(),
    ];
    assert_eq!(long_ascii.chars().count(), 1024);

    for (seed, name) in names.iter().enumerate() {
        let data = content(100 + seed, seed as u8);
        store
            .upload_bytes("results", name, data, &UploadOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{name:?}: {error:?}"));
    }
    // Each name, the two Unicode forms of "café" included, is its own blob.
    let listed: Vec<String> = store
        .list_blobs("results", "")
        .await
        .unwrap()
        .into_iter()
        .map(|blob| blob.name)
        .collect();
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(listed, expected);

    for (seed, name) in names.iter().enumerate() {
        let (data, report) = store
            .download_bytes("results", name, &DownloadOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{name:?}: {error:?}"));
        assert!(report.verified, "{name:?}");
        assert_eq!(data, content(100 + seed, seed as u8), "{name:?}");
    }
    let error = store
        .upload_bytes(
            "results",
            &"n".repeat(1025),
            content(1, 0),
            &UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
}

#[tokio::test]
async fn no_overwrite_race_has_one_winner() {
    let (_azurite, store) = http_store("results").await;
    for (name, size) in [("small.bin", 1000usize), ("staged.bin", 300 * KIB as usize)] {
        let options = UploadOptions {
            overwrite: false,
            single_put_max: 64 * KIB,
            block_size: 64 * KIB,
            ..UploadOptions::default()
        };
        let uploads = (0..6u8).map(|seed| {
            let store = store.clone();
            let options = options.clone();
            async move {
                let data = content(size, seed);
                let result = store.upload_bytes("results", name, data, &options).await;
                (seed, result)
            }
        });
        let results = futures::future::join_all(uploads).await;
        let winners: Vec<u8> = results
            .iter()
            .filter(|(_, result)| result.is_ok())
            .map(|(seed, _)| *seed)
            .collect();
        assert_eq!(winners.len(), 1, "{name}: {results:?}");
        for (_, result) in &results {
            if let Err(error) = result {
                assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{name}: {error:?}");
            }
        }
        let (data, report) = store
            .download_bytes("results", name, &DownloadOptions::default())
            .await
            .unwrap();
        assert!(report.verified, "{name}");
        assert_eq!(data, content(size, winners[0]), "{name}");
    }
}

/// Uploads small blobs under `names` with their name as content.
async fn put_names(store: &BlobStore, names: &[&str]) {
    for name in names {
        store
            .upload_bytes(
                "results",
                name,
                Bytes::copy_from_slice(name.as_bytes()),
                &UploadOptions::default(),
            )
            .await
            .unwrap();
    }
}

/// Returns the relative paths of the files under `root`, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn prefix_with_and_without_slash() {
    let (_azurite, store) = http_store("results").await;
    put_names(
        &store,
        &[
            "job1/a.out.gz",
            "job1/b.out",
            "job1/metadata/SUCCESS.txt",
            "job10/other.out",
            "job1.out",
        ],
    )
    .await;
    for prefix in ["job1", "job1/"] {
        let dir = tempfile::tempdir().unwrap();
        let report = store
            .download_prefix("results", prefix, dir.path(), &TreeOptions::default())
            .await
            .unwrap()
            .ensure_success()
            .unwrap();
        assert_eq!(report.files, 3, "{prefix}");
        assert_eq!(
            files_under(dir.path()),
            ["a.out.gz", "b.out", "metadata/SUCCESS.txt"],
            "{prefix}"
        );
    }
}

#[tokio::test]
async fn pattern_lists_select_files() {
    let (_azurite, store) = http_store("results").await;
    put_names(
        &store,
        &[
            "job/a.out.gz",
            "job/b.out",
            "job/c.out.gz.tmp",
            "job/logs/d.log",
            "job/shard_00/e.out",
        ],
    )
    .await;
    let all = vec![
        "a.out.gz",
        "b.out",
        "c.out.gz.tmp",
        "logs/d.log",
        "shard_00/e.out",
    ];
    let cases = [
        (
            "*.out.gz;*.out",
            "",
            vec!["a.out.gz", "b.out", "shard_00/e.out"],
        ),
        ("", "", all.clone()),
        (";;", "", all.clone()),
        (" ; ", ";;", all.clone()),
        ("*.out.gz;*.out", "*.out", vec!["a.out.gz"]),
        ("", "*.out.gz;*.out;logs/*", vec!["c.out.gz.tmp"]),
        ("*.fa", "", vec![]),
    ];
    for (include, exclude, expected) in cases {
        let options = TreeOptions::default()
            .with_include(include)
            .unwrap()
            .with_exclude(exclude)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = store
            .download_prefix("results", "job", dir.path(), &options)
            .await
            .unwrap()
            .ensure_success()
            .unwrap();
        assert_eq!(files_under(dir.path()), expected, "{include:?} {exclude:?}");
        assert_eq!(
            report.files,
            expected.len() as u64,
            "{include:?} {exclude:?}"
        );
        assert_eq!(
            report.skipped,
            (all.len() - expected.len()) as u64,
            "{include:?} {exclude:?}"
        );
    }
}

#[tokio::test]
async fn empty_prefix_and_non_empty_folder() {
    let (_azurite, store) = http_store("results").await;
    put_names(&store, &["job/a.out", "job/sub/b.out"]).await;

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("new");
    let report = store
        .download_prefix("results", "nothing-here", &target, &TreeOptions::default())
        .await
        .unwrap();
    assert!(report.is_success());
    assert_eq!(report.files, 0);
    assert_eq!(report.bytes, 0);

    // Files of other origin stay, and existing files are replaced or kept per `overwrite`.
    std::fs::create_dir_all(dir.path().join("full/sub")).unwrap();
    std::fs::write(dir.path().join("full/unrelated.txt"), b"mine").unwrap();
    std::fs::write(dir.path().join("full/a.out"), b"old a").unwrap();
    std::fs::write(dir.path().join("full/sub/b.out"), b"old b").unwrap();
    let keep = TreeOptions {
        overwrite: false,
        ..TreeOptions::default()
    };
    let report = store
        .download_prefix("results", "job", dir.path().join("full"), &keep)
        .await
        .unwrap();
    assert_eq!(report.skipped_existing, 2);
    assert_eq!(report.files, 0);
    assert_eq!(
        std::fs::read(dir.path().join("full/a.out")).unwrap(),
        b"old a"
    );

    let report = store
        .download_prefix(
            "results",
            "job",
            dir.path().join("full"),
            &TreeOptions::default(),
        )
        .await
        .unwrap()
        .ensure_success()
        .unwrap();
    assert_eq!(report.files, 2);
    assert_eq!(
        std::fs::read(dir.path().join("full/a.out")).unwrap(),
        b"job/a.out"
    );
    assert_eq!(
        std::fs::read(dir.path().join("full/sub/b.out")).unwrap(),
        b"job/sub/b.out"
    );
    assert_eq!(
        std::fs::read(dir.path().join("full/unrelated.txt")).unwrap(),
        b"mine"
    );
    assert_eq!(
        files_under(&dir.path().join("full")),
        ["a.out", "sub/b.out", "unrelated.txt"]
    );
}

#[tokio::test]
async fn errors_name_blob_and_hide_secrets() {
    let (azurite, admin) = http_store("results").await;
    admin
        .upload_bytes(
            "results",
            "a.bin",
            content(100, 8),
            &UploadOptions::default(),
        )
        .await
        .unwrap();
    let key = secrecy::SecretString::from(azurite.account_key().to_owned());
    let read_only = AccountSas::new(OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .with_permissions("rl")
        .sign(azurite.account_name(), &key)
        .unwrap();
    let sas_text = read_only.expose_secret().to_owned();
    let signature = sas_text
        .split('&')
        .find_map(|pair| pair.strip_prefix("sig="))
        .unwrap()
        .to_owned();
    let sas_url = format!("{}/results/a.bin?{sas_text}", azurite.blob_endpoint());
    let url = elb_core::blob::BlobUrl::parse(&sas_url).unwrap();
    let sas_store = BlobStore::from_url(&url, BlobAuth::Anonymous, options()).unwrap();
    let secrets = [signature.as_str(), azurite.account_key()];

    let dir = tempfile::tempdir().unwrap();
    let errors = [
        sas_store
            .download_bytes("results", "missing.bin", &DownloadOptions::default())
            .await
            .unwrap_err(),
        sas_store
            .upload_bytes(
                "results",
                "new.bin",
                content(10, 0),
                &UploadOptions::default(),
            )
            .await
            .unwrap_err(),
        sas_store.delete_blob("results", "a.bin").await.unwrap_err(),
        admin
            .download_file(
                "results",
                "missing.bin",
                dir.path().join("m.bin"),
                &DownloadOptions::default(),
            )
            .await
            .unwrap_err(),
        admin
            .properties("results", "missing.bin")
            .await
            .unwrap_err(),
    ];
    let named = [
        "missing.bin",
        "new.bin",
        "a.bin",
        "missing.bin",
        "missing.bin",
    ];
    for (error, name) in errors.iter().zip(named) {
        assert!(
            error.to_string().contains(&format!("results/{name}")),
            "{error}"
        );
        assert_no_secret(error, &secrets);
    }

    // A wrong account key is rejected without showing the key in use.
    let wrong_key = "d3Jvbmcga2V5IGZvciB0aGUgdGVzdCBhY2NvdW50IG9ubHk=";
    let wrong = BlobStore::new(
        &azurite.blob_endpoint(),
        BlobAuth::shared_key(azurite.account_name(), wrong_key),
        options(),
    )
    .unwrap();
    let error = wrong
        .download_bytes("results", "a.bin", &DownloadOptions::default())
        .await
        .unwrap_err();
    // Azurite 3.35 rejects a wrong signature with AuthorizationFailure (403), where Azure
    // returns AuthenticationFailed, so both kinds pass.
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Authentication | ErrorKind::PermissionDenied
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("results/a.bin"), "{error}");
    assert_no_secret(&error, &[wrong_key, azurite.account_key()]);
}

#[tokio::test]
async fn closed_port_fails_with_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let retry = RetryOptions {
        max_retries: 2,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(2),
        // Reaching the deadline would turn the error into TimedOut.
        deadline: Some(Duration::from_secs(20)),
    };
    let options = BlobOptions {
        retry,
        ..BlobOptions::default()
    };
    let store = BlobStore::new(
        &format!("http://127.0.0.1:{port}/devstoreaccount1"),
        BlobAuth::shared_key("devstoreaccount1", "a2V5IGZvciBhIGNsb3NlZCBwb3J0"),
        options,
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let error = store
        .download_file(
            "results",
            "a.bin",
            dir.path().join("a.bin"),
            &DownloadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert!(error.to_string().contains("results/a.bin"), "{error}");
    assert!(error.to_string().contains(&port.to_string()), "{error}");

    let error = store
        .upload_bytes(
            "results",
            "a.bin",
            content(10, 0),
            &UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
    assert_eq!(entries(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn file_and_folder_name_clash() {
    let (_azurite, store) = http_store("results").await;
    put_names(&store, &["job/x", "job/x/y", "job/z"]).await;
    let dir = tempfile::tempdir().unwrap();
    let options = TreeOptions {
        concurrency: 1,
        ..TreeOptions::default()
    };
    let report = store
        .download_prefix("results", "job", dir.path(), &options)
        .await
        .unwrap();
    // `x` cannot be both a file and a folder, so exactly one of the two fails.
    assert_eq!(report.files, 2, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let failed = &report.failed[0];
    assert!(failed.path == "x" || failed.path == "x/y", "{report:?}");
    assert_eq!(failed.error.kind(), ErrorKind::InvalidInput, "{report:?}");
    let local = dir.path().join("x").display().to_string();
    assert!(failed.error.message().contains(&local), "{report:?}");
    assert_eq!(std::fs::read(dir.path().join("z")).unwrap(), b"job/z");
    assert!(hidden_files(dir.path()).is_empty());
    if dir.path().join("x").is_dir() {
        assert!(hidden_files(&dir.path().join("x")).is_empty());
    }
}

#[tokio::test]
async fn zip_of_unusual_names() {
    let (_azurite, store) = http_store("results").await;
    let names = [
        "job/trailing ",
        "job/caf\u{e9}",
        "job/cafe\u{301}",
        "job/a%2Fb",
    ];
    put_names(&store, &names).await;

    let mut archive = Vec::new();
    let report = store
        .zip_prefix(
            "results",
            "job",
            &elb_core::blob::ZipOptions::default(),
            &mut archive,
        )
        .await
        .unwrap();
    let mut expected: Vec<String> = names
        .iter()
        .map(|name| name.strip_prefix("job/").unwrap().to_owned())
        .collect();
    expected.sort();
    let mut entries = report.entries.clone();
    entries.sort();
    assert_eq!(entries, expected);
    assert_eq!(report.archive_bytes, archive.len() as u64);

    for entry in &expected {
        let needle = entry.as_bytes();
        assert!(
            archive.windows(needle.len()).any(|window| window == needle),
            "{entry:?} missing from the archive"
        );
    }
}

#[tokio::test]
async fn deadline_error_names_blob() {
    let (azurite, _direct) = http_store("results").await;
    let retry = RetryOptions {
        deadline: Some(Duration::from_millis(500)),
        ..short_retries()
    };
    let (proxy, store) = proxied(&azurite, retry).await;
    proxy.add_rule(FaultRule::new(
        Matcher::any(),
        Fault::Stall(Duration::from_secs(5)),
    ));

    let dir = tempfile::tempdir().unwrap();
    let error = store
        .download_file(
            "results",
            "slow.bin",
            dir.path().join("slow.bin"),
            &DownloadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error:?}");
    assert!(error.message().contains("results/slow.bin"), "{error}");
    assert!(hidden_files(dir.path()).is_empty());

    let error = store
        .upload_bytes(
            "results",
            "slow.bin",
            content(10, 0),
            &UploadOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error:?}");
    assert!(error.message().contains("results/slow.bin"), "{error}");

    let error = store.properties("results", "slow.bin").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut, "{error:?}");
    assert!(error.message().contains("results/slow.bin"), "{error}");
}

#[tokio::test]
async fn concurrent_overwrites_leave_one_whole_blob() {
    let (_azurite, store) = http_store("results").await;
    let size = 300 * KIB as usize;
    let options = UploadOptions {
        single_put_max: 64 * KIB,
        block_size: 64 * KIB,
        concurrency: 2,
        ..UploadOptions::default()
    };
    let uploads = (0..4u8).map(|seed| {
        let store = store.clone();
        let options = options.clone();
        async move {
            let result = store
                .upload_bytes("results", "shared.bin", content(size, seed), &options)
                .await;
            (seed, result)
        }
    });
    let results = futures::future::join_all(uploads).await;
    for (seed, result) in &results {
        if let Err(error) = result {
            // Another writer's commit discards this writer's uncommitted blocks.
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{seed}: {error:?}");
            assert!(error.to_string().contains("results/shared.bin"), "{error}");
        }
    }
    assert!(
        results.iter().any(|(_, result)| result.is_ok()),
        "{results:?}"
    );

    let (data, report) = store
        .download_bytes("results", "shared.bin", &DownloadOptions::default())
        .await
        .unwrap();
    assert!(report.verified);
    let whole = (0..4u8).any(|seed| data == content(size, seed));
    assert!(whole, "the blob mixes blocks of several uploads");
}
