//! The default credential chain: tries credentials in order and remembers which one worked.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};

use super::cli::{AzureCliCredential, AzureCliCredentialOptions};
use super::managed::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use super::managed_retry::ManagedIdentityRetry;
use super::retry::RetryOptions;
use super::secret::{ClientSecretCredential, ClientSecretCredentialOptions};
use super::workload::{WorkloadIdentityCredential, WorkloadIdentityCredentialOptions};
use super::{SharedCredential, to_azure_error, to_elb_error};
use crate::env::{SharedEnv, process_env};
use crate::tls::TlsOptions;
use crate::{Error, ErrorKind, Result};

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
        Ok(DefaultChain {
            links,
            skipped,
            selected: OnceLock::new(),
        })
    }
}

struct Link {
    name: &'static str,
    credential: SharedCredential,
}

/// A credential that tries a list of credentials in order, uses the first that produces a
/// token, and keeps using that one for later requests.
///
/// [`DefaultChain::last_used`] reports which credential worked, for the health check. When
/// every credential fails, the error lists each one's reason, including those skipped
/// because the environment does not configure them.
pub struct DefaultChain {
    links: Vec<Link>,
    skipped: Vec<(&'static str, String)>,
    selected: OnceLock<usize>,
}

impl fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.links.iter().map(|link| link.name).collect();
        let skipped: Vec<&str> = self.skipped.iter().map(|(name, _)| *name).collect();
        f.debug_struct("DefaultChain")
            .field("credentials", &names)
            .field("skipped", &skipped)
            .field("last_used", &self.last_used())
            .finish()
    }
}

impl DefaultChain {
    /// Starts a builder with the default order, the process environment and TLS trust from
    /// `SSL_CERT_FILE`.
    pub fn builder() -> DefaultChainBuilder {
        DefaultChainBuilder {
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

    /// Creates a chain of the given credentials, tried in order and reported by the given
    /// names.
    pub fn from_credentials(
        credentials: impl IntoIterator<Item = (&'static str, SharedCredential)>,
    ) -> Self {
        Self {
            links: credentials
                .into_iter()
                .map(|(name, credential)| Link { name, credential })
                .collect(),
            skipped: Vec::new(),
            selected: OnceLock::new(),
        }
    }

    /// Returns the names of the credentials the chain tries, in order.
    pub fn credential_names(&self) -> Vec<&'static str> {
        self.links.iter().map(|link| link.name).collect()
    }

    /// Returns the name of the credential that produced a token, once one has.
    pub fn last_used(&self) -> Option<&'static str> {
        self.selected.get().map(|index| self.links[*index].name)
    }

    /// Gets a token for `scope` and returns the name of the credential that produced it.
    ///
    /// # Errors
    ///
    /// Fails as [`DefaultChain::token`] does.
    pub async fn probe(&self, scope: &str) -> Result<&'static str> {
        let (_, name) = self.token_with_name(scope).await?;
        Ok(name)
    }

    /// Gets a token for `scope` from the chain.
    ///
    /// # Errors
    ///
    /// Once a credential has worked, its errors are returned as they are. Before that, when
    /// every credential fails, the error lists each credential's reason and carries the kind,
    /// status and code of the first failure that is not [`ErrorKind::Unavailable`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the chain selects a credential only after it produced a token.
    pub async fn token(&self, scope: &str) -> Result<AccessToken> {
        self.token_with_name(scope).await.map(|(token, _)| token)
    }

