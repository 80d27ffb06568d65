//! The job controller: pods through scripted outcomes, Job status, retries, TTL removal,
//! scheduling on nodes and the pod-succeeded hook.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::kube_support::{Fixture, start};
use elb_test_servers::kube::{JobPlan, PodOutcome, WaitingReason};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn job(name: &str, restart_policy: &str, extra_spec: Value) -> Value {
    let mut spec = json!({
        "backoffLimit": 3,
        "template": {
            "metadata": {"labels": {"app": "blast", "azure.workload.identity/use": "true"}},
            "spec": {"restartPolicy": restart_policy, "containers": [
                {"name": "blast", "image": "elbacr.azurecr.io/ncbi/elb:1.4.0"}]},
        },
    });
    for (key, value) in extra_spec.as_object().unwrap() {
        spec[key] = value.clone();
    }
    json!({"metadata": {"name": name, "labels": {"app": "blast", "elb-job-id": "job-1"}}, "spec": spec})
}

async fn create_job(f: &Fixture, body: Value) -> Value {
    let (status, created) = f.send(Method::POST, JOBS, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn steps(f: &Fixture, count: usize) {
    for _ in 0..count {
        f.server.controller().step().await;
    }
}

async fn get_job(f: &Fixture, name: &str) -> (StatusCode, Value) {
    f.send(Method::GET, &format!("{JOBS}/{name}"), None).await
}

async fn pods_of(f: &Fixture, job: &str) -> Vec<Value> {
    let (_, pods) = f
        .send(
            Method::GET,
            &format!("{PODS}?labelSelector=job-name%3D{job}"),
            None,
        )
        .await;
    pods["items"].as_array().unwrap().clone()
}

fn condition<'a>(job: &'a Value, kind: &str) -> Option<&'a Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn container(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

#[tokio::test]
async fn default_plan_moves_job_to_complete() {
    let f = start().await;
    let created = create_job(&f, job("a", "OnFailure", json!({}))).await;

    steps(&f, 1).await;
    let pods = pods_of(&f, "a").await;
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(pod["status"]["phase"], "Pending");
    assert_eq!(
        container(pod)["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    assert_eq!(pod["metadata"]["labels"]["job-name"], "a");
    assert_eq!(
        pod["metadata"]["labels"]["controller-uid"],
        created["metadata"]["uid"]
    );
    assert_eq!(
        pod["metadata"]["labels"]["azure.workload.identity/use"],
        "true"
    );
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["uid"],
        created["metadata"]["uid"]
    );
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Job");
    assert_eq!(
        pod["spec"]["nodeName"],
        elb_test_servers::kube::DEFAULT_NODE
    );
    let (_, running_job) = get_job(&f, "a").await;
    assert_eq!(running_job["status"]["active"], 1);
    assert!(running_job["status"]["startTime"].is_string());

    steps(&f, 1).await;
    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["status"]["phase"], "Running");
    assert!(container(pod)["state"]["running"]["startedAt"].is_string());
    assert_eq!(container(pod)["ready"], true);
    let (_, running_job) = get_job(&f, "a").await;
    assert_eq!(running_job["status"]["ready"], 1);

    steps(&f, 1).await;
    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["status"]["phase"], "Succeeded");
    assert_eq!(container(pod)["state"]["terminated"]["reason"], "Completed");
    assert_eq!(container(pod)["state"]["terminated"]["exitCode"], 0);
    let (_, done) = get_job(&f, "a").await;
    assert_eq!(done["status"]["succeeded"], 1);
    assert!(done["status"].get("active").is_none());
    assert!(done["status"]["completionTime"].is_string());
    assert_eq!(condition(&done, "Complete").unwrap()["status"], "True");
    assert!(condition(&done, "Failed").is_none());
}

