//! The fault-injection proxy, in front of a small axum upstream and in front of Azurite.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::{any, get};
use elb_test_servers::azurite::{Azurite, AzuriteMode};
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use elb_test_servers::serve::{ServerHandle, serve};
use elb_test_servers::tls::TestCa;
use futures::StreamExt;
use http::Method;
use tokio::sync::oneshot;

const BODY_LEN: usize = 1 << 20;

/// Builds one MiB with every byte value, so a lost or reordered chunk shows.
fn payload() -> Vec<u8> {
    (0..BODY_LEN).map(|i| (i % 251) as u8).collect()
}

/// An upstream that serves the payload at `/data`, echoes request bodies at `/echo`
/// (with the method and query in headers) and returns `hello` at `/hello`.
async fn upstream() -> ServerHandle {
    let router = Router::new()
        .route("/data", get(|| async { payload() }))
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/echo",
            any(|request: Request| async move {
                let method = request.method().to_string();
                let query = request.uri().query().unwrap_or("").to_string();
                let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .unwrap();
                ([("x-echo-method", method), ("x-echo-query", query)], body)
            }),
        );
    serve(router, None).await.unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get_hello(client: &reqwest::Client, proxy: &FaultProxy) -> reqwest::Response {
    client
        .get(format!("{}/hello", proxy.url()))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pass_through_keeps_bodies_exact() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    let client = client();

    let downloaded = client
        .get(format!("{}/data", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.content_length(), Some(BODY_LEN as u64));
    assert!(downloaded.bytes().await.unwrap()[..] == payload()[..]);

    let echoed = client
        .put(format!("{}/echo?comp=block&blockid=QQ%3D%3D", proxy.url()))
        .body(payload())
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), 200);
    assert_eq!(echoed.headers()["x-echo-method"], "PUT");
    assert_eq!(
        echoed.headers()["x-echo-query"],
        "comp=block&blockid=QQ%3D%3D"
    );
    assert!(echoed.bytes().await.unwrap()[..] == payload()[..]);
    assert_eq!(proxy.requests_seen(), 2);
    assert_eq!(proxy.faults_injected(), 0);
}

/// The size of each half of a body in the streaming tests.
const HALF: usize = 256 * 1024;

/// The maximum time a streaming test waits; a proxy that buffers whole bodies waits forever.
const STREAM_TIMEOUT: Duration = Duration::from_secs(20);

/// Builds a body stream that yields one half, waits for `gate`, then yields the other half.
fn gated_halves(
    gate: oneshot::Receiver<()>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    futures::stream::unfold((0u8, Some(gate)), |(half, gate)| async move {
        match half {
            0 => Some((Ok(vec![0u8; HALF]), (1, gate))),
            1 => {
                if let Some(gate) = gate {
                    gate.await.ok()?;
                }
                Some((Ok(vec![1u8; HALF]), (2, None)))
            }
            _ => None,
        }
    })
}

#[tokio::test]
async fn upload_streams_before_body_ends() {
    // The client sends its second half only after the upstream has received the first, so a
    // proxy that read the whole request body before forwarding would never finish.
    let (seen_sender, seen_receiver) = oneshot::channel::<()>();
    let seen_sender = Arc::new(Mutex::new(Some(seen_sender)));
    let router = Router::new().route(
        "/upload",
        any(move |request: Request| {
            let seen_sender = seen_sender.clone();
            async move {
                let mut received = Vec::new();
                let mut body = request.into_body().into_data_stream();
                while let Some(chunk) = body.next().await {
                    received.extend_from_slice(&chunk.unwrap());
                    if received.len() >= HALF
                        && let Some(sender) = seen_sender.lock().unwrap().take()
                    {
                        let _ = sender.send(());
                    }
                }
                let ones = received.iter().filter(|byte| **byte == 1).count();
                format!("{} {ones}", received.len())
            }
        }),
    );
    let upstream = serve(router, None).await.unwrap();
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();

    let send = client()
        .put(format!("{}/upload", proxy.url()))
        .body(reqwest::Body::wrap_stream(gated_halves(seen_receiver)))
        .send();
    let response = tokio::time::timeout(STREAM_TIMEOUT, send)
        .await
        .expect("the proxy held the upload back")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        format!("{} {HALF}", 2 * HALF)
    );
}

