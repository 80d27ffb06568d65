//! Azure Blob Storage transfers: a replacement for azcopy in ElasticBLAST.
//!
//! A [`BlobStore`] is a handle on one storage account. It authorizes requests with an Entra
//! ID credential, a SAS, Shared Key or nothing ([`BlobAuth`]), and retries throttling,
//! server errors, broken connections and timeouts ([`RetryOptions`]).
//!
//! - Uploads ([`BlobStore::upload_file`], [`BlobStore::upload_bytes`],
//!   [`BlobStore::upload_reader`]) send small content in one `Put Blob` and stage larger
//!   content as parallel blocks committed by one `Put Block List`. Each request body carries
//!   a transactional checksum ([`TransactionalChecksum`]: CRC-64 by default, MD5 where the
//!   service rejects CRC-64), and the whole content's MD5 is stored on the blob.
//! - Downloads ([`BlobStore::download_file`], [`BlobStore::download_bytes`],
//!   [`BlobStore::download_to_writer`]) read parallel ranges pinned to the first response's
//!   ETag and verify the stored MD5. A file download writes a temporary file next to the
//!   target and renames it over the target only when complete.
//! - Single-blob operations: [`BlobStore::properties`], [`BlobStore::exists`],
//!   [`BlobStore::delete_blob`], [`BlobStore::create_container_if_missing`],
//!   [`BlobStore::delete_container`], and [`BlobStore::send`] for any other request.
//!
//! ```no_run
//! # async fn example() -> elb_core::Result<()> {
//! use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, DownloadOptions, UploadOptions};
//!
//! let auth = BlobAuth::shared_key("devstoreaccount1", "<base64 account key>");
//! let store = BlobStore::new(
//!     "http://127.0.0.1:10000/devstoreaccount1",
//!     auth,
//!     BlobOptions::default(),
//! )?;
//! store.create_container_if_missing("queries").await?;
//! store
//!     .upload_file("queries", "job1.fa", "job1.fa", &UploadOptions::default())
//!     .await?;
//! let report = store
//!     .download_file("queries", "job1.fa", "copy.fa", &DownloadOptions::default())
//!     .await?;
//! assert!(report.verified);
//! # Ok(())
//! # }
//! ```
//!
//! # Limitations
//!
//! - No-overwrite uploads ([`UploadOptions::overwrite`] off) never replace a blob. A staged
//!   upload checks for the blob before it sends data and commits with `If-None-Match: *`,
//!   so when another writer creates the blob between the check and the commit, the blocks
//!   were sent but the upload fails with [`ErrorKind`](crate::ErrorKind)`::AlreadyExists`.
//! - Recovery from `400 InvalidBlobOrBlock` commits an empty block list to discard the stale
//!   uncommitted blocks. Until the upload commits, readers see an empty blob in place of the
//!   old content.
//! - A retried `Put Blob` with `If-None-Match: *` whose first attempt succeeded but lost
//!   its response fails with `AlreadyExists`.
//! - [`BlobStore::download_to_writer`] cannot take back bytes it wrote: on failure the writer
//!   contains a prefix of the content, and the MD5 check comes after the last byte.
//! - Blob names with a `.` or `..` path segment are rejected, because URL parsers remove
//!   those segments.
//! - The whole-content MD5 of a staged upload is computed in order on one thread, which
//!   costs about as much CPU as the transfer itself. Turn off [`UploadOptions::put_md5`]
//!   and [`DownloadOptions::verify_md5`] where that matters.

pub mod auth;
mod blocks;
mod checksum;
mod client;
mod download;
mod file_ranges;
pub mod location;
mod ops;
pub mod plan;
mod range;
mod request;
mod retry;
mod source;
mod status;
mod transactional;
mod upload;

pub use auth::{AccountSas, BlobAuth, STORAGE_SCOPE};
pub use checksum::{TransactionalChecksum, crc64, md5_digest};
pub use client::{BlobOptions, BlobStore, DEFAULT_SERVICE_VERSION};
pub use download::{DownloadOptions, DownloadReport};
pub use location::BlobUrl;
pub use ops::BlobProperties;
pub use request::{BlobRequest, BlobResponse, error_code};
pub use retry::RetryOptions;
pub use upload::{MAX_BUFFERED_BYTES, UploadOptions, UploadReport};

mod delete_prefix;
pub mod list;
pub mod pattern;
pub mod progress;
pub mod tree;
pub mod zip;

pub use delete_prefix::DELETE_CONCURRENCY;
pub use list::{BlobItem, ListItem, ListOptions, ListPage};
pub use pattern::{NamePatterns, PatternFilter};
pub use progress::{BytesCallback, BytesProgress, ProgressCallback, ProgressEvent, ProgressStage};
pub use tree::{FailedFile, PropertiesResult, TreeOptions, TreeReport};
pub use zip::{ZipOptions, ZipReport};
