//! The default credential chain: tries credentials in order and remembers which one worked.

use std::fmt;
use std::sync::OnceLock;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};

use super::chain_builder::DefaultChainBuilder;
use super::{SharedCredential, to_azure_error, to_elb_error};
use crate::{Error, ErrorKind, Result};

/// One credential of a chain and the name it is reported by.
pub(crate) struct Link {
    pub(crate) name: &'static str,
    pub(crate) credential: SharedCredential,
}

/// A credential that tries a list of credentials in order, uses the first that produces a
/// token, and keeps using that one for later requests.
///
/// [`DefaultChain::last_used`] reports which credential worked, for the health check. When
/// every credential fails, the error lists each one's reason, including those skipped
/// because the environment does not configure them.
///
/// ```no_run
/// # async fn example() -> elb_core::Result<()> {
/// use std::sync::Arc;
///
/// use elb_core::auth::{CredentialKind, DefaultChain, STORAGE_SCOPE};
/// use elb_core::env::MapEnv;
///
/// let env = MapEnv::new().with("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:8080");
/// let chain = DefaultChain::builder()
///     .env(Arc::new(env))
///     .exclude(CredentialKind::AzureCli)
///     .build()?;
/// let method = chain.probe(STORAGE_SCOPE).await?;
/// println!("storage token from {method}");
/// # Ok(())
/// # }
/// ```
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
        DefaultChainBuilder::new()
    }

    pub(crate) fn from_parts(links: Vec<Link>, skipped: Vec<(&'static str, String)>) -> Self {
        Self {
            links,
            skipped,
            selected: OnceLock::new(),
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

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
}
