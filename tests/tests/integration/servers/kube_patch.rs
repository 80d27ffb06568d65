//! Patches and server-side apply against the test Kubernetes API server.

use crate::kube_support::{start, version};
use reqwest::{Method, StatusCode};
use serde_json::json;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const MERGE: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

#[tokio::test]
async fn merge_patch_sets_and_removes_fields() {
    let f = start().await;
    let created = f.config_map("a", json!({"keep": "1", "drop": "2"})).await;
    let patch = json!({"metadata": {"labels": {"drop": null, "new": "3"}}, "data": {"extra": "x"}});
    let (status, patched) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a"),
            Some(patch),
            MERGE,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        patched["metadata"]["labels"],
        json!({"keep": "1", "new": "3"})
    );
    assert_eq!(patched["data"], json!({"k": "v", "extra": "x"}));
    assert!(version(&patched) > version(&created));
}

#[tokio::test]
async fn strategic_patch_replaces_lists() {
    let f = start().await;
    let job = json!({
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "a", "image": "one"}, {"name": "b", "image": "two"}]}}},
    });
    f.send(
        Method::POST,
        "/apis/batch/v1/namespaces/default/jobs",
        Some(job),
    )
    .await;
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "three"}]}}}});
    let (status, patched) = f
        .send_typed(
            Method::PATCH,
            "/apis/batch/v1/namespaces/default/jobs/j",
            Some(patch),
            STRATEGIC,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let containers = patched["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        1,
        "lists are replaced, not merged by name"
    );
    assert_eq!(containers[0]["image"], "three");
    assert_eq!(patched["metadata"]["generation"], 2);
}

#[tokio::test]
async fn json_patch_applies_operations() {
    let f = start().await;
    f.config_map("a", json!({"status": "queued"})).await;
    let patch = json!([
        {"op": "test", "path": "/metadata/labels/status", "value": "queued"},
        {"op": "replace", "path": "/metadata/labels/status", "value": "running"},
        {"op": "add", "path": "/data/job", "value": "{}"},
    ]);
    let (status, patched) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a"),
            Some(patch),
            JSON_PATCH,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["metadata"]["labels"]["status"], "running");
    assert_eq!(patched["data"]["job"], "{}");

    let failing = json!([{"op": "test", "path": "/metadata/labels/status", "value": "queued"}]);
    let (status, error) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a"),
            Some(failing),
            JSON_PATCH,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["kind"], "Status");
}

#[tokio::test]
async fn patch_with_stale_version_conflicts() {
    let f = start().await;
    let created = f.config_map("a", json!({})).await;
    f.send_typed(
        Method::PATCH,
        &format!("{CONFIGMAPS}/a"),
        Some(json!({"data": {"k": "1"}})),
        MERGE,
    )
    .await;
    let stale = json!({"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"k": "2"}});
    let (status, error) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a"),
            Some(stale),
            MERGE,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["reason"], "Conflict");
}

#[tokio::test]
async fn patch_of_absent_object_is_not_found() {
    let f = start().await;
    let (status, error) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/absent"),
            Some(json!({})),
            MERGE,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["reason"], "NotFound");
}

#[tokio::test]
async fn patch_that_breaks_labels_is_invalid() {
    let f = start().await;
    f.config_map("a", json!({})).await;
    let patch = json!({"metadata": {"labels": {"status": "not valid!"}}});
    let (status, error) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a"),
            Some(patch),
            MERGE,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error["details"]["causes"][0]["field"],
        "metadata.labels[status]"
    );
}

