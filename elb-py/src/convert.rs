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