#[tokio::test]
async fn download_streams_before_body_ends() {
    // The upstream sends its second half only after the client has received the first.
    let (received_sender, received_receiver) = oneshot::channel::<()>();
    let gate = Arc::new(Mutex::new(Some(received_receiver)));
    let router = Router::new().route(
        "/download",
        get(move || {
            let gate = gate.lock().unwrap().take().expect("one download");
            async move { axum::body::Body::from_stream(gated_halves(gate)) }
        }),
    );
    let upstream = serve(router, None).await.unwrap();
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();

    let download = async {
        let mut response = client()
            .get(format!("{}/download", proxy.url()))
            .send()
            .await
            .unwrap();
        let mut received = Vec::new();
        let mut received_sender = Some(received_sender);
        while let Some(chunk) = response.chunk().await.unwrap() {
            received.extend_from_slice(&chunk);
            if received.len() >= HALF
                && let Some(sender) = received_sender.take()
            {
                let _ = sender.send(());
            }
        }
        received
    };
    let received = tokio::time::timeout(STREAM_TIMEOUT, download)
        .await
        .expect("the proxy held the download back");
    assert_eq!(received.len(), 2 * HALF);
    assert!(received[..HALF].iter().all(|byte| *byte == 0));
    assert!(received[HALF..].iter().all(|byte| *byte == 1));
}

#[tokio::test]
async fn status_fault_sends_azure_error() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    proxy.add_rule(FaultRule::new(
        Matcher::any().path_contains("/echo"),
        Fault::server_busy(3),
    ));
    let client = client();

    // The proxy reads the upload to its end before responding, so the client sees the 503.
    let response = client
        .put(format!("{}/echo", proxy.url()))
        .body(payload())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["x-ms-error-code"], "ServerBusy");
    assert_eq!(response.headers()["retry-after"], "3");
    let body = response.text().await.unwrap();
    assert!(body.contains("<Code>ServerBusy</Code>"), "body: {body}");

    // Paths the rule does not match pass through.
    assert_eq!(
        get_hello(&client, &proxy).await.text().await.unwrap(),
        "hello"
    );
    assert_eq!(proxy.faults_injected(), 1);
}

#[tokio::test]
async fn internal_error_has_no_retry_after() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    proxy.add_rule(FaultRule::new(Matcher::any(), Fault::internal_error()));
    let response = get_hello(&client(), &proxy).await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-ms-error-code"], "InternalError");
    assert!(!response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn reset_mid_body_fails_the_download() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    proxy.add_rule(FaultRule::new(Matcher::any(), Fault::ResetMidBody));

    let mut response = client()
        .get(format!("{}/data", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(BODY_LEN as u64));
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("body ended cleanly after {} bytes", received.len()),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert!(
        is_connection_reset(&error),
        "expected a connection reset, got {error:?}"
    );
    assert!(received.len() < BODY_LEN, "received {}", received.len());
    assert!(received[..] == payload()[..received.len()]);
}

#[tokio::test]
async fn truncated_body_ends_short() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    proxy.add_rule(FaultRule::new(Matcher::any(), Fault::TruncatedBody));

    let mut response = client()
        .get(format!("{}/data", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.content_length(), Some(BODY_LEN as u64));
    let mut received = Vec::new();
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("body ended cleanly after {} bytes", received.len()),
            Err(error) => break error,
        }
    };
    assert!(
        !is_connection_reset(&error),
        "expected an early close, got a reset: {error:?}"
    );
    assert_eq!(received.len(), BODY_LEN / 2);
    assert!(received[..] == payload()[..BODY_LEN / 2]);
}

