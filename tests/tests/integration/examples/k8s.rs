//! The Kubernetes examples (`search`, `apply_openapi`, `health`) against the test Kubernetes
//! API server, whose job controller runs the search's pods, and Azurite.

use std::path::PathBuf;
use std::time::Duration;

use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, BlobUrl, UploadOptions};
use elb_core::k8s::search::has_condition;
use elb_core::k8s::{KubeconfigSource, connect_kubeconfig};
use elb_test_servers::azurite::{Azurite, AzuriteMode, repo_root};
use elb_test_servers::kube::{JobPlan, KubeApiServer, PodOutcome, TerminationReason};
use elb_test_servers::tls::TestCa;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

use crate::auth_support::{CLIENT_ID, Entra, TENANT};
use crate::blob_support::md5_file;
use crate::examples_support::{build_example, run_example, stderr, stdout};

/// The test API server with a kubeconfig file for it.
struct Cluster {
    _ca: TestCa,
    server: KubeApiServer,
    kubeconfig: tempfile::NamedTempFile,
    client: kube::Client,
}

async fn cluster() -> Cluster {
    elb_core::tls::install_crypto_provider();
    let ca = TestCa::generate().unwrap();
    let server = KubeApiServer::start(&ca).await.unwrap();
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    server
        .write_kubeconfig(kubeconfig.path(), "default")
        .unwrap();
    let source = KubeconfigSource::Yaml(server.kubeconfig_yaml("default"));
    let client = connect_kubeconfig(&source, None).await.unwrap();
    Cluster {
        _ca: ca,
        server,
        kubeconfig,
        client,
    }
}

impl Cluster {
    fn kubeconfig_env(&self) -> (&'static str, String) {
        ("KUBECONFIG", self.kubeconfig.path().display().to_string())
    }
}

/// Returns the value of variable `name` of the Job's first container.
fn job_env(job: &Value, name: &str) -> String {
    job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|var| var["name"] == name)
        .and_then(|var| var["value"].as_str())
        .unwrap()
        .to_owned()
}

/// Makes each succeeded pod write its batch's result blob at its Job's `ELB_RESULTS`, as
/// the BLAST container's export does.
fn write_results_on_success(server: &KubeApiServer, store: BlobStore) {
    server.controller().on_pod_succeeded(move |job, _pod| {
        let store = store.clone();
        async move {
            let url = BlobUrl::parse(&job_env(&job, "ELB_RESULTS")).unwrap();
            let folder = url.name().unwrap().trim_end_matches('/').to_owned();
            let batch = job_env(&job, "JOB_NUM");
            let name = format!("{folder}/batch_{batch}-blastn-testdb.out.gz");
            let content = &b"\x1f\x8b result"[..];
            let container = url.container().unwrap();
            store
                .upload_bytes(container, &name, content, &UploadOptions::default())
                .await
                .unwrap();
        }
    });
}

/// Writes the success marker once `batches` Jobs exist and all are complete, as
/// ElasticBLAST's finalizer does.
fn spawn_finalizer(
    client: kube::Client,
    store: BlobStore,
    batches: usize,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let jobs: Api<Job> = Api::namespaced(client, "default");
        let finished = loop {
            let list = jobs.list(&ListParams::default()).await.unwrap().items;
            let complete: Vec<&Job> = list
                .iter()
                .filter(|job| has_condition(job, "Complete"))
                .collect();
            if list.len() == batches && complete.len() == batches {
                break list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let job = serde_json::to_value(&finished[0]).unwrap();
        let url = BlobUrl::parse(&job_env(&job, "ELB_RESULTS")).unwrap();
        let folder = url.name().unwrap().trim_end_matches('/').to_owned();
        store
            .upload_bytes(
                url.container().unwrap(),
                &format!("{folder}/metadata/SUCCESS.txt"),
                &b"SUCCESS\n"[..],
                &UploadOptions::default(),
            )
            .await
            .unwrap();
    })
}

async fn azurite_http() -> (Azurite, BlobStore) {
    let azurite = crate::blob_support::azurite_http().await;
    let store = crate::blob_support::shared_key_store(
        &azurite,
        &azurite.blob_endpoint(),
        crate::blob_support::options(),
    );
    for container in ["queries", "results"] {
        store.create_container_if_missing(container).await.unwrap();
    }
    (azurite, store)
}

