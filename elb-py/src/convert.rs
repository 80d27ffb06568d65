//! Conversions of common Python arguments to owned Rust values.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use elb_core::env::{MapEnv, SharedEnv, process_env};
use elb_core::tls::TlsOptions;
use pyo3::prelude::*;

/// Returns the environment to read: the given mapping, or the process environment.
pub(crate) fn environment(env: Option<HashMap<String, String>>) -> SharedEnv {
    match env {
        Some(vars) => Arc::new(vars.into_iter().collect::<MapEnv>()),
        None => process_env(),
    }
}

/// Returns the TLS trust: the PEM file `ca_file` when given, else `SSL_CERT_FILE` in `env`.
pub(crate) fn tls_options(
    py: Python<'_>,
    ca_file: Option<PathBuf>,
    env: &SharedEnv,
) -> PyResult<TlsOptions> {
    let options = match ca_file {
        Some(path) => TlsOptions::new().with_root_certificate_file(path),
        None => TlsOptions::from_env(env.as_ref()),
    };
    options.map_err(|error| crate::errors::to_pyerr(py, &error))
}

/// Converts a number of seconds from Python to a `Duration`.
pub(crate) fn seconds(py: Python<'_>, name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        invalid_input(
            py,
            format!(
                "{name}={value} is not a valid number of seconds: pass a finite value of 0 or more"
            ),
        )
    })
}

/// Creates an `InvalidInputError` with `message`.
pub(crate) fn invalid_input(py: Python<'_>, message: impl Into<String>) -> PyErr {
    crate::errors::to_pyerr(py, &elb_core::Error::invalid_input(message))
}

/// A JSON value on its way to Python as `dict`, `list`, `str`, `int`, `float`, `bool` or
/// `None`.
pub(crate) struct Json(pub(crate) serde_json::Value);

impl<'py> IntoPyObject<'py> for Json {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        json_to_python(py, &self.0)
    }
}

/// Converts a JSON value to the equivalent Python object.
pub(crate) fn json_to_python<'py>(
    py: Python<'py>,
    value: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::IntoPyObjectExt;
    use pyo3::types::{PyDict, PyList};
    use serde_json::Value;

    match value {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(flag) => flag.into_bound_py_any(py),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                integer.into_bound_py_any(py)
            } else if let Some(integer) = number.as_u64() {
                integer.into_bound_py_any(py)
            } else {
                number.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)
            }
        }
        Value::String(text) => text.into_bound_py_any(py),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_python(py, item)?)?;
            }
            Ok(list.into_any())
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (name, field) in fields {
                dict.set_item(name, json_to_python(py, field)?)?;
            }
            Ok(dict.into_any())
        }
    }
}

/// Bytes on their way to Python as `bytes`.
pub(crate) struct BytesOut(pub(crate) bytes::Bytes);

impl<'py> IntoPyObject<'py> for BytesOut {
    type Target = pyo3::types::PyBytes;
    type Output = Bound<'py, pyo3::types::PyBytes>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        Ok(pyo3::types::PyBytes::new(py, &self.0))
    }
}

/// Formats a time as RFC 3339 (`2026-12-04T16:35:00Z`).
pub(crate) fn rfc3339(moment: time::OffsetDateTime) -> Option<String> {
    moment
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}
