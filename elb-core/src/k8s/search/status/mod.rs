//! Deriving a search's state from its Jobs, their pods and the blob markers, without I/O.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;

/// How long a pod may stay `Pending` before the search counts as stuck.
pub const PENDING_LIMIT_SECS: i64 = 30 * 60;

/// Container waiting reasons that mean a pod will not make progress by itself.
const STUCK_WAITING_REASONS: [&str; 3] = ["ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff"];

/// The terminal markers of a search in blob storage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Markers {
    /// `metadata/SUCCESS.txt` exists.
    pub success: bool,
    /// `metadata/FAILURE.txt` exists.
    pub failure: bool,
    /// At least one result blob is listable.
    pub results_listable: bool,
}

/// The state of a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SearchState {
    /// No Job and no marker yet.
    Pending,
    /// Jobs run, or they finished and the marker or the results are not visible yet.
    Running,
    /// A pod cannot make progress; see [`SearchStatus::stuck`].
    Stuck,
    /// The success marker exists and the results are listable.
    Completed,
    /// The failure marker exists, or a Job has the condition `Failed=True`.
    Failed,
}

impl SearchState {
    /// Returns whether the search will not change state any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// A pod that cannot make progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckPod {
    /// Pod name.
    pub pod: String,
    /// Name of the Job that owns the pod, when known.
    pub job: Option<String>,
    /// Why the pod is stuck: a waiting or termination reason, `Evicted`, or `Pending`.
    pub reason: String,
}

/// A Job with the condition `Failed=True`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedJob {
    /// Job name.
    pub name: String,
    /// The condition's reason, such as `BackoffLimitExceeded`.
    pub reason: String,
    /// The condition's message.
    pub message: String,
}

/// A search's state with the counts and details behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchStatus {
    /// The derived state.
    pub state: SearchState,
    /// Number of Jobs that exist.
    pub total: usize,
    /// Jobs that have not finished.
    pub active: usize,
    /// Jobs with the condition `Complete=True`.
    pub succeeded: usize,
    /// Jobs with the condition `Failed=True`.
    pub failed: usize,
    /// The failed Jobs.
    pub failed_jobs: Vec<FailedJob>,
    /// Pods that cannot make progress.
    pub stuck: Vec<StuckPod>,
    /// The markers the state was derived from.
    pub markers: Markers,
}

/// Returns whether `job` has the condition `type_=True`.
pub fn has_condition(job: &Job, type_: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == type_ && c.status == "True")
        })
}

/// Derives a search's status.
///
/// Only the condition `Failed=True` fails a Job: `status.failed > 0` alone is a retried pod
/// failure. Jobs that are gone (removed by `ttlSecondsAfterFinished`) are not failures, because
/// the markers decide. Pods of finished Jobs and succeeded pods are never stuck.
pub fn derive_status(jobs: &[Job], pods: &[Pod], markers: Markers, now: Timestamp) -> SearchStatus {
    let mut succeeded = 0;
    let mut failed_jobs = Vec::new();
    let mut finished_names = Vec::new();
    for job in jobs {
        let name = job.metadata.name.clone().unwrap_or_default();
        if has_condition(job, "Complete") {
            succeeded += 1;
            finished_names.push(name);
        } else if has_condition(job, "Failed") {
            let condition = job
                .status
                .as_ref()
                .and_then(|status| status.conditions.as_ref())
                .and_then(|conditions| {
                    conditions
                        .iter()
                        .find(|c| c.type_ == "Failed" && c.status == "True")
                });
            failed_jobs.push(FailedJob {
                name: name.clone(),
                reason: condition.and_then(|c| c.reason.clone()).unwrap_or_default(),
                message: condition
                    .and_then(|c| c.message.clone())
                    .unwrap_or_default(),
            });
            finished_names.push(name);
        }
    }

    let stuck: Vec<StuckPod> = pods
        .iter()
        .filter(|pod| {
            let job = owning_job(pod);
            !job.is_some_and(|job| finished_names.iter().any(|name| *name == job))
        })
        .filter_map(|pod| stuck_reason(pod, now).map(|reason| (pod, reason)))
        .map(|(pod, reason)| StuckPod {
            pod: pod.metadata.name.clone().unwrap_or_default(),
            job: owning_job(pod).map(str::to_owned),
            reason,
        })
        .collect();

    let total = jobs.len();
    let failed = failed_jobs.len();
    let state = if markers.failure || failed > 0 {
        SearchState::Failed
    } else if markers.success && markers.results_listable {
        SearchState::Completed
    } else if !stuck.is_empty() {
        SearchState::Stuck
    } else if total == 0 && !markers.success {
        SearchState::Pending
    } else {
        SearchState::Running
    };
    SearchStatus {
        state,
        total,
        active: total - succeeded - failed,
        succeeded,
        failed,
        failed_jobs,
        stuck,
        markers,
    }
}

/// Returns the name of the Job that owns `pod`, from its owner reference or `job-name` label.
fn owning_job(pod: &Pod) -> Option<&str> {
    let from_owner = pod
        .metadata
        .owner_references
        .as_ref()
        .and_then(|owners| owners.iter().find(|owner| owner.kind == "Job"))
        .map(|owner| owner.name.as_str());
    from_owner.or_else(|| {
        let labels = pod.metadata.labels.as_ref()?;
        labels
            .get("batch.kubernetes.io/job-name")
            .or_else(|| labels.get("job-name"))
            .map(String::as_str)
    })
}

/// Returns why `pod` is stuck, or `None` when it can still make progress.
fn stuck_reason(pod: &Pod, now: Timestamp) -> Option<String> {
    let status = pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or_default();
    if phase == "Succeeded" {
        return None;
    }
    if status.reason.as_deref() == Some("Evicted") {
        return Some("Evicted".to_owned());
    }
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        if let Some(reason) = container_stuck_reason(container) {
            return Some(reason);
        }
    }
    if phase == "Pending" {
        let created = pod.metadata.creation_timestamp.as_ref()?;
        if now.as_second() - created.0.as_second() > PENDING_LIMIT_SECS {
            return Some("Pending".to_owned());
        }
    }
    None
}

fn container_stuck_reason(container: &ContainerStatus) -> Option<String> {
    let state = container.state.as_ref();
    if let Some(reason) = state
        .and_then(|s| s.waiting.as_ref())
        .and_then(|waiting| waiting.reason.as_deref())
        .filter(|reason| STUCK_WAITING_REASONS.contains(reason))
    {
        return Some(reason.to_owned());
    }
    // A container killed for memory restarts under `OnFailure` and is killed again, so both
    // the current and the last termination count.
    let current = state.and_then(|s| s.terminated.as_ref());
    let last = container
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    current
        .into_iter()
        .chain(last)
        .find(|terminated| terminated.reason.as_deref() == Some("OOMKilled"))
        .map(|_| "OOMKilled".to_owned())
}

#[cfg(test)]
mod tests;
