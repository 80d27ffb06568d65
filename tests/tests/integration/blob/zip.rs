//! ZIP archives of blob prefixes, checked by Python's `zipfile` and by `unzip -t`.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::blob_tree_support::{
    azurite_store, create_container, put_blob, put_blob_without_md5, python, read_tree,
    result_tree, shared_key_store,
};
use elb_core::ErrorKind;
use elb_core::blob::zip::ZipStreamWriter;
use elb_core::blob::{NamePatterns, ProgressEvent, ProgressStage, ZipOptions};
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use serde_json::Value;

/// Python script that checks an archive and prints its entries as JSON: name, size, CRC,
/// compression method, date and the MD5 of the content.
const INSPECT: &str = r#"
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    bad = archive.testzip()
    entries = [
        {
            "name": info.filename,
            "size": info.file_size,
            "method": info.compress_type,
            "date": list(info.date_time),
            "utf8": bool(info.flag_bits & 0x800),
            "md5": hashlib.md5(archive.read(info)).hexdigest(),
        }
        for info in archive.infolist()
    ]
print(json.dumps({"bad": bad, "entries": entries}))
"#;

fn inspect(archive: &Path) -> Value {
    let output = Command::new(python())
        .arg("-c")
        .arg(INSPECT)
        .arg(archive)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "python zipfile failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn unzip_test(archive: &Path) {
    let Ok(output) = Command::new("unzip").arg("-t").arg(archive).output() else {
        // unzip is optional: Python's zipfile above already checked every CRC.
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "unzip -t failed: {stdout}");
    assert!(stdout.contains("No errors detected"), "{stdout}");
}

async fn upload_tree(
    store: &elb_core::blob::BlobStore,
    container: &str,
    prefix: &str,
    root: &Path,
) {
    for (relative, data) in read_tree(root) {
        put_blob(store, container, &format!("{prefix}{relative}"), &data).await;
    }
}

#[tokio::test]
async fn zip_of_result_tree_matches_files() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "results").await;
    let local = result_tree("B2-pathogen-E16-1N");
    let job = local.file_name().unwrap().to_str().unwrap().to_owned();
    let prefix = format!("2026/12/04/7f598a7e/{job}/");
    upload_tree(&store, "results", &prefix, &local).await;
    put_blob(
        &store,
        "results",
        "2026/12/04/7f598a7e/other.txt",
        b"outside",
    )
    .await;

    let events = Arc::new(Mutex::new(Vec::<ProgressEvent>::new()));
    let sink = Arc::clone(&events);
    let options = ZipOptions {
        read_ahead: 2,
        progress: Some(Arc::new(move |event: &ProgressEvent| {
            sink.lock().unwrap().push(event.clone());
        })),
        ..ZipOptions::default()
    };
    let mut archive = Vec::new();
    let report = store
        .zip_prefix("results", &prefix, &options, &mut archive)
        .await
        .unwrap();

    let files = read_tree(&local);
    let expected_names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(report.entries, expected_names);
    assert_eq!(report.archive_bytes, archive.len() as u64);
    assert_eq!(report.md5_verified, files.len() as u64);
    let content: u64 = files.iter().map(|(_, data)| data.len() as u64).sum();
    assert_eq!(report.content_bytes, content);
    assert_eq!(report.skipped, 0);

    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("results.zip");
    std::fs::write(&path, &archive).unwrap();
    let inspected = inspect(&path);
    assert_eq!(inspected["bad"], Value::Null);
    let entries = inspected["entries"].as_array().unwrap();
    assert_eq!(entries.len(), files.len());
    for (entry, (name, data)) in entries.iter().zip(&files) {
        assert_eq!(entry["name"], name.as_str());
        assert_eq!(entry["size"], data.len() as u64);
        assert_eq!(entry["method"], 0, "{name} is stored");
        assert_eq!(entry["utf8"], true);
        assert_eq!(
            entry["md5"],
            crate::blob_tree_support::md5_hex(data),
            "{name}"
        );
        assert!(entry["date"][0].as_u64().unwrap() >= 2025, "{name}");
    }
    unzip_test(&path);

    let events = events.lock().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.stage, ProgressStage::Finished);
    assert_eq!(last.files_done, files.len() as u64);
    assert_eq!(last.bytes_done, content);
    assert_eq!(last.bytes_total, content);
}

