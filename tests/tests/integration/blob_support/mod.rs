//! Helpers shared by the blob transfer tests: Azurite stores, generated files and MD5s.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, RetryOptions};
use elb_test_servers::azurite::{Azurite, AzuriteMode};
use md5::{Digest, Md5};

/// Returns the real data folder (read-only) that contains the queries, the BLAST database
/// and the result trees: `ELB_DATA_DIR` when set, else `shared/data` beside the repository.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("ELB_DATA_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => elb_test_servers::azurite::repo_root().join("../shared/data"),
    }
}

/// Retries short enough that failing tests end quickly.
pub fn short_retries() -> RetryOptions {
    RetryOptions {
        max_retries: 4,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_secs(2),
        deadline: Some(Duration::from_secs(120)),
    }
}

/// Options with short retries.
pub fn options() -> BlobOptions {
    BlobOptions {
        retry: short_retries(),
        ..BlobOptions::default()
    }
}

/// Starts Azurite over HTTP; fails the test when it cannot start.
pub async fn azurite_http() -> Azurite {
    Azurite::start(AzuriteMode::Http)
        .await
        .expect("Azurite must start: run `npm ci` in the repository root")
}

/// Creates a Shared Key store for `endpoint` (an account URL such as Azurite's blob endpoint).
pub fn shared_key_store(azurite: &Azurite, endpoint: &str, options: BlobOptions) -> BlobStore {
    let auth = BlobAuth::shared_key(azurite.account_name(), azurite.account_key());
    BlobStore::new(endpoint, auth, options).unwrap()
}

/// Starts Azurite over HTTP with a Shared Key store and a fresh container.
pub async fn http_store(container: &str) -> (Azurite, BlobStore) {
    let azurite = azurite_http().await;
    let store = shared_key_store(&azurite, &azurite.blob_endpoint(), options());
    assert!(store.create_container_if_missing(container).await.unwrap());
    (azurite, store)
}

/// Returns the MD5 of a file, read in chunks.
pub fn md5_file(path: &Path) -> [u8; 16] {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Md5::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).unwrap();
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    hasher.finalize().into()
}

/// Returns the MD5 of bytes.
pub fn md5_bytes(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// Writes `size` pseudo-random bytes from `seed` to `dir/name`, in 1 MiB chunks.
pub fn generate_file(dir: &Path, name: &str, size: u64, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            // xorshift64: cheap and different for every seed.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let take = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..take]).unwrap();
        left -= take as u64;
    }
    file.flush().unwrap();
    path
}

/// Returns the files of a folder that start with `.` (temporary download files).
pub fn hidden_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}
