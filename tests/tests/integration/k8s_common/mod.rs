//! Shared set-up of the Kubernetes integration tests: a test API server and a client for it.

#![allow(dead_code, unreachable_pub)]

use elb_core::k8s::{KubeconfigSource, connect_kubeconfig};
use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;

/// The namespace the tests use.
pub const NAMESPACE: &str = "default";

/// A running test API server with a client for it.
pub struct Cluster {
    /// The API server; dropping it stops the server.
    pub server: KubeApiServer,
    /// A client authenticated with the server's token.
    pub client: kube::Client,
    /// The certificate authority of the server's certificate; kept for its files.
    pub ca: TestCa,
}

/// Starts a test API server and connects to it through its kubeconfig.
pub async fn start() -> Cluster {
    elb_core::tls::install_crypto_provider();
    let ca = TestCa::generate().expect("test CA");
    let server = KubeApiServer::start(&ca)
        .await
        .expect("test API server starts");
    let client = connect(&server).await;
    Cluster { server, client, ca }
}

/// Returns a new client for `server`.
pub async fn connect(server: &KubeApiServer) -> kube::Client {
    let source = KubeconfigSource::Yaml(server.kubeconfig_yaml(NAMESPACE));
    match connect_kubeconfig(&source, None).await {
        Ok(client) => client,
        Err(error) => panic!("connecting to the test API server failed: {error:?}"),
    }
}

/// Returns a client for an HTTPS address on 127.0.0.1 where nothing listens, so that any
/// request fails with a transport error.
pub async fn unreachable_client() -> kube::Client {
    let yaml = "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n    \
                server: https://127.0.0.1:9\n    insecure-skip-tls-verify: true\nusers:\n\
                - name: none\n  user:\n    token: none\ncontexts:\n- name: none\n  context:\n    \
                cluster: none\n    user: none\ncurrent-context: none\n";
    match connect_kubeconfig(&KubeconfigSource::Yaml(yaml.into()), None).await {
        Ok(client) => client,
        Err(error) => panic!("building the unreachable client failed: {error:?}"),
    }
}

/// Returns a search id whose hex digits all equal `digit`.
pub fn elb_job_id(digit: char) -> String {
    format!("job-{}", digit.to_string().repeat(32))
}
