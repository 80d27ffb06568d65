//! Azure CLI credential: runs `az account get-access-token` and reads its JSON output.

use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use serde::Deserialize;

use super::cache::TokenCache;
use super::entra::{single_scope, validate_tenant_id};
use super::managed::scope_to_resource;
use super::to_azure_error;
use crate::env::EnvSource;
use crate::tls::TlsOptions;
use crate::{Error, ErrorKind, Result};

const NAME: &str = "AzureCliCredential";

/// Settings of an [`AzureCliCredential`].
#[derive(Clone, Debug)]
pub struct AzureCliCredentialOptions {
    /// The Azure CLI program, `az` (looked up in `PATH`) by default.
    pub program: PathBuf,
    /// The tenant to request a token from, instead of the CLI's default tenant.
    pub tenant_id: Option<String>,
    /// How long one `az` run may take before it is killed.
    pub timeout: Duration,
}

impl Default for AzureCliCredentialOptions {
    fn default() -> Self {
        Self {
            program: PathBuf::from("az"),
            tenant_id: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl AzureCliCredentialOptions {
    /// Sets the Azure CLI program path.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// Sets the tenant to request a token from.
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// Sets how long one `az` run may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A credential that requests a token of the signed-in user or service principal from the
/// Azure CLI. Tokens are cached per scope.
pub struct AzureCliCredential {
    options: AzureCliCredentialOptions,
    cache: TokenCache,
}

impl fmt::Debug for AzureCliCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(NAME)
            .field("program", &self.options.program)
            .field("tenant_id", &self.options.tenant_id)
            .finish_non_exhaustive()
    }
}

/// The error output of a failed `az` run, kept as the cause of the returned error.
#[derive(Debug)]
struct CliStderr(String);

impl fmt::Display for CliStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CliStderr {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CliToken {
    access_token: String,
    #[serde(default)]
    expires_on: Option<String>,
    #[serde(default, rename = "expires_on")]
    expires_on_unix: Option<i64>,
}

/// Parses the JSON output of `az account get-access-token`: `accessToken` and the expiry,
/// from `expires_on` (Unix seconds, Azure CLI 2.54 and later) or else `expiresOn` (local
/// time without an offset).
pub(crate) fn parse_cli_output(stdout: &[u8]) -> Result<AccessToken> {
    let parsed: CliToken = serde_json::from_slice(stdout).map_err(|error| {
        Error::new(
            ErrorKind::Service,
            "az account get-access-token output is not JSON with accessToken",
        )
        .with_source(error)
    })?;
    let expires_on = match (parsed.expires_on_unix, parsed.expires_on.as_deref()) {
        (Some(unix), _) => time::OffsetDateTime::from_unix_timestamp(unix).ok(),
        (None, Some(text)) => parse_local_time(text),
        (None, None) => None,
    };
    let expires_on = expires_on.ok_or_else(|| {
        Error::new(
            ErrorKind::Service,
            "az account get-access-token output has no readable expires_on or expiresOn",
        )
    })?;
    Ok(AccessToken::new(parsed.access_token, expires_on))
}

/// Parses `2024-05-01 12:34:56.123456` as written by older Azure CLI versions.
///
/// NOTE: the CLI writes local time without an offset, and elb reads it as UTC because the
/// `time` crate cannot read the local offset safely in a multi-threaded process. On hosts
/// east of UTC this overestimates the lifetime; CLI 2.54 and later also write `expires_on`,
/// which is used instead.
fn parse_local_time(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

impl AzureCliCredential {
    /// Creates the credential.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when the tenant id is invalid.
    pub fn new(options: AzureCliCredentialOptions) -> Result<Self> {
        if let Some(tenant_id) = &options.tenant_id {
            validate_tenant_id(tenant_id)?;
        }
        Ok(Self {
            options,
            cache: TokenCache::new(),
        })
    }

    /// Creates the credential with default options.
    ///
    /// The CLI reads its own configuration, so the environment and the TLS options are not
    /// used. They are parameters only so that every credential has the same constructor.
    ///
    /// # Errors
    ///
    /// Returns `Result` for the same reason; with default options it does not fail.
    pub fn from_env(_env: &dyn EnvSource, _tls: TlsOptions) -> Result<Self> {
        Self::new(AzureCliCredentialOptions::default())
    }

    /// Returns an access token for `scope`, from the cache or from a new `az` run.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::Unavailable`] when `az` is missing or not logged in, with
    /// [`ErrorKind::TimedOut`] when it runs past the timeout, and with
    /// [`ErrorKind::Authentication`] for other failures.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled run kills the `az` process.
    pub async fn token(&self, scope: &str) -> Result<AccessToken> {
        self.cache.get_or_refresh(scope, || self.run(scope)).await
    }

    async fn run(&self, scope: &str) -> Result<AccessToken> {
        let program = &self.options.program;
        let mut command = tokio::process::Command::new(program);
        command
            .args([
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
            ])
            .arg(scope_to_resource(scope))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(tenant_id) = &self.options.tenant_id {
            command.args(["--tenant", tenant_id]);
        }
        tracing::debug!(program = %program.display(), scope, "running az account get-access-token");

        let child = command.spawn().map_err(|error| {
            let kind = match error.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::Unavailable,
                _ => ErrorKind::Authentication,
            };
            let message = if kind == ErrorKind::Unavailable {
                format!(
                    "Azure CLI program {} was not found: install the Azure CLI or choose \
                     another credential",
                    program.display()
                )
            } else {
                format!("cannot run the Azure CLI program {}", program.display())
            };
            Error::new(kind, message).with_source(error)
        })?;

        let output = tokio::time::timeout(self.options.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "az account get-access-token did not finish within {} s: check the \
                         CLI's network access or run it by hand",
                        self.options.timeout.as_secs_f32()
                    ),
                )
            })?
            .map_err(|error| {
                Error::new(
                    ErrorKind::Authentication,
                    "cannot read the Azure CLI output",
                )
                .with_source(error)
            })?;

        if output.status.success() {
            return parse_cli_output(&output.stdout);
        }
        Err(failure_error(output.status.code(), &output.stderr))
    }
}

