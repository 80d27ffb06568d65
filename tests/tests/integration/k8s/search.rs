//! A search's Jobs against the test Kubernetes API server and its job controller.

use std::time::Duration;

use elb_core::ErrorKind;
use elb_core::k8s::search::{
    DeletePropagation, FixedMarkers, JobOutcome, Markers, Resources, SearchJobs, SearchSpec,
    SearchState, TemplateInputs, WaitOptions, delete_search, render_template,
};
use elb_core::k8s::store::{JobMode, JobRecord, JobStore};
use elb_test_servers::kube::{JobPlan, PodOutcome, WaitingReason};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams};

use crate::k8s_common::{Cluster, NAMESPACE, elb_job_id, start};

const RESULTS: &str = "https://acct.blob.core.windows.net/results/0a1b2c3d/job-x";

fn spec(elb_job_id: &str, batches: u32) -> SearchSpec {
    SearchSpec {
        elb_job_id: elb_job_id.to_owned(),
        program: "blastn".into(),
        db: "core_nt_virus".into(),
        queries: "https://acct.blob.core.windows.net/queries/0a1b2c3d.fa".into(),
        results: RESULTS.into(),
        blast_options: "-evalue 0.05 -outfmt 7".into(),
        batches,
        image: "elbacr.azurecr.io/ncbi/elb:1.4.0".into(),
        resources: Resources {
            cpu_request: Some("1".into()),
            memory_request: Some("1G".into()),
            ..Resources::default()
        },
        ..SearchSpec::default()
    }
}

async fn steps(cluster: &Cluster, count: usize) {
    for _ in 0..count {
        cluster.server.controller().step().await;
    }
}

async fn submitted(cluster: &Cluster, id: &str, batches: u32) -> SearchJobs {
    let search = SearchJobs::new(cluster.client.clone(), NAMESPACE, id).unwrap();
    let jobs = spec(id, batches).batch_jobs().unwrap();
    let report = search.submit(&jobs).await.unwrap();
    assert_eq!(report.created.len(), batches as usize);
    search
}

