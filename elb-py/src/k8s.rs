//! Kubernetes for Python: a cluster client, the job store and the Jobs of one search.

use std::collections::BTreeMap;
use std::path::PathBuf;

use elb_core::k8s::cluster::{list_nodes, pod_phases, readyz};
use elb_core::k8s::openapi_objects::OpenApiService;
use elb_core::k8s::search::{
    BlobMarkers, DeletePropagation, SearchJobs, SearchState, SearchStatus, WaitOptions,
};
use elb_core::k8s::store::{JobRecord, JobStatus, JobStore, StoredRecord};
use elb_core::k8s::{InClusterPaths, KubeconfigSource, connect_in_cluster, connect_kubeconfig};
use elb_core::{Error, ErrorKind};
use k8s_openapi::api::batch::v1::Job;
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::blob::BlobStorePy;
use crate::convert::{Json, environment, invalid_input, seconds};
use crate::{errors, logging, runtime};

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
        let source = match (path, yaml) {
            (Some(path), None) => KubeconfigSource::Path(path),
            (None, Some(text)) => KubeconfigSource::Yaml(text),
            _ => {
                return Err(invalid_input(
                    py,
                    "pass exactly one of path and yaml to KubeClient.from_kubeconfig",
                ));
            }
        };
        logging::refresh_level(py);
        let client = runtime::block_on(py, async move {
            connect_kubeconfig(&source, context.as_deref()).await
        })?;
        Ok(Self { client })
    }

    /// Connects from inside a pod with its service account.
    #[staticmethod]
    #[pyo3(signature = (*, env = None))]
    fn in_cluster(
        py: Python<'_>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> PyResult<Self> {
        let env = environment(env);
        logging::refresh_level(py);
        let client = runtime::block_on(py, async move {
            connect_in_cluster(env.as_ref(), &InClusterPaths::default()).await
        })?;
        Ok(Self { client })
    }

    /// Lists the nodes with their readiness and instance type.
    fn list_nodes(&self, py: Python<'_>) -> PyResult<Json> {
        logging::refresh_level(py);
        let client = self.client.clone();
        runtime::block_on(py, async move {
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
        })
    }

    /// Counts the pods of `namespace` by phase.
    fn pod_phases(&self, py: Python<'_>, namespace: String) -> PyResult<Json> {
        logging::refresh_level(py);
        let client = self.client.clone();
        runtime::block_on(py, async move {
            let phases = pod_phases(&client, &namespace).await?;
            Ok(Json(json!({
                "pending": phases.pending,
                "running": phases.running,
                "succeeded": phases.succeeded,
                "failed": phases.failed,
                "unknown": phases.unknown,
            })))
        })
    }

    /// Checks the API server's `/readyz` endpoint.
    fn readyz(&self, py: Python<'_>) -> PyResult<()> {
        logging::refresh_level(py);
        let client = self.client.clone();
        runtime::block_on(py, async move { readyz(&client).await })
    }

    /// Applies the OpenAPI service's ServiceAccount, ClusterRole, ClusterRoleBinding,
    /// Deployment and Service with server-side apply; applying again changes nothing.
    #[pyo3(signature = (namespace, client_id, image, *, internal_load_balancer = false, env = None))]
    fn apply_openapi_objects(
        &self,
        py: Python<'_>,
        namespace: String,
        client_id: String,
        image: String,
        internal_load_balancer: bool,
        env: Option<BTreeMap<String, String>>,
    ) -> PyResult<Json> {
        let service = OpenApiService {
            namespace,
            client_id,
            image,
            internal_load_balancer,
            env: env.unwrap_or_default(),
        };
        logging::refresh_level(py);
        let client = self.client.clone();
        runtime::block_on(py, async move {
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
        })
    }
}

/// A job record as read from the cluster, with the `resourceVersion` it was read at.
#[pyclass(frozen, name = "StoredRecord", module = "elb_py._native")]
pub(crate) struct StoredRecordPy {
    stored: StoredRecord,
}

fn record_json(record: &JobRecord) -> elb_core::Result<Value> {
    serde_json::to_value(record).map_err(|error| {
        Error::new(ErrorKind::Service, "job record cannot be converted to JSON").with_source(error)
    })
}

#[pymethods]
impl StoredRecordPy {
    /// The record as a dict, unknown fields included.
    #[getter]
    fn record(&self, py: Python<'_>) -> PyResult<Json> {
        record_json(&self.stored.record)
            .map(Json)
            .map_err(|e| errors::to_pyerr(py, &e))
    }

