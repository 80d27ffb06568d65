//! The benchmark loop: for each endpoint, workload and contender, a fresh endpoint, seeded
//! data, measured uploads and downloads, and an MD5 check after every run.

use std::path::{Path, PathBuf};

use elb_core::blob::{
    AccountSas, BlobAuth, BlobOptions, BlobStore, TransactionalChecksum, TreeOptions, UploadOptions,
};
use secrecy::{ExposeSecret, SecretString};

use crate::contenders::{Contender, Direction, Task};
use crate::endpoint::azurite::{AzuriteProcess, Storage};
use crate::endpoint::memory::MemoryServer;
use crate::endpoint::{ACCOUNT, ACCOUNT_KEY, EndpointKind, Running};
use crate::measure::{self, Usage};
use crate::report::{Cell, Latency, Results};
use crate::workloads::Dataset;

/// The container every run uses.
const CONTAINER: &str = "bench";

/// The prefix holding the data that download runs fetch.
const SEED_PREFIX: &str = "seed/";

/// The endpoints, contenders and workloads of one run.
pub struct Plan {
    /// Endpoints, in order.
    pub endpoints: Vec<EndpointKind>,
    /// Contenders, in order.
    pub contenders: Vec<Contender>,
    /// Generated workloads.
    pub datasets: Vec<Dataset>,
    /// Repetitions of every measured run.
    pub repetitions: usize,
    /// Timed operations of the in-process latency figure.
    pub latency_iterations: usize,
    /// The storage mode of Azurite.
    pub azurite_storage: Storage,
    /// The repository root.
    pub repo: PathBuf,
    /// A scratch folder for downloads, logs and configuration files.
    pub scratch: PathBuf,
}

/// Runs every cell of `plan`, adding figures and failures to `results`.
pub async fn run(plan: &Plan, results: &mut Results) {
    for &endpoint in &plan.endpoints {
        for dataset in &plan.datasets {
            for &contender in &plan.contenders {
                let label = format!(
                    "{} {} {}",
                    endpoint.name(),
                    dataset.workload.name,
                    contender.name()
                );
                eprintln!("bench: {label}");
                if let Err(error) = run_cell(plan, endpoint, dataset, contender, results).await {
                    eprintln!("bench: {label} failed: {error}");
                    results.failures.push(format!("{label}: {error}"));
                }
            }
        }
        if let Some(tiny) = plan
            .datasets
            .iter()
            .find(|dataset| dataset.workload.name == "tiny")
        {
            match run_latency(plan, endpoint, tiny).await {
                Ok(latency) => results.latency.push(latency),
                Err(error) => {
                    eprintln!("bench: {} latency failed: {error}", endpoint.name());
                    results
                        .failures
                        .push(format!("{} elb latency: {error}", endpoint.name()));
                }
            }
        }
    }
}

/// A started endpoint with a container and the seeded download data.
struct Prepared {
    running: Running,
    store: BlobStore,
    sas: String,
}

async fn prepare(
    plan: &Plan,
    endpoint: EndpointKind,
    dataset: &Dataset,
) -> Result<Prepared, String> {
    let running = match endpoint {
        EndpointKind::Azurite => {
            let repo = plan.repo.clone();
            let storage = plan.azurite_storage;
            let process =
                tokio::task::spawn_blocking(move || AzuriteProcess::start(&repo, storage))
                    .await
                    .map_err(|error| error.to_string())??;
            Running::Azurite(process)
        }
        EndpointKind::Memory => Running::Memory(
            MemoryServer::start()
                .await
                .map_err(|error| error.to_string())?,
        ),
    };
    let sas = account_sas()?;
    let store = BlobStore::new(
        &running.account_url(),
        BlobAuth::sas(&sas),
        BlobOptions::default(),
    )
    .map_err(|error| error.to_string())?;
    store
        .create_container_if_missing(CONTAINER)
        .await
        .map_err(|error| format!("cannot create the container: {error}"))?;
    store
        .upload_dir(&dataset.dir, CONTAINER, SEED_PREFIX, &seed_options())
        .await
        .and_then(|report| report.ensure_success())
        .map_err(|error| format!("cannot seed the download data: {error}"))?;
    Ok(Prepared {
        running,
        store,
        sas,
    })
}

/// Returns tree options that upload each seed file in one `Put Blob` with its MD5, which
/// is quicker than staged blocks on Azurite and still lets every downloader verify it.
fn seed_options() -> TreeOptions {
    TreeOptions {
        upload: UploadOptions {
            single_put_max: 2 * 1024 * crate::workloads::MIB,
            transactional_checksum: TransactionalChecksum::None,
            ..UploadOptions::default()
        },
        ..TreeOptions::default()
    }
}

/// Signs an account SAS with the development account key, valid for one day.
fn account_sas() -> Result<String, String> {
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let key = SecretString::from(ACCOUNT_KEY);
    AccountSas::new(expiry)
        .sign(ACCOUNT, &key)
        .map(|query| query.expose_secret().to_owned())
        .map_err(|error| error.to_string())
}

