//! The health report as a Python `dict`.

use std::sync::Arc;

use elb_core::health::{ContainerProbe, HealthCheck};
use pyo3::prelude::*;
use serde_json::Value;

use crate::auth::Credential;
use crate::blob::BlobStorePy;
use crate::convert::{Json, invalid_input, seconds};
use crate::k8s::{KubeClientPy, python_to_json};
use crate::runtime;

/// Builds the check from the keyword arguments of `health_report`.
#[allow(clippy::too_many_arguments)]
fn health_check(
    py: Python<'_>,
    version: String,
    config: Option<&Bound<'_, PyAny>>,
    kube: Option<&Bound<'_, KubeClientPy>>,
    credential: Option<&Bound<'_, Credential>>,
    scope: Option<String>,
    storage: Option<&Bound<'_, BlobStorePy>>,
    storage_container: Option<String>,
    timeout: Option<f64>,
) -> PyResult<HealthCheck> {
    let mut check = HealthCheck::new(version);
    if let Some(config) = config {
        match python_to_json(config)? {
            Value::Object(fields) => check = check.with_config(fields),
            _ => return Err(invalid_input(py, "config must be a dict of JSON values")),
        }
    }
    if let Some(kube) = kube {
        check = check.with_kubernetes(kube.get().client(py)?);
    }
    if let Some(credential) = credential {
        let credential = credential.get();
        check = check.with_azure_auth(credential.shared(py)?, credential.method_hook(py)?);
    }
    if let Some(scope) = scope {
        check = check.with_auth_scope(scope);
    }
    match (storage, storage_container) {
        (Some(store), Some(container)) => {
            let probe = ContainerProbe::new(store.get().store(py)?, container);
            check = check.with_storage(Arc::new(probe));
        }
        (None, None) => {}
        _ => {
            return Err(invalid_input(
                py,
                "storage and storage_container go together: pass both for a storage check",
            ));
        }
    }
    if let Some(limit) = timeout {
        check = check.with_timeout(seconds(py, "timeout", limit)?);
    }
    Ok(check)
}

async fn report(check: HealthCheck) -> elb_core::Result<Json> {
    Ok(Json(check.report().await.to_json()))
}

/// Runs the health checks concurrently and returns the report as a `dict`.
///
/// The report has `status` (`healthy` only when every check is ok, else `degraded`),
/// `version`, `config` and `checks` with `kubernetes`, `azure_auth` and, when `storage` is
/// given, `storage`. A failed or unconfigured check is `{"status": "error", "message": ...}`,
/// because `HealthCheck::report` turns every check failure into an entry of the report.
#[pyfunction]
#[pyo3(signature = (version, *, config = None, kube = None, credential = None, scope = None, storage = None, storage_container = None, timeout = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn health_report<'py>(
    py: Python<'py>,
    version: String,
    config: Option<&Bound<'py, PyAny>>,
    kube: Option<&Bound<'py, KubeClientPy>>,
    credential: Option<&Bound<'py, Credential>>,
    scope: Option<String>,
    storage: Option<&Bound<'py, BlobStorePy>>,
    storage_container: Option<String>,
    timeout: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let check = health_check(
        py,
        version,
        config,
        kube,
        credential,
        scope,
        storage,
        storage_container,
        timeout,
    )?;
    runtime::call(py, false, report(check))
}

/// Returns an awaitable of the report of `health_report`, for async web handlers.
#[pyfunction]
#[pyo3(signature = (version, *, config = None, kube = None, credential = None, scope = None, storage = None, storage_container = None, timeout = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn health_report_async<'py>(
    py: Python<'py>,
    version: String,
    config: Option<&Bound<'py, PyAny>>,
    kube: Option<&Bound<'py, KubeClientPy>>,
    credential: Option<&Bound<'py, Credential>>,
    scope: Option<String>,
    storage: Option<&Bound<'py, BlobStorePy>>,
    storage_container: Option<String>,
    timeout: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let check = health_check(
        py,
        version,
        config,
        kube,
        credential,
        scope,
        storage,
        storage_container,
        timeout,
    )?;
    runtime::call(py, true, report(check))
}