#[tokio::test]
async fn on_failure_restarts_in_same_pod() {
    let f = start().await;
    f.server.controller().plan_job_named(
        "a",
        JobPlan::new([PodOutcome::oom_killed(), PodOutcome::Succeed]),
    );
    create_job(&f, job("a", "OnFailure", json!({}))).await;

    steps(&f, 3).await;
    let pods = pods_of(&f, "a").await;
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(container(pod)["restartCount"], 1);
    assert_eq!(
        container(pod)["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert_eq!(
        container(pod)["lastState"]["terminated"]["reason"],
        "OOMKilled"
    );
    assert_eq!(container(pod)["lastState"]["terminated"]["exitCode"], 137);

    steps(&f, 3).await;
    let pods = pods_of(&f, "a").await;
    assert_eq!(pods.len(), 1, "OnFailure keeps one pod");
    assert_eq!(pods[0]["status"]["phase"], "Succeeded");
    let (_, done) = get_job(&f, "a").await;
    assert!(condition(&done, "Complete").is_some());
    assert!(condition(&done, "Failed").is_none());
}

#[tokio::test]
async fn transient_failure_then_success() {
    let f = start().await;
    f.server.controller().plan_job_named(
        "a",
        JobPlan::new([PodOutcome::error(), PodOutcome::Succeed]),
    );
    create_job(&f, job("a", "Never", json!({}))).await;
    steps(&f, 8).await;

    let pods = pods_of(&f, "a").await;
    assert_eq!(pods.len(), 2, "Never replaces the failed pod");
    let phases: Vec<&str> = pods
        .iter()
        .map(|p| p["status"]["phase"].as_str().unwrap())
        .collect();
    assert!(phases.contains(&"Failed"));
    assert!(phases.contains(&"Succeeded"));
    let (_, done) = get_job(&f, "a").await;
    assert_eq!(done["status"]["failed"], 1);
    assert_eq!(done["status"]["succeeded"], 1);
    assert!(condition(&done, "Complete").is_some());
    assert!(
        condition(&done, "Failed").is_none(),
        "status.failed > 0 is not a failed Job"
    );
}

#[tokio::test]
async fn backoff_limit_fails_job() {
    let f = start().await;
    f.server
        .controller()
        .plan_job_named("a", JobPlan::new([PodOutcome::error()]));
    create_job(&f, job("a", "Never", json!({}))).await;
    steps(&f, 20).await;

    let (_, failed) = get_job(&f, "a").await;
    assert_eq!(
        failed["status"]["failed"], 4,
        "backoffLimit 3 allows 4 failed pods"
    );
    let failed_condition = condition(&failed, "Failed").unwrap();
    assert_eq!(failed_condition["status"], "True");
    assert_eq!(failed_condition["reason"], "BackoffLimitExceeded");
    assert!(condition(&failed, "Complete").is_none());
    assert!(failed["status"].get("completionTime").is_none());
    assert_eq!(pods_of(&f, "a").await.len(), 4);
    for pod in pods_of(&f, "a").await {
        assert_eq!(container(&pod)["state"]["terminated"]["reason"], "Error");
    }
}

#[tokio::test]
async fn on_failure_backoff_counts_restarts() {
    let f = start().await;
    f.server
        .controller()
        .plan_job_named("a", JobPlan::new([PodOutcome::oom_killed()]));
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 20).await;

    let (_, failed) = get_job(&f, "a").await;
    assert_eq!(
        condition(&failed, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        failed["status"]["failed"], 1,
        "the restarting pod is removed and counted"
    );
    assert!(pods_of(&f, "a").await.is_empty());
}

#[tokio::test]
async fn image_pull_backoff_stays_pending() {
    let f = start().await;
    f.server.controller().plan_job_named(
        "a",
        JobPlan::new([PodOutcome::stuck(WaitingReason::ImagePullBackOff)]),
    );
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 10).await;

    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["status"]["phase"], "Pending");
    let waiting = &container(pod)["state"]["waiting"];
    assert_eq!(waiting["reason"], "ImagePullBackOff");
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("elbacr.azurecr.io/ncbi/elb:1.4.0")
    );
    let (_, stuck) = get_job(&f, "a").await;
    assert_eq!(stuck["status"]["active"], 1);
    assert!(stuck["status"].get("conditions").is_none());
}

#[tokio::test]
async fn crash_loop_is_held() {
    let f = start().await;
    f.server.controller().plan_job_named(
        "a",
        JobPlan::new([PodOutcome::stuck(WaitingReason::CrashLoopBackOff)]),
    );
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 10).await;
    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(
        container(pod)["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert_eq!(container(pod)["restartCount"], 1);
}

#[tokio::test]
async fn pending_forever_is_unschedulable() {
    let f = start().await;
    f.server
        .controller()
        .plan_job_named("a", JobPlan::new([PodOutcome::PendingForever]));
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 5).await;
    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["status"]["phase"], "Pending");
    assert!(pod["spec"].get("nodeName").is_none());
    assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(pod["status"]["conditions"][0]["status"], "False");
    assert_eq!(pod["status"]["conditions"][0]["reason"], "Unschedulable");
}

