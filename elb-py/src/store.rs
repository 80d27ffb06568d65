//! The job store for Python: one ConfigMap per job record, written at the
//! `resourceVersion` it was read at.

use std::sync::{Arc, Mutex};

use elb_core::k8s::store::{JobRecord, JobStatus, JobStore, StoredRecord};
use elb_core::{Error, ErrorKind};
use pyo3::prelude::*;
use serde_json::Value;

use crate::convert::{Json, invalid_input, json_to_python};
use crate::k8s::{KubeClientPy, python_to_json};
use crate::{errors, runtime};

/// A job record as read from the cluster, with the `resourceVersion` it was read at.
#[pyclass(frozen, name = "StoredRecord", module = "elb_py._native")]
pub(crate) struct StoredRecordPy {
    pub(crate) stored: StoredRecord,
}

fn record_json(record: &JobRecord) -> elb_core::Result<Value> {
    serde_json::to_value(record).map_err(|error| {
        Error::new(ErrorKind::Service, "job record cannot be converted to JSON").with_source(error)
    })
}

pub(crate) fn parse_record(record: &Bound<'_, PyAny>) -> PyResult<JobRecord> {
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

/// The job records of one namespace, one ConfigMap per job.
///
/// The object keeps its `KubeClient` rather than a Rust store, so that each call uses the
/// client of the calling process, which a child created by `fork()` connects again.
#[pyclass(frozen, name = "JobStore", module = "elb_py._native")]
pub(crate) struct JobStorePy {
    kube: Py<KubeClientPy>,
    namespace: String,
}

impl JobStorePy {
    /// Returns the store on the Kubernetes client of the calling process.
    pub(crate) fn store(&self, py: Python<'_>) -> PyResult<JobStore> {
        let client = self.kube.get().client(py)?;
        JobStore::new(client, &self.namespace).map_err(|e| errors::to_pyerr(py, &e))
    }
}

async fn create(store: JobStore, record: JobRecord) -> elb_core::Result<StoredRecordPy> {
    let stored = store.create(&record).await?;
    Ok(StoredRecordPy { stored })
}

async fn get(store: JobStore, job_id: String) -> elb_core::Result<StoredRecordPy> {
    let stored = store.get(&job_id).await?;
    Ok(StoredRecordPy { stored })
}

async fn list(store: JobStore, status: Option<JobStatus>) -> elb_core::Result<Vec<StoredRecordPy>> {
    let records = store.list(status).await?;
    Ok(records
        .into_iter()
        .map(|stored| StoredRecordPy { stored })
        .collect())
}

async fn update(store: JobStore, stored: StoredRecord) -> elb_core::Result<StoredRecordPy> {
    let updated = store.update(&stored).await?;
    Ok(StoredRecordPy { stored: updated })
}

/// The result of `update_with`: the written record, or the exception that the Python
/// function raised, re-raised unchanged in the caller.
enum UpdateOutcome {
    Written(Box<StoredRecordPy>),
    Raised(PyErr),
}

impl<'py> IntoPyObject<'py> for UpdateOutcome {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        match self {
            Self::Written(stored) => Ok(Bound::new(py, *stored)?.into_any()),
            Self::Raised(error) => Err(error),
        }
    }
}

/// Calls `change` with the record as a dict and reads the edited record back: the dict
/// that `change` returns, or the argument it edited in place when it returns `None`.
fn apply_change(py: Python<'_>, change: &Py<PyAny>, record: &mut JobRecord) -> PyResult<()> {
    let value = record_json(record).map_err(|e| errors::to_pyerr(py, &e))?;
    let argument = json_to_python(py, &value)?;
    let returned = change.bind(py).call1((&argument,))?;
    let edited = if returned.is_none() {
        argument
    } else {
        returned
    };
    let edited = parse_record(&edited)?;
    if edited.job_id != record.job_id {
        return Err(invalid_input(
            py,
            format!(
                "the update function changed job_id from {:?} to {:?}: a record keeps its id",
                record.job_id, edited.job_id
            ),
        ));
    }
    *record = edited;
    Ok(())
}

