//! The Kubernetes client for Python: connection, nodes, pods, `/readyz` and the OpenAPI
//! service's objects. The job store is in `store.rs` and a search's Jobs in `search.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use elb_core::k8s::cluster::{list_nodes, pod_phases, readyz};
use elb_core::k8s::openapi_objects::{OpenApiService, wait_for_load_balancer};
use elb_core::k8s::{
    InClusterPaths, KubeconfigSource, connect_entra, connect_in_cluster, connect_kubeconfig,
};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::auth::Credential;
use crate::convert::{Json, environment, invalid_input, seconds};
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
#[pyclass(frozen, name = "KubeClient", module = "elb_py._native")]
pub(crate) struct KubeClientPy {
    pub(crate) client: kube::Client,
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
        logging::refresh_level(py);
        let client = runtime::block_on(py, async move {
            connect_kubeconfig(&source, context.as_deref()).await
        })?;
        Ok(Self { client })
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
        let credential = credential.get().shared();
        logging::refresh_level(py);
        let client = runtime::block_on(py, async move {
            connect_entra(&source, context.as_deref(), credential).await
        })?;
        Ok(Self { client })
    }

    /// Connects from inside a pod with its service account.
    #[staticmethod]
    #[pyo3(signature = (*, env = None))]
    fn in_cluster(py: Python<'_>, env: Option<HashMap<String, String>>) -> PyResult<Self> {
        let env = environment(env);
        logging::refresh_level(py);
        let client = runtime::block_on(py, async move {
            connect_in_cluster(env.as_ref(), &InClusterPaths::default()).await
        })?;
        Ok(Self { client })
    }

    /// Lists the nodes with their readiness and instance type.
    fn list_nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, nodes_json(self.client.clone()))
    }

    fn list_nodes_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, nodes_json(self.client.clone()))
    }

    /// Counts the pods of `namespace` by phase.
    fn pod_phases<'py>(&self, py: Python<'py>, namespace: String) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, phases_json(self.client.clone(), namespace))
    }

    fn pod_phases_async<'py>(
        &self,
        py: Python<'py>,
        namespace: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, phases_json(self.client.clone(), namespace))
    }

    /// Checks the API server's `/readyz` endpoint.
    fn readyz<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        runtime::call(py, false, async move { readyz(&client).await })
    }

    fn readyz_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
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
        runtime::call(py, false, apply_json(self.client.clone(), service))
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
        runtime::call(py, true, apply_json(self.client.clone(), service))
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
        let future = load_balancer(self.client.clone(), namespace, timeout, interval);
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
        let future = load_balancer(self.client.clone(), namespace, timeout, interval);
        runtime::call(py, true, future)
    }
}
