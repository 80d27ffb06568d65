//! The settings of the default chain and the choice of credentials from the environment.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::SharedCredential;
use super::chain::{DefaultChain, Link};
use super::cli::{AzureCliCredential, AzureCliCredentialOptions};
use super::managed::ManagedIdentityCredential;
use super::managed_options::{ManagedIdentityCredentialOptions, UserAssignedId};
use super::managed_retry::ManagedIdentityRetry;
use super::retry::RetryOptions;
use super::secret::{ClientSecretCredential, ClientSecretCredentialOptions};
use super::workload::{WorkloadIdentityCredential, WorkloadIdentityCredentialOptions};
use crate::Result;
use crate::env::{SharedEnv, process_env};
use crate::tls::TlsOptions;

/// A credential type that the default chain can try.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// [`ClientSecretCredential`] from `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_ID` and
    /// `AZURE_TENANT_ID`.
    ClientSecret,
    /// [`WorkloadIdentityCredential`] from the variables of the AKS webhook.
    WorkloadIdentity,
    /// [`ManagedIdentityCredential`] through IMDS or the App Service endpoint.
    ManagedIdentity,
    /// [`AzureCliCredential`].
    AzureCli,
}

impl CredentialKind {
    /// The default order: client secret, workload identity, managed identity, Azure CLI.
    pub const DEFAULT_ORDER: [Self; 4] = [
        Self::ClientSecret,
        Self::WorkloadIdentity,
        Self::ManagedIdentity,
        Self::AzureCli,
    ];

    /// Returns the name that [`DefaultChain::last_used`] reports for this kind.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClientSecret => "ClientSecretCredential",
            Self::WorkloadIdentity => "WorkloadIdentityCredential",
            Self::ManagedIdentity => "ManagedIdentityCredential",
            Self::AzureCli => "AzureCliCredential",
        }
    }
}

/// Settings of a [`DefaultChain`], created by [`DefaultChain::builder`].
pub struct DefaultChainBuilder {
    env: SharedEnv,
    tls: Option<TlsOptions>,
    imds_endpoint: Option<String>,
    order: Vec<CredentialKind>,
    excluded: Vec<CredentialKind>,
    managed_identity_id: Option<UserAssignedId>,
    managed_identity_retry: Option<ManagedIdentityRetry>,
    entra_retry: Option<RetryOptions>,
    azure_cli: AzureCliCredentialOptions,
}

impl fmt::Debug for DefaultChainBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultChainBuilder")
            .field("order", &self.order)
            .field("excluded", &self.excluded)
            .field("imds_endpoint", &self.imds_endpoint)
            .finish_non_exhaustive()
    }
}

impl DefaultChainBuilder {
    /// Creates a builder with the default order, the process environment and TLS trust from
    /// `SSL_CERT_FILE`.
    pub(crate) fn new() -> Self {
        Self {
            env: process_env(),
            tls: None,
            imds_endpoint: None,
            order: CredentialKind::DEFAULT_ORDER.to_vec(),
            excluded: Vec::new(),
            managed_identity_id: None,
            managed_identity_retry: None,
            entra_retry: None,
            azure_cli: AzureCliCredentialOptions::default(),
        }
    }

    /// Sets the environment the credentials read, the process environment by default.
    pub fn env(mut self, env: SharedEnv) -> Self {
        self.env = env;
        self
    }

