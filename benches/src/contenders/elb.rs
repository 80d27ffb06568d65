//! The elb contender: this harness re-executed as `contender elb`, running elb-core's
//! directory upload or prefix download in its own process.

use super::{SAS_ENV, Task};
use crate::measure::Invocation;

/// Returns the command that runs `task` with elb-core in a child process.
pub fn invocation(task: &Task<'_>) -> Invocation {
    let harness = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "elb-benches".to_owned());
    Invocation::new(harness)
        .args(["contender", "elb", task.direction.name()])
        .args(["--account-url", task.account_url])
        .args(["--container", task.container])
        .args(["--prefix", task.prefix])
        .arg_path("--local-dir", task.local_dir)
        .env(SAS_ENV, task.sas)
}

/// Settings of the `contender elb` subcommand, parsed from its command line.
pub struct ChildArgs {
    /// `upload`, `download` or `latency`.
    pub action: String,
    /// The account URL.
    pub account_url: String,
    /// The container.
    pub container: String,
    /// The blob prefix, ending with `/`.
    pub prefix: String,
    /// The local folder.
    pub local_dir: std::path::PathBuf,
    /// Repetitions of the `latency` action.
    pub iterations: usize,
}

/// Runs the `contender elb` subcommand with elb-core's default settings.
///
/// `upload` and `download` move the folder with `upload_dir` and `download_prefix`.
/// `latency` uploads and downloads the folder's first file `iterations` times from one
/// running process, after one warm-up request, and prints the milliseconds of each
/// operation as JSON.
///
/// # Errors
///
/// Fails when the SAS is missing, the store cannot be built, or any file fails.
pub fn run_child(args: &ChildArgs) -> Result<(), String> {
    use elb_core::blob::{
        BlobAuth, BlobOptions, BlobStore, DownloadOptions, TreeOptions, UploadOptions,
    };

    let sas = std::env::var(SAS_ENV).map_err(|_| format!("{SAS_ENV} is not set"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let store = BlobStore::new(
        &args.account_url,
        BlobAuth::sas(&sas),
        BlobOptions::default(),
    )
    .map_err(|error| error.to_string())?;
    let options = TreeOptions::default();
    runtime.block_on(async {
        match args.action.as_str() {
            "upload" => store
                .upload_dir(&args.local_dir, &args.container, &args.prefix, &options)
                .await
                .and_then(|report| report.ensure_success())
                .map(drop)
                .map_err(|error| error.to_string()),
            "download" => store
                .download_prefix(&args.container, &args.prefix, &args.local_dir, &options)
                .await
                .and_then(|report| report.ensure_success())
                .map(drop)
                .map_err(|error| error.to_string()),
            "latency" => {
                let file = first_file(&args.local_dir)?;
                let scratch = tempfile::tempdir().map_err(|error| error.to_string())?;
                let copy = scratch.path().join("copy");
                // One request first, so the timed operations reuse a warm connection.
                store
                    .exists(&args.container, "warm-up")
                    .await
                    .map_err(|error| error.to_string())?;
                let mut upload_ms = Vec::new();
                let mut download_ms = Vec::new();
                for index in 0..args.iterations {
                    let name = format!("{}latency-{index}", args.prefix);
                    let started = std::time::Instant::now();
                    store
                        .upload_file(&args.container, &name, &file, &UploadOptions::default())
                        .await
                        .map_err(|error| error.to_string())?;
                    upload_ms.push(crate::measure::elapsed_ms(started));
                    let started = std::time::Instant::now();
                    store
                        .download_file(&args.container, &name, &copy, &DownloadOptions::default())
                        .await
                        .map_err(|error| error.to_string())?;
                    download_ms.push(crate::measure::elapsed_ms(started));
                }
                let json =
                    serde_json::json!({ "upload_ms": upload_ms, "download_ms": download_ms });
                println!("{json}");
                Ok(())
            }
            other => Err(format!(
                "unknown elb contender action {other:?}: use upload, download or latency"
            )),
        }
    })
}

fn first_file(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file())
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .ok_or_else(|| format!("{} has no file to time", dir.display()))
}
