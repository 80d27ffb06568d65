//! Retry policy: which failures are retried, and how long to wait between attempts.

use std::time::Duration;

use http::HeaderMap;
use rand::Rng;

/// Retry, timeout and deadline settings of a [`BlobStore`](super::BlobStore).
///
/// Retried: HTTP 408, 429, 500, 502, 503 and 504, a 400 whose error code reports that the
/// request body did not match its checksum (`Md5Mismatch`, `Crc64Mismatch`), connection
/// failures and resets, bodies that end early, and timeouts. Every other status fails at once, and so does a 500
/// with the error code `FeatureNotSupported`.
#[derive(Clone, Debug)]
pub struct RetryOptions {
    /// Maximum number of retries after the first attempt of one request.
    pub max_retries: u32,
    /// Delay before the first retry; each further retry doubles it, up to `max_delay`.
    pub initial_delay: Duration,
    /// Maximum delay between two attempts, unless the service requests a longer one.
    pub max_delay: Duration,
    /// Maximum time to establish a connection.
    pub connect_timeout: Duration,
    /// Maximum time from sending a request (including its body) to the response headers.
    pub request_timeout: Duration,
    /// Maximum time without any progress while reading a response body.
    pub stall_timeout: Duration,
    /// Maximum duration of one public operation (an upload, a download, a delete),
    /// retries included; `None` for no limit.
    pub deadline: Option<Duration>,
}

impl Default for RetryOptions {
    fn default() -> Self {
        Self {
            max_retries: 10,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            stall_timeout: Duration::from_secs(30),
            deadline: None,
        }
    }
}

impl RetryOptions {
    /// Returns the delay before retry number `retry` (0 for the first retry).
    ///
    /// The delay is the exponential backoff with jitter: a random value between half and all
    /// of `initial_delay * 2^retry`, capped at `max_delay`. A delay the service asked for
    /// (`Retry-After` or `x-ms-retry-after-ms`) replaces it when longer.
    pub fn delay(&self, retry: u32, requested: Option<Duration>) -> Duration {
        let exponential = self
            .initial_delay
            .saturating_mul(2u32.saturating_pow(retry.min(20)))
            .min(self.max_delay);
        let half = exponential / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..=half)
        };
        let backoff = half + jitter;
        match requested {
            Some(requested) if requested > backoff => requested,
            _ => backoff,
        }
    }
}

/// Returns true for the HTTP statuses that are retried.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Reads the delay the service asked for: `x-ms-retry-after-ms` (milliseconds) or
/// `Retry-After` (seconds). HTTP dates in `Retry-After` are ignored.
pub(crate) fn requested_delay(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(millis) = header("x-ms-retry-after-ms").and_then(|v| v.trim().parse().ok()) {
        return Some(Duration::from_millis(millis));
    }
    header("retry-after")
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn delay_grows_and_is_capped() {
        let options = RetryOptions {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryOptions::default()
        };
        for _ in 0..50 {
            let first = options.delay(0, None);
            assert!(first >= Duration::from_millis(50), "{first:?}");
            assert!(first <= Duration::from_millis(100), "{first:?}");
            let third = options.delay(2, None);
            assert!(third >= Duration::from_millis(200), "{third:?}");
            assert!(third <= Duration::from_millis(400), "{third:?}");
            let late = options.delay(30, None);
            assert!(late >= Duration::from_millis(500), "{late:?}");
            assert!(late <= Duration::from_secs(1), "{late:?}");
        }
    }

    #[test]
    fn requested_delay_wins_when_longer() {
        let options = RetryOptions {
            initial_delay: Duration::from_millis(10),
            ..RetryOptions::default()
        };
        assert_eq!(
            options.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert!(options.delay(0, Some(Duration::from_millis(1))) >= Duration::from_millis(5));
    }

    #[test]
    fn requested_delay_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(requested_delay(&headers), Some(Duration::from_secs(2)));
        headers.insert("x-ms-retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(requested_delay(&headers), Some(Duration::from_millis(250)));
        let mut date = HeaderMap::new();
        date.insert(
            "retry-after",
            HeaderValue::from_static("Fri, 04 Dec 2026 16:00:00 GMT"),
        );
        assert_eq!(requested_delay(&date), None);
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 409, 412, 416, 501] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
