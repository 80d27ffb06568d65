//! Bearer-token authorization with a per-store token cache.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use http::HeaderValue;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::STORAGE_SCOPE;
use crate::{Error, ErrorKind, Result};

/// Time before expiry at which a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

pub(crate) struct BearerAuth {
    credential: Arc<dyn TokenCredential>,
    cached: Mutex<Option<AccessToken>>,
}

impl BearerAuth {
    pub(crate) fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self {
            credential,
            cached: Mutex::new(None),
        }
    }

    /// Returns `Bearer <token>`, from the cache while the token has more than five minutes
    /// left.
    pub(crate) async fn header_value(&self) -> Result<HeaderValue> {
        // Holding the lock across the fetch makes concurrent requests wait for one token
        // request instead of each starting its own.
        let mut cached = self.cached.lock().await;
        let fresh = cached
            .as_ref()
            .is_some_and(|token| token.expires_on - OffsetDateTime::now_utc() > REFRESH_MARGIN);
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
            *cached = Some(token);
        }
        let token = cached.as_ref().expect("token was just stored");
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
