//! Managed identity through the Azure Instance Metadata Service (IMDS) or the App Service,
//! Functions and Container Apps identity endpoint.

use std::fmt;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use secrecy::ExposeSecret;
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::cache::TokenCache;
use super::entra::{http_client, single_scope};
use super::managed_options::{
    ManagedIdentityCredentialOptions, ManagedIdentitySource, UserAssignedId,
};
use super::managed_retry::{ManagedIdentityRetry, RetryDecision};
use super::retry::parse_retry_after;
use super::to_azure_error;
use crate::env::EnvSource;
use crate::tls::TlsOptions;
use crate::{Error, ErrorKind, Result};

const NAME: &str = "ManagedIdentityCredential";

const IMDS_API_VERSION: &str = "2018-02-01";
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// A credential for the managed identity of the Azure resource the code runs on.
///
/// Requests go to IMDS or to the App Service identity endpoint, follow the retry rules of
/// [`ManagedIdentityRetry`], and fail with [`ErrorKind::Unavailable`] within the connect
/// timeout (1 second by default) when the endpoint cannot be reached. Tokens are cached per
/// scope.
pub struct ManagedIdentityCredential {
    source: ManagedIdentitySource,
    user_assigned_id: Option<UserAssignedId>,
    retry: ManagedIdentityRetry,
    http: reqwest::Client,
    cache: TokenCache,
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(NAME)
            .field("source", &self.source)
            .field("user_assigned_id", &self.user_assigned_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

fn as_seconds(value: Option<&serde_json::Value>) -> Option<i64> {
    match value? {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a managed identity token response, preferring the absolute `expires_on` (Unix
/// seconds) over the relative `expires_in`.
pub(crate) fn parse_token_body(body: &[u8]) -> Result<AccessToken> {
    let parsed: TokenBody = serde_json::from_slice(body).map_err(|error| {
        Error::new(
            ErrorKind::Service,
            "managed identity token response is not a JSON object with access_token",
        )
        .with_source(error)
    })?;
    let now = time::OffsetDateTime::now_utc();
    let expires_on = if let Some(at) = as_seconds(parsed.expires_on.as_ref()) {
        time::OffsetDateTime::from_unix_timestamp(at).ok()
    } else {
        as_seconds(parsed.expires_in.as_ref()).map(|secs| now + time::Duration::seconds(secs))
    };
    let expires_on = expires_on.ok_or_else(|| {
        Error::new(
            ErrorKind::Service,
            "managed identity token response has neither expires_on nor expires_in",
        )
    })?;
    Ok(AccessToken::new(parsed.access_token, expires_on))
}

/// Returns the resource of a `/.default` scope, as the managed identity endpoints expect it.
pub(crate) fn scope_to_resource(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}

impl ManagedIdentityCredential {
    /// Creates the credential.
    ///
    /// # Errors
    ///
    /// Fails when the TLS options cannot build a client.
    pub fn new(options: ManagedIdentityCredentialOptions) -> Result<Self> {
        Ok(Self {
            http: http_client(&options.tls, options.retry.connect_timeout)?,
            source: options.source,
            user_assigned_id: options.user_assigned_id,
            retry: options.retry,
            cache: TokenCache::new(),
        })
    }

    /// Creates the credential from the environment; see
    /// [`ManagedIdentityCredentialOptions::from_env`].
    ///
    /// # Limitations
    ///
    /// Without `IDENTITY_ENDPOINT` and `AZURE_POD_IDENTITY_AUTHORITY_HOST` the credential
    /// sends its requests to `169.254.169.254`. Tests set one of them or use
    /// [`ManagedIdentityCredential::new`] with a loopback endpoint.
    ///
    /// # Errors
    ///
    /// Fails as [`ManagedIdentityCredentialOptions::from_env`] does.
    pub fn from_env(env: &dyn EnvSource, tls: TlsOptions) -> Result<Self> {
        Self::new(ManagedIdentityCredentialOptions::from_env(env, tls, None)?)
    }

    /// Returns the token endpoint this credential sends requests to.
    pub fn endpoint(&self) -> &str {
        self.source.endpoint().as_str()
    }

    /// Returns an access token for `scope`, from the cache or from the endpoint.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::Unavailable`] when the endpoint cannot be reached, and with
    /// the kind of the last response once retries run out.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing is cached from a cancelled request.
    pub async fn token(&self, scope: &str) -> Result<AccessToken> {
        self.cache
            .get_or_refresh(scope, || self.request_with_retries(scope))
            .await
    }

    fn request_url(&self, scope: &str) -> Url {
        let mut url = self.source.endpoint().clone();
        {
            let mut query = url.query_pairs_mut();
            let api_version = match self.source {
                ManagedIdentitySource::Imds { .. } => IMDS_API_VERSION,
                ManagedIdentitySource::AppService { .. } => APP_SERVICE_API_VERSION,
            };
            query.append_pair("api-version", api_version);
            query.append_pair("resource", scope_to_resource(scope));
            if let Some(id) = &self.user_assigned_id {
                let (name, value) = id.query_pair(&self.source);
                query.append_pair(name, value);
            }
        }
        url
    }

    async fn request_with_retries(&self, scope: &str) -> Result<AccessToken> {
        let url = self.request_url(scope);
        let started = Instant::now();
        let mut retries = 0;
        loop {
            tracing::debug!(endpoint = %self.source.endpoint(), scope, retries, "requesting managed identity token");
            let (status, retry_after, body) = self.send_once(&url).await?;
            if (200..300).contains(&status) {
                return parse_token_body(&body);
            }
            match self
                .retry
                .decide(status, retries, started.elapsed(), retry_after)
            {
                RetryDecision::RetryAfter(delay) => {
                    tracing::info!(
                        status,
                        retries,
                        delay_ms = delay.as_millis() as u64,
                        "managed identity endpoint returned an error, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
                RetryDecision::Stop => return Err(self.response_error(status, &body, retries)),
            }
        }
    }

    async fn send_once(
        &self,
        url: &Url,
    ) -> Result<(u16, Option<std::time::Duration>, bytes::Bytes)> {
        let mut request = self.http.get(url.clone()).header("Metadata", "true");
        if let ManagedIdentitySource::AppService { header, .. } = &self.source {
            request = request.header("X-IDENTITY-HEADER", header.expose_secret());
        }
        let endpoint = self.source.endpoint().as_str();
        let response = request.send().await.map_err(|error| {
            let unreachable = error.is_connect() || error.is_timeout();
            let kind = if unreachable {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Transport
            };
            Error::new(
                kind,
                format!(
                    "managed identity endpoint {endpoint} is unreachable: this is not an Azure \
                     resource with a managed identity, or choose another credential"
                ),
            )
            .with_target(endpoint.to_string())
            .with_source(error.without_url())
        })?;
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers());
        let body = response.bytes().await.map_err(|error| {
            Error::new(
                ErrorKind::Transport,
                format!("managed identity response from {endpoint} was cut off"),
            )
            .with_source(error.without_url())
        })?;
        Ok((status, retry_after, body))
    }

    fn response_error(&self, status: u16, body: &[u8], retries: u32) -> Error {
        let endpoint = self.source.endpoint().as_str();
        let detail = error_description(body);
        let identity = match &self.user_assigned_id {
            Some(id) => format!("user-assigned identity {id:?}"),
            None => "the system-assigned identity".to_string(),
        };
        let (kind, message) = match status {
            400 => (
                ErrorKind::Authentication,
                format!(
                    "managed identity endpoint {endpoint} rejected the request for {identity}{detail}: \
                     check that the identity is assigned to this resource"
                ),
            ),
            401 | 403 => (
                ErrorKind::PermissionDenied,
                format!("managed identity endpoint {endpoint} denied the request{detail}"),
            ),
            410 => (
                ErrorKind::Unavailable,
                format!(
                    "managed identity endpoint {endpoint} was still being updated (HTTP 410) \
                     after {retries} retries"
                ),
            ),
            429 => (
                ErrorKind::Throttled,
                format!("managed identity endpoint {endpoint} throttled {retries} retries"),
            ),
            404 => (
                ErrorKind::Unavailable,
                format!(
                    "managed identity endpoint {endpoint} returned not found after {retries} \
                     retries{detail}: the identity may not be assigned yet"
                ),
            ),
            _ => (
                ErrorKind::Service,
                format!(
                    "managed identity endpoint {endpoint} failed after {retries} retries{detail}"
                ),
            ),
        };
        Error::new(kind, message)
            .with_status(status)
            .with_target(endpoint.to_string())
    }
}

/// Returns `: <error_description>` from a managed identity error body, or nothing.
fn error_description(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let description = parsed.as_ref().and_then(|value| {
        value
            .get("error_description")
            .or_else(|| value.get("message"))
            .and_then(serde_json::Value::as_str)
    });
    match description {
        Some(text) if !text.trim().is_empty() => {
            let line = text.lines().next().unwrap_or("").trim();
            format!(" ({})", line.chars().take(300).collect::<String>())
        }
        _ => String::new(),
    }
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentityCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = single_scope(scopes, NAME).map_err(to_azure_error)?;
        self.token(scope).await.map_err(to_azure_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_url_names_user_assigned_identity() {
        let imds = ManagedIdentitySource::imds("http://127.0.0.1:1").unwrap();
        let credential = ManagedIdentityCredential::new(
            ManagedIdentityCredentialOptions::new(imds)
                .with_user_assigned_id(UserAssignedId::ResourceId("/sub/x".into())),
        )
        .unwrap();
        let url = credential.request_url("https://storage.azure.com/.default");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("api-version".into(), "2018-02-01".into())));
        assert!(pairs.contains(&("resource".into(), "https://storage.azure.com".into())));
        assert!(pairs.contains(&("msi_res_id".into(), "/sub/x".into())));

        let app =
            ManagedIdentitySource::app_service("http://127.0.0.1:2/token", "h".to_string().into())
                .unwrap();
        let credential = ManagedIdentityCredential::new(
            ManagedIdentityCredentialOptions::new(app)
                .with_user_assigned_id(UserAssignedId::ObjectId("oid".into())),
        )
        .unwrap();
        let url = credential.request_url("6dae42f8-4368-4678-94ff-3960e28e3630/.default");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("api-version".into(), "2019-08-01".into())));
        assert!(pairs.contains(&("principal_id".into(), "oid".into())));
        assert!(pairs.contains(&(
            "resource".into(),
            "6dae42f8-4368-4678-94ff-3960e28e3630".into()
        )));
    }

    #[test]
    fn token_body_prefers_expires_on() {
        let token = parse_token_body(
            br#"{"access_token":"t","expires_on":"1900000000","expires_in":"10"}"#,
        )
        .unwrap();
        assert_eq!(token.expires_on.unix_timestamp(), 1_900_000_000);
        let relative = parse_token_body(br#"{"access_token":"t","expires_in":3600}"#).unwrap();
        let lifetime = relative.expires_on - time::OffsetDateTime::now_utc();
        assert!(lifetime.whole_seconds() > 3590);
        assert!(parse_token_body(br#"{"access_token":"t"}"#).is_err());
    }
}
