//! A small ZIP reader for checking archives in memory: it reads the central directory (ZIP64
//! included), returns each entry's content, and checks each CRC-32.
//!
//! It supports what [`elb_core::blob::BlobStore::zip_prefix`] writes: stored and deflated
//! entries in one archive without encryption or spanning.

use std::io::Read;

const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIGNATURE: u32 = 0x0606_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const EOCD_LEN: usize = 22;
const LOCAL_HEADER_LEN: usize = 30;
const CENTRAL_HEADER_LEN: usize = 46;

/// One entry of an archive, with its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipEntry {
    /// The entry's path inside the archive.
    pub name: String,
    /// The uncompressed content.
    pub content: Vec<u8>,
}

/// Reads every entry of the archive `data`, in central directory order.
///
/// # Errors
///
/// Returns a message naming the first structure that is invalid, an unsupported compression
/// method, or an entry whose size or CRC-32 does not match its header.
pub fn read_entries(data: &[u8]) -> Result<Vec<ZipEntry>, String> {
    let eocd = find_eocd(data)?;
    let mut count = u64::from(u16_at(data, eocd + 10)?);
    let mut directory_offset = u64::from(u32_at(data, eocd + 16)?);
    if eocd >= 20 && u32_at(data, eocd - 20)? == ZIP64_LOCATOR_SIGNATURE {
        let record = to_usize(u64_at(data, eocd - 20 + 8)?)?;
        if u32_at(data, record)? != ZIP64_EOCD_SIGNATURE {
            return Err(format!("no ZIP64 end record at offset {record}"));
        }
        count = u64_at(data, record + 32)?;
        directory_offset = u64_at(data, record + 48)?;
    }

    let mut entries = Vec::new();
    let mut cursor = to_usize(directory_offset)?;
    for index in 0..count {
        if u32_at(data, cursor)? != CENTRAL_SIGNATURE {
            return Err(format!("central directory entry {index} has no signature"));
        }
        let header = CentralHeader::parse(data, cursor)?;
        cursor += CENTRAL_HEADER_LEN + header.variable_len;
        entries.push(header.read_entry(data)?);
    }
    Ok(entries)
}

/// The fields of a central directory header that locate and check an entry.
struct CentralHeader {
    name: String,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    size: u64,
    local_offset: u64,
    variable_len: usize,
}

impl CentralHeader {
    fn parse(data: &[u8], at: usize) -> Result<Self, String> {
        let method = u16_at(data, at + 10)?;
        let crc32 = u32_at(data, at + 16)?;
        let mut compressed_size = u64::from(u32_at(data, at + 20)?);
        let mut size = u64::from(u32_at(data, at + 24)?);
        let name_len = usize::from(u16_at(data, at + 28)?);
        let extra_len = usize::from(u16_at(data, at + 30)?);
        let comment_len = usize::from(u16_at(data, at + 32)?);
        let mut local_offset = u64::from(u32_at(data, at + 42)?);
        let name_start = at + CENTRAL_HEADER_LEN;
        let name = slice(data, name_start, name_len)?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| format!("entry name at offset {name_start} is not UTF-8"))?;

