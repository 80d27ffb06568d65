//! The ElasticBLAST flow on this machine, with nothing configured: run `scripts/quickstart`.
//!
//! It starts local stand-ins for Azure and AKS on 127.0.0.1 in this process (Azurite over
//! HTTPS with OAuth, the test Entra ID token service and the test Kubernetes API server),
//! then does what the OpenAPI service does for one search:
//!
//! 1. gets a storage token through the workload identity exchange, as a pod on AKS does;
//! 2. uploads the BLAST database `data/blastdb/` and the query `data/queries/pathogen-100.fa`
//!    (inline FASTA, mode `B`: the job record keeps the blob URL, not the text);
//! 3. submits the search's batch Jobs, which the test cluster's job controller runs. Its pods
//!    run no BLAST: when one succeeds, it places its batch's part of the recorded output of a
//!    real search (`data/results/B2-pathogen-E16-1N/`) in the `results` container. Once every
//!    batch Job is complete, a stand-in for ElasticBLAST's finalizer places the rest, and
//!    `metadata/SUCCESS.txt` last;
//! 4. follows the search to `completed`, streams the results as a ZIP and checks the MD5 of
//!    every entry against the source files;
//! 5. deletes the search and checks that no Job, pod or job record is left.
//!
//! It prints one line per step, progress bars on stderr during transfers, and a summary with
//! timings. It exits 1 with the error when a step fails.
//!
//! Options: `--out PATH` sets where the ZIP goes (default `target/quickstart/results.zip`),
//! and `--help` prints the usage. Nothing is sent anywhere but 127.0.0.1.

#[path = "quickstart/local.rs"]
mod local;
#[path = "quickstart/options.rs"]
mod options;
#[path = "quickstart/results.rs"]
mod results;
#[path = "quickstart/steps.rs"]
mod steps;
#[path = "quickstart/verify.rs"]
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, RetryOptions, TreeOptions, ZipOptions};
use elb_core::k8s::search::{
    BlobMarkers, DeletePropagation, SearchJobs, SearchSpec, SearchState, WaitOptions, delete_search,
};
use elb_core::k8s::store::{JobMode, JobRecord, JobStatus, JobStore};
use elb_core::k8s::{KubeconfigSource, connect_kubeconfig};
use elb_core::search::{new_job_id, submit_inline};
use elb_core::{ErrorKind, auth::STORAGE_SCOPE};
use elb_examples::{ExampleError, ProgressBar, format_bytes, run};

use local::{LocalServers, NAMESPACE};
use steps::Steps;

/// The result tree that the test cluster's pods place as their output.
const RESULT_TREE: &str = "results/B2-pathogen-E16-1N";
/// The query of the search.
const QUERY_FILE: &str = "queries/pathogen-100.fa";
/// The BLAST database name, the file name stem of `data/blastdb/`.
const DB: &str = "testdb";
/// The search's BLAST program.
const PROGRAM: &str = "blastn";
/// The image of the batch Jobs. The test cluster pulls no image, and `.invalid` is a reserved
/// domain, so the name cannot be mistaken for a real one.
const IMAGE: &str = "quickstart.invalid/elasticblast:local";
/// The maximum time the search may take on the test cluster.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    run(quickstart())
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Returns the default path of the results ZIP, in the repository's `target/` folder.
fn default_output_path() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    root.join("target/quickstart/results.zip")
}

/// Finds the one `job-<32 hex>` folder of the result tree; its name is the search id.
fn result_folder() -> Result<(String, PathBuf), ExampleError> {
    let root = data_dir().join(RESULT_TREE);
    let entries = std::fs::read_dir(&root)
        .map_err(|error| ExampleError::Other(format!("cannot read {}: {error}", root.display())))?;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("job-") && path.is_dir() {
            return Ok((name, path));
        }
    }
    Err(ExampleError::Other(format!(
        "{} has no job-<id> folder",
        root.display()
    )))
}

