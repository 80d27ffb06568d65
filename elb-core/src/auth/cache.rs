//! A per-scope token cache with early refresh and one refresh at a time per scope.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use azure_core::credentials::AccessToken;
use tokio::time::Instant;

use crate::Result;

/// Tokens that live at least this long are refreshed [`REFRESH_LEAD`] before they expire.
const LONG_LIVED: Duration = Duration::from_secs(10 * 60);

/// How long before expiry a long-lived token is refreshed.
const REFRESH_LEAD: Duration = Duration::from_secs(5 * 60);

/// After a failed refresh, callers keep the cached token for this long before the next
/// attempt, so that an outage does not turn every call into a token request.
const RETRY_AFTER_FAILED_REFRESH: Duration = Duration::from_secs(30);

/// Returns how long after it was issued a token of `lifetime` is refreshed: five minutes
/// before expiry, or at half its lifetime when it lives less than ten minutes.
pub(crate) fn refresh_delay(lifetime: Duration) -> Duration {
    if lifetime >= LONG_LIVED {
        lifetime - REFRESH_LEAD
    } else {
        lifetime / 2
    }
}

struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

#[derive(Default)]
struct Slot {
    cached: Option<CachedToken>,
    next_attempt: Option<Instant>,
}

/// Access tokens of one credential, keyed by scope.
///
/// A token is handed out until its refresh time, five minutes before expiry or at half the
/// lifetime of a token shorter than ten minutes. Then the next caller fetches a new one
/// while the others wait for it. Each scope has its own async mutex, so any number of
/// concurrent callers cause one token request. When a refresh fails
/// while the cached token is still valid, callers keep getting the cached token and the next
/// attempt waits 30 seconds.
///
/// Times are measured with [`tokio::time::Instant`], so tests can drive the cache with paused
/// time. The token's wall-clock expiry is converted to a lifetime when it is stored.
#[derive(Default)]
pub struct TokenCache {
    slots: StdMutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scopes = self.slots.lock().map(|slots| slots.len()).unwrap_or(0);
        f.debug_struct("TokenCache")
            .field("scopes", &scopes)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Creates an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the cached token for `scope`, or calls `fetch` for a new one when none is
    /// cached or the cached one is due for refresh.
    ///
    /// # Errors
    ///
    /// Returns the error of `fetch` when no valid token is cached.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled refresh releases the scope's lock and the next caller fetches.
    pub async fn get_or_refresh<F, Fut>(&self, scope: &str, fetch: F) -> Result<AccessToken>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken>>,
    {
        let slot = self.slot(scope);
        let mut slot = slot.lock().await;

        let now = Instant::now();
        if let Some(cached) = &slot.cached {
            let backing_off = slot.next_attempt.is_some_and(|next| now < next);
            if now < cached.refresh_at || (backing_off && now < cached.expires_at) {
                return Ok(cached.token.clone());
            }
        }

        match fetch().await {
            Ok(token) => {
                slot.cached = Some(cache_entry(&token));
                slot.next_attempt = None;
                Ok(token)
            }
            Err(error) => {
                let now = Instant::now();
                let still_valid = match &slot.cached {
                    Some(cached) if now < cached.expires_at => {
                        Some((cached.token.clone(), cached.expires_at - now))
                    }
                    _ => None,
                };
                let Some((token, remaining)) = still_valid else {
                    return Err(error);
                };
                tracing::warn!(
                    scope,
                    %error,
                    remaining_secs = remaining.as_secs(),
                    "token refresh failed, using the cached token until it expires"
                );
                slot.next_attempt = Some(now + RETRY_AFTER_FAILED_REFRESH);
                Ok(token)
            }
        }
    }

    /// Removes every cached token, so the next call for each scope fetches a new one.
    pub fn clear(&self) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.clear();
        }
    }

    fn slot(&self, scope: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        // A poisoned map only means another thread panicked while inserting; the map itself
        // is still consistent.
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(scope.to_string()).or_default().clone()
    }
}

