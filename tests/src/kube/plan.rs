//! Scripted outcomes for the pods of a Job.

/// Why a container is waiting and not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitingReason {
    /// The image and volumes are still being prepared.
    ContainerCreating,
    /// The image pull failed and the kubelet backs off before retrying.
    ImagePullBackOff,
    /// The image pull failed.
    ErrImagePull,
    /// The container keeps exiting and the kubelet backs off before restarting it.
    CrashLoopBackOff,
}

impl WaitingReason {
    /// Returns the reason as the kubelet reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContainerCreating => "ContainerCreating",
            Self::ImagePullBackOff => "ImagePullBackOff",
            Self::ErrImagePull => "ErrImagePull",
            Self::CrashLoopBackOff => "CrashLoopBackOff",
        }
    }
}

/// Why a container ended without success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminationReason {
    /// The process exited with a non-zero code (1).
    Error,
    /// The kernel killed the process for exceeding its memory limit (exit code 137).
    OomKilled,
}

impl TerminationReason {
    /// Returns the reason as the kubelet reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "Error",
            Self::OomKilled => "OOMKilled",
        }
    }

    /// Returns the container's exit code.
    pub fn exit_code(self) -> i64 {
        match self {
            Self::Error => 1,
            Self::OomKilled => 137,
        }
    }
}

/// What one attempt of a Job's container does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodOutcome {
    /// The container runs and exits 0 (terminated reason `Completed`).
    Succeed,
    /// The container runs and fails. With `restartPolicy: Never` the pod fails and the Job
    /// creates a new one; with `OnFailure` the container restarts in the same pod.
    Fail {
        /// The termination reason.
        reason: TerminationReason,
    },
    /// The pod is evicted while running (`status.reason: Evicted`, phase `Failed`), whatever
    /// the restart policy.
    Evicted,
    /// The container stays waiting with this reason. `CrashLoopBackOff` is reached after one
    /// crash (restart count 1) and then held.
    Stuck {
        /// The waiting reason.
        waiting: WaitingReason,
    },
    /// The pod is never scheduled (condition `PodScheduled=False`, reason `Unschedulable`).
    PendingForever,
}

impl PodOutcome {
    /// Returns a failure with reason `Error` (exit code 1).
    pub fn error() -> Self {
        Self::Fail {
            reason: TerminationReason::Error,
        }
    }

    /// Returns a failure with reason `OOMKilled` (exit code 137).
    pub fn oom_killed() -> Self {
        Self::Fail {
            reason: TerminationReason::OomKilled,
        }
    }

    /// Returns a pod stuck with the waiting reason `reason`.
    pub fn stuck(reason: WaitingReason) -> Self {
        Self::Stuck { waiting: reason }
    }
}

/// The scripted run of a Job: the outcome of each attempt and how many controller steps each
/// stage takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPlan {
    /// The outcome of attempt 1, 2, ...; the last entry repeats for later attempts, and an
    /// empty list means every attempt succeeds.
    pub outcomes: Vec<PodOutcome>,
    /// Steps a pod spends in `Pending` (waiting with `ContainerCreating`) before running.
    pub pending_steps: u32,
    /// Steps a container runs before its outcome.
    pub running_steps: u32,
}

impl Default for JobPlan {
    fn default() -> Self {
        Self::new([PodOutcome::Succeed])
    }
}

impl JobPlan {
    /// Builds a plan with one step pending and one step running per attempt.
    pub fn new(outcomes: impl IntoIterator<Item = PodOutcome>) -> Self {
        Self {
            outcomes: outcomes.into_iter().collect(),
            pending_steps: 1,
            running_steps: 1,
        }
    }

    /// Builds a plan where every attempt succeeds after `steps` steps in all (at least 2:
    /// one pending, the rest running).
    pub fn succeed_after(steps: u32) -> Self {
        Self::new([PodOutcome::Succeed]).with_running_steps(steps.saturating_sub(1).max(1))
    }

    /// Sets the steps a pod spends pending.
    pub fn with_pending_steps(mut self, steps: u32) -> Self {
        self.pending_steps = steps;
        self
    }

    /// Sets the steps a container runs before its outcome.
    pub fn with_running_steps(mut self, steps: u32) -> Self {
        self.running_steps = steps.max(1);
        self
    }

    /// Returns the outcome of the zero-based attempt `attempt`.
    pub fn outcome(&self, attempt: usize) -> PodOutcome {
        match self.outcomes.get(attempt).or(self.outcomes.last()) {
            Some(outcome) => *outcome,
            None => PodOutcome::Succeed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_outcome_repeats() {
        let plan = JobPlan::new([PodOutcome::oom_killed(), PodOutcome::Succeed]);
        assert_eq!(plan.outcome(0), PodOutcome::oom_killed());
        assert_eq!(plan.outcome(1), PodOutcome::Succeed);
        assert_eq!(plan.outcome(7), PodOutcome::Succeed);
        assert_eq!(JobPlan::new([]).outcome(3), PodOutcome::Succeed);
    }

    #[test]
    fn succeed_after_counts_all_steps() {
        let plan = JobPlan::succeed_after(4);
        assert_eq!(plan.pending_steps + plan.running_steps, 4);
    }
}
