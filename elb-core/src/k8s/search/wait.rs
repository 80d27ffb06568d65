//! Waiting for a search or one of its Jobs, through a watch that lists again after
//! `410 Gone`.

use std::time::Duration;

use futures::StreamExt;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::time::{Instant, MissedTickBehavior};
use tracing::info;

use super::SearchJobs;
use super::labels::search_selector;
use super::markers::MarkerSource;
use super::status::{SearchStatus, has_condition};
use crate::k8s::api_error::target;
use crate::{Error, ErrorKind, Result};

/// Limits and intervals of [`SearchJobs::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitOptions {
    /// Time after which the wait fails with [`ErrorKind::TimedOut`].
    pub timeout: Duration,
    /// Interval between status reads without a Job event, for the blob markers.
    pub marker_interval: Duration,
    /// Time after which the API server ends each watch request so that it is restarted from
    /// the last seen `resourceVersion`, or `None` for kube's default (290 s in kube 5.0).
    pub watch_timeout: Option<Duration>,
}

impl WaitOptions {
    /// Creates options with `timeout`, a 30 s marker interval and kube's watch timeout.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            marker_interval: Duration::from_secs(30),
            watch_timeout: None,
        }
    }
}

/// The end state of a waited-for Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// The Job has the condition `Complete=True`.
    Complete,
    /// The Job has the condition `Failed=True`.
    Failed {
        /// The condition's reason, such as `BackoffLimitExceeded`.
        reason: String,
        /// The condition's message.
        message: String,
    },
    /// The Job does not exist (never created, deleted, or removed after it finished). The
    /// search's markers tell whether it had succeeded.
    Removed,
}

impl SearchJobs {
    /// Waits until the search completes or fails, and returns its final status.
    ///
    /// The status is derived again whenever one of the search's Jobs changes and every
    /// `options.marker_interval`, because the markers in blob storage produce no Kubernetes event.
    /// A watch that the server ends with `410 Gone` is restarted with a fresh list. A stuck
    /// search does not end the wait, because a stuck pod can recover (an image that appears,
    /// a node that scales up). Read [`SearchStatus::stuck`] from [`SearchJobs::status`] to
    /// decide whether to stop.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::TimedOut`] naming the search and its last state when
    /// `options.timeout` passes, and the errors of [`SearchJobs::status`].
    ///
    /// # Cancel safety
    ///
    /// This method only reads, so dropping its future at any point is safe.
    pub async fn wait(
        &self,
        markers: &dyn MarkerSource,
        results_prefix: &str,
        options: &WaitOptions,
    ) -> Result<SearchStatus> {
        let timeout = options.timeout;
        let deadline = Instant::now() + timeout;
        let mut config = watcher::Config::default().labels(&search_selector(self.elb_job_id()));
        if let Some(watch_timeout) = options.watch_timeout {
            let secs = u32::try_from(watch_timeout.as_secs())
                .unwrap_or(u32::MAX)
                .max(1);
            config = config.timeout(secs);
        }
        let mut events = watcher(self.jobs.clone(), config).default_backoff().boxed();
        let mut ticker = tokio::time::interval(options.marker_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last: Option<SearchStatus> = None;

        loop {
            let woke = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    event = events.next() => match event {
                        Some(Ok(watcher::Event::InitApply(_) | watcher::Event::Init)) => false,
                        Some(Ok(_)) => true,
                        Some(Err(error)) => {
                            info!(%error, elb_job_id = %self.elb_job_id(), "watch failed, restarting it");
                            false
                        }
                        None => false,
                    },
                    _ = ticker.tick() => true,
                }
            })
            .await;
            match woke {
                Err(_) => return Err(self.timed_out(timeout, last.as_ref())),
                Ok(false) => continue,
                Ok(true) => {}
            }
            let status = self.status(markers, results_prefix).await?;
            if status.state.is_terminal() {
                return Ok(status);
            }
            last = Some(status);
        }
    }

    fn timed_out(&self, timeout: Duration, last: Option<&SearchStatus>) -> Error {
        let state = match last {
            Some(status) => format!(
                "last state {:?}, {} of {} Jobs succeeded",
                status.state, status.succeeded, status.total
            ),
            None => "no status read".to_owned(),
        };
        Error::new(
            ErrorKind::TimedOut,
            format!(
                "timed out after {} s waiting for search {} in namespace {} ({state})",
                timeout.as_secs(),
                self.elb_job_id(),
                self.namespace()
            ),
        )
    }

    /// Waits until the Job `name` completes, fails or disappears.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::TimedOut`] naming the Job when `timeout` passes.
    ///
    /// # Cancel safety
    ///
    /// This method only reads, so dropping its future at any point is safe.
    pub async fn wait_job(&self, name: &str, timeout: Duration) -> Result<JobOutcome> {
        let job_target = target("Job", self.namespace(), name);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut events = watcher(self.jobs.clone(), config).default_backoff().boxed();
        let wait = async {
            let mut seen_in_list = false;
            while let Some(event) = events.next().await {
                let job = match event {
                    Ok(watcher::Event::Init) => {
                        seen_in_list = false;
                        continue;
                    }
                    Ok(watcher::Event::InitDone) if !seen_in_list => return JobOutcome::Removed,
                    Ok(watcher::Event::InitDone) => continue,
                    Ok(watcher::Event::Delete(_)) => return JobOutcome::Removed,
                    Ok(watcher::Event::InitApply(job)) => {
                        seen_in_list = true;
                        job
                    }
                    Ok(watcher::Event::Apply(job)) => job,
                    Err(error) => {
                        info!(%error, k8s.job = %name, "watch failed, restarting it");
                        continue;
                    }
                };
                if has_condition(&job, "Complete") {
                    return JobOutcome::Complete;
                }
                if has_condition(&job, "Failed") {
                    let condition = job
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .and_then(|c| c.iter().find(|c| c.type_ == "Failed"));
                    return JobOutcome::Failed {
                        reason: condition.and_then(|c| c.reason.clone()).unwrap_or_default(),
                        message: condition
                            .and_then(|c| c.message.clone())
                            .unwrap_or_default(),
                    };
                }
            }
            JobOutcome::Removed
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            Error::new(
                ErrorKind::TimedOut,
                format!(
                    "timed out after {} s waiting for {job_target}",
                    timeout.as_secs()
                ),
            )
            .with_target(&job_target)
        })
    }
}
