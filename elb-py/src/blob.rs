//! The `BlobStore` class: one storage account, its authorization and single-blob operations.
//!
//! Uploads and downloads of one blob are in `content.rs`; directory and prefix transfers and
//! the ZIP of a prefix are in `transfer.rs`.

use std::path::PathBuf;

use elb_core::blob::{BlobAuth, BlobItem, BlobOptions, BlobProperties, BlobStore, RetryOptions};
use pyo3::prelude::*;
use serde_json::json;

use crate::auth::Credential;
use crate::convert::{Json, environment, invalid_input, rfc3339, seconds, tls_options};
use crate::process::PerProcess;
use crate::{errors, logging, runtime};

/// A client for one storage account.
///
/// The Rust store has a connection pool, which a child created by `fork()` cannot use, so
/// the object keeps the store's settings and the first call in a child builds a new store
/// from them.
#[pyclass(frozen, name = "BlobStore", module = "elb_py._native")]
pub(crate) struct BlobStorePy {
    store: PerProcess<BlobStore>,
    account_url: String,
    auth: AuthSettings,
    options: BlobOptions,
}

/// The authorization of a store, kept to build the store again in a child process.
enum AuthSettings {
    /// A SAS, a Shared Key or no authorization: plain values, valid in every process.
    Fixed(BlobAuth),
    /// An elb credential, whose own HTTP client is built again in a child process.
    Credential(Py<Credential>),
}

impl AuthSettings {
    fn blob_auth(&self, py: Python<'_>) -> PyResult<BlobAuth> {
        match self {
            Self::Fixed(auth) => Ok(auth.clone()),
            Self::Credential(credential) => Ok(BlobAuth::Credential(credential.get().shared(py)?)),
        }
    }
}

impl BlobStorePy {
    /// Returns the store of the calling process, building it again in a child created by
    /// `fork()`.
    pub(crate) fn store(&self, py: Python<'_>) -> PyResult<BlobStore> {
        if let Some(store) = self.store.get(py) {
            return Ok(store);
        }
        let auth = self.auth.blob_auth(py)?;
        let store = BlobStore::new(&self.account_url, auth, self.options.clone())
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(self.store.set(py, store))
    }
}

/// Returns the authorization chosen by at most one of the keyword arguments.
fn blob_auth(
    py: Python<'_>,
    credential: Option<&Bound<'_, Credential>>,
    sas: Option<String>,
    account_key: Option<String>,
    account_name: Option<String>,
    account_url: &str,
) -> PyResult<AuthSettings> {
    let chosen = usize::from(credential.is_some())
        + usize::from(sas.is_some())
        + usize::from(account_key.is_some());
    if chosen > 1 {
        return Err(invalid_input(
            py,
            "more than one of credential, sas and account_key was given: pass one",
        ));
    }
    if let Some(credential) = credential {
        return Ok(AuthSettings::Credential(credential.clone().unbind()));
    }
    if let Some(sas) = sas {
        return Ok(AuthSettings::Fixed(BlobAuth::sas(sas)));
    }
    if let Some(key) = account_key {
        let account = match account_name {
            Some(name) => name,
            None => elb_core::blob::BlobUrl::parse(account_url)
                .ok()
                .and_then(|url| url.account().map(str::to_owned))
                .ok_or_else(|| {
                    invalid_input(
                        py,
                        format!(
                            "the account name cannot be read from {account_url}: pass \
                             account_name with account_key"
                        ),
                    )
                })?,
        };
        return Ok(AuthSettings::Fixed(BlobAuth::shared_key(account, key)));
    }
    Ok(AuthSettings::Fixed(BlobAuth::Anonymous))
}

fn properties_dict(properties: BlobProperties) -> Json {
    Json(json!({
        "size": properties.size,
        "etag": properties.etag,
        "content_type": properties.content_type,
        "last_modified": properties.last_modified.and_then(rfc3339),
    }))
}

pub(crate) fn blob_item(item: BlobItem) -> serde_json::Value {
    json!({
        "name": item.name,
        "size": item.size,
        "etag": item.etag,
        "last_modified": item.last_modified.and_then(rfc3339),
        "content_type": item.content_type,
        "blob_type": item.blob_type,
    })
}

