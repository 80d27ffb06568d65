//! Progress of transfers: byte counts of one blob's upload or download ([`BytesCallback`])
//! and events of multi-file transfers ([`ProgressEvent`]).
//!
//! A multi-file transfer reports a [`ProgressEvent`] when it starts, when each file finishes
//! or fails, at most every [`BYTES_EVENT_INTERVAL`] while bytes move, and once at the end.
//! Every event carries the running totals, so a caller can draw a progress bar from any
//! single event.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A callback that receives progress events; it runs on the transfer's tasks, so keep it short.
pub type ProgressCallback = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// A callback that receives the bytes of one blob's upload or download as they become safe:
/// a block after its `Put Block` succeeded, a `Put Blob` after it succeeded, a range after it
/// was written to its destination. Bytes of a retried request are passed once. It runs on
/// the transfer's tasks, possibly on several threads at once, so keep it short.
pub type BytesCallback = Arc<dyn Fn(BytesProgress) + Send + Sync>;

/// One call of a [`BytesCallback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BytesProgress {
    /// Bytes that completed since the previous call; never 0.
    pub bytes: u64,
    /// The content's size in bytes, or `None` while it is unknown (an upload from a reader
    /// that needs more than one block).
    pub total: Option<u64>,
}

/// Passes `bytes` to `callback` unless there is no callback or `bytes` is 0.
pub(crate) fn report_bytes(callback: Option<&BytesCallback>, bytes: u64, total: Option<u64>) {
    if let Some(callback) = callback
        && bytes > 0
    {
        callback(BytesProgress { bytes, total });
    }
}

/// Minimum time between two [`ProgressStage::Bytes`] events of one transfer.
pub const BYTES_EVENT_INTERVAL: Duration = Duration::from_millis(100);

/// The cause of a [`ProgressEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressStage {
    /// The file list is known and the totals are set; no data has moved yet.
    Started,
    /// Bytes moved since the previous event.
    Bytes,
    /// [`ProgressEvent::file`] finished.
    FileDone,
    /// [`ProgressEvent::file`] was not transferred because its destination exists; it
    /// counts as done.
    FileSkipped,
    /// [`ProgressEvent::file`] failed, and [`ProgressEvent::error`] contains the reason.
    FileFailed,
    /// Every file finished, failed or was cancelled; this is the last event.
    Finished,
}

/// A snapshot of a multi-file transfer's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProgressEvent {
    /// The cause of this event.
    pub stage: ProgressStage,
    /// Number of files selected for transfer.
    pub files_total: u64,
    /// Number of files transferred, or skipped because their destination exists, so far.
    pub files_done: u64,
    /// Number of files that failed so far.
    pub files_failed: u64,
    /// Sum of the sizes of the selected files, in bytes.
    pub bytes_total: u64,
    /// Bytes transferred so far, including those of files that later failed.
    pub bytes_done: u64,
    /// The file that finished or failed (its path relative to the directory or prefix).
    pub file: Option<String>,
    /// The error message of a failed file.
    pub error: Option<String>,
}

impl fmt::Display for ProgressEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} files, {}/{} bytes",
            self.files_done, self.files_total, self.bytes_done, self.bytes_total
        )?;
        if self.files_failed > 0 {
            write!(f, ", {} failed", self.files_failed)?;
        }
        Ok(())
    }
}

/// Shared counters of one transfer that turn updates into [`ProgressEvent`]s.
///
/// Counters are atomics so tasks update them without a lock. Only the decision to emit a
/// bytes event takes a short lock.
pub(crate) struct ProgressTracker {
    callback: Option<ProgressCallback>,
    files_total: u64,
    bytes_total: u64,
    files_done: AtomicU64,
    files_failed: AtomicU64,
    bytes_done: AtomicU64,
    last_bytes_event: Mutex<Instant>,
}

impl ProgressTracker {
    /// Creates a tracker with the totals and sends the [`ProgressStage::Started`] event.
    pub(crate) fn start(
        callback: Option<ProgressCallback>,
        files_total: u64,
        bytes_total: u64,
    ) -> Self {
        let tracker = Self {
            callback,
            files_total,
            bytes_total,
            files_done: AtomicU64::new(0),
            files_failed: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            last_bytes_event: Mutex::new(Instant::now()),
        };
        tracker.emit(ProgressStage::Started, None, None);
        tracker
    }

