//! The tokio runtime of the process and the two calling styles built on it.
//!
//! Blocking calls spawn their future on the runtime and wait for it with the GIL released.
//! Async calls return an `asyncio.Future` that the runtime completes through
//! `loop.call_soon_threadsafe`; cancelling that future aborts the Rust task.

use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::Duration;

use futures::FutureExt;
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

use crate::errors;

/// How often a blocked call takes the GIL back to run Python signal handlers (Ctrl-C).
const SIGNAL_POLL_INTERVAL: Duration = Duration::from_millis(100);

thread_local! {
    /// The runtime this thread used last and the id of the process that built it.
    static THREAD_RUNTIME: Cell<Option<(u32, &'static Runtime)>> = const { Cell::new(None) };
}

/// The runtime of this process and the id of the process that built it.
static PROCESS_RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

/// Returns the multi-thread runtime of the calling process, creating it on first use.
///
/// A child created by `fork()` has a copy of the parent's runtime but none of its worker
/// threads, so the first call in a child creates a new runtime. Each thread keeps the
/// runtime it used last, so the usual call costs a pid comparison and takes no lock.
/// NOTE: as with `PerProcess`, a descendant that receives the recycled pid of an exited
/// ancestor would take that ancestor's runtime as its own.
///
/// The GIL token makes every caller hold the GIL, and `os.fork()` runs on a thread that holds
/// the GIL, so no thread holds `PROCESS_RUNTIME`'s lock when the process is copied.
pub(crate) fn runtime(_py: Python<'_>) -> &'static Runtime {
    let pid = std::process::id();
    if let Some((owner, runtime)) = THREAD_RUNTIME.get()
        && owner == pid
    {
        return runtime;
    }
    let runtime = process_runtime(pid);
    THREAD_RUNTIME.set(Some((pid, runtime)));
    runtime
}

/// Returns the runtime that process `pid` built, building it if the stored one belongs to
/// another process.
fn process_runtime(pid: u32) -> &'static Runtime {
    let mut stored = PROCESS_RUNTIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, runtime)) = *stored
        && owner == pid
    {
        return runtime;
    }
    elb_core::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("elb-py-worker")
        .build()
        .expect("failed to start the elb_py runtime threads");
    // Runtimes are leaked, and the parent's one is replaced here without being dropped,
    // because dropping a runtime waits for its worker threads, which do not exist in a child.
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    *stored = Some((pid, runtime));
    runtime
}

/// The outcome of a spawned task: its own result, or the text of the panic that ended it.
type TaskOutcome<T> = Result<elb_core::Result<T>, String>;

/// Runs `future` on the shared runtime and waits for it with the GIL released.
///
/// The caller converts every argument to owned Rust values before calling, so no Python
/// object is touched while the GIL is released. A pending Python signal (Ctrl-C on the main
/// thread) aborts the task and raises the signal's exception.
pub(crate) fn block_on<F, T>(py: Python<'_>, future: F) -> PyResult<T>
where
    F: Future<Output = elb_core::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = mpsc::sync_channel::<TaskOutcome<T>>(1);
    let task = runtime(py).spawn(async move {
        let outcome = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .map_err(|panic| panic_text(panic.as_ref()));
        // The receiver is gone only when the waiting thread gave up after a signal.
        let _ = sender.send(outcome);
    });
    let abort = task.abort_handle();

    let waited: PyResult<TaskOutcome<T>> = py.detach(move || {
        loop {
            match receiver.recv_timeout(SIGNAL_POLL_INTERVAL) {
                Ok(outcome) => return Ok(outcome),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Ok(Err("the task ended without a result".to_owned()));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(signal) = Python::attach(|py| py.check_signals()) {
                        abort.abort();
                        return Err(signal);
                    }
                }
            }
        }
    });

    match waited? {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(errors::to_pyerr(py, &error)),
        Err(panic) => Err(PyRuntimeError::new_err(format!(
            "elb_py internal error: a Rust task panicked: {panic}"
        ))),
    }
}

