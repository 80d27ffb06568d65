//! Content checksums: MD5 and the CRC64 that the Blob service accepts in
//! `x-ms-content-crc64`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use crc_fast::CrcAlgorithm;
use md5::{Digest, Md5};

use crate::{Error, ErrorKind, Result};

/// The header name of a request body's CRC-64.
pub(crate) const CRC64_HEADER: &str = "x-ms-content-crc64";

/// The header name of a request body's MD5.
pub(crate) const MD5_HEADER: &str = "content-md5";

/// The checksum sent with each request body so the service rejects a body damaged on the
/// way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransactionalChecksum {
    /// No checksum.
    None,
    /// `x-ms-content-crc64` while the service accepts it, and `Content-MD5` after it
    /// rejected that header.
    ///
    /// When the service rejects `x-ms-content-crc64` as unsupported, as Azurite 3.35 does
    /// without `--loose` (`500 FeatureNotSupported`), the store logs one warning, resends that
    /// request with `Content-MD5`, and from then on sends `Content-MD5` for `Auto` in the store
    /// and all its clones. [`BlobStore::resolve_checksum`](super::BlobStore::resolve_checksum)
    /// returns the checksum that `Auto` currently sends.
    #[default]
    Auto,
    /// `Content-MD5` (base64 of the MD5 digest).
    Md5,
    /// `x-ms-content-crc64` (base64 of the CRC-64/NVME value in little-endian order). An
    /// upload fails with [`ErrorKind::InvalidInput`] when the service rejects the header.
    ///
    /// NOTE: Azurite 3.35 rejects this header with `500 FeatureNotSupported` unless started
    /// with `--loose`, and with `--loose` it accepts the header without checking it, so only
    /// unit tests cover the CRC value.
    Crc64,
}

impl TransactionalChecksum {
    /// Returns the header name and value for `body`, or `None` when disabled.
    ///
    /// `Auto` sends CRC-64 here, so callers first resolve it with
    /// [`BlobStore::resolve_checksum`](super::BlobStore::resolve_checksum).
    pub(crate) fn header(self, body: &[u8]) -> Option<(&'static str, String)> {
        match self {
            Self::None => None,
            Self::Md5 => Some((MD5_HEADER, STANDARD.encode(md5_digest(body)))),
            Self::Auto | Self::Crc64 => {
                Some((CRC64_HEADER, STANDARD.encode(crc64(0, body).to_le_bytes())))
            }
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

/// Continues a CRC-64/NVME computation: `crc64(0, data)` is the checksum of `data`, and
/// `crc64(crc64(0, a), b)` that of `a` followed by `b`.
///
/// The work is done by `crc-fast`, which uses carry-less multiplication (PCLMULQDQ on
/// x86_64, PMULL on aarch64) where the CPU has it and a table otherwise.
pub fn crc64(previous: u64, data: &[u8]) -> u64 {
    // CRC-64/NVME starts from all ones and inverts the final register, so the register
    // after `previous` is its inverse.
    let mut digest = crc_fast::Digest::new_with_init_state(CrcAlgorithm::Crc64Nvme, !previous);
    digest.update(data);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-64/NVME one bit at a time, straight from its definition: reflected polynomial
    /// 0x9a6c9329ac4bc9b5, all-ones start and final inversion.
    fn crc64_bitwise(data: &[u8]) -> u64 {
        let mut crc = u64::MAX;
        for byte in data {
            crc ^= u64::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x9a6c_9329_ac4b_c9b5
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Varied bytes that are not periodic within a SIMD block.
    fn varied_bytes(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 7919) >> 3) as u8 ^ i as u8)
            .collect()
    }

    #[test]
    fn crc64_check_value() {
        // The catalogue check value of CRC-64/NVME for the ASCII digits 1 to 9.
        assert_eq!(crc64(0, b"123456789"), 0xae8b_1486_0a79_9888);
        assert_eq!(crc64(0, b""), 0);
        assert_eq!(crc64_bitwise(b"123456789"), 0xae8b_1486_0a79_9888);
    }

    #[test]
    fn crc64_continues_across_parts() {
        let whole = crc64(0, b"hello world");
        assert_eq!(crc64(crc64(0, b"hello "), b"world"), whole);
        assert_eq!(crc64(whole, b""), whole);
    }

    #[test]
    fn crc64_matches_bitwise_definition() {
        // Lengths below, at and above the 16, 64 and 128 byte blocks of the SIMD code, and
        // one of 1 MiB and 13 bytes.
        for len in [
            1,
            7,
            15,
            16,
            17,
            63,
            64,
            65,
            127,
            128,
            129,
            255,
            256,
            1000,
            4096 + 3,
            (1 << 20) + 13,
        ] {
            let data = varied_bytes(len);
            assert_eq!(crc64(0, &data), crc64_bitwise(&data), "length {len}");
        }
        assert_eq!(crc64(0, &[0u8; 4096]), crc64_bitwise(&[0u8; 4096]));
        assert_eq!(crc64(0, &[0xffu8; 4096]), crc64_bitwise(&[0xffu8; 4096]));
    }

    #[test]
    fn crc64_split_at_every_offset() {
        let data = varied_bytes(300);
        let whole = crc64_bitwise(&data);
        for split in 0..=data.len() {
            let (head, tail) = data.split_at(split);
            assert_eq!(crc64(crc64(0, head), tail), whole, "split at {split}");
        }
        let mut running = 0;
        for chunk in data.chunks(37) {
            running = crc64(running, chunk);
        }
        assert_eq!(running, whole);
    }

    #[test]
    fn crc64_header_is_little_endian_base64() {
        let (name, value) = TransactionalChecksum::Crc64.header(b"123456789").unwrap();
        assert_eq!(name, "x-ms-content-crc64");
        // 0xae8b14860a799888 in little-endian byte order.
        let expected = STANDARD.encode([0x88, 0x98, 0x79, 0x0a, 0x86, 0x14, 0x8b, 0xae]);
        assert_eq!(value, expected);
        assert_eq!(
            TransactionalChecksum::Auto.header(b"123456789"),
            Some((name, value))
        );
    }

    /// Prints how fast this build computes MD5 and CRC-64 over 1 GiB in memory. It checks
    /// nothing, so it only runs on request:
    /// `cargo test --release -p elb-core --lib -- --ignored --nocapture checksum_throughput`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn checksum_throughput() {
        const MIB: usize = 1 << 20;
        let data = varied_bytes(64 * MIB);
        let rounds = 16;
        let total_mib = (rounds * data.len() / MIB) as f64;

        let started = std::time::Instant::now();
        let mut hasher = Md5::new();
        for _ in 0..rounds {
            hasher.update(std::hint::black_box(&data[..]));
        }
        let digest: [u8; 16] = hasher.finalize().into();
        let md5_seconds = started.elapsed().as_secs_f64();

        let started = std::time::Instant::now();
        let mut crc = 0;
        for _ in 0..rounds {
            crc = crc64(crc, std::hint::black_box(&data[..]));
        }
        let crc_seconds = started.elapsed().as_secs_f64();

        println!(
            "MD5: {:.0} MiB/s ({} of 1 GiB); CRC-64: {:.0} MiB/s ({crc:#018x})",
            total_mib / md5_seconds,
            encode_md5(&digest),
            total_mib / crc_seconds,
        );
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
