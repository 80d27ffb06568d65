//! The test cluster's stand-in for BLAST: when a batch Job's pod succeeds, the job controller's
//! hook places the recorded output of a real search in the `results` container.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use elb_core::blob::{BlobStore, BlobUrl, UploadOptions};
use elb_core::k8s::search::SUCCESS_MARKER;
use elb_test_servers::kube::JobController;
use serde_json::Value;

/// Failures of the hook, which cannot return them; the quickstart reports them after the wait.
pub(crate) type HookErrors = Arc<Mutex<Vec<String>>>;

/// Registers the hook on `controller`. Each pod success uploads the files of its batch
/// (`batch_NNN*` and `query_batches/batch_NNN.fa`) from `tree` to the Job's `ELB_RESULTS`
/// location. After the last of `batches`, it uploads the other files and then the success
/// marker, last, as ElasticBLAST's finalizer does.
pub(crate) fn place_results_on_success(
    controller: &JobController,
    store: BlobStore,
    tree: PathBuf,
    batches: u32,
) -> HookErrors {
    let errors: HookErrors = Arc::default();
    let finished = Arc::new(AtomicU32::new(0));
    let hook_errors = errors.clone();
    controller.on_pod_succeeded(move |job, _pod| {
        let store = store.clone();
        let tree = tree.clone();
        let finished = finished.clone();
        let errors = hook_errors.clone();
        async move {
            let result = place_batch(&store, &tree, &job, &finished, batches).await;
            if let Err(message) = result {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(message);
            }
        }
    });
    errors
}

async fn place_batch(
    store: &BlobStore,
    tree: &Path,
    job: &Value,
    finished: &AtomicU32,
    batches: u32,
) -> Result<(), String> {
    let results = job_env(job, "ELB_RESULTS")?;
    let batch: u32 = job_env(job, "BLAST_ELB_BATCH_NUM")?
        .parse()
        .map_err(|_| "BLAST_ELB_BATCH_NUM is not a number".to_owned())?;
    let url = BlobUrl::parse(&results).map_err(|error| error.to_string())?;
    let container = url.container().unwrap_or_default().to_owned();
    let prefix = url
        .name()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();

    let files =
        relative_files(tree).map_err(|error| format!("cannot list {}: {error}", tree.display()))?;
    let batch_name = format!("batch_{batch:03}");
    let (own, shared): (Vec<_>, Vec<_>) = files.into_iter().partition(|name| {
        name.starts_with(&batch_name) || name == &format!("query_batches/{batch_name}.fa")
    });
    upload_all(store, tree, &container, &prefix, &own).await?;

    if finished.fetch_add(1, Ordering::SeqCst) + 1 < batches {
        return Ok(());
    }
    let marker = format!("metadata/{SUCCESS_MARKER}");
    let (markers, others): (Vec<_>, Vec<_>) = shared
        .into_iter()
        .filter(|name| !name.starts_with("batch_") && !name.starts_with("query_batches/"))
        .partition(|name| *name == marker);
    upload_all(store, tree, &container, &prefix, &others).await?;
    upload_all(store, tree, &container, &prefix, &markers).await
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