#[tokio::test]
async fn corrupt_request_body_inverts_first_byte() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    let rule = proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(Method::PUT)
            .header_present("content-md5"),
        Fault::CorruptRequestBody,
    ));
    let client = client();

    let damaged = client
        .put(format!("{}/echo", proxy.url()))
        .header("content-md5", "checked upstream")
        .body(payload())
        .send()
        .await
        .unwrap();
    assert_eq!(damaged.status(), 200);
    let body = damaged.bytes().await.unwrap();
    assert_eq!(body.len(), BODY_LEN);
    assert_eq!(body[0], !payload()[0]);
    assert!(body[1..] == payload()[1..]);

    // A request without the header passes the proxy unchanged.
    let intact = client
        .put(format!("{}/echo", proxy.url()))
        .body(payload())
        .send()
        .await
        .unwrap();
    assert!(intact.bytes().await.unwrap()[..] == payload()[..]);
    assert_eq!(rule.requests_matched(), 1);
    assert_eq!(rule.faults_injected(), 1);
}

#[tokio::test]
async fn reset_before_response_fails_the_send() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    proxy.add_rule(FaultRule::new(
        Matcher::any().first(1),
        Fault::ResetBeforeResponse,
    ));
    let client = client();

    let error = client
        .get(format!("{}/hello", proxy.url()))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_request(), "{error:?}");
    assert!(error.status().is_none());

    // The rule covered the first request only.
    assert_eq!(
        get_hello(&client, &proxy).await.text().await.unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn stall_trips_client_timeout() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    let stall = proxy.add_rule(FaultRule::new(
        Matcher::any().first(1),
        Fault::Stall(Duration::from_secs(30)),
    ));
    let client = client();

    let error = client
        .get(format!("{}/hello", proxy.url()))
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(stall.faults_injected(), 1);

    // A short stall delays the response but passes it through.
    proxy.add_rule(FaultRule::new(
        Matcher::any(),
        Fault::Stall(Duration::from_millis(50)),
    ));
    assert_eq!(
        get_hello(&client, &proxy).await.text().await.unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn nth_request_gets_the_fault() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    let rule = proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(Method::PUT)
            .query_contains("comp=block")
            .nth(3),
        Fault::internal_error(),
    ));
    let client = client();

    let mut statuses = Vec::new();
    for _ in 0..5 {
        // A GET between the PUTs does not count towards the position.
        assert_eq!(get_hello(&client, &proxy).await.status(), 200);
        let response = client
            .put(format!("{}/echo?comp=block", proxy.url()))
            .body("block")
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 500, 200, 200]);
    assert_eq!(rule.requests_matched(), 5);
    assert_eq!(rule.faults_injected(), 1);
    assert_eq!(proxy.requests_seen(), 10);
}

