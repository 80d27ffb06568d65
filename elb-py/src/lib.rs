//! Python bindings for elb-core, imported as `elb_py`.

use pyo3::prelude::*;

/// The `elb_py._native` extension module.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
