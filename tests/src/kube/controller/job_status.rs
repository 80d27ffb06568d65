//! The status the controller writes on Jobs, and the removal of finished Jobs after their
//! `ttlSecondsAfterFinished`.

use serde_json::{Value, json};

use super::{JobController, kind, lock};
use crate::kube::delete::{self, DeleteOptions, Propagation};
use crate::kube::meta::{Key, parse_timestamp, timestamp};
use crate::kube::store::Part;

/// Returns the transition time of the `Complete` or `Failed` condition of `job`, if either
/// is `True`.
pub(super) fn finished_at(job: &Value) -> Option<String> {
    let conditions = job["status"]["conditions"].as_array()?;
    conditions
        .iter()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
        .map(|c| {
            c["lastTransitionTime"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
}

pub(super) fn job_condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": now,
        "lastTransitionTime": now,
    })
}

impl JobController {
    pub(super) fn write_job_status(
        &self,
        key: &Key,
        uid: &str,
        conditions: Vec<Value>,
        completion: Option<String>,
    ) {
        let store = &self.inner.store;
        let active_pods = self.active_pods(uid);
        let active = active_pods.len();
        let ready = active_pods
            .iter()
            .filter(|p| {
                p["status"]["phase"] == "Running"
                    && p["status"]["containerStatuses"][0]["ready"] == true
            })
            .count();
        let (succeeded, failed) = {
            let runs = lock(&self.inner.runs);
            let run = &runs.jobs[uid];
            (run.succeeded, run.failed)
        };
        let now = timestamp(store.now());
        // The Job may have been deleted meanwhile; then there is nothing to update.
        let _ = store.modify(kind("jobs"), key, Part::Status, |current| {
            let mut next = current.clone();
            let status = &mut next["status"];
            if !status.is_object() {
                *status = json!({});
            }
            if status["startTime"].is_null() {
                status["startTime"] = json!(now);
            }
            for (field, count) in [
                ("active", active),
                ("succeeded", succeeded as usize),
                ("failed", failed as usize),
            ] {
                match count {
                    0 => status
                        .as_object_mut()
                        .expect("status is an object")
                        .remove(field),
                    n => status
                        .as_object_mut()
                        .expect("status is an object")
                        .insert(field.into(), json!(n)),
                };
            }
            status["ready"] = json!(ready);
            status["terminating"] = json!(0);
            status["uncountedTerminatedPods"] = json!({});
            if !conditions.is_empty() {
                status["conditions"] = json!(conditions);
            }
            if let Some(completion) = completion {
                status["completionTime"] = json!(completion);
            }
            Ok(next)
        });
    }

    pub(super) fn remove_after_ttl(&self, job: &Value, key: &Key, finished: &str) {
        let Some(ttl) = job["spec"]["ttlSecondsAfterFinished"].as_i64() else {
            return;
        };
        let Some(finished) = parse_timestamp(finished) else {
            return;
        };
        if self.inner.store.now() >= finished + time::Duration::seconds(ttl) {
            let options = DeleteOptions {
                propagation: Some(Propagation::Background),
                ..Default::default()
            };
            let _ = delete::delete(&self.inner.store, kind("jobs"), key, &options);
            tracing::debug!(job = %key.name, "removed a finished Job after its TTL");
        }
    }
}
