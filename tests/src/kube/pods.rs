//! The life of one Job pod under the controller: creation, scheduling and the stages its
//! scripted outcome takes it through.

use serde_json::{Value, json};

use super::controller::JobController;
use super::meta::{Key, meta_str, timestamp};
use super::plan::{PodOutcome, TerminationReason, WaitingReason};
use super::pod_status::{
    Containers, evict, new_pod, running, scheduled_status, terminated, unschedulable_status,
    waiting,
};
use super::resources::{self, ResourceType};
use super::store::Part;

/// Where a pod is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// No node has been assigned.
    Unscheduled,
    /// Assigned to a node, containers being created.
    Pending,
    /// The container runs.
    Running,
    /// The container crashed and waits to restart in the same pod.
    BackOff,
    /// Held in a waiting state for good.
    Stuck,
    /// Succeeded or failed.
    Done,
}

/// The controller's record of one pod.
pub(crate) struct PodRun {
    outcome: PodOutcome,
    stage: Stage,
    steps: u32,
    restart_count: u32,
    started: String,
    running_since: String,
    last_state: Value,
}

/// A change of a pod that the Job's status must count.
pub(crate) enum PodStep {
    /// The pod succeeded; carries the pod.
    Succeeded(Value),
}

fn pods() -> &'static ResourceType {
    resources::find("", "v1", "pods").expect("pods are served")
}

fn pod_key(pod: &Value) -> Key {
    Key::new(pods(), meta_str(pod, "namespace"), meta_str(pod, "name"))
}

fn write_status(controller: &JobController, pod: &Value, status: Value) -> Option<Value> {
    controller
        .store()
        .modify(pods(), &pod_key(pod), Part::Status, |current| {
            let mut next = current.clone();
            next["status"] = status;
            Ok(next)
        })
        .ok()
}