#[tokio::test]
async fn zip_with_patterns_and_deflate() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "results").await;
    let local = result_tree("B2-virus-E64-1N");
    upload_tree(&store, "results", "virus/", &local).await;

    let options = ZipOptions {
        include: NamePatterns::parse("*.out.gz;metadata/*").unwrap(),
        exclude: NamePatterns::parse("job.yaml.template").unwrap(),
        deflate: true,
        ..ZipOptions::default()
    };
    let mut archive = Vec::new();
    let report = store
        .zip_prefix("results", "virus", &options, &mut archive)
        .await
        .unwrap();

    let files: Vec<_> = read_tree(&local)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".out.gz") || name.starts_with("metadata/"))
        .filter(|(name, _)| !name.ends_with("job.yaml.template"))
        .collect();
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(report.entries, names);
    assert_eq!(report.skipped, 3, "log, query batch and job template");

    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("virus.zip");
    std::fs::write(&path, &archive).unwrap();
    let inspected = inspect(&path);
    assert_eq!(inspected["bad"], Value::Null);
    for (entry, (name, data)) in inspected["entries"].as_array().unwrap().iter().zip(&files) {
        assert_eq!(entry["name"], name.as_str());
        assert_eq!(
            entry["md5"],
            crate::blob_tree_support::md5_hex(data),
            "{name}"
        );
        let expected_method = if name.ends_with(".gz") { 0 } else { 8 };
        assert_eq!(entry["method"], expected_method, "{name}");
    }
    unzip_test(&path);
}

#[tokio::test]
async fn zip_resumes_broken_blob_body() {
    let (azurite, direct) = azurite_store().await;
    create_container(&direct, "results").await;
    let local = result_tree("B2-pathogen-E16-1N");
    upload_tree(&direct, "results", "job/", &local).await;

    let upstream = format!("http://127.0.0.1:{}", azurite.port());
    let proxy = FaultProxy::start(&upstream, ProxyOptions::default())
        .await
        .unwrap();
    let rule = proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(http::Method::GET)
            .path_contains(".out.gz")
            .first(1),
        Fault::TruncatedBody,
    ));
    let store = shared_key_store(&format!("{}/devstoreaccount1", proxy.url()));

    let mut archive = Vec::new();
    let report = store
        .zip_prefix("results", "job", &ZipOptions::default(), &mut archive)
        .await
        .unwrap();
    assert_eq!(rule.faults_injected(), 1);
    assert_eq!(report.md5_verified, report.entries.len() as u64);

    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("resumed.zip");
    std::fs::write(&path, &archive).unwrap();
    let inspected = inspect(&path);
    assert_eq!(inspected["bad"], Value::Null);
    let files = read_tree(&local);
    for (entry, (name, data)) in inspected["entries"].as_array().unwrap().iter().zip(&files) {
        assert_eq!(entry["name"], name.as_str());
        assert_eq!(
            entry["md5"],
            crate::blob_tree_support::md5_hex(data),
            "{name}"
        );
    }
}