#[tokio::test]
async fn evicted_pod_is_replaced() {
    let f = start().await;
    f.server.controller().plan_job_named(
        "a",
        JobPlan::new([PodOutcome::Evicted, PodOutcome::Succeed]),
    );
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 8).await;
    let pods = pods_of(&f, "a").await;
    assert_eq!(pods.len(), 2);
    let evicted = pods
        .iter()
        .find(|p| p["status"]["reason"] == "Evicted")
        .unwrap();
    assert_eq!(evicted["status"]["phase"], "Failed");
    let (_, done) = get_job(&f, "a").await;
    assert_eq!(done["status"]["failed"], 1);
    assert!(condition(&done, "Complete").is_some());
}

#[tokio::test]
async fn plan_by_label_selector() {
    let f = start().await;
    f.server
        .controller()
        .plan_jobs_matching(
            "app=blast,elb-job-id in (job-1)",
            JobPlan::new([PodOutcome::error()]),
        )
        .unwrap();
    create_job(&f, job("a", "Never", json!({"backoffLimit": 0}))).await;
    steps(&f, 4).await;
    let (_, failed) = get_job(&f, "a").await;
    assert!(condition(&failed, "Failed").is_some());
    assert!(
        f.server
            .controller()
            .plan_jobs_matching("a b c", JobPlan::default())
            .is_err()
    );
}

#[tokio::test]
async fn finished_job_removed_after_ttl() {
    let f = start().await;
    create_job(
        &f,
        job("a", "OnFailure", json!({"ttlSecondsAfterFinished": 60})),
    )
    .await;
    steps(&f, 4).await;
    let (status, done) = get_job(&f, "a").await;
    assert_eq!(status, StatusCode::OK);
    assert!(condition(&done, "Complete").is_some());

    f.server.controller().advance_clock(30);
    steps(&f, 1).await;
    assert_eq!(
        get_job(&f, "a").await.0,
        StatusCode::OK,
        "the TTL has not passed"
    );

    f.server.controller().advance_clock(31);
    steps(&f, 1).await;
    assert_eq!(get_job(&f, "a").await.0, StatusCode::NOT_FOUND);
    assert!(
        pods_of(&f, "a").await.is_empty(),
        "the Job's pods go with it"
    );
}

#[tokio::test]
async fn completions_run_in_parallel() {
    let f = start().await;
    create_job(
        &f,
        job("a", "Never", json!({"completions": 3, "parallelism": 2})),
    )
    .await;
    steps(&f, 1).await;
    assert_eq!(pods_of(&f, "a").await.len(), 2);
    steps(&f, 6).await;
    let (_, done) = get_job(&f, "a").await;
    assert_eq!(done["status"]["succeeded"], 3);
    assert_eq!(pods_of(&f, "a").await.len(), 3);
    assert!(condition(&done, "Complete").is_some());
}

#[tokio::test]
async fn hook_runs_before_job_completes() {
    let f = start().await;
    let seen: Arc<Mutex<Vec<(Value, Value)>>> = Arc::default();
    let record = seen.clone();
    f.server.controller().on_pod_succeeded(move |job, pod| {
        let record = record.clone();
        async move {
            tokio::task::yield_now().await;
            record.lock().unwrap().push((job, pod));
        }
    });
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 3).await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (job_seen, pod_seen) = &seen[0];
    assert_eq!(job_seen["metadata"]["name"], "a");
    assert!(
        condition(job_seen, "Complete").is_none(),
        "the hook runs before Complete"
    );
    assert_eq!(pod_seen["status"]["phase"], "Succeeded");
}

#[tokio::test]
async fn pods_wait_for_ready_node() {
    let f = start().await;
    f.server.add_node(
        elb_test_servers::kube::DEFAULT_NODE,
        false,
        "Standard_E32s_v3",
        &[],
    );
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    steps(&f, 2).await;
    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["status"]["conditions"][0]["reason"], "Unschedulable");

    f.server
        .add_node("aks-e64-0", true, "Standard_E64s_v3", &[]);
    steps(&f, 1).await;
    let pod = &pods_of(&f, "a").await[0];
    assert_eq!(pod["spec"]["nodeName"], "aks-e64-0");
    steps(&f, 3).await;
    let (_, done) = get_job(&f, "a").await;
    assert!(condition(&done, "Complete").is_some());
}

#[tokio::test]
async fn ticking_advances_without_steps() {
    let f = start().await;
    let _ticker = f
        .server
        .controller()
        .start_ticking(Duration::from_millis(20));
    create_job(&f, job("a", "OnFailure", json!({}))).await;
    let mut complete = false;
    for _ in 0..250 {
        let (_, current) = get_job(&f, "a").await;
        if condition(&current, "Complete").is_some() {
            complete = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(complete, "the Job completed within 5 s of ticks");
}
