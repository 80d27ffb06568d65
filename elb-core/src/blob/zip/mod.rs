//! ZIP archives streamed to any `AsyncWrite`, and the archive of a prefix's blobs.

mod archive;
mod fetch;
mod records;
mod writer;

pub use archive::{ZipOptions, ZipReport};
pub use writer::{ZipEntrySummary, ZipStreamWriter};
