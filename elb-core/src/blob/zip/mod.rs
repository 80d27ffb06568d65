//! ZIP archives streamed to any `AsyncWrite`, and the archive of a prefix's blobs.

mod records;
mod writer;

pub use writer::{ZipEntrySummary, ZipStreamWriter};
