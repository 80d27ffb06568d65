//! Block and range planning, block ids and content types: pure functions without I/O.

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{Error, Result};

/// One mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// Maximum number of blocks of one block blob.
pub const MAX_BLOCKS: u64 = 50_000;

/// Maximum size of one block (service version 2019-12-12 and later).
pub const MAX_BLOCK_SIZE: u64 = 4000 * MIB;

/// Returns the block size for a blob of `size` bytes: `preferred`, raised to a whole number
/// of MiB when `preferred` would need more than [`MAX_BLOCKS`] blocks.
///
/// # Errors
///
/// Fails when `preferred` is zero or above [`MAX_BLOCK_SIZE`], or when `size` exceeds
/// 50,000 blocks of 4000 MiB.
pub fn block_size_for(size: u64, preferred: u64) -> Result<u64> {
    if preferred == 0 || preferred > MAX_BLOCK_SIZE {
        return Err(Error::invalid_input(format!(
            "block size {preferred} is invalid: use 1 byte to 4000 MiB"
        )));
    }
    if size.div_ceil(preferred) <= MAX_BLOCKS {
        return Ok(preferred);
    }
    let needed = size.div_ceil(MAX_BLOCKS).div_ceil(MIB) * MIB;
    if needed > MAX_BLOCK_SIZE {
        return Err(Error::invalid_input(format!(
            "{size} bytes exceed the maximum block blob size of 50,000 blocks of 4000 MiB"
        )));
    }
    Ok(needed)
}

/// Splits `size` bytes into consecutive ranges of `chunk` bytes; the last may be shorter.
pub fn split_ranges(size: u64, chunk: u64) -> Vec<Range<u64>> {
    assert!(chunk > 0, "chunk size must be positive");
    (0..size.div_ceil(chunk))
        .map(|index| {
            let start = index * chunk;
            start..(start + chunk).min(size)
        })
        .collect()
}

/// Block ids of one upload: all of equal length, unique per upload.
///
/// An id is the base64 of a 16-hex-digit random prefix and a 5-digit block index, so every
/// id that elb writes is 28 characters long. Two uploads share ids only when their 64-bit
/// random prefixes are equal.
#[derive(Clone, Debug)]
pub struct BlockIds {
    prefix: u64,
}

impl BlockIds {
    /// Creates ids with a random prefix.
    pub fn random() -> Self {
        Self {
            prefix: rand::random(),
        }
    }

    /// Returns the id of block `index` (below [`MAX_BLOCKS`]).
    pub fn id(&self, index: u64) -> String {
        debug_assert!(index < MAX_BLOCKS);
        STANDARD.encode(format!("{:016x}{index:05}", self.prefix))
    }
}

/// Returns the `Content-Type` elb stores for a blob name, chosen by its extension.
pub fn content_type_for(name: &str) -> &'static str {
    let file_name = name.rsplit('/').next().unwrap_or(name);
    let extension = match file_name.rsplit_once('.') {
        Some((_, extension)) => extension.to_ascii_lowercase(),
        None => return "application/octet-stream",
    };
    match extension.as_str() {
        "fa" | "fasta" | "fna" | "faa" | "txt" | "out" | "tsv" | "csv" | "log" => "text/plain",
        "json" => "application/json",
        "gz" => "application/gzip",
        "yaml" | "yml" => "application/yaml",
        "zip" => "application/zip",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_blob_keeps_preferred_block_size() {
        assert_eq!(block_size_for(0, 8 * MIB).unwrap(), 8 * MIB);
        assert_eq!(block_size_for(100 * MIB, 4 * MIB).unwrap(), 4 * MIB);
        assert_eq!(
            block_size_for(MAX_BLOCKS * 4 * MIB, 4 * MIB).unwrap(),
            4 * MIB
        );
    }

    #[test]
    fn huge_blob_raises_block_size_under_block_limit() {
        let size = MAX_BLOCKS * 4 * MIB + 1;
        let block = block_size_for(size, 4 * MIB).unwrap();
        assert_eq!(block, 5 * MIB);
        assert!(size.div_ceil(block) <= MAX_BLOCKS);

        let ten_tib = 10 * 1024 * 1024 * MIB;
        let block = block_size_for(ten_tib, 8 * MIB).unwrap();
        assert!(ten_tib.div_ceil(block) <= MAX_BLOCKS);
        assert!(block <= MAX_BLOCK_SIZE);
    }

    #[test]
    fn oversized_blob_and_bad_block_size_fail() {
        assert!(block_size_for(MAX_BLOCKS * MAX_BLOCK_SIZE + 1, 8 * MIB).is_err());
        assert!(block_size_for(MAX_BLOCKS * MAX_BLOCK_SIZE, 8 * MIB).is_ok());
        assert!(block_size_for(10, 0).is_err());
        assert!(block_size_for(10, MAX_BLOCK_SIZE + 1).is_err());
    }

    #[test]
    fn ranges_cover_size_exactly() {
        assert_eq!(split_ranges(0, 4), Vec::<Range<u64>>::new());
        assert_eq!(split_ranges(10, 4), vec![0..4, 4..8, 8..10]);
        assert_eq!(split_ranges(8, 4), vec![0..4, 4..8]);
    }

    #[test]
    fn block_ids_have_equal_length_and_differ() {
        let ids = BlockIds::random();
        let first = ids.id(0);
        assert_eq!(first.len(), 28);
        assert_eq!(ids.id(MAX_BLOCKS - 1).len(), 28);
        assert_ne!(first, ids.id(1));
        assert_ne!(first, BlockIds::random().id(0));
    }

    #[test]
    fn content_types_by_extension() {
        let cases = [
            ("queries/job.fa", "text/plain"),
            ("q.FASTA", "text/plain"),
            ("results/a.out.gz", "application/gzip"),
            ("meta/config.json", "application/json"),
            ("job.yaml", "application/yaml"),
            ("SUCCESS.txt", "text/plain"),
            ("db/nt.00.nsq", "application/octet-stream"),
            ("no-extension", "application/octet-stream"),
            ("dir.v2/file", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type_for(name), expected, "{name}");
        }
    }
}
