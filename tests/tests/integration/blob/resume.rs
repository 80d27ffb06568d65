//! Ranged downloads against a loopback server that records every request's range: a body
//! that stalls mid-range is resumed at the first missing byte, under the first ETag.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::blob_support::*;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, DownloadOptions, RetryOptions};
use elb_test_servers::serve::serve;
use futures::StreamExt;

const ETAG: &str = "\"0x8DEADBEEF\"";

/// The blob content and what the server saw.
struct Blob {
    data: Bytes,
    requests: Mutex<Vec<(String, Option<String>)>>,
    /// The range start whose first response stalls after `stall_after` bytes.
    stall_start: u64,
    stall_after: usize,
}

async fn get_blob(State(blob): State<Arc<Blob>>, headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let range = header("x-ms-range").expect("every request is ranged");
    let if_match = header("if-match");
    let first_time = {
        let mut requests = blob.requests.lock().unwrap();
        let seen = requests.iter().any(|(seen, _)| *seen == range);
        requests.push((range.clone(), if_match));
        !seen
    };

    let (start, end) = range
        .strip_prefix("bytes=")
        .and_then(|span| span.split_once('-'))
        .map(|(start, end)| (start.parse::<u64>().unwrap(), end.parse::<u64>().unwrap()))
        .unwrap();
    let end = end.min(blob.data.len() as u64 - 1);
    let slice = blob.data.slice(start as usize..=end as usize);
    let body = if start == blob.stall_start && first_time {
        let head = slice.slice(..blob.stall_after);
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(head) })
            .chain(futures::stream::pending());
        Body::from_stream(stream)
    } else {
        Body::from(slice.clone())
    };
    let md5 = base64_md5(&blob.data);
    Response::builder()
        .status(StatusCode::PARTIAL_CONTENT)
        .header("content-length", slice.len())
        .header(
            "content-range",
            format!("bytes {start}-{end}/{}", blob.data.len()),
        )
        .header("etag", ETAG)
        .header("x-ms-blob-content-md5", md5)
        .body(body)
        .unwrap()
}

fn base64_md5(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5_bytes(data))
}

#[tokio::test]
async fn stalled_body_resumes_at_missing_offset() {
    let data = Bytes::from(
        (0..1_000_000u32)
            .map(|i| (i % 241) as u8)
            .collect::<Vec<u8>>(),
    );
    let blob = Arc::new(Blob {
        data: data.clone(),
        requests: Mutex::new(Vec::new()),
        stall_start: 262_144,
        stall_after: 100_000,
    });
    let router = Router::new()
        .route("/devstoreaccount1/results/{*name}", get(get_blob))
        .with_state(blob.clone());
    let server = serve(router, None).await.unwrap();

    let options = BlobOptions {
        retry: RetryOptions {
            stall_timeout: Duration::from_millis(500),
            ..short_retries()
        },
        ..BlobOptions::default()
    };
    let endpoint = format!("{}/devstoreaccount1", server.url());
    let store = BlobStore::new(&endpoint, BlobAuth::Anonymous, options).unwrap();
    let download = DownloadOptions {
        range_size: 262_144,
        concurrency: 1,
        ..DownloadOptions::default()
    };
    let (copy, report) = store
        .download_bytes("results", "a/b.out", &download)
        .await
        .unwrap();
    assert_eq!(copy, data);
    assert!(report.verified);
    assert_eq!(report.etag, ETAG);

    let requests = blob.requests.lock().unwrap().clone();
    let ranges: Vec<&str> = requests.iter().map(|(range, _)| range.as_str()).collect();
    assert_eq!(
        ranges,
        [
            "bytes=0-262143",
            "bytes=262144-524287",
            // 100,000 bytes of the stalled range arrived, so only the rest is requested.
            "bytes=362144-524287",
            "bytes=524288-786431",
            "bytes=786432-999999",
        ]
    );
    // The first request learns the ETag; every later one is pinned to it.
    assert_eq!(requests[0].1, None);
    for (range, if_match) in &requests[1..] {
        assert_eq!(if_match.as_deref(), Some(ETAG), "{range}");
    }
}
