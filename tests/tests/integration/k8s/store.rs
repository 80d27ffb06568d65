//! The job store against the test Kubernetes API server.

use std::collections::BTreeMap;

use elb_core::ErrorKind;
use elb_core::k8s::store::{JobMode, JobRecord, JobStatus, JobStore, MAX_CONFIG_MAP_DATA};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::k8s_common::{NAMESPACE, start, unreachable_client};

fn record(job_id: &str) -> JobRecord {
    let mut record = JobRecord::new(job_id, JobMode::A);
    record.cluster_name = "elb-aks-1".into();
    record.program = "blastn".into();
    record.db = "core_nt".into();
    record.results = format!("https://acct.blob.core.windows.net/results/{job_id}");
    record
}

#[tokio::test]
async fn create_get_list_delete() {
    let cluster = start().await;
    let store = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();

    let created = store.create(&record("0a1b2c3d")).await.unwrap();
    assert!(!created.resource_version().is_empty());
    let mut running = record("0a1b2c3e");
    running.status = JobStatus::Running;
    running.priority = Some(80);
    store.create(&running).await.unwrap();

    let read = store.get("0a1b2c3d").await.unwrap();
    assert_eq!(read.record, created.record);

    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let raw = api.get("elb-job-0a1b2c3e").await.unwrap();
    let labels = raw.metadata.labels.unwrap();
    assert_eq!(labels["elb-job"], "true");
    assert_eq!(labels["job-id"], "0a1b2c3e");
    assert_eq!(labels["status"], "running");
    assert_eq!(labels["priority"], "80");
    let data = raw.data.unwrap();
    assert_eq!(data.len(), 1);
    let json: Value = serde_json::from_str(&data["job"]).unwrap();
    assert_eq!(json["mode"], "A");
    assert_eq!(json["error"], Value::Null);

    let all = store.list(None).await.unwrap();
    assert_eq!(all.len(), 2);
    let running_only = store.list(Some(JobStatus::Running)).await.unwrap();
    assert_eq!(running_only.len(), 1);
    assert_eq!(running_only[0].record.job_id, "0a1b2c3e");

    store.delete("0a1b2c3d").await.unwrap();
    store.delete("0a1b2c3d").await.unwrap();
    let error = store.get("0a1b2c3d").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.target(), Some("ConfigMap default/elb-job-0a1b2c3d"));
    assert_eq!(error.code(), Some("NotFound"));
}

