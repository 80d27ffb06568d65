//! The test certificate authority and the loopback server helper.

use axum::Router;
use axum::routing::get;
use elb_test_servers::serve::serve;
use elb_test_servers::tls::TestCa;

fn router() -> Router {
    Router::new().route("/hello", get(|| async { "hello" }))
}

#[tokio::test]
async fn https_server_is_trusted_through_test_ca() {
    let ca = TestCa::generate().unwrap();
    let leaf = ca.issue_leaf("server").unwrap();
    let server = serve(router(), Some(&leaf)).await.unwrap();
    assert!(server.url().starts_with("https://127.0.0.1:"));

    let tls = elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(ca.cert_path())
        .unwrap();
    let client = tls.http_client().unwrap();
    let body = client
        .get(format!("{}/hello", server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello");
}

#[tokio::test]
async fn https_server_is_rejected_without_test_ca() {
    let ca = TestCa::generate().unwrap();
    let leaf = ca.issue_leaf("server").unwrap();
    let server = serve(router(), Some(&leaf)).await.unwrap();

    let client = elb_core::tls::TlsOptions::new().http_client().unwrap();
    let error = client
        .get(format!("{}/hello", server.url()))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_connect(), "expected a TLS failure, got {error:?}");
}

#[tokio::test]
async fn plain_server_answers_on_loopback() {
    let server = serve(router(), None).await.unwrap();
    assert!(server.addr().ip().is_loopback());
    let body = reqwest::get(format!("{}/hello", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "hello");
}
