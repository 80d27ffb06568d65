//! Fault rules: which requests a rule selects and what the proxy does to them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the proxy does to a request that a rule selects.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Responds with `status`, `x-ms-error-code: error_code` and an XML error body like Azure
    /// Storage's, without forwarding the request; `retry_after` seconds go in `Retry-After`.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The service error code, such as `ServerBusy` or `InternalError`.
        error_code: String,
        /// The value of the `Retry-After` header in seconds, if any.
        retry_after: Option<u64>,
    },
    /// Forwards the request, sends the upstream status, headers and about half of the body,
    /// then resets the TCP connection (`SO_LINGER` 0, so the client sees a reset).
    ResetMidBody,
    /// Forwards the request, sends the upstream status and headers with the full
    /// `Content-Length`, then closes the connection after about half of the body.
    TruncatedBody,
    /// Holds the request for the given time, then forwards it.
    Stall(Duration),
    /// Resets the TCP connection without forwarding the request or sending a response.
    ResetBeforeResponse,
    /// Forwards the request with the first byte of its body inverted and every header,
    /// `Content-Length` and checksums included, unchanged, as if the body was damaged on the
    /// way. An empty body passes unchanged.
    CorruptRequestBody,
}

impl Fault {
    /// Creates a [`Fault::Status`] without `Retry-After`.
    pub fn status(status: u16, error_code: impl Into<String>) -> Self {
        Self::Status {
            status,
            error_code: error_code.into(),
            retry_after: None,
        }
    }

    /// Creates a 503 `ServerBusy` response with `Retry-After: retry_after_secs`.
    pub fn server_busy(retry_after_secs: u64) -> Self {
        Self::Status {
            status: 503,
            error_code: "ServerBusy".to_string(),
            retry_after: Some(retry_after_secs),
        }
    }

    /// Creates a 500 `InternalError` response.
    pub fn internal_error() -> Self {
        Self::status(500, "InternalError")
    }
}

/// Which of the requests that pass a matcher's filters it selects.
#[derive(Clone, Debug)]
enum Selection {
    Every,
    Nth(u64),
    FirstN(u64),
    Share { share: f64, rng: Box<StdRng> },
}

/// Selects requests by method, path and query, then by position or by a seeded share.
///
/// A request matches when it passes all the filters (method, path substring, query
/// substring). The selection then decides which matches get the fault.
#[derive(Clone, Debug)]
pub struct Matcher {
    method: Option<http::Method>,
    path_contains: Option<String>,
    query_contains: Option<String>,
    header_present: Option<http::HeaderName>,
    selection: Selection,
}

impl Matcher {
    /// Creates a matcher that selects every request.
    pub fn any() -> Self {
        Self {
            method: None,
            path_contains: None,
            query_contains: None,
            header_present: None,
            selection: Selection::Every,
        }
    }

    /// Keeps only requests with this HTTP method.
    pub fn method(mut self, method: http::Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Keeps only requests whose path contains `text` (the path as sent, percent-encoded).
    pub fn path_contains(mut self, text: impl Into<String>) -> Self {
        self.path_contains = Some(text.into());
        self
    }

    /// Keeps only requests whose query string contains `text`, such as `comp=block`.
    pub fn query_contains(mut self, text: impl Into<String>) -> Self {
        self.query_contains = Some(text.into());
        self
    }

    /// Keeps only requests that carry the header `name`, such as `x-ms-content-crc64`.
    ///
    /// # Panics
    ///
    /// Panics when `name` is not a valid header name.
    pub fn header_present(mut self, name: &str) -> Self {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|_| panic!("Matcher::header_present got an invalid name {name:?}"));
        self.header_present = Some(name);
        self
    }

    /// Selects only the `n`th matching request, counting from 1.
    ///
    /// # Panics
    ///
    /// Panics when `n` is 0.
    pub fn nth(mut self, n: u64) -> Self {
        assert!(n >= 1, "Matcher::nth counts from 1, got 0");
        self.selection = Selection::Nth(n);
        self
    }

    /// Selects the first `n` matching requests. With `n` = 0 the rule selects nothing and
    /// only counts the requests that pass its filters ([`RuleHandle::requests_matched`]).
    pub fn first(mut self, n: u64) -> Self {
        self.selection = Selection::FirstN(n);
        self
    }

