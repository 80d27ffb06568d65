//! The default chain against the test token and managed identity services and a fake Azure
//! CLI: order, exclusions, the reported credential, fallback speed and combined errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use elb_core::ErrorKind;
use elb_core::auth::{
    CredentialKind, DefaultChain, ManagedIdentityRetry, STORAGE_SCOPE, to_elb_error,
};
use elb_core::env::MapEnv;
use elb_test_servers::msi::{ManagedIdentityConfig, ManagedIdentityServer};

use crate::auth_support::fake_az::{self, SCRIPT_LOCK};
use crate::auth_support::{CLIENT_ID, CLIENT_SECRET, Entra, SECRET_CLIENT_ID, TENANT, fast_retry};

const SYSTEM_CLIENT_ID: &str = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";

fn workload_env(entra: &Entra) -> MapEnv {
    MapEnv::new()
        .with("AZURE_CLIENT_ID", CLIENT_ID)
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_AUTHORITY_HOST", entra.server.authority_host())
        .with(
            "AZURE_FEDERATED_TOKEN_FILE",
            entra.token_file.display().to_string(),
        )
}

async fn msi_server() -> ManagedIdentityServer {
    ManagedIdentityServer::start(ManagedIdentityConfig::new(TENANT, SYSTEM_CLIENT_ID))
        .await
        .expect("test managed identity service starts")
}

/// Returns a loopback address where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

#[tokio::test]
async fn client_secret_wins_default_order() {
    let entra = Entra::start().await;
    let msi = msi_server().await;
    let env = workload_env(&entra)
        .with("AZURE_CLIENT_ID", SECRET_CLIENT_ID)
        .with("AZURE_CLIENT_SECRET", CLIENT_SECRET);
    let chain = DefaultChain::builder()
        .env(Arc::new(env))
        .tls(entra.tls())
        .imds_endpoint(msi.imds_authority())
        .exclude(CredentialKind::AzureCli)
        .build()
        .unwrap();
    assert_eq!(
        chain.credential_names(),
        vec![
            "ClientSecretCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential"
        ]
    );

    assert_eq!(
        chain.probe(STORAGE_SCOPE).await.unwrap(),
        "ClientSecretCredential"
    );
    assert_eq!(chain.last_used(), Some("ClientSecretCredential"));
    assert_eq!(entra.server.request_count_for(SECRET_CLIENT_ID), 1);
    assert_eq!(msi.request_count(), 0);
    assert!(!format!("{chain:?}").contains(CLIENT_SECRET));
}

#[tokio::test]
async fn workload_identity_reported_by_name() {
    let entra = Entra::start().await;
    let msi = msi_server().await;
    let chain = DefaultChain::builder()
        .env(Arc::new(workload_env(&entra)))
        .tls(entra.tls())
        .imds_endpoint(msi.imds_authority())
        .build()
        .unwrap();

    assert_eq!(chain.last_used(), None);
    let chain = Arc::new(chain);
    let credential: Arc<dyn TokenCredential> = chain.clone();
    credential.get_token(&[STORAGE_SCOPE], None).await.unwrap();
    assert_eq!(chain.last_used(), Some("WorkloadIdentityCredential"));
    assert_eq!(entra.server.request_count_for(CLIENT_ID), 1);
    assert_eq!(msi.request_count(), 0);
}

#[tokio::test]
async fn probe_names_workload_identity() {
    let entra = Entra::start().await;
    let chain = DefaultChain::builder()
        .env(Arc::new(workload_env(&entra)))
        .tls(entra.tls())
        .exclude(CredentialKind::ManagedIdentity)
        .exclude(CredentialKind::AzureCli)
        .build()
        .unwrap();
    assert_eq!(
        chain.probe(STORAGE_SCOPE).await.unwrap(),
        "WorkloadIdentityCredential"
    );
    assert_eq!(chain.last_used(), Some("WorkloadIdentityCredential"));
}

#[tokio::test]
async fn custom_order_tries_managed_identity_first() {
    let entra = Entra::start().await;
    let msi = msi_server().await;
    let chain = DefaultChain::builder()
        .env(Arc::new(workload_env(&entra)))
        .tls(entra.tls())
        .imds_endpoint(msi.imds_authority())
        .order([
            CredentialKind::ManagedIdentity,
            CredentialKind::WorkloadIdentity,
        ])
        .build()
        .unwrap();

    assert_eq!(
        chain.probe(STORAGE_SCOPE).await.unwrap(),
        "ManagedIdentityCredential"
    );
    assert_eq!(msi.imds_request_count(), 1);
    assert_eq!(entra.server.request_count(), 0);
}

