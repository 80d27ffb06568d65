//! Helpers shared by the examples: configuration from the usual environment variables, a
//! clear message when some is missing, a progress bar on stderr, and a ZIP reader.
//!
//! Every example reads its settings through [`config`], so they all understand the same
//! variables:
//!
//! | variable | meaning |
//! |---|---|
//! | `ELB_STORAGE_URL` | the storage account URL, `https://<account>.blob.core.windows.net` |
//! | `ELB_STORAGE_SAS` | a SAS query authorizing the blob requests (development) |
//! | `AZURE_STORAGE_KEY` | the account key, signing the blob requests with Shared Key (development) |
//! | `ELB_CREDENTIALS` | the credentials to try, in order (default `client-secret,workload-identity,azure-cli`) |
//! | `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_AUTHORITY_HOST` | the Entra ID settings the credentials read |
//! | `SSL_CERT_FILE` | extra root certificates to trust, in PEM |
//! | `KUBECONFIG`, `ELB_KUBE_CONTEXT` | the kubeconfig (default `~/.kube/config`) and its context |
//! | `ELB_NAMESPACE` | the namespace of job records and Jobs (default `default`) |
//!
//! Managed identity is tried only when `ELB_CREDENTIALS` names `managed-identity`, so an
//! example never sends a request to the instance metadata address unless asked to.

#[path = "common/args.rs"]
pub mod args;
#[path = "common/config.rs"]
pub mod config;
#[path = "common/outcome.rs"]
pub mod outcome;
#[path = "common/progress.rs"]
pub mod progress;
#[path = "common/zip_read.rs"]
pub mod zip_read;

pub use args::Args;
pub use config::{Missing, StorageSettings};
pub use outcome::{ExampleError, format_bytes, format_duration, run};
pub use progress::ProgressBar;
