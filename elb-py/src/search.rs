//! The Jobs of one search for Python: submit, list, status, wait and delete.

use std::time::Duration;

use elb_core::blob::BlobStore;
use elb_core::k8s::search::{
    BlobMarkers, DeletePropagation, JobOutcome, SearchJobs, SearchState, SearchStatus, WaitOptions,
    delete_search,
};
use elb_core::k8s::store::JobStore;
use k8s_openapi::api::batch::v1::Job;
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::blob::BlobStorePy;
use crate::convert::{Json, invalid_input, seconds};
use crate::k8s::{KubeClientPy, python_to_json};
use crate::store::JobStorePy;
use crate::{errors, runtime};

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

fn parse_jobs(py: Python<'_>, jobs: &[Bound<'_, PyAny>]) -> PyResult<Vec<Job>> {
    let mut parsed = Vec::with_capacity(jobs.len());
    for job in jobs {
        let value = python_to_json(job)?;
        let job: Job = serde_json::from_value(value)
            .map_err(|error| invalid_input(py, format!("invalid batch/v1 Job: {error}")))?;
        parsed.push(job);
    }
    Ok(parsed)
}

async fn submit(search: SearchJobs, jobs: Vec<Job>) -> elb_core::Result<Json> {
    let report = search.submit(&jobs).await?;
    Ok(Json(
        json!({"created": report.created, "existing": report.existing}),
    ))
}

async fn list_jobs(search: SearchJobs) -> elb_core::Result<Vec<String>> {
    let jobs = search.list_jobs().await?;
    Ok(jobs
        .into_iter()
        .filter_map(|job| job.metadata.name)
        .collect())
}

async fn status(search: SearchJobs, store: BlobStore, prefix: String) -> elb_core::Result<Json> {
    let markers = BlobMarkers::new(store);
    let status = search.status(&markers, &prefix).await?;
    Ok(status_json(&status))
}

async fn wait(
    search: SearchJobs,
    store: BlobStore,
    prefix: String,
    options: WaitOptions,
) -> elb_core::Result<Json> {
    let markers = BlobMarkers::new(store);
    let status = search.wait(&markers, &prefix, &options).await?;
    Ok(status_json(&status))
}

/// Converts a Job's end state to `{"outcome": "complete" | "failed" | "removed", ...}`, with
/// `reason` and `message` for a failed Job.
fn outcome_json(outcome: JobOutcome) -> Json {
    match outcome {
        JobOutcome::Complete => Json(json!({"outcome": "complete"})),
        JobOutcome::Failed { reason, message } => {
            Json(json!({"outcome": "failed", "reason": reason, "message": message}))
        }
        JobOutcome::Removed => Json(json!({"outcome": "removed"})),
    }
}

async fn wait_job(search: SearchJobs, name: String, timeout: Duration) -> elb_core::Result<Json> {
    let outcome = search.wait_job(&name, timeout).await?;
    Ok(outcome_json(outcome))
}

async fn delete_all(
    search: SearchJobs,
    store: JobStore,
    job_id: String,
    policy: DeletePropagation,
) -> elb_core::Result<usize> {
    delete_search(&search, &store, &job_id, policy).await
}

fn wait_options(py: Python<'_>, timeout: f64, marker_interval: f64) -> PyResult<WaitOptions> {
    let mut options = WaitOptions::new(seconds(py, "timeout", timeout)?);
    options.marker_interval = seconds(py, "marker_interval", marker_interval)?;
    Ok(options)
}

fn propagation(foreground: bool) -> DeletePropagation {
    if foreground {
        DeletePropagation::Foreground
    } else {
        DeletePropagation::Background
    }
}

/// The Jobs and pods of one search (one `elb_job_id`) in one namespace.
///
/// The object keeps its `KubeClient` rather than a Rust handle, so that each call uses the
/// client of the calling process, which a child created by `fork()` connects again.
#[pyclass(frozen, name = "SearchJobs", module = "elb_py._native")]
pub(crate) struct SearchJobsPy {
    kube: Py<KubeClientPy>,
    namespace: String,
    elb_job_id: String,
}

