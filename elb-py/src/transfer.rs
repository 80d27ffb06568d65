//! Directory and prefix transfers, delete-prefix and the streamed ZIP of a prefix.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use elb_core::blob::tree::{TreeOptions, TreeReport};
use elb_core::blob::{
    BlobStore, NamePatterns, ProgressCallback, ProgressEvent, ProgressStage, ZipOptions, ZipReport,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::json;
use tokio::io::AsyncWrite;

use crate::blob::BlobStorePy;
use crate::convert::{Json, invalid_input};
use crate::{errors, logging, runtime};

/// The minimum time between two forwarded progress events of the frequent stages (bytes,
/// file done, file skipped). Started, failed and finished events are always forwarded.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

fn stage_name(stage: ProgressStage) -> &'static str {
    match stage {
        ProgressStage::Started => "started",
        ProgressStage::Bytes => "bytes",
        ProgressStage::FileDone => "file_done",
        ProgressStage::FileSkipped => "file_skipped",
        ProgressStage::FileFailed => "file_failed",
        ProgressStage::Finished => "finished",
        _ => "other",
    }
}

/// Wraps a Python callable as a rate-limited progress callback.
///
/// The callable gets one `dict` per event and runs with the GIL held, on a runtime thread.
/// An exception it raises is reported through `sys.unraisablehook` and does not stop the
/// transfer.
fn progress_callback(callable: Py<PyAny>) -> ProgressCallback {
    let last_sent: Mutex<Option<Instant>> = Mutex::new(None);
    Arc::new(move |event: &ProgressEvent| {
        let frequent = matches!(
            event.stage,
            ProgressStage::Bytes | ProgressStage::FileDone | ProgressStage::FileSkipped
        );
        if frequent {
            let mut last = last_sent
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let now = Instant::now();
            if last.is_some_and(|sent| now.duration_since(sent) < PROGRESS_INTERVAL) {
                return;
            }
            *last = Some(now);
        }
        Python::attach(|py| {
            let delivered = progress_dict(py, event)
                .and_then(|dict| callable.bind(py).call1((dict,)).map(drop));
            if let Err(error) = delivered {
                error.write_unraisable(py, Some(callable.bind(py)));
            }
        });
    })
}

fn progress_dict<'py>(py: Python<'py>, event: &ProgressEvent) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("stage", stage_name(event.stage))?;
    dict.set_item("files_total", event.files_total)?;
    dict.set_item("files_done", event.files_done)?;
    dict.set_item("files_failed", event.files_failed)?;
    dict.set_item("bytes_total", event.bytes_total)?;
    dict.set_item("bytes_done", event.bytes_done)?;
    dict.set_item("file", event.file.as_deref())?;
    dict.set_item("error", event.error.as_deref().map(errors::redact_secrets))?;
    Ok(dict)
}

fn patterns(py: Python<'_>, text: Option<&str>) -> PyResult<NamePatterns> {
    match text {
        None => Ok(NamePatterns::default()),
        Some(text) => NamePatterns::parse(text).map_err(|e| errors::to_pyerr(py, &e)),
    }
}

/// The keyword arguments shared by `upload_dir` and `download_prefix`.
struct TreeArgs {
    options: TreeOptions,
    check: bool,
}

#[allow(clippy::too_many_arguments)]
fn tree_args(
    py: Python<'_>,
    include: Option<&str>,
    exclude: Option<&str>,
    overwrite: bool,
    fail_fast: bool,
    concurrency: Option<usize>,
    progress: Option<Py<PyAny>>,
    check: bool,
) -> PyResult<TreeArgs> {
    let mut options = TreeOptions {
        include: patterns(py, include)?,
        exclude: patterns(py, exclude)?,
        overwrite,
        fail_fast,
        progress: progress.map(progress_callback),
        ..TreeOptions::default()
    };
    if let Some(limit) = concurrency {
        if limit == 0 {
            return Err(invalid_input(py, "concurrency=0: pass at least 1"));
        }
        options.concurrency = limit;
    }
    Ok(TreeArgs { options, check })
}

fn tree_report(report: TreeReport) -> Json {
    let failed: Vec<serde_json::Value> = report
        .failed
        .iter()
        .map(|failure| {
            json!({
                "path": failure.path,
                "kind": failure.error.kind().as_str(),
                "error": errors::redact_secrets(&failure.error.to_string()),
            })
        })
        .collect();
    Json(json!({
        "files": report.files,
        "bytes": report.bytes,
        "skipped": report.skipped,
        "skipped_existing": report.skipped_existing,
        "failed": failed,
        "cancelled": report.cancelled,
        "elapsed": report.elapsed.as_secs_f64(),
    }))
}

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

async fn upload_dir(
    store: BlobStore,
    local_dir: PathBuf,
    container: String,
    prefix: String,
    args: TreeArgs,
) -> elb_core::Result<Json> {
    let report = store
        .upload_dir(&local_dir, &container, &prefix, &args.options)
        .await?;
    let report = if args.check {
        report.ensure_success()?
    } else {
        report
    };
    Ok(tree_report(report))
}