        // ZIP64 values replace, in this order, the 32-bit fields that are all ones.
        let extra = slice(data, name_start + name_len, extra_len)?;
        let mut position = 0;
        while position + 4 <= extra.len() {
            let id = u16_at(extra, position)?;
            let len = usize::from(u16_at(extra, position + 2)?);
            if id == ZIP64_EXTRA_ID {
                let mut field = position + 4;
                for value in [&mut size, &mut compressed_size, &mut local_offset] {
                    if *value == u64::from(u32::MAX) {
                        *value = u64_at(extra, field)?;
                        field += 8;
                    }
                }
            }
            position += 4 + len;
        }
        Ok(Self {
            name,
            method,
            crc32,
            compressed_size,
            size,
            local_offset,
            variable_len: name_len + extra_len + comment_len,
        })
    }

    fn read_entry(self, data: &[u8]) -> Result<ZipEntry, String> {
        let local = to_usize(self.local_offset)?;
        if u32_at(data, local)? != LOCAL_SIGNATURE {
            return Err(format!("entry {} has no local header", self.name));
        }
        let name_len = usize::from(u16_at(data, local + 26)?);
        let extra_len = usize::from(u16_at(data, local + 28)?);
        let start = local + LOCAL_HEADER_LEN + name_len + extra_len;
        let stored = slice(data, start, to_usize(self.compressed_size)?)?;

        let content = match self.method {
            0 => stored.to_vec(),
            8 => {
                let mut content = Vec::new();
                flate2::read::DeflateDecoder::new(stored)
                    .read_to_end(&mut content)
                    .map_err(|error| format!("entry {} does not inflate: {error}", self.name))?;
                content
            }
            other => {
                return Err(format!(
                    "entry {} uses compression method {other}, which this reader does not support",
                    self.name
                ));
            }
        };
        if content.len() as u64 != self.size {
            return Err(format!(
                "entry {} has {} bytes, but its header says {}",
                self.name,
                content.len(),
                self.size
            ));
        }
        let mut crc = flate2::Crc::new();
        crc.update(&content);
        if crc.sum() != self.crc32 {
            return Err(format!("entry {} fails its CRC-32 check", self.name));
        }
        Ok(ZipEntry {
            name: self.name,
            content,
        })
    }
}

/// Finds the end of central directory record, searching back over a comment.
fn find_eocd(data: &[u8]) -> Result<usize, String> {
    if data.len() < EOCD_LEN {
        return Err(format!(
            "{} bytes is too short for a ZIP archive",
            data.len()
        ));
    }
    let lowest = data.len().saturating_sub(EOCD_LEN + usize::from(u16::MAX));
    (lowest..=data.len() - EOCD_LEN)
        .rev()
        .find(|at| u32_at(data, *at) == Ok(EOCD_SIGNATURE))
        .ok_or_else(|| "no end of central directory record: not a ZIP archive".to_owned())
}

fn slice(data: &[u8], at: usize, len: usize) -> Result<&[u8], String> {
    data.get(at..at.saturating_add(len))
        .ok_or_else(|| format!("archive ends before offset {}", at.saturating_add(len)))
}

fn u16_at(data: &[u8], at: usize) -> Result<u16, String> {
    let bytes = slice(data, at, 2)?;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    let bytes = slice(data, at, 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn u64_at(data: &[u8], at: usize) -> Result<u64, String> {
    let bytes = slice(data, at, 8)?;
    let mut array = [0u8; 8];
    array.copy_from_slice(bytes);
    Ok(u64::from_le_bytes(array))
}

fn to_usize(value: u64) -> Result<usize, String> {
    usize::try_from(value).map_err(|_| format!("offset {value} does not fit in memory"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use elb_core::blob::zip::ZipStreamWriter;

    async fn archive(zip64: bool) -> Vec<u8> {
        let mut writer = ZipStreamWriter::new(Vec::new()).with_zip64_always(zip64);
        let now = time::OffsetDateTime::now_utc();
        let files = [
            ("a.txt", &b"alpha\n"[..], true),
            ("dir/b.out.gz", b"\x1f\x8bdata", false),
        ];
        for (name, content, deflate) in files {
            let size = content.len() as u64;
            writer.start_entry(name, now, size, deflate).await.unwrap();
            writer.write(content).await.unwrap();
            writer.finish_entry().await.unwrap();
        }
        writer.finish().await.unwrap().0
    }

    #[tokio::test]
    async fn reads_entries_of_elb_archives() {
        for zip64 in [false, true] {
            let entries = read_entries(&archive(zip64).await).unwrap();
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(names, ["a.txt", "dir/b.out.gz"], "zip64 {zip64}");
            assert_eq!(entries[0].content, b"alpha\n");
            assert_eq!(entries[1].content, b"\x1f\x8bdata");
        }
    }

    #[tokio::test]
    async fn detects_corruption() {
        let mut data = archive(false).await;
        let at = data.windows(4).position(|w| w == b"data").unwrap();
        data[at] = b'D';
        let error = read_entries(&data).unwrap_err();
        assert!(
            error.contains("dir/b.out.gz fails its CRC-32 check"),
            "{error}"
        );
        assert!(read_entries(b"not a zip").is_err());
    }
}
