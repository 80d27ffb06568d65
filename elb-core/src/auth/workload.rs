//! Workload identity: exchanging the projected Kubernetes service-account token for an Entra
//! ID access token.

use std::fmt;
use std::path::{Path, PathBuf};

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use secrecy::SecretString;
use url::Url;

use super::assertion::AssertionClaims;
use super::cache::TokenCache;
use super::entra::{
    self, ClientAuth, DEFAULT_AUTHORITY_HOST, ExchangeForm, parse_authority_host, token_url,
    validate_tenant_id,
};
use super::entra_error::ExchangeContext;
use super::retry::RetryOptions;
use super::to_azure_error;
use crate::env::{EnvSource, non_empty};
use crate::tls::TlsOptions;
use crate::{Error, ErrorKind, Result};

const NAME: &str = "WorkloadIdentityCredential";

/// Settings of a [`WorkloadIdentityCredential`].
#[derive(Clone, Debug)]
pub struct WorkloadIdentityCredentialOptions {
    /// The client id of the managed identity or app registration (`AZURE_CLIENT_ID`).
    pub client_id: String,
    /// The directory (tenant) id (`AZURE_TENANT_ID`).
    pub tenant_id: String,
    /// The projected service-account token file (`AZURE_FEDERATED_TOKEN_FILE`).
    pub token_file: PathBuf,
    /// The Entra ID authority host (`AZURE_AUTHORITY_HOST`), by default
    /// `https://login.microsoftonline.com/`.
    pub authority_host: String,
    /// Extra root certificates for the token endpoint.
    pub tls: TlsOptions,
    /// Retries of throttled, failed or broken token requests.
    pub retry: RetryOptions,
}

impl WorkloadIdentityCredentialOptions {
    /// Creates options for the public cloud authority with default TLS and retries.
    pub fn new(
        client_id: impl Into<String>,
        tenant_id: impl Into<String>,
        token_file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            tenant_id: tenant_id.into(),
            token_file: token_file.into(),
            authority_host: DEFAULT_AUTHORITY_HOST.to_string(),
            tls: TlsOptions::default(),
            retry: RetryOptions::default(),
        }
    }

    /// Sets the authority host, such as `https://login.microsoftonline.us/`.
    pub fn with_authority_host(mut self, authority_host: impl Into<String>) -> Self {
        self.authority_host = authority_host.into();
        self
    }

    /// Sets the TLS trust of the token endpoint client.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the retries of token requests.
    pub fn with_retry(mut self, retry: RetryOptions) -> Self {
        self.retry = retry;
        self
    }

    /// Reads the options from the variables that the AKS workload identity webhook injects.
    ///
    /// Returns `Ok(None)` when `AZURE_FEDERATED_TOKEN_FILE` is unset, so workload identity is
    /// not configured.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when the token file is set but
    /// `AZURE_CLIENT_ID` or `AZURE_TENANT_ID` is missing.
    pub fn from_env(env: &dyn EnvSource, tls: TlsOptions) -> Result<Option<Self>> {
        let Some(token_file) = non_empty(env, "AZURE_FEDERATED_TOKEN_FILE") else {
            return Ok(None);
        };
        let Some(client_id) = non_empty(env, "AZURE_CLIENT_ID") else {
            return Err(Error::invalid_input(format!(
                "AZURE_FEDERATED_TOKEN_FILE is set ({token_file}) but AZURE_CLIENT_ID is not: \
                 annotate the pod's ServiceAccount with azure.workload.identity/client-id set \
                 to the identity's client id, then restart the pod"
            ))
            .with_code("WorkloadIdentityClientIdMissing"));
        };
        let Some(tenant_id) = non_empty(env, "AZURE_TENANT_ID") else {
            return Err(Error::invalid_input(format!(
                "AZURE_FEDERATED_TOKEN_FILE is set ({token_file}) but AZURE_TENANT_ID is not: \
                 set AZURE_TENANT_ID or annotate the ServiceAccount with \
                 azure.workload.identity/tenant-id"
            )));
        };
        let authority_host = non_empty(env, "AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_string());
        Ok(Some(
            Self::new(client_id, tenant_id, token_file)
                .with_authority_host(authority_host)
                .with_tls(tls),
        ))
    }
}

/// A credential that exchanges the projected service-account token of an AKS pod for an
/// Entra ID access token (OAuth 2.0 client credentials with a JWT bearer assertion).
///
/// The token file is read again for every exchange, because the kubelet rotates it (typically
/// hourly). Tokens are cached per scope.
pub struct WorkloadIdentityCredential {
    client_id: String,
    tenant_id: String,
    token_file: PathBuf,
    token_url: Url,
    retry: RetryOptions,
    http: reqwest::Client,
    cache: TokenCache,
}

