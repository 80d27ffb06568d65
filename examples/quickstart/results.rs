//! The test cluster's stand-ins for BLAST and for ElasticBLAST's finalizer.
//!
//! Each batch Job's pod places its part of the recorded output of a real search. Once every
//! batch Job is complete, the finalizer places the rest and then the success marker.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elb_core::blob::{BlobStore, BlobUrl, UploadOptions};
use elb_core::k8s::search::{SUCCESS_MARKER, SearchJobs, has_condition};
use elb_test_servers::kube::JobController;
use serde_json::Value;

/// Failures of the pod hook, which cannot return them; the quickstart reports them after the
/// wait.
pub(crate) type HookErrors = Arc<Mutex<Vec<String>>>;

/// Interval between the finalizer's reads of the Jobs.
const FINALIZER_POLL: Duration = Duration::from_millis(100);

/// Returns whether `name` (relative to the result tree) is output of batch `batch`.
fn is_batch_file(name: &str, batch: u32) -> bool {
    let batch_name = format!("batch_{batch:03}");
    name.starts_with(&format!("{batch_name}-"))
        || name.starts_with("shard_") && name.contains(&format!("/{batch_name}-"))
        || name == format!("query_batches/{batch_name}.fa")
}

/// Returns whether `name` is output of any batch.
fn is_any_batch_file(name: &str) -> bool {
    name.starts_with("batch_") || name.starts_with("shard_") || name.starts_with("query_batches/")
}

/// Registers a hook on `controller`: each time a batch Job's pod succeeds, the files of its
/// batch (`batch_NNN-*` and `query_batches/batch_NNN.fa`) are uploaded from `tree` to the
/// Job's `ELB_RESULTS` location, as the BLAST container's export does.
pub(crate) fn place_batch_output_on_success(
    controller: &JobController,
    store: BlobStore,
    tree: PathBuf,
) -> HookErrors {
    let errors: HookErrors = Arc::default();
    let hook_errors = errors.clone();
    controller.on_pod_succeeded(move |job, _pod| {
        let store = store.clone();
        let tree = tree.clone();
        let errors = hook_errors.clone();
        async move {
            if let Err(message) = place_batch(&store, &tree, &job).await {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(message);
            }
        }
    });
    errors
}

async fn place_batch(store: &BlobStore, tree: &Path, job: &Value) -> Result<(), String> {
    let (container, prefix) = results_location(&job_env(job, "ELB_RESULTS")?)?;
    let batch: u32 = job_env(job, "BLAST_ELB_BATCH_NUM")?
        .parse()
        .map_err(|_| "BLAST_ELB_BATCH_NUM is not a number".to_owned())?;
    let files =
        relative_files(tree).map_err(|error| format!("cannot list {}: {error}", tree.display()))?;
    let own: Vec<String> = files
        .into_iter()
        .filter(|name| is_batch_file(name, batch))
        .collect();
    upload_all(store, tree, &container, &prefix, &own).await
}

/// Starts the finalizer: it waits until the search has `batches` Jobs, all with the condition
/// `Complete=True`, then uploads the files of `tree` that belong to no batch, and the success
/// marker last.
pub(crate) fn spawn_finalizer(
    search: SearchJobs,
    store: BlobStore,
    tree: PathBuf,
    results_url: String,
    batches: usize,
) -> tokio::task::JoinHandle<Result<(), String>> {
    tokio::spawn(async move {
        loop {
            let jobs = search
                .list_jobs()
                .await
                .map_err(|error| error.to_string())?;
            let complete = jobs
                .iter()
                .filter(|job| has_condition(job, "Complete"))
                .count();
            if jobs.len() == batches && complete == batches {
                break;
            }
            tokio::time::sleep(FINALIZER_POLL).await;
        }
        let (container, prefix) = results_location(&results_url)?;
        let files = relative_files(&tree)
            .map_err(|error| format!("cannot list {}: {error}", tree.display()))?;
        let marker = format!("metadata/{SUCCESS_MARKER}");
        let (markers, others): (Vec<String>, Vec<String>) = files
            .into_iter()
            .filter(|name| !is_any_batch_file(name))
            .partition(|name| *name == marker);
        upload_all(&store, &tree, &container, &prefix, &others).await?;
        upload_all(&store, &tree, &container, &prefix, &markers).await
    })
}

/// Splits a results URL into its container and folder.
fn results_location(url: &str) -> Result<(String, String), String> {
    let url = BlobUrl::parse(url).map_err(|error| error.to_string())?;
    let container = url.container().unwrap_or_default().to_owned();
    let prefix = url
        .name()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    Ok((container, prefix))
}

async fn upload_all(
    store: &BlobStore,
    tree: &Path,
    container: &str,
    prefix: &str,
    names: &[String],
) -> Result<(), String> {
    for name in names {
        let blob = format!("{prefix}/{name}");
        store
            .upload_file(container, &blob, tree.join(name), &UploadOptions::default())
            .await
            .map_err(|error| format!("cannot place {container}/{blob}: {error}"))?;
    }
    Ok(())
}

/// Returns the value of the variable `name` of the Job's first container.
fn job_env(job: &Value, name: &str) -> Result<String, String> {
    let env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .ok_or_else(|| "the Job's container has no env".to_owned())?;
    env.iter()
        .find(|var| var["name"] == name)
        .and_then(|var| var["value"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("the Job's container has no {name} variable"))
}

/// Lists the files under `root` as sorted `/`-separated relative paths.
pub(crate) fn relative_files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                let parts: Vec<String> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.push(parts.join("/"));
            }
        }
    }
    files.sort();
    Ok(files)
}