fn image(pod: &Value) -> String {
    pod["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Creates a new pod for `job`, taking the outcome of the Job's next attempt.
pub(crate) fn start_pod(controller: &JobController, job: &Value, job_uid: &str) {
    let outcome = controller.with_runs(|jobs, _| {
        let run = jobs.get_mut(job_uid).expect("the Job's run exists");
        let outcome = run.plan.outcome(run.attempts);
        run.attempts += 1;
        outcome
    });
    let (node, node_count) = controller.pick_node();
    let node = node.filter(|_| outcome != PodOutcome::PendingForever);
    let store = controller.store();
    let created = match store.create(
        pods(),
        meta_str(job, "namespace"),
        new_pod(job, node.as_deref()),
    ) {
        Ok(created) => created,
        Err(error) => {
            tracing::warn!(job = meta_str(job, "name"), %error.message, "could not create a pod for a Job");
            return;
        }
    };
    let now = timestamp(store.now());
    let (status, stage) = if node.is_some() {
        (pending_status(&created, &now), Stage::Pending)
    } else {
        (unschedulable_status(node_count, &now), Stage::Unscheduled)
    };
    write_status(controller, &created, status);
    let run = PodRun {
        outcome,
        stage,
        steps: 0,
        restart_count: 0,
        started: now.clone(),
        running_since: now,
        last_state: json!({}),
    };
    let uid = meta_str(&created, "uid").to_string();
    controller.with_runs(|_, pods| pods.insert(uid, run));
}

fn pending_status(pod: &Value, now: &str) -> Value {
    let containers = Containers {
        state: waiting(WaitingReason::ContainerCreating, &image(pod)),
        last_state: json!({}),
        ready: false,
        restart_count: 0,
        now,
    };
    scheduled_status(pod, "Pending", &containers, now)
}

/// Moves `pod` of `job` one step on and reports a success the Job must count.
pub(crate) fn advance(
    controller: &JobController,
    job: &Value,
    pod: &Value,
    job_uid: &str,
) -> Option<PodStep> {
    let uid = meta_str(pod, "uid").to_string();
    let now = timestamp(controller.store().now());
    let never = job["spec"]["template"]["spec"]["restartPolicy"] == "Never";
    let image = image(pod);
    controller.with_runs(|jobs, pods| {
        let job_run = jobs.get_mut(job_uid)?;
        let run = pods.get_mut(&uid)?;
        run.steps += 1;
        let plan = &job_run.plan;
        let containers = |state: Value, run: &PodRun, ready: bool| Containers {
            state,
            last_state: run.last_state.clone(),
            ready,
            restart_count: run.restart_count,
            now: &now,
        };
        match run.stage {
            Stage::Unscheduled => {
                if run.outcome == PodOutcome::PendingForever {
                    return None;
                }
                let (node, _) = controller.pick_node();
                let node = node?;
                let bound = controller
                    .store()
                    .modify(pods_kind(), &pod_key(pod), Part::Main, |current| {
                        let mut next = current.clone();
                        next["spec"]["nodeName"] = json!(node);
                        Ok(next)
                    })
                    .ok()?;
                write_status(controller, &bound, pending_status(&bound, &now));
                run.stage = Stage::Pending;
                run.steps = 0;
                None
            }
            Stage::Pending if run.steps >= plan.pending_steps => {
                if let PodOutcome::Stuck { waiting: reason } = run.outcome
                    && reason != WaitingReason::CrashLoopBackOff
                {
                    let status = scheduled_status(
                        pod,
                        "Pending",
                        &containers(waiting(reason, &image), run, false),
                        &run.started,
                    );
                    write_status(controller, pod, status);
                    run.stage = Stage::Stuck;
                    return None;
                }
                start_running(
                    controller,
                    pod,
                    run,
                    &now,
                    &containers(running(&now), run, true),
                );
                None
            }
            Stage::BackOff => {
                run.outcome = job_run.plan.outcome(job_run.attempts);
                job_run.attempts += 1;
                start_running(
                    controller,
                    pod,
                    run,
                    &now,
                    &containers(running(&now), run, true),
                );
                None
            }
            Stage::Running if run.steps >= plan.running_steps => {
                let since = run.running_since.clone();
                match run.outcome {
                    PodOutcome::Succeed => {
                        let state = terminated(None, &since, &now);
                        let status = scheduled_status(
                            pod,
                            "Succeeded",
                            &containers(state, run, false),
                            &run.started,
                        );
                        run.stage = Stage::Done;
                        job_run.succeeded += 1;
                        write_status(controller, pod, status).map(PodStep::Succeeded)
                    }
                    PodOutcome::Fail { reason } if never => {
                        let state = terminated(Some(reason), &since, &now);
                        let status = scheduled_status(
                            pod,
                            "Failed",
                            &containers(state, run, false),
                            &run.started,
                        );
                        run.stage = Stage::Done;
                        job_run.failed += 1;
                        write_status(controller, pod, status);
                        None
                    }
                    PodOutcome::Fail { reason } => {
                        crash(controller, pod, run, reason, &since, &now);
                        run.stage = Stage::BackOff;
                        job_run.restarts += 1;
                        None
                    }
                    PodOutcome::Stuck { .. } => {
                        // A crash loop: one crash, then the back-off wait is held.
                        crash(controller, pod, run, TerminationReason::Error, &since, &now);
                        run.stage = Stage::Stuck;
                        None
                    }
                    PodOutcome::Evicted | PodOutcome::PendingForever => {
                        let state = terminated(Some(TerminationReason::Error), &since, &now);
                        let mut status = scheduled_status(
                            pod,
                            "Failed",
                            &containers(state, run, false),
                            &run.started,
                        );
                        evict(&mut status);
                        run.stage = Stage::Done;
                        job_run.failed += 1;
                        write_status(controller, pod, status);
                        None
                    }
                }
            }
            _ => None,
        }
    })
}

fn pods_kind() -> &'static ResourceType {
    pods()
}

fn start_running(
    controller: &JobController,
    pod: &Value,
    run: &mut PodRun,
    now: &str,
    containers: &Containers<'_>,
) {
    let status = scheduled_status(pod, "Running", containers, &run.started);
    write_status(controller, pod, status);
    run.stage = Stage::Running;
    run.steps = 0;
    run.running_since = now.to_string();
}

/// Records a container crash: the restart count grows, the termination becomes `lastState`
/// and the container waits in `CrashLoopBackOff`. The pod stays `Running`.
fn crash(
    controller: &JobController,
    pod: &Value,
    run: &mut PodRun,
    reason: TerminationReason,
    since: &str,
    now: &str,
) {
    run.restart_count += 1;
    run.last_state = terminated(Some(reason), since, now);
    let containers = Containers {
        state: waiting(WaitingReason::CrashLoopBackOff, &image(pod)),
        last_state: run.last_state.clone(),
        ready: false,
        restart_count: run.restart_count,
        now,
    };
    let status = scheduled_status(pod, "Running", &containers, &run.started);
    write_status(controller, pod, status);
}