    /// The `resourceVersion` of the ConfigMap this record was read from.
    #[getter]
    fn resource_version(&self) -> String {
        self.stored.resource_version().to_owned()
    }

    /// Returns a copy that writes `record` back at the same `resourceVersion`.
    fn with_record(&self, record: &Bound<'_, PyAny>) -> PyResult<Self> {
        let record = parse_record(record)?;
        let mut stored = self.stored.clone();
        stored.record = record;
        Ok(Self { stored })
    }

    fn __repr__(&self) -> String {
        format!(
            "StoredRecord(job_id={:?}, status={:?}, resource_version={:?})",
            self.stored.record.job_id,
            self.stored.record.status.as_str(),
            self.stored.resource_version()
        )
    }
}

fn parse_record(record: &Bound<'_, PyAny>) -> PyResult<JobRecord> {
    let value = python_to_json(record)?;
    serde_json::from_value(value).map_err(|error| {
        invalid_input(
            record.py(),
            format!(
                "invalid job record: {error}; a record needs job_id, status (queued, \
                 dispatching, submitting, running, completed, failed or cancelled) and mode \
                 (A or B)"
            ),
        )
    })
}

fn parse_status(py: Python<'_>, status: &str) -> PyResult<JobStatus> {
    serde_json::from_value(Value::String(status.to_owned())).map_err(|_| {
        invalid_input(
            py,
            format!(
                "unknown job status {status:?}: use queued, dispatching, submitting, running, \
                 completed, failed or cancelled"
            ),
        )
    })
}

/// The job records of one namespace, one ConfigMap per job.
#[pyclass(frozen, name = "JobStore", module = "elb_py._native")]
pub(crate) struct JobStorePy {
    store: JobStore,
}

#[pymethods]
impl JobStorePy {
    #[new]
    fn new(py: Python<'_>, client: &Bound<'_, KubeClientPy>, namespace: &str) -> PyResult<Self> {
        let store = JobStore::new(client.get().client.clone(), namespace)
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self { store })
    }

    /// The namespace of the records.
    #[getter]
    fn namespace(&self) -> String {
        self.store.namespace().to_owned()
    }

    /// Creates a record from a dict.
    fn create(&self, py: Python<'_>, record: &Bound<'_, PyAny>) -> PyResult<StoredRecordPy> {
        let record = parse_record(record)?;
        logging::refresh_level(py);
        let store = self.store.clone();
        let stored = runtime::block_on(py, async move { store.create(&record).await })?;
        Ok(StoredRecordPy { stored })
    }

    /// Reads a record.
    fn get(&self, py: Python<'_>, job_id: String) -> PyResult<StoredRecordPy> {
        logging::refresh_level(py);
        let store = self.store.clone();
        let stored = runtime::block_on(py, async move { store.get(&job_id).await })?;
        Ok(StoredRecordPy { stored })
    }

    /// Lists the records, all of them or those with `status`.
    #[pyo3(signature = (status = None))]
    fn list(&self, py: Python<'_>, status: Option<&str>) -> PyResult<Vec<StoredRecordPy>> {
        let status = status.map(|text| parse_status(py, text)).transpose()?;
        logging::refresh_level(py);
        let store = self.store.clone();
        let records = runtime::block_on(py, async move { store.list(status).await })?;
        Ok(records
            .into_iter()
            .map(|stored| StoredRecordPy { stored })
            .collect())
    }

    /// Writes a record back, provided nobody changed it since it was read.
    fn update(
        &self,
        py: Python<'_>,
        stored: &Bound<'_, StoredRecordPy>,
    ) -> PyResult<StoredRecordPy> {
        let stored = stored.get().stored.clone();
        logging::refresh_level(py);
        let store = self.store.clone();
        let updated = runtime::block_on(py, async move { store.update(&stored).await })?;
        Ok(StoredRecordPy { stored: updated })
    }

    /// Deletes a record; deleting a missing record succeeds.
    fn delete(&self, py: Python<'_>, job_id: String) -> PyResult<()> {
        logging::refresh_level(py);
        let store = self.store.clone();
        runtime::block_on(py, async move { store.delete(&job_id).await })
    }
}

fn state_name(state: SearchState) -> &'static str {
    match state {
        SearchState::Pending => "pending",
        SearchState::Running => "running",
        SearchState::Stuck => "stuck",
        SearchState::Completed => "completed",
        SearchState::Failed => "failed",
    }
}

