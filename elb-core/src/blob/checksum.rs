//! Content checksums: MD5 and the CRC64 that the Blob service accepts in
//! `x-ms-content-crc64`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use md5::{Digest, Md5};

use crate::{Error, ErrorKind, Result};

/// The checksum sent with each request body so the service rejects a body damaged on the
/// way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransactionalChecksum {
    /// No checksum.
    None,
    /// `Content-MD5` (base64 of the MD5 digest).
    #[default]
    Md5,
    /// `x-ms-content-crc64` (base64 of the CRC-64/NVME value in little-endian order).
    ///
    /// NOTE: Azurite 3.35 rejects this header with `500 FeatureNotSupported` unless started
    /// with `--loose`, and never checks it, so only unit tests cover the CRC value.
    Crc64,
}

impl TransactionalChecksum {
    /// Returns the header name and value for `body`, or `None` when disabled.
    pub(crate) fn header(self, body: &[u8]) -> Option<(&'static str, String)> {
        match self {
            Self::None => None,
            Self::Md5 => Some(("content-md5", STANDARD.encode(md5_digest(body)))),
            Self::Crc64 => Some((
                "x-ms-content-crc64",
                STANDARD.encode(crc64(0, body).to_le_bytes()),
            )),
        }
    }
}

/// Returns the MD5 digest of `data`.
pub fn md5_digest(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// An MD5 of a whole content computed on its own thread from parts sent in order, so that the
/// code reading or sending the parts waits for the hash only when its bounded queue is full.
pub(crate) struct OrderedMd5 {
    sender: tokio::sync::mpsc::Sender<Bytes>,
    task: tokio::task::JoinHandle<[u8; 16]>,
}

impl OrderedMd5 {
    /// Starts the hashing thread. At most `queue` parts wait for it, and `recycle` receives
    /// each part once it is hashed (to return a reused buffer to its pool).
    pub(crate) fn start(queue: usize, recycle: impl Fn(Bytes) + Send + 'static) -> Self {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(queue.max(1));
        let task = tokio::task::spawn_blocking(move || {
            let mut hasher = Md5::new();
            while let Some(part) = receiver.blocking_recv() {
                hasher.update(&part);
                recycle(part);
            }
            hasher.finalize().into()
        });
        Self { sender, task }
    }

    /// Sends the next part, waiting while the queue is full.
    pub(crate) async fn update(&self, part: Bytes) -> Result<()> {
        self.sender.send(part).await.map_err(|_| stopped())
    }

    /// Returns the digest of every part sent.
    pub(crate) async fn finish(self) -> Result<[u8; 16]> {
        drop(self.sender);
        self.task.await.map_err(|_| stopped())
    }
}

fn stopped() -> Error {
    Error::new(ErrorKind::Service, "the MD5 thread of a transfer stopped")
}

/// Decodes a base64 MD5 header value, or returns `None` when it is not 16 bytes.
pub(crate) fn decode_md5(value: &str) -> Option<[u8; 16]> {
    STANDARD.decode(value.trim()).ok()?.try_into().ok()
}

/// Returns the base64 form of an MD5 digest, as headers carry it.
pub(crate) fn encode_md5(digest: &[u8; 16]) -> String {
    STANDARD.encode(digest)
}

/// The reflected polynomial of CRC-64/NVME, which the Blob service uses.
const CRC64_POLY: u64 = 0x9a6c_9329_ac4b_c9b5;

const CRC64_TABLE: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC64_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
};

/// Continues a CRC-64/NVME computation: `crc64(0, data)` is the checksum of `data`, and
/// `crc64(crc64(0, a), b)` that of `a` followed by `b`.
pub fn crc64(previous: u64, data: &[u8]) -> u64 {
    let mut crc = !previous;
    for byte in data {
        crc = CRC64_TABLE[((crc ^ u64::from(*byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_check_value() {
        // The catalogue check value of CRC-64/NVME for the ASCII digits 1 to 9.
        assert_eq!(crc64(0, b"123456789"), 0xae8b_1486_0a79_9888);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn crc64_continues_across_parts() {
        let whole = crc64(0, b"hello world");
        assert_eq!(crc64(crc64(0, b"hello "), b"world"), whole);
    }

    #[tokio::test]
    async fn ordered_md5_matches_one_pass() {
        let recycled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = recycled.clone();
        let hasher = OrderedMd5::start(2, move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        for part in [&b"hello "[..], b"", b"wor", b"ld"] {
            hasher.update(Bytes::copy_from_slice(part)).await.unwrap();
        }
        assert_eq!(hasher.finish().await.unwrap(), md5_digest(b"hello world"));
        assert_eq!(recycled.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[test]
    fn md5_headers() {
        let (name, value) = TransactionalChecksum::Md5.header(b"abc").unwrap();
        assert_eq!(name, "content-md5");
        assert_eq!(value, "kAFQmDzST7DWlj99KOF/cg==");
        assert_eq!(decode_md5(&value), Some(md5_digest(b"abc")));
        assert_eq!(decode_md5("AAAA"), None);
        assert!(TransactionalChecksum::None.header(b"abc").is_none());
    }
}
