//! The retry rules of managed identity endpoints, as pure decisions.

use std::time::Duration;

/// Retry settings of the managed identity credential, following the IMDS error-handling
/// guidance.
///
/// `410 Gone` (the endpoint is being updated) is retried for up to about 70 seconds. `429`,
/// `404` and `5xx` are retried with exponential backoff up to `max_retries` times. `400`,
/// `401` and `403` are never retried. Unreachable endpoints are not retried either, so a
/// chain moves on within `connect_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagedIdentityRetry {
    /// The maximum number of retries of `429`, `404` and `5xx` responses.
    pub max_retries: u32,
    /// The delay before the first retry; later delays double.
    pub initial_delay: Duration,
    /// The maximum delay between two attempts.
    pub max_delay: Duration,
    /// How long `410 Gone` responses are retried, counted from the first request.
    pub gone_window: Duration,
    /// The connect timeout of each request; past it the endpoint counts as unreachable.
    pub connect_timeout: Duration,
}

impl Default for ManagedIdentityRetry {
    fn default() -> Self {
        Self {
            max_retries: 5,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            gone_window: Duration::from_secs(70),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// The next step after a failed response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryDecision {
    /// Wait this long, then send the request again.
    RetryAfter(Duration),
    /// Return the error.
    Stop,
}

impl ManagedIdentityRetry {
    /// Returns options with tiny delays and windows, for tests against loopback servers.
    pub fn fast() -> Self {
        Self {
            max_retries: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            gone_window: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(1),
        }
    }

    /// Decides whether to retry after `status`, given the retries already made and the time
    /// since the first request.
    pub(crate) fn decide(
        &self,
        status: u16,
        retries: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> RetryDecision {
        let backoff = self
            .initial_delay
            .saturating_mul(2u32.saturating_pow(retries.min(16)))
            .min(self.max_delay);
        match status {
            410 => {
                let Some(remaining) = self.gone_window.checked_sub(elapsed) else {
                    return RetryDecision::Stop;
                };
                if remaining.is_zero() {
                    return RetryDecision::Stop;
                }
                RetryDecision::RetryAfter(backoff.min(remaining))
            }
            404 | 429 | 500..=599 if retries < self.max_retries => {
                let delay = match retry_after {
                    Some(requested) if requested > backoff => requested.min(self.max_delay),
                    _ => backoff,
                };
                RetryDecision::RetryAfter(delay)
            }
            _ => RetryDecision::Stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ManagedIdentityRetry {
        ManagedIdentityRetry {
            max_retries: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            gone_window: Duration::from_secs(70),
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn client_errors_are_not_retried() {
        for status in [400, 401, 403] {
            assert_eq!(
                policy().decide(status, 0, Duration::ZERO, None),
                RetryDecision::Stop,
                "{status}"
            );
        }
    }

    #[test]
    fn transient_errors_back_off_until_limit() {
        let policy = policy();
        for status in [404, 429, 500, 503] {
            assert_eq!(
                policy.decide(status, 0, Duration::ZERO, None),
                RetryDecision::RetryAfter(Duration::from_secs(1))
            );
            assert_eq!(
                policy.decide(status, 2, Duration::ZERO, None),
                RetryDecision::RetryAfter(Duration::from_secs(4))
            );
            assert_eq!(
                policy.decide(status, 3, Duration::ZERO, None),
                RetryDecision::Stop
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_cap() {
        let policy = policy();
        assert_eq!(
            policy.decide(429, 0, Duration::ZERO, Some(Duration::from_secs(5))),
            RetryDecision::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            policy.decide(429, 0, Duration::ZERO, Some(Duration::from_secs(600))),
            RetryDecision::RetryAfter(Duration::from_secs(8))
        );
    }

    #[test]
    fn gone_is_retried_within_window_only() {
        let policy = policy();
        // Past max_retries, 410 is still retried while the window lasts.
        assert_eq!(
            policy.decide(410, 10, Duration::from_secs(30), None),
            RetryDecision::RetryAfter(Duration::from_secs(8))
        );
        assert_eq!(
            policy.decide(410, 10, Duration::from_secs(67), None),
            RetryDecision::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            policy.decide(410, 10, Duration::from_secs(70), None),
            RetryDecision::Stop
        );
    }
}