    /// Selects each matching request with probability `share`, drawn from a random number
    /// generator seeded with `seed`, so the same seed selects the same positions.
    ///
    /// # Panics
    ///
    /// Panics when `share` is not within 0..=1.
    pub fn share(mut self, share: f64, seed: u64) -> Self {
        assert!(
            (0.0..=1.0).contains(&share),
            "Matcher::share takes a share within 0..=1, got {share}"
        );
        self.selection = Selection::Share {
            share,
            rng: Box::new(StdRng::seed_from_u64(seed)),
        };
        self
    }

    fn passes_filters(
        &self,
        method: &http::Method,
        path: &str,
        query: &str,
        headers: &http::HeaderMap,
    ) -> bool {
        let method_ok = self
            .method
            .as_ref()
            .is_none_or(|expected| expected == method);
        let path_ok = self
            .path_contains
            .as_deref()
            .is_none_or(|text| path.contains(text));
        let query_ok = self
            .query_contains
            .as_deref()
            .is_none_or(|text| query.contains(text));
        let header_ok = self
            .header_present
            .as_ref()
            .is_none_or(|name| headers.contains_key(name));
        method_ok && path_ok && query_ok && header_ok
    }

    /// Decides whether the match at 1-based `position` is selected.
    fn selects(&mut self, position: u64) -> bool {
        match &mut self.selection {
            Selection::Every => true,
            Selection::Nth(n) => position == *n,
            Selection::FirstN(n) => position <= *n,
            Selection::Share { share, rng } => rng.random::<f64>() < *share,
        }
    }
}

/// A matcher with the fault it injects.
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub(crate) matcher: Matcher,
    pub(crate) fault: Fault,
}

impl FaultRule {
    /// Creates a rule that injects `fault` into the requests `matcher` selects.
    pub fn new(matcher: Matcher, fault: Fault) -> Self {
        Self { matcher, fault }
    }
}

#[derive(Debug, Default)]
struct RuleCounters {
    matched: AtomicU64,
    injected: AtomicU64,
}

/// Counters of one rule added to a proxy; they keep counting until the rule is cleared.
#[derive(Clone, Debug)]
pub struct RuleHandle {
    counters: Arc<RuleCounters>,
}

impl RuleHandle {
    /// Returns how many requests passed the rule's filters while an earlier rule did not
    /// take them.
    pub fn requests_matched(&self) -> u64 {
        self.counters.matched.load(Ordering::SeqCst)
    }

    /// Returns how many faults the rule injected.
    pub fn faults_injected(&self) -> u64 {
        self.counters.injected.load(Ordering::SeqCst)
    }
}

/// The ordered rules of a proxy; the first rule that selects a request decides its fault.
#[derive(Debug, Default)]
pub(crate) struct RuleSet {
    rules: Vec<(FaultRule, Arc<RuleCounters>)>,
}

