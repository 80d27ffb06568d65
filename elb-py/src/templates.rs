//! Batch Job rendering for Python: ElasticBLAST's Job template, and the Jobs of a
//! `SearchSpec` built without a template.

use std::collections::BTreeMap;

use elb_core::k8s::search::{Resources, SearchSpec, TemplateInputs, render_template};
use elb_core::{Error, ErrorKind};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Toleration;
use pyo3::prelude::*;

use crate::convert::{Json, invalid_input};
use crate::errors;
use crate::k8s::python_to_json;

/// Converts Jobs to a JSON array in the `batch/v1` Job shape.
fn jobs_json(jobs: &[Job]) -> elb_core::Result<Json> {
    serde_json::to_value(jobs).map(Json).map_err(|error| {
        Error::new(
            ErrorKind::Service,
            "rendered Jobs cannot be converted to JSON",
        )
        .with_source(error)
    })
}

/// Renders ElasticBLAST's Job template `text` into one `batch/v1` Job dict per batch.
///
/// `${JOB_NUM}` and `${BLAST_ELB_BATCH_NUM}` are set per batch; every other `${NAME}` comes
/// from `variables`.
#[pyfunction(name = "render_template")]
#[pyo3(signature = (text, *, elb_job_id, program, db, batches, shard = None, variables = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn render_template_py(
    py: Python<'_>,
    text: &str,
    elb_job_id: String,
    program: String,
    db: String,
    batches: u32,
    shard: Option<String>,
    variables: Option<BTreeMap<String, String>>,
) -> PyResult<Json> {
    let inputs = TemplateInputs {
        elb_job_id,
        program,
        db,
        shard,
        batches,
        variables: variables.unwrap_or_default(),
    };
    render_template(text, &inputs)
        .and_then(|jobs| jobs_json(&jobs))
        .map_err(|e| errors::to_pyerr(py, &e))
}

fn parse_tolerations(py: Python<'_>, items: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<Toleration>> {
    let mut tolerations = Vec::with_capacity(items.len());
    for item in items {
        let value = python_to_json(&item)?;
        let toleration = serde_json::from_value(value).map_err(|error| {
            invalid_input(
                py,
                format!("invalid toleration: {error}; expected a dict like {{\"key\": \"k\", \"operator\": \"Exists\"}}"),
            )
        })?;
        tolerations.push(toleration);
    }
    Ok(tolerations)
}

/// A search's description, rendered into batch Jobs without a template.
#[pyclass(frozen, name = "SearchSpec", module = "elb_py._native")]
pub(crate) struct SearchSpecPy {
    spec: SearchSpec,
}

#[pymethods]
impl SearchSpecPy {
    #[new]
    #[pyo3(signature = (
        *, elb_job_id, program, db, queries, results, batches, image, blast_options = None,
        shard = None, cpu_request = None, cpu_limit = None, memory_request = None,
        memory_limit = None, node_selector = None, tolerations = None,
        ttl_seconds_after_finished = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        elb_job_id: String,
        program: String,
        db: String,
        queries: String,
        results: String,
        batches: u32,
        image: String,
        blast_options: Option<String>,
        shard: Option<String>,
        cpu_request: Option<String>,
        cpu_limit: Option<String>,
        memory_request: Option<String>,
        memory_limit: Option<String>,
        node_selector: Option<BTreeMap<String, String>>,
        tolerations: Option<Vec<Bound<'_, PyAny>>>,
        ttl_seconds_after_finished: Option<i32>,
    ) -> PyResult<Self> {
        let spec = SearchSpec {
            elb_job_id,
            program,
            db,
            shard,
            queries,
            results,
            blast_options: blast_options.unwrap_or_default(),
            batches,
            image,
            resources: Resources {
                cpu_request,
                cpu_limit,
                memory_request,
                memory_limit,
            },
            node_selector: node_selector.unwrap_or_default(),
            tolerations: parse_tolerations(py, tolerations.unwrap_or_default())?,
            ttl_seconds_after_finished,
        };
        spec.validate().map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self { spec })
    }

    /// ElasticBLAST search id.
    #[getter]
    fn elb_job_id(&self) -> String {
        self.spec.elb_job_id.clone()
    }

    /// Number of query batches, one Job each.
    #[getter]
    fn batches(&self) -> u32 {
        self.spec.batches
    }

    /// Renders one `batch/v1` Job dict per query batch.
    fn batch_jobs(&self, py: Python<'_>) -> PyResult<Json> {
        self.spec
            .batch_jobs()
            .and_then(|jobs| jobs_json(&jobs))
            .map_err(|e| errors::to_pyerr(py, &e))
    }

    fn __repr__(&self) -> String {
        format!(
            "SearchSpec(elb_job_id={:?}, program={:?}, db={:?}, batches={})",
            self.spec.elb_job_id, self.spec.program, self.spec.db, self.spec.batches
        )
    }
}
