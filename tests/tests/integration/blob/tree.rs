//! Directory upload and prefix download against Azurite, with the real result trees and
//! BLAST database.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::blob_tree_support::{
    azurite_store, create_container, data_dir, md5_hex, put_blob_without_md5, read_tree,
    result_tree,
};
use elb_core::ErrorKind;
use elb_core::blob::{BlobStore, ProgressEvent, ProgressStage, TreeOptions};

fn md5_map(root: &Path) -> BTreeMap<String, String> {
    read_tree(root)
        .into_iter()
        .map(|(name, data)| (name, md5_hex(&data)))
        .collect()
}

fn recorder() -> (
    elb_core::blob::ProgressCallback,
    Arc<Mutex<Vec<ProgressEvent>>>,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let callback: elb_core::blob::ProgressCallback = Arc::new(move |event: &ProgressEvent| {
        sink.lock().unwrap().push(event.clone());
    });
    (callback, events)
}

async fn blob_names(store: &BlobStore, container: &str, prefix: &str) -> Vec<String> {
    store
        .list_blobs(container, prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|blob| blob.name)
        .collect()
}

#[tokio::test]
async fn result_trees_round_trip() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "results").await;

    for search in ["B2-pathogen-E16-1N", "B2-virus-E64-1N"] {
        let local = result_tree(search);
        let job = local.file_name().unwrap().to_str().unwrap().to_owned();
        let prefix = format!("{search}/{job}");
        let expected = md5_map(&local);
        let total_bytes: u64 = read_tree(&local).iter().map(|(_, d)| d.len() as u64).sum();

        let (callback, events) = recorder();
        let options = TreeOptions {
            progress: Some(callback),
            ..TreeOptions::default()
        };
        let report = store
            .upload_dir(&local, "results", &prefix, &options)
            .await
            .unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.files, expected.len() as u64);
        assert_eq!(report.bytes, total_bytes);
        let uploaded = blob_names(&store, "results", &format!("{prefix}/")).await;
        let expected_names: Vec<String> = expected
            .keys()
            .map(|name| format!("{prefix}/{name}"))
            .collect();
        assert_eq!(uploaded, expected_names);
        let last = events.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last.stage, ProgressStage::Finished);
        assert_eq!(last.bytes_done, total_bytes);

        let target = tempfile::tempdir().unwrap();
        let report = store
            .download_prefix("results", &prefix, target.path(), &TreeOptions::default())
            .await
            .unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.files, expected.len() as u64);
        assert_eq!(report.bytes, total_bytes);
        assert_eq!(md5_map(target.path()), expected, "{search}");
    }
}

#[tokio::test]
async fn download_with_azcopy_patterns() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "results").await;
    let local = result_tree("B2-pathogen-E16-1N");
    store
        .upload_dir(&local, "results", "job", &TreeOptions::default())
        .await
        .unwrap()
        .ensure_success()
        .unwrap();

    let target = tempfile::tempdir().unwrap();
    let options = TreeOptions::default()
        .with_include("*.out.gz;*.out")
        .unwrap();
    let report = store
        .download_prefix("results", "job/", target.path(), &options)
        .await
        .unwrap();
    let downloaded = md5_map(target.path());
    let expected: BTreeMap<_, _> = md5_map(&local)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".out.gz") || name.ends_with(".out"))
        .collect();
    assert_eq!(downloaded, expected);
    assert_eq!(report.files, 1);
    assert_eq!(report.skipped, 8);

    let target = tempfile::tempdir().unwrap();
    let options = TreeOptions::default()
        .with_include("metadata/*")
        .unwrap()
        .with_exclude("*.template;SUCCESS.txt")
        .unwrap();
    store
        .download_prefix("results", "job", target.path(), &options)
        .await
        .unwrap()
        .ensure_success()
        .unwrap();
    let names: Vec<String> = md5_map(target.path()).into_keys().collect();
    assert_eq!(
        names,
        [
            "metadata/batch_list.txt",
            "metadata/elastic-blast-config.json",
            "metadata/num_jobs_submitted.txt",
            "metadata/query_length.txt",
        ]
    );
}

