//! Searches with inline FASTA queries (mode `B`) for Python: the FASTA check, new ids, and
//! the submission that uploads the queries and creates the job record.

use elb_core::blob::BlobStore;
use elb_core::k8s::store::{JobRecord, JobStore};
use elb_core::search::{
    InlineSubmission, new_elb_job_id, new_job_id, submit_inline, validate_fasta,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::json;

use crate::blob::BlobStorePy;
use crate::content::upload_report;
use crate::convert::{Json, invalid_input};
use crate::store::{JobStorePy, StoredRecordPy, parse_record};
use crate::{errors, runtime};

/// A finished inline submission on its way to Python as a dict.
struct Submitted(InlineSubmission);

impl<'py> IntoPyObject<'py> for Submitted {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let submission = self.0;
        let dict = PyDict::new(py);
        dict.set_item(
            "record",
            StoredRecordPy {
                stored: submission.stored,
            },
        )?;
        dict.set_item("queries_url", submission.queries_url)?;
        dict.set_item("sequences", submission.fasta.sequences)?;
        dict.set_item("bytes", submission.fasta.bytes)?;
        dict.set_item("upload", upload_report(submission.upload))?;
        Ok(dict)
    }
}

/// Returns the FASTA text as bytes, from `str` (encoded as UTF-8) or a bytes-like object.
fn fasta_bytes(fasta: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(text) = fasta.cast::<PyString>() {
        return Ok(text.to_str()?.as_bytes().to_vec());
    }
    fasta.extract::<Vec<u8>>().map_err(|_| {
        invalid_input(
            fasta.py(),
            "fasta must be str or bytes: pass the FASTA text of the queries",
        )
    })
}

async fn submit(
    blobs: BlobStore,
    jobs: JobStore,
    record: JobRecord,
    fasta: Vec<u8>,
) -> elb_core::Result<Submitted> {
    submit_inline(&blobs, &jobs, record, fasta)
        .await
        .map(Submitted)
}

fn prepare(record: &Bound<'_, PyAny>, fasta: &Bound<'_, PyAny>) -> PyResult<(JobRecord, Vec<u8>)> {
    Ok((parse_record(record)?, fasta_bytes(fasta)?))
}

/// Uploads inline FASTA queries to `queries/<job_id>.fa` and creates the job record in mode
/// `B`, with the blob URL in its `queries` field.
#[pyfunction(name = "submit_inline")]
pub(crate) fn submit_inline_py<'py>(
    py: Python<'py>,
    blobs: &Bound<'py, BlobStorePy>,
    jobs: &Bound<'py, JobStorePy>,
    record: &Bound<'py, PyAny>,
    fasta: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let (record, fasta) = prepare(record, fasta)?;
    let future = submit(blobs.get().store(py)?, jobs.get().store(py)?, record, fasta);
    runtime::call(py, false, future)
}

/// Awaitable form of `submit_inline`.
#[pyfunction]
pub(crate) fn submit_inline_async<'py>(
    py: Python<'py>,
    blobs: &Bound<'py, BlobStorePy>,
    jobs: &Bound<'py, JobStorePy>,
    record: &Bound<'py, PyAny>,
    fasta: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let (record, fasta) = prepare(record, fasta)?;
    let future = submit(blobs.get().store(py)?, jobs.get().store(py)?, record, fasta);
    runtime::call(py, true, future)
}

/// Checks that `fasta` looks like FASTA and counts its sequences and bytes.
#[pyfunction(name = "validate_fasta")]
pub(crate) fn validate_fasta_py(fasta: &Bound<'_, PyAny>) -> PyResult<Json> {
    let text = fasta_bytes(fasta)?;
    let summary = validate_fasta(&text).map_err(|e| errors::to_pyerr(fasta.py(), &e))?;
    Ok(Json(
        json!({"sequences": summary.sequences, "bytes": summary.bytes}),
    ))
}

/// Creates a random job store id of 12 lowercase hex digits.
#[pyfunction(name = "new_job_id")]
pub(crate) fn new_job_id_py() -> String {
    new_job_id()
}

/// Creates a random ElasticBLAST search id: `job-` and 32 lowercase hex digits.
#[pyfunction(name = "new_elb_job_id")]
pub(crate) fn new_elb_job_id_py() -> String {
    new_elb_job_id()
}