impl SearchJobsPy {
    /// Returns the search on the Kubernetes client of the calling process.
    fn search(&self, py: Python<'_>) -> PyResult<SearchJobs> {
        let client = self.kube.get().client(py)?;
        SearchJobs::new(client, &self.namespace, &self.elb_job_id)
            .map_err(|e| errors::to_pyerr(py, &e))
    }
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
        let search = SearchJobs::new(client.get().client(py)?, namespace, elb_job_id)
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self {
            kube: client.clone().unbind(),
            namespace: search.namespace().to_owned(),
            elb_job_id: search.elb_job_id().to_owned(),
        })
    }

    /// Creates the Jobs (dicts in the `batch/v1` Job shape); Jobs that exist are kept.
    fn submit<'py>(
        &self,
        py: Python<'py>,
        jobs: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let jobs = parse_jobs(py, &jobs)?;
        runtime::call(py, false, submit(self.search(py)?, jobs))
    }

    fn submit_async<'py>(
        &self,
        py: Python<'py>,
        jobs: Vec<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let jobs = parse_jobs(py, &jobs)?;
        runtime::call(py, true, submit(self.search(py)?, jobs))
    }

    /// Returns the names of the search's Jobs.
    fn list_jobs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, list_jobs(self.search(py)?))
    }

    fn list_jobs_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, list_jobs(self.search(py)?))
    }

    /// Derives the search's status from its Jobs, pods and the markers under
    /// `results_prefix` (`container/path`) in `markers`.
    fn status<'py>(
        &self,
        py: Python<'py>,
        markers: &Bound<'py, BlobStorePy>,
        results_prefix: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = markers.get().store(py)?;
        runtime::call(py, false, status(self.search(py)?, store, results_prefix))
    }

    fn status_async<'py>(
        &self,
        py: Python<'py>,
        markers: &Bound<'py, BlobStorePy>,
        results_prefix: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = markers.get().store(py)?;
        runtime::call(py, true, status(self.search(py)?, store, results_prefix))
    }

    /// Waits until the search completes or fails and returns its final status.
    #[pyo3(signature = (markers, results_prefix, *, timeout, marker_interval = 30.0))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        markers: &Bound<'py, BlobStorePy>,
        results_prefix: String,
        timeout: f64,
        marker_interval: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = wait_options(py, timeout, marker_interval)?;
        let store = markers.get().store(py)?;
        let future = wait(self.search(py)?, store, results_prefix, options);
        runtime::call(py, false, future)
    }

    #[pyo3(signature = (markers, results_prefix, *, timeout, marker_interval = 30.0))]
    fn wait_async<'py>(
        &self,
        py: Python<'py>,
        markers: &Bound<'py, BlobStorePy>,
        results_prefix: String,
        timeout: f64,
        marker_interval: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = wait_options(py, timeout, marker_interval)?;
        let store = markers.get().store(py)?;
        let future = wait(self.search(py)?, store, results_prefix, options);
        runtime::call(py, true, future)
    }

    /// Deletes every Job of the search and their pods; returns how many Jobs were deleted.
    #[pyo3(signature = (*, foreground = false))]
    fn delete<'py>(&self, py: Python<'py>, foreground: bool) -> PyResult<Bound<'py, PyAny>> {
        let search = self.search(py)?;
        let policy = propagation(foreground);
        runtime::call(py, false, async move { search.delete(policy).await })
    }

    #[pyo3(signature = (*, foreground = false))]
    fn delete_async<'py>(&self, py: Python<'py>, foreground: bool) -> PyResult<Bound<'py, PyAny>> {
        let search = self.search(py)?;
        let policy = propagation(foreground);
        runtime::call(py, true, async move { search.delete(policy).await })
    }

    /// Waits until the Job `name` completes, fails or disappears, and returns its outcome.
    #[pyo3(signature = (name, *, timeout))]
    fn wait_job<'py>(
        &self,
        py: Python<'py>,
        name: String,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(py, "timeout", timeout)?;
        runtime::call(py, false, wait_job(self.search(py)?, name, timeout))
    }

    #[pyo3(signature = (name, *, timeout))]
    fn wait_job_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds(py, "timeout", timeout)?;
        runtime::call(py, true, wait_job(self.search(py)?, name, timeout))
    }

    /// Deletes the search: its Jobs and their pods, then the job record `job_id` in
    /// `store`, so that a failure part way leaves the record to retry from. Returns how many
    /// Jobs were deleted.
    #[pyo3(signature = (store, job_id, *, foreground = false))]
    fn delete_search<'py>(
        &self,
        py: Python<'py>,
        store: &Bound<'py, JobStorePy>,
        job_id: String,
        foreground: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = store.get().store(py)?;
        let future = delete_all(self.search(py)?, store, job_id, propagation(foreground));
        runtime::call(py, false, future)
    }

    #[pyo3(signature = (store, job_id, *, foreground = false))]
    fn delete_search_async<'py>(
        &self,
        py: Python<'py>,
        store: &Bound<'py, JobStorePy>,
        job_id: String,
        foreground: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let store = store.get().store(py)?;
        let future = delete_all(self.search(py)?, store, job_id, propagation(foreground));
        runtime::call(py, true, future)
    }
}
