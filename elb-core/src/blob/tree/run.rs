//! Running many file transfers under one shared limit of requests in flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::{StreamExt, stream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use super::{FailedFile, TreeOptions, TreeReport};
use crate::Result;
use crate::blob::progress::{BytesCallback, BytesProgress, ProgressTracker};
use crate::blob::upload::join_error;

/// One file to transfer.
pub(crate) struct FileJob<T> {
    /// The path relative to the directory or prefix, for progress and the report.
    pub(crate) relative: String,
    /// Size in bytes, as listed or walked.
    pub(crate) size: u64,
    /// Number of blocks or ranges the file splits into, so the number of requests it can
    /// usefully run at once.
    pub(crate) parts: u64,
    /// The input of the transfer function.
    pub(crate) payload: T,
}

/// The outcome of one file that did not fail.
pub(crate) enum FileOutcome {
    /// Transferred this many bytes.
    Done(u64),
    /// Not transferred because the destination exists and overwriting is off.
    Existing,
}

/// Runs `transfer` for every job and records the outcomes in `report`.
///
/// `transfer` gets the job's payload, its concurrency and a [`BytesCallback`] to pass to the
/// single-blob transfer, which adds the file's bytes to `progress` as they move. When the
/// file ends, only the bytes that callback has not yet reported are added.
///
/// One semaphore of `options.concurrency` permits is shared by all files. A file takes one
/// permit per request it will run at once (its parts, at most the whole limit) and receives
/// that number as its own concurrency. So the requests in flight across all files, blocks
/// and ranges never exceed the limit. The semaphore is fair, so a large file
/// waiting for many permits is not starved by small files behind it.
pub(crate) async fn run_files<T, F, Fut>(
    jobs: Vec<FileJob<T>>,
    options: &TreeOptions,
    progress: &Arc<ProgressTracker>,
    report: &mut TreeReport,
    transfer: F,
) where
    F: Fn(T, usize, BytesCallback) -> Fut,
    Fut: Future<Output = Result<FileOutcome>> + Send + 'static,
{
    let total = jobs.len() as u64;
    let limit = options.concurrency.max(1);
    let semaphore = Arc::new(Semaphore::new(limit));
    let mut running = stream::iter(jobs)
        .map(|job| {
            let permits = job.parts.clamp(1, limit as u64) as u32;
            let reported = Arc::new(AtomicU64::new(0));
            let callback = file_bytes_callback(Arc::clone(progress), Arc::clone(&reported));
            let transfer = transfer(job.payload, permits as usize, callback);
            let semaphore = Arc::clone(&semaphore);
            let task = tokio::spawn(async move {
                let _permits = semaphore
                    .acquire_many_owned(permits)
                    .await
                    .expect("the semaphore is never closed");
                transfer.await
            });
            let relative = job.relative;
            let size = job.size;
            async move {
                let outcome = AbortOnDrop(task).await;
                // A finished transfer has joined all its requests, so `reported` is final.
                // After a failure it is not used.
                let reported = reported.load(Ordering::Relaxed);
                (relative, size, reported, outcome)
            }
        })
        .buffer_unordered(limit);

    let mut finished: u64 = 0;
    while let Some((relative, size, reported, outcome)) = running.next().await {
        finished += 1;
        match outcome {
            Ok(FileOutcome::Done(bytes)) => {
                report.files += 1;
                report.bytes += bytes;
                progress.file_done(&relative, bytes.saturating_sub(reported));
            }
            Ok(FileOutcome::Existing) => {
                report.skipped_existing += 1;
                progress.file_skipped(&relative, size.saturating_sub(reported));
            }
            Err(error) => {
                tracing::debug!(file = %relative, error = %error, "file transfer failed");
                progress.file_failed(&relative, &error);
                report.failed.push(FailedFile {
                    path: relative,
                    error,
                });
                if options.fail_fast {
                    break;
                }
            }
        }
    }
    // Dropping the stream aborts the tasks still running and never starts the rest.
    drop(running);
    report.cancelled += total - finished;
}

/// Returns a callback that adds one file's bytes to `progress` and counts them in `reported`.
fn file_bytes_callback(progress: Arc<ProgressTracker>, reported: Arc<AtomicU64>) -> BytesCallback {
    Arc::new(move |moved: BytesProgress| {
        reported.fetch_add(moved.bytes, Ordering::Relaxed);
        progress.add_bytes(moved.bytes);
    })
}

