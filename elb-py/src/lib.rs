//! Python bindings for elb-core, imported as `elb_py`.
//!
//! Every network operation comes in two calling styles, except the `KubeClient`
//! constructors, which only block. The plain name (`upload_file`) blocks the calling thread
//! with the GIL released, so many Python threads can run operations at once. The same name
//! with an `_async` suffix (`upload_file_async`) returns an awaitable for asyncio. Both run
//! on one tokio runtime shared by the whole process.

use pyo3::prelude::*;

mod auth;
mod blob;
mod byte_progress;
mod content;
mod convert;
mod credentials;
mod errors;
mod health;
mod inline;
mod k8s;
mod listing;
mod logging;
mod process;
mod runtime;
mod search;
mod store;
mod templates;
mod transfer;
mod zip;

/// The `elb_py._native` extension module.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<auth::Credential>()?;
    module.add_class::<credentials::ClientSecretCredentialPy>()?;
    module.add_class::<credentials::WorkloadIdentityCredentialPy>()?;
    module.add_class::<credentials::ManagedIdentityCredentialPy>()?;
    module.add_class::<credentials::AzureCliCredentialPy>()?;
    module.add_class::<credentials::DefaultChainPy>()?;
    module.add_class::<blob::BlobStorePy>()?;
    module.add_class::<k8s::KubeClientPy>()?;
    module.add_class::<store::JobStorePy>()?;
    module.add_class::<store::StoredRecordPy>()?;
    module.add_class::<search::SearchJobsPy>()?;
    module.add_class::<templates::SearchSpecPy>()?;
    module.add_function(wrap_pyfunction!(templates::render_template_py, module)?)?;
    module.add_function(wrap_pyfunction!(inline::submit_inline_py, module)?)?;
    module.add_function(wrap_pyfunction!(inline::submit_inline_async, module)?)?;
    module.add_function(wrap_pyfunction!(inline::validate_fasta_py, module)?)?;
    module.add_function(wrap_pyfunction!(inline::new_job_id_py, module)?)?;
    module.add_function(wrap_pyfunction!(inline::new_elb_job_id_py, module)?)?;
    module.add_function(wrap_pyfunction!(health::health_report, module)?)?;
    module.add_function(wrap_pyfunction!(health::health_report_async, module)?)?;
    logging::install(module.py());
    Ok(())
}