impl fmt::Debug for WorkloadIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(NAME)
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("token_file", &self.token_file)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl WorkloadIdentityCredential {
    /// Creates the credential.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when the client id is empty, the tenant id or
    /// authority host is invalid, or the TLS options cannot build a client.
    pub fn new(options: WorkloadIdentityCredentialOptions) -> Result<Self> {
        if options.client_id.trim().is_empty() {
            return Err(Error::invalid_input(
                "workload identity client id is empty: set AZURE_CLIENT_ID",
            ));
        }
        validate_tenant_id(&options.tenant_id)?;
        let authority = parse_authority_host(&options.authority_host)?;
        Ok(Self {
            token_url: token_url(&authority, &options.tenant_id)?,
            client_id: options.client_id,
            tenant_id: options.tenant_id,
            token_file: options.token_file,
            retry: options.retry,
            http: entra::entra_http_client(&options.tls)?,
            cache: TokenCache::new(),
        })
    }

    /// Creates the credential from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE` and `AZURE_AUTHORITY_HOST`.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::Unavailable`] when `AZURE_FEDERATED_TOKEN_FILE` is unset, and
    /// with [`ErrorKind::InvalidInput`] when the other variables are missing or invalid.
    pub fn from_env(env: &dyn EnvSource, tls: TlsOptions) -> Result<Self> {
        match WorkloadIdentityCredentialOptions::from_env(env, tls)? {
            Some(options) => Self::new(options),
            None => Err(Error::new(
                ErrorKind::Unavailable,
                "workload identity is not configured: AZURE_FEDERATED_TOKEN_FILE is not set \
                 (label the pod azure.workload.identity/use: \"true\")",
            )),
        }
    }

    /// Returns the token endpoint this credential posts to.
    pub fn token_url(&self) -> &str {
        self.token_url.as_str()
    }

    /// Returns an access token for `scope`, from the cache or from a new exchange.
    ///
    /// # Errors
    ///
    /// Fails when the token file cannot be read or Entra ID rejects the exchange. The error
    /// carries the `AADSTS` code and, for a mismatch, the claims of the presented assertion.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is cached from a cancelled exchange.
    pub async fn token(&self, scope: &str) -> Result<AccessToken> {
        self.cache
            .get_or_refresh(scope, || {
                entra::exchange(&self.http, &self.token_url, &self.retry, || {
                    self.prepare(scope)
                })
            })
            .await
    }

    fn prepare(&self, scope: &str) -> Result<(ExchangeForm, ExchangeContext)> {
        let assertion = read_assertion(&self.token_file)?;
        let claims = AssertionClaims::decode(&assertion);
        let form = ExchangeForm {
            client_id: self.client_id.clone(),
            scope: scope.to_string(),
            secret: ClientAuth::Assertion(SecretString::from(assertion)),
        };
        let context = ExchangeContext {
            credential: NAME,
            client_id: self.client_id.clone(),
            tenant_id: self.tenant_id.clone(),
            scope: scope.to_string(),
            token_url: self.token_url.to_string(),
            assertion: claims,
            token_file: Some(self.token_file.clone()),
        };
        Ok((form, context))
    }
}

/// Reads the current assertion. The file is small and on a local tmpfs, so a blocking read
/// is brief.
fn read_assertion(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        let kind = if error.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Authentication
        };
        Error::new(
            kind,
            format!(
                "cannot read the federated token file {}: check AZURE_FEDERATED_TOKEN_FILE and \
                 that the pod has the label azure.workload.identity/use: \"true\"",
                path.display()
            ),
        )
        .with_target(path.display().to_string())
        .with_source(error)
    })?;
    let assertion = text.trim();
    if assertion.is_empty() {
        return Err(Error::new(
            ErrorKind::Authentication,
            format!(
                "the federated token file {} is empty: check the kubelet's token projection",
                path.display()
            ),
        ));
    }
    Ok(assertion.to_string())
}

#[async_trait::async_trait]
impl TokenCredential for WorkloadIdentityCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = entra::single_scope(scopes, NAME).map_err(to_azure_error)?;
        self.token(scope).await.map_err(to_azure_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn env_without_token_file_is_not_configured() {
        let env = MapEnv::new()
            .with("AZURE_CLIENT_ID", "c")
            .with("AZURE_TENANT_ID", "t");
        let options = WorkloadIdentityCredentialOptions::from_env(&env, TlsOptions::new());
        assert!(options.unwrap().is_none());
        let error = WorkloadIdentityCredential::from_env(&env, TlsOptions::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn token_file_without_client_id_names_annotation() {
        let env = MapEnv::new()
            .with("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")
            .with("AZURE_TENANT_ID", "t");
        let error =
            WorkloadIdentityCredentialOptions::from_env(&env, TlsOptions::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(
            error
                .to_string()
                .contains("azure.workload.identity/client-id")
        );
        assert!(error.to_string().contains("AZURE_CLIENT_ID"));
    }

    #[test]
    fn env_reads_authority_host() {
        let env = MapEnv::new()
            .with("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")
            .with("AZURE_CLIENT_ID", "client")
            .with("AZURE_TENANT_ID", "tenant")
            .with("AZURE_AUTHORITY_HOST", "https://127.0.0.1:9443/");
        let credential = WorkloadIdentityCredential::from_env(&env, TlsOptions::new()).unwrap();
        assert_eq!(
            credential.token_url(),
            "https://127.0.0.1:9443/tenant/oauth2/v2.0/token"
        );
        let printed = format!("{credential:?}");
        assert!(printed.contains("client"));
    }

    #[test]
    fn missing_and_empty_token_files() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_assertion(&dir.path().join("absent")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Unavailable);

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let error = read_assertion(&empty).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Authentication);
        assert!(error.to_string().contains("is empty"));
    }
}
