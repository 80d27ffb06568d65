//! Directory and prefix transfers, delete-prefix and the progress callback they share.
//! The streamed ZIP of a prefix is in `zip.rs`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elb_core::blob::tree::{TreeOptions, TreeReport};
use elb_core::blob::{BlobStore, NamePatterns, ProgressCallback, ProgressEvent, ProgressStage};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::json;

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
pub(crate) fn progress_callback(callable: Py<PyAny>) -> ProgressCallback {
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

pub(crate) fn patterns(py: Python<'_>, text: Option<&str>) -> PyResult<NamePatterns> {
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
        let store = self.store(py)?;
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
        let store = self.store(py)?;
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
        let store = self.store(py)?;
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
        let store = self.store(py)?;
        runtime::spawn_awaitable(
            py,
            download_prefix(store, container, prefix, local_dir, args),
        )
    }

    fn delete_prefix(&self, py: Python<'_>, container: String, prefix: String) -> PyResult<usize> {
        logging::refresh_level(py);
        let store = self.store(py)?;
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
        let store = self.store(py)?;
        runtime::spawn_awaitable(
            py,
            async move { store.delete_prefix(&container, &prefix).await },
        )
    }
}
