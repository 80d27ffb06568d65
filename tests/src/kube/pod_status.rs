//! Pods of Jobs and the `status` the kubelet would report at each stage of their life.

use serde_json::{Value, json};

use super::plan::{TerminationReason, WaitingReason};

/// Builds the pod the Job controller creates for `job`: owned by the Job, labelled with the
/// Job's name and uid plus the template labels, and bound to `node` when one is given.
pub(crate) fn new_pod(job: &Value, node: Option<&str>) -> Value {
    let metadata = &job["metadata"];
    let name = metadata["name"].as_str().unwrap_or_default();
    let uid = metadata["uid"].as_str().unwrap_or_default();
    let template = &job["spec"]["template"];
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    for (key, value) in [
        ("controller-uid", uid),
        ("batch.kubernetes.io/controller-uid", uid),
        ("job-name", name),
        ("batch.kubernetes.io/job-name", name),
    ] {
        labels[key] = json!(value);
    }

    let mut spec = template["spec"].clone();
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }

    let mut pod = json!({
        "metadata": {
            "generateName": format!("{name}-"),
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": name,
                "uid": uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    });
    if let Some(annotations) = template["metadata"]["annotations"].as_object() {
        pod["metadata"]["annotations"] = json!(annotations);
    }
    pod
}

fn condition(kind: &str, status: bool, now: &str) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": now,
    })
}

/// The state of every container of a pod at one moment.
pub(crate) struct Containers<'a> {
    /// The `state` object, such as `{"running": {...}}`.
    pub(crate) state: Value,
    /// The `lastState` object, `{}` before the first restart.
    pub(crate) last_state: Value,
    /// Whether the containers are ready.
    pub(crate) ready: bool,
    /// How many times the containers restarted.
    pub(crate) restart_count: u32,
    /// The node's time, for timestamps.
    pub(crate) now: &'a str,
}

/// Builds the `status` of a scheduled pod in `phase` with every container in `containers`.
pub(crate) fn scheduled_status(
    pod: &Value,
    phase: &str,
    containers: &Containers<'_>,
    started: &str,
) -> Value {
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|container| {
            json!({
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": containers.ready,
                "started": containers.state.get("running").is_some(),
                "restartCount": containers.restart_count,
                "state": containers.state,
                "lastState": containers.last_state,
            })
        })
        .collect();
    let now = containers.now;
    json!({
        "phase": phase,
        "qosClass": "BestEffort",
        "hostIP": "10.224.0.4",
        "podIP": "10.244.0.17",
        "startTime": started,
        "conditions": [
            condition("PodScheduled", true, now),
            condition("Initialized", true, now),
            condition("ContainersReady", containers.ready, now),
            condition("Ready", containers.ready, now),
        ],
        "containerStatuses": statuses,
    })
}

/// Returns a `waiting` state with the message the kubelet gives for `reason`.
pub(crate) fn waiting(reason: WaitingReason, image: &str) -> Value {
    let message = match reason {
        WaitingReason::ContainerCreating => None,
        WaitingReason::ImagePullBackOff => Some(format!("Back-off pulling image {image:?}")),
        WaitingReason::ErrImagePull => Some(format!("failed to pull and unpack image {image:?}")),
        WaitingReason::CrashLoopBackOff => Some("back-off restarting failed container".to_string()),
    };
    let mut state = json!({"waiting": {"reason": reason.as_str()}});
    if let Some(message) = message {
        state["waiting"]["message"] = json!(message);
    }
    state
}

/// Returns a `running` state.
pub(crate) fn running(since: &str) -> Value {
    json!({"running": {"startedAt": since}})
}

/// Returns a `terminated` state: reason `Completed` with exit code 0 for `None`, otherwise
/// the failure's reason and exit code.
pub(crate) fn terminated(
    failure: Option<TerminationReason>,
    started: &str,
    finished: &str,
) -> Value {
    let (reason, exit_code) = match failure {
        None => ("Completed", 0),
        Some(reason) => (reason.as_str(), reason.exit_code()),
    };
    json!({"terminated": {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": started,
        "finishedAt": finished,
        "containerID": "containerd://0000000000000000000000000000000000000000000000000000000000000000",
    }})
}

/// Builds the `status` of a pod that no node accepts.
pub(crate) fn unschedulable_status(node_count: usize, now: &str) -> Value {
    let mut scheduled = condition("PodScheduled", false, now);
    scheduled["reason"] = json!("Unschedulable");
    scheduled["message"] = json!(format!(
        "0/{node_count} nodes are available: no node is ready and has room for the pod."
    ));
    json!({"phase": "Pending", "qosClass": "BestEffort", "conditions": [scheduled]})
}

/// Marks `status` as the status of a pod evicted for memory pressure.
pub(crate) fn evict(status: &mut Value) {
    status["phase"] = json!("Failed");
    status["reason"] = json!("Evicted");
    status["message"] = json!("The node was low on resource: memory.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_pod_is_owned_and_labelled() {
        let job = json!({
            "metadata": {"name": "blast-1", "uid": "u-1", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"app": "blast"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}},
        });
        let pod = new_pod(&job, Some("node-a"));
        assert_eq!(pod["metadata"]["generateName"], "blast-1-");
        assert_eq!(pod["metadata"]["labels"]["app"], "blast");
        assert_eq!(pod["metadata"]["labels"]["job-name"], "blast-1");
        assert_eq!(pod["metadata"]["labels"]["controller-uid"], "u-1");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(pod["spec"]["nodeName"], "node-a");
    }

    #[test]
    fn terminated_reasons() {
        let done = terminated(None, "a", "b");
        assert_eq!(done["terminated"]["reason"], "Completed");
        assert_eq!(done["terminated"]["exitCode"], 0);
        let oom = terminated(Some(TerminationReason::OomKilled), "a", "b");
        assert_eq!(oom["terminated"]["reason"], "OOMKilled");
        assert_eq!(oom["terminated"]["exitCode"], 137);
    }
}