#[tokio::test]
async fn create_existing_is_already_exists() {
    let cluster = start().await;
    let store = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();
    store.create(&record("0a1b2c3d")).await.unwrap();
    let error = store.create(&record("0a1b2c3d")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    assert_eq!(error.code(), Some("AlreadyExists"));
    assert_eq!(error.status(), Some(409));
    assert_eq!(error.target(), Some("ConfigMap default/elb-job-0a1b2c3d"));
}

#[tokio::test]
async fn concurrent_writers_conflict_and_update_with_resolves() {
    let cluster = start().await;
    let first = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();
    let second =
        JobStore::new(crate::k8s_common::connect(&cluster.server).await, NAMESPACE).unwrap();
    first.create(&record("0a1b2c3d")).await.unwrap();

    let mut by_first = first.get("0a1b2c3d").await.unwrap();
    let mut by_second = second.get("0a1b2c3d").await.unwrap();
    by_first.record.status = JobStatus::Running;
    first.update(&by_first).await.unwrap();

    by_second.record.error = Some("lost update".into());
    let error = second.update(&by_second).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(error.code(), Some("Conflict"));
    assert_eq!(error.target(), Some("ConfigMap default/elb-job-0a1b2c3d"));

    let mut calls = 0;
    let merged = second
        .update_with("0a1b2c3d", |record| {
            calls += 1;
            record.elb_job_id = Some("job-0123456789abcdef0123456789abcdef".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(merged.record.status, JobStatus::Running);
    assert_eq!(
        merged.record.elb_job_id.as_deref(),
        Some("job-0123456789abcdef0123456789abcdef")
    );
    assert_eq!(merged.record.error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_rereads_after_conflict() {
    let cluster = start().await;
    let store = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();
    let other =
        JobStore::new(crate::k8s_common::connect(&cluster.server).await, NAMESPACE).unwrap();
    store.create(&record("0a1b2c3d")).await.unwrap();

    // Another writer changes the record while the first run of the change is in progress,
    // so that write conflicts and the change runs again on the other writer's record.
    let mut calls = 0;
    let result = store
        .update_with("0a1b2c3d", |record| {
            calls += 1;
            if calls == 1 {
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(async {
                        other
                            .update_with("0a1b2c3d", |r| {
                                r.status = JobStatus::Dispatching;
                                Ok(())
                            })
                            .await
                            .unwrap();
                    })
                });
            }
            record.cluster_name = "elb-aks-2".into();
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(calls, 2);
    assert_eq!(result.record.status, JobStatus::Dispatching);
    assert_eq!(result.record.cluster_name, "elb-aks-2");
}

#[tokio::test]
async fn unknown_fields_and_labels_survive_update() {
    let cluster = start().await;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let job = json!({
        "job_id": "0a1b2c3d", "status": "queued", "mode": "B",
        "created_at": "2025-06-01T10:00:00.123456", "cluster_name": null,
        "program": "blastp", "db": "swissprot", "results": "", "elb_job_id": null,
        "error": null, "queries_inline": ">q1\nMKV", "owner": {"oid": "1234"}
    });
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "elb-job-0a1b2c3d",
            "labels": {"elb-job": "true", "job-id": "0a1b2c3d", "status": "queued",
                       "priority": "10", "team": "virology"},
            "annotations": {"note": "written by the Python service"}
        },
        "data": {"job": job.to_string()}
    }))
    .unwrap();
    api.create(&PostParams::default(), &config_map)
        .await
        .unwrap();

    let store = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();
    let updated = store
        .update_with("0a1b2c3d", |record| {
            record.status = JobStatus::Failed;
            record.error = Some("database swissprot not found".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(updated.record.priority, Some(10));

    let raw = api.get("elb-job-0a1b2c3d").await.unwrap();
    let labels = raw.metadata.labels.unwrap();
    assert_eq!(labels["status"], "failed");
    assert_eq!(labels["team"], "virology");
    assert_eq!(labels["priority"], "10");
    assert_eq!(
        raw.metadata.annotations.unwrap()["note"],
        "written by the Python service"
    );
    let stored: Value = serde_json::from_str(&raw.data.unwrap()["job"]).unwrap();
    assert_eq!(stored["queries_inline"], ">q1\nMKV");
    assert_eq!(stored["owner"]["oid"], "1234");
    assert_eq!(stored["created_at"], "2025-06-01T10:00:00.123456");
    assert_eq!(stored["error"], "database swissprot not found");
}

#[tokio::test]
async fn invalid_records_are_rejected_before_any_request() {
    // Any request from this client fails with a transport error, so an invalid-input error
    // proves that the store rejected the record without sending it.
    let store = JobStore::new(unreachable_client().await, NAMESPACE).unwrap();

    let mut big = record("0a1b2c3d");
    big.extra.insert(
        "fasta".into(),
        Value::String("ACGT".repeat(MAX_CONFIG_MAP_DATA / 4)),
    );
    let error = store.create(&big).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("0a1b2c3d"), "{error}");
    assert!(error.message().contains("1048576"), "{error}");

    let error = store.create(&record("NOT-HEX")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("\"NOT-HEX\""), "{error}");

    let error = store.get("0a1b").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("\"0a1b\""), "{error}");

    let mut bad_priority = record("0a1b2c3d");
    bad_priority.priority = Some(200);
    let error = store.create(&bad_priority).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("200"), "{error}");

    let error = JobStore::new(unreachable_client().await, "Default")
        .err()
        .unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("\"Default\""), "{error}");

    let reachable = store.create(&record("0a1b2c3d")).await.unwrap_err();
    assert_eq!(reachable.kind(), ErrorKind::Transport);
}

#[tokio::test]
async fn record_at_size_limit_is_accepted() {
    let cluster = start().await;
    let store = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();
    let mut record = record("0a1b2c3d");
    let base = serde_json::to_string(&{
        let mut r = record.clone();
        r.extra.insert("pad".into(), Value::String(String::new()));
        r
    })
    .unwrap()
    .len();
    let pad = MAX_CONFIG_MAP_DATA - "job".len() - base;
    record
        .extra
        .insert("pad".into(), Value::String("x".repeat(pad)));
    store.create(&record).await.unwrap();
    record
        .extra
        .insert("pad".into(), Value::String("x".repeat(pad + 1)));
    record.job_id = "0a1b2c3e".into();
    let error = store.create(&record).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    let labels: BTreeMap<String, String> = store.get("0a1b2c3d").await.unwrap().record.labels();
    assert_eq!(labels["job-id"], "0a1b2c3d");
}
