//! Handling one proxied request: deciding its fault, forwarding it upstream with streamed
//! bodies, and shaping the response the fault calls for.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};

use super::rule::{Fault, RuleSet};
use super::stream::ResetFlag;

/// The body type of every proxy response.
pub(crate) type ProxyBody = BoxBody<Bytes, io::Error>;

/// How long a cut body waits after its last bytes before ending the connection. The pause
/// lets hyper and the kernel send those bytes, because a reset discards unsent data.
const FLUSH_PAUSE: Duration = Duration::from_millis(200);

/// Hop-by-hop headers, which describe one connection and must not be forwarded.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// The state shared by all connections of one proxy.
pub(crate) struct ProxyState {
    pub(crate) upstream: String,
    pub(crate) client: reqwest::Client,
    pub(crate) rules: Mutex<RuleSet>,
    pub(crate) requests_seen: AtomicU64,
    pub(crate) faults_injected: AtomicU64,
}

/// Handles one request from a client; an error makes hyper close the connection.
pub(crate) async fn handle(
    state: &ProxyState,
    reset: ResetFlag,
    request: Request<Incoming>,
) -> io::Result<Response<ProxyBody>> {
    state.requests_seen.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let fault = state.rules.lock().expect("rule lock").decide(
        request.method(),
        &path,
        &query,
        request.headers(),
    );
    if fault.is_some() {
        state.faults_injected.fetch_add(1, Ordering::SeqCst);
    }
    tracing::debug!(method = %request.method(), %path, ?fault, "fault proxy request");

    match fault {
        None => forward(state, request, false).await,
        Some(Fault::Stall(duration)) => {
            tokio::time::sleep(duration).await;
            forward(state, request, false).await
        }
        Some(Fault::CorruptRequestBody) => forward(state, request, true).await,
        Some(Fault::Status {
            status,
            error_code,
            retry_after,
        }) => {
            drain(request.into_body()).await;
            Ok(error_response(status, &error_code, retry_after))
        }
        Some(Fault::ResetBeforeResponse) => {
            reset.set();
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "fault proxy resets the connection before the response",
            ))
        }
        Some(Fault::ResetMidBody) => {
            let response = forward(state, request, false).await?;
            cut_body(response, Some(reset)).await
        }
        Some(Fault::TruncatedBody) => {
            let response = forward(state, request, false).await?;
            cut_body(response, None).await
        }
    }
}

/// Forwards the request upstream, streaming both bodies, with the first byte of the request
/// body inverted when `corrupt` is set. An unreachable upstream gives 502.
async fn forward(
    state: &ProxyState,
    request: Request<Incoming>,
    corrupt: bool,
) -> io::Result<Response<ProxyBody>> {
    let (parts, body) = request.into_parts();
    let body = if corrupt {
        reqwest::Body::wrap_stream(invert_first_byte(body))
    } else {
        reqwest::Body::wrap(body)
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|value| value.as_str())
        .unwrap_or("/");
    let url = format!("{}{path_and_query}", state.upstream);
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    // reqwest sets Host from the upstream URL.
    headers.remove(header::HOST);

    let upstream = state
        .client
        .request(parts.method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, %url, "fault proxy failed to reach upstream");
            let message = format!("fault proxy failed to reach upstream {url}: {error}");
            return Ok(plain_response(502, message));
        }
    };

    let mut response = Response::builder().status(upstream.status());
    let mut headers = upstream.headers().clone();
    strip_hop_by_hop(&mut headers);
    if let Some(target) = response.headers_mut() {
        *target = headers;
    }
    let stream = upstream.bytes_stream().map_err(io::Error::other);
    let body = BodyExt::boxed(StreamBody::new(stream.map_ok(Frame::data)));
    response.body(body).map_err(io::Error::other)
}

/// Streams a request body with its first byte inverted. The `Content-Length` header, which
/// is forwarded, keeps the length the same.
fn invert_first_byte(body: Incoming) -> impl Stream<Item = Result<Bytes, hyper::Error>> {
    let mut inverted = false;
    body.into_data_stream().map_ok(move |chunk| {
        if inverted || chunk.is_empty() {
            return chunk;
        }
        inverted = true;
        let mut copy = BytesMut::from(&chunk[..]);
        copy[0] ^= 0xff;
        copy.freeze()
    })
}

/// Keeps about half of a response body and then ends the stream with an error, which makes
/// hyper drop the connection: a reset when `reset` is given, a close otherwise.
///
/// The `Content-Length` header keeps the full length, so the client sees a short body.
async fn cut_body(
    response: Response<ProxyBody>,
    reset: Option<ResetFlag>,
) -> io::Result<Response<ProxyBody>> {
    let (mut parts, body) = response.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let (keep, stream): (u64, BodyStream) = match declared {
        Some(length) => (length / 2, Box::pin(body.into_data_stream())),
        None => {
            // NOTE: a body without Content-Length is read whole here to learn its length.
            let whole = body.collect().await?.to_bytes();
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(whole.len()));
            let keep = whole.len() as u64 / 2;
            (keep, Box::pin(futures::stream::iter([Ok(whole)])))
        }
    };
    let cut = CutStream {
        inner: stream,
        remaining: keep,
    };
    let ending = futures::stream::once(async move {
        tokio::time::sleep(FLUSH_PAUSE).await;
        if let Some(reset) = reset {
            reset.set();
        }
        Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "fault proxy ends the body early",
        ))
    });
    let body = BodyExt::boxed(StreamBody::new(cut.chain(ending).map_ok(Frame::data)));
    Ok(Response::from_parts(parts, body))
}

type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + Sync>>;

/// Passes through the first `remaining` bytes of a stream, then ends.
struct CutStream {
    inner: BodyStream,
    remaining: u64,
}

impl Stream for CutStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(mut chunk))) => {
                if chunk.len() as u64 > self.remaining {
                    chunk.truncate(self.remaining as usize);
                }
                self.remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}

/// Reads and discards a request body, so that the client can finish sending it and read
/// the response instead of failing on a closed connection.
async fn drain(mut body: Incoming) {
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            return;
        }
    }
}

/// Builds an error response the way Azure Storage sends one: `x-ms-error-code` and an XML
/// body with `Code` and `Message`.
fn error_response(status: u16, error_code: &str, retry_after: Option<u64>) -> Response<ProxyBody> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{error_code}</Code>\
         <Message>Fault injected by the elb test proxy.</Message></Error>"
    );
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/xml")
        .header("x-ms-error-code", error_code)
        .header("x-ms-request-id", "00000000-0000-0000-0000-00000000fa17");
    if let Some(seconds) = retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds);
    }
    builder
        .body(full(body))
        .unwrap_or_else(|error| plain_response(500, format!("invalid fault response: {error}")))
}

fn plain_response(status: u16, message: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(message));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    response
}

fn full(text: String) -> ProxyBody {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}

/// Removes the hop-by-hop headers, including those that the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in &named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-trace"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-trace", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-ms-version", HeaderValue::from_static("2025-11-05"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10"));

        strip_hop_by_hop(&mut headers);

        let mut left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-length", "x-ms-version"]);
    }
}
