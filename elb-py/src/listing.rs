//! Blob listings with a delimiter for Python: blobs and the prefixes that group the rest.

use elb_core::blob::{BlobStore, ListItem, ListOptions};
use pyo3::prelude::*;
use serde_json::{Value, json};

use crate::blob::{BlobStorePy, blob_item};
use crate::convert::Json;
use crate::runtime;

async fn list(store: BlobStore, container: String, options: ListOptions) -> elb_core::Result<Json> {
    let items = store.list_all(&container, &options).await?;
    let mut blobs: Vec<Value> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    for item in items {
        match item {
            ListItem::Blob(blob) => blobs.push(blob_item(blob)),
            ListItem::Prefix(prefix) => prefixes.push(prefix),
        }
    }
    Ok(Json(json!({"blobs": blobs, "prefixes": prefixes})))
}

fn list_options(
    prefix: Option<String>,
    delimiter: Option<String>,
    page_size: Option<u32>,
) -> ListOptions {
    ListOptions {
        prefix,
        delimiter,
        page_size,
    }
}

#[pymethods]
impl BlobStorePy {
    /// Lists the blobs of `container` under `prefix`; with a `delimiter`, names that
    /// contain it after the prefix are grouped into `prefixes`, like directories.
    #[pyo3(signature = (container, *, prefix = None, delimiter = None, page_size = None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        container: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        page_size: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = list_options(prefix, delimiter, page_size);
        runtime::call(py, false, list(self.store(py)?, container, options))
    }

    #[pyo3(signature = (container, *, prefix = None, delimiter = None, page_size = None))]
    fn list_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        prefix: Option<String>,
        delimiter: Option<String>,
        page_size: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = list_options(prefix, delimiter, page_size);
        runtime::call(py, true, list(self.store(py)?, container, options))
    }
}