fn status_json(status: &SearchStatus) -> Json {
    let failed_jobs: Vec<Value> = status
        .failed_jobs
        .iter()
        .map(|job| json!({"name": job.name, "reason": job.reason, "message": job.message}))
        .collect();
    let stuck: Vec<Value> = status
        .stuck
        .iter()
        .map(|pod| json!({"pod": pod.pod, "job": pod.job, "reason": pod.reason}))
        .collect();
    Json(json!({
        "state": state_name(status.state),
        "total": status.total,
        "active": status.active,
        "succeeded": status.succeeded,
        "failed": status.failed,
        "failed_jobs": failed_jobs,
        "stuck": stuck,
        "markers": {
            "success": status.markers.success,
            "failure": status.markers.failure,
            "results_listable": status.markers.results_listable,
        },
    }))
}

/// The Jobs and pods of one search (one `elb_job_id`) in one namespace.
#[pyclass(frozen, name = "SearchJobs", module = "elb_py._native")]
pub(crate) struct SearchJobsPy {
    search: SearchJobs,
}

#[pymethods]
impl SearchJobsPy {
    #[new]
    fn new(
        py: Python<'_>,
        client: &Bound<'_, KubeClientPy>,
        namespace: &str,
        elb_job_id: &str,
    ) -> PyResult<Self> {
        let search = SearchJobs::new(client.get().client.clone(), namespace, elb_job_id)
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self { search })
    }

    /// Creates the Jobs (dicts in the `batch/v1` Job shape); Jobs that exist are kept.
    fn submit(&self, py: Python<'_>, jobs: Vec<Bound<'_, PyAny>>) -> PyResult<Json> {
        let mut parsed: Vec<Job> = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let value = python_to_json(job)?;
            let job: Job = serde_json::from_value(value)
                .map_err(|error| invalid_input(py, format!("invalid batch/v1 Job: {error}")))?;
            parsed.push(job);
        }
        logging::refresh_level(py);
        let search = self.search.clone();
        runtime::block_on(py, async move {
            let report = search.submit(&parsed).await?;
            Ok(Json(
                json!({"created": report.created, "existing": report.existing}),
            ))
        })
    }

    /// Returns the names of the search's Jobs.
    fn list_jobs(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        logging::refresh_level(py);
        let search = self.search.clone();
        runtime::block_on(py, async move {
            let jobs = search.list_jobs().await?;
            Ok(jobs
                .into_iter()
                .filter_map(|job| job.metadata.name)
                .collect())
        })
    }

    /// Derives the search's status from its Jobs, pods and the markers under
    /// `results_prefix` (`container/path`) in `markers`.
    fn status(
        &self,
        py: Python<'_>,
        markers: &Bound<'_, BlobStorePy>,
        results_prefix: String,
    ) -> PyResult<Json> {
        let markers = BlobMarkers::new(markers.get().store.clone());
        logging::refresh_level(py);
        let search = self.search.clone();
        runtime::block_on(py, async move {
            let status = search.status(&markers, &results_prefix).await?;
            Ok(status_json(&status))
        })
    }

    /// Waits until the search completes or fails and returns its final status.
    #[pyo3(signature = (markers, results_prefix, *, timeout, marker_interval = 30.0))]
    fn wait(
        &self,
        py: Python<'_>,
        markers: &Bound<'_, BlobStorePy>,
        results_prefix: String,
        timeout: f64,
        marker_interval: f64,
    ) -> PyResult<Json> {
        let mut options = WaitOptions::new(seconds(py, "timeout", timeout)?);
        options.marker_interval = seconds(py, "marker_interval", marker_interval)?;
        let markers = BlobMarkers::new(markers.get().store.clone());
        logging::refresh_level(py);
        let search = self.search.clone();
        runtime::block_on(py, async move {
            let status = search.wait(&markers, &results_prefix, &options).await?;
            Ok(status_json(&status))
        })
    }

    /// Deletes every Job of the search and their pods; returns how many Jobs were deleted.
    #[pyo3(signature = (*, foreground = false))]
    fn delete(&self, py: Python<'_>, foreground: bool) -> PyResult<usize> {
        let propagation = if foreground {
            DeletePropagation::Foreground
        } else {
            DeletePropagation::Background
        };
        logging::refresh_level(py);
        let search = self.search.clone();
        runtime::block_on(py, async move { search.delete(propagation).await })
    }
}
