//! Request routing and the handler of each operation of the in-memory endpoint.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use percent_encoding::percent_decode_str;

use super::store::{Blob, Container, Content, Store, http_date_now};
use super::xml;

/// The response body type of every handler.
pub(super) type Body = BoxBody<Bytes, Infallible>;

const DEFAULT_VERSION: &str = "2025-11-05";
const MAX_LIST_RESULTS: usize = 5000;

/// The parts of a request every handler needs.
struct Call<'a> {
    store: &'a Store,
    port: u16,
    version: String,
    headers: HeaderMap,
    query: Vec<(String, String)>,
}

impl Call<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn response(&self, status: StatusCode) -> http::response::Builder {
        Response::builder()
            .status(status)
            .header("x-ms-request-id", self.store.next_request_id())
            .header("x-ms-version", &self.version)
            .header("date", http_date_now())
            .header("server", "elb-bench-memory")
    }

    fn empty(&self, status: StatusCode) -> Response<Body> {
        self.response(status)
            .header("content-length", "0")
            .body(empty())
            .expect("valid response")
    }

    fn error(&self, status: StatusCode, code: &str, message: &str) -> Response<Body> {
        let body = xml::error(code, message);
        self.response(status)
            .header("x-ms-error-code", code)
            .header("content-type", "application/xml")
            .header("content-length", body.len())
            .body(full(Bytes::from(body)))
            .expect("valid response")
    }
}

fn empty() -> Body {
    Empty::new().boxed()
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).boxed()
}

