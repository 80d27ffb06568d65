//! A ZIP archive writer that streams entries to any `AsyncWrite` without seeking.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::DeflateEncoder;
use time::OffsetDateTime;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use super::records::{self, EntryRecord, MAX_U32, Method};

/// Output buffer between the writer and the destination, so headers and small entries
/// are not written as many tiny writes.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// A ZIP archive written front to back, one entry at a time.
///
/// Each entry's CRC-32 and sizes are computed while its data streams through and are written
/// in a data descriptor after it (general purpose bit 3), so the destination never has to
/// seek. Names are flagged as UTF-8. ZIP64 records are used for an entry whose expected size
/// reaches 4 GiB, for offsets past 4 GiB and for archives of 65,535 entries or more.
///
/// Call [`start_entry`](Self::start_entry), then [`write`](Self::write) any number of times,
/// then [`finish_entry`](Self::finish_entry); finally [`finish`](Self::finish) writes the
/// central directory. An archive that is dropped before `finish` is incomplete.
pub struct ZipStreamWriter<W: AsyncWrite + Unpin> {
    out: BufWriter<W>,
    offset: u64,
    entries: Vec<EntryRecord>,
    current: Option<OpenEntry>,
    force_zip64: bool,
}

struct OpenEntry {
    record: EntryRecord,
    hasher: crc32fast::Hasher,
    deflater: Option<DeflateEncoder<Vec<u8>>>,
}

/// A finished entry's name, CRC-32 and sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZipEntrySummary {
    /// The entry's path inside the archive.
    pub name: String,
    /// CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// Uncompressed size in bytes.
    pub size: u64,
    /// Size in the archive in bytes (equal to `size` for stored entries).
    pub compressed_size: u64,
}