async fn update_with(
    store: JobStore,
    job_id: String,
    change: Py<PyAny>,
) -> elb_core::Result<UpdateOutcome> {
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
    let slot = raised.clone();
    let record_id = job_id.clone();
    let result = store
        .update_with(&job_id, move |record| {
            // The callable may wait for the GIL or make blocking elb_py calls itself, so the
            // worker hands its queued tasks to another thread while the callable runs.
            let applied = tokio::task::block_in_place(|| {
                Python::attach(|py| apply_change(py, &change, record))
            });
            applied.map_err(|error| {
                let message = format!("the update function of job record {record_id} raised");
                *slot.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(error);
                Error::new(ErrorKind::InvalidInput, message)
            })
        })
        .await;
    let exception = raised
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take();
    match (result, exception) {
        (Ok(stored), _) => Ok(UpdateOutcome::Written(Box::new(StoredRecordPy { stored }))),
        (Err(_), Some(exception)) => Ok(UpdateOutcome::Raised(exception)),
        (Err(error), None) => Err(error),
    }
}

async fn delete(store: JobStore, job_id: String) -> elb_core::Result<()> {
    store.delete(&job_id).await
}

#[pymethods]
impl JobStorePy {
    #[new]
    fn new(py: Python<'_>, client: &Bound<'_, KubeClientPy>, namespace: &str) -> PyResult<Self> {
        let store = JobStore::new(client.get().client(py)?, namespace)
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self {
            kube: client.clone().unbind(),
            namespace: store.namespace().to_owned(),
        })
    }

    /// The namespace of the records.
    #[getter]
    fn namespace(&self) -> String {
        self.namespace.clone()
    }

    /// Creates a record from a dict.
    fn create<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let record = parse_record(record)?;
        runtime::call(py, false, create(self.store(py)?, record))
    }

    fn create_async<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let record = parse_record(record)?;
        runtime::call(py, true, create(self.store(py)?, record))
    }

    /// Reads a record.
    fn get<'py>(&self, py: Python<'py>, job_id: String) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, get(self.store(py)?, job_id))
    }

    fn get_async<'py>(&self, py: Python<'py>, job_id: String) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, get(self.store(py)?, job_id))
    }

    /// Lists the records, all of them or those with `status`.
    #[pyo3(signature = (status = None))]
    fn list<'py>(&self, py: Python<'py>, status: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let status = status.map(|text| parse_status(py, text)).transpose()?;
        runtime::call(py, false, list(self.store(py)?, status))
    }

    #[pyo3(signature = (status = None))]
    fn list_async<'py>(
        &self,
        py: Python<'py>,
        status: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let status = status.map(|text| parse_status(py, text)).transpose()?;
        runtime::call(py, true, list(self.store(py)?, status))
    }

    /// Writes a record back, provided no other writer changed it since it was read.
    fn update<'py>(
        &self,
        py: Python<'py>,
        stored: &Bound<'py, StoredRecordPy>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let stored = stored.get().stored.clone();
        runtime::call(py, false, update(self.store(py)?, stored))
    }

    fn update_async<'py>(
        &self,
        py: Python<'py>,
        stored: &Bound<'py, StoredRecordPy>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let stored = stored.get().stored.clone();
        runtime::call(py, true, update(self.store(py)?, stored))
    }

    /// Reads the record, calls `change` with it as a dict and writes the result back,
    /// calling `change` again on a fresh copy when another writer changed the record.
    fn update_with<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        change: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, update_with(self.store(py)?, job_id, change))
    }

    fn update_with_async<'py>(
        &self,
        py: Python<'py>,
        job_id: String,
        change: Py<PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, update_with(self.store(py)?, job_id, change))
    }

    /// Deletes a record; deleting a missing record succeeds.
    fn delete<'py>(&self, py: Python<'py>, job_id: String) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, false, delete(self.store(py)?, job_id))
    }

    fn delete_async<'py>(&self, py: Python<'py>, job_id: String) -> PyResult<Bound<'py, PyAny>> {
        runtime::call(py, true, delete(self.store(py)?, job_id))
    }
}
