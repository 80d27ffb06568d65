//! End to end: a storage token from workload identity (test token service) creates a
//! container and uploads a blob on Azurite over HTTPS with OAuth, through the
//! `azure_storage_blob` clients.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RequestContent, Transport};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use elb_core::auth::DefaultChain;
use elb_core::auth::{CredentialKind, to_elb_error};
use elb_core::env::MapEnv;
use elb_test_servers::azurite::{Azurite, AzuriteMode};

use crate::auth_support::{CLIENT_ID, Entra, TENANT};

#[tokio::test]
async fn workload_token_writes_blob_on_azurite() {
    let entra = Entra::start().await;
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&entra.ca))
        .await
        .expect("Azurite must start: run `npm ci` in the repository root");

    let env = MapEnv::new()
        .with("AZURE_CLIENT_ID", CLIENT_ID)
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_AUTHORITY_HOST", entra.server.authority_host())
        .with(
            "AZURE_FEDERATED_TOKEN_FILE",
            entra.token_file.display().to_string(),
        );
    let chain = Arc::new(
        DefaultChain::builder()
            .env(Arc::new(env))
            .tls(entra.tls())
            .exclude(CredentialKind::ManagedIdentity)
            .exclude(CredentialKind::AzureCli)
            .build()
            .unwrap(),
    );
    let credential: Arc<dyn TokenCredential> = chain.clone();

    let http = entra.tls().http_client().unwrap();
    let options = BlobContainerClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            ..ClientOptions::default()
        },
        ..BlobContainerClientOptions::default()
    };
    let container_url = format!("{}/queries", azurite.blob_endpoint())
        .parse()
        .unwrap();
    let container =
        BlobContainerClient::new(container_url, Some(credential), Some(options)).unwrap();

    container
        .create(None)
        .await
        .map_err(|error| to_elb_error(&error))
        .expect("container created with a workload identity token");
    let content = b">query1\nACGTACGTACGT\n".to_vec();
    let blob = container.blob_client("a1b2c3d4e5.fa");
    blob.upload(RequestContent::from(content.clone()), None)
        .await
        .map_err(|error| to_elb_error(&error))
        .expect("blob uploaded with a workload identity token");

    let mut buffer = vec![0u8; 64];
    let downloaded = blob.download_into(&mut buffer, None).await.unwrap();
    assert_eq!(&buffer[..downloaded.len], content.as_slice());
    assert_eq!(chain.last_used(), Some("WorkloadIdentityCredential"));
    // Three storage requests shared one cached token.
    assert_eq!(entra.server.request_count_for(CLIENT_ID), 1);
}

#[tokio::test]
async fn azurite_rejects_management_token() {
    let entra = Entra::start().await;
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&entra.ca))
        .await
        .expect("Azurite must start: run `npm ci` in the repository root");

    // A credential that requests the management scope whatever scope the client requests.
    #[derive(Debug)]
    struct WrongScope(elb_core::auth::WorkloadIdentityCredential);

    #[async_trait::async_trait]
    impl TokenCredential for WrongScope {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<azure_core::credentials::AccessToken> {
            self.0
                .get_token(&[elb_core::auth::MANAGEMENT_SCOPE], None)
                .await
        }
    }

    let credential: Arc<dyn TokenCredential> = Arc::new(WrongScope(entra.workload()));
    let http = entra.tls().http_client().unwrap();
    let options = BlobContainerClientOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            retry: azure_core::http::RetryOptions::none(),
            ..ClientOptions::default()
        },
        ..BlobContainerClientOptions::default()
    };
    let container_url = format!("{}/results", azurite.blob_endpoint())
        .parse()
        .unwrap();
    let container =
        BlobContainerClient::new(container_url, Some(credential), Some(options)).unwrap();

    let error = container.create(None).await.unwrap_err();
    // Azurite 3.35 rejects a token for another audience with 403 AuthenticationFailed.
    assert_eq!(error.http_status().map(u16::from), Some(403));
}