/// Routes one request to its handler and returns the response.
pub(super) async fn handle(store: &Store, port: u16, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let version = parts
        .headers
        .get("x-ms-version")
        .and_then(|value| value.to_str().ok())
        .unwrap_or(DEFAULT_VERSION)
        .to_owned();
    let call = Call {
        store,
        port,
        version,
        headers: parts.headers,
        query,
    };
    let path = parts.uri.path().trim_start_matches('/');
    let mut segments = path.splitn(3, '/');
    let _account = segments.next().unwrap_or("");
    let container = decode(segments.next().unwrap_or(""));
    let blob = decode(segments.next().unwrap_or(""));

    let restype = call.query("restype").map(str::to_owned);
    let comp = call.query("comp").map(str::to_owned);
    let method = parts.method;
    match (
        method,
        container.is_empty(),
        blob.is_empty(),
        restype.as_deref(),
        comp.as_deref(),
    ) {
        (_, true, _, _, _) => call.error(
            StatusCode::BAD_REQUEST,
            "UnsupportedOperation",
            "account-level requests are not served",
        ),
        (Method::PUT, false, true, Some("container"), None) => create_container(&call, &container),
        (Method::DELETE, false, true, Some("container"), None) => {
            delete_container(&call, &container)
        }
        (Method::GET | Method::HEAD, false, true, Some("container"), None) => {
            container_properties(&call, &container)
        }
        (Method::GET, false, true, Some("container"), Some("list")) => list(&call, &container),
        (Method::PUT, false, false, _, None) => put_blob(&call, &container, &blob, body).await,
        (Method::PUT, false, false, _, Some("block")) => {
            put_block(&call, &container, &blob, body).await
        }
        (Method::PUT, false, false, _, Some("blocklist")) => {
            put_block_list(&call, &container, &blob, body).await
        }
        (Method::GET, false, false, _, None) => get_blob(&call, &container, &blob, false),
        (Method::HEAD, false, false, _, None) => get_blob(&call, &container, &blob, true),
        (Method::DELETE, false, false, _, None) => delete_blob(&call, &container, &blob),
        (method, ..) => {
            eprintln!("memory endpoint: unsupported {method} {}", parts.uri.path());
            call.error(
                StatusCode::BAD_REQUEST,
                "UnsupportedOperation",
                "this operation is not served by the benchmark endpoint",
            )
        }
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) => (decode(key), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

fn create_container(call: &Call<'_>, name: &str) -> Response<Body> {
    let mut containers = call.store.containers.lock().expect("store lock");
    if containers.contains_key(name) {
        return call.error(
            StatusCode::CONFLICT,
            "ContainerAlreadyExists",
            "The specified container already exists.",
        );
    }
    containers.insert(name.to_owned(), Container::default());
    drop(containers);
    call.response(StatusCode::CREATED)
        .header("etag", call.store.next_etag())
        .header("last-modified", http_date_now())
        .header("content-length", "0")
        .body(empty())
        .expect("valid response")
}

fn delete_container(call: &Call<'_>, name: &str) -> Response<Body> {
    let removed = call
        .store
        .containers
        .lock()
        .expect("store lock")
        .remove(name);
    match removed {
        Some(_) => call.empty(StatusCode::ACCEPTED),
        None => container_not_found(call),
    }
}

fn container_properties(call: &Call<'_>, name: &str) -> Response<Body> {
    if !call
        .store
        .containers
        .lock()
        .expect("store lock")
        .contains_key(name)
    {
        return container_not_found(call);
    }
    call.response(StatusCode::OK)
        .header("etag", "\"0x8DD0000000000001\"")
        .header("last-modified", http_date_now())
        .header("x-ms-lease-status", "unlocked")
        .header("x-ms-lease-state", "available")
        .header("content-length", "0")
        .body(empty())
        .expect("valid response")
}

fn container_not_found(call: &Call<'_>) -> Response<Body> {
    call.error(
        StatusCode::NOT_FOUND,
        "ContainerNotFound",
        "The specified container does not exist.",
    )
}

fn blob_not_found(call: &Call<'_>) -> Response<Body> {
    call.error(
        StatusCode::NOT_FOUND,
        "BlobNotFound",
        "The specified blob does not exist.",
    )
}

fn list(call: &Call<'_>, container: &str) -> Response<Body> {
    let prefix = call.query("prefix").unwrap_or("");
    let marker = call.query("marker").unwrap_or("");
    let max_results = call
        .query("maxresults")
        .and_then(|value| value.parse().ok())
        .unwrap_or(MAX_LIST_RESULTS)
        .clamp(1, MAX_LIST_RESULTS);

    let containers = call.store.containers.lock().expect("store lock");
    let Some(entries) = containers.get(container) else {
        drop(containers);
        return container_not_found(call);
    };
    let start = if marker.is_empty() { prefix } else { marker };
    let mut page: Vec<(&String, &Blob)> = entries
        .blobs
        .range(start.to_owned()..)
        .take_while(|(name, _)| name.starts_with(prefix))
        .take(max_results + 1)
        .collect();
    let next_marker = if page.len() > max_results {
        page.pop().map(|(name, _)| name.clone())
    } else {
        None
    };

    let service_endpoint = format!("http://127.0.0.1:{}/{}/", call.port, super::super::ACCOUNT);
    let query = xml::ListQuery {
        service_endpoint: &service_endpoint,
        container,
        prefix,
        marker,
        max_results,
    };
    let body = xml::list_results(&query, &page, next_marker.as_deref());
    drop(containers);
    call.response(StatusCode::OK)
        .header("content-type", "application/xml")
        .header("content-length", body.len())
        .body(full(Bytes::from(body)))
        .expect("valid response")
}

/// Reads a request body as the chunks hyper delivers, without joining them.
async fn read_body(body: Incoming) -> Result<Content, hyper::Error> {
    let mut body = body;
    let mut content = Content::default();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            content.push(data);
        }
    }
    Ok(content)
}

async fn put_blob(call: &Call<'_>, container: &str, name: &str, body: Incoming) -> Response<Body> {
    if call.header("x-ms-blob-type") != Some("BlockBlob") {
        return call.error(
            StatusCode::BAD_REQUEST,
            "InvalidHeaderValue",
            "x-ms-blob-type must be BlockBlob",
        );
    }
    let Ok(content) = read_body(body).await else {
        return call.error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "the body was cut short",
        );
    };
    let md5 = call
        .header("x-ms-blob-content-md5")
        .or_else(|| call.header("content-md5"))
        .map(str::to_owned);
    commit(call, container, name, content, md5)
}