impl<W: AsyncWrite + Unpin> ZipStreamWriter<W> {
    /// Creates a writer that starts the archive at the current position of `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(OUTPUT_BUFFER, out),
            offset: 0,
            entries: Vec::new(),
            current: None,
            force_zip64: false,
        }
    }

    /// Writes ZIP64 records for every entry and for the end of the archive, even when the
    /// classic 32-bit fields would do (some readers and tests need the ZIP64 path).
    pub fn with_zip64_always(mut self, always: bool) -> Self {
        self.force_zip64 = always;
        self
    }

    /// Returns the number of bytes written so far, headers included.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Starts an entry named `name` (a relative path with `/` separators).
    ///
    /// `expected_size` decides whether the entry uses ZIP64 sizes. The data may turn out
    /// smaller, but [`finish_entry`](Self::finish_entry) fails when it reaches 4 GiB in an
    /// entry started below that. `deflate` compresses the entry, and otherwise it is stored.
    ///
    /// # Errors
    ///
    /// Returns [`io::ErrorKind::InvalidInput`] when an entry is still open or the name is
    /// empty or longer than 65,535 bytes, and any error of the destination.
    pub async fn start_entry(
        &mut self,
        name: &str,
        modified: OffsetDateTime,
        expected_size: u64,
        deflate: bool,
    ) -> io::Result<()> {
        if self.current.is_some() {
            return Err(invalid(
                "a zip entry is still open; call finish_entry first",
            ));
        }
        if name.is_empty() || name.len() > usize::from(u16::MAX) {
            return Err(invalid(&format!(
                "zip entry name of {} bytes is invalid; use 1 to 65,535 bytes",
                name.len()
            )));
        }

        // Deflate can grow incompressible data by a few bytes per 16 KiB block, so a
        // deflated entry switches to ZIP64 a little below 4 GiB.
        let margin = if deflate {
            expected_size / 256 + 1024
        } else {
            0
        };
        // NOTE: entries of 4 GiB and more are tested only through `with_zip64_always`, which
        // writes the same records; no test streams a real 4 GiB entry.
        let zip64 = self.force_zip64 || expected_size.saturating_add(margin) >= MAX_U32;
        let method = if deflate {
            Method::Deflated
        } else {
            Method::Stored
        };
        let header = records::local_header(name, method, modified, zip64);
        let record = EntryRecord {
            name: name.to_owned(),
            method,
            modified,
            crc32: 0,
            compressed_size: 0,
            size: 0,
            header_offset: self.offset,
            zip64,
        };
        self.put(&header).await?;
        self.current = Some(OpenEntry {
            record,
            hasher: crc32fast::Hasher::new(),
            deflater: deflate.then(|| DeflateEncoder::new(Vec::new(), Compression::default())),
        });
        Ok(())
    }

    /// Appends data to the open entry.
    ///
    /// # Errors
    ///
    /// Returns [`io::ErrorKind::InvalidInput`] when no entry is open, and any error of the
    /// destination.
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(entry) = self.current.as_mut() else {
            return Err(invalid("no zip entry is open; call start_entry first"));
        };
        entry.hasher.update(data);
        entry.record.size += data.len() as u64;
        let compressed = match entry.deflater.as_mut() {
            Some(deflater) => {
                deflater.write_all(data)?;
                Some(std::mem::take(deflater.get_mut()))
            }
            None => None,
        };
        match compressed {
            Some(bytes) => self.put_entry_data(&bytes).await,
            None => self.put_entry_data(data).await,
        }
    }

    /// Ends the open entry by writing its data descriptor.
    ///
    /// # Errors
    ///
    /// Returns [`io::ErrorKind::InvalidInput`] when no entry is open,
    /// [`io::ErrorKind::InvalidData`] when an entry started without ZIP64 reached 4 GiB, and
    /// any error of the destination.
    pub async fn finish_entry(&mut self) -> io::Result<ZipEntrySummary> {
        let Some(mut entry) = self.current.take() else {
            return Err(invalid("no zip entry is open; call start_entry first"));
        };
        if let Some(deflater) = entry.deflater.take() {
            let tail = deflater.finish()?;
            self.out.write_all(&tail).await?;
            self.offset += tail.len() as u64;
            entry.record.compressed_size += tail.len() as u64;
        }
        let record = &mut entry.record;
        record.crc32 = entry.hasher.finalize();
        if !record.zip64 && (record.size >= MAX_U32 || record.compressed_size >= MAX_U32) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "zip entry {:?} reached 4 GiB but was started with an expected size below that",
                    record.name
                ),
            ));
        }
        let descriptor = records::data_descriptor(
            record.crc32,
            record.compressed_size,
            record.size,
            record.zip64,
        );
        self.put(&descriptor).await?;

        let summary = ZipEntrySummary {
            name: entry.record.name.clone(),
            crc32: entry.record.crc32,
            size: entry.record.size,
            compressed_size: entry.record.compressed_size,
        };
        self.entries.push(entry.record);
        Ok(summary)
    }

    /// Writes the central directory and end records, flushes, and returns the destination
    /// with the archive's total size in bytes.
    ///
    /// # Errors
    ///
    /// Returns [`io::ErrorKind::InvalidInput`] when an entry is still open, and any error of
    /// the destination.
    pub async fn finish(mut self) -> io::Result<(W, u64)> {
        if self.current.is_some() {
            return Err(invalid(
                "a zip entry is still open; call finish_entry first",
            ));
        }
        let directory_offset = self.offset;
        let entries = std::mem::take(&mut self.entries);
        for entry in &entries {
            let header = records::central_header(entry);
            self.put(&header).await?;
        }
        let directory_size = self.offset - directory_offset;
        let end = records::end_records(
            entries.len() as u64,
            directory_offset,
            directory_size,
            self.force_zip64,
        );
        self.put(&end).await?;
        self.out.flush().await?;
        Ok((self.out.into_inner(), self.offset))
    }

    async fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes).await?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    async fn put_entry_data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.put(bytes).await?;
        if let Some(entry) = self.current.as_mut() {
            entry.record.compressed_size += bytes.len() as u64;
        }
        Ok(())
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const MODIFIED: OffsetDateTime = datetime!(2025-06-01 12:00:00 UTC);

    #[tokio::test]
    async fn stored_entry_layout() {
        let mut zip = ZipStreamWriter::new(Vec::new());
        zip.start_entry("hello.txt", MODIFIED, 5, false)
            .await
            .unwrap();
        zip.write(b"hel").await.unwrap();
        zip.write(b"lo").await.unwrap();
        let summary = zip.finish_entry().await.unwrap();
        assert_eq!(summary.crc32, 0x3610_a686);
        assert_eq!(summary.size, 5);
        assert_eq!(summary.compressed_size, 5);

        let (bytes, total) = zip.finish().await.unwrap();
        assert_eq!(total, bytes.len() as u64);
        let data_start = 30 + "hello.txt".len() + 9;
        assert_eq!(&bytes[data_start..data_start + 5], b"hello");
        let descriptor = &bytes[data_start + 5..data_start + 21];
        assert_eq!(descriptor[..4], 0x0807_4b50_u32.to_le_bytes());
        assert_eq!(descriptor[4..8], 0x3610_a686_u32.to_le_bytes());
        assert_eq!(
            bytes[bytes.len() - 22..][..4],
            0x0605_4b50_u32.to_le_bytes()
        );
    }

    #[tokio::test]
    async fn deflated_entry_is_smaller() {
        let text = "query_1\tsubject_7\t99.5\n".repeat(2_000);
        let mut zip = ZipStreamWriter::new(Vec::new());
        zip.start_entry("hits.tsv", MODIFIED, text.len() as u64, true)
            .await
            .unwrap();
        for chunk in text.as_bytes().chunks(1000) {
            zip.write(chunk).await.unwrap();
        }
        let summary = zip.finish_entry().await.unwrap();
        assert_eq!(summary.size, text.len() as u64);
        assert!(summary.compressed_size < summary.size / 10);
        assert_eq!(summary.crc32, crc32fast::hash(text.as_bytes()));
    }

    #[tokio::test]
    async fn misuse_is_rejected() {
        let mut zip = ZipStreamWriter::new(Vec::new());
        let error = zip.write(b"x").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let error = zip.start_entry("", MODIFIED, 0, false).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        zip.start_entry("a", MODIFIED, 0, false).await.unwrap();
        let error = zip.start_entry("b", MODIFIED, 0, false).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        let error = zip.finish().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}