fn query_file() -> PathBuf {
    repo_root().join("examples/data/queries/pathogen-100.fa")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_records_runs_and_deletes() {
    let cluster = cluster().await;
    let (azurite, store) = azurite_http().await;
    write_results_on_success(&cluster.server, store.clone());
    let finalizer = spawn_finalizer(cluster.client.clone(), store.clone(), 2);
    let _ticker = cluster
        .server
        .controller()
        .start_ticking(Duration::from_millis(50));

    let binary = build_example("search");
    let env = vec![
        cluster.kubeconfig_env(),
        ("ELB_STORAGE_URL", azurite.blob_endpoint()),
        ("AZURE_STORAGE_KEY", azurite.account_key().to_owned()),
        ("ELB_DB", "testdb".to_owned()),
        ("ELB_BLAST_IMAGE", "example.invalid/blast:test".to_owned()),
        ("ELB_BATCHES", "2".to_owned()),
        ("ELB_WAIT_SECS", "60".to_owned()),
    ];
    let output = run_example(&binary, &[query_file().to_str().unwrap()], &env);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains("100 sequences"), "{text}");
    assert!(text.contains("2 Job(s) created, 0 adopted"), "{text}");
    assert!(
        text.contains("completed: 2 of 2 Jobs succeeded, 0 failed"),
        "{text}"
    );
    assert!(
        text.contains("deleted 2 Job(s) with their pods and the job record"),
        "{text}"
    );
    assert!(finalizer.is_finished());

    // The queries stay in blob storage, byte for byte; Jobs, pods and records are gone.
    let queries = store.list_blobs("queries", "").await.unwrap();
    assert_eq!(queries.len(), 1);
    let (content, _) = store
        .download_bytes("queries", &queries[0].name, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        crate::blob_support::md5_bytes(&content),
        md5_file(&query_file())
    );
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), "default");
    assert!(
        jobs.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let records: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let selector = ListParams::default().labels("elb-job=true");
    assert!(records.list(&selector).await.unwrap().items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_with_failed_job_exits_nonzero_and_keeps() {
    let cluster = cluster().await;
    let (azurite, _store) = azurite_http().await;
    let failing = JobPlan::new(
        [PodOutcome::Fail {
            reason: TerminationReason::OomKilled,
        }; 4],
    );
    cluster.server.controller().set_default_plan(failing);
    let _ticker = cluster
        .server
        .controller()
        .start_ticking(Duration::from_millis(50));

    let binary = build_example("search");
    let env = vec![
        cluster.kubeconfig_env(),
        ("ELB_STORAGE_URL", azurite.blob_endpoint()),
        ("AZURE_STORAGE_KEY", azurite.account_key().to_owned()),
        ("ELB_DB", "testdb".to_owned()),
        ("ELB_BLAST_IMAGE", "example.invalid/blast:test".to_owned()),
        ("ELB_WAIT_SECS", "60".to_owned()),
    ];
    let output = run_example(&binary, &[query_file().to_str().unwrap(), "--keep"], &env);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}\n{}", stderr(&output));
    assert!(
        text.contains("failed: 0 of 1 Jobs succeeded, 1 failed"),
        "{text}"
    );
    assert!(text.contains("BackoffLimitExceeded"), "{text}");
    assert!(text.contains("kept the Jobs and the job record"), "{text}");

    let records: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    let kept = records
        .list(&ListParams::default().labels("elb-job=true,status=failed"))
        .await
        .unwrap();
    assert_eq!(kept.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_rejects_invalid_fasta_before_any_job() {
    let cluster = cluster().await;
    let (azurite, store) = azurite_http().await;
    let binary = build_example("search");
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "ACGTACGT\n").unwrap();
    let env = vec![
        cluster.kubeconfig_env(),
        ("ELB_STORAGE_URL", azurite.blob_endpoint()),
        ("AZURE_STORAGE_KEY", azurite.account_key().to_owned()),
        ("ELB_DB", "testdb".to_owned()),
        ("ELB_BLAST_IMAGE", "example.invalid/blast:test".to_owned()),
    ];
    let output = run_example(&binary, &[bad.path().to_str().unwrap()], &env);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("does not start with a '>' header line"),
        "{message}"
    );
    assert!(store.list_blobs("queries", "").await.unwrap().is_empty());
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), "default");
    assert!(
        jobs.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_openapi_twice_changes_nothing() {
    let cluster = cluster().await;
    let binary = build_example("apply_openapi");
    let env = vec![
        cluster.kubeconfig_env(),
        ("ELB_NAMESPACE", "default".to_owned()),
        ("ELB_OPENAPI_CLIENT_ID", CLIENT_ID.to_owned()),
        (
            "ELB_OPENAPI_IMAGE",
            "example.invalid/elb-openapi:1".to_owned(),
        ),
    ];
    let first = run_example(&binary, &["--internal"], &env);
    let text = stdout(&first);
    assert!(first.status.success(), "{text}\n{}", stderr(&first));
    assert!(text.contains("applied 5 objects, 5 changed"), "{text}");
    assert!(text.contains("Deployment default/elb-openapi"), "{text}");

    let second = run_example(&binary, &["--internal"], &env);
    let text = stdout(&second);
    assert!(second.status.success(), "{text}\n{}", stderr(&second));
    assert!(text.contains("applied 5 objects, 0 changed"), "{text}");

    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let deployment = deployments.get("elb-openapi").await.unwrap();
    let deployment = serde_json::to_value(&deployment).unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "example.invalid/elb-openapi:1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_check() {
    let cluster = cluster().await;
    let entra = Entra::start().await;
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&entra.ca))
        .await
        .expect("Azurite must start: run `npm ci` in the repository root");
    let options = BlobOptions {
        tls: entra.tls(),
        ..crate::blob_support::options()
    };
    let auth = BlobAuth::shared_key(azurite.account_name(), azurite.account_key());
    let store = BlobStore::new(&azurite.blob_endpoint(), auth, options).unwrap();
    store.create_container_if_missing("results").await.unwrap();

    let binary = build_example("health");
    let env = vec![
        cluster.kubeconfig_env(),
        ("ELB_STORAGE_URL", azurite.blob_endpoint()),
        ("ELB_CREDENTIALS", "workload-identity".to_owned()),
        ("AZURE_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_AUTHORITY_HOST", entra.server.authority_host()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            entra.token_file.display().to_string(),
        ),
        ("SSL_CERT_FILE", entra.ca.cert_path().display().to_string()),
    ];
    let output = run_example(&binary, &[], &env);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["checks"]["kubernetes"]["status"], "ok");
    assert_eq!(report["checks"]["kubernetes"]["nodes"], 1);
    assert_eq!(report["checks"]["azure_auth"]["status"], "ok");
    assert_eq!(
        report["checks"]["azure_auth"]["method"],
        "WorkloadIdentityCredential"
    );
    assert_eq!(report["checks"]["storage"]["status"], "ok", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_degraded_exits_nonzero() {
    let cluster = cluster().await;
    let binary = build_example("health");
    // No credential is configured: the auth check fails, the Kubernetes check passes.
    let env = vec![
        cluster.kubeconfig_env(),
        ("ELB_CREDENTIALS", "client-secret".to_owned()),
    ];
    let output = run_example(&binary, &[], &env);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["checks"]["kubernetes"]["status"], "ok");
    assert_eq!(report["checks"]["azure_auth"]["status"], "error");
    let message = report["checks"]["azure_auth"]["message"].as_str().unwrap();
    assert!(
        message.contains("AZURE_CLIENT_SECRET is not set"),
        "{message}"
    );
    assert!(stderr(&output).contains("degraded"), "{}", stderr(&output));
}

#[test]
fn health_missing_kubeconfig_names_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nonexistent");
    let binary = build_example("health");
    let output = run_example(&binary, &[], &[("KUBECONFIG", path.display().to_string())]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    let expected = format!(
        "error: kubeconfig file {} named by KUBECONFIG not found: set KUBECONFIG",
        path.display()
    );
    assert!(message.contains(&expected), "{message}");
    assert!(!message.contains("valid kubeconfig"), "{message}");
    assert!(!message.contains("caused by"), "{message}");
}

#[test]
fn k8s_examples_without_configuration_list_needs() {
    for (example, args, needed) in [
        ("search", vec!["q.fa"], vec!["ELB_DB", "ELB_BLAST_IMAGE"]),
        (
            "apply_openapi",
            vec![],
            vec!["ELB_OPENAPI_CLIENT_ID", "ELB_OPENAPI_IMAGE"],
        ),
        ("health", vec![], vec!["KUBECONFIG"]),
    ] {
        let binary = build_example(example);
        let output = run_example(&binary, &args, &[]);
        assert_eq!(output.status.code(), Some(2), "{example}");
        let message = stderr(&output);
        for variable in needed {
            assert!(message.contains(variable), "{example}: {message}");
        }
    }
}
