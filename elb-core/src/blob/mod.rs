//! Azure Blob Storage transfers.

pub mod auth;
mod checksum;
mod client;
mod download;
pub mod location;
mod ops;
pub mod plan;
mod range;
mod request;
mod retry;
mod source;
mod status;
mod upload;

pub use auth::{AccountSas, BlobAuth, STORAGE_SCOPE};
pub use checksum::{TransactionalChecksum, crc64, md5_digest};
pub use download::{DownloadOptions, DownloadReport};
pub use ops::BlobProperties;
pub use upload::{UploadOptions, UploadReport};
pub use client::{BlobOptions, BlobStore, DEFAULT_SERVICE_VERSION};
pub use location::BlobUrl;
pub use request::{BlobRequest, BlobResponse, error_code};
pub use retry::RetryOptions;

mod delete_prefix;
pub mod list;
pub mod pattern;
pub mod progress;
pub mod tree;
pub mod zip;

pub use list::{BlobItem, ListItem, ListOptions, ListPage};
pub use pattern::{NamePatterns, PatternFilter};
pub use delete_prefix::DELETE_CONCURRENCY;
pub use progress::{ProgressCallback, ProgressEvent, ProgressStage};
pub use tree::{FailedFile, PropertiesResult, TreeOptions, TreeReport};
pub use zip::{ZipOptions, ZipReport};
