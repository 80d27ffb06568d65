//! Workload identity against the test token service: token file rotation, `AADSTS` errors,
//! single-flight refreshes, retries and secret redaction.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use elb_core::ErrorKind;
use elb_core::auth::{
    MANAGEMENT_SCOPE, RetryOptions, STORAGE_SCOPE, WorkloadIdentityCredential, to_elb_error,
};
use elb_test_servers::entra::ClientAuthMethod;

use crate::auth_support::{CLIENT_ID, Entra, TENANT, expiry_of};

#[tokio::test]
async fn token_file_reread_for_each_exchange() {
    let entra = Entra::start().await;
    let first = entra.write_token("elb-openapi-sa", 3600);
    let credential = entra.workload();
    credential.token(STORAGE_SCOPE).await.unwrap();

    let rotated = entra.write_token("elb-openapi-sa", 7200);
    credential.token(MANAGEMENT_SCOPE).await.unwrap();

    let records = entra.server.requests();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].method, Some(ClientAuthMethod::Assertion));
    let presented: Vec<i64> = records
        .iter()
        .map(|record| {
            record.assertion_claims.as_ref().unwrap()["exp"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(presented[0], expiry_of(&first));
    assert_eq!(presented[1], expiry_of(&rotated));
}

#[tokio::test]
async fn refresh_presents_rotated_token() {
    let entra = Entra::start().await;
    // A two-second token is refreshed after one second (half its lifetime).
    entra.server.set_token_lifetime_secs(2);
    let credential = entra.workload();
    let first = credential.token(STORAGE_SCOPE).await.unwrap();

    let rotated = entra.write_token("elb-openapi-sa", 5400);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = credential.token(STORAGE_SCOPE).await.unwrap();

    assert_ne!(first.token.secret(), second.token.secret());
    let records = entra.server.requests();
    assert_eq!(records.len(), 2);
    let last = records[1].assertion_claims.as_ref().unwrap();
    assert_eq!(last["exp"].as_i64(), Some(expiry_of(&rotated)));
}

#[tokio::test]
async fn storage_token_has_storage_audience() {
    let entra = Entra::start().await;
    let token = entra.workload().token(STORAGE_SCOPE).await.unwrap();
    let claims = elb_test_servers::jwt::claims(token.token.secret()).unwrap();
    assert_eq!(claims["aud"], "https://storage.azure.com");
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], CLIENT_ID);
    assert_eq!(
        entra.server.requests()[0].scope.as_deref(),
        Some(STORAGE_SCOPE)
    );
}

#[tokio::test]
async fn aadsts70021_shows_presented_claims() {
    let entra = Entra::start().await;
    let assertion = entra.write_token("some-other-sa", 3600);
    let error = entra.workload().token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.code(), Some("AADSTS70021"));
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.kind(), ErrorKind::Authentication);
    let text = error.to_string();
    assert!(
        text.contains("issuer https://oidc.prod-aks.azure.com/elb-test-cluster/"),
        "{text}"
    );
    assert!(
        text.contains("subject system:serviceaccount:default:some-other-sa"),
        "{text}"
    );
    assert!(
        text.contains("audience api://AzureADTokenExchange"),
        "{text}"
    );
    assert!(text.contains("federated identity credential"), "{text}");
    let signature = assertion.rsplit('.').next().unwrap();
    assert!(!text.contains(signature));
    assert!(!format!("{error:?}").contains(signature));
}

#[tokio::test]
async fn aadsts700024_reports_stale_token_file() {
    let entra = Entra::start().await;
    entra.write_token("elb-openapi-sa", -600);
    let error = entra.workload().token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.code(), Some("AADSTS700024"));
    assert_eq!(error.kind(), ErrorKind::Authentication);
    let text = error.to_string();
    assert!(
        text.contains(&entra.token_file.display().to_string()),
        "{text}"
    );
    assert!(text.contains("expired"), "{text}");
    assert!(text.contains("kubelet"), "{text}");
}

#[tokio::test]
async fn aadsts700016_names_client_and_tenant() {
    let entra = Entra::start().await;
    let unknown = "99999999-0000-4000-8000-000000000000";
    let credential =
        WorkloadIdentityCredential::new(entra.workload_options(unknown, TENANT)).unwrap();
    let error = credential.token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.code(), Some("AADSTS700016"));
    let text = error.to_string();
    assert!(text.contains(unknown), "{text}");
    assert!(text.contains(TENANT), "{text}");
    assert!(text.contains("azure.workload.identity/client-id"), "{text}");
}

#[tokio::test]
async fn aadsts90002_names_unknown_tenant() {
    let entra = Entra::start().await;
    let credential =
        WorkloadIdentityCredential::new(entra.workload_options(CLIENT_ID, "no-such-tenant"))
            .unwrap();
    let error = credential.token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.code(), Some("AADSTS90002"));
    assert!(
        error
            .to_string()
            .contains("tenant no-such-tenant was not found")
    );
    assert!(error.to_string().contains("AZURE_TENANT_ID"));
}