async fn put_block(call: &Call<'_>, container: &str, name: &str, body: Incoming) -> Response<Body> {
    let Some(block_id) = call.query("blockid").map(str::to_owned) else {
        return call.error(
            StatusCode::BAD_REQUEST,
            "MissingRequiredQueryParameter",
            "blockid",
        );
    };
    let Ok(content) = read_body(body).await else {
        return call.error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "the body was cut short",
        );
    };
    let mut containers = call.store.containers.lock().expect("store lock");
    let Some(entries) = containers.get_mut(container) else {
        drop(containers);
        return container_not_found(call);
    };
    entries
        .staged
        .entry(name.to_owned())
        .or_default()
        .insert(block_id, content);
    drop(containers);
    let mut response = call
        .response(StatusCode::CREATED)
        .header("content-length", "0");
    if let Some(md5) = call.header("content-md5") {
        response = response.header("content-md5", md5);
    }
    if let Some(crc) = call.header("x-ms-content-crc64") {
        response = response.header("x-ms-content-crc64", crc);
    }
    response
        .header("x-ms-request-server-encrypted", "true")
        .body(empty())
        .expect("valid response")
}

async fn put_block_list(
    call: &Call<'_>,
    container: &str,
    name: &str,
    body: Incoming,
) -> Response<Body> {
    let Ok(content) = read_body(body).await else {
        return call.error(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "the body was cut short",
        );
    };
    let mut text = Vec::with_capacity(content.len() as usize);
    for chunk in content.slice(0, content.len()) {
        text.extend_from_slice(&chunk);
    }
    let ids = match xml::block_list(&text) {
        Ok(ids) => ids,
        Err(message) => return call.error(StatusCode::BAD_REQUEST, "InvalidXmlDocument", &message),
    };
    let assembled = {
        let mut containers = call.store.containers.lock().expect("store lock");
        let Some(entries) = containers.get_mut(container) else {
            drop(containers);
            return container_not_found(call);
        };
        let staged = entries.staged.remove(name).unwrap_or_default();
        let mut assembled = Content::default();
        for id in &ids {
            match staged.get(id) {
                Some(block) => assembled.extend(block),
                None => {
                    drop(containers);
                    return call.error(
                        StatusCode::BAD_REQUEST,
                        "InvalidBlockList",
                        "The specified block list is invalid.",
                    );
                }
            }
        }
        assembled
    };
    let md5 = call.header("x-ms-blob-content-md5").map(str::to_owned);
    commit(call, container, name, assembled, md5)
}

fn commit(
    call: &Call<'_>,
    container: &str,
    name: &str,
    content: Content,
    md5: Option<String>,
) -> Response<Body> {
    let etag = call.store.next_etag();
    let last_modified = http_date_now();
    let blob = Blob {
        content: Arc::new(content),
        etag: etag.clone(),
        last_modified: last_modified.clone(),
        content_md5: md5.clone(),
        content_type: call
            .header("x-ms-blob-content-type")
            .unwrap_or("application/octet-stream")
            .to_owned(),
    };
    let mut containers = call.store.containers.lock().expect("store lock");
    let Some(entries) = containers.get_mut(container) else {
        drop(containers);
        return container_not_found(call);
    };
    if call.header("if-none-match") == Some("*") && entries.blobs.contains_key(name) {
        drop(containers);
        return call.error(
            StatusCode::CONFLICT,
            "BlobAlreadyExists",
            "The specified blob already exists.",
        );
    }
    entries.blobs.insert(name.to_owned(), blob);
    drop(containers);
    let mut response = call
        .response(StatusCode::CREATED)
        .header("etag", etag)
        .header("last-modified", last_modified)
        .header("x-ms-request-server-encrypted", "true")
        .header("content-length", "0");
    if let Some(md5) = md5 {
        response = response.header("content-md5", md5);
    }
    response.body(empty()).expect("valid response")
}

