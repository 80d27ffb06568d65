//! Managed identity against the test managed identity service: both endpoint shapes,
//! user-assigned identities, the retry rules and fast failure on a closed port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use elb_core::ErrorKind;
use elb_core::auth::{
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, ManagedIdentityRetry,
    ManagedIdentitySource, STORAGE_SCOPE, UserAssignedId,
};
use elb_core::env::MapEnv;
use elb_core::tls::TlsOptions;
use elb_test_servers::jwt;
use elb_test_servers::msi::{
    EndpointKind, ManagedIdentity, ManagedIdentityConfig, ManagedIdentityServer,
};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const SYSTEM_CLIENT_ID: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
const USER_CLIENT_ID: &str = "9f8e7d6c-5b4a-4392-8180-7f6e5d4c3b2a";
const USER_OBJECT_ID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

async fn start_server(config: ManagedIdentityConfig) -> ManagedIdentityServer {
    ManagedIdentityServer::start(config)
        .await
        .expect("test managed identity service starts")
}

fn user_assigned() -> ManagedIdentity {
    ManagedIdentity::user_assigned(USER_CLIENT_ID, "elb-kubelet").with_object_id(USER_OBJECT_ID)
}

fn imds_credential(
    server: &ManagedIdentityServer,
    retry: ManagedIdentityRetry,
) -> ManagedIdentityCredential {
    let source = ManagedIdentitySource::imds(&server.imds_authority()).unwrap();
    ManagedIdentityCredential::new(ManagedIdentityCredentialOptions::new(source).with_retry(retry))
        .unwrap()
}

fn app_id(token: &str) -> String {
    jwt::claims(token).unwrap()["appid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn imds_system_assigned_token() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    let credential = imds_credential(&server, ManagedIdentityRetry::fast());
    let token = credential.token(STORAGE_SCOPE).await.unwrap();

    assert_eq!(app_id(token.token.secret()), SYSTEM_CLIENT_ID);
    let claims = jwt::claims(token.token.secret()).unwrap();
    assert_eq!(claims["aud"], "https://storage.azure.com");
    assert_eq!(server.imds_request_count(), 1);
    let record = &server.requests()[0];
    assert_eq!(record.kind, EndpointKind::Imds);
    assert!(
        record
            .query
            .contains(&("api-version".into(), "2018-02-01".into()))
    );
    assert!(
        record
            .query
            .contains(&("resource".into(), "https://storage.azure.com".into()))
    );
}

#[tokio::test]
async fn pod_identity_host_from_env() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    let env = MapEnv::new().with("AZURE_POD_IDENTITY_AUTHORITY_HOST", server.imds_authority());
    let credential = ManagedIdentityCredential::from_env(&env, TlsOptions::new()).unwrap();
    assert_eq!(credential.endpoint(), server.imds_token_url());
    credential.token(STORAGE_SCOPE).await.unwrap();
    assert_eq!(server.imds_request_count(), 1);
}

#[tokio::test]
async fn app_service_endpoint_from_env() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    let header = server.identity_header();
    let env = MapEnv::new()
        .with("IDENTITY_ENDPOINT", server.identity_endpoint())
        .with("IDENTITY_HEADER", header.clone());
    let credential = ManagedIdentityCredential::from_env(&env, TlsOptions::new()).unwrap();
    let token = credential.token(STORAGE_SCOPE).await.unwrap();

    assert_eq!(app_id(token.token.secret()), SYSTEM_CLIENT_ID);
    assert_eq!(server.app_service_request_count(), 1);
    assert_eq!(server.imds_request_count(), 0);
    let record = &server.requests()[0];
    assert!(
        record
            .query
            .contains(&("api-version".into(), "2019-08-01".into()))
    );
    assert!(!format!("{credential:?}").contains(&header));
}

#[tokio::test]
async fn wrong_identity_header_denied_without_echo() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    let wrong = "wrong-identity-header-value";
    let source =
        ManagedIdentitySource::app_service(&server.identity_endpoint(), wrong.to_string().into())
            .unwrap();
    let credential = ManagedIdentityCredential::new(
        ManagedIdentityCredentialOptions::new(source).with_retry(ManagedIdentityRetry::fast()),
    )
    .unwrap();
    let error = credential.token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::PermissionDenied);
    assert_eq!(error.status(), Some(401));
    assert_eq!(server.request_count(), 1);
    assert!(!error.to_string().contains(wrong));
    assert!(!format!("{error:?}").contains(wrong));
}