/// A spawned task that is aborted when this handle is dropped.
struct AbortOnDrop<T>(JoinHandle<Result<T>>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(context)
            .map(|joined| joined.unwrap_or_else(|error| Err(join_error(error))))
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::progress::ProgressStage;
    use crate::{Error, ErrorKind};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn jobs(count: usize, parts: u64) -> Vec<FileJob<usize>> {
        (0..count)
            .map(|index| FileJob {
                relative: format!("f{index}"),
                size: 10,
                parts,
                payload: index,
            })
            .collect()
    }

    #[tokio::test]
    async fn shared_limit_is_never_exceeded() {
        let options = TreeOptions {
            concurrency: 4,
            ..TreeOptions::default()
        };
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let progress = Arc::new(ProgressTracker::start(None, 40, 400));
        let mut report = TreeReport::default();
        let mut all = jobs(30, 1);
        all.extend(jobs(10, 3));
        run_files(
            all,
            &options,
            &progress,
            &mut report,
            |_, concurrency, _| {
                let in_flight = Arc::clone(&in_flight);
                let peak = Arc::clone(&peak);
                async move {
                    let now = in_flight.fetch_add(concurrency, Ordering::SeqCst) + concurrency;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    in_flight.fetch_sub(concurrency, Ordering::SeqCst);
                    Ok(FileOutcome::Done(10))
                }
            },
        )
        .await;
        assert_eq!(report.files, 40);
        assert_eq!(report.bytes, 400);
        assert!(
            peak.load(Ordering::SeqCst) <= 4,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
        assert!(peak.load(Ordering::SeqCst) >= 2);
    }

    #[tokio::test]
    async fn fail_fast_cancels_the_rest() {
        let options = TreeOptions {
            concurrency: 2,
            fail_fast: true,
            ..TreeOptions::default()
        };
        let progress = Arc::new(ProgressTracker::start(None, 50, 500));
        let mut report = TreeReport::default();
        run_files(
            jobs(50, 1),
            &options,
            &progress,
            &mut report,
            |index, _, _| async move {
                if index == 3 {
                    return Err(Error::new(ErrorKind::NotFound, "gone"));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(FileOutcome::Done(10))
            },
        )
        .await;
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].path, "f3");
        assert!(report.cancelled >= 40, "cancelled {}", report.cancelled);
        assert_eq!(report.files + 1 + report.cancelled, 50);
    }

    #[tokio::test]
    async fn failures_are_all_reported() {
        let options = TreeOptions::default();
        let progress = Arc::new(ProgressTracker::start(None, 10, 100));
        let mut report = TreeReport::default();
        run_files(
            jobs(10, 1),
            &options,
            &progress,
            &mut report,
            |index, _, _| async move {
                match index % 3 {
                    0 => Err(Error::invalid_input(format!("bad {index}"))),
                    1 => Ok(FileOutcome::Existing),
                    _ => Ok(FileOutcome::Done(10)),
                }
            },
        )
        .await;
        let mut failed: Vec<_> = report
            .failed
            .iter()
            .map(|file| file.path.as_str())
            .collect();
        failed.sort();
        assert_eq!(failed, ["f0", "f3", "f6", "f9"]);
        assert_eq!(report.skipped_existing, 3);
        assert_eq!(report.files, 3);
        assert_eq!(report.cancelled, 0);
    }

    #[tokio::test]
    async fn reported_bytes_are_not_added_twice() {
        let options = TreeOptions::default();
        let progress = Arc::new(ProgressTracker::start(None, 4, 40));
        let mut report = TreeReport::default();
        run_files(
            jobs(4, 1),
            &options,
            &progress,
            &mut report,
            |index, _, callback| async move {
                // File 0 reports nothing, file 1 part of its size, file 2 all of it, and
                // file 3 is skipped after reporting part of its size.
                let reported = [0, 4, 10, 6][index];
                if reported > 0 {
                    callback(BytesProgress {
                        bytes: reported,
                        total: Some(10),
                    });
                }
                if index == 3 {
                    return Ok(FileOutcome::Existing);
                }
                Ok(FileOutcome::Done(10))
            },
        )
        .await;
        assert_eq!(report.files, 3);
        assert_eq!(report.skipped_existing, 1);
        let snapshot = progress.snapshot(ProgressStage::Finished);
        assert_eq!(snapshot.files_done, 4);
        assert_eq!(snapshot.bytes_done, 40);
    }
}