#[tokio::test]
async fn zip_keeps_unicode_names() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "names").await;
    let names = [
        "a & b <c>.txt",
        "résumé/日本語.fa",
        "space dir/emoji 🧬.out.gz",
    ];
    for name in names {
        put_blob(&store, "names", &format!("job/{name}"), name.as_bytes()).await;
    }

    let mut archive = Vec::new();
    let options = ZipOptions {
        deflate: true,
        ..ZipOptions::default()
    };
    store
        .zip_prefix("names", "job", &options, &mut archive)
        .await
        .unwrap();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("names.zip");
    std::fs::write(&path, &archive).unwrap();
    let inspected = inspect(&path);
    assert_eq!(inspected["bad"], Value::Null);
    let entries = inspected["entries"].as_array().unwrap();
    let listed: Vec<&str> = entries
        .iter()
        .map(|entry| entry["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names);
    for (entry, name) in entries.iter().zip(names) {
        assert_eq!(entry["utf8"], true, "{name}");
        assert_eq!(
            entry["md5"],
            crate::blob_tree_support::md5_hex(name.as_bytes()),
            "{name}"
        );
    }
    unzip_test(&path);
}

#[tokio::test]
async fn zip_detects_md5_mismatch() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "bad").await;
    put_blob(&store, "bad", "p/good.txt", b"fine").await;
    put_blob(&store, "bad", "p/wrong.txt", b"content").await;
    // Set Blob Properties stores the MD5 as given, so the blob now carries a wrong one.
    let request = elb_core::blob::BlobRequest::new("set blob properties", http::Method::PUT)
        .blob("bad", "p/wrong.txt")
        .query("comp", "properties")
        .header("x-ms-blob-content-md5", "AAAAAAAAAAAAAAAAAAAAAA==");
    store.send(&request).await.unwrap();

    let mut archive = Vec::new();
    let error = store
        .zip_prefix("bad", "p/", &ZipOptions::default(), &mut archive)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Integrity);
    assert_eq!(error.target(), Some("p/wrong.txt"));
}

#[tokio::test]
async fn zip_rejects_unsafe_blob_name() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "unsafe").await;
    put_blob_without_md5(&store, "unsafe", "p/a//etc/passwd", b"x").await;
    let mut archive = Vec::new();
    let error = store
        .zip_prefix("unsafe", "p", &ZipOptions::default(), &mut archive)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("p/a//etc/passwd"), "{error}");
}

#[tokio::test]
async fn zip_of_empty_prefix_is_valid() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "empty").await;
    let mut archive = Vec::new();
    let report = store
        .zip_prefix("empty", "nothing/", &ZipOptions::default(), &mut archive)
        .await
        .unwrap();
    assert!(report.entries.is_empty());
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("empty.zip");
    std::fs::write(&path, &archive).unwrap();
    let inspected = inspect(&path);
    assert_eq!(inspected["entries"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn writer_zip64_archives_read_back() {
    let folder = tempfile::tempdir().unwrap();

    let forced = folder.path().join("forced.zip");
    let file = tokio::fs::File::create(&forced).await.unwrap();
    let mut zip = ZipStreamWriter::new(file).with_zip64_always(true);
    let modified = time::macros::datetime!(2026-12-04 16:00:00 UTC);
    for (name, data) in [("a.txt", &b"alpha"[..]), ("dir/b.bin", &[0u8; 70_000][..])] {
        zip.start_entry(name, modified, data.len() as u64, name.ends_with(".bin"))
            .await
            .unwrap();
        zip.write(data).await.unwrap();
        zip.finish_entry().await.unwrap();
    }
    zip.finish().await.unwrap();
    let inspected = inspect(&forced);
    assert_eq!(inspected["bad"], Value::Null);
    assert_eq!(
        inspected["entries"][0]["date"],
        serde_json::json!([2026, 12, 4, 16, 0, 0])
    );
    assert_eq!(inspected["entries"][1]["size"], 70_000);
    unzip_test(&forced);

    let many = folder.path().join("many.zip");
    let file = tokio::fs::File::create(&many).await.unwrap();
    let mut zip = ZipStreamWriter::new(file);
    let count = 70_000;
    for index in 0..count {
        zip.start_entry(&format!("e/{index}"), modified, 1, false)
            .await
            .unwrap();
        zip.write(&[(index % 256) as u8]).await.unwrap();
        zip.finish_entry().await.unwrap();
    }
    zip.finish().await.unwrap();
    let inspected = inspect(&many);
    assert_eq!(inspected["bad"], Value::Null);
    let entries = inspected["entries"].as_array().unwrap();
    assert_eq!(entries.len(), count);
    assert_eq!(entries[count - 1]["name"], format!("e/{}", count - 1));
    unzip_test(&many);
}