async fn quickstart() -> Result<(), ExampleError> {
    let zip_path = match options::parse(std::env::args().skip(1), default_output_path())? {
        options::Command::Help => {
            println!("{}", options::USAGE);
            return Ok(());
        }
        options::Command::Run(path) => path,
    };
    let (elb_job_id, tree) = result_folder()?;
    let mut steps = Steps::new(11);
    println!("elb quickstart: the ElasticBLAST flow on local servers (127.0.0.1 only)");

    let servers = steps
        .run("start local servers", async {
            let servers = LocalServers::start().await?;
            let detail = format!(
                "started Azurite (HTTPS, OAuth) at {}, the Entra ID token service at {} and \
                 the Kubernetes API server at {}",
                servers.azurite.blob_endpoint(),
                servers.entra.url(),
                servers.kube.url()
            );
            Ok((servers, detail))
        })
        .await?;

    let chain = steps
        .run("get a storage token", async {
            let token_file = servers.write_service_account_token()?;
            let chain = servers.credential_chain(&token_file)?;
            let method = chain.probe(STORAGE_SCOPE).await?;
            let detail = format!(
                "got a storage token from {method} (service-account token {} exchanged at \
                 {})",
                token_file.display(),
                servers.entra.token_url(local::TENANT)
            );
            Ok((chain, detail))
        })
        .await?;

    let options = BlobOptions {
        tls: servers.tls()?,
        retry: RetryOptions {
            max_retries: 3,
            ..RetryOptions::default()
        },
        ..BlobOptions::default()
    };
    let store = BlobStore::new(
        &servers.azurite.blob_endpoint(),
        BlobAuth::Credential(chain.clone()),
        options,
    )?;
    let client = connect_kubeconfig(
        &KubeconfigSource::Yaml(servers.kube.kubeconfig_yaml(NAMESPACE)),
        None,
    )
    .await?;
    let jobs = JobStore::new(client.clone(), NAMESPACE)?;

    steps
        .run("create containers", async {
            for container in ["blast-db", "queries", "results"] {
                store.create_container_if_missing(container).await?;
            }
            Ok((
                (),
                "created containers blast-db, queries and results".to_owned(),
            ))
        })
        .await?;

    let db_report = steps
        .run("upload the BLAST database", async {
            let bar = ProgressBar::new(format!("uploading blast-db/{DB}"));
            let tree_options = TreeOptions {
                progress: Some(bar.callback()),
                ..TreeOptions::default()
            };
            let report = store
                .upload_dir(data_dir().join("blastdb"), "blast-db", DB, &tree_options)
                .await?
                .ensure_success()?;
            let detail = format!(
                "uploaded BLAST database {DB}: {} files, {} to blast-db/{DB}/",
                report.files,
                format_bytes(report.bytes)
            );
            Ok((report, detail))
        })
        .await?;

    let job_id = new_job_id();
    let results_url = store.blob_url("results", &format!("{job_id}/{elb_job_id}"));
    let submission = steps
        .run("record the job with inline FASTA", async {
            let fasta = std::fs::read(data_dir().join(QUERY_FILE))?;
            let mut record = JobRecord::new(&job_id, JobMode::B);
            record.program = PROGRAM.to_owned();
            record.db = DB.to_owned();
            record.cluster_name = "elb-quickstart".to_owned();
            record.results = results_url.clone();
            let submission = submit_inline(&store, &jobs, record, fasta).await?;
            let record_bytes = submission.stored.record.to_json_checked()?.len();
            let detail = format!(
                "recorded job {job_id} (mode B) in ConfigMap elb-job-{job_id}: {} sequences, {} \
                 uploaded to queries/{job_id}.fa; the {record_bytes}-byte record contains the \
                 blob URL",
                submission.fasta.sequences,
                format_bytes(submission.upload.bytes)
            );
            Ok((submission, detail))
        })
        .await?;

    let spec = SearchSpec {
        elb_job_id: elb_job_id.clone(),
        program: PROGRAM.to_owned(),
        db: DB.to_owned(),
        queries: submission.queries_url.clone(),
        results: results_url.clone(),
        batches: 1,
        image: IMAGE.to_owned(),
        ..SearchSpec::default()
    };
    let search = SearchJobs::new(client.clone(), NAMESPACE, &elb_job_id)?;
    let hook_errors = results::place_batch_output_on_success(
        servers.kube.controller(),
        store.clone(),
        tree.clone(),
    );
    let mut finalizer = results::spawn_finalizer(
        search.clone(),
        store.clone(),
        tree.clone(),
        results_url.clone(),
        spec.batches as usize,
    );
    let _ticker = servers
        .kube
        .controller()
        .start_ticking(Duration::from_millis(100));

    steps
        .run("submit the search's Jobs", async {
            let report = search.submit(&spec.batch_jobs()?).await?;
            jobs.update_with(&job_id, |record| {
                record.status = JobStatus::Running;
                record.elb_job_id = Some(elb_job_id.clone());
                Ok(())
            })
            .await?;
            let detail = format!(
                "submitted {} batch Job(s) for search {elb_job_id}: {}; job record is running",
                report.created.len(),
                report.created.join(", ")
            );
            Ok(((), detail))
        })
        .await?;

    let status = steps
        .run("wait for the search", async {
            let markers = BlobMarkers::new(store.clone());
            let wait_options = WaitOptions {
                marker_interval: Duration::from_millis(250),
                ..WaitOptions::new(SEARCH_TIMEOUT)
            };
            let waited = search.wait(&markers, &results_url, &wait_options).await;
            let hook_failures = hook_errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(first) = hook_failures.first() {
                return Err(ExampleError::Other(format!(
                    "the test cluster could not place results: {first}"
                )));
            }
            if finalizer.is_finished() {
                match (&mut finalizer).await {
                    Ok(Ok(())) => {}
                    Ok(Err(message)) => {
                        return Err(ExampleError::Other(format!(
                            "the finalizer failed: {message}"
                        )));
                    }
                    Err(error) => {
                        return Err(ExampleError::Other(format!(
                            "the finalizer stopped: {error}"
                        )));
                    }
                }
            }
            let status = waited?;
            if status.state != SearchState::Completed {
                return Err(ExampleError::Other(format!(
                    "search {elb_job_id} ended {:?}: {} of {} Jobs failed",
                    status.state, status.failed, status.total
                )));
            }
            jobs.update_with(&job_id, |record| {
                record.status = JobStatus::Completed;
                Ok(())
            })
            .await?;
            let detail = format!(
                "search {elb_job_id} completed: {} of {} Jobs succeeded, metadata/SUCCESS.txt \
                 present, results listable; job record is completed",
                status.succeeded, status.total
            );
            Ok((status, detail))
        })
        .await?;

    let results_prefix = format!("{job_id}/{elb_job_id}");
    let zip_report = steps
        .run("download the results as a ZIP", async {
            if let Some(folder) = zip_path.parent() {
                std::fs::create_dir_all(folder).map_err(|error| {
                    ExampleError::Other(format!("cannot create {}: {error}", folder.display()))
                })?;
            }
            let file = tokio::fs::File::create(&zip_path).await.map_err(|error| {
                ExampleError::Other(format!("cannot create {}: {error}", zip_path.display()))
            })?;
            let bar = ProgressBar::new("streaming results ZIP");
            let zip_options = ZipOptions {
                progress: Some(bar.callback()),
                ..ZipOptions::default()
            };
            let report = store
                .zip_prefix("results", &results_prefix, &zip_options, file)
                .await?;
            let detail = format!(
                "streamed results/{results_prefix}/ as a ZIP: {} entries, {} to {}",
                report.entries.len(),
                format_bytes(report.archive_bytes),
                zip_path.display()
            );
            Ok((report, detail))
        })
        .await?;

    let verified = steps
        .run("verify the ZIP", async {
            let verified = verify::verify_zip(&zip_path, &tree).map_err(ExampleError::Other)?;
            let detail = format!(
                "verified {} of {} entries: each MD5 equals its source file's in {}",
                verified.entries,
                verified.sources,
                options::display_path(&data_dir().join(RESULT_TREE)).display()
            );
            Ok((verified, detail))
        })
        .await?;

    let deleted = steps
        .run("delete the search", async {
            let deleted =
                delete_search(&search, &jobs, &job_id, DeletePropagation::Foreground).await?;
            let detail = format!("deleted {deleted} Job(s) with their pods, then the job record");
            Ok((deleted, detail))
        })
        .await?;

    steps
        .run("check that nothing is left", async {
            let jobs_left = search.list_jobs().await?.len();
            let pods_left = search.list_pods().await?.len();
            let record_left = match jobs.get(&job_id).await {
                Ok(_) => true,
                Err(error) if error.kind() == ErrorKind::NotFound => false,
                Err(error) => return Err(error.into()),
            };
            if jobs_left > 0 || pods_left > 0 || record_left {
                return Err(ExampleError::Other(format!(
                    "left behind: {jobs_left} Job(s), {pods_left} pod(s), record present: {record_left}"
                )));
            }
            let detail = format!(
                "nothing left behind: 0 Jobs, 0 pods, no ConfigMap elb-job-{job_id}"
            );
            Ok(((), detail))
        })
        .await?;

    steps.print_summary(&[
        format!(
            "job {job_id}, search {elb_job_id}, credential {}",
            chain.last_used().unwrap_or("none")
        ),
        format!(
            "uploaded: {} database files ({}) and {} query bytes",
            db_report.files,
            format_bytes(db_report.bytes),
            submission.upload.bytes
        ),
        format!(
            "results: {} of {} Jobs succeeded, {} ZIP entries ({}), {} verified by MD5",
            status.succeeded,
            status.total,
            zip_report.entries.len(),
            format_bytes(zip_report.archive_bytes),
            verified.entries
        ),
        format!("cleanup: {deleted} Job(s) deleted, nothing left behind"),
    ]);
    Ok(())
}