async fn download_prefix(
    store: BlobStore,
    container: String,
    prefix: String,
    local_dir: PathBuf,
    args: TreeArgs,
) -> elb_core::Result<Json> {
    let report = store
        .download_prefix(&container, &prefix, &local_dir, &args.options)
        .await?;
    let report = if args.check {
        report.ensure_success()?
    } else {
        report
    };
    Ok(tree_report(report))
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
    #[pyo3(signature = (local_dir, container, prefix = None, *, include = None, exclude = None, overwrite = true, fail_fast = false, concurrency = None, progress = None, check = true))]
    #[allow(clippy::too_many_arguments)]
    fn upload_dir(
        &self,
        py: Python<'_>,
        local_dir: PathBuf,
        container: String,
        prefix: Option<String>,
        include: Option<&str>,
        exclude: Option<&str>,
        overwrite: bool,
        fail_fast: bool,
        concurrency: Option<usize>,
        progress: Option<Py<PyAny>>,
        check: bool,
    ) -> PyResult<Json> {
        let args = tree_args(
            py,
            include,
            exclude,
            overwrite,
            fail_fast,
            concurrency,
            progress,
            check,
        )?;
        logging::refresh_level(py);
        let store = self.store.clone();
        let prefix = prefix.unwrap_or_default();
        runtime::block_on(py, upload_dir(store, local_dir, container, prefix, args))
    }

    #[pyo3(signature = (local_dir, container, prefix = None, *, include = None, exclude = None, overwrite = true, fail_fast = false, concurrency = None, progress = None, check = true))]
    #[allow(clippy::too_many_arguments)]
    fn upload_dir_async<'py>(
        &self,
        py: Python<'py>,
        local_dir: PathBuf,
        container: String,
        prefix: Option<String>,
        include: Option<&str>,
        exclude: Option<&str>,
        overwrite: bool,
        fail_fast: bool,
        concurrency: Option<usize>,
        progress: Option<Py<PyAny>>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = tree_args(
            py,
            include,
            exclude,
            overwrite,
            fail_fast,
            concurrency,
            progress,
            check,
        )?;
        logging::refresh_level(py);
        let store = self.store.clone();
        let prefix = prefix.unwrap_or_default();
        runtime::spawn_awaitable(py, upload_dir(store, local_dir, container, prefix, args))
    }

    #[pyo3(signature = (container, prefix, local_dir, *, include = None, exclude = None, overwrite = true, fail_fast = false, concurrency = None, progress = None, check = true))]
    #[allow(clippy::too_many_arguments)]
    fn download_prefix(
        &self,
        py: Python<'_>,
        container: String,
        prefix: String,
        local_dir: PathBuf,
        include: Option<&str>,
        exclude: Option<&str>,
        overwrite: bool,
        fail_fast: bool,
        concurrency: Option<usize>,
        progress: Option<Py<PyAny>>,
        check: bool,
    ) -> PyResult<Json> {
        let args = tree_args(
            py,
            include,
            exclude,
            overwrite,
            fail_fast,
            concurrency,
            progress,
            check,
        )?;
        logging::refresh_level(py);
        let store = self.store.clone();
        runtime::block_on(
            py,
            download_prefix(store, container, prefix, local_dir, args),
        )
    }

    #[pyo3(signature = (container, prefix, local_dir, *, include = None, exclude = None, overwrite = true, fail_fast = false, concurrency = None, progress = None, check = true))]
    #[allow(clippy::too_many_arguments)]
    fn download_prefix_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        prefix: String,
        local_dir: PathBuf,
        include: Option<&str>,
        exclude: Option<&str>,
        overwrite: bool,
        fail_fast: bool,
        concurrency: Option<usize>,
        progress: Option<Py<PyAny>>,
        check: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = tree_args(
            py,
            include,
            exclude,
            overwrite,
            fail_fast,
            concurrency,
            progress,
            check,
        )?;
        logging::refresh_level(py);
        let store = self.store.clone();
        runtime::spawn_awaitable(
            py,
            download_prefix(store, container, prefix, local_dir, args),
        )
    }

    fn delete_prefix(&self, py: Python<'_>, container: String, prefix: String) -> PyResult<usize> {
        logging::refresh_level(py);
        let store = self.store.clone();
        runtime::block_on(
            py,
            async move { store.delete_prefix(&container, &prefix).await },
        )
    }

    fn delete_prefix_async<'py>(
        &self,
        py: Python<'py>,
        container: String,
        prefix: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        logging::refresh_level(py);
        let store = self.store.clone();
        runtime::spawn_awaitable(
            py,
            async move { store.delete_prefix(&container, &prefix).await },
        )
    }

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
        let store = self.store.clone();
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
        let store = self.store.clone();
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