fn cache_entry(token: &AccessToken) -> CachedToken {
    let now = Instant::now();
    let remaining = token.expires_on - time::OffsetDateTime::now_utc();
    let lifetime = Duration::try_from(remaining).unwrap_or(Duration::ZERO);
    CachedToken {
        token: token.clone(),
        refresh_at: now + refresh_delay(lifetime),
        expires_at: now + lifetime,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Error, ErrorKind};

    fn token(value: &str, lifetime_secs: i64) -> AccessToken {
        AccessToken::new(
            value.to_string(),
            time::OffsetDateTime::now_utc() + time::Duration::seconds(lifetime_secs),
        )
    }

    #[test]
    fn refresh_delay_rules() {
        let hour = Duration::from_secs(3600);
        assert_eq!(refresh_delay(hour), Duration::from_secs(3300));
        assert_eq!(
            refresh_delay(Duration::from_secs(600)),
            Duration::from_secs(300)
        );
        assert_eq!(
            refresh_delay(Duration::from_secs(120)),
            Duration::from_secs(60)
        );
        assert_eq!(refresh_delay(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn long_token_refreshed_five_minutes_early() {
        let cache = TokenCache::new();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(token(&format!("token-{n}"), 3600))
        };

        let first = cache.get_or_refresh("scope", fetch).await.unwrap();
        assert_eq!(first.token.secret(), "token-0");

        tokio::time::advance(Duration::from_secs(54 * 60)).await;
        let cached = cache.get_or_refresh("scope", fetch).await.unwrap();
        assert_eq!(cached.token.secret(), "token-0");

        tokio::time::advance(Duration::from_secs(2 * 60)).await;
        let refreshed = cache.get_or_refresh("scope", fetch).await.unwrap();
        assert_eq!(refreshed.token.secret(), "token-1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn short_token_refreshed_at_half_life() {
        let cache = TokenCache::new();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(token(&format!("token-{n}"), 120))
        };

        cache.get_or_refresh("scope", fetch).await.unwrap();
        tokio::time::advance(Duration::from_secs(50)).await;
        let cached = cache.get_or_refresh("scope", fetch).await.unwrap();
        assert_eq!(cached.token.secret(), "token-0");

        tokio::time::advance(Duration::from_secs(15)).await;
        let refreshed = cache.get_or_refresh("scope", fetch).await.unwrap();
        assert_eq!(refreshed.token.secret(), "token-1");
    }

    #[tokio::test(start_paused = true)]
    async fn scopes_are_cached_separately() {
        let cache = TokenCache::new();
        let storage = cache
            .get_or_refresh("storage", || async { Ok(token("storage-token", 3600)) })
            .await
            .unwrap();
        let management = cache
            .get_or_refresh("management", || async { Ok(token("arm-token", 3600)) })
            .await
            .unwrap();
        assert_eq!(storage.token.secret(), "storage-token");
        assert_eq!(management.token.secret(), "arm-token");
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let cache = cache.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_refresh("scope", || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Ok(token("shared", 3600))
                    })
                    .await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().token.secret(), "shared");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_refresh_keeps_valid_token() {
        let cache = TokenCache::new();
        cache
            .get_or_refresh("scope", || async { Ok(token("first", 3600)) })
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(56 * 60)).await;

        let failures = AtomicUsize::new(0);
        let failing = || async {
            failures.fetch_add(1, Ordering::SeqCst);
            Err(Error::new(ErrorKind::Unavailable, "token endpoint down"))
        };
        let kept = cache.get_or_refresh("scope", failing).await.unwrap();
        assert_eq!(kept.token.secret(), "first");

        // Within the back-off the failing endpoint is not asked again.
        let kept = cache.get_or_refresh("scope", failing).await.unwrap();
        assert_eq!(kept.token.secret(), "first");
        assert_eq!(failures.load(Ordering::SeqCst), 1);

        // Past expiry the error reaches the caller.
        tokio::time::advance(Duration::from_secs(5 * 60)).await;
        let error = cache.get_or_refresh("scope", failing).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert_eq!(failures.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failure_without_cached_token_is_returned() {
        let cache = TokenCache::new();
        let error = cache
            .get_or_refresh("scope", || async {
                Err(Error::new(ErrorKind::Authentication, "rejected"))
            })
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Authentication);
    }
}
