//! Shared set-up of the blob listing, tree and ZIP tests: Azurite, a store and fixtures.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use elb_core::blob::{BlobAuth, BlobOptions, BlobRequest, BlobStore, RetryOptions};
use elb_test_servers::azurite::{ACCOUNT_KEY, ACCOUNT_NAME, Azurite, AzuriteMode};
use http::Method;
use md5::{Digest, Md5};

/// Starts Azurite over HTTP and returns it with a Shared Key store on it.
///
/// # Panics
///
/// Panics when Azurite cannot start, so a test that needs it fails instead of skipping.
pub async fn azurite_store() -> (Azurite, BlobStore) {
    let azurite = Azurite::start(AzuriteMode::Http)
        .await
        .expect("Azurite must start for this test (run `npm ci` in the repository root)");
    let store = shared_key_store(&azurite.blob_endpoint());
    (azurite, store)
}

/// Returns a store with Azurite's Shared Key for an account URL (Azurite's, or a proxy's
/// followed by `/devstoreaccount1`), with short retries so failing tests end quickly.
pub fn shared_key_store(account_url: &str) -> BlobStore {
    let options = BlobOptions {
        retry: RetryOptions {
            max_retries: 2,
            initial_delay: std::time::Duration::from_millis(50),
            ..RetryOptions::default()
        },
        ..BlobOptions::default()
    };
    BlobStore::new(
        account_url,
        BlobAuth::shared_key(ACCOUNT_NAME, ACCOUNT_KEY),
        options,
    )
    .unwrap()
}

/// Creates a container.
pub async fn create_container(store: &BlobStore, container: &str) {
    let request = BlobRequest::new("create container", Method::PUT)
        .container(container)
        .query("restype", "container");
    store.send(&request).await.unwrap();
}

/// Uploads `data` as a block blob in one request, storing its Content-MD5.
pub async fn put_blob(store: &BlobStore, container: &str, name: &str, data: &[u8]) {
    let md5 = BASE64.encode(Md5::digest(data));
    let request = BlobRequest::new("put blob", Method::PUT)
        .blob(container, name)
        .header("x-ms-blob-type", "BlockBlob")
        .header("x-ms-blob-content-md5", md5)
        .body(data.to_vec());
    store.send(&request).await.unwrap();
}

/// Uploads `data` as a block blob without a Content-MD5, through Put Block and Put Block
/// List, because the service computes an MD5 for a single Put Blob.
pub async fn put_blob_without_md5(store: &BlobStore, container: &str, name: &str, data: &[u8]) {
    let block_id = BASE64.encode("block-0");
    let block = BlobRequest::new("put block", Method::PUT)
        .blob(container, name)
        .query("comp", "block")
        .query("blockid", block_id.clone())
        .body(data.to_vec());
    store.send(&block).await.unwrap();
    let list = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>{block_id}</Latest></BlockList>"
    );
    let commit = BlobRequest::new("put block list", Method::PUT)
        .blob(container, name)
        .query("comp", "blocklist")
        .body(list.into_bytes());
    store.send(&commit).await.unwrap();
}

pub use crate::blob_support::data_dir;

/// Returns the first real result tree: the `job-<id>` folder of a completed search.
pub fn result_tree(search: &str) -> PathBuf {
    let parent = data_dir().join("results").join(search);
    let mut jobs: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    jobs.sort();
    jobs.remove(0)
}

/// Returns every regular file under `root` as (relative path with `/`, content), sorted.
pub fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let relative: Vec<_> = relative
                    .components()
                    .map(|component| component.as_os_str().to_str().unwrap().to_owned())
                    .collect();
                files.push((relative.join("/"), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Returns the hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Returns the Python interpreter of the repository's virtual environment, or `python3`.
pub fn python() -> PathBuf {
    let venv = elb_test_servers::azurite::repo_root().join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}