#[tokio::test]
async fn blast_database_with_patterns() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "blast-db").await;
    let local = data_dir().join("blastdb");
    let options = TreeOptions::default().with_exclude("*.pdb").unwrap();
    let report = store
        .upload_dir(&local, "blast-db", "testdb", &options)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.skipped, 1);
    let names = blob_names(&store, "blast-db", "testdb/").await;
    assert!(
        !names.contains(&"testdb/testdb.pdb".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"testdb/testdb.psq".to_owned()), "{names:?}");

    // A small range size splits the 16 KiB volume into several ranged reads.
    let target = tempfile::tempdir().unwrap();
    let mut options = TreeOptions::default();
    options.download.range_size = 4096;
    options.concurrency = 3;
    let report = store
        .download_prefix("blast-db", "testdb", target.path(), &options)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    let expected: BTreeMap<_, _> = md5_map(&local)
        .into_iter()
        .filter(|(name, _)| !name.ends_with(".pdb"))
        .collect();
    assert_eq!(md5_map(target.path()), expected);
}

#[tokio::test]
async fn thousand_files_in_one_call() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "many").await;
    let source = tempfile::tempdir().unwrap();
    let count = 1_200;
    let mut total_bytes = 0;
    for index in 0..count {
        let folder = source.path().join(format!("d{:02}", index % 17));
        std::fs::create_dir_all(&folder).unwrap();
        let content = format!(">query_{index}\n{}\n", "ACGT".repeat(index % 40));
        total_bytes += content.len() as u64;
        std::fs::write(folder.join(format!("q{index:04}.fa")), content).unwrap();
    }

    let (callback, events) = recorder();
    let options = TreeOptions {
        concurrency: 8,
        progress: Some(callback),
        ..TreeOptions::default()
    };
    let report = store
        .upload_dir(source.path(), "many", "batch", &options)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.files, count as u64);
    assert_eq!(report.bytes, total_bytes);

    let events = events.lock().unwrap().clone();
    assert_eq!(events[0].stage, ProgressStage::Started);
    assert_eq!(events[0].files_total, count as u64);
    assert_eq!(events[0].bytes_total, total_bytes);
    let done: Vec<&ProgressEvent> = events
        .iter()
        .filter(|event| event.stage == ProgressStage::FileDone)
        .collect();
    assert_eq!(done.len(), count);
    let mut counts: Vec<u64> = done.iter().map(|event| event.files_done).collect();
    counts.sort();
    assert_eq!(counts, (1..=count as u64).collect::<Vec<_>>());
    let last = events.last().unwrap();
    assert_eq!(last.stage, ProgressStage::Finished);
    assert_eq!(last.files_done, count as u64);
    assert_eq!(last.bytes_done, total_bytes);
    assert_eq!(last.files_failed, 0);

    let target = tempfile::tempdir().unwrap();
    let report = store
        .download_prefix("many", "batch", target.path(), &options)
        .await
        .unwrap();
    assert_eq!(report.files, count as u64);
    assert_eq!(md5_map(target.path()), md5_map(source.path()));
}

