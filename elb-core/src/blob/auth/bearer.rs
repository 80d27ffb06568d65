//! Bearer-token authorization with a per-store token cache.

use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential};
use http::HeaderValue;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::STORAGE_SCOPE;
use crate::{Error, ErrorKind, Result};

/// Time before expiry at which a cached token is replaced.
const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

pub(crate) struct BearerAuth {
    credential: Arc<dyn TokenCredential>,
    cached: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: AccessToken,
    refresh_at: OffsetDateTime,
}

impl BearerAuth {
    pub(crate) fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            credential,
            cached: Mutex::new(None),
        }
    }

    /// Returns `Bearer <token>`, from the cache until five minutes before the token expires,
    /// or halfway through its lifetime when that is shorter.
    pub(crate) async fn header_value(&self) -> Result<HeaderValue> {
        // Holding the lock across the fetch makes concurrent requests wait for one token
        // request instead of each starting its own.
        let mut cached = self.cached.lock().await;
        let now = OffsetDateTime::now_utc();
        let fresh = cached.as_ref().is_some_and(|entry| now < entry.refresh_at);
        if !fresh {
            let token = self
                .credential
                .get_token(&[STORAGE_SCOPE], None)
                .await
                .map_err(|error| {
                    Error::new(
                        ErrorKind::Authentication,
                        format!("cannot get a token for {STORAGE_SCOPE}"),
                    )
                    .with_source(error)
                })?;
            let lifetime: time::Duration = token.expires_on - now;
            let margin = (lifetime / 2_i32).min(REFRESH_MARGIN);
            let refresh_at = token.expires_on - margin;
            *cached = Some(CachedToken { token, refresh_at });
        }
        let token = &cached.as_ref().expect("token was just stored").token;
        let mut value =
            HeaderValue::try_from(format!("Bearer {}", token.token.secret())).map_err(|_| {
                Error::new(
                    ErrorKind::Authentication,
                    "credential returned a token with characters not allowed in a header",
                )
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Drops the cached token so the next request fetches a new one.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.try_lock() {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use azure_core::credentials::TokenRequestOptions;

    use super::*;

    /// A credential that returns tokens valid for a fixed time and counts its calls.
    #[derive(Debug)]
    struct CountingCredential {
        lifetime: time::Duration,
        calls: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl TokenCredential for CountingCredential {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(
                format!("token-{call}"),
                OffsetDateTime::now_utc() + self.lifetime,
            ))
        }
    }

    async fn calls_after_two_requests(lifetime: time::Duration) -> (usize, String) {
        let credential = Arc::new(CountingCredential {
            lifetime,
            calls: AtomicUsize::new(0),
        });
        let auth = BearerAuth::new(credential.clone());
        auth.header_value().await.unwrap();
        let second = auth.header_value().await.unwrap();
        let text = second.to_str().unwrap().to_owned();
        (credential.calls.load(Ordering::SeqCst), text)
    }

    #[tokio::test]
    async fn long_lived_token_is_cached() {
        let (calls, header) = calls_after_two_requests(time::Duration::hours(1)).await;
        assert_eq!(calls, 1);
        assert_eq!(header, "Bearer token-0");
    }

    #[tokio::test]
    async fn short_token_cached_half_life() {
        let (calls, _) = calls_after_two_requests(time::Duration::minutes(2)).await;
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn expired_token_is_fetched_again() {
        let (calls, header) = calls_after_two_requests(time::Duration::seconds(-10)).await;
        assert_eq!(calls, 2);
        assert_eq!(header, "Bearer token-1");
    }

    #[tokio::test]
    async fn invalidated_token_is_fetched_again() {
        let credential = Arc::new(CountingCredential {
            lifetime: time::Duration::hours(1),
            calls: AtomicUsize::new(0),
        });
        let auth = BearerAuth::new(credential.clone());
        auth.header_value().await.unwrap();
        auth.invalidate();
        let header = auth.header_value().await.unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer token-1");
        assert!(header.is_sensitive());
    }
}
