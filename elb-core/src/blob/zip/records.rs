//! Byte layout of ZIP records (PKWARE APPNOTE 6.3.x), with no I/O.
//!
//! Entries are written in streaming form: general purpose bit 3 is set, the local header
//! carries zero CRC and sizes, and a data descriptor after the data carries the real ones.
//! The central directory repeats everything, and readers such as Python's `zipfile` rely on it.

use time::{OffsetDateTime, UtcOffset};

pub(crate) const LOCAL_HEADER_SIGNATURE: u32 = 0x0403_4b50;
pub(crate) const DATA_DESCRIPTOR_SIGNATURE: u32 = 0x0807_4b50;
pub(crate) const CENTRAL_HEADER_SIGNATURE: u32 = 0x0201_4b50;
pub(crate) const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
pub(crate) const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
pub(crate) const END_SIGNATURE: u32 = 0x0605_4b50;

/// Bit 3 (sizes and CRC follow the data) and bit 11 (the name is UTF-8).
const FLAGS: u16 = (1 << 3) | (1 << 11);
/// Version 2.0: deflate and data descriptors.
const VERSION_DEFAULT: u16 = 20;
/// Version 4.5: ZIP64 fields.
const VERSION_ZIP64: u16 = 45;
/// Made by Unix (high byte 3), specification 4.5, so readers apply the Unix file mode below.
const VERSION_MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// A regular file with mode 0644, in the high 16 bits as Unix "made by" requires.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
const ZIP64_EXTRA_ID: u16 = 0x0001;
const TIMESTAMP_EXTRA_ID: u16 = 0x5455;
/// A 32-bit field value meaning "see the ZIP64 extra field".
pub(crate) const MAX_U32: u64 = 0xFFFF_FFFF;
/// A 16-bit entry count meaning "see the ZIP64 end record".
pub(crate) const MAX_U16: u64 = 0xFFFF;

/// The compression method of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Self::Stored => 0,
            Self::Deflated => 8,
        }
    }
}

/// Everything the central directory needs about one finished entry.
#[derive(Clone, Debug)]
pub(crate) struct EntryRecord {
    pub(crate) name: String,
    pub(crate) method: Method,
    pub(crate) modified: OffsetDateTime,
    pub(crate) crc32: u32,
    pub(crate) compressed_size: u64,
    pub(crate) size: u64,
    pub(crate) header_offset: u64,
    /// Whether the local header announced ZIP64 sizes (and the data descriptor has 8-byte sizes).
    pub(crate) zip64: bool,
}

/// Converts a time to MS-DOS `(time, date)` in UTC, clamped to the years 1980 to 2107.
pub(crate) fn dos_date_time(modified: OffsetDateTime) -> (u16, u16) {
    let utc = modified.to_offset(UtcOffset::UTC);
    if utc.year() < 1980 {
        return (0, (1 << 5) | 1);
    }
    if utc.year() > 2107 {
        return ((23 << 11) | (59 << 5) | 29, (127 << 9) | (12 << 5) | 31);
    }
    let time = (u16::from(utc.hour()) << 11)
        | (u16::from(utc.minute()) << 5)
        | u16::from(utc.second() / 2);
    let date = ((utc.year() - 1980) as u16) << 9
        | (u16::from(u8::from(utc.month())) << 5)
        | u16::from(utc.day());
    (time, date)
}

/// Returns the extended timestamp extra field (modification time in Unix seconds), or nothing
/// when the time does not fit its signed 32-bit field.
fn timestamp_extra(modified: OffsetDateTime) -> Vec<u8> {
    let Ok(seconds) = i32::try_from(modified.unix_timestamp()) else {
        return Vec::new();
    };
    let mut extra = Vec::with_capacity(9);
    put_u16(&mut extra, TIMESTAMP_EXTRA_ID);
    put_u16(&mut extra, 5);
    extra.push(1);
    extra.extend_from_slice(&seconds.to_le_bytes());
    extra
}

/// Encodes the local file header that starts an entry.
pub(crate) fn local_header(
    name: &str,
    method: Method,
    modified: OffsetDateTime,
    zip64: bool,
) -> Vec<u8> {
    let (time, date) = dos_date_time(modified);
    let mut extra = Vec::new();
    if zip64 {
        // Streaming ZIP64: both sizes are announced as 0xFFFFFFFF and are zero in the extra
        // field, because the real ones follow in the 8-byte data descriptor.
        put_u16(&mut extra, ZIP64_EXTRA_ID);
        put_u16(&mut extra, 16);
        put_u64(&mut extra, 0);
        put_u64(&mut extra, 0);
    }
    extra.extend(timestamp_extra(modified));

    let placeholder_size = if zip64 { MAX_U32 as u32 } else { 0 };
    let mut header = Vec::with_capacity(30 + name.len() + extra.len());
    put_u32(&mut header, LOCAL_HEADER_SIGNATURE);
    put_u16(&mut header, version_needed(zip64));
    put_u16(&mut header, FLAGS);
    put_u16(&mut header, method.code());
    put_u16(&mut header, time);
    put_u16(&mut header, date);
    put_u32(&mut header, 0);
    put_u32(&mut header, placeholder_size);
    put_u32(&mut header, placeholder_size);
    put_u16(&mut header, name.len() as u16);
    put_u16(&mut header, extra.len() as u16);
    header.extend_from_slice(name.as_bytes());
    header.extend(extra);
    header
}

