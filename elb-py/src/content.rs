//! Uploads and downloads of one blob's content, as methods of `BlobStore`.

use std::path::PathBuf;

use bytes::Bytes;
use elb_core::blob::{
    DownloadOptions, DownloadReport, TransactionalChecksum, UploadOptions, UploadReport,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use serde_json::json;

use crate::blob::BlobStorePy;
use crate::byte_progress::BytesProgressPy;
use crate::convert::{BytesOut, Json, invalid_input};
use crate::{logging, runtime};

pub(crate) fn upload_report(report: UploadReport) -> Json {
    Json(json!({
        "bytes": report.bytes,
        "blocks": report.blocks,
        "etag": report.etag,
        "content_md5": report.content_md5.map(hex_digest),
    }))
}

fn download_report(report: &DownloadReport) -> serde_json::Value {
    json!({
        "bytes": report.bytes,
        "etag": report.etag,
        "content_md5": report.content_md5.map(hex_digest),
        "verified": report.verified,
    })
}

fn hex_digest(digest: [u8; 16]) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Settings of `upload_file` and `upload_bytes` from their keyword arguments.
fn upload_options(
    py: Python<'_>,
    overwrite: bool,
    content_type: Option<String>,
    block_size: Option<u64>,
    concurrency: Option<usize>,
    put_md5: bool,
    checksum: &str,
) -> PyResult<UploadOptions> {
    let transactional_checksum = match checksum {
        "auto" => TransactionalChecksum::Auto,
        "md5" => TransactionalChecksum::Md5,
        "crc64" => TransactionalChecksum::Crc64,
        "none" => TransactionalChecksum::None,
        other => {
            return Err(invalid_input(
                py,
                format!(
                    "checksum={other:?} is not supported: use \"auto\", \"md5\", \"crc64\" or \"none\""
                ),
            ));
        }
    };
    let mut options = UploadOptions {
        overwrite,
        content_type,
        put_md5,
        transactional_checksum,
        ..UploadOptions::default()
    };
    if let Some(size) = block_size {
        if size == 0 {
            return Err(invalid_input(
                py,
                "block_size=0: pass a size in bytes of at least 1",
            ));
        }
        options.block_size = size;
    }
    if let Some(limit) = concurrency {
        if limit == 0 {
            return Err(invalid_input(py, "concurrency=0: pass at least 1"));
        }
        options.concurrency = limit;
    }
    Ok(options)
}

/// Settings of `download_file` and `download_bytes` from their keyword arguments.
fn download_options(
    py: Python<'_>,
    range_size: Option<u64>,
    concurrency: Option<usize>,
    verify_md5: bool,
) -> PyResult<DownloadOptions> {
    let mut options = DownloadOptions {
        verify_md5,
        ..DownloadOptions::default()
    };
    if let Some(size) = range_size {
        if size == 0 {
            return Err(invalid_input(
                py,
                "range_size=0: pass a size in bytes of at least 1",
            ));
        }
        options.range_size = size;
    }
    if let Some(limit) = concurrency {
        if limit == 0 {
            return Err(invalid_input(py, "concurrency=0: pass at least 1"));
        }
        options.concurrency = limit;
    }
    Ok(options)
}

/// Wraps the `progress` keyword argument of `upload_file` and `download_file`.
fn byte_progress(
    py: Python<'_>,
    callable: Option<Py<PyAny>>,
) -> PyResult<Option<std::sync::Arc<BytesProgressPy>>> {
    callable
        .map(|callable| BytesProgressPy::new(py, callable))
        .transpose()
}

#[pymethods]
impl BlobStorePy {
    // --- upload_file -----------------------------------------------------------------

    #[pyo3(signature = (container, name, path, *, overwrite = true, content_type = None, block_size = None, concurrency = None, put_md5 = true, checksum = "auto", progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn upload_file(
        &self,
        py: Python<'_>,
        container: String,
        name: String,
        path: PathBuf,
        overwrite: bool,
        content_type: Option<String>,
        block_size: Option<u64>,
        concurrency: Option<usize>,
        put_md5: bool,
        checksum: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Json> {
        let mut options = upload_options(
            py,
            overwrite,
            content_type,
            block_size,
            concurrency,
            put_md5,
            checksum,
        )?;
        let progress = byte_progress(py, progress)?;
        options.progress = progress.as_ref().map(BytesProgressPy::callback);
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, async move {
            let report = store
                .upload_file(&container, &name, &path, &options)
                .await?;
            if let Some(progress) = &progress {
                progress.finish(report.bytes);
            }
            Ok(upload_report(report))
        })
    }

    #[pyo3(signature = (container, name, path, *, overwrite = true, content_type = None, block_size = None, concurrency = None, put_md5 = true, checksum = "auto", progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn upload_file_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
        path: PathBuf,
        overwrite: bool,
        content_type: Option<String>,
        block_size: Option<u64>,
        concurrency: Option<usize>,
        put_md5: bool,
        checksum: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut options = upload_options(
            py,
            overwrite,
            content_type,
            block_size,
            concurrency,
            put_md5,
            checksum,
        )?;
        let progress = byte_progress(py, progress)?;
        options.progress = progress.as_ref().map(BytesProgressPy::callback);
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, async move {
            let report = store
                .upload_file(&container, &name, &path, &options)
                .await?;
            if let Some(progress) = &progress {
                progress.finish(report.bytes);
            }
            Ok(upload_report(report))
        })
    }

    // --- upload_bytes ----------------------------------------------------------------

    #[pyo3(signature = (container, name, data, *, overwrite = true, content_type = None, put_md5 = true, checksum = "auto"))]
    #[allow(clippy::too_many_arguments)]
    fn upload_bytes(
        &self,
        py: Python<'_>,
        container: String,
        name: String,
        data: PyBackedBytes,
        overwrite: bool,
        content_type: Option<String>,
        put_md5: bool,
        checksum: &str,
    ) -> PyResult<Json> {
        let options = upload_options(py, overwrite, content_type, None, None, put_md5, checksum)?;
        logging::refresh_level(py);
        let store = self.store(py)?;
        let data = Bytes::from_owner(data);
        runtime::block_on(py, async move {
            let report = store
                .upload_bytes(&container, &name, data, &options)
                .await?;
            Ok(upload_report(report))
        })
    }

    #[pyo3(signature = (container, name, data, *, overwrite = true, content_type = None, put_md5 = true, checksum = "auto"))]
    #[allow(clippy::too_many_arguments)]
    fn upload_bytes_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
        data: PyBackedBytes,
        overwrite: bool,
        content_type: Option<String>,
        put_md5: bool,
        checksum: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = upload_options(py, overwrite, content_type, None, None, put_md5, checksum)?;
        logging::refresh_level(py);
        let store = self.store(py)?;
        let data = Bytes::from_owner(data);
        runtime::spawn_awaitable(py, async move {
            let report = store
                .upload_bytes(&container, &name, data, &options)
                .await?;
            Ok(upload_report(report))
        })
    }

    // --- download_file ---------------------------------------------------------------

    #[pyo3(signature = (container, name, path, *, range_size = None, concurrency = None, verify_md5 = true, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn download_file(
        &self,
        py: Python<'_>,
        container: String,
        name: String,
        path: PathBuf,
        range_size: Option<u64>,
        concurrency: Option<usize>,
        verify_md5: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Json> {
        let mut options = download_options(py, range_size, concurrency, verify_md5)?;
        let progress = byte_progress(py, progress)?;
        options.progress = progress.as_ref().map(BytesProgressPy::callback);
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, async move {
            let report = store
                .download_file(&container, &name, &path, &options)
                .await?;
            if let Some(progress) = &progress {
                progress.finish(report.bytes);
            }
            Ok(Json(download_report(&report)))
        })
    }

    #[pyo3(signature = (container, name, path, *, range_size = None, concurrency = None, verify_md5 = true, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn download_file_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
        path: PathBuf,
        range_size: Option<u64>,
        concurrency: Option<usize>,
        verify_md5: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut options = download_options(py, range_size, concurrency, verify_md5)?;
        let progress = byte_progress(py, progress)?;
        options.progress = progress.as_ref().map(BytesProgressPy::callback);
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, async move {
            let report = store
                .download_file(&container, &name, &path, &options)
                .await?;
            if let Some(progress) = &progress {
                progress.finish(report.bytes);
            }
            Ok(Json(download_report(&report)))
        })
    }

    // --- download_bytes --------------------------------------------------------------

    #[pyo3(signature = (container, name, *, range_size = None, concurrency = None, verify_md5 = true))]
    fn download_bytes(
        &self,
        py: Python<'_>,
        container: String,
        name: String,
        range_size: Option<u64>,
        concurrency: Option<usize>,
        verify_md5: bool,
    ) -> PyResult<BytesOut> {
        let options = download_options(py, range_size, concurrency, verify_md5)?;
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, async move {
            let (data, _) = store.download_bytes(&container, &name, &options).await?;
            Ok(BytesOut(data))
        })
    }

    #[pyo3(signature = (container, name, *, range_size = None, concurrency = None, verify_md5 = true))]
    fn download_bytes_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        name: String,
        range_size: Option<u64>,
        concurrency: Option<usize>,
        verify_md5: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = download_options(py, range_size, concurrency, verify_md5)?;
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, async move {
            let (data, _) = store.download_bytes(&container, &name, &options).await?;
            Ok(BytesOut(data))
        })
    }
}
