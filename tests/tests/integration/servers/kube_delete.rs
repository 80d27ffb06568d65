//! Deletion: propagation policies over owner references, preconditions, collections and
//! namespaces.

use crate::kube_support::{Fixture, names, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
const PODS: &str = "/api/v1/namespaces/default/pods";

fn job(name: &str, search: &str) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"elb-job-id": search, "app": "blast"}},
        "spec": {"backoffLimit": 3, "template": {"metadata": {"labels": {"app": "blast"}},
            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "blast", "image": "elb:1"}]}}},
    })
}

/// Creates a Job and lets the controller give it a pod.
async fn job_with_pod(f: &Fixture, name: &str, search: &str) -> Value {
    let (status, created) = f.send(Method::POST, JOBS, Some(job(name, search))).await;
    assert_eq!(status, StatusCode::CREATED);
    f.server
        .controller()
        .set_default_plan(elb_test_servers::kube::JobPlan::new([
            elb_test_servers::kube::PodOutcome::PendingForever,
        ]));
    f.server.controller().step().await;
    created
}

async fn pod_names(f: &Fixture) -> Vec<String> {
    let (_, pods) = f.send(Method::GET, PODS, None).await;
    names(&pods)
}

#[tokio::test]
async fn background_removes_pods() {
    let f = start().await;
    job_with_pod(&f, "a", "job-1").await;
    assert_eq!(pod_names(&f).await.len(), 1);
    let body =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    let (status, deleted) = f
        .send(Method::DELETE, &format!("{JOBS}/a"), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["metadata"]["name"], "a");
    assert!(pod_names(&f).await.is_empty());
}

#[tokio::test]
async fn foreground_removes_pods_first() {
    let f = start().await;
    job_with_pod(&f, "a", "job-1").await;
    let revision = f.server.store().revision();
    let mut watch = f
        .watch(&format!(
            "/api/v1/namespaces/default/pods?watch=true&resourceVersion={revision}"
        ))
        .await;
    let (status, _) = f
        .send(
            Method::DELETE,
            &format!("{JOBS}/a?propagationPolicy=Foreground"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(watch.next_change().await.unwrap()["type"], "DELETED");
    assert!(pod_names(&f).await.is_empty());
    let (status, _) = f.send(Method::GET, &format!("{JOBS}/a"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn orphan_keeps_pods_without_owner() {
    let f = start().await;
    job_with_pod(&f, "a", "job-1").await;
    let body = json!({"propagationPolicy": "Orphan"});
    f.send(Method::DELETE, &format!("{JOBS}/a"), Some(body))
        .await;
    let (_, pods) = f.send(Method::GET, PODS, None).await;
    let pod = &pods["items"][0];
    assert!(pod["metadata"].get("ownerReferences").is_none(), "{pod}");
    assert_eq!(pod["metadata"]["labels"]["job-name"], "a");
}

#[tokio::test]
async fn jobs_orphan_pods_by_default() {
    let f = start().await;
    job_with_pod(&f, "a", "job-1").await;
    f.send(Method::DELETE, &format!("{JOBS}/a"), None).await;
    assert_eq!(
        pod_names(&f).await.len(),
        1,
        "a plain Job delete keeps its pods"
    );
}

#[tokio::test]
async fn precondition_mismatch_conflicts() {
    let f = start().await;
    f.config_map("a", json!({})).await;
    let body = json!({"preconditions": {"uid": "00000000-0000-4000-8000-000000000000"}});
    let (status, error) = f
        .send(
            Method::DELETE,
            "/api/v1/namespaces/default/configmaps/a",
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["reason"], "Conflict");
}

#[tokio::test]
async fn collection_delete_by_selector() {
    let f = start().await;
    job_with_pod(&f, "a", "job-1").await;
    job_with_pod(&f, "b", "job-1").await;
    job_with_pod(&f, "c", "job-2").await;
    let (status, deleted) = f
        .send(
            Method::DELETE,
            &format!("{JOBS}?labelSelector=elb-job-id%3Djob-1&propagationPolicy=Background"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deleted["kind"], "JobList");
    assert_eq!(names(&deleted), vec!["a", "b"]);
    let (_, jobs) = f.send(Method::GET, JOBS, None).await;
    assert_eq!(names(&jobs), vec!["c"]);
    let pods = pod_names(&f).await;
    assert_eq!(pods.len(), 1);
    assert!(pods[0].starts_with("c-"));
}

#[tokio::test]
async fn namespace_delete_removes_contents() {
    let f = start().await;
    f.send(
        Method::POST,
        "/api/v1/namespaces",
        Some(json!({"metadata": {"name": "elb"}})),
    )
    .await;
    let cm = json!({"metadata": {"name": "a"}});
    f.send(Method::POST, "/api/v1/namespaces/elb/configmaps", Some(cm))
        .await;
    let (status, _) = f.send(Method::DELETE, "/api/v1/namespaces/elb", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = f
        .send(Method::GET, "/api/v1/namespaces/elb/configmaps", None)
        .await;
    assert!(names(&list).is_empty());
}

#[tokio::test]
async fn unknown_policy_is_bad_request() {
    let f = start().await;
    f.config_map("a", json!({})).await;
    let (status, error) = f
        .send(
            Method::DELETE,
            "/api/v1/namespaces/default/configmaps/a?propagationPolicy=All",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("\"All\""));
}