#[tokio::test]
async fn closed_imds_port_falls_back_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = SCRIPT_LOCK.lock().await;
    let program = fake_az::logged_in(dir.path());
    let chain = DefaultChain::builder()
        .env(Arc::new(MapEnv::new()))
        .tls(elb_core::tls::TlsOptions::new())
        .imds_endpoint(closed_port_url())
        .azure_cli_program(&program)
        .build()
        .unwrap();

    let started = Instant::now();
    let name = chain.probe(STORAGE_SCOPE).await.unwrap();
    let elapsed = started.elapsed();

    assert_eq!(name, "AzureCliCredential");
    // Retrying the refused connection with the default policy would take over a minute.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(fake_az::recorded_args(dir.path()).len(), 1);
}

#[tokio::test]
async fn exhausted_chain_lists_each_reason() {
    let dir = tempfile::tempdir().unwrap();
    let chain = DefaultChain::builder()
        .env(Arc::new(MapEnv::new()))
        .tls(elb_core::tls::TlsOptions::new())
        .imds_endpoint(closed_port_url())
        .azure_cli_program(dir.path().join("missing-az"))
        .build()
        .unwrap();
    let error = chain.token(STORAGE_SCOPE).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Unavailable);
    let text = error.to_string();
    assert!(
        text.contains("ClientSecretCredential skipped (AZURE_CLIENT_SECRET is not set)"),
        "{text}"
    );
    assert!(
        text.contains("WorkloadIdentityCredential skipped (AZURE_FEDERATED_TOKEN_FILE is not set)"),
        "{text}"
    );
    assert!(
        text.contains("ManagedIdentityCredential failed ("),
        "{text}"
    );
    assert!(text.contains("AzureCliCredential failed ("), "{text}");
    assert!(text.contains("install the Azure CLI"), "{text}");
    assert_eq!(chain.last_used(), None);
}

#[tokio::test]
async fn exhausted_chain_keeps_aadsts_code() {
    let entra = Entra::start().await;
    entra.write_token("some-other-sa", 3600);
    let dir = tempfile::tempdir().unwrap();
    let chain = DefaultChain::builder()
        .env(Arc::new(workload_env(&entra)))
        .tls(entra.tls())
        .entra_retry(fast_retry())
        .imds_endpoint(closed_port_url())
        .managed_identity_retry(ManagedIdentityRetry::fast())
        .azure_cli_program(dir.path().join("missing-az"))
        .build()
        .unwrap();

    let credential: Arc<dyn TokenCredential> = Arc::new(chain);
    let error = credential
        .get_token(&[STORAGE_SCOPE], None)
        .await
        .unwrap_err();
    let error = to_elb_error(&error);
    assert_eq!(error.kind(), ErrorKind::Authentication);
    assert_eq!(error.code(), Some("AADSTS70021"));
    assert_eq!(error.status(), Some(400));
    assert!(
        error
            .to_string()
            .contains("subject system:serviceaccount:default:some-other-sa")
    );
}

#[tokio::test]
async fn half_configured_workload_identity_rejected() {
    let entra = Entra::start().await;
    let env = MapEnv::new().with("AZURE_TENANT_ID", TENANT).with(
        "AZURE_FEDERATED_TOKEN_FILE",
        entra.token_file.display().to_string(),
    );
    let error = DefaultChain::builder()
        .env(Arc::new(env))
        .tls(entra.tls())
        .imds_endpoint(closed_port_url())
        .build()
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    let text = error.to_string();
    assert!(text.contains("AZURE_CLIENT_ID"), "{text}");
    assert!(text.contains("azure.workload.identity/client-id"), "{text}");
}

#[tokio::test]
async fn selected_credential_is_kept() {
    let entra = Entra::start().await;
    let msi = msi_server().await;
    let chain = DefaultChain::builder()
        .env(Arc::new(workload_env(&entra)))
        .tls(entra.tls())
        .entra_retry(fast_retry())
        .imds_endpoint(msi.imds_authority())
        .build()
        .unwrap();
    assert_eq!(
        chain.probe(STORAGE_SCOPE).await.unwrap(),
        "WorkloadIdentityCredential"
    );

    // Once workload identity has worked, its failures are returned instead of falling
    // through to another identity.
    entra.write_token("some-other-sa", 3600);
    let error = chain
        .token("https://management.azure.com/.default")
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("AADSTS70021"));
    assert_eq!(msi.request_count(), 0);
    assert_eq!(chain.last_used(), Some("WorkloadIdentityCredential"));
}
