//! The request pipeline: building, authorizing, sending and retrying one blob request.

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;
use time::macros::format_description;

use super::auth::Authorizer;
use super::client::BlobStore;
use super::retry::is_retryable_status;
use super::status::{error_from_response, error_from_transport, service_error_code};
use crate::{Error, ErrorKind, Result};

/// One request to the Blob service, resent as is on each retry.
#[derive(Clone, Debug)]
pub struct BlobRequest {
    /// A short lowercase name of the operation for logs and errors, such as `put block`.
    pub operation: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The container, or `None` for an account-level request.
    pub container: Option<String>,
    /// The blob name, or `None` for a container-level request.
    pub name: Option<String>,
    /// Query parameters, unencoded (`comp=list`, `restype=container`, `blockid=...`).
    pub query: Vec<(String, String)>,
    /// Request headers besides `x-ms-version`, `x-ms-date`, `Content-Length` and
    /// authorization, which the pipeline sets.
    pub headers: HeaderMap,
    /// The request body; cloning it per attempt copies no data.
    pub body: Bytes,
}

impl BlobRequest {
    /// Creates a request without query, headers or body.
    pub fn new(operation: &'static str, method: Method) -> Self {
        Self {
            operation,
            method,
            container: None,
            name: None,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Sets the container.
    pub fn container(mut self, container: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self
    }

    /// Sets the container and blob name.
    pub fn blob(mut self, container: impl Into<String>, name: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self.name = Some(name.into());
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header; the value must be valid header text.
    ///
    /// # Panics
    ///
    /// Panics when `value` contains characters that a header cannot carry.
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        let value = HeaderValue::from_str(value.as_ref()).expect("valid header value");
        self.headers.insert(HeaderName::from_static(name), value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
}

/// A successful response with its whole body.
#[derive(Clone, Debug)]
pub struct BlobResponse {
    /// The HTTP status, 2xx.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response body.
    pub body: Bytes,
}

impl BlobResponse {
    /// Returns a header as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl BlobStore {
    /// Sends a request with retries and reads the whole response body.
    ///
    /// A body that breaks off or stalls is retried like a failed request.
    ///
    /// # Errors
    ///
    /// Returns the typed error of the last attempt. A non-retryable response fails at once with
    /// its status and `x-ms-error-code`, and a retryable failure fails when retries run out.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the request; the service may still have applied it.
    pub async fn send(&self, request: &BlobRequest) -> Result<BlobResponse> {
        let mut retry = 0;
        loop {
            let response = self.send_counting(request, &mut retry).await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            match response.bytes().await {
                Ok(body) => {
                    return Ok(BlobResponse {
                        status,
                        headers,
                        body,
                    });
                }
                Err(error) => {
                    let error = error_from_transport(request, &self.target(request), error);
                    self.pause_before_retry(request, &mut retry, error).await?;
                }
            }
        }
    }

    /// Sends a request with retries and returns the response once its headers arrived with
    /// a 2xx status; the caller reads the body.
    ///
    /// # Errors
    ///
    /// As [`BlobStore::send`], for the status and headers only.
    ///
    /// # Cancel safety
    ///
    /// As [`BlobStore::send`].
    pub async fn send_streaming(&self, request: &BlobRequest) -> Result<reqwest::Response> {
        let mut retry = 0;
        self.send_counting(request, &mut retry).await
    }

    /// Sends a request with retries counted in `retry`, so a caller that also retries
    /// broken bodies shares one retry budget.
    pub(crate) async fn send_counting(
        &self,
        request: &BlobRequest,
        retry: &mut u32,
    ) -> Result<reqwest::Response> {
        let target = self.target(request);
        let mut token_refreshed = false;
        loop {
            let started = Instant::now();
            let built = self.build(request).await?;
            let timeout = self.inner.options.retry.request_timeout;
            let outcome = tokio::time::timeout(timeout, self.inner.http.execute(built)).await;
            let error = match outcome {
                Err(_) => Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "{} on {target} got no response within {}",
                        request.operation,
                        super::client::format_duration(timeout)
                    ),
                )
                .with_target(target.clone()),
                Ok(Err(error)) => error_from_transport(request, &target, error),
                Ok(Ok(response)) if response.status().is_success() => {
                    tracing::debug!(
                        operation = request.operation,
                        url = %target,
                        status = response.status().as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "blob request succeeded"
                    );
                    return Ok(response);
                }
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = read_error_body(response).await;
                    let error = error_from_response(request, &target, status, &headers, &body);
                    let bearer = matches!(self.inner.authorizer, Authorizer::Bearer(_));
                    if bearer && error.kind() == ErrorKind::Authentication && !token_refreshed {
                        // The cached token may have expired early or been revoked: fetch a
                        // new one and try once more.
                        token_refreshed = true;
                        self.inner.authorizer.invalidate_token();
                        continue;
                    }
                    if !is_retryable(&error) {
                        return Err(error);
                    }
                    error
                }
            };
            self.pause_before_retry(request, retry, error).await?;
        }
    }

    /// Sleeps before the next attempt, or returns `error` when retries are exhausted or the
    /// error is not retryable.
    pub(crate) async fn pause_before_retry(
        &self,
        request: &BlobRequest,
        retry: &mut u32,
        error: Error,
    ) -> Result<()> {
        let options = &self.inner.options.retry;
        if !is_retryable(&error) {
            return Err(error);
        }
        if *retry >= options.max_retries {
            return Err(exhausted(error, options.max_retries));
        }
        let delay = options.delay(*retry, error.retry_after());
        *retry += 1;
        tracing::info!(
            operation = request.operation,
            url = error.target().unwrap_or(""),
            attempt = *retry + 1,
            max_attempts = options.max_retries + 1,
            delay_ms = delay.as_millis() as u64,
            reason = %error,
            "retrying blob request"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Returns the URL of the request's target without a SAS, for errors and logs.
    pub(crate) fn target(&self, request: &BlobRequest) -> String {
        match (&request.container, &request.name) {
            (Some(container), Some(name)) => self.blob_url(container, name),
            (Some(container), None) => self.blob_url(container, ""),
            _ => self.account_url().as_str().trim_end_matches('/').to_owned(),
        }
    }

    async fn build(&self, request: &BlobRequest) -> Result<reqwest::Request> {
        let mut url = self.target(request);
        if !request.query.is_empty() {
            let query: Vec<String> = request
                .query
                .iter()
                .map(|(name, value)| {
                    format!(
                        "{}={}",
                        utf8_percent_encode(name, NON_ALPHANUMERIC),
                        utf8_percent_encode(value, NON_ALPHANUMERIC)
                    )
                })
                .collect();
            url.push('?');
            url.push_str(&query.join("&"));
        }
        let url = url.parse().map_err(|error| {
            Error::invalid_input(format!("cannot build request URL {}", self.target(request)))
                .with_source(error)
        })?;

        let mut built = reqwest::Request::new(request.method.clone(), url);
        let headers = built.headers_mut();
        headers.clone_from(&request.headers);
        headers.insert(
            "x-ms-version",
            header_text(&self.inner.options.service_version)?,
        );
        headers.insert(
            "x-ms-date",
            header_text(&http_date(OffsetDateTime::now_utc()))?,
        );
        let request_id = format!("{:032x}", rand::random::<u128>());
        headers.insert("x-ms-client-request-id", header_text(&request_id)?);

        // Shared Key signs Content-Length, so it is set here instead of by the HTTP client.
        if request.method == Method::PUT || !request.body.is_empty() {
            headers.insert(
                http::header::CONTENT_LENGTH,
                HeaderValue::from(request.body.len()),
            );
        }
        if !request.body.is_empty() {
            *built.body_mut() = Some(reqwest::Body::from(request.body.clone()));
        }

        self.inner.authorizer.authorize(&mut built).await?;
        Ok(built)
    }
}

fn is_retryable(error: &Error) -> bool {
    // Azurite 3.35 returns 500 FeatureNotSupported for a header it does not implement, and
    // no retry changes that.
    if error.code() == Some("FeatureNotSupported") {
        return false;
    }
    match error.status() {
        // A body that the service received damaged is sent again from the same buffer.
        Some(_) if error.kind() == ErrorKind::Integrity => true,
        Some(status) => is_retryable_status(status),
        None => matches!(error.kind(), ErrorKind::Transport | ErrorKind::TimedOut),
    }
}

/// Turns the last retryable error into the error of an operation whose retries ran out.
fn exhausted(error: Error, max_retries: u32) -> Error {
    if matches!(error.status(), Some(429 | 503)) {
        let mut throttled = Error::new(
            ErrorKind::Throttled,
            format!(
                "{} (the service still asked to slow down after {max_retries} retries)",
                error.message()
            ),
        );
        if let Some(target) = error.target() {
            throttled = throttled.with_target(target);
        }
        if let Some(status) = error.status() {
            throttled = throttled.with_status(status);
        }
        if let Some(code) = error.code() {
            throttled = throttled.with_code(code);
        }
        return throttled;
    }
    error
}

async fn read_error_body(response: reqwest::Response) -> Bytes {
    // An error body is small. When it cannot be read, the status and headers still classify
    // the error.
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), response.bytes());
    match read.await {
        Ok(Ok(body)) => body,
        _ => Bytes::new(),
    }
}

fn header_text(text: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(text)
        .map_err(|_| Error::invalid_input(format!("{text:?} is not valid in an HTTP header")))
}

/// Formats a time as an RFC 1123 HTTP date, such as `Fri, 04 Dec 2026 16:00:00 GMT`.
pub(crate) fn http_date(time: OffsetDateTime) -> String {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time.to_offset(time::UtcOffset::UTC)
        .format(format)
        .expect("HTTP date format is valid")
}

/// Returns the `x-ms-error-code` of a response, for callers that inspect a [`BlobResponse`].
pub fn error_code(headers: &HeaderMap) -> Option<&str> {
    service_error_code(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_date_is_rfc1123() {
        assert_eq!(
            http_date(datetime!(2026-12-04 16:05:09 UTC)),
            "Fri, 04 Dec 2026 16:05:09 GMT"
        );
    }
}
