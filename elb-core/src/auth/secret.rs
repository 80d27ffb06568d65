//! Client secret credential: an app registration's client id and secret.

use std::fmt;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use secrecy::SecretString;
use url::Url;

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

const NAME: &str = "ClientSecretCredential";

/// Settings of a [`ClientSecretCredential`]. `Debug` omits the secret.
#[derive(Clone)]
pub struct ClientSecretCredentialOptions {
    /// The application (client) id (`AZURE_CLIENT_ID`).
    pub client_id: String,
    /// The directory (tenant) id (`AZURE_TENANT_ID`).
    pub tenant_id: String,
    /// The client secret value (`AZURE_CLIENT_SECRET`).
    pub client_secret: SecretString,
    /// The Entra ID authority host (`AZURE_AUTHORITY_HOST`), by default
    /// `https://login.microsoftonline.com/`.
    pub authority_host: String,
    /// Extra root certificates for the token endpoint.
    pub tls: TlsOptions,
    /// Retries of throttled, failed or broken token requests.
    pub retry: RetryOptions,
}

impl fmt::Debug for ClientSecretCredentialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecretCredentialOptions")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("authority_host", &self.authority_host)
            .finish_non_exhaustive()
    }
}

impl ClientSecretCredentialOptions {
    /// Creates options for the public cloud authority with default TLS and retries.
    pub fn new(
        client_id: impl Into<String>,
        tenant_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            tenant_id: tenant_id.into(),
            client_secret,
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

    /// Reads `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
    /// `AZURE_AUTHORITY_HOST`.
    ///
    /// Returns `Ok(None)` when `AZURE_CLIENT_SECRET` is unset.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when the secret is set but the client id or
    /// tenant id is missing.
    pub fn from_env(env: &dyn EnvSource, tls: TlsOptions) -> Result<Option<Self>> {
        let Some(secret) = non_empty(env, "AZURE_CLIENT_SECRET") else {
            return Ok(None);
        };
        let missing: Vec<&str> = ["AZURE_CLIENT_ID", "AZURE_TENANT_ID"]
            .into_iter()
            .filter(|name| non_empty(env, name).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid_input(format!(
                "AZURE_CLIENT_SECRET is set but {} is not: set it, or unset \
                 AZURE_CLIENT_SECRET to use another credential",
                missing.join(" and ")
            )));
        }
        let client_id = non_empty(env, "AZURE_CLIENT_ID").unwrap_or_default();
        let tenant_id = non_empty(env, "AZURE_TENANT_ID").unwrap_or_default();
        let authority_host = non_empty(env, "AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_string());
        Ok(Some(
            Self::new(client_id, tenant_id, SecretString::from(secret))
                .with_authority_host(authority_host)
                .with_tls(tls),
        ))
    }
}

/// A credential that authenticates an app registration with its client secret (OAuth 2.0
/// client credentials). Tokens are cached per scope.
pub struct ClientSecretCredential {
    client_id: String,
    tenant_id: String,
    client_secret: SecretString,
    token_url: Url,
    retry: RetryOptions,
    http: reqwest::Client,
    cache: TokenCache,
}

impl fmt::Debug for ClientSecretCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(NAME)
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ClientSecretCredential {
    /// Creates the credential.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when the client id or secret is empty, the
    /// tenant id or authority host is invalid, or the TLS options cannot build a client.
    pub fn new(options: ClientSecretCredentialOptions) -> Result<Self> {
        use secrecy::ExposeSecret;

        if options.client_id.trim().is_empty() {
            return Err(Error::invalid_input(
                "client id is empty: set AZURE_CLIENT_ID",
            ));
        }
        if options.client_secret.expose_secret().trim().is_empty() {
            return Err(Error::invalid_input(
                "client secret is empty: set AZURE_CLIENT_SECRET",
            ));
        }
        validate_tenant_id(&options.tenant_id)?;
        let authority = parse_authority_host(&options.authority_host)?;
        Ok(Self {
            token_url: token_url(&authority, &options.tenant_id)?,
            client_id: options.client_id,
            tenant_id: options.tenant_id,
            client_secret: options.client_secret,
            retry: options.retry,
            http: entra::entra_http_client(&options.tls)?,
            cache: TokenCache::new(),
        })
    }

    /// Creates the credential from `AZURE_CLIENT_SECRET`, `AZURE_CLIENT_ID`,
    /// `AZURE_TENANT_ID` and `AZURE_AUTHORITY_HOST`.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::Unavailable`] when `AZURE_CLIENT_SECRET` is unset and with
    /// [`ErrorKind::InvalidInput`] when the other variables are missing or invalid.
    pub fn from_env(env: &dyn EnvSource, tls: TlsOptions) -> Result<Self> {
        match ClientSecretCredentialOptions::from_env(env, tls)? {
            Some(options) => Self::new(options),
            None => Err(Error::new(
                ErrorKind::Unavailable,
                "client secret credential is not configured: AZURE_CLIENT_SECRET is not set",
            )),
        }
    }

    /// Returns an access token for `scope`, from the cache or from a new request.
    ///
    /// # Errors
    ///
    /// Fails when Entra ID rejects the request; the error carries the `AADSTS` code.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is cached from a cancelled request.
    pub async fn token(&self, scope: &str) -> Result<AccessToken> {
        self.cache
            .get_or_refresh(scope, || {
                entra::exchange(&self.http, &self.token_url, &self.retry, || {
                    Ok(self.prepare(scope))
                })
            })
            .await
    }

    fn prepare(&self, scope: &str) -> (ExchangeForm, ExchangeContext) {
        let form = ExchangeForm {
            client_id: self.client_id.clone(),
            scope: scope.to_string(),
            secret: ClientAuth::Secret(self.client_secret.clone()),
        };
        let context = ExchangeContext {
            credential: NAME,
            client_id: self.client_id.clone(),
            tenant_id: self.tenant_id.clone(),
            scope: scope.to_string(),
            token_url: self.token_url.to_string(),
            assertion: None,
            token_file: None,
        };
        (form, context)
    }
}

#[async_trait::async_trait]
impl TokenCredential for ClientSecretCredential {
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

    const SECRET: &str = "very-secret-value-123";

    #[test]
    fn debug_hides_secret() {
        let env = MapEnv::new()
            .with("AZURE_CLIENT_SECRET", SECRET)
            .with("AZURE_CLIENT_ID", "client")
            .with("AZURE_TENANT_ID", "tenant");
        let options = ClientSecretCredentialOptions::from_env(&env, TlsOptions::new())
            .unwrap()
            .unwrap();
        assert!(!format!("{options:?}").contains(SECRET));
        let credential = ClientSecretCredential::new(options).unwrap();
        let printed = format!("{credential:?}");
        assert!(printed.contains("client"));
        assert!(!printed.contains(SECRET));
    }

    #[test]
    fn secret_without_tenant_is_rejected() {
        let env = MapEnv::new()
            .with("AZURE_CLIENT_SECRET", SECRET)
            .with("AZURE_CLIENT_ID", "client");
        let error = ClientSecretCredentialOptions::from_env(&env, TlsOptions::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("AZURE_TENANT_ID"));
        assert!(!error.to_string().contains(SECRET));
    }

    #[test]
    fn no_secret_is_not_configured() {
        let env = MapEnv::new().with("AZURE_CLIENT_ID", "client");
        assert!(
            ClientSecretCredentialOptions::from_env(&env, TlsOptions::new())
                .unwrap()
                .is_none()
        );
        let error = ClientSecretCredential::from_env(&env, TlsOptions::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable);
    }
}
