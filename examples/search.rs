//! Records, submits, watches and deletes one BLAST search on AKS, with the queries given as a
//! FASTA file (inline FASTA, mode `B`).
//!
//! ```sh
//! cargo run -p elb-examples --example search -- QUERY.fa [--keep]
//! ```
//!
//! Steps:
//!
//! 1. upload the FASTA to `queries/<job_id>.fa` and create the job record, the ConfigMap
//!    `elb-job-<job_id>`, which contains the blob URL and not the text;
//! 2. submit one batch Job per batch;
//! 3. wait until `metadata/SUCCESS.txt` (or `FAILURE.txt`) appears under
//!    `results/<job_id>/<elb_job_id>/`, or a Job fails;
//! 4. delete the Jobs, their pods and the record, unless `--keep` is given. The results
//!    stay in blob storage.
//!
//! Settings (environment variables):
//!
//! - `KUBECONFIG` (default `~/.kube/config`), `ELB_KUBE_CONTEXT` and `ELB_NAMESPACE`
//!   (default `default`): the cluster, as `az aks get-credentials` writes it.
//! - `ELB_STORAGE_URL` and one authorization, as described at the top of `upload.rs`.
//! - `ELB_DB`: the BLAST database name, under `blast-db/<db>/`.
//! - `ELB_BLAST_IMAGE`: the container image of the batch Jobs.
//! - `ELB_PROGRAM` (default `blastn`), `ELB_BATCHES` (default 1), `ELB_BLAST_OPTIONS`, and
//!   `ELB_WAIT_SECS` (default 3600), the maximum time to wait.

use std::process::ExitCode;
use std::time::Duration;

use elb_core::k8s::search::{
    BlobMarkers, DeletePropagation, SearchJobs, SearchSpec, SearchState, WaitOptions, delete_search,
};
use elb_core::k8s::store::{JobMode, JobRecord, JobStatus, JobStore};
use elb_core::search::{new_elb_job_id, new_job_id, submit_inline};
use elb_examples::config::{kube_client, namespace, storage, var};
use elb_examples::{Args, ExampleError, Missing, format_bytes, run};

const EXAMPLE: &str = "search";

fn main() -> ExitCode {
    run(search())
}

/// Reads a number from `name`, or returns `default` when it is unset.
fn number(name: &str, default: u64) -> Result<u64, ExampleError> {
    match var(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            ExampleError::Other(format!("invalid {name} {text:?}: expected a whole number"))
        }),
    }
}

async fn search() -> Result<(), ExampleError> {
    let args = Args::parse(&[], &["keep"])?;
    let values =
        args.expect_positional(EXAMPLE, &[("QUERY.fa", "the FASTA file of the queries")])?;
    let (db, image) = (var("ELB_DB"), var("ELB_BLAST_IMAGE"));
    let (Some(db), Some(image)) = (db.clone(), image.clone()) else {
        let mut missing = Missing::new(EXAMPLE);
        if db.is_none() {
            missing = missing.need("ELB_DB", "the BLAST database name, under blast-db/<db>/");
        }
        if image.is_none() {
            missing = missing.need("ELB_BLAST_IMAGE", "the container image of the batch Jobs");
        }
        return Err(missing.into());
    };
    let program = var("ELB_PROGRAM").unwrap_or_else(|| "blastn".to_owned());
    let batches = u32::try_from(number("ELB_BATCHES", 1)?)
        .map_err(|_| ExampleError::Other("ELB_BATCHES is too large".to_owned()))?;
    let wait = Duration::from_secs(number("ELB_WAIT_SECS", 3600)?);
    let fasta = std::fs::read(&values[0])
        .map_err(|error| ExampleError::Other(format!("cannot read {}: {error}", values[0])))?;

    let settings = storage(EXAMPLE)?;
    let store = settings.store;
    let client = kube_client(EXAMPLE).await?;
    let namespace = namespace();
    let jobs = JobStore::new(client.clone(), &namespace)?;

    let job_id = new_job_id();
    let elb_job_id = new_elb_job_id();
    let results = store.blob_url("results", &format!("{job_id}/{elb_job_id}"));
    let mut record = JobRecord::new(&job_id, JobMode::B);
    record.program = program.clone();
    record.db = db.clone();
    record.results = results.clone();
    let submission = submit_inline(&store, &jobs, record, fasta).await?;
    println!(
        "recorded job {job_id} in {namespace}: {} sequences, {} at {}",
        submission.fasta.sequences,
        format_bytes(submission.upload.bytes),
        submission.queries_url
    );

    let spec = SearchSpec {
        elb_job_id: elb_job_id.clone(),
        program,
        db,
        queries: submission.queries_url.clone(),
        results: results.clone(),
        blast_options: var("ELB_BLAST_OPTIONS").unwrap_or_default(),
        batches,
        image,
        ..SearchSpec::default()
    };
    let search = SearchJobs::new(client, &namespace, &elb_job_id)?;
    let report = search.submit(&spec.batch_jobs()?).await?;
    jobs.update_with(&job_id, |record| {
        record.status = JobStatus::Running;
        record.elb_job_id = Some(elb_job_id.clone());
        Ok(())
    })
    .await?;
    println!(
        "submitted search {elb_job_id}: {} Job(s) created, {} adopted",
        report.created.len(),
        report.existing.len()
    );

    println!("waiting up to {} s for {results}", wait.as_secs());
    let markers = BlobMarkers::new(store.clone());
    let wait_options = WaitOptions {
        marker_interval: Duration::from_secs(10),
        ..WaitOptions::new(wait)
    };
    let status = search.wait(&markers, &results, &wait_options).await?;
    let final_status = match status.state {
        SearchState::Completed => JobStatus::Completed,
        _ => JobStatus::Failed,
    };
    jobs.update_with(&job_id, |record| {
        record.status = final_status;
        Ok(())
    })
    .await?;
    println!(
        "search {elb_job_id} {final_status}: {} of {} Jobs succeeded, {} failed",
        status.succeeded, status.total, status.failed
    );
    for failed in &status.failed_jobs {
        println!(
            "  Job {} failed: {} {}",
            failed.name, failed.reason, failed.message
        );
    }

    if args.flag("keep") {
        println!("kept the Jobs and the job record (--keep)");
    } else {
        let deleted = delete_search(&search, &jobs, &job_id, DeletePropagation::Foreground).await?;
        println!("deleted {deleted} Job(s) with their pods and the job record {job_id}");
    }
    println!("results: {results}");
    if final_status == JobStatus::Completed {
        Ok(())
    } else {
        Err(ExampleError::Other(format!("search {elb_job_id} failed")))
    }
}