#[tokio::test]
async fn search_succeeds_through_controller() {
    let cluster = start().await;
    let id = elb_job_id('a');
    let search = submitted(&cluster, &id, 3).await;

    let none = FixedMarkers::default();
    let status = search.status(&none, RESULTS).await.unwrap();
    assert_eq!(status.total, 3);
    assert_eq!(status.active, 3);
    assert_eq!(status.state, SearchState::Running);

    steps(&cluster, 6).await;
    let status = search.status(&none, RESULTS).await.unwrap();
    assert_eq!(status.succeeded, 3);
    assert_eq!(status.failed, 0);
    // Every Job finished, but without the success marker the search is still finishing.
    assert_eq!(status.state, SearchState::Running);

    let done = FixedMarkers(Markers {
        success: true,
        failure: false,
        results_listable: true,
    });
    let status = search.status(&done, RESULTS).await.unwrap();
    assert_eq!(status.state, SearchState::Completed);

    let pods = search.list_pods().await.unwrap();
    assert_eq!(pods.len(), 3);
    let outcome = search
        .wait_job(
            "blastn-batch-core-nt-virus-job-001-aaaaaaaa",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(outcome, JobOutcome::Complete);
}

#[tokio::test]
async fn failed_job_fails_search() {
    let cluster = start().await;
    let id = elb_job_id('b');
    let failing = "blastn-batch-core-nt-virus-job-001-bbbbbbbb";
    cluster
        .server
        .controller()
        .plan_job_named(failing, JobPlan::new([PodOutcome::error()]));
    let search = submitted(&cluster, &id, 2).await;

    steps(&cluster, 20).await;
    let status = search
        .status(&FixedMarkers::default(), RESULTS)
        .await
        .unwrap();
    assert_eq!(status.state, SearchState::Failed);
    assert_eq!(status.failed, 1);
    assert_eq!(status.succeeded, 1);
    assert_eq!(status.failed_jobs[0].name, failing);
    assert_eq!(status.failed_jobs[0].reason, "BackoffLimitExceeded");

    let outcome = search
        .wait_job(failing, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(outcome, JobOutcome::Failed { ref reason, .. } if reason == "BackoffLimitExceeded"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn transient_pod_failure_is_not_search_failure() {
    let cluster = start().await;
    let id = elb_job_id('c');
    let flaky = "blastn-batch-core-nt-virus-job-000-cccccccc";
    cluster.server.controller().plan_job_named(
        flaky,
        JobPlan::new([
            PodOutcome::oom_killed(),
            PodOutcome::error(),
            PodOutcome::Succeed,
        ]),
    );
    let search = submitted(&cluster, &id, 1).await;

    steps(&cluster, 3).await;
    let jobs = search.list_jobs().await.unwrap();
    let failed_pods = jobs[0].status.as_ref().and_then(|s| s.failed).unwrap_or(0);
    let restarts: i32 = search
        .list_pods()
        .await
        .unwrap()
        .iter()
        .flat_map(|pod| {
            pod.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .map(|c| c.restart_count)
        .sum();
    assert!(failed_pods > 0 || restarts > 0, "the first attempt failed");

    steps(&cluster, 12).await;
    let status = search
        .status(&FixedMarkers::default(), RESULTS)
        .await
        .unwrap();
    assert_eq!(status.failed, 0);
    assert_eq!(status.succeeded, 1);
    assert!(status.stuck.is_empty(), "{:?}", status.stuck);
    assert_ne!(status.state, SearchState::Failed);
}

#[tokio::test]
async fn stuck_pod_is_reported() {
    let cluster = start().await;
    let id = elb_job_id('d');
    let job = "blastn-batch-core-nt-virus-job-000-dddddddd";
    cluster.server.controller().plan_job_named(
        job,
        JobPlan::new([PodOutcome::stuck(WaitingReason::ImagePullBackOff)]),
    );
    let search = submitted(&cluster, &id, 2).await;

    steps(&cluster, 4).await;
    let status = search
        .status(&FixedMarkers::default(), RESULTS)
        .await
        .unwrap();
    assert_eq!(status.state, SearchState::Stuck);
    assert_eq!(status.stuck.len(), 1);
    assert_eq!(status.stuck[0].reason, "ImagePullBackOff");
    assert_eq!(status.stuck[0].job.as_deref(), Some(job));
    assert!(
        status.stuck[0].pod.starts_with(job),
        "{}",
        status.stuck[0].pod
    );
}

#[tokio::test]
async fn resubmit_adopts_and_foreign_job_conflicts() {
    let cluster = start().await;
    let id = elb_job_id('e');
    let search = submitted(&cluster, &id, 2).await;
    let again = search
        .submit(&spec(&id, 2).batch_jobs().unwrap())
        .await
        .unwrap();
    assert!(again.created.is_empty());
    assert_eq!(again.existing.len(), 2);

    // Another search whose Job names collide: same first 8 hex digits, same database.
    let other_id = format!("job-{}{}", "e".repeat(8), "f".repeat(24));
    let other = SearchJobs::new(cluster.client.clone(), NAMESPACE, &other_id).unwrap();
    let error = other
        .submit(&spec(&other_id, 1).batch_jobs().unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert!(error.message().contains(&id), "{error}");
    assert!(error.message().contains(&other_id), "{error}");
    assert_eq!(
        error.target(),
        Some("Job default/blastn-batch-core-nt-virus-job-000-eeeeeeee")
    );
}

#[tokio::test]
async fn job_without_search_label_is_rejected_before_submit() {
    let cluster = start().await;
    let id = elb_job_id('1');
    let search = SearchJobs::new(cluster.client.clone(), NAMESPACE, &id).unwrap();
    let jobs = spec(&elb_job_id('2'), 1).batch_jobs().unwrap();
    let error = search.submit(&jobs).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("elb-job-id"), "{error}");
    assert!(search.list_jobs().await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_removes_jobs_pods_and_record() {
    let cluster = start().await;
    let id = elb_job_id('3');
    let search = submitted(&cluster, &id, 3).await;
    let bystander = submitted(&cluster, &elb_job_id('4'), 1).await;
    steps(&cluster, 2).await;
    assert_eq!(search.list_pods().await.unwrap().len(), 3);

    let store = JobStore::new(cluster.client.clone(), NAMESPACE).unwrap();
    let mut record = JobRecord::new("0a1b2c3d", JobMode::A);
    record.elb_job_id = Some(id.clone());
    store.create(&record).await.unwrap();

    let deleted = delete_search(&search, &store, "0a1b2c3d", DeletePropagation::Background)
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    steps(&cluster, 1).await;
    assert!(search.list_jobs().await.unwrap().is_empty());
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let left = pods
        .list(&ListParams::default().labels(&format!("elb-job-id={id}")))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{} pods left", left.items.len());
    assert_eq!(
        store.get("0a1b2c3d").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(bystander.list_jobs().await.unwrap().len(), 1);

    let again = delete_search(&search, &store, "0a1b2c3d", DeletePropagation::Foreground)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn removed_jobs_with_success_marker_complete() {
    let cluster = start().await;
    let id = elb_job_id('5');
    let mut spec = spec(&id, 2);
    spec.ttl_seconds_after_finished = Some(60);
    let search = SearchJobs::new(cluster.client.clone(), NAMESPACE, &id).unwrap();
    search.submit(&spec.batch_jobs().unwrap()).await.unwrap();
    steps(&cluster, 6).await;
    cluster.server.controller().advance_clock(120);
    steps(&cluster, 1).await;
    assert!(search.list_jobs().await.unwrap().is_empty());

    let status = search
        .status(&FixedMarkers::default(), RESULTS)
        .await
        .unwrap();
    assert_eq!(status.failed, 0);
    assert_ne!(status.state, SearchState::Failed);
    let done = FixedMarkers(Markers {
        success: true,
        failure: false,
        results_listable: true,
    });
    let status = search.status(&done, RESULTS).await.unwrap();
    assert_eq!(status.state, SearchState::Completed);
    let outcome = search
        .wait_job(
            "blastn-batch-core-nt-virus-job-000-55555555",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(outcome, JobOutcome::Removed);
}

#[tokio::test]
async fn wait_survives_watch_expiry() {
    let cluster = start().await;
    cluster
        .server
        .set_bookmark_interval(Duration::from_secs(3600));
    let id = elb_job_id('6');
    let job = "blastn-batch-core-nt-virus-job-000-66666666";
    cluster
        .server
        .controller()
        .plan_job_named(job, JobPlan::new([PodOutcome::error()]));
    let search = submitted(&cluster, &id, 1).await;

    // Status is read at the start and then only on Job events, so the wait ends only if
    // the watch recovers from 410 Expired.
    let options = WaitOptions {
        timeout: Duration::from_secs(60),
        marker_interval: Duration::from_secs(3600),
        watch_timeout: Some(Duration::from_secs(1)),
    };
    let markers = FixedMarkers::default();
    let wait = search.wait(&markers, RESULTS, &options);
    let drive = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let config_maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), NAMESPACE);
        let unrelated: ConfigMap =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "unrelated"}})).unwrap();
        config_maps
            .create(&PostParams::default(), &unrelated)
            .await
            .unwrap();
        cluster.server.compact_history();
        // The watch request ends after 1 s and restarts from a compacted resourceVersion.
        tokio::time::sleep(Duration::from_secs(3)).await;
        steps(&cluster, 20).await;
    };
    let (status, ()) = tokio::join!(wait, drive);
    let status = status.unwrap();
    assert_eq!(status.state, SearchState::Failed);
    assert_eq!(status.failed_jobs[0].name, job);
}

#[tokio::test]
async fn wait_times_out_naming_search() {
    let cluster = start().await;
    let id = elb_job_id('7');
    let search = submitted(&cluster, &id, 1).await;
    let mut options = WaitOptions::new(Duration::from_millis(500));
    options.marker_interval = Duration::from_millis(100);
    let error = search
        .wait(&FixedMarkers::default(), RESULTS, &options)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert!(error.message().contains(&id), "{error}");
    assert!(error.message().contains("Running"), "{error}");
}

#[tokio::test]
async fn real_template_jobs_run() {
    let cluster = start().await;
    let id = elb_job_id('8');
    let template = include_str!("../../../../elb-core/src/k8s/search/testdata/job.yaml.template");
    let inputs = TemplateInputs {
        elb_job_id: id.clone(),
        program: "blastn".into(),
        db: "core_nt_pathogen".into(),
        batches: 2,
        ..TemplateInputs::default()
    };
    let jobs = render_template(template, &inputs).unwrap();
    let search = SearchJobs::new(cluster.client.clone(), NAMESPACE, &id).unwrap();
    let report = search.submit(&jobs).await.unwrap();
    assert_eq!(
        report.created,
        [
            "blastn-batch-core-nt-pathogen-job-000-88888888",
            "blastn-batch-core-nt-pathogen-job-001-88888888"
        ]
    );
    steps(&cluster, 6).await;
    let status = search
        .status(&FixedMarkers::default(), RESULTS)
        .await
        .unwrap();
    assert_eq!(status.succeeded, 2);
}