/// Builds the error of a failed `az` run from its exit code and error output.
fn failure_error(code: Option<i32>, stderr: &[u8]) -> Error {
    let text = String::from_utf8_lossy(stderr).trim().to_string();
    let not_logged_in = text.contains("az login") || text.contains("az account set");
    let error = if not_logged_in {
        Error::new(
            ErrorKind::Unavailable,
            "the Azure CLI is not logged in: run `az login`",
        )
    } else {
        let code = code.map_or_else(|| "a signal".to_string(), |code| code.to_string());
        Error::new(
            ErrorKind::Authentication,
            format!("az account get-access-token failed with exit code {code}"),
        )
    };
    if text.is_empty() {
        error
    } else {
        error.with_source(CliStderr(text))
    }
}

#[async_trait::async_trait]
impl TokenCredential for AzureCliCredential {
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
    fn output_with_unix_expiry() {
        let token = parse_cli_output(
            br#"{"accessToken":"cli-token","expiresOn":"2030-01-01 00:00:00.000000",
                "expires_on":1900000000,"tokenType":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(token.token.secret(), "cli-token");
        assert_eq!(token.expires_on.unix_timestamp(), 1_900_000_000);
    }

    #[test]
    fn output_with_local_expiry_only() {
        let token =
            parse_cli_output(br#"{"accessToken":"t","expiresOn":"2030-01-02 03:04:05.678901"}"#)
                .unwrap();
        assert_eq!(
            token.expires_on,
            time::macros::datetime!(2030-01-02 03:04:05.678901 UTC)
        );
        let whole =
            parse_cli_output(br#"{"accessToken":"t","expiresOn":"2030-01-02 03:04:05"}"#).unwrap();
        assert_eq!(
            whole.expires_on,
            time::macros::datetime!(2030-01-02 03:04:05 UTC)
        );
    }

    #[test]
    fn output_without_expiry_or_token_is_rejected() {
        assert!(parse_cli_output(br#"{"accessToken":"t"}"#).is_err());
        assert!(parse_cli_output(br#"{"expires_on":1900000000}"#).is_err());
        assert!(parse_cli_output(b"ERROR").is_err());
    }

    #[test]
    fn not_logged_in_says_run_az_login() {
        let error = failure_error(Some(1), b"ERROR: Please run 'az login' to setup account.\n");
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(error.to_string().contains("run `az login`"));
        let other = failure_error(Some(2), b"ERROR: something else");
        assert_eq!(other.kind(), ErrorKind::Authentication);
        assert!(other.to_string().contains("exit code 2"));
    }
}
