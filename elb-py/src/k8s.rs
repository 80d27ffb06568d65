//! The Kubernetes client for Python: connection, nodes, pods, `/readyz` and the OpenAPI
//! service's objects. The job store is in `store.rs` and a search's Jobs in `search.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use elb_core::auth::SharedCredential;
use elb_core::env::SharedEnv;
use elb_core::k8s::cluster::{list_nodes, pod_phases, readyz};
use elb_core::k8s::openapi_objects::{OpenApiService, wait_for_load_balancer};
use elb_core::k8s::{
    InClusterPaths, KubeconfigSource, connect_entra, connect_in_cluster, connect_kubeconfig,
};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::auth::Credential;
use crate::convert::{Json, environment, invalid_input, seconds};
use crate::process::PerProcess;
use crate::{logging, runtime};

/// Converts a Python object to JSON through the standard `json` module.
pub(crate) fn python_to_json(object: &Bound<'_, PyAny>) -> PyResult<Value> {
    let text: String = object
        .py()
        .import("json")?
        .call_method1("dumps", (object,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|error| {
        invalid_input(
            object.py(),
            format!("value is not JSON-compatible: {error}"),
        )
    })
}

/// A connection to a Kubernetes API server.
///
/// The kube client contains a connection pool and, with bearer tokens, a task on the runtime
/// that created it. A child created by `fork()` can use neither, so the object keeps how it
/// connected, and the first call in a child connects again. That call reads the kubeconfig
/// or the service-account files again and blocks the calling thread until it is connected.
#[pyclass(frozen, name = "KubeClient", module = "elb_py._native")]
pub(crate) struct KubeClientPy {
    client: PerProcess<kube::Client>,
    connection: Connection,
}

/// The connection settings of a `KubeClient`, kept to connect again in a child process.
enum Connection {
    Kubeconfig {
        source: KubeconfigSource,
        context: Option<String>,
    },
    Entra {
        source: KubeconfigSource,
        context: Option<String>,
        credential: Py<Credential>,
    },
    InCluster {
        env: SharedEnv,
    },
}

/// The settings of one connection attempt, owned so that the attempt can run on the runtime.
enum ConnectRequest {
    Kubeconfig {
        source: KubeconfigSource,
        context: Option<String>,
    },
    Entra {
        source: KubeconfigSource,
        context: Option<String>,
        credential: SharedCredential,
    },
    InCluster {
        env: SharedEnv,
    },
}

impl Connection {
    /// Returns the settings of a new connection, with the credential of the calling process.
    fn request(&self, py: Python<'_>) -> PyResult<ConnectRequest> {
        Ok(match self {
            Self::Kubeconfig { source, context } => ConnectRequest::Kubeconfig {
                source: source.clone(),
                context: context.clone(),
            },
            Self::Entra {
                source,
                context,
                credential,
            } => ConnectRequest::Entra {
                source: source.clone(),
                context: context.clone(),
                credential: credential.get().shared(py)?,
            },
            Self::InCluster { env } => ConnectRequest::InCluster { env: env.clone() },
        })
    }

    /// Connects and waits for the client with the GIL released.
    fn connect(&self, py: Python<'_>) -> PyResult<kube::Client> {
        let request = self.request(py)?;
        logging::refresh_level(py);
        runtime::block_on(py, request.connect())
    }
}

impl ConnectRequest {
    async fn connect(self) -> elb_core::Result<kube::Client> {
        match self {
            Self::Kubeconfig { source, context } => {
                connect_kubeconfig(&source, context.as_deref()).await
            }
            Self::Entra {
                source,
                context,
                credential,
            } => connect_entra(&source, context.as_deref(), credential).await,
            Self::InCluster { env } => {
                connect_in_cluster(env.as_ref(), &InClusterPaths::default()).await
            }
        }
    }
}

impl KubeClientPy {
    fn connected(py: Python<'_>, connection: Connection) -> PyResult<Self> {
        let client = connection.connect(py)?;
        Ok(Self {
            client: PerProcess::new(client),
            connection,
        })
    }

    /// Returns the client of the calling process, connecting again in a child created by
    /// `fork()`.
    pub(crate) fn client(&self, py: Python<'_>) -> PyResult<kube::Client> {
        match self.client.get(py) {
            Some(client) => Ok(client),
            None => {
                let client = self.connection.connect(py)?;
                Ok(self.client.set(py, client))
            }
        }
    }
}

async fn nodes_json(client: kube::Client) -> elb_core::Result<Json> {
    let nodes = list_nodes(&client).await?;
    let items: Vec<Value> = nodes
        .into_iter()
        .map(|node| {
            json!({
                "name": node.name,
                "ready": node.ready,
                "instance_type": node.instance_type,
                "labels": node.labels,
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn phases_json(client: kube::Client, namespace: String) -> elb_core::Result<Json> {
    let phases = pod_phases(&client, &namespace).await?;
    Ok(Json(json!({
        "pending": phases.pending,
        "running": phases.running,
        "succeeded": phases.succeeded,
        "failed": phases.failed,
        "unknown": phases.unknown,
    })))
}

async fn apply_json(client: kube::Client, service: OpenApiService) -> elb_core::Result<Json> {
    let applied = service.apply(&client).await?;
    let items: Vec<Value> = applied
        .into_iter()
        .map(|object| {
            json!({
                "target": object.target,
                "resource_version": object.resource_version,
                "changed": object.changed,
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

/// Returns the kubeconfig named by exactly one of `path` and `yaml`.
fn kubeconfig_source(
    py: Python<'_>,
    function: &str,
    path: Option<PathBuf>,
    yaml: Option<String>,
) -> PyResult<KubeconfigSource> {
    match (path, yaml) {
        (Some(path), None) => Ok(KubeconfigSource::Path(path)),
        (None, Some(text)) => Ok(KubeconfigSource::Yaml(text)),
        _ => Err(invalid_input(
            py,
            format!("pass exactly one of path and yaml to KubeClient.{function}"),
        )),
    }
}

async fn load_balancer(
    client: kube::Client,
    namespace: String,
    timeout: Duration,
    poll_interval: Duration,
) -> elb_core::Result<String> {
    wait_for_load_balancer(&client, &namespace, timeout, poll_interval).await
}

#[pymethods]
impl KubeClientPy {
    /// Connects with a kubeconfig file or text, using `context` or the current context.
    #[staticmethod]
    #[pyo3(signature = (path = None, *, yaml = None, context = None))]
    fn from_kubeconfig(
        py: Python<'_>,
        path: Option<PathBuf>,
        yaml: Option<String>,
        context: Option<String>,
    ) -> PyResult<Self> {
        let source = kubeconfig_source(py, "from_kubeconfig", path, yaml)?;
        Self::connected(py, Connection::Kubeconfig { source, context })
    }

    /// Connects to an Entra-enabled AKS cluster: the server and CA come from the kubeconfig
    /// (its user entry is ignored) and every request carries a token from `credential` for
    /// the AKS server application.
    #[staticmethod]
    #[pyo3(signature = (path = None, *, yaml = None, context = None, credential))]
    fn connect_entra(
        py: Python<'_>,
        path: Option<PathBuf>,
        yaml: Option<String>,
        context: Option<String>,
        credential: &Bound<'_, Credential>,
    ) -> PyResult<Self> {
        let source = kubeconfig_source(py, "connect_entra", path, yaml)?;
        let connection = Connection::Entra {
            source,
            context,
            credential: credential.clone().unbind(),
        };
        Self::connected(py, connection)
    }

    /// Connects from inside a pod with its service account.
    #[staticmethod]
    #[pyo3(signature = (*, env = None))]
    fn in_cluster(py: Python<'_>, env: Option<HashMap<String, String>>) -> PyResult<Self> {
        let env = environment(env);
        Self::connected(py, Connection::InCluster { env })
    }

    /// Lists the nodes with their readiness and instance type.
    fn list_nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, nodes_json(self.client(py)?))
    }

    fn list_nodes_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, nodes_json(self.client(py)?))
    }

    /// Counts the pods of `namespace` by phase.
    fn pod_phases<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, phases_json(self.client(py)?, namespace))
    }

    fn pod_phases_async<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, phases_json(self.client(py)?, namespace))
    }

    /// Checks the API server's `/readyz` endpoint.
    fn readyz<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client(py)?;
        runtime::call(py, false, async move { readyz(&client).await })
    }

    fn readyz_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client(py)?;
        runtime::call(py, true, async move { readyz(&client).await })
    }

    /// Applies the OpenAPI service's ServiceAccount, ClusterRole, ClusterRoleBinding,
    /// Deployment and Service with server-side apply; applying again changes nothing.
    #[pyo3(signature = (namespace, client_id, image, *, internal_load_balancer = false, env = None))]
    fn apply_openapi_objects<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        client_id: String,
        image: String,
        internal_load_balancer: bool,
        env: Option<BTreeMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let service = OpenApiService {
            namespace,
            client_id,
            image,
            internal_load_balancer,
            env: env.unwrap_or_default(),
        };
        runtime::call(py, false, apply_json(self.client(py)?, service))
    }

    #[pyo3(signature = (namespace, client_id, image, *, internal_load_balancer = false, env = None))]
    fn apply_openapi_objects_async<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        client_id: String,
        image: String,
        internal_load_balancer: bool,
        env: Option<BTreeMap<String, String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let service = OpenApiService {
            namespace,
            client_id,
            image,
            internal_load_balancer,
            env: env.unwrap_or_default(),
        };
        runtime::call(py, true, apply_json(self.client(py)?, service))
    }

    /// Waits until the Service `elb-openapi` in `namespace` has a load balancer address,
    /// and returns its IP or host name.
    #[pyo3(signature = (namespace, *, timeout, poll_interval = 5.0))]
    fn wait_for_load_balancer<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        timeout: f64,
        poll_interval: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(py, "timeout", timeout)?;
        let interval = seconds(py, "poll_interval", poll_interval)?;
        let future = load_balancer(self.client(py)?, namespace, timeout, interval);
        runtime::call(py, false, future)
    }

    #[pyo3(signature = (namespace, *, timeout, poll_interval = 5.0))]
    fn wait_for_load_balancer_async<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
        timeout: f64,
        poll_interval: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(py, "timeout", timeout)?;
        let interval = seconds(py, "poll_interval", poll_interval)?;
        let future = load_balancer(self.client(py)?, namespace, timeout, interval);
        runtime::call(py, true, future)
    }
}
