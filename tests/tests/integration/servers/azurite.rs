//! The Azurite launcher, checked with plain HTTP requests against the Azurite it starts.

use std::time::Duration;

use elb_test_servers::azurite::{Azurite, AzuriteMode, AzuriteOptions};
use elb_test_servers::tls::TestCa;

const VERSION: &str = "2025-11-05";
const TENANT: &str = "72f988bf-0000-0000-0000-00000000e1b0";

fn https_client(ca: &TestCa) -> reqwest::Client {
    elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(ca.cert_path())
        .unwrap()
        .apply(reqwest::Client::builder().no_proxy())
        .unwrap()
        .build()
        .unwrap()
}

#[tokio::test]
async fn oauth_mode_lists_containers_with_token() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca)).await.unwrap();
    assert!(azurite.is_https());
    assert_eq!(
        azurite.blob_endpoint(),
        format!("https://127.0.0.1:{}/devstoreaccount1", azurite.port())
    );

    let token = azurite.oauth_token(TENANT, Duration::from_secs(3600));
    let response = https_client(&ca)
        .get(format!("{}?comp=list", azurite.blob_endpoint()))
        .header("x-ms-version", VERSION)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("<EnumerationResults"), "body: {body}");
}

#[tokio::test]
async fn oauth_mode_round_trips_blob_bytes() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca)).await.unwrap();
    let client = https_client(&ca);
    let token = azurite.oauth_token(TENANT, Duration::from_secs(600));
    let container = format!("{}/roundtrip", azurite.blob_endpoint());

    let created = client
        .put(format!("{container}?restype=container"))
        .header("x-ms-version", VERSION)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // Every byte value, so that an encoding step on the way would show.
    let payload: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let put = client
        .put(format!("{container}/dir/data.bin"))
        .header("x-ms-version", VERSION)
        .header("x-ms-blob-type", "BlockBlob")
        .bearer_auth(&token)
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let get = client
        .get(format!("{container}/dir/data.bin"))
        .header("x-ms-version", VERSION)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body = get.bytes().await.unwrap();
    assert_eq!(body.len(), payload.len());
    assert!(body[..] == payload[..], "downloaded bytes differ");
}

#[tokio::test]
async fn oauth_mode_rejects_expired_and_missing_tokens() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca)).await.unwrap();
    let client = https_client(&ca);
    let url = format!("{}?comp=list", azurite.blob_endpoint());

    let expired = elb_test_servers::azurite::storage_token(TENANT, -600);
    let response = client
        .get(&url)
        .header("x-ms-version", VERSION)
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let code = response.headers().get("x-ms-error-code").cloned();
    assert_eq!(
        code.as_ref().and_then(|value| value.to_str().ok()),
        Some("AuthenticationFailed")
    );

    let response = client
        .get(&url)
        .header("x-ms-version", VERSION)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!(status == 401 || status == 403, "status {status}");
    assert!(response.headers().contains_key("x-ms-error-code"));
}

#[tokio::test]
async fn http_mode_rejects_anonymous_listing() {
    let azurite = Azurite::start(AzuriteMode::Http).await.unwrap();
    assert!(!azurite.is_https());
    assert_eq!(
        azurite.blob_endpoint(),
        format!("http://127.0.0.1:{}/devstoreaccount1", azurite.port())
    );
    assert!(
        azurite
            .connection_string()
            .contains(&format!("BlobEndpoint={};", azurite.blob_endpoint()))
    );
    assert_eq!(azurite.account_name(), "devstoreaccount1");

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .get(format!("{}?comp=list", azurite.blob_endpoint()))
        .header("x-ms-version", VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let code = response.headers().get("x-ms-error-code").cloned();
    assert_eq!(
        code.as_ref().and_then(|value| value.to_str().ok()),
        Some("AuthorizationFailure")
    );
}

#[tokio::test]
async fn https_mode_serves_test_ca_certificate() {
    let ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::Https(&ca)).await.unwrap();
    let response = https_client(&ca)
        .get(format!("{}?comp=list", azurite.blob_endpoint()))
        .header("x-ms-version", VERSION)
        .send()
        .await
        .unwrap();
    // Anonymous listing is rejected, but the TLS handshake with the test CA succeeded.
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn missing_binary_fails_with_npm_hint() {
    let options = AzuriteOptions {
        bin: Some("/nonexistent/azurite-blob".into()),
        ..AzuriteOptions::default()
    };
    let error = match Azurite::start_with(AzuriteMode::Http, options).await {
        Ok(_) => panic!("Azurite started from a missing program"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    let message = error.to_string();
    assert!(message.contains("/nonexistent/azurite-blob"), "{message}");
    assert!(message.contains("npm ci"), "{message}");
}

#[tokio::test]
async fn drop_stops_azurite() {
    let azurite = Azurite::start(AzuriteMode::Http).await.unwrap();
    let port = azurite.port();
    let location = azurite.location().to_path_buf();
    drop(azurite);

    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
    assert!(connect.is_err(), "port {port} still accepts connections");
    assert!(!location.exists(), "{} was not removed", location.display());
}

#[tokio::test]
async fn occupied_port_fails_with_addr_in_use() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = AzuriteOptions {
        port: Some(port),
        ..AzuriteOptions::default()
    };
    let error = match Azurite::start_with(AzuriteMode::Http, options).await {
        Ok(_) => panic!("Azurite started on occupied port {port}"),
        Err(error) => error,
    };
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
    assert!(error.to_string().contains(&port.to_string()), "{error}");
}

#[tokio::test]
async fn fixed_port_is_used() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = AzuriteOptions {
        port: Some(port),
        ..AzuriteOptions::default()
    };
    let azurite = Azurite::start_with(AzuriteMode::Http, options)
        .await
        .unwrap();
    assert_eq!(azurite.port(), port);
    assert!(azurite.blob_endpoint().contains(&format!(":{port}/")));
}
