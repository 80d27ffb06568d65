//! The server itself: HTTPS serving, bearer-token authentication and kubeconfig files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use serde_json::{Value, json};

use super::controller::JobController;
use super::handlers;
use super::meta::{Key, timestamp};
use super::resources;
use super::status::ApiError;
use super::store::{Part, Store};
use crate::serve::{ServerHandle, serve};
use crate::tls::TestCa;

/// The namespaces a new server has, as a fresh cluster does.
const INITIAL_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The node a new server has, named like a node of an AKS node pool.
pub const DEFAULT_NODE: &str = "aks-nodepool1-00000000-vmss000000";

/// State shared by the request handlers.
pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    tokens: Mutex<Vec<String>>,
    bookmark_millis: AtomicU64,
    address: OnceLock<String>,
}

impl Shared {
    /// Checks the bearer token of a request.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match presented {
            Some(token) if tokens.iter().any(|t| t == token) => Ok(()),
            _ => Err(ApiError::unauthorized()),
        }
    }

    /// Returns the `host:port` clients reach the server at.
    pub(crate) fn address(&self) -> String {
        self.address.get().cloned().unwrap_or_default()
    }

    /// Returns the interval between watch bookmarks.
    pub(crate) fn bookmark_interval(&self) -> Duration {
        Duration::from_millis(self.bookmark_millis.load(Ordering::Relaxed))
    }
}

fn new_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("elb-test-{hex}")
}

/// A Kubernetes API server on 127.0.0.1 over HTTPS, with a job controller that tests drive.
///
/// It serves namespaces, ConfigMaps, Jobs, Pods, Nodes, ServiceAccounts, Services,
/// Deployments, Leases, ClusterRoles and ClusterRoleBindings with the paths, JSON and error
/// `Status` bodies of the real API server. Dropping it stops the server.
pub struct KubeApiServer {
    handle: ServerHandle,
    shared: Arc<Shared>,
    controller: JobController,
    ca_pem: String,
    ca_cert_path: PathBuf,
}

impl KubeApiServer {
    /// Starts a server with a leaf certificate from `ca`, the four standard namespaces and one
    /// ready node named [`DEFAULT_NODE`].
    ///
    /// # Errors
    ///
    /// Returns an error when the certificate cannot be issued or no port can be bound.
    pub async fn start(ca: &TestCa) -> std::io::Result<Self> {
        let store = Arc::new(Store::new());
        let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
        for name in INITIAL_NAMESPACES {
            let namespace = json!({"metadata": {"name": name}, "status": {"phase": "Active"}});
            store
                .create(namespaces, "", namespace)
                .expect("a new store accepts the standard namespaces");
        }
        let shared = Arc::new(Shared {
            store: store.clone(),
            tokens: Mutex::new(vec![new_token()]),
            bookmark_millis: AtomicU64::new(1000),
            address: OnceLock::new(),
        });
        let router = Router::new()
            .fallback(handlers::handle)
            .with_state(shared.clone());
        let leaf = ca.issue_leaf("kube-apiserver")?;
        let handle = serve(router, Some(&leaf)).await?;
        let _ = shared.address.set(handle.addr().to_string());
        let server = Self {
            handle,
            controller: JobController::new(store),
            shared,
            ca_pem: ca.cert_pem().to_string(),
            ca_cert_path: ca.cert_path(),
        };
        server.add_node(DEFAULT_NODE, true, "Standard_E32s_v3", &[]);
        Ok(server)
    }

    /// Returns the base URL, `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// Returns the newest bearer token.
    pub fn token(&self) -> String {
        let tokens = self.shared.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .last()
            .cloned()
            .expect("the server always has a token")
    }

    /// Issues a new bearer token and returns it; the older tokens stay valid until revoked.
    pub fn rotate_token(&self) -> String {
        let token = new_token();
        let mut tokens = self.shared.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.push(token.clone());
        token
    }

    /// Makes `token` invalid, so requests with it get 401.
    pub fn revoke_token(&self, token: &str) {
        let mut tokens = self.shared.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|t| t != token);
    }

    /// Returns the path of the CA certificate that signed the server's certificate.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.ca_cert_path.clone()
    }

    /// Returns a kubeconfig for the server, with the CA embedded, the current token and
    /// `namespace` as the context's namespace.
    pub fn kubeconfig_yaml(&self, namespace: &str) -> String {
        let ca_data = STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: elb-test\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca_data}\n\
             users:\n\
             - name: elb-test\n  user:\n    token: {token}\n\
             contexts:\n\
             - name: elb-test\n  context:\n    cluster: elb-test\n    user: elb-test\n    namespace: {namespace}\n\
             current-context: elb-test\n",
            url = self.url(),
            token = self.token(),
        )
    }

    /// Writes [`kubeconfig_yaml`](Self::kubeconfig_yaml) to `path`.
    ///
    /// # Errors
    ///
    /// Returns the error of writing the file.
    pub fn write_kubeconfig(&self, path: &Path, namespace: &str) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml(namespace))
    }

    /// Returns the object store, for tests that inspect or seed objects directly.
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    /// Returns the job controller.
    pub fn controller(&self) -> &JobController {
        &self.controller
    }

    /// Drops the watch event history, so that watches from an older resource version and
    /// older `continue` tokens get 410 Expired.
    pub fn compact_history(&self) {
        self.shared.store.compact_history();
    }

    /// Ends every open watch stream, as an API server restart does. Together with
    /// [`compact_history`](Self::compact_history) it makes clients that watch again from
    /// their last resource version get 410 Expired.
    pub fn disconnect_watches(&self) {
        self.shared.store.disconnect_watches();
    }

    /// Sets the interval between `BOOKMARK` events of watches that allow them (1 s by
    /// default); it applies to watches started afterwards.
    pub fn set_bookmark_interval(&self, interval: Duration) {
        let millis = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.shared.bookmark_millis.store(millis, Ordering::Relaxed);
    }

    /// Adds (or replaces) a node with the `Ready` condition `ready`, the instance type label
    /// `node.kubernetes.io/instance-type` and extra `labels`, and returns it.
    pub fn add_node(
        &self,
        name: &str,
        ready: bool,
        instance_type: &str,
        labels: &[(&str, &str)],
    ) -> Value {
        let nodes = resources::find("", "v1", "nodes").expect("nodes are served");
        let store = &self.shared.store;
        let mut node_labels = json!({
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": instance_type,
            "beta.kubernetes.io/instance-type": instance_type,
        });
        for (key, value) in labels {
            node_labels[*key] = json!(value);
        }
        let now = timestamp(store.now());
        let condition = json!({
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
            "message": if ready { "kubelet is posting ready status" } else { "container runtime network not ready" },
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        });
        let status = json!({
            "conditions": [condition],
            "capacity": {"cpu": "32", "memory": "257899752Ki", "pods": "110"},
            "allocatable": {"cpu": "31580m", "memory": "237671144Ki", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.32.0", "operatingSystem": "linux", "architecture": "amd64"},
        });
        let key = Key::new(nodes, "", name);
        store.remove(&key);
        store
            .create(
                nodes,
                "",
                json!({"metadata": {"name": name, "labels": node_labels}}),
            )
            .expect("the node name is valid");
        store
            .modify(nodes, &key, Part::Status, |current| {
                let mut next = current.clone();
                next["status"] = status;
                Ok(next)
            })
            .expect("the node was just created")
    }
}
