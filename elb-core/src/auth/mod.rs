//! Entra ID credentials, a default chain that reports which credential worked, and a
//! per-scope token cache.
//!
//! Every credential implements [`azure_core::credentials::TokenCredential`], so Azure SDK
//! clients (`azure_storage_blob` included) take them as `Arc<dyn TokenCredential>`. Errors
//! cross that trait as `azure_core::Error` values whose source is an [`Error`]; use
//! [`to_elb_error`] to get it back with its kind, status and `AADSTS` code.
//!
//! # Why not `azure_identity`
//!
//! `azure_identity` 1.0 was checked first, and each credential here replaces it for a reason:
//!
//! - its workload identity credential rereads the token file only when its copy is ten
//!   minutes old, so an exchange can present an assertion older than the one on disk;
//! - its managed identity credential always sends requests to `169.254.169.254`, reads
//!   `IDENTITY_ENDPOINT` from the process environment, and has no connect timeout, so a
//!   chain cannot move on quickly where no metadata service exists;
//! - its Azure CLI credential runs `az` through a shell with a fixed program name and no
//!   timeout;
//! - its token cache refreshes any token with less than five minutes left on every call, so
//!   short-lived tokens are fetched again for each request, and concurrent callers are not
//!   guaranteed to share one refresh;
//! - its errors flatten the Entra error body into text, while elb needs the `AADSTS` code
//!   and the claims of the presented assertion to name the fix.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;

use crate::{Error, ErrorKind};

mod assertion;
mod cache;
mod chain;
mod chain_builder;
mod cli;
mod entra;
mod entra_error;
mod managed;
mod managed_options;
mod managed_retry;
mod retry;
mod secret;
mod workload;

pub use assertion::AssertionClaims;
pub use cache::TokenCache;
pub use chain::DefaultChain;
pub use chain_builder::{CredentialKind, DefaultChainBuilder};
pub use cli::{AzureCliCredential, AzureCliCredentialOptions};
pub use entra::DEFAULT_AUTHORITY_HOST;
pub use managed::ManagedIdentityCredential;
pub use managed_options::{
    DEFAULT_IMDS_ENDPOINT, ManagedIdentityCredentialOptions, ManagedIdentitySource, UserAssignedId,
};
pub use managed_retry::ManagedIdentityRetry;
pub use retry::RetryOptions;
pub use secret::{ClientSecretCredential, ClientSecretCredentialOptions};
pub use workload::{WorkloadIdentityCredential, WorkloadIdentityCredentialOptions};

/// The scope of the Azure Blob Storage data plane.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// The scope of Azure Resource Manager, also used by the health check.
pub const MANAGEMENT_SCOPE: &str = "https://management.azure.com/.default";

/// The scope of the AKS Entra server application, for bearer tokens to the Kubernetes API of
/// an Entra-enabled cluster.
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

/// A credential shared between clients.
pub type SharedCredential = Arc<dyn TokenCredential>;

/// Extracts the elb [`Error`] from an error that a credential of this module returned.
///
/// The elb error is found anywhere in the source chain, so this also works on errors that an
/// Azure SDK client wrapped around a credential failure. Other errors become
/// [`ErrorKind::Authentication`] errors (HTTP failures) or [`ErrorKind::Transport`] errors,
/// with the original as their source.
pub fn to_elb_error(error: &azure_core::Error) -> Error {
    if let Some(found) = find_elb_error(error) {
        return copy_error(found);
    }
    let kind = match error.kind() {
        azure_core::error::ErrorKind::Connection | azure_core::error::ErrorKind::Io => {
            ErrorKind::Transport
        }
        _ => ErrorKind::Authentication,
    };
    let mut converted = Error::new(kind, format!("token request failed: {error}"));
    if let Some(status) = error.http_status() {
        converted = converted.with_status(u16::from(status));
    }
    converted
}

/// Copies every field of `error` except its source, which cannot be cloned.
fn copy_error(error: &Error) -> Error {
    let mut copy = Error::new(error.kind(), error.message());
    if let Some(target) = error.target() {
        copy = copy.with_target(target);
    }
    if let Some(status) = error.status() {
        copy = copy.with_status(status);
    }
    if let Some(code) = error.code() {
        copy = copy.with_code(code);
    }
    if let Some(delay) = error.retry_after() {
        copy = copy.with_retry_after(delay);
    }
    copy
}

fn find_elb_error(error: &azure_core::Error) -> Option<&Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = current {
        if let Some(found) = cause.downcast_ref::<Error>() {
            return Some(found);
        }
        current = cause.source();
    }
    None
}

/// Wraps an elb error for the `TokenCredential` trait, keeping it as the source.
pub(crate) fn to_azure_error(error: Error) -> azure_core::Error {
    let message = error.to_string();
    azure_core::Error::with_error(azure_core::error::ErrorKind::Credential, error, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elb_error_survives_azure_wrapping() {
        let original = Error::new(ErrorKind::Authentication, "exchange rejected")
            .with_status(400)
            .with_code("AADSTS70021");
        let wrapped = to_azure_error(original);
        let rewrapped = azure_core::Error::with_error(
            azure_core::error::ErrorKind::Other,
            wrapped,
            "pipeline failed",
        );

        let recovered = to_elb_error(&rewrapped);
        assert_eq!(recovered.kind(), ErrorKind::Authentication);
        assert_eq!(recovered.status(), Some(400));
        assert_eq!(recovered.code(), Some("AADSTS70021"));
        assert_eq!(recovered.message(), "exchange rejected");
    }

    #[test]
    fn foreign_connection_error_is_transport() {
        let error = azure_core::Error::with_message(
            azure_core::error::ErrorKind::Connection,
            "connection refused",
        );
        assert_eq!(to_elb_error(&error).kind(), ErrorKind::Transport);
    }
}
