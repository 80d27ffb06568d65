//! Values that each process must build for itself, such as clients with a connection pool.
//!
//! A child created by `fork()` has a copy of the parent's memory but only the thread that
//! called `fork()`. The parent's pooled connections are driven by tasks of the parent's tokio
//! runtime and registered with its I/O driver, so a request in the child that picked one of
//! them would wait forever. Each Python object that wraps such a client therefore keeps what
//! it needs to build the client again, and builds a new one the first time a child uses it.
//!
//! NOTE: a value is matched to its process by pid alone. A descendant that receives the
//! recycled pid of an ancestor that has exited would take that ancestor's values as its own.

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::Python;

/// A value and the id of the process that built it.
struct Slot<T> {
    pid: u32,
    value: Arc<T>,
}

/// A value, such as a client with a connection pool, that belongs to the process that built
/// it.
///
/// Every method takes the GIL token, so only a thread that holds the GIL takes the lock, and
/// it keeps the GIL until it releases the lock. `os.fork()` runs on a thread that holds the
/// GIL, so the lock is free in every child that `os.fork()` creates.
///
/// A value built by another process is never dropped here. Its connections are registered
/// with the parent's I/O driver, and closing them from the child would deregister the
/// parent's sockets from the epoll instance that both processes share.
pub(crate) struct PerProcess<T> {
    slot: Mutex<Slot<T>>,
}

impl<T: Clone> PerProcess<T> {
    /// Stores `value`, built by the calling process.
    pub(crate) fn new(value: T) -> Self {
        Self {
            slot: Mutex::new(Slot {
                pid: std::process::id(),
                value: Arc::new(value),
            }),
        }
    }

    /// Returns a clone of the value if the calling process built it, else `None`.
    pub(crate) fn get(&self, _py: Python<'_>) -> Option<T> {
        let slot = self.lock();
        (slot.pid == std::process::id()).then(|| T::clone(&slot.value))
    }

    /// Returns the value of the calling process, first replacing a value that another
    /// process built with the result of `build`.
    pub(crate) fn get_or_rebuild<E>(
        &self,
        py: Python<'_>,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        match self.get(py) {
            Some(value) => Ok(value),
            None => Ok(self.set(py, build()?)),
        }
    }

    /// Stores `value`, built by the calling process, in place of a value that another
    /// process built, and returns the stored value.
    ///
    /// When another thread of this process stored its value first, that value is kept and
    /// returned, so all threads share one connection pool.
    pub(crate) fn set(&self, _py: Python<'_>, value: T) -> T {
        let pid = std::process::id();
        let mut slot = self.lock();
        if slot.pid != pid {
            let stale = std::mem::replace(&mut slot.value, Arc::new(value));
            std::mem::forget(stale);
            slot.pid = pid;
        }
        T::clone(&slot.value)
    }

    /// Calls `read` with the value, whichever process built it, for fields that need no
    /// connection, such as a URL.
    pub(crate) fn peek<R>(&self, _py: Python<'_>, read: impl FnOnce(&T) -> R) -> R {
        read(&self.lock().value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Drop for PerProcess<T> {
    fn drop(&mut self) {
        let slot = self.slot.get_mut().unwrap_or_else(PoisonError::into_inner);
        if slot.pid != std::process::id() {
            // The forgotten reference keeps the parent's value alive for the life of this
            // process, so no clone of it that is dropped here closes its connections.
            std::mem::forget(Arc::clone(&slot.value));
        }
    }
}