#[tokio::test]
async fn user_assigned_selected_by_each_id() {
    let server = start_server(
        ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID).with_user_assigned(user_assigned()),
    )
    .await;
    let resource_id = user_assigned().resource_id.unwrap();
    let ids = [
        UserAssignedId::ClientId(USER_CLIENT_ID.into()),
        UserAssignedId::ObjectId(USER_OBJECT_ID.into()),
        UserAssignedId::ResourceId(resource_id),
    ];
    let sources = [
        ManagedIdentitySource::imds(&server.imds_authority()).unwrap(),
        ManagedIdentitySource::app_service(
            &server.identity_endpoint(),
            server.identity_header().into(),
        )
        .unwrap(),
    ];
    for source in &sources {
        for id in &ids {
            let credential = ManagedIdentityCredential::new(
                ManagedIdentityCredentialOptions::new(source.clone())
                    .with_user_assigned_id(id.clone())
                    .with_retry(ManagedIdentityRetry::fast()),
            )
            .unwrap();
            let token = credential.token(STORAGE_SCOPE).await.unwrap();
            assert_eq!(
                app_id(token.token.secret()),
                USER_CLIENT_ID,
                "{source:?} {id:?}"
            );
        }
    }
    assert_eq!(server.imds_request_count(), 3);
    assert_eq!(server.app_service_request_count(), 3);
}

#[tokio::test]
async fn gone_retried_then_succeeds() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    server.fail_next(3, 410);
    let retry = ManagedIdentityRetry {
        max_retries: 1,
        gone_window: Duration::from_secs(5),
        ..ManagedIdentityRetry::fast()
    };
    // Gone is retried past max_retries because its limit is the time window.
    imds_credential(&server, retry)
        .token(STORAGE_SCOPE)
        .await
        .unwrap();
    assert_eq!(server.imds_request_count(), 4);
    assert_eq!(server.tokens_issued(), 1);
}

#[tokio::test]
async fn gone_stops_after_window() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    server.gone_for(Duration::from_secs(30));
    let retry = ManagedIdentityRetry {
        gone_window: Duration::from_millis(300),
        ..ManagedIdentityRetry::fast()
    };
    let error = imds_credential(&server, retry)
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(410));
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(
        server.imds_request_count() >= 2,
        "{}",
        server.imds_request_count()
    );
    assert_eq!(server.tokens_issued(), 0);
}

#[tokio::test]
async fn unknown_identity_not_retried() {
    let server = start_server(
        ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID).without_system_assigned(),
    )
    .await;
    let error = imds_credential(&server, ManagedIdentityRetry::fast())
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.status(), Some(400));
    assert_eq!(error.kind(), ErrorKind::Authentication);
    assert!(
        error.to_string().contains("assigned to this resource"),
        "{error}"
    );
    assert_eq!(server.imds_request_count(), 1);
}

#[tokio::test]
async fn throttling_not_found_and_server_errors_retried() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    server.fail_next(1, 429);
    server.fail_next(1, 404);
    server.fail_next(1, 500);
    server.fail_next(1, 503);
    let retry = ManagedIdentityRetry {
        max_retries: 4,
        ..ManagedIdentityRetry::fast()
    };
    imds_credential(&server, retry)
        .token(STORAGE_SCOPE)
        .await
        .unwrap();
    assert_eq!(server.imds_request_count(), 5);
    assert_eq!(server.tokens_issued(), 1);
}

#[tokio::test]
async fn server_errors_stop_at_max_retries() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    server.fail_next(10, 500);
    let retry = ManagedIdentityRetry {
        max_retries: 2,
        ..ManagedIdentityRetry::fast()
    };
    let error = imds_credential(&server, retry)
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Service);
    assert_eq!(error.status(), Some(500));
    assert_eq!(server.imds_request_count(), 3);
}

#[tokio::test]
async fn throttling_stops_at_max_retries() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    server.fail_next(10, 429);
    let retry = ManagedIdentityRetry {
        max_retries: 1,
        ..ManagedIdentityRetry::fast()
    };
    let error = imds_credential(&server, retry)
        .token(STORAGE_SCOPE)
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(server.imds_request_count(), 2);
}

#[tokio::test]
async fn closed_port_unavailable_without_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);

    let source = ManagedIdentitySource::imds(&format!("http://{closed}")).unwrap();
    let credential =
        ManagedIdentityCredential::new(ManagedIdentityCredentialOptions::new(source)).unwrap();
    let started = Instant::now();
    let error = credential.token(STORAGE_SCOPE).await.unwrap_err();
    let elapsed = started.elapsed();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.to_string().contains("unreachable"), "{error}");
    // The default policy would spend over a minute if connection failures were retried.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn fifty_concurrent_callers_one_request() {
    let server = start_server(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID)).await;
    server.set_delay(Duration::from_millis(300));
    let credential: Arc<dyn TokenCredential> =
        Arc::new(imds_credential(&server, ManagedIdentityRetry::fast()));

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let credential = credential.clone();
        tasks.push(tokio::spawn(async move {
            credential.get_token(&[STORAGE_SCOPE], None).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.imds_request_count(), 1);
}
