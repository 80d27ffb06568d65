//! The health report against the test Kubernetes API server, the test token service and
//! Azurite.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use elb_core::auth::{CredentialKind, DefaultChain, RetryOptions};
use elb_core::blob::{BlobAuth, BlobOptions, BlobStore};
use elb_core::env::MapEnv;
use elb_core::health::{CheckResult, ContainerProbe, HealthCheck, HealthStatus};
use elb_core::tls::TlsOptions;
use elb_test_servers::azurite::{Azurite, AzuriteMode};
use elb_test_servers::entra::{AppRegistration, EntraConfig, EntraServer};
use elb_test_servers::tls::TestCa;
use serde_json::{Map, json};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
const CLIENT_SECRET: &str = "health-test-secret-value";

struct Entra {
    ca: TestCa,
    server: EntraServer,
}

async fn start_entra() -> Entra {
    let ca = TestCa::generate().unwrap();
    let config = EntraConfig::new()
        .with_tenant(TENANT)
        .with_app(AppRegistration::new(TENANT, CLIENT_ID).with_secret(CLIENT_SECRET));
    let server = EntraServer::start(&ca, config).await.unwrap();
    Entra { ca, server }
}

/// Builds a chain of the client secret credential only, so nothing probes the metadata
/// address or runs the Azure CLI.
fn chain(entra: &Entra, secret: &str) -> Arc<DefaultChain> {
    let env = MapEnv::new()
        .with("AZURE_CLIENT_ID", CLIENT_ID)
        .with("AZURE_TENANT_ID", TENANT)
        .with("AZURE_CLIENT_SECRET", secret)
        .with("AZURE_AUTHORITY_HOST", entra.server.authority_host());
    let tls = TlsOptions::new()
        .with_root_certificate_file(entra.ca.cert_path())
        .unwrap();
    let chain = DefaultChain::builder()
        .env(Arc::new(env))
        .tls(tls)
        .exclude(CredentialKind::ManagedIdentity)
        .exclude(CredentialKind::AzureCli)
        .exclude(CredentialKind::WorkloadIdentity)
        .entra_retry(RetryOptions::none())
        .build()
        .unwrap();
    Arc::new(chain)
}

fn check(version: &str, chain: Arc<DefaultChain>) -> HealthCheck {
    let names = chain.clone();
    let credential: Arc<dyn TokenCredential> = chain;
    let mut config = Map::new();
    config.insert("namespace".into(), json!("default"));
    HealthCheck::new(version)
        .with_config(config)
        .with_azure_auth(credential, move || names.last_used().map(str::to_owned))
        .with_timeout(Duration::from_secs(10))
}

async fn azurite_store(azurite: &Azurite) -> BlobStore {
    let auth = BlobAuth::shared_key(azurite.account_name(), azurite.account_key());
    BlobStore::new(&azurite.blob_endpoint(), auth, BlobOptions::default()).unwrap()
}

#[tokio::test]
async fn all_checks_ok_is_healthy() {
    let cluster = crate::k8s_common::start().await;
    cluster
        .server
        .add_node("aks-blast-2", true, "Standard_E64s_v3", &[]);
    let entra = start_entra().await;
    let azurite = Azurite::start(AzuriteMode::Http)
        .await
        .expect("Azurite must start for this test");
    let store = azurite_store(&azurite).await;
    store.create_container_if_missing("results").await.unwrap();

    let report = check("1.4.0", chain(&entra, CLIENT_SECRET))
        .with_kubernetes(cluster.client.clone())
        .with_storage(Arc::new(ContainerProbe::new(store, "results")))
        .report()
        .await;
    assert_eq!(report.status, HealthStatus::Healthy);
    assert_eq!(
        report.to_json(),
        json!({
            "status": "healthy",
            "version": "1.4.0",
            "config": {"namespace": "default"},
            "checks": {
                "kubernetes": {"status": "ok", "nodes": 2},
                "azure_auth": {"status": "ok", "method": "ClientSecretCredential"},
                "storage": {"status": "ok", "container": "results"},
            }
        })
    );
}

#[tokio::test]
async fn failing_checks_are_degraded() {
    let cluster = crate::k8s_common::start().await;
    let entra = start_entra().await;
    let azurite = Azurite::start(AzuriteMode::Http)
        .await
        .expect("Azurite must start for this test");
    let store = azurite_store(&azurite).await;

    // The API server token is revoked, the secret is wrong and the container is missing.
    cluster.server.revoke_token(&cluster.server.token());
    let report = check("1.4.0", chain(&entra, "wrong-secret"))
        .with_kubernetes(cluster.client.clone())
        .with_storage(Arc::new(ContainerProbe::new(store, "missing")))
        .report()
        .await;
    assert_eq!(report.status, HealthStatus::Degraded);
    let json = report.to_json();
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["checks"]["kubernetes"]["status"], "error");
    assert!(
        json["checks"]["kubernetes"]["message"]
            .as_str()
            .unwrap()
            .contains("401")
    );
    assert_eq!(json["checks"]["azure_auth"]["status"], "error");
    let auth_message = json["checks"]["azure_auth"]["message"].as_str().unwrap();
    assert!(!auth_message.contains("wrong-secret"), "{auth_message}");
    assert_eq!(json["checks"]["storage"]["status"], "error");
    assert!(
        json["checks"]["storage"]["message"]
            .as_str()
            .unwrap()
            .contains("ContainerNotFound"),
        "{json}"
    );
}

#[tokio::test]
async fn unconfigured_and_slow_checks_are_errors() {
    // A listener that accepts connections and never responds makes the check time out.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let _accept = tokio::spawn(async move {
        let mut open_sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open_sockets.push(socket);
        }
    });
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: slow\n  cluster:\n    \
         server: https://{address}\n    insecure-skip-tls-verify: true\nusers:\n- name: slow\n  \
         user:\n    token: t\ncontexts:\n- name: slow\n  context:\n    cluster: slow\n    \
         user: slow\ncurrent-context: slow\n"
    );
    elb_core::tls::install_crypto_provider();
    let client =
        elb_core::k8s::connect_kubeconfig(&elb_core::k8s::KubeconfigSource::Yaml(yaml), None)
            .await
            .ok()
            .unwrap();

    let report = HealthCheck::new("1.4.0")
        .with_kubernetes(client)
        .with_timeout(Duration::from_millis(300))
        .report()
        .await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert_eq!(
        report.checks.kubernetes,
        CheckResult::Error("kubernetes check timed out after 300 ms".into())
    );
    assert_eq!(
        report.checks.azure_auth,
        CheckResult::Error("azure_auth check not configured".into())
    );
    assert!(report.checks.storage.is_none());
    assert!(report.to_json()["checks"].get("storage").is_none());
}
