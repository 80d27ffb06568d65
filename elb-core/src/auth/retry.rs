//! Retry settings and backoff delays shared by the token requests of every credential.

use std::time::Duration;

/// Retry settings of a token request that failed with a transient error.
///
/// Delays grow exponentially from `initial_delay`, are capped at `max_delay`, and get up to
/// 20 % random jitter so that many pods do not retry in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryOptions {
    /// The maximum number of retries after the first attempt.
    pub max_retries: u32,
    /// The delay before the first retry.
    pub initial_delay: Duration,
    /// The maximum delay between two attempts, also the cap on a server's `Retry-After`.
    pub max_delay: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryOptions {
    /// Creates options with `max_retries` retries and delays from `initial_delay` up to
    /// `max_delay`.
    pub fn new(max_retries: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_retries,
            initial_delay,
            max_delay,
        }
    }

    /// Returns options that never retry.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Returns the delay before retry number `retry` (0 for the first retry), honouring a
    /// server's `Retry-After` when it is longer, and capped at `max_delay`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self
            .initial_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)));
        let jitter = exponential.mul_f64(rand::random::<f64>() * 0.2);
        let computed = exponential.saturating_add(jitter);
        let chosen = match retry_after {
            Some(requested) if requested > computed => requested,
            _ => computed,
        };
        chosen.min(self.max_delay)
    }
}

/// Parses a `Retry-After` header given in seconds. HTTP dates are ignored because token
/// endpoints send seconds.
pub(crate) fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Returns whether a token endpoint status is worth retrying: throttling and server errors.
pub(crate) fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_and_is_capped() {
        let options = RetryOptions::new(5, Duration::from_millis(100), Duration::from_millis(500));
        let first = options.delay(0, None);
        let second = options.delay(1, None);
        let late = options.delay(10, None);
        assert!(first >= Duration::from_millis(100), "{first:?}");
        assert!(first <= Duration::from_millis(120), "{first:?}");
        assert!(second >= Duration::from_millis(200), "{second:?}");
        assert!(second <= Duration::from_millis(240), "{second:?}");
        assert_eq!(late, Duration::from_millis(500));
    }

    #[test]
    fn delay_honours_longer_retry_after_up_to_cap() {
        let options = RetryOptions::new(5, Duration::from_millis(100), Duration::from_secs(2));
        assert_eq!(
            options.delay(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            options.delay(0, Some(Duration::from_secs(60))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn transient_statuses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient_status(status), "{status} is transient");
        }
        for status in [200, 400, 401, 403, 404, 410] {
            assert!(!is_transient_status(status), "{status} is not transient");
        }
    }
}