#[pymethods]
impl BlobStorePy {
    #[new]
    #[pyo3(signature = (account_url, *, credential = None, sas = None, account_key = None, account_name = None, ca_file = None, service_version = None, max_retries = None, connect_timeout = None, deadline = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        account_url: String,
        credential: Option<&Bound<'_, Credential>>,
        sas: Option<String>,
        account_key: Option<String>,
        account_name: Option<String>,
        ca_file: Option<PathBuf>,
        service_version: Option<String>,
        max_retries: Option<u32>,
        connect_timeout: Option<f64>,
        deadline: Option<f64>,
    ) -> PyResult<Self> {
        let auth = blob_auth(py, credential, sas, account_key, account_name, &account_url)?;
        let env = environment(None);
        let mut options = BlobOptions {
            tls: tls_options(py, ca_file, &env)?,
            ..BlobOptions::default()
        };
        if let Some(version) = service_version {
            options.service_version = version;
        }
        let mut retry = RetryOptions::default();
        if let Some(retries) = max_retries {
            retry.max_retries = retries;
        }
        if let Some(timeout) = connect_timeout {
            retry.connect_timeout = seconds(py, "connect_timeout", timeout)?;
        }
        if let Some(limit) = deadline {
            retry.deadline = Some(seconds(py, "deadline", limit)?);
        }
        options.retry = retry;
        let store = BlobStore::new(&account_url, auth.blob_auth(py)?, options.clone())
            .map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(Self {
            store: PerProcess::new(store),
            account_url,
            auth,
            options,
        })
    }

    /// The account URL, without a SAS.
    #[getter]
    fn account_url(&self, py: Python<'_>) -> String {
        self.store.peek(py, |store| store.account_url().to_string())
    }

    /// Returns the URL of a blob, or of the container when `name` is empty, without a SAS.
    #[pyo3(signature = (container, name = ""))]
    fn blob_url(&self, py: Python<'_>, container: &str, name: &str) -> String {
        self.store.peek(py, |store| store.blob_url(container, name))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        self.store.peek(py, |store| {
            format!("BlobStore({:?})", store.account_url().as_str())
        })
    }

    // --- properties, exists, delete_blob ---------------------------------------------

    fn properties(&self, py: Python<'_>, container: String, name: String) -> PyResult<Json> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, async move {
            Ok(properties_dict(store.properties(&container, &name).await?))
        })
    }

    fn properties_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, async move {
            Ok(properties_dict(store.properties(&container, &name).await?))
        })
    }

    fn exists(&self, py: Python<'_>, container: String, name: String) -> PyResult<bool> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, async move { store.exists(&container, &name).await })
    }

    fn exists_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, async move { store.exists(&container, &name).await })
    }

    #[pyo3(signature = (container, name, *, missing_ok = false))]
    fn delete_blob(
        &self,
        py: Python<'_>,
        container: String,
        name: String,
        missing_ok: bool,
    ) -> PyResult<bool> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, delete_blob(store, container, name, missing_ok))
    }

    #[pyo3(signature = (container, name, *, missing_ok = false))]
    fn delete_blob_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
        missing_ok: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, delete_blob(store, container, name, missing_ok))
    }

    // --- containers ------------------------------------------------------------------

    fn create_container(&self, py: Python<'_>, container: String) -> PyResult<bool> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, async move {
            store.create_container_if_missing(&container).await
        })
    }

    fn create_container_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, async move {
            store.create_container_if_missing(&container).await
        })
    }

    #[pyo3(signature = (container, *, missing_ok = false))]
    fn delete_container(
        &self,
        py: Python<'_>,
        container: String,
        missing_ok: bool,
    ) -> PyResult<bool> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, delete_container(store, container, missing_ok))
    }

    #[pyo3(signature = (container, *, missing_ok = false))]
    fn delete_container_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        missing_ok: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, delete_container(store, container, missing_ok))
    }

    // --- list_blobs ------------------------------------------------------------------

    #[pyo3(signature = (container, prefix = None))]
    fn list_blobs(
        &self,
        py: Python<'_>,
        container: String,
        prefix: Option<String>,
    ) -> PyResult<Json> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, list_blobs(store, container, prefix.unwrap_or_default()))
    }

    #[pyo3(signature = (container, prefix = None))]
    fn list_blobs_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        prefix: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, list_blobs(store, container, prefix.unwrap_or_default()))
    }
}

async fn delete_blob(
    store: BlobStore,
    container: String,
    name: String,
    missing_ok: bool,
) -> elb_core::Result<bool> {
    if missing_ok {
        store.delete_blob_if_exists(&container, &name).await
    } else {
        store.delete_blob(&container, &name).await.map(|()| true)
    }
}

async fn delete_container(
    store: BlobStore,
    container: String,
    missing_ok: bool,
) -> elb_core::Result<bool> {
    if missing_ok {
        store.delete_container_if_exists(&container).await
    } else {
        store.delete_container(&container).await.map(|()| true)
    }
}

async fn list_blobs(store: BlobStore, container: String, prefix: String) -> elb_core::Result<Json> {
    let items = store.list_blobs(&container, &prefix).await?;
    Ok(Json(serde_json::Value::Array(
        items.into_iter().map(blob_item).collect(),
    )))
}