#[tokio::test]
async fn share_with_seed_repeats_positions() {
    let upstream = upstream().await;
    let mut runs = Vec::new();
    for seed in [42, 42, 43] {
        let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
            .await
            .unwrap();
        proxy.add_rule(FaultRule::new(
            Matcher::any().share(0.5, seed),
            Fault::status(429, "TooManyRequests"),
        ));
        let client = client();
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(get_hello(&client, &proxy).await.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
    assert!(runs[0].contains(&429));
    assert!(runs[0].contains(&200));
}

#[tokio::test]
async fn cleared_rules_pass_requests_unchanged() {
    let upstream = upstream().await;
    let proxy = FaultProxy::start(&upstream.url(), ProxyOptions::default())
        .await
        .unwrap();
    proxy.add_rule(FaultRule::new(Matcher::any(), Fault::TruncatedBody));
    proxy.add_rule(FaultRule::new(Matcher::any(), Fault::internal_error()));
    proxy.clear_rules();

    let response = client()
        .get(format!("{}/data", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.unwrap()[..] == payload()[..]);
    assert_eq!(proxy.faults_injected(), 0);
}

#[tokio::test]
async fn unreachable_upstream_gives_bad_gateway() {
    // Bind and close a listener to get a port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{port}"), ProxyOptions::default())
        .await
        .unwrap();
    let response = get_hello(&client(), &proxy).await;
    assert_eq!(response.status(), 502);
}

#[tokio::test]
async fn non_loopback_upstream_is_rejected() {
    let error = match FaultProxy::start("http://169.254.169.254", ProxyOptions::default()).await {
        Ok(_) => panic!("proxy accepted a non-loopback upstream"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("169.254.169.254"), "{error}");
}

#[tokio::test]
async fn azurite_behind_https_proxy_with_faults() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca)).await.unwrap();
    let upstream = format!("https://127.0.0.1:{}", azurite.port());
    let options = ProxyOptions {
        front_tls: Some(&ca),
        upstream_ca: Some(ca.cert_path()),
    };
    let proxy = FaultProxy::start(&upstream, options).await.unwrap();
    assert!(proxy.url().starts_with("https://127.0.0.1:"));

    let client = elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(ca.cert_path())
        .unwrap()
        .apply(reqwest::Client::builder().no_proxy())
        .unwrap()
        .build()
        .unwrap();
    let token = azurite.oauth_token("tenant-fault", Duration::from_secs(600));
    let container = format!("{}/devstoreaccount1/faults", proxy.url());
    let send = |request: reqwest::RequestBuilder| {
        request
            .header("x-ms-version", "2025-11-05")
            .bearer_auth(&token)
            .send()
    };

    let created = send(client.put(format!("{container}?restype=container")))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // The first upload gets a 503; the retry passes through to Azurite.
    proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(Method::PUT)
            .path_contains("/blob.bin")
            .first(1),
        Fault::server_busy(1),
    ));
    let upload = |body: Vec<u8>| {
        send(
            client
                .put(format!("{container}/blob.bin"))
                .header("x-ms-blob-type", "BlockBlob")
                .body(body),
        )
    };
    let busy = upload(payload()).await.unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["x-ms-error-code"], "ServerBusy");
    let stored = upload(payload()).await.unwrap();
    assert_eq!(stored.status(), 201);

    // A download cut by a reset, then a clean one after the rules are cleared.
    proxy.add_rule(FaultRule::new(
        Matcher::any().method(Method::GET),
        Fault::ResetMidBody,
    ));
    let cut = send(client.get(format!("{container}/blob.bin")))
        .await
        .unwrap();
    assert_eq!(cut.status(), 200);
    assert!(cut.bytes().await.is_err());
    proxy.clear_rules();

    let downloaded = send(client.get(format!("{container}/blob.bin")))
        .await
        .unwrap();
    assert_eq!(downloaded.status(), 200);
    assert!(downloaded.bytes().await.unwrap()[..] == payload()[..]);
    assert_eq!(proxy.faults_injected(), 2);
}

#[tokio::test]
async fn azurite_behind_http_proxy_truncates() {
    let azurite = Azurite::start(AzuriteMode::Http).await.unwrap();
    let proxy = FaultProxy::start(
        &format!("http://127.0.0.1:{}", azurite.port()),
        ProxyOptions::default(),
    )
    .await
    .unwrap();
    proxy.add_rule(FaultRule::new(
        Matcher::any().query_contains("comp=list"),
        Fault::TruncatedBody,
    ));
    // Anonymous listing gets Azurite's 403 with its XML error, cut in half.
    let response = client()
        .get(format!("{}/devstoreaccount1?comp=list", proxy.url()))
        .header("x-ms-version", "2025-11-05")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers().contains_key("x-ms-error-code"));
    assert!(response.bytes().await.is_err());
}

fn is_connection_reset(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionReset
        {
            return true;
        }
        source = current.source();
    }
    false
}
