//! The ZIP archive of a prefix, streamed to a file path or a Python binary file object.

use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use elb_core::blob::{BlobStore, ZipOptions, ZipReport};
use pyo3::prelude::*;
use serde_json::json;
use tokio::io::AsyncWrite;

use crate::blob::BlobStorePy;
use crate::convert::{Json, invalid_input};
use crate::transfer::{patterns, progress_callback};
use crate::{logging, runtime};

fn zip_report(report: ZipReport) -> Json {
    Json(json!({
        "entries": report.entries,
        "content_bytes": report.content_bytes,
        "archive_bytes": report.archive_bytes,
        "skipped": report.skipped,
        "md5_verified": report.md5_verified,
        "elapsed": report.elapsed.as_secs_f64(),
    }))
}

/// The destination of a ZIP archive: a file path, or a Python object with a `write` method.
enum ZipTarget {
    Path(PathBuf),
    Writer(Py<PyAny>),
}

fn zip_target(output: &Bound<'_, PyAny>) -> PyResult<ZipTarget> {
    if let Ok(path) = output.extract::<PathBuf>() {
        return Ok(ZipTarget::Path(path));
    }
    if output.hasattr("write")? {
        return Ok(ZipTarget::Writer(output.clone().unbind()));
    }
    Err(invalid_input(
        output.py(),
        format!(
            "output {} is neither a path nor a binary file object: pass a str, an os.PathLike \
             or an object with a write(bytes) method",
            output.repr()?
        ),
    ))
}

async fn zip_prefix(
    store: BlobStore,
    container: String,
    prefix: String,
    options: ZipOptions,
    target: ZipTarget,
) -> elb_core::Result<Json> {
    let report = match target {
        ZipTarget::Path(path) => {
            let file = tokio::fs::File::create(&path).await.map_err(|error| {
                elb_core::Error::new(
                    elb_core::ErrorKind::InvalidInput,
                    format!("cannot create the ZIP file {}", path.display()),
                )
                .with_target(path.display().to_string())
                .with_source(error)
            })?;
            let mut file = tokio::io::BufWriter::new(file);
            let report = store
                .zip_prefix(&container, &prefix, &options, &mut file)
                .await?;
            tokio::io::AsyncWriteExt::flush(&mut file)
                .await
                .map_err(|error| {
                    elb_core::Error::new(
                        elb_core::ErrorKind::Transport,
                        format!("cannot write the ZIP file {}", path.display()),
                    )
                    .with_source(error)
                })?;
            report
        }
        ZipTarget::Writer(object) => {
            store
                .zip_prefix(&container, &prefix, &options, PythonWriter(object))
                .await?
        }
    };
    Ok(zip_report(report))
}

/// An `AsyncWrite` that passes every buffer to a Python object's `write` method.
///
/// Each write takes the GIL for the duration of the Python call, on a runtime thread.
struct PythonWriter(Py<PyAny>);

impl AsyncWrite for PythonWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Python::attach(|py| -> PyResult<usize> {
            let chunk = pyo3::types::PyBytes::new(py, buffer);
            let result = self.0.bind(py).call_method1("write", (chunk,))?;
            // Raw files may write less than asked and return the count; others return None.
            if result.is_none() {
                Ok(buffer.len())
            } else {
                result.extract::<usize>()
            }
        });
        Poll::Ready(written.map_err(|error| std::io::Error::other(error.to_string())))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[pymethods]
impl BlobStorePy {
    #[pyo3(signature = (container, prefix, output, *, include = None, exclude = None, deflate = false, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn zip_prefix(
        &self,
        py: Python<'_>,
        container: String,
        prefix: String,
        output: &Bound<'_, PyAny>,
        include: Option<&str>,
        exclude: Option<&str>,
        deflate: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Json> {
        let options = zip_options(py, include, exclude, deflate, progress)?;
        let target = zip_target(output)?;
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::block_on(py, zip_prefix(store, container, prefix, options, target))
    }

    #[pyo3(signature = (container, prefix, output, *, include = None, exclude = None, deflate = false, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn zip_prefix_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        prefix: String,
        output: &Bound<'py, PyAny>,
        include: Option<&str>,
        exclude: Option<&str>,
        deflate: bool,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = zip_options(py, include, exclude, deflate, progress)?;
        let target = zip_target(output)?;
        logging::refresh_level(py);
        let store = self.store(py)?;
        runtime::spawn_awaitable(py, zip_prefix(store, container, prefix, options, target))
    }
}

fn zip_options(
    py: Python<'_>,
    include: Option<&str>,
    exclude: Option<&str>,
    deflate: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<ZipOptions> {
    Ok(ZipOptions {
        include: patterns(py, include)?,
        exclude: patterns(py, exclude)?,
        deflate,
        progress: progress.map(progress_callback),
        ..ZipOptions::default()
    })
}
