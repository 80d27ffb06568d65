//! The data sets each contender moves, generated once from a fixed seed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// Bytes in one mebibyte.
pub const MIB: u64 = 1024 * 1024;

/// One data set: `files` files of `file_size` bytes each.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short name used in blob prefixes, file names and reports.
    pub name: &'static str,
    /// The ElasticBLAST data this set models.
    pub description: String,
    /// Number of files.
    pub files: usize,
    /// Size of each file in bytes.
    pub file_size: u64,
}

impl Workload {
    /// Returns the total size of the set in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.files as u64 * self.file_size
    }

    /// Returns the name of file number `index`, the same locally and as a blob.
    pub fn file_name(&self, index: usize) -> String {
        format!("{}-{index:05}.bin", self.name)
    }
}

/// Returns the full workloads, or the tiny smoke-test versions of them.
pub fn workloads(smoke: bool) -> Vec<Workload> {
    let (large, db, results) = if smoke {
        ((1, 4 * MIB), (4, MIB), (50, 4 * 1024))
    } else {
        ((1, 1024 * MIB), (16, 64 * MIB), (2000, 64 * 1024))
    };
    vec![
        Workload {
            name: "large",
            description: format!("{} file of {}", large.0, size_label(large.1)),
            files: large.0,
            file_size: large.1,
        },
        Workload {
            name: "db",
            description: format!("{} files of {} (a database)", db.0, size_label(db.1)),
            files: db.0,
            file_size: db.1,
        },
        Workload {
            name: "results",
            description: format!(
                "{} files of {} (a results prefix)",
                results.0,
                size_label(results.1)
            ),
            files: results.0,
            file_size: results.1,
        },
        Workload {
            name: "tiny",
            description: "1 file of 4 KiB (latency)".to_owned(),
            files: 1,
            file_size: 4096,
        },
    ]
}

/// Formats a size as `N GiB`, `N MiB` or `N KiB`.
pub fn size_label(bytes: u64) -> String {
    if bytes >= 1024 * MIB && bytes.is_multiple_of(1024 * MIB) {
        format!("{} GiB", bytes / (1024 * MIB))
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// A generated workload on disk with the MD5 of every file.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The workload the files belong to.
    pub workload: Workload,
    /// The folder holding exactly the workload's files.
    pub dir: PathBuf,
    /// `(file name, MD5)` for every file, in index order.
    pub files: Vec<(String, [u8; 16])>,
}

/// Writes the files of `workload` into `root/<name>` and returns their digests.
///
/// The content depends only on the workload name and the file index, so every run of the
/// harness moves the same bytes.
///
/// # Errors
///
/// Fails when a file cannot be written.
pub fn generate(root: &Path, workload: &Workload) -> std::io::Result<Dataset> {
    let dir = root.join(workload.name);
    std::fs::create_dir_all(&dir)?;
    let mut files = Vec::with_capacity(workload.files);
    for index in 0..workload.files {
        let name = workload.file_name(index);
        let seed = seed_for(workload.name, index);
        let digest = write_file(&dir.join(&name), workload.file_size, seed)?;
        files.push((name, digest));
    }
    Ok(Dataset {
        workload: workload.clone(),
        dir,
        files,
    })
}

fn seed_for(name: &str, index: usize) -> u64 {
    // FNV-1a of the name, mixed with the index, so that no two files share content.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
}

/// Writes `size` pseudo-random bytes from an xorshift64* generator and returns their MD5.
fn write_file(path: &Path, size: u64, seed: u64) -> std::io::Result<[u8; 16]> {
    let mut out = BufWriter::with_capacity(MIB as usize, File::create(path)?);
    let mut hasher = Md5::new();
    let mut state = seed;
    let mut buffer = vec![0u8; MIB as usize];
    let mut remaining = size;
    while remaining > 0 {
        let chunk = remaining.min(MIB) as usize;
        fill(&mut buffer[..chunk], &mut state);
        hasher.update(&buffer[..chunk]);
        out.write_all(&buffer[..chunk])?;
        remaining -= chunk as u64;
    }
    out.flush()?;
    Ok(hasher.finalize().into())
}

fn fill(buffer: &mut [u8], state: &mut u64) {
    for chunk in buffer.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let value = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        chunk.copy_from_slice(&value[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_content_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let workload = Workload {
            name: "check",
            description: String::new(),
            files: 2,
            file_size: 3 * 1024 + 5,
        };
        let first = generate(&dir.path().join("a"), &workload).unwrap();
        let second = generate(&dir.path().join("b"), &workload).unwrap();
        assert_eq!(first.files, second.files);
        assert_ne!(first.files[0].1, first.files[1].1);
        let written = std::fs::read(first.dir.join("check-00001.bin")).unwrap();
        assert_eq!(written.len(), 3 * 1024 + 5);
    }

    #[test]
    fn size_labels_pick_the_largest_unit() {
        assert_eq!(size_label(1024 * MIB), "1 GiB");
        assert_eq!(size_label(64 * MIB), "64 MiB");
        assert_eq!(size_label(64 * 1024), "64 KiB");
    }
}
