use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::*;

/// A completed setup Job, as `kubectl get job -o json` printed it.
const COMPLETE_JOB: &str = include_str!("../testdata/job-status.json");
/// A setup Job that reached its backoff limit after four failed pods.
const FAILED_JOB: &str = include_str!("../testdata/job-status-failed.json");

fn now() -> Timestamp {
    "2026-01-01T12:00:00Z".parse().unwrap()
}

fn job(json: serde_json::Value) -> Job {
    serde_json::from_value(json).unwrap()
}

fn pod(name: &str, job: &str, status: serde_json::Value, created: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {"job-name": job},
        },
        "status": status,
    }))
    .unwrap()
}

fn running_job(name: &str, failed_pods: i32) -> Job {
    job(json!({
        "metadata": {"name": name},
        "status": {"active": 1, "failed": failed_pods},
    }))
}

#[test]
fn real_complete_job_counts_as_succeeded() {
    let jobs = [serde_json::from_str::<Job>(COMPLETE_JOB).unwrap()];
    let status = derive_status(&jobs, &[], Markers::default(), now());
    assert_eq!(status.total, 1);
    assert_eq!(status.succeeded, 1);
    assert_eq!(status.failed, 0);
    assert_eq!(status.active, 0);
    assert_eq!(status.state, SearchState::Running);
}

#[test]
fn real_failed_job_fails_search() {
    let jobs = [serde_json::from_str::<Job>(FAILED_JOB).unwrap()];
    let status = derive_status(&jobs, &[], Markers::default(), now());
    assert_eq!(status.state, SearchState::Failed);
    assert_eq!(status.failed, 1);
    assert_eq!(status.failed_jobs[0].name, "init-pv");
    assert_eq!(status.failed_jobs[0].reason, "BackoffLimitExceeded");
    assert_eq!(
        status.failed_jobs[0].message,
        "Job has reached the specified backoff limit"
    );
}

#[test]
fn failed_pods_without_condition_are_not_failure() {
    let jobs = [running_job("blastn-batch-nt-job-000-7f598a7e", 2)];
    let status = derive_status(&jobs, &[], Markers::default(), now());
    assert_eq!(status.state, SearchState::Running);
    assert_eq!(status.failed, 0);
    assert_eq!(status.active, 1);
}

#[test]
fn success_marker_needs_listable_results() {
    let markers = Markers {
        success: true,
        failure: false,
        results_listable: false,
    };
    assert_eq!(
        derive_status(&[], &[], markers, now()).state,
        SearchState::Running
    );
    let markers = Markers {
        results_listable: true,
        ..markers
    };
    assert_eq!(
        derive_status(&[], &[], markers, now()).state,
        SearchState::Completed
    );
}

#[test]
fn removed_jobs_with_success_marker_complete() {
    let markers = Markers {
        success: true,
        failure: false,
        results_listable: true,
    };
    let status = derive_status(&[], &[], markers, now());
    assert_eq!(status.state, SearchState::Completed);
    assert_eq!(status.total, 0);
    assert_eq!(status.failed, 0);
}

#[test]
fn failure_marker_fails_search() {
    let markers = Markers {
        success: false,
        failure: true,
        results_listable: false,
    };
    assert_eq!(
        derive_status(&[], &[], markers, now()).state,
        SearchState::Failed
    );
}

#[test]
fn no_jobs_no_markers_is_pending() {
    assert_eq!(
        derive_status(&[], &[], Markers::default(), now()).state,
        SearchState::Pending
    );
}

#[test]
fn stuck_pod_reasons_are_reported() {
    let job_name = "blastn-batch-nt-job-000-7f598a7e";
    let cases = [
        (
            json!({"phase": "Pending", "containerStatuses": [
                {"name": "blast", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
            "ImagePullBackOff",
        ),
        (
            json!({"phase": "Pending", "initContainerStatuses": [
                {"name": "import", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
            "ErrImagePull",
        ),
        (
            json!({"phase": "Running", "containerStatuses": [
                {"name": "blast", "image": "x", "imageID": "", "ready": false, "restartCount": 5,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}),
            "CrashLoopBackOff",
        ),
        (
            json!({"phase": "Running", "containerStatuses": [
                {"name": "blast", "image": "x", "imageID": "", "ready": true, "restartCount": 1,
                 "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}),
            "OOMKilled",
        ),
        (json!({"phase": "Failed", "reason": "Evicted"}), "Evicted"),
    ];
    for (status, reason) in cases {
        let pods = [pod("p-1", job_name, status, "2026-01-01T11:59:00Z")];
        let result = derive_status(
            &[running_job(job_name, 0)],
            &pods,
            Markers::default(),
            now(),
        );
        assert_eq!(result.state, SearchState::Stuck, "{reason}");
        assert_eq!(result.stuck.len(), 1, "{reason}");
        assert_eq!(result.stuck[0].reason, reason);
        assert_eq!(result.stuck[0].pod, "p-1");
        assert_eq!(result.stuck[0].job.as_deref(), Some(job_name));
    }
}

#[test]
fn pending_over_30_minutes_is_stuck() {
    let job_name = "blastn-batch-nt-job-000-7f598a7e";
    let jobs = [running_job(job_name, 0)];
    let recent = [pod(
        "p",
        job_name,
        json!({"phase": "Pending"}),
        "2026-01-01T11:31:00Z",
    )];
    assert_eq!(
        derive_status(&jobs, &recent, Markers::default(), now()).state,
        SearchState::Running
    );
    let old = [pod(
        "p",
        job_name,
        json!({"phase": "Pending"}),
        "2026-01-01T11:29:00Z",
    )];
    let status = derive_status(&jobs, &old, Markers::default(), now());
    assert_eq!(status.state, SearchState::Stuck);
    assert_eq!(status.stuck[0].reason, "Pending");
}

#[test]
fn pods_of_finished_jobs_are_not_stuck() {
    let complete = serde_json::from_str::<Job>(COMPLETE_JOB).unwrap();
    let evicted = pod(
        "copy-queries-to-pd-abcde",
        "copy-queries-to-pd",
        json!({"phase": "Failed", "reason": "Evicted"}),
        "2026-01-01T11:00:00Z",
    );
    let status = derive_status(&[complete], &[evicted], Markers::default(), now());
    assert!(status.stuck.is_empty());
}
