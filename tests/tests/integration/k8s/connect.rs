//! Connecting to the test Kubernetes API server: in-cluster with a rotating token file,
//! from a kubeconfig, and with an Entra ID credential.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use elb_core::ErrorKind;
use elb_core::env::MapEnv;
use elb_core::k8s::store::JobStore;
use elb_core::k8s::{
    InClusterPaths, KubeconfigSource, connect_entra, connect_in_cluster, connect_kubeconfig,
};
use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;

use crate::k8s_common::NAMESPACE;

fn service_env(server: &KubeApiServer) -> MapEnv {
    let port = url::Url::parse(&server.url()).unwrap().port().unwrap();
    MapEnv::new()
        .with("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .with("KUBERNETES_SERVICE_PORT", port.to_string())
}

async fn start_server() -> (TestCa, KubeApiServer) {
    elb_core::tls::install_crypto_provider();
    let ca = TestCa::generate().unwrap();
    let server = KubeApiServer::start(&ca).await.unwrap();
    (ca, server)
}

#[tokio::test]
async fn in_cluster_token_file_is_reread_after_rotation() {
    let (_ca, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let first = server.token();
    std::fs::write(&token_file, &first).unwrap();
    let paths = InClusterPaths {
        token_file: token_file.clone(),
        ca_file: server.ca_cert_path(),
    };
    let client = match connect_in_cluster(&service_env(&server), &paths).await {
        Ok(client) => client,
        Err(error) => panic!("in-cluster connect failed: {error:?}"),
    };
    let store = JobStore::new(client, NAMESPACE).unwrap();
    assert!(store.list(None).await.unwrap().is_empty());

    // The kubelet writes the new token to the file, then the old one stops working.
    let second = server.rotate_token();
    std::fs::write(&token_file, format!("{second}\n")).unwrap();
    server.revoke_token(&first);
    assert!(store.list(None).await.unwrap().is_empty());

    // A token revoked without a new file fails as an authentication error.
    server.revoke_token(&second);
    let error = store.list(None).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Authentication);
    assert_eq!(error.status(), Some(401));
}

#[tokio::test]
async fn in_cluster_missing_token_file_is_unavailable() {
    let (_ca, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let paths = InClusterPaths {
        token_file: dir.path().join("token"),
        ca_file: server.ca_cert_path(),
    };
    let error = connect_in_cluster(&service_env(&server), &paths)
        .await
        .err()
        .unwrap();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.message().contains("token"), "{error}");
}

#[tokio::test]
async fn kubeconfig_file_and_text_connect() {
    let (_ca, server) = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    server.write_kubeconfig(&path, NAMESPACE).unwrap();
    for source in [
        KubeconfigSource::Path(path.clone()),
        KubeconfigSource::Yaml(server.kubeconfig_yaml(NAMESPACE)),
    ] {
        let client = connect_kubeconfig(&source, None).await.ok().unwrap();
        let store = JobStore::new(client, NAMESPACE).unwrap();
        assert!(store.list(None).await.unwrap().is_empty());
    }
}

/// A credential that issues the test API server's current token and records each request.
#[derive(Debug)]
struct ServerTokenCredential {
    token: Mutex<String>,
    scopes: Mutex<Vec<String>>,
    calls: AtomicUsize,
    lifetime: time::Duration,
}

#[async_trait]
impl TokenCredential for ServerTokenCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.scopes
            .lock()
            .unwrap()
            .extend(scopes.iter().map(|s| (*s).to_owned()));
        let token = self.token.lock().unwrap().clone();
        Ok(AccessToken::new(
            token,
            time::OffsetDateTime::now_utc() + self.lifetime,
        ))
    }
}

#[tokio::test]
async fn entra_credential_token_is_sent_and_cached() {
    let (_ca, server) = start_server().await;
    let credential = Arc::new(ServerTokenCredential {
        token: Mutex::new(server.token()),
        scopes: Mutex::new(Vec::new()),
        calls: AtomicUsize::new(0),
        lifetime: time::Duration::hours(1),
    });
    // The kubeconfig's user would run kubelogin; connect_entra ignores it.
    let yaml = server.kubeconfig_yaml(NAMESPACE).replace(
        &format!("token: {}", server.token()),
        "token: not-a-valid-token",
    );
    let client = connect_entra(&KubeconfigSource::Yaml(yaml), None, credential.clone())
        .await
        .ok()
        .unwrap();
    let store = JobStore::new(client, NAMESPACE).unwrap();
    assert!(store.list(None).await.unwrap().is_empty());
    assert!(store.list(None).await.unwrap().is_empty());
    assert_eq!(credential.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        credential.scopes.lock().unwrap()[0],
        "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
    );
}

#[tokio::test]
async fn entra_token_near_expiry_is_replaced() {
    let (_ca, server) = start_server().await;
    let first = server.token();
    // A token that expires within the refresh margin is asked for again on every request.
    let credential = Arc::new(ServerTokenCredential {
        token: Mutex::new(first.clone()),
        scopes: Mutex::new(Vec::new()),
        calls: AtomicUsize::new(0),
        lifetime: time::Duration::minutes(2),
    });
    let source = KubeconfigSource::Yaml(server.kubeconfig_yaml(NAMESPACE));
    let client = connect_entra(&source, None, credential.clone())
        .await
        .ok()
        .unwrap();
    let store = JobStore::new(client, NAMESPACE).unwrap();
    store.list(None).await.unwrap();

    let second = server.rotate_token();
    *credential.token.lock().unwrap() = second;
    server.revoke_token(&first);
    store.list(None).await.unwrap();
    assert_eq!(credential.calls.load(Ordering::SeqCst), 2);
}
