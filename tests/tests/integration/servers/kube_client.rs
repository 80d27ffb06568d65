//! The `kube` crate's client against the test Kubernetes API server, configured from the
//! server's kubeconfig.

use std::time::Duration;

use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;
use futures::TryStreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use serde_json::json;

struct Fixture {
    server: KubeApiServer,
    client: Client,
    _ca: TestCa,
    _dir: tempfile::TempDir,
}

async fn start() -> Fixture {
    elb_core::tls::install_crypto_provider();
    let ca = TestCa::generate().unwrap();
    let server = KubeApiServer::start(&ca).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, "default").unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = Client::try_from(config).unwrap();
    Fixture {
        server,
        client,
        _ca: ca,
        _dir: dir,
    }
}

fn api_status(error: kube::Error) -> Box<kube::core::Status> {
    match error {
        kube::Error::Api(status) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn record(name: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"elb-job": "true", "status": "queued"}},
        "data": {"job": "{\"status\":\"queued\",\"extra\":1}"},
    }))
    .unwrap()
}

fn blast_job(name: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"elb-job-id": "job-0123456789abcdef0123456789abcdef", "app": "blast"}},
        "spec": {"backoffLimit": 3, "template": {"metadata": {"labels": {"app": "blast"}},
            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "blast", "image": "elb:1"}]}}},
    }))
    .unwrap()
}

#[tokio::test]
async fn configmap_lifecycle_with_kube_client() {
    let f = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(f.client.clone());
    let created = api
        .create(&PostParams::default(), &record("elb-job-0a1b2c3d"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());

    let listed = api
        .list(&ListParams::default().labels("elb-job=true,status in (queued)"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some());

    let patch = json!({"metadata": {"labels": {"status": "running"}}});
    let patched = api
        .patch(
            "elb-job-0a1b2c3d",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["status"], "running");

    let mut stale = created.clone();
    stale
        .data
        .as_mut()
        .unwrap()
        .insert("job".into(), "{}".into());
    let status = api_status(
        api.replace("elb-job-0a1b2c3d", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 409);
    assert_eq!(status.reason, "Conflict");

    api.delete("elb-job-0a1b2c3d", &DeleteParams::default())
        .await
        .unwrap();
    let status = api_status(api.get("elb-job-0a1b2c3d").await.unwrap_err());
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "NotFound");
    assert!(api.get_opt("elb-job-0a1b2c3d").await.unwrap().is_none());
}

#[tokio::test]
async fn apply_twice_keeps_resource_version() {
    let f = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(f.client.clone());
    let params = PatchParams::apply("elb").force();
    let mut desired = record("elb-job-0a1b2c3d");
    desired
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("priority".into(), "50".into());
    let desired = serde_json::to_value(&desired).unwrap();
    let mut desired = desired;
    desired["apiVersion"] = json!("v1");
    desired["kind"] = json!("ConfigMap");

    let first = api
        .patch("elb-job-0a1b2c3d", &params, &Patch::Apply(&desired))
        .await
        .unwrap();
    let second = api
        .patch("elb-job-0a1b2c3d", &params, &Patch::Apply(&desired))
        .await
        .unwrap();
    assert_eq!(
        first.metadata.resource_version,
        second.metadata.resource_version
    );
    assert_eq!(second.metadata.labels.unwrap()["priority"], "50");
}

#[tokio::test]
async fn invalid_name_is_422_with_causes() {
    let f = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(f.client.clone());
    let status = api_status(
        api.create(&PostParams::default(), &record("Not_Valid"))
            .await
            .unwrap_err(),
    );
    assert_eq!(status.code, 422);
    assert_eq!(status.reason, "Invalid");
    let causes = status.details.unwrap().causes;
    assert_eq!(causes[0].field, "metadata.name");
}

#[tokio::test]
async fn revoked_token_is_401() {
    let f = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(f.client.clone());
    let kubeconfig_token = f.server.token();
    api.list(&ListParams::default()).await.unwrap();

    f.server.rotate_token();
    api.list(&ListParams::default()).await.unwrap();

    f.server.revoke_token(&kubeconfig_token);
    let status = api_status(api.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(status.code, 401);
    assert_eq!(status.reason, "Unauthorized");
}

#[tokio::test]
async fn job_completes_and_background_delete_removes_pods() {
    let f = start().await;
    let jobs: Api<Job> = Api::default_namespaced(f.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(f.client.clone());
    jobs.create(
        &PostParams::default(),
        &blast_job("blastn-batch-nt-job-000-ab12cd"),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        f.server.controller().step().await;
    }
    let job = jobs.get("blastn-batch-nt-job-000-ab12cd").await.unwrap();
    let status = job.status.unwrap();
    assert_eq!(status.succeeded, Some(1));
    let conditions = status.conditions.unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
    );

    let selector = ListParams::default().labels("job-name=blastn-batch-nt-job-000-ab12cd");
    let listed = pods.list(&selector).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let pod_status = listed.items[0].status.clone().unwrap();
    assert_eq!(pod_status.phase.as_deref(), Some("Succeeded"));
    let terminated = pod_status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(terminated.reason.as_deref(), Some("Completed"));

    let search = ListParams::default().labels("elb-job-id=job-0123456789abcdef0123456789abcdef");
    jobs.delete_collection(&DeleteParams::background(), &search)
        .await
        .unwrap();
    assert!(jobs.list(&search).await.unwrap().items.is_empty());
    assert!(pods.list(&selector).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn watcher_sees_job_complete() {
    let f = start().await;
    let jobs: Api<Job> = Api::default_namespaced(f.client.clone());
    let _ticker = f
        .server
        .controller()
        .start_ticking(Duration::from_millis(20));
    let stream = watcher(jobs.clone(), watcher::Config::default().labels("app=blast"));
    let mut objects = std::pin::pin!(stream.applied_objects());
    jobs.create(&PostParams::default(), &blast_job("a"))
        .await
        .unwrap();

    let complete = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(job) = objects.try_next().await.unwrap() {
            let done = job
                .status
                .and_then(|s| s.conditions)
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Complete"));
            if done {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(complete, Ok(true));
}

#[tokio::test]
async fn cluster_objects_reapply_harmlessly() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{Service, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};

    let f = start().await;
    let params = PatchParams::apply("elb-control-plane").force();
    let objects = [
        (
            "ServiceAccount",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "elb-openapi-sa", "annotations": {"azure.workload.identity/client-id": "00000000-0000-0000-0000-000000000001"}}}),
        ),
        (
            "ClusterRole",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "elb-openapi-role"}, "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "create", "delete"]}]}),
        ),
        (
            "ClusterRoleBinding",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "elb-openapi-binding"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "elb-openapi-role"}, "subjects": [{"kind": "ServiceAccount", "name": "elb-openapi-sa", "namespace": "default"}]}),
        ),
        (
            "Deployment",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "elb-openapi"}, "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "elb-openapi"}}, "template": {"metadata": {"labels": {"app": "elb-openapi", "azure.workload.identity/use": "true"}}, "spec": {"serviceAccountName": "elb-openapi-sa", "containers": [{"name": "api", "image": "elb-openapi:1", "ports": [{"containerPort": 8000}]}]}}}}),
        ),
        (
            "Service",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "elb-openapi"}, "spec": {"type": "LoadBalancer", "selector": {"app": "elb-openapi"}, "ports": [{"port": 80, "targetPort": 8000}]}}),
        ),
    ];
    let mut revisions = Vec::new();
    for _ in 0..2 {
        for (kind, object) in &objects {
            let name = object["metadata"]["name"].as_str().unwrap();
            let patch = Patch::Apply(object);
            match *kind {
                "ServiceAccount" => drop(
                    Api::<ServiceAccount>::default_namespaced(f.client.clone())
                        .patch(name, &params, &patch)
                        .await
                        .unwrap(),
                ),
                "ClusterRole" => drop(
                    Api::<ClusterRole>::all(f.client.clone())
                        .patch(name, &params, &patch)
                        .await
                        .unwrap(),
                ),
                "ClusterRoleBinding" => drop(
                    Api::<ClusterRoleBinding>::all(f.client.clone())
                        .patch(name, &params, &patch)
                        .await
                        .unwrap(),
                ),
                "Deployment" => drop(
                    Api::<Deployment>::default_namespaced(f.client.clone())
                        .patch(name, &params, &patch)
                        .await
                        .unwrap(),
                ),
                _ => drop(
                    Api::<Service>::default_namespaced(f.client.clone())
                        .patch(name, &params, &patch)
                        .await
                        .unwrap(),
                ),
            }
        }
        revisions.push(f.server.store().revision());
    }
    assert_eq!(revisions[0], revisions[1], "re-applying writes nothing");

    let service = Api::<Service>::default_namespaced(f.client.clone())
        .get("elb-openapi")
        .await
        .unwrap();
    let ingress = service
        .status
        .unwrap()
        .load_balancer
        .unwrap()
        .ingress
        .unwrap();
    assert!(ingress[0].ip.as_deref().unwrap().starts_with("20.1."));
    let deployment = Api::<Deployment>::default_namespaced(f.client.clone())
        .get("elb-openapi")
        .await
        .unwrap();
    assert_eq!(deployment.status.unwrap().available_replicas, Some(1));
}