fn delete_blob(call: &Call<'_>, container: &str, name: &str) -> Response<Body> {
    let mut containers = call.store.containers.lock().expect("store lock");
    let Some(entries) = containers.get_mut(container) else {
        drop(containers);
        return container_not_found(call);
    };
    entries.staged.remove(name);
    let removed = entries.blobs.remove(name);
    drop(containers);
    match removed {
        Some(_) => call.empty(StatusCode::ACCEPTED),
        None => blob_not_found(call),
    }
}

fn get_blob(call: &Call<'_>, container: &str, name: &str, head: bool) -> Response<Body> {
    let blob = {
        let containers = call.store.containers.lock().expect("store lock");
        let Some(entries) = containers.get(container) else {
            drop(containers);
            return container_not_found(call);
        };
        match entries.blobs.get(name) {
            Some(blob) => blob.clone(),
            None => {
                drop(containers);
                return blob_not_found(call);
            }
        }
    };
    if let Some(expected) = call.header("if-match")
        && expected != "*"
        && expected != blob.etag
    {
        return call.error(
            StatusCode::PRECONDITION_FAILED,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met.",
        );
    }

    let len = blob.content.len();
    let range = call
        .header("x-ms-range")
        .or_else(|| call.header("range"))
        .filter(|_| !head)
        .map(|value| parse_range(value, len));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len),
        Some(Some((start, end))) => (StatusCode::PARTIAL_CONTENT, start, end),
        Some(None) => {
            return call.error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
            );
        }
    };

    let mut response = call
        .response(status)
        .header("content-length", end - start)
        .header("content-type", &blob.content_type)
        .header("etag", &blob.etag)
        .header("last-modified", &blob.last_modified)
        .header("x-ms-creation-time", &blob.last_modified)
        .header("x-ms-blob-type", "BlockBlob")
        .header("accept-ranges", "bytes")
        .header("x-ms-lease-status", "unlocked")
        .header("x-ms-lease-state", "available")
        .header("x-ms-server-encrypted", "true");
    if let Some(md5) = &blob.content_md5 {
        let name = if status == StatusCode::OK {
            "content-md5"
        } else {
            "x-ms-blob-content-md5"
        };
        response = response.header(name, md5);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let last = end.saturating_sub(1);
        response = response.header("content-range", format!("bytes {start}-{last}/{len}"));
    }
    if head {
        return response.body(empty()).expect("valid response");
    }
    let chunks = blob.content.slice(start, end);
    let frames = stream::iter(chunks.into_iter().map(|chunk| Ok(Frame::data(chunk))));
    response
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .expect("valid response")
}

/// Parses `bytes=START-END` or `bytes=START-` against a blob of `len` bytes and returns the
/// half-open range, or `None` when it is invalid or starts past the end.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => len,
        last => last.parse::<u64>().ok()?.saturating_add(1).min(len),
    };
    if start >= len || start >= end {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_clamped_to_the_blob() {
        assert_eq!(parse_range("bytes=0-99", 50), Some((0, 50)));
        assert_eq!(parse_range("bytes=10-", 50), Some((10, 50)));
        assert_eq!(parse_range("bytes=10-19", 50), Some((10, 20)));
        assert_eq!(parse_range("bytes=50-60", 50), None);
        assert_eq!(parse_range("items=0-1", 50), None);
    }

    #[test]
    fn queries_are_percent_decoded() {
        let query = parse_query("comp=block&blockid=QUFB%2BQ%3D%3D&empty");
        assert_eq!(query[1], ("blockid".to_owned(), "QUFB+Q==".to_owned()));
        assert_eq!(query[2], ("empty".to_owned(), String::new()));
    }
}
