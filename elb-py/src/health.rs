//! The health report as a Python `dict`.

use std::sync::Arc;

use elb_core::health::{ContainerProbe, HealthCheck};
use pyo3::prelude::*;
use serde_json::Value;

use crate::auth::Credential;
use crate::blob::BlobStorePy;
use crate::convert::{Json, invalid_input, seconds};
use crate::k8s::{KubeClientPy, python_to_json};
use crate::{logging, runtime};

/// Runs the health checks concurrently and returns the report as a `dict`.
///
/// The report has `status` (`healthy` only when every check is ok, else `degraded`),
/// `version`, `config` and `checks` with `kubernetes`, `azure_auth` and, when `storage` is
/// given, `storage`. A failed or unconfigured check is `{"status": "error", "message": ...}`;
/// building the report never raises for a failed check.
#[pyfunction]
#[pyo3(signature = (version, *, config = None, kube = None, credential = None, scope = None, storage = None, storage_container = None, timeout = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn health_report(
    py: Python<'_>,
    version: String,
    config: Option<&Bound<'_, PyAny>>,
    kube: Option<&Bound<'_, KubeClientPy>>,
    credential: Option<&Bound<'_, Credential>>,
    scope: Option<String>,
    storage: Option<&Bound<'_, BlobStorePy>>,
    storage_container: Option<String>,
    timeout: Option<f64>,
) -> PyResult<Json> {
    let mut check = HealthCheck::new(version);
    if let Some(config) = config {
        match python_to_json(config)? {
            Value::Object(fields) => check = check.with_config(fields),
            _ => return Err(invalid_input(py, "config must be a dict of JSON values")),
        }
    }
    if let Some(kube) = kube {
        check = check.with_kubernetes(kube.get().client.clone());
    }
    if let Some(credential) = credential {
        let credential = credential.get();
        check = check.with_azure_auth(credential.shared(), credential.method_hook());
    }
    if let Some(scope) = scope {
        check = check.with_auth_scope(scope);
    }
    match (storage, storage_container) {
        (Some(store), Some(container)) => {
            let probe = ContainerProbe::new(store.get().store.clone(), container);
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
    logging::refresh_level(py);
    runtime::block_on(py, async move { Ok(Json(check.report().await.to_json())) })
}