#[tokio::test]
async fn watcher_relists_after_expired_resume() {
    let f = start().await;
    // Without bookmarks the watcher resumes from the version of the last object it saw.
    f.server.set_bookmark_interval(Duration::from_secs(3600));
    let api: Api<ConfigMap> = Api::default_namespaced(f.client.clone());
    let stream = watcher(
        api.clone(),
        watcher::Config::default().labels("elb-job=true"),
    );
    let mut events = std::pin::pin!(stream);
    api.create(&PostParams::default(), &record("elb-job-0000000a"))
        .await
        .unwrap();

    let mut saw_first = false;
    while !saw_first {
        let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let watcher::Event::Apply(cm) | watcher::Event::InitApply(cm) = event {
            saw_first = cm.metadata.name.as_deref() == Some("elb-job-0000000a");
        }
    }

    // A write the watcher does not see moves the history past its last version, so after
    // compaction its resumed watch gets 410 Expired and it must list again.
    let mut other = record("unrelated");
    other.metadata.labels = None;
    api.create(&PostParams::default(), &other).await.unwrap();
    f.server.compact_history();
    f.server.disconnect_watches();
    api.create(&PostParams::default(), &record("elb-job-0000000b"))
        .await
        .unwrap();

    let mut relisted = false;
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.try_next().await {
                Ok(Some(watcher::Event::Init)) => relisted = true,
                Ok(Some(watcher::Event::InitApply(cm))) | Ok(Some(watcher::Event::Apply(cm)))
                    if cm.metadata.name.as_deref() == Some("elb-job-0000000b") =>
                {
                    return true;
                }
                Ok(Some(_)) => {}
                // The watcher reports the 410 and recovers on the next poll.
                Err(_) => {}
                Ok(None) => return false,
            }
        }
    })
    .await;
    assert_eq!(found, Ok(true));
    assert!(relisted, "the watcher listed again after 410 Expired");
}