    async fn token_with_name(&self, scope: &str) -> Result<(AccessToken, &'static str)> {
        if let Some(index) = self.selected.get() {
            let link = &self.links[*index];
            let token = link
                .credential
                .get_token(&[scope], None)
                .await
                .map_err(|error| to_elb_error(&error))?;
            return Ok((token, link.name));
        }

        let mut failures: Vec<(&'static str, Error)> = Vec::new();
        for (index, link) in self.links.iter().enumerate() {
            match link.credential.get_token(&[scope], None).await {
                Ok(token) => {
                    if self.selected.set(index).is_ok() {
                        tracing::info!(
                            credential = link.name,
                            "credential chain selected a credential"
                        );
                    }
                    return Ok((token, link.name));
                }
                Err(error) => {
                    let error = to_elb_error(&error);
                    tracing::debug!(credential = link.name, %error, "credential failed, trying the next");
                    failures.push((link.name, error));
                }
            }
        }
        Err(self.exhausted_error(scope, failures))
    }

    fn exhausted_error(&self, scope: &str, failures: Vec<(&'static str, Error)>) -> Error {
        let mut reasons: Vec<String> = self
            .skipped
            .iter()
            .map(|(name, reason)| format!("{name} skipped ({reason})"))
            .collect();
        reasons.extend(
            failures
                .iter()
                .map(|(name, error)| format!("{name} failed ({error})")),
        );
        let summary = if reasons.is_empty() {
            "every credential is excluded".to_string()
        } else {
            reasons.join("; ")
        };
        let message = format!("no credential in the chain produced a token for {scope}: {summary}");

        let significant = failures
            .into_iter()
            .map(|(_, error)| error)
            .find(|error| error.kind() != ErrorKind::Unavailable);
        match significant {
            Some(cause) => {
                let mut error = Error::new(cause.kind(), message);
                if let Some(status) = cause.status() {
                    error = error.with_status(status);
                }
                if let Some(code) = cause.code() {
                    error = error.with_code(code);
                }
                error.with_source(cause)
            }
            None => Error::new(ErrorKind::Unavailable, message),
        }
    }
}

#[async_trait::async_trait]
impl TokenCredential for DefaultChain {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = super::entra::single_scope(scopes, "DefaultChain").map_err(to_azure_error)?;
        self.token(scope).await.map_err(to_azure_error)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::env::MapEnv;

    /// A credential that returns a fixed token or a fixed error and counts its calls.
    #[derive(Debug)]
    struct Fixed {
        outcome: std::result::Result<&'static str, (ErrorKind, &'static str)>,
        calls: AtomicUsize,
    }

    impl Fixed {
        fn ok(token: &'static str) -> Arc<Self> {
            Arc::new(Self {
                outcome: Ok(token),
                calls: AtomicUsize::new(0),
            })
        }

        fn failing(kind: ErrorKind, message: &'static str) -> Arc<Self> {
            Arc::new(Self {
                outcome: Err((kind, message)),
                calls: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait::async_trait]
    impl TokenCredential for Fixed {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.outcome {
                Ok(token) => Ok(AccessToken::new(
                    token,
                    time::OffsetDateTime::now_utc() + time::Duration::hours(1),
                )),
                Err((kind, message)) => Err(to_azure_error(
                    Error::new(kind, message)
                        .with_status(400)
                        .with_code("AADSTS700016"),
                )),
            }
        }
    }

    #[tokio::test]
    async fn chain_uses_first_working_credential_and_sticks() {
        let first = Fixed::failing(ErrorKind::Unavailable, "not here");
        let second = Fixed::ok("second-token");
        let third = Fixed::ok("third-token");
        let chain = DefaultChain::from_credentials([
            ("First", first.clone() as SharedCredential),
            ("Second", second.clone() as SharedCredential),
            ("Third", third.clone() as SharedCredential),
        ]);
        assert_eq!(chain.last_used(), None);

        assert_eq!(chain.probe("scope/.default").await.unwrap(), "Second");
        assert_eq!(chain.last_used(), Some("Second"));
        let token = chain.token("scope/.default").await.unwrap();
        assert_eq!(token.token.secret(), "second-token");

        assert_eq!(first.calls.load(Ordering::SeqCst), 1);
        assert_eq!(second.calls.load(Ordering::SeqCst), 2);
        assert_eq!(third.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn exhausted_chain_lists_every_reason() {
        let chain = DefaultChain::from_credentials([
            (
                "Unavailable",
                Fixed::failing(ErrorKind::Unavailable, "endpoint unreachable") as SharedCredential,
            ),
            (
                "Rejected",
                Fixed::failing(ErrorKind::Authentication, "application not found")
                    as SharedCredential,
            ),
        ]);
        let error = chain.token("scope/.default").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Authentication);
        assert_eq!(error.code(), Some("AADSTS700016"));
        let text = error.to_string();
        assert!(
            text.contains("Unavailable failed (endpoint unreachable"),
            "{text}"
        );
        assert!(
            text.contains("Rejected failed (application not found"),
            "{text}"
        );
        assert_eq!(chain.last_used(), None);
    }

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