#[tokio::test]
async fn aadsts70011_names_invalid_scope() {
    let entra = Entra::start().await;
    let scope = "https://storage.azure.com/user_impersonation";
    let error = entra.workload().token(scope).await.unwrap_err();

    assert_eq!(error.code(), Some("AADSTS70011"));
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains(scope));
}

#[tokio::test]
async fn fifty_concurrent_callers_one_request() {
    let entra = Entra::start().await;
    entra.server.set_delay(Duration::from_millis(300));
    let credential: Arc<dyn TokenCredential> = Arc::new(entra.workload());

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let credential = credential.clone();
        tasks.push(tokio::spawn(async move {
            credential.get_token(&[STORAGE_SCOPE], None).await
        }));
    }
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap().token.secret().to_string());
    }

    assert_eq!(entra.server.request_count_for(CLIENT_ID), 1);
    assert!(tokens.iter().all(|token| token == &tokens[0]));
}

#[tokio::test]
async fn server_errors_retried_then_succeed() {
    let entra = Entra::start().await;
    entra.server.fail_next(2, 500);
    entra.workload().token(STORAGE_SCOPE).await.unwrap();
    assert_eq!(entra.server.request_count(), 3);
    assert_eq!(entra.server.tokens_issued(), 1);
}

#[tokio::test]
async fn throttling_retried_then_succeeds() {
    let entra = Entra::start().await;
    entra.server.fail_next(1, 429);
    entra.workload().token(STORAGE_SCOPE).await.unwrap();
    assert_eq!(entra.server.request_count(), 2);
}

#[tokio::test]
async fn retries_stop_at_limit() {
    let entra = Entra::start().await;
    entra.server.fail_next(10, 503);
    let options = entra
        .workload_options(CLIENT_ID, TENANT)
        .with_retry(RetryOptions::new(
            2,
            Duration::from_millis(10),
            Duration::from_millis(50),
        ));
    let error = WorkloadIdentityCredential::new(options)
        .unwrap()
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(entra.server.request_count(), 3);
}

#[tokio::test]
async fn rejected_exchange_not_retried() {
    let entra = Entra::start().await;
    entra.write_token("some-other-sa", 3600);
    entra.workload().token(STORAGE_SCOPE).await.unwrap_err();
    assert_eq!(entra.server.request_count(), 1);
}

#[tokio::test]
async fn secrets_absent_from_output() {
    let entra = Entra::start().await;
    let assertion = entra.write_token("elb-openapi-sa", 3600);
    let credential = entra.workload();
    let token = credential.token(STORAGE_SCOPE).await.unwrap();
    let access_token = token.token.secret().to_string();

    let printed = format!("{credential:?} {token:?}");
    assert!(!printed.contains(&access_token));
    assert!(!printed.contains(&assertion));

    // An error through the TokenCredential trait keeps the elb error and no assertion.
    entra.write_token("some-other-sa", 3600);
    let error = credential
        .get_token(&[MANAGEMENT_SCOPE], None)
        .await
        .unwrap_err();
    let elb_error = to_elb_error(&error);
    assert_eq!(elb_error.code(), Some("AADSTS70021"));
    let current = std::fs::read_to_string(&entra.token_file).unwrap();
    for text in [
        format!("{error}"),
        format!("{error:?}"),
        format!("{elb_error:?}"),
    ] {
        assert!(!text.contains(current.trim()), "{text}");
        assert!(!text.contains(&access_token), "{text}");
    }
}

#[tokio::test]
async fn missing_token_file_is_unavailable() {
    let entra = Entra::start().await;
    std::fs::remove_file(&entra.token_file).unwrap();
    let error = entra.workload().token(STORAGE_SCOPE).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.to_string().contains("azure.workload.identity/use"));
    assert_eq!(entra.server.request_count(), 0);
}

/// A log sink shared between the subscriber and the test.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_absent_from_logs() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let entra = Entra::start().await;
    entra.server.set_token_lifetime_secs(2);
    entra.server.fail_next(1, 500);
    let assertion = entra.write_token("elb-openapi-sa", 3600);
    let credential = entra.workload();
    let token = credential.token(STORAGE_SCOPE).await.unwrap();

    // A failed refresh while the token is still valid logs a warning and keeps the token.
    entra.write_token("some-other-sa", 3600);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let kept = credential.token(STORAGE_SCOPE).await.unwrap();
    assert_eq!(kept.token.secret(), token.token.secret());

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("retrying"), "{text}");
    assert!(text.contains("token refresh failed"), "{text}");
    assert!(!text.contains(&assertion));
    assert!(!text.contains(token.token.secret()));
    let rotated = std::fs::read_to_string(&entra.token_file).unwrap();
    assert!(!text.contains(rotated.trim()));
}