/// Encodes the data descriptor that follows an entry's data.
pub(crate) fn data_descriptor(crc32: u32, compressed_size: u64, size: u64, zip64: bool) -> Vec<u8> {
    let mut descriptor = Vec::with_capacity(24);
    put_u32(&mut descriptor, DATA_DESCRIPTOR_SIGNATURE);
    put_u32(&mut descriptor, crc32);
    if zip64 {
        put_u64(&mut descriptor, compressed_size);
        put_u64(&mut descriptor, size);
    } else {
        put_u32(&mut descriptor, compressed_size as u32);
        put_u32(&mut descriptor, size as u32);
    }
    descriptor
}

/// Encodes an entry's central directory header.
pub(crate) fn central_header(entry: &EntryRecord) -> Vec<u8> {
    let (time, date) = dos_date_time(entry.modified);

    // The ZIP64 extra field lists, in this order, only the values whose 32-bit field is
    // 0xFFFFFFFF. An entry whose local header used ZIP64 keeps it here for both sizes.
    let size_in_extra = entry.zip64 || entry.size >= MAX_U32;
    let compressed_in_extra = entry.zip64 || entry.compressed_size >= MAX_U32;
    let offset_in_extra = entry.header_offset >= MAX_U32;
    let mut zip64_values = Vec::new();
    if size_in_extra {
        put_u64(&mut zip64_values, entry.size);
    }
    if compressed_in_extra {
        put_u64(&mut zip64_values, entry.compressed_size);
    }
    if offset_in_extra {
        put_u64(&mut zip64_values, entry.header_offset);
    }
    let mut extra = Vec::new();
    if !zip64_values.is_empty() {
        put_u16(&mut extra, ZIP64_EXTRA_ID);
        put_u16(&mut extra, zip64_values.len() as u16);
        extra.extend(zip64_values);
    }
    extra.extend(timestamp_extra(entry.modified));

    let field = |in_extra: bool, value: u64| {
        if in_extra {
            MAX_U32 as u32
        } else {
            value as u32
        }
    };
    let needs_zip64 = size_in_extra || compressed_in_extra || offset_in_extra;
    let mut header = Vec::with_capacity(46 + entry.name.len() + extra.len());
    put_u32(&mut header, CENTRAL_HEADER_SIGNATURE);
    put_u16(&mut header, VERSION_MADE_BY);
    put_u16(&mut header, version_needed(needs_zip64));
    put_u16(&mut header, FLAGS);
    put_u16(&mut header, entry.method.code());
    put_u16(&mut header, time);
    put_u16(&mut header, date);
    put_u32(&mut header, entry.crc32);
    put_u32(
        &mut header,
        field(compressed_in_extra, entry.compressed_size),
    );
    put_u32(&mut header, field(size_in_extra, entry.size));
    put_u16(&mut header, entry.name.len() as u16);
    put_u16(&mut header, extra.len() as u16);
    put_u16(&mut header, 0); // comment length
    put_u16(&mut header, 0); // disk number start
    put_u16(&mut header, 0); // internal attributes
    put_u32(&mut header, EXTERNAL_ATTRIBUTES);
    put_u32(&mut header, field(offset_in_extra, entry.header_offset));
    header.extend_from_slice(entry.name.as_bytes());
    header.extend(extra);
    header
}

/// Encodes the end of the archive: the ZIP64 end record and locator when a count, size or
/// offset does not fit the classic record (or `force_zip64` is set), then the classic record.
pub(crate) fn end_records(
    entries: u64,
    directory_offset: u64,
    directory_size: u64,
    force_zip64: bool,
) -> Vec<u8> {
    let zip64 = force_zip64
        || entries >= MAX_U16
        || directory_offset >= MAX_U32
        || directory_size >= MAX_U32;
    let mut end = Vec::with_capacity(98);
    if zip64 {
        let zip64_end_offset = directory_offset + directory_size;
        put_u32(&mut end, ZIP64_END_SIGNATURE);
        put_u64(&mut end, 44); // size of the rest of this record
        put_u16(&mut end, VERSION_MADE_BY);
        put_u16(&mut end, VERSION_ZIP64);
        put_u32(&mut end, 0); // this disk
        put_u32(&mut end, 0); // disk with the central directory
        put_u64(&mut end, entries);
        put_u64(&mut end, entries);
        put_u64(&mut end, directory_size);
        put_u64(&mut end, directory_offset);

        put_u32(&mut end, ZIP64_LOCATOR_SIGNATURE);
        put_u32(&mut end, 0);
        put_u64(&mut end, zip64_end_offset);
        put_u32(&mut end, 1); // total disks
    }
    let clamp16 = |value: u64| if zip64 { MAX_U16 as u16 } else { value as u16 };
    let clamp32 = |value: u64| if zip64 { MAX_U32 as u32 } else { value as u32 };
    put_u32(&mut end, END_SIGNATURE);
    put_u16(&mut end, 0);
    put_u16(&mut end, 0);
    put_u16(&mut end, clamp16(entries));
    put_u16(&mut end, clamp16(entries));
    put_u32(&mut end, clamp32(directory_size));
    put_u32(&mut end, clamp32(directory_offset));
    put_u16(&mut end, 0); // comment length
    end
}

