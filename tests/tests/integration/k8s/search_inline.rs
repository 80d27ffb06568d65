//! Inline FASTA submissions (mode `B`) against Azurite and the test Kubernetes API server: the
//! FASTA lands in `queries/<job_id>.fa` and the job record keeps only its URL.

use std::path::PathBuf;

use std::time::Duration;

use elb_core::ErrorKind;
use elb_core::blob::{BlobOptions, BlobStore};
use elb_core::k8s::store::{JobMode, JobRecord, JobStore, MAX_CONFIG_MAP_DATA, RECORD_KEY};
use elb_core::k8s::{KubeconfigSource, connect_kubeconfig};
use elb_core::search::{QUERIES_CONTAINER, query_blob_name, submit_inline};
use elb_test_servers::azurite::{Azurite, repo_root};
use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;

use crate::blob_support::{md5_bytes, shared_key_store};

const NAMESPACE: &str = "default";

/// Azurite with a `queries` container, and the test API server with a job store client.
struct Setup {
    azurite: Azurite,
    _ca: TestCa,
    _server: KubeApiServer,
    blobs: BlobStore,
    jobs: JobStore,
    config_maps: Api<ConfigMap>,
}

async fn setup() -> Setup {
    elb_core::tls::install_crypto_provider();
    let azurite = crate::blob_support::azurite_http().await;
    let blobs = shared_key_store(
        &azurite,
        &azurite.blob_endpoint(),
        crate::blob_support::options(),
    );
    blobs
        .create_container_if_missing(QUERIES_CONTAINER)
        .await
        .unwrap();

    let ca = TestCa::generate().expect("test CA");
    let server = KubeApiServer::start(&ca)
        .await
        .expect("test API server starts");
    let source = KubeconfigSource::Yaml(server.kubeconfig_yaml(NAMESPACE));
    let client = connect_kubeconfig(&source, None)
        .await
        .expect("client for the test API server");
    Setup {
        azurite,
        _ca: ca,
        _server: server,
        blobs,
        jobs: JobStore::new(client.clone(), NAMESPACE).unwrap(),
        config_maps: Api::namespaced(client, NAMESPACE),
    }
}

fn query_file(name: &str) -> PathBuf {
    repo_root().join("examples/data/queries").join(name)
}

fn record(job_id: &str) -> JobRecord {
    let mut record = JobRecord::new(job_id, JobMode::A);
    record.program = "blastn".into();
    record.db = "core_nt".into();
    record.cluster_name = "elb-test".into();
    record
}

#[tokio::test]
async fn large_fasta_goes_to_blob_storage() {
    let setup = setup().await;
    for (job_id, file) in [
        ("a1b2c3d4e5f6", "pathogen-1000.fa"),
        ("0f0e0d0c", "pathogen-100.fa"),
    ] {
        let fasta = std::fs::read(query_file(file)).unwrap();
        let submission = submit_inline(&setup.blobs, &setup.jobs, record(job_id), fasta.clone())
            .await
            .unwrap();

        let expected_url = setup
            .blobs
            .blob_url(QUERIES_CONTAINER, &format!("{job_id}.fa"));
        assert_eq!(submission.queries_url, expected_url);
        assert_eq!(submission.fasta.bytes, fasta.len());
        assert_eq!(submission.upload.content_md5, Some(md5_bytes(&fasta)));

        // The stored blob is the input, byte for byte.
        let (stored, _) = setup
            .blobs
            .download_bytes(
                QUERIES_CONTAINER,
                &query_blob_name(job_id),
                &Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(md5_bytes(&stored), md5_bytes(&fasta), "{file}");

        // The record is small and points at the blob instead of holding the text.
        let config_map = setup
            .config_maps
            .get(&format!("elb-job-{job_id}"))
            .await
            .unwrap();
        let json = config_map.data.unwrap().remove(RECORD_KEY).unwrap();
        assert!(json.len() < 4096, "{file}: record is {} bytes", json.len());
        assert!(json.len() < MAX_CONFIG_MAP_DATA);
        assert!(
            !json.contains("ACGT"),
            "{file}: record contains sequence text"
        );

        let read = setup.jobs.get(job_id).await.unwrap().record;
        assert_eq!(read.mode, JobMode::B);
        assert_eq!(read.program, "blastn");
        assert_eq!(read.extra["queries"], expected_url.as_str());
        assert_eq!(read.extra["queries_bytes"], fasta.len());
        let headers = fasta.split(|b| *b == b'\n').filter(|l| l.starts_with(b">"));
        assert_eq!(read.extra["queries_sequences"], headers.count());
    }
    // pathogen-1000.fa alone is larger than a ConfigMap can hold.
    let large = std::fs::metadata(query_file("pathogen-1000.fa"))
        .unwrap()
        .len();
    assert!(large > MAX_CONFIG_MAP_DATA as u64);
}

#[tokio::test]
async fn invalid_fasta_writes_nothing() {
    let setup = setup().await;
    for (text, expected) in [
        (&b""[..], "empty"),
        (b"ACGTACGT\n", "\"ACGTACGT\""),
        (b">q1\nAC\0GT\n", "NUL byte"),
    ] {
        let error = submit_inline(&setup.blobs, &setup.jobs, record("abcdef01"), text)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.message().contains(expected), "{error}");
    }
    let exists = setup
        .blobs
        .exists(QUERIES_CONTAINER, "abcdef01.fa")
        .await
        .unwrap();
    assert!(!exists);
    let error = setup.jobs.get("abcdef01").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn invalid_job_id_is_rejected_first() {
    let setup = setup().await;
    let error = submit_inline(
        &setup.blobs,
        &setup.jobs,
        record("NOT-HEX"),
        &b">q\nAC\n"[..],
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.message().contains("\"NOT-HEX\""), "{error}");
}

#[tokio::test]
async fn reused_job_id_keeps_first_queries() {
    let setup = setup().await;
    let first = b">first\nACGT\n".to_vec();
    submit_inline(&setup.blobs, &setup.jobs, record("12345678"), first.clone())
        .await
        .unwrap();

    let error = submit_inline(
        &setup.blobs,
        &setup.jobs,
        record("12345678"),
        &b">second\nTT\n"[..],
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    assert!(error.message().contains("queries/12345678.fa"), "{error}");
    let (stored, _) = setup
        .blobs
        .download_bytes(QUERIES_CONTAINER, "12345678.fa", &Default::default())
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), first.as_slice());
}