#[tokio::test]
async fn status_subresource_is_separate() {
    let f = start().await;
    let job = json!({
        "metadata": {"name": "j"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "i"}]}}},
        "status": {"succeeded": 5},
    });
    let (_, created) = f
        .send(
            Method::POST,
            "/apis/batch/v1/namespaces/default/jobs",
            Some(job),
        )
        .await;
    let path = "/apis/batch/v1/namespaces/default/jobs/j";

    assert_eq!(
        created["status"],
        json!({}),
        "create ignores the given status"
    );

    let main = json!({"status": {"active": 1}, "metadata": {"labels": {"a": "b"}}});
    let (_, patched) = f.send_typed(Method::PATCH, path, Some(main), MERGE).await;
    assert_eq!(patched["metadata"]["labels"]["a"], "b");
    assert_eq!(
        patched["status"], created["status"],
        "the main resource ignores status"
    );

    let status = json!({"status": {"active": 1}, "metadata": {"labels": {"c": "d"}}});
    let (code, patched) = f
        .send_typed(
            Method::PATCH,
            &format!("{path}/status"),
            Some(status),
            MERGE,
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(patched["status"]["active"], 1);
    assert!(
        patched["metadata"]["labels"].get("c").is_none(),
        "/status ignores the rest"
    );
}

#[tokio::test]
async fn apply_creates_then_is_idempotent() {
    let f = start().await;
    let path = format!("{CONFIGMAPS}/elb-job-0a1b2c3d?fieldManager=elb");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elb-job-0a1b2c3d\n  labels:\n    elb-job: \"true\"\ndata:\n  job: '{}'\n";
    let send = |body: &'static str| {
        let request = f
            .client
            .patch(format!("{}{path}", f.server.url()))
            .bearer_auth(f.server.token())
            .header("content-type", APPLY)
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, created) = send(yaml).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["metadata"]["labels"]["elb-job"], "true");

    let (status, again) = send(yaml).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        version(&again),
        version(&created),
        "applying the same configuration changes nothing"
    );
    assert_eq!(again, created);
}

#[tokio::test]
async fn apply_removes_fields_it_no_longer_sets() {
    let f = start().await;
    let path = format!("{CONFIGMAPS}/a?fieldManager=elb");
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}, "data": {"k": "v"}});
    let (status, _) = f.send_typed(Method::PATCH, &path, Some(first), APPLY).await;
    assert_eq!(status, StatusCode::CREATED);

    let other = json!({"metadata": {"labels": {"z": "3"}}});
    f.send_typed(
        Method::PATCH,
        &format!("{CONFIGMAPS}/a"),
        Some(other),
        MERGE,
    )
    .await;

    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}});
    let (status, applied) = f
        .send_typed(Method::PATCH, &path, Some(second), APPLY)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(applied["metadata"]["labels"], json!({"x": "1", "z": "3"}));
    assert!(
        applied.get("data").is_none_or(|d| d.get("k").is_none()),
        "{applied}"
    );
}

#[tokio::test]
async fn apply_conflicts_between_managers_unless_forced() {
    let f = start().await;
    let mine = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "mine"}});
    f.send_typed(
        Method::PATCH,
        &format!("{CONFIGMAPS}/a?fieldManager=first"),
        Some(mine),
        APPLY,
    )
    .await;

    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "theirs"}});
    let (status, error) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a?fieldManager=second"),
            Some(theirs.clone()),
            APPLY,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["reason"], "Conflict");
    assert!(
        error["message"].as_str().unwrap().contains(".data.k"),
        "{error}"
    );

    let (status, forced) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a?fieldManager=second&force=true"),
            Some(theirs),
            APPLY,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(forced["data"]["k"], "theirs");
}

#[tokio::test]
async fn apply_needs_field_manager() {
    let f = start().await;
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    let (status, error) = f
        .send_typed(Method::PATCH, &format!("{CONFIGMAPS}/a"), Some(body), APPLY)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("fieldManager"));
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let f = start().await;
    let created = f.config_map("a", json!({})).await;
    let (status, patched) = f
        .send_typed(
            Method::PATCH,
            &format!("{CONFIGMAPS}/a?dryRun=All"),
            Some(json!({"data": {"k": "dry"}})),
            MERGE,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["data"]["k"], "dry");
    let (_, current) = f.send(Method::GET, &format!("{CONFIGMAPS}/a"), None).await;
    assert_eq!(current, created);
}
