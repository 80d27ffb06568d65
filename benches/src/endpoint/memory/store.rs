//! The in-memory data of the endpoint: containers, committed blobs and staged blocks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use time::OffsetDateTime;
use time::macros::format_description;

/// Committed content kept as the received chunks, so no upload is copied into one buffer.
#[derive(Clone, Debug, Default)]
pub struct Content {
    chunks: Vec<Bytes>,
    /// `starts[i]` is the offset of `chunks[i]`.
    starts: Vec<u64>,
    len: u64,
}

impl Content {
    /// Appends a chunk at the end.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.starts.push(self.len);
        self.len += chunk.len() as u64;
        self.chunks.push(chunk);
    }

    /// Appends every chunk of `other`.
    pub fn extend(&mut self, other: &Content) {
        for chunk in &other.chunks {
            self.push(chunk.clone());
        }
    }

    /// Returns the length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Returns whether the content has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the chunks covering bytes `start..end` (`end` at most the length).
    pub fn slice(&self, start: u64, end: u64) -> Vec<Bytes> {
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        let first = match self.starts.binary_search(&start) {
            Ok(index) => index,
            Err(index) => index - 1,
        };
        for index in first..self.chunks.len() {
            let chunk_start = self.starts[index];
            if chunk_start >= end {
                break;
            }
            let chunk = &self.chunks[index];
            let from = start.saturating_sub(chunk_start) as usize;
            let to = ((end - chunk_start) as usize).min(chunk.len());
            out.push(chunk.slice(from..to));
        }
        out
    }
}

/// A committed block blob and the properties the endpoint returns for it.
#[derive(Clone, Debug)]
pub struct Blob {
    /// The content.
    pub content: Arc<Content>,
    /// The quoted ETag.
    pub etag: String,
    /// The last-modified time in RFC 1123 form.
    pub last_modified: String,
    /// The stored whole-content MD5 in base64, when the client sent one.
    pub content_md5: Option<String>,
    /// The stored content type.
    pub content_type: String,
}

/// One container: its committed blobs in name order and its staged blocks.
#[derive(Debug, Default)]
pub struct Container {
    /// Committed blobs by name.
    pub blobs: BTreeMap<String, Blob>,
    /// Staged blocks by blob name, then by block id.
    pub staged: HashMap<String, HashMap<String, Content>>,
}

/// The whole state of the endpoint.
#[derive(Default)]
pub struct Store {
    /// Containers by name.
    pub containers: Mutex<HashMap<String, Container>>,
    etag_counter: AtomicU64,
    request_counter: AtomicU64,
}

impl Store {
    /// Returns a new quoted ETag.
    pub fn next_etag(&self) -> String {
        let value = self.etag_counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("\"0x8DD{value:013X}\"")
    }

    /// Returns a new request id in the GUID form Azure uses.
    pub fn next_request_id(&self) -> String {
        let value = self.request_counter.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{value:012x}")
    }
}

/// Returns the current time in RFC 1123 form, as in `Date` and `Last-Modified`.
pub fn http_date_now() -> String {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "Thu, 01 Jan 1970 00:00:00 GMT".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        let mut content = Content::default();
        content.push(Bytes::from_static(b"abc"));
        content.push(Bytes::from_static(b"defg"));
        content.push(Bytes::from_static(b"h"));
        content
    }

    fn joined(chunks: Vec<Bytes>) -> Vec<u8> {
        chunks.iter().flat_map(|chunk| chunk.to_vec()).collect()
    }

    #[test]
    fn slices_cross_chunk_boundaries() {
        let content = content();
        assert_eq!(content.len(), 8);
        assert_eq!(joined(content.slice(0, 8)), b"abcdefgh");
        assert_eq!(joined(content.slice(2, 5)), b"cde");
        assert_eq!(joined(content.slice(3, 7)), b"defg");
        assert_eq!(joined(content.slice(7, 8)), b"h");
        assert!(content.slice(4, 4).is_empty());
    }
}