/// Spawns `future` on the shared runtime and returns an `asyncio.Future` for its result.
///
/// The future belongs to the running event loop of the calling thread. Cancelling it aborts
/// the Rust task at its next suspension point.
///
/// # Errors
///
/// Raises `RuntimeError` when the calling thread has no running event loop.
pub(crate) fn spawn_awaitable<'py, F, T>(py: Python<'py>, future: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = elb_core::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let py_future = event_loop.call_method0("create_future")?;

    let loop_ref = event_loop.unbind();
    let future_ref = py_future.clone().unbind();
    let task = runtime(py).spawn(async move {
        let outcome = AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .map_err(|panic| panic_text(panic.as_ref()));
        Python::attach(|py| deliver(py, &loop_ref, &future_ref, outcome));
    });

    let on_done = AbortOnCancel {
        handle: task.abort_handle(),
    };
    py_future.call_method1("add_done_callback", (on_done,))?;
    Ok(py_future)
}

/// Runs `future` in the calling style the caller chose: blocking with the GIL released,
/// returning the converted result, or as an awaitable.
pub(crate) fn call<'py, F, T>(
    py: Python<'py>,
    asynchronous: bool,
    future: F,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = elb_core::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    crate::logging::refresh_level(py);
    if asynchronous {
        spawn_awaitable(py, future)
    } else {
        block_on(py, future)?.into_bound_py_any(py)
    }
}

/// Converts a task's outcome to Python and schedules it on the future's event loop.
fn deliver<T>(py: Python<'_>, event_loop: &Py<PyAny>, future: &Py<PyAny>, outcome: TaskOutcome<T>)
where
    T: for<'a> IntoPyObject<'a>,
{
    let (exception, value) = match outcome {
        Ok(Ok(value)) => match value.into_py_any(py) {
            Ok(object) => (py.None(), object),
            Err(error) => (error.into_value(py).into_any(), py.None()),
        },
        Ok(Err(error)) => (
            errors::to_pyerr(py, &error).into_value(py).into_any(),
            py.None(),
        ),
        Err(panic) => {
            let error = PyRuntimeError::new_err(format!(
                "elb_py internal error: a Rust task panicked: {panic}"
            ));
            (error.into_value(py).into_any(), py.None())
        }
    };

    let resolve = match resolve_function(py) {
        Ok(resolve) => resolve,
        Err(error) => {
            error.write_unraisable(py, None);
            return;
        }
    };
    let scheduled = event_loop.bind(py).call_method1(
        "call_soon_threadsafe",
        (resolve, future.bind(py), exception, value),
    );
    if let Err(error) = scheduled {
        // The loop was closed before the task finished, so no caller awaits the result.
        tracing::debug!(target: "elb_py::runtime", error = %error, "event loop closed before an async call finished");
    }
}

/// Returns the `_resolve_future` helper as a Python callable, created once per process.
fn resolve_function(py: Python<'_>) -> PyResult<&Bound<'_, PyCFunction>> {
    static RESOLVE: PyOnceLock<Py<PyCFunction>> = PyOnceLock::new();
    RESOLVE
        .get_or_try_init(py, || {
            wrap_pyfunction!(resolve_future, py).map(Bound::unbind)
        })
        .map(|function| function.bind(py))
}

/// Sets the result or exception of `future` unless it is already done (cancelled).
#[pyfunction]
fn resolve_future(
    future: &Bound<'_, PyAny>,
    exception: &Bound<'_, PyAny>,
    value: &Bound<'_, PyAny>,
) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if exception.is_none() {
        future.call_method1("set_result", (value,))?;
    } else {
        future.call_method1("set_exception", (exception,))?;
    }
    Ok(())
}

/// A done-callback that aborts the Rust task when its `asyncio.Future` is cancelled.
#[pyclass(frozen)]
struct AbortOnCancel {
    handle: AbortHandle,
}

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.handle.abort();
        }
        Ok(())
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-text panic payload".to_owned()
    }
}