impl RuleSet {
    pub(crate) fn add(&mut self, rule: FaultRule) -> RuleHandle {
        let counters = Arc::new(RuleCounters::default());
        self.rules.push((rule, counters.clone()));
        RuleHandle { counters }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// Returns the fault for a request, counting it for every rule it reaches.
    ///
    /// Rules after the one that selects the request do not see it, so their positions and
    /// random draws do not advance.
    pub(crate) fn decide(
        &mut self,
        method: &http::Method,
        path: &str,
        query: &str,
        headers: &http::HeaderMap,
    ) -> Option<Fault> {
        for (rule, counters) in &mut self.rules {
            if !rule.matcher.passes_filters(method, path, query, headers) {
                continue;
            }
            let position = counters.matched.fetch_add(1, Ordering::SeqCst) + 1;
            if rule.matcher.selects(position) {
                counters.injected.fetch_add(1, Ordering::SeqCst);
                return Some(rule.fault.clone());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn decide_many(rules: &mut RuleSet, count: usize) -> Vec<bool> {
        (0..count)
            .map(|_| {
                rules
                    .decide(&Method::GET, "/a/b", "", &HeaderMap::new())
                    .is_some()
            })
            .collect()
    }

    #[test]
    fn nth_selects_one_position() {
        let mut rules = RuleSet::default();
        let handle = rules.add(FaultRule::new(
            Matcher::any().nth(3),
            Fault::internal_error(),
        ));
        assert_eq!(
            decide_many(&mut rules, 5),
            [false, false, true, false, false]
        );
        assert_eq!(handle.requests_matched(), 5);
        assert_eq!(handle.faults_injected(), 1);
    }

    #[test]
    fn first_selects_leading_positions() {
        let mut rules = RuleSet::default();
        rules.add(FaultRule::new(
            Matcher::any().first(2),
            Fault::internal_error(),
        ));
        assert_eq!(decide_many(&mut rules, 4), [true, true, false, false]);
    }

    #[test]
    fn filters_must_all_pass() {
        let mut rules = RuleSet::default();
        let matcher = Matcher::any()
            .method(Method::PUT)
            .path_contains("/c/blob")
            .query_contains("comp=block");
        let handle = rules.add(FaultRule::new(matcher, Fault::internal_error()));
        let cases = [
            (Method::PUT, "/acct/c/blob", "comp=block&blockid=AA", true),
            (Method::GET, "/acct/c/blob", "comp=block&blockid=AA", false),
            (Method::PUT, "/acct/c/other", "comp=block", false),
            (Method::PUT, "/acct/c/blob", "comp=blocklist", true),
            (Method::PUT, "/acct/c/blob", "", false),
        ];
        for (method, path, query, expected) in cases {
            let selected = rules
                .decide(&method, path, query, &HeaderMap::new())
                .is_some();
            assert_eq!(selected, expected, "{method} {path}?{query}");
        }
        assert_eq!(handle.requests_matched(), 2);
    }

    #[test]
    fn header_filter_and_counting_rule() {
        let mut rules = RuleSet::default();
        let counter = rules.add(FaultRule::new(
            Matcher::any().header_present("x-ms-content-crc64").first(0),
            Fault::internal_error(),
        ));
        let mut with_crc = HeaderMap::new();
        with_crc.insert(
            "x-ms-content-crc64",
            HeaderValue::from_static("AAAAAAAAAAA="),
        );
        let mut with_md5 = HeaderMap::new();
        with_md5.insert(
            "content-md5",
            HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAA=="),
        );
        assert_eq!(rules.decide(&Method::PUT, "/a/b", "", &with_crc), None);
        assert_eq!(rules.decide(&Method::PUT, "/a/b", "", &with_md5), None);
        assert_eq!(rules.decide(&Method::PUT, "/a/b", "", &with_crc), None);
        assert_eq!(counter.requests_matched(), 2);
        assert_eq!(counter.faults_injected(), 0);
    }

    #[test]
    fn share_is_reproducible_with_seed() {
        let run = |seed| {
            let mut rules = RuleSet::default();
            rules.add(FaultRule::new(
                Matcher::any().share(0.3, seed),
                Fault::internal_error(),
            ));
            decide_many(&mut rules, 200)
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        let selected = first.iter().filter(|selected| **selected).count();
        assert!((20..=100).contains(&selected), "selected {selected} of 200");
    }

    #[test]
    fn earlier_rule_takes_precedence() {
        let mut rules = RuleSet::default();
        rules.add(FaultRule::new(
            Matcher::any().first(1),
            Fault::internal_error(),
        ));
        let second = rules.add(FaultRule::new(Matcher::any(), Fault::server_busy(1)));
        assert_eq!(
            rules.decide(&Method::GET, "/", "", &HeaderMap::new()),
            Some(Fault::internal_error())
        );
        assert_eq!(
            rules.decide(&Method::GET, "/", "", &HeaderMap::new()),
            Some(Fault::server_busy(1))
        );
        assert_eq!(second.requests_matched(), 1);
    }

    #[test]
    fn cleared_rules_select_nothing() {
        let mut rules = RuleSet::default();
        rules.add(FaultRule::new(Matcher::any(), Fault::internal_error()));
        rules.clear();
        assert_eq!(rules.decide(&Method::GET, "/", "", &HeaderMap::new()), None);
    }

    #[test]
    #[should_panic(expected = "within 0..=1")]
    fn share_above_one_panics() {
        let _ = Matcher::any().share(1.5, 0);
    }
}