#[tokio::test]
async fn failed_record_removes_uploaded_queries() {
    let setup = setup().await;
    // A record of this id exists, but its queries blob does not.
    setup.jobs.create(&record("9abcdef0")).await.unwrap();

    let error = submit_inline(
        &setup.blobs,
        &setup.jobs,
        record("9abcdef0"),
        &b">q\nAC\n"[..],
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists);
    let exists = setup
        .blobs
        .exists(QUERIES_CONTAINER, "9abcdef0.fa")
        .await
        .unwrap();
    assert!(!exists, "the uploaded queries blob was left behind");
    let kept = setup.jobs.get("9abcdef0").await.unwrap().record;
    assert_eq!(kept.mode, JobMode::A);
}

#[tokio::test]
async fn dropped_submission_still_completes() {
    let setup = setup().await;
    let proxy = FaultProxy::start(
        &format!("http://127.0.0.1:{}", setup.azurite.port()),
        ProxyOptions::default(),
    )
    .await
    .unwrap();
    // The upload of the queries is held long enough for the caller to give up during it.
    proxy.add_rule(FaultRule::new(
        Matcher::any()
            .method(http::Method::PUT)
            .path_contains("/queries/0badcafe.fa"),
        Fault::Stall(Duration::from_millis(800)),
    ));
    let endpoint = format!("{}/{}", proxy.url(), setup.azurite.account_name());
    let proxied = shared_key_store(
        &setup.azurite,
        &endpoint,
        BlobOptions {
            retry: crate::blob_support::short_retries(),
            ..BlobOptions::default()
        },
    );
    let fasta = b">q1\nACGTACGT\n".to_vec();

    let submission = submit_inline(&proxied, &setup.jobs, record("0badcafe"), fasta.clone());
    let outcome = tokio::time::timeout(Duration::from_millis(200), submission).await;
    assert!(
        outcome.is_err(),
        "the submission finished before the caller gave up"
    );

    // The dropped submission goes on in the background and creates the record.
    let mut stored = None;
    for _ in 0..100 {
        match setup.jobs.get("0badcafe").await {
            Ok(found) => {
                stored = Some(found.record);
                break;
            }
            Err(error) if error.kind() == ErrorKind::NotFound => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("reading the record failed: {error}"),
        }
    }
    let stored = stored.expect("record created after the caller dropped the submission");
    assert_eq!(stored.mode, JobMode::B);
    let (queries, _) = setup
        .blobs
        .download_bytes(QUERIES_CONTAINER, "0badcafe.fa", &Default::default())
        .await
        .unwrap();
    assert_eq!(queries.as_ref(), fasta.as_slice());
}
