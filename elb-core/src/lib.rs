//! The Azure side of NCBI ElasticBLAST.
//!
//! - [`auth`]: Entra ID credentials (workload identity, managed identity, client secret, Azure
//!   CLI), a default chain that reports which one worked, and a per-scope token cache.
//! - [`blob`]: a transfer engine for Azure Blob Storage: parallel block upload, parallel
//!   ranged download, integrity checks, retries, directory and prefix transfers, listing.
//! - [`k8s`]: the ElasticBLAST job store, a search's Jobs, cluster information and the
//!   OpenAPI service's cluster objects.
//! - [`search`]: inline FASTA submissions, with the FASTA in blob storage and its URL in the
//!   job record.
//! - [`health`]: one report on whether Kubernetes and Azure auth work, and how.
#![warn(missing_docs)]

pub mod auth;
pub mod blob;
pub mod env;
mod error;
pub mod health;
pub mod k8s;
pub mod search;
pub mod tls;

pub use error::{BoxError, Error, ErrorKind, Result};