    /// Sets the TLS trust of every credential; by default it comes from `SSL_CERT_FILE` in
    /// the chain's environment.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the IMDS host or token URL of the managed identity credential, overriding
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` and `169.254.169.254`.
    pub fn imds_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.imds_endpoint = Some(endpoint.into());
        self
    }

    /// Sets the order in which credentials are tried; kinds left out are not tried.
    pub fn order(mut self, order: impl IntoIterator<Item = CredentialKind>) -> Self {
        self.order = order.into_iter().collect();
        self
    }

    /// Removes a credential kind from the chain.
    pub fn exclude(mut self, kind: CredentialKind) -> Self {
        self.excluded.push(kind);
        self
    }

    /// Sets the user-assigned identity that the managed identity credential requests.
    pub fn managed_identity_id(mut self, id: UserAssignedId) -> Self {
        self.managed_identity_id = Some(id);
        self
    }

    /// Sets the retries and connect timeout of the managed identity credential.
    pub fn managed_identity_retry(mut self, retry: ManagedIdentityRetry) -> Self {
        self.managed_identity_retry = Some(retry);
        self
    }

    /// Sets the retries of the Entra ID credentials (client secret, workload identity).
    pub fn entra_retry(mut self, retry: RetryOptions) -> Self {
        self.entra_retry = Some(retry);
        self
    }

    /// Sets the Azure CLI program, tenant and timeout.
    pub fn azure_cli(mut self, options: AzureCliCredentialOptions) -> Self {
        self.azure_cli = options;
        self
    }

    /// Sets the Azure CLI program path.
    pub fn azure_cli_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.azure_cli.program = program.into();
        self
    }

    /// Builds the chain, creating each credential that the environment configures.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when a credential is half configured: the
    /// federated token file without `AZURE_CLIENT_ID` (the ServiceAccount lacks its
    /// `azure.workload.identity/client-id` annotation), a client secret without its client or
    /// tenant id, or an invalid value. Falling through to another credential in those cases
    /// would silently use a different identity.
    pub fn build(self) -> Result<DefaultChain> {
        let env = self.env.as_ref();
        let tls = match self.tls.clone() {
            Some(tls) => tls,
            None => TlsOptions::from_env(env)?,
        };
        let mut links: Vec<Link> = Vec::new();
        let mut skipped: Vec<(&'static str, String)> = Vec::new();

        for kind in self.order.iter().copied() {
            if self.excluded.contains(&kind) {
                continue;
            }
            let name = kind.name();
            let credential: SharedCredential = match kind {
                CredentialKind::ClientSecret => {
                    match ClientSecretCredentialOptions::from_env(env, tls.clone())? {
                        Some(mut options) => {
                            if let Some(retry) = self.entra_retry {
                                options = options.with_retry(retry);
                            }
                            Arc::new(ClientSecretCredential::new(options)?)
                        }
                        None => {
                            skipped.push((name, "AZURE_CLIENT_SECRET is not set".to_string()));
                            continue;
                        }
                    }
                }
                CredentialKind::WorkloadIdentity => {
                    match WorkloadIdentityCredentialOptions::from_env(env, tls.clone())? {
                        Some(mut options) => {
                            if let Some(retry) = self.entra_retry {
                                options = options.with_retry(retry);
                            }
                            Arc::new(WorkloadIdentityCredential::new(options)?)
                        }
                        None => {
                            skipped
                                .push((name, "AZURE_FEDERATED_TOKEN_FILE is not set".to_string()));
                            continue;
                        }
                    }
                }
                CredentialKind::ManagedIdentity => {
                    let mut options = ManagedIdentityCredentialOptions::from_env(
                        env,
                        tls.clone(),
                        self.imds_endpoint.as_deref(),
                    )?;
                    if let Some(id) = self.managed_identity_id.clone() {
                        options = options.with_user_assigned_id(id);
                    }
                    if let Some(retry) = self.managed_identity_retry {
                        options = options.with_retry(retry);
                    }
                    Arc::new(ManagedIdentityCredential::new(options)?)
                }
                CredentialKind::AzureCli => {
                    Arc::new(AzureCliCredential::new(self.azure_cli.clone())?)
                }
            };
            links.push(Link { name, credential });
        }
        Ok(DefaultChain::from_parts(links, skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::env::MapEnv;

    #[tokio::test]
    async fn builder_skips_unconfigured_credentials_with_reason() {
        let chain = DefaultChain::builder()
            .env(Arc::new(MapEnv::new()))
            .tls(TlsOptions::new())
            .exclude(CredentialKind::ManagedIdentity)
            .exclude(CredentialKind::AzureCli)
            .build()
            .unwrap();
        assert!(chain.credential_names().is_empty());
        let error = chain.token("scope/.default").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        let text = error.to_string();
        assert!(
            text.contains("ClientSecretCredential skipped (AZURE_CLIENT_SECRET is not set)"),
            "{text}"
        );
        assert!(
            text.contains("WorkloadIdentityCredential skipped (AZURE_FEDERATED_TOKEN_FILE"),
            "{text}"
        );
    }

    #[test]
    fn builder_rejects_half_configured_workload_identity() {
        let env = MapEnv::new()
            .with("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token")
            .with("AZURE_TENANT_ID", "tenant");
        let error = DefaultChain::builder()
            .env(Arc::new(env))
            .tls(TlsOptions::new())
            .imds_endpoint("http://127.0.0.1:1")
            .build()
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(
            error
                .to_string()
                .contains("azure.workload.identity/client-id")
        );
    }

    #[test]
    fn builder_follows_order_and_exclusions() {
        let env = MapEnv::new()
            .with("AZURE_CLIENT_SECRET", "secret-value")
            .with("AZURE_CLIENT_ID", "client")
            .with("AZURE_TENANT_ID", "tenant");
        let chain = DefaultChain::builder()
            .env(Arc::new(env))
            .tls(TlsOptions::new())
            .imds_endpoint("http://127.0.0.1:1")
            .order([
                CredentialKind::AzureCli,
                CredentialKind::ManagedIdentity,
                CredentialKind::ClientSecret,
            ])
            .exclude(CredentialKind::ManagedIdentity)
            .build()
            .unwrap();
        assert_eq!(
            chain.credential_names(),
            vec!["AzureCliCredential", "ClientSecretCredential"]
        );
        assert!(!format!("{chain:?}").contains("secret-value"));
    }
}