    /// Adds bytes that moved, and sends a bytes event when the interval has passed.
    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        if self.callback.is_none() {
            return;
        }
        let due = {
            let mut last = self
                .last_bytes_event
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            let due = now.duration_since(*last) >= BYTES_EVENT_INTERVAL;
            if due {
                *last = now;
            }
            due
        };
        if due {
            self.emit(ProgressStage::Bytes, None, None);
        }
    }

    /// Records a finished file and sends a [`ProgressStage::FileDone`] event.
    ///
    /// `unreported_bytes` is the part of the file's size not yet passed to `add_bytes`.
    pub(crate) fn file_done(&self, file: &str, unreported_bytes: u64) {
        self.bytes_done
            .fetch_add(unreported_bytes, Ordering::Relaxed);
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.emit(ProgressStage::FileDone, Some(file), None);
    }

    /// Records a file skipped because its destination exists, and sends a
    /// [`ProgressStage::FileSkipped`] event; its size counts as done.
    ///
    /// `unreported_bytes` is the part of the file's size not yet passed to `add_bytes`.
    pub(crate) fn file_skipped(&self, file: &str, unreported_bytes: u64) {
        self.bytes_done
            .fetch_add(unreported_bytes, Ordering::Relaxed);
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.emit(ProgressStage::FileSkipped, Some(file), None);
    }

    /// Records a failed file and sends a [`ProgressStage::FileFailed`] event.
    pub(crate) fn file_failed(&self, file: &str, error: &crate::Error) {
        self.files_failed.fetch_add(1, Ordering::Relaxed);
        self.emit(
            ProgressStage::FileFailed,
            Some(file),
            Some(error.to_string()),
        );
    }

    /// Sends the [`ProgressStage::Finished`] event.
    pub(crate) fn finish(&self) {
        self.emit(ProgressStage::Finished, None, None);
    }

    /// Returns the current snapshot as an event of `stage`.
    pub(crate) fn snapshot(&self, stage: ProgressStage) -> ProgressEvent {
        ProgressEvent {
            stage,
            files_total: self.files_total,
            files_done: self.files_done.load(Ordering::Relaxed),
            files_failed: self.files_failed.load(Ordering::Relaxed),
            bytes_total: self.bytes_total,
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            file: None,
            error: None,
        }
    }

    fn emit(&self, stage: ProgressStage, file: Option<&str>, error: Option<String>) {
        if let Some(callback) = &self.callback {
            let mut event = self.snapshot(stage);
            event.file = file.map(str::to_owned);
            event.error = error;
            callback(&event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording() -> (ProgressCallback, Arc<Mutex<Vec<ProgressEvent>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let callback: ProgressCallback = Arc::new(move |event: &ProgressEvent| {
            sink.lock().unwrap().push(event.clone());
        });
        (callback, events)
    }

    #[test]
    fn events_carry_running_totals() {
        let (callback, events) = recording();
        let tracker = ProgressTracker::start(Some(callback), 3, 60);
        tracker.file_done("a", 10);
        tracker.file_failed("b", &crate::Error::invalid_input("bad name"));
        tracker.file_done("c", 30);
        tracker.finish();

        let events = events.lock().unwrap();
        let stages: Vec<_> = events.iter().map(|event| event.stage).collect();
        assert_eq!(
            stages,
            [
                ProgressStage::Started,
                ProgressStage::FileDone,
                ProgressStage::FileFailed,
                ProgressStage::FileDone,
                ProgressStage::Finished,
            ]
        );
        assert_eq!(events[1].file.as_deref(), Some("a"));
        assert_eq!(events[1].bytes_done, 10);
        assert_eq!(events[2].error.as_deref(), Some("bad name"));
        assert_eq!(events[2].files_failed, 1);
        let last = events.last().unwrap();
        assert_eq!(last.files_done, 2);
        assert_eq!(last.bytes_done, 40);
        assert_eq!(last.bytes_total, 60);
        assert_eq!(last.to_string(), "2/3 files, 40/60 bytes, 1 failed");
    }

    #[test]
    fn bytes_events_are_rate_limited() {
        let (callback, events) = recording();
        let tracker = ProgressTracker::start(Some(callback), 1, 1_000_000);
        for _ in 0..10_000 {
            tracker.add_bytes(100);
        }
        let events = events.lock().unwrap();
        let bytes_events = events
            .iter()
            .filter(|event| event.stage == ProgressStage::Bytes)
            .count();
        assert!(bytes_events < 100, "{bytes_events} bytes events");
        assert_eq!(tracker.snapshot(ProgressStage::Bytes).bytes_done, 1_000_000);
    }

    #[test]
    fn zero_bytes_are_not_reported() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&calls);
        let callback: BytesCallback = Arc::new(move |progress: BytesProgress| {
            sink.lock().unwrap().push(progress);
        });
        report_bytes(Some(&callback), 0, Some(0));
        report_bytes(Some(&callback), 7, None);
        report_bytes(None, 5, Some(5));
        let calls = calls.lock().unwrap();
        assert_eq!(
            *calls,
            [BytesProgress {
                bytes: 7,
                total: None
            }]
        );
    }

    #[test]
    fn options_debug_shows_whether_a_hook_is_set() {
        let callback: BytesCallback = Arc::new(|_| {});
        let upload = crate::blob::UploadOptions {
            progress: Some(callback.clone()),
            ..Default::default()
        };
        assert!(format!("{upload:?}").contains("progress: true"));
        let download = crate::blob::DownloadOptions::default();
        assert!(format!("{download:?}").contains("progress: false"));
        assert!(format!("{download:?}").contains("range_size: 4194304"));
    }
}
