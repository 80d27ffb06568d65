//! The OAuth 2.0 client-credentials exchange with the Entra ID token endpoint, shared by the
//! workload identity and client secret credentials.

use std::time::Duration;

use azure_core::credentials::AccessToken;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::entra_error::{ExchangeContext, decode_error};
use super::retry::{RetryOptions, is_transient_status, parse_retry_after};
use crate::tls::TlsOptions;
use crate::{Error, ErrorKind, Result};

/// The authority host of the Azure public cloud.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Parses an authority host such as `https://login.microsoftonline.com/`.
pub(crate) fn parse_authority_host(value: &str) -> Result<Url> {
    let url = Url::parse(value.trim()).map_err(|error| {
        Error::invalid_input(format!(
            "authority host {value:?} is not a URL: set AZURE_AUTHORITY_HOST to a URL such as \
             {DEFAULT_AUTHORITY_HOST}"
        ))
        .with_source(error)
    })?;
    if url.scheme() != "https" {
        return Err(Error::invalid_input(format!(
            "authority host {value} does not use HTTPS: Entra ID token endpoints require https://"
        )));
    }
    if url.query().is_some() {
        return Err(Error::invalid_input(format!(
            "authority host {value} has a query: remove everything after '?'"
        )));
    }
    Ok(url)
}

/// Checks that a tenant id is a GUID or domain-like name usable in a URL path.
pub(crate) fn validate_tenant_id(tenant_id: &str) -> Result<()> {
    let valid = !tenant_id.is_empty()
        && tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "tenant id {tenant_id:?} is invalid: use the directory (tenant) GUID or a domain \
             name made of letters, digits, '-' and '.'"
        )))
    }
}

/// Returns `{authority}/{tenant}/oauth2/v2.0/token`, keeping any path of the authority.
pub(crate) fn token_url(authority: &Url, tenant_id: &str) -> Result<Url> {
    let mut base = authority.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(&format!("{tenant_id}/oauth2/v2.0/token"))
        .map_err(|error| {
            Error::invalid_input(format!("cannot build the token URL for tenant {tenant_id}"))
                .with_source(error)
        })
}

/// Returns the one scope of a token request, rejecting none or several.
pub(crate) fn single_scope<'a>(scopes: &[&'a str], credential: &str) -> Result<&'a str> {
    match scopes {
        [scope] if !scope.trim().is_empty() => Ok(scope),
        _ => Err(Error::invalid_input(format!(
            "{credential} needs exactly one scope, got {}: request one scope such as \
             https://storage.azure.com/.default",
            scopes.len()
        ))),
    }
}

/// Builds the HTTP client of a credential from the TLS options.
pub(crate) fn http_client(tls: &TlsOptions, connect_timeout: Duration) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(REQUEST_TIMEOUT);
    tls.apply(builder)?.build().map_err(|error| {
        Error::new(ErrorKind::Transport, "cannot build the token HTTP client").with_source(error)
    })
}

/// Builds the HTTP client of an Entra ID credential.
pub(crate) fn entra_http_client(tls: &TlsOptions) -> Result<reqwest::Client> {
    http_client(tls, CONNECT_TIMEOUT)
}

/// The form of one client-credentials request. The secret part is either the client secret
/// or the federated assertion.
pub(crate) struct ExchangeForm {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) secret: ClientAuth,
}

/// The client's proof of identity.
pub(crate) enum ClientAuth {
    Secret(SecretString),
    Assertion(SecretString),
}

impl ExchangeForm {
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            ("client_id", self.client_id.as_str()),
            ("grant_type", "client_credentials"),
            ("scope", self.scope.as_str()),
        ];
        match &self.secret {
            ClientAuth::Secret(secret) => pairs.push(("client_secret", secret.expose_secret())),
            ClientAuth::Assertion(assertion) => {
                pairs.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                pairs.push(("client_assertion", assertion.expose_secret()));
            }
        }
        pairs
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Parses a successful token response: `access_token` and `expires_in` (seconds, as a number
/// or a string).
pub(crate) fn parse_token_body(body: &[u8], credential: &str) -> Result<AccessToken> {
    let parsed: TokenBody = serde_json::from_slice(body).map_err(|error| {
        Error::new(
            ErrorKind::Service,
            format!("{credential} token response is not a JSON object with access_token"),
        )
        .with_source(error)
    })?;
    let expires_in = parsed
        .expires_in
        .as_ref()
        .and_then(|value| match value {
            serde_json::Value::Number(number) => number.as_i64(),
            serde_json::Value::String(text) => text.trim().parse().ok(),
            _ => None,
        })
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Service,
                format!("{credential} token response has no numeric expires_in"),
            )
        })?;
    Ok(AccessToken::new(
        parsed.access_token,
        time::OffsetDateTime::now_utc() + time::Duration::seconds(expires_in),
    ))
}