#[tokio::test]
async fn unsafe_names_are_rejected() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "unsafe").await;
    put_blob_without_md5(&store, "unsafe", "job/ok.txt", b"fine").await;
    put_blob_without_md5(&store, "unsafe", "job//etc/passwd", b"evil").await;
    // The URL parser turns the backslashes into `/` and keeps the `..` segment, so the
    // stored name depends on the client's encoding, and the test reads it from the listing.
    // A literal `job/../x` cannot be created this way, because URL parsing removes `..`.
    put_blob_without_md5(&store, "unsafe", "job/a\\..\\b.txt", b"evil").await;
    let mut unsafe_names = blob_names(&store, "unsafe", "job/").await;
    unsafe_names.retain(|name| name != "job/ok.txt");
    assert_eq!(unsafe_names.len(), 2, "{unsafe_names:?}");

    let outer = tempfile::tempdir().unwrap();
    let target = outer.path().join("target");
    let report = store
        .download_prefix("unsafe", "job", &target, &TreeOptions::default())
        .await
        .unwrap();
    assert_eq!(report.files, 1);
    let mut failed: Vec<String> = report.failed.iter().map(|file| file.path.clone()).collect();
    failed.sort();
    assert_eq!(failed, unsafe_names);
    for file in &report.failed {
        assert_eq!(file.error.kind(), ErrorKind::InvalidInput);
        let quoted = format!("{:?}", file.path);
        assert!(file.error.message().contains(&quoted), "{}", file.error);
    }
    assert_eq!(
        md5_map(outer.path()).len(),
        1,
        "only target/ok.txt is written"
    );
    assert!(target.join("ok.txt").is_file());

    let fail_fast = TreeOptions {
        fail_fast: true,
        ..TreeOptions::default()
    };
    let other = tempfile::tempdir().unwrap();
    let report = store
        .download_prefix("unsafe", "job", other.path(), &fail_fast)
        .await
        .unwrap();
    assert_eq!(report.files, 0);
    assert_eq!(report.cancelled, 1);
    let error = report.ensure_success().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn existing_files_kept_without_overwrite() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "keep").await;
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("a.txt"), b"new a").unwrap();
    std::fs::write(source.path().join("b.txt"), b"new b").unwrap();
    put_blob_without_md5(&store, "keep", "p/a.txt", b"old a").await;

    let options = TreeOptions {
        overwrite: false,
        ..TreeOptions::default()
    };
    let report = store
        .upload_dir(source.path(), "keep", "p", &options)
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.files, 1);
    assert_eq!(report.skipped_existing, 1);

    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("a.txt"), b"local a").unwrap();
    let report = store
        .download_prefix("keep", "p", target.path(), &options)
        .await
        .unwrap();
    assert_eq!(report.skipped_existing, 1);
    assert_eq!(report.files, 1);
    assert_eq!(
        std::fs::read(target.path().join("a.txt")).unwrap(),
        b"local a"
    );
    assert_eq!(
        std::fs::read(target.path().join("b.txt")).unwrap(),
        b"new b"
    );
}

#[tokio::test]
async fn failed_files_are_all_reported() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "partial").await;
    for name in ["p/a.txt", "p/b.txt", "p/c.txt"] {
        put_blob_without_md5(&store, "partial", name, name.as_bytes()).await;
    }
    let target = tempfile::tempdir().unwrap();
    // A folder where a file must go makes that file's rename fail.
    std::fs::create_dir_all(target.path().join("b.txt/inner")).unwrap();

    let (callback, events) = recorder();
    let options = TreeOptions {
        progress: Some(callback),
        ..TreeOptions::default()
    };
    let report = store
        .download_prefix("partial", "p", target.path(), &options)
        .await
        .unwrap();
    assert_eq!(report.files, 2);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].path, "b.txt");
    assert_eq!(report.cancelled, 0);

    let events = events.lock().unwrap();
    let failed: Vec<&ProgressEvent> = events
        .iter()
        .filter(|event| event.stage == ProgressStage::FileFailed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].file.as_deref(), Some("b.txt"));
    assert!(failed[0].error.is_some());
    let last = events.last().unwrap();
    assert_eq!(last.files_done, 2);
    assert_eq!(last.files_failed, 1);
    assert_eq!(last.files_total, 3);
    assert_eq!(
        std::fs::read(target.path().join("c.txt")).unwrap(),
        b"p/c.txt"
    );
}

#[tokio::test]
async fn missing_directory_fails_upload() {
    let (_azurite, store) = azurite_store().await;
    let missing = tempfile::tempdir().unwrap().path().join("nope");
    let error = store
        .upload_dir(&missing, "any", "p", &TreeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn properties_and_exists_for_many() {
    let (_azurite, store) = azurite_store().await;
    create_container(&store, "props").await;
    put_blob_without_md5(&store, "props", "x/1", b"one").await;
    put_blob_without_md5(&store, "props", "x/3", b"three").await;

    let results = store
        .properties_many("props", ["x/1", "x/2", "x/3"], 4)
        .await
        .unwrap();
    let names: Vec<&str> = results.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["x/1", "x/2", "x/3"]);
    assert_eq!(results[0].1.as_ref().unwrap().as_ref().unwrap().size, 3);
    assert!(results[1].1.as_ref().unwrap().is_none());
    assert_eq!(results[2].1.as_ref().unwrap().as_ref().unwrap().size, 5);

    let exists = store
        .exists_many("props", ["x/3", "x/4", "x/1"], 2)
        .await
        .unwrap();
    assert_eq!(exists, [true, false, true]);
}