async fn run_cell(
    plan: &Plan,
    endpoint: EndpointKind,
    dataset: &Dataset,
    contender: Contender,
    results: &mut Results,
) -> Result<(), String> {
    let prepared = prepare(plan, endpoint, dataset).await?;
    let account_url = prepared.running.account_url();
    let cell_dir = plan.scratch.join(format!(
        "{}-{}-{}",
        endpoint.name(),
        dataset.workload.name,
        contender.name()
    ));
    std::fs::create_dir_all(&cell_dir).map_err(|error| error.to_string())?;

    for direction in [Direction::Upload, Direction::Download] {
        let mut samples = Vec::new();
        let mut command = String::new();
        for repetition in 0..plan.repetitions {
            let scratch = cell_dir.join(format!("{}-{repetition}", direction.name()));
            std::fs::create_dir_all(&scratch).map_err(|error| error.to_string())?;
            let upload_prefix = format!("up-{repetition}/");
            let target = scratch.join("files");
            let (prefix, local_dir): (&str, &Path) = match direction {
                Direction::Upload => (&upload_prefix, &dataset.dir),
                Direction::Download => {
                    std::fs::create_dir_all(&target).map_err(|error| error.to_string())?;
                    (SEED_PREFIX, &target)
                }
            };
            let task = Task {
                direction,
                dataset,
                account_url: &account_url,
                sas: &prepared.sas,
                container: CONTAINER,
                prefix,
                local_dir,
                scratch: &scratch,
                repo: &plan.repo,
            };
            let invocation = contender.invocation(&task)?;
            command = invocation.display();
            let log = scratch.join("output.log");
            let usage = {
                let scratch = scratch.clone();
                tokio::task::spawn_blocking(move || measure::measure(&invocation, &scratch, &log))
                    .await
                    .map_err(|error| error.to_string())??
            };
            match direction {
                Direction::Upload => {
                    crate::verify::verify_upload(&prepared.store, CONTAINER, prefix, dataset)
                        .await?;
                    prepared
                        .store
                        .delete_prefix(CONTAINER, prefix)
                        .await
                        .map_err(|error| format!("cannot delete {prefix}: {error}"))?;
                }
                Direction::Download => {
                    crate::verify::verify_download(&target, dataset)?;
                    std::fs::remove_dir_all(&target).map_err(|error| error.to_string())?;
                }
            }
            samples.push(usage);
        }
        results.cells.push(cell(
            endpoint, dataset, contender, direction, command, samples,
        ));
    }
    drop(prepared);
    Ok(())
}

fn cell(
    endpoint: EndpointKind,
    dataset: &Dataset,
    contender: Contender,
    direction: Direction,
    command: String,
    samples: Vec<Usage>,
) -> Cell {
    Cell {
        endpoint,
        workload: dataset.workload.name.to_owned(),
        contender,
        direction,
        files: dataset.workload.files as u64,
        bytes: dataset.workload.total_bytes(),
        command,
        samples,
    }
}

/// Times single-file uploads and downloads from one running elb process.
async fn run_latency(
    plan: &Plan,
    endpoint: EndpointKind,
    dataset: &Dataset,
) -> Result<Latency, String> {
    let prepared = prepare(plan, endpoint, dataset).await?;
    let scratch = plan.scratch.join(format!("{}-latency", endpoint.name()));
    std::fs::create_dir_all(&scratch).map_err(|error| error.to_string())?;

    let harness = std::env::current_exe().map_err(|error| error.to_string())?;
    let invocation = measure::Invocation::new(harness.display().to_string())
        .args(["contender", "elb", "latency"])
        .args(["--account-url".to_owned(), prepared.running.account_url()])
        .args(["--container", CONTAINER, "--prefix", "latency/"])
        .arg_path("--local-dir", &dataset.dir)
        .args([
            "--iterations".to_owned(),
            plan.latency_iterations.to_string(),
        ])
        .env(crate::contenders::SAS_ENV, prepared.sas.clone());
    let log = scratch.join("output.log");
    {
        let scratch = scratch.clone();
        let log = log.clone();
        tokio::task::spawn_blocking(move || measure::measure(&invocation, &scratch, &log))
            .await
            .map_err(|error| error.to_string())??;
    }

    let output = std::fs::read_to_string(&log).map_err(|error| error.to_string())?;
    let line = output
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .ok_or_else(|| format!("no timings in {}", log.display()))?;
    let value: serde_json::Value = serde_json::from_str(line).map_err(|error| error.to_string())?;
    let numbers = |key: &str| -> Vec<f64> {
        value[key]
            .as_array()
            .map(|items| items.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default()
    };
    Ok(Latency {
        endpoint,
        upload_ms: numbers("upload_ms"),
        download_ms: numbers("download_ms"),
    })
}