/// Runs the exchange, calling `prepare` before every attempt so that each attempt presents
/// the current assertion, and retrying throttling, server errors and broken connections.
pub(crate) async fn exchange<F>(
    http: &reqwest::Client,
    url: &Url,
    retry: &RetryOptions,
    mut prepare: F,
) -> Result<AccessToken>
where
    F: FnMut() -> Result<(ExchangeForm, ExchangeContext)>,
{
    let mut attempt = 0;
    loop {
        let (form, context) = prepare()?;
        tracing::debug!(
            credential = context.credential,
            client_id = %form.client_id,
            scope = %form.scope,
            url = %url,
            attempt,
            "requesting token"
        );
        let outcome = send_once(http, url, &form, &context).await;
        let error = match outcome {
            Ok(token) => return Ok(token),
            Err(error) => error,
        };
        let transient = match error.status() {
            Some(status) => is_transient_status(status),
            None => error.kind() == ErrorKind::Transport,
        };
        if !transient || attempt >= retry.max_retries {
            return Err(error);
        }
        let delay = retry.delay(attempt, error.retry_after());
        tracing::info!(
            credential = context.credential,
            %error,
            delay_ms = delay.as_millis() as u64,
            attempt,
            "token request failed, retrying"
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

async fn send_once(
    http: &reqwest::Client,
    url: &Url,
    form: &ExchangeForm,
    context: &ExchangeContext,
) -> Result<AccessToken> {
    let response = http
        .post(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form.pairs())
        .send()
        .await
        .map_err(|error| {
            // The URL contains no secret, and the form with the secret is not part of the error.
            Error::new(
                ErrorKind::Transport,
                format!("{} token request to {url} failed", context.credential),
            )
            .with_target(url.to_string())
            .with_source(error.without_url())
        })?;

    let status = response.status().as_u16();
    let retry_after = parse_retry_after(response.headers());
    let body = response.bytes().await.map_err(|error| {
        Error::new(
            ErrorKind::Transport,
            format!(
                "{} token response from {url} was cut off",
                context.credential
            ),
        )
        .with_source(error.without_url())
    })?;
    if (200..300).contains(&status) {
        return parse_token_body(&body, context.credential);
    }
    let mut error = decode_error(status, &body, context);
    if let Some(delay) = retry_after {
        error = error.with_retry_after(delay);
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_url_keeps_authority_path() {
        let public = parse_authority_host("https://login.microsoftonline.com/").unwrap();
        assert_eq!(
            token_url(&public, "contoso").unwrap().as_str(),
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
        );
        let no_slash = parse_authority_host("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            token_url(&no_slash, "t1").unwrap().as_str(),
            "https://127.0.0.1:8443/t1/oauth2/v2.0/token"
        );
        let with_path = parse_authority_host("https://127.0.0.1:8443/entra").unwrap();
        assert_eq!(
            token_url(&with_path, "t1").unwrap().as_str(),
            "https://127.0.0.1:8443/entra/t1/oauth2/v2.0/token"
        );
    }

    #[test]
    fn authority_host_must_be_https() {
        let error = parse_authority_host("http://login.microsoftonline.com/").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("HTTPS"));
        assert!(parse_authority_host("not a url").is_err());
    }

    #[test]
    fn tenant_ids() {
        assert!(validate_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        assert!(validate_tenant_id("contoso.onmicrosoft.com").is_ok());
        for bad in ["", "a/b", "t?x=1", "tenant id"] {
            let error = validate_tenant_id(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn single_scope_rules() {
        assert_eq!(single_scope(&["s/.default"], "X").unwrap(), "s/.default");
        assert!(single_scope(&[], "X").is_err());
        assert!(single_scope(&["a", "b"], "X").is_err());
        assert!(single_scope(&[" "], "X").is_err());
    }

    #[test]
    fn token_body_accepts_number_or_string_lifetime() {
        let numeric =
            parse_token_body(br#"{"access_token":"abc","expires_in":3599}"#, "X").unwrap();
        assert_eq!(numeric.token.secret(), "abc");
        let lifetime = numeric.expires_on - time::OffsetDateTime::now_utc();
        assert!(lifetime.whole_seconds() > 3590, "{lifetime}");
        assert!(lifetime.whole_seconds() <= 3599, "{lifetime}");

        let text = parse_token_body(br#"{"access_token":"abc","expires_in":"60"}"#, "X").unwrap();
        assert!((text.expires_on - time::OffsetDateTime::now_utc()).whole_seconds() <= 60);

        let missing = parse_token_body(br#"{"access_token":"abc"}"#, "X").unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Service);
        assert!(parse_token_body(b"[]", "X").is_err());
    }
}