fn version_needed(zip64: bool) -> u16 {
    if zip64 {
        VERSION_ZIP64
    } else {
        VERSION_DEFAULT
    }
}

fn put_u16(buffer: &mut Vec<u8>, value: u16) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(buffer: &mut Vec<u8>, value: u32) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(buffer: &mut Vec<u8>, value: u64) {
    buffer.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn u16_at(bytes: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([bytes[at], bytes[at + 1]])
    }

    fn u32_at(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn dos_time_encodes_fields() {
        let (time, date) = dos_date_time(datetime!(2024-03-15 13:45:58 UTC));
        assert_eq!(date >> 9, 44);
        assert_eq!((date >> 5) & 0xF, 3);
        assert_eq!(date & 0x1F, 15);
        assert_eq!(time >> 11, 13);
        assert_eq!((time >> 5) & 0x3F, 45);
        assert_eq!(time & 0x1F, 29);
    }

    #[test]
    fn dos_time_converts_to_utc_and_clamps() {
        let (time, _) = dos_date_time(datetime!(2024-03-15 15:00:00 +02:00));
        assert_eq!(time >> 11, 13);
        assert_eq!(dos_date_time(datetime!(1970-01-01 0:00 UTC)), (0, 0x21));
        assert_eq!(dos_date_time(datetime!(2200-01-01 0:00 UTC)).1 >> 9, 127);
    }

    #[test]
    fn local_header_layout() {
        let header = local_header(
            "a/é.txt",
            Method::Stored,
            datetime!(2024-01-01 0:00 UTC),
            false,
        );
        assert_eq!(u32_at(&header, 0), LOCAL_HEADER_SIGNATURE);
        assert_eq!(u16_at(&header, 4), 20);
        assert_eq!(u16_at(&header, 6), 0x0808);
        assert_eq!(u32_at(&header, 18), 0);
        let name_len = u16_at(&header, 26) as usize;
        assert_eq!(name_len, "a/é.txt".len());
        assert_eq!(&header[30..30 + name_len], "a/é.txt".as_bytes());
        assert_eq!(u16_at(&header, 28), 9, "timestamp extra only");
    }

    #[test]
    fn zip64_local_header_announces_extra() {
        let header = local_header("big", Method::Stored, datetime!(2024-01-01 0:00 UTC), true);
        assert_eq!(u16_at(&header, 4), 45);
        assert_eq!(u32_at(&header, 18), 0xFFFF_FFFF);
        assert_eq!(u32_at(&header, 22), 0xFFFF_FFFF);
        assert_eq!(u16_at(&header, 33), ZIP64_EXTRA_ID);
        assert_eq!(u16_at(&header, 35), 16);
    }

    #[test]
    fn data_descriptor_sizes() {
        assert_eq!(data_descriptor(7, 1, 2, false).len(), 16);
        let wide = data_descriptor(7, 5_000_000_000, 5_000_000_000, true);
        assert_eq!(wide.len(), 24);
        assert_eq!(
            u64::from_le_bytes(wide[16..24].try_into().unwrap()),
            5_000_000_000
        );
    }

    #[test]
    fn central_header_moves_large_offset_to_extra() {
        let entry = EntryRecord {
            name: "x".into(),
            method: Method::Stored,
            modified: datetime!(2024-01-01 0:00 UTC),
            crc32: 1,
            compressed_size: 10,
            size: 10,
            header_offset: 6_000_000_000,
            zip64: false,
        };
        let header = central_header(&entry);
        assert_eq!(u32_at(&header, 20), 10);
        assert_eq!(u32_at(&header, 24), 10);
        assert_eq!(u32_at(&header, 42), 0xFFFF_FFFF);
        assert_eq!(u16_at(&header, 47), ZIP64_EXTRA_ID);
        assert_eq!(u16_at(&header, 49), 8);
        assert_eq!(
            u64::from_le_bytes(header[51..59].try_into().unwrap()),
            6_000_000_000
        );
    }

    #[test]
    fn end_records_switch_to_zip64_on_count() {
        assert_eq!(end_records(65_534, 100, 100, false).len(), 22);
        let end = end_records(65_535, 100, 100, false);
        assert_eq!(end.len(), 56 + 20 + 22);
        assert_eq!(u32_at(&end, 0), ZIP64_END_SIGNATURE);
        assert_eq!(u32_at(&end, 56), ZIP64_LOCATOR_SIGNATURE);
        assert_eq!(u64::from_le_bytes(end[64..72].try_into().unwrap()), 200);
        assert_eq!(u16_at(&end, 76 + 10), 0xFFFF);
    }
}
