//! Byte progress of one blob's upload or download, forwarded to a Python callable.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elb_core::blob::{BytesCallback, BytesProgress};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// Minimum time between two calls into Python while bytes move. The final call is not
/// delayed.
const CALL_INTERVAL: Duration = Duration::from_millis(100);

/// A Python callable that receives `(bytes_done, bytes_total)` of one transfer, at most every
/// [`CALL_INTERVAL`] while bytes move and once more when the transfer succeeded.
///
/// The callable runs with the GIL held, on a runtime thread. An exception it raises is
/// reported through `sys.unraisablehook` and does not stop the transfer.
pub(crate) struct BytesProgressPy {
    callable: Py<PyAny>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    done: u64,
    total: Option<u64>,
    last_call: Option<Instant>,
    /// `done` as passed in the last call, so the final call is not repeated.
    last_done: Option<u64>,
}

impl BytesProgressPy {
    /// Wraps `callable`, or raises `TypeError` when it cannot be called.
    pub(crate) fn new(py: Python<'_>, callable: Py<PyAny>) -> PyResult<Arc<Self>> {
        if !callable.bind(py).is_callable() {
            let type_name = callable.bind(py).get_type().name()?;
            return Err(PyTypeError::new_err(format!(
                "progress must be a callable taking (bytes_done, bytes_total), not '{type_name}'"
            )));
        }
        Ok(Arc::new(Self {
            callable,
            state: Mutex::new(State::default()),
        }))
    }

    /// Returns the callback for `UploadOptions::progress` or `DownloadOptions::progress`.
    pub(crate) fn callback(self: &Arc<Self>) -> BytesCallback {
        let this = Arc::clone(self);
        Arc::new(move |progress: BytesProgress| this.add(progress))
    }

    fn add(&self, progress: BytesProgress) {
        let mut state = self.lock();
        state.done += progress.bytes;
        if progress.total.is_some() {
            state.total = progress.total;
        }
        let now = Instant::now();
        if state
            .last_call
            .is_some_and(|last| now.duration_since(last) < CALL_INTERVAL)
        {
            return;
        }
        state.last_call = Some(now);
        self.call(&mut state);
    }

    /// Sends the final call with the transfer's size, unless the last call already had it.
    pub(crate) fn finish(&self, bytes: u64) {
        let mut state = self.lock();
        state.done = bytes;
        state.total = Some(bytes);
        if state.last_done == Some(bytes) {
            return;
        }
        self.call(&mut state);
    }

    /// Calls the callable with the lock held, so that calls from several runtime threads
    /// reach Python in order and `bytes_done` never goes back. No thread holds the GIL
    /// while it waits for this lock, because only runtime threads take it.
    fn call(&self, state: &mut State) {
        state.last_done = Some(state.done);
        let (done, total) = (state.done, state.total);
        Python::attach(|py| {
            let callable = self.callable.bind(py);
            if let Err(error) = callable.call1((done, total)) {
                error.write_unraisable(py, Some(callable));
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
