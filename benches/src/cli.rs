//! Command-line parsing of the `run`, `measure` and `contender` subcommands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::contenders::Contender;
use crate::endpoint::EndpointKind;
use crate::endpoint::azurite::Storage;
use crate::measure::StdinMode;
use crate::report::Results;
use crate::runner::Plan;

/// The help text.
pub const USAGE: &str = "usage:
  elb-benches run [--smoke] [--reps N] [--endpoints azurite,memory]
                  [--contenders elb,azcopy-tuned,azcopy-default,python-sdk,curl]
                  [--workloads large,db,results,tiny] [--azurite-storage memory|disk]
                  [--latency-iterations N] [--out DIR]
      Runs the benchmark in a loopback-only network namespace. Without --out, a full run
      writes BENCHMARKS.md, benches/throughput.png and benches/results.json in the
      repository, and a --smoke run writes them to a new temporary folder.
  elb-benches report [--results FILE] [--out DIR]
      Rebuilds the page and the chart from a saved results.json (default:
      benches/results.json), in the places `run` would write them.
  elb-benches measure --stdin null|pipe --out FILE -- PROGRAM [ARGS...]
      Runs PROGRAM and writes its wall time, CPU time and peak RSS to FILE as JSON.
  elb-benches contender elb upload|download|latency --account-url URL --container NAME
                  --prefix PREFIX --local-dir DIR [--iterations N]
      Transfers with elb-core; the SAS comes from ELB_BENCH_SAS.";

/// Returns the repository root, the parent of this crate's folder.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Returns the value after option `name`, which must be present.
fn value<'a>(args: &'a [String], index: usize, name: &str) -> Result<&'a str, String> {
    args.get(index + 1)
        .map(String::as_str)
        .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
}

fn list<T>(text: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|name| parse(name.trim()).ok_or_else(|| format!("unknown {what} {name:?}\n{USAGE}")))
        .collect()
}

fn number(text: &str, name: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|value| *value > 0)
        .ok_or_else(|| format!("{name} must be a positive whole number, not {text:?}"))
}

/// Runs the `run` subcommand.
pub fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut smoke = false;
    let mut repetitions = None;
    let mut endpoints = vec![EndpointKind::Azurite, EndpointKind::Memory];
    let mut contenders = Contender::ALL.to_vec();
    let mut workload_names: Option<Vec<String>> = None;
    let mut storage = Storage::Memory;
    let mut latency_iterations = None;
    let mut out = None;
    let mut index = 0;
    while index < args.len() {
        let name = args[index].as_str();
        match name {
            "--smoke" => smoke = true,
            "--reps" => repetitions = Some(number(value(args, index, name)?, name)?),
            "--endpoints" => {
                endpoints = list(value(args, index, name)?, EndpointKind::parse, "endpoint")?
            }
            "--contenders" => {
                contenders = list(value(args, index, name)?, Contender::parse, "contender")?
            }
            "--workloads" => {
                workload_names = Some(
                    value(args, index, name)?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                );
            }
            "--azurite-storage" => {
                storage = match value(args, index, name)? {
                    "memory" => Storage::Memory,
                    "disk" => Storage::Disk,
                    other => {
                        return Err(format!(
                            "--azurite-storage must be memory or disk, not {other:?}"
                        ));
                    }
                };
            }
            "--latency-iterations" => {
                latency_iterations = Some(number(value(args, index, name)?, name)?)
            }
            "--out" => out = Some(PathBuf::from(value(args, index, name)?)),
            _ => return Err(format!("unknown option {name:?}\n{USAGE}")),
        }
        index += if name == "--smoke" { 1 } else { 2 };
    }

    if let Some(code) = crate::netns::reexec_isolated()? {
        return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
    }

    let repo = repo_root();
    let mut workloads = crate::workloads::workloads(smoke);
    if let Some(names) = &workload_names {
        for name in names {
            if !workloads.iter().any(|workload| workload.name == name) {
                return Err(format!("unknown workload {name:?}\n{USAGE}"));
            }
        }
        workloads.retain(|workload| names.iter().any(|name| name == workload.name));
    }
    let scratch = tempfile::Builder::new()
        .prefix("elb-bench-")
        .tempdir()
        .map_err(|error| format!("cannot create a temporary folder: {error}"))?;
    eprintln!("bench: generating data in {}", scratch.path().display());
    let mut datasets = Vec::new();
    for workload in &workloads {
        let dataset = crate::workloads::generate(&scratch.path().join("data"), workload)
            .map_err(|error| format!("cannot generate {}: {error}", workload.name))?;
        datasets.push(dataset);
    }

    let plan = Plan {
        endpoints,
        contenders,
        datasets,
        repetitions: repetitions.unwrap_or(if smoke { 1 } else { 3 }),
        latency_iterations: latency_iterations.unwrap_or(if smoke { 5 } else { 50 }),
        azurite_storage: storage,
        repo: repo.clone(),
        scratch: scratch.path().join("runs"),
    };
    let mut results = Results {
        date: now_text(),
        smoke,
        repetitions: plan.repetitions,
        machine: crate::environment::machine(),
        versions: crate::environment::versions(&repo),
        workloads: workloads
            .iter()
            .map(|workload| (workload.name.to_owned(), workload.description.clone()))
            .collect(),
        azurite_storage: match storage {
            Storage::Memory => "in memory: --inMemoryPersistence --loose".to_owned(),
            Storage::Disk => "on disk: --location on a temporary folder, --loose".to_owned(),
        },
        command: std::env::var("ELB_BENCH_COMMAND")
            .unwrap_or_else(|_| format!("elb-benches run {}", args.join(" "))),
        ..Results::default()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(crate::runner::run(&plan, &mut results));
    drop(runtime);

    let written = write_outputs(&results, &repo, smoke, out)?;
    eprintln!("bench: wrote {written}");
    if results.failures.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("bench: {} cells failed", results.failures.len());
        Ok(ExitCode::FAILURE)
    }
}

/// Runs the `report` subcommand: rebuilds the page and the chart from a saved run.
pub fn report(args: &[String]) -> Result<ExitCode, String> {
    let repo = repo_root();
    let mut input = repo.join("benches/results.json");
    let mut out = None;
    let mut index = 0;
    while index < args.len() {
        let name = args[index].as_str();
        let text = value(args, index, name)?;
        match name {
            "--results" => input = PathBuf::from(text),
            "--out" => out = Some(PathBuf::from(text)),
            _ => return Err(format!("unknown report option {name:?}\n{USAGE}")),
        }
        index += 2;
    }
    let json = std::fs::read(&input)
        .map_err(|error| format!("cannot read {}: {error}", input.display()))?;
    let results: Results = serde_json::from_slice(&json)
        .map_err(|error| format!("{} is not a results file: {error}", input.display()))?;
    let written = write_outputs(&results, &repo, results.smoke, out)?;
    eprintln!("bench: wrote {written}");
    Ok(ExitCode::SUCCESS)
}

/// Writes `results.json`, the page and the chart, and returns where they went.
fn write_outputs(
    results: &Results,
    repo: &Path,
    smoke: bool,
    out: Option<PathBuf>,
) -> Result<String, String> {
    let (page_path, chart_path, json_path, chart_link) = match out {
        Some(dir) => (
            dir.join("BENCHMARKS.md"),
            dir.join("throughput.png"),
            dir.join("results.json"),
            "throughput.png",
        ),
        None if smoke => {
            let dir = tempfile::Builder::new()
                .prefix("elb-bench-smoke-")
                .tempdir()
                .map_err(|error| error.to_string())?
                .keep();
            (
                dir.join("BENCHMARKS.md"),
                dir.join("throughput.png"),
                dir.join("results.json"),
                "throughput.png",
            )
        }
        None => (
            repo.join("BENCHMARKS.md"),
            repo.join("benches/throughput.png"),
            repo.join("benches/results.json"),
            "benches/throughput.png",
        ),
    };
    if let Some(parent) = page_path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| error.to_string())?;
    }
    let json = serde_json::to_string_pretty(results).map_err(|error| error.to_string())?;
    std::fs::write(&json_path, json)
        .map_err(|error| format!("cannot write {}: {error}", json_path.display()))?;
    let page = crate::page::render(results, chart_link);
    std::fs::write(&page_path, page)
        .map_err(|error| format!("cannot write {}: {error}", page_path.display()))?;

    let status = std::process::Command::new(repo.join(".venv/bin/python"))
        .arg(repo.join("benches/python/chart.py"))
        .arg(&json_path)
        .arg(&chart_path)
        .status()
        .map_err(|error| format!("cannot run the chart script: {error}"))?;
    if !status.success() {
        return Err(format!(
            "the chart script failed ({status}); is matplotlib installed (scripts/setup)?"
        ));
    }
    Ok(format!(
        "{}, {} and {}",
        page_path.display(),
        chart_path.display(),
        json_path.display()
    ))
}

fn now_text() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Runs the `measure` subcommand.
pub fn measure(args: &[String]) -> Result<ExitCode, String> {
    let mut stdin = StdinMode::Null;
    let mut out = None;
    let mut index = 0;
    while index < args.len() {
        match args[index].as_str() {
            "--stdin" => {
                stdin = match value(args, index, "--stdin")? {
                    "null" => StdinMode::Null,
                    "pipe" => StdinMode::Pipe,
                    other => return Err(format!("--stdin must be null or pipe, not {other:?}")),
                };
                index += 2;
            }
            "--out" => {
                out = Some(PathBuf::from(value(args, index, "--out")?));
                index += 2;
            }
            "--" => {
                index += 1;
                break;
            }
            other => return Err(format!("unknown measure option {other:?}\n{USAGE}")),
        }
    }
    let out = out.ok_or_else(|| format!("measure needs --out FILE\n{USAGE}"))?;
    let program = args
        .get(index)
        .ok_or_else(|| format!("measure needs a program after --\n{USAGE}"))?;
    crate::measure::run_wrapper(stdin, &out, program, &args[index + 1..])?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the `contender` subcommand.
pub fn contender(args: &[String]) -> Result<ExitCode, String> {
    if args.first().map(String::as_str) != Some("elb") {
        return Err(format!("only the elb contender runs in-process\n{USAGE}"));
    }
    let action = args.get(1).cloned().ok_or_else(|| USAGE.to_owned())?;
    let mut child = crate::contenders::elb::ChildArgs {
        action,
        account_url: String::new(),
        container: String::new(),
        prefix: String::new(),
        local_dir: PathBuf::new(),
        iterations: 20,
    };
    let mut index = 2;
    while index < args.len() {
        let name = args[index].as_str();
        let text = value(args, index, name)?;
        match name {
            "--account-url" => child.account_url = text.to_owned(),
            "--container" => child.container = text.to_owned(),
            "--prefix" => child.prefix = text.to_owned(),
            "--local-dir" => child.local_dir = PathBuf::from(text),
            "--iterations" => child.iterations = number(text, name)?,
            _ => return Err(format!("unknown contender option {name:?}\n{USAGE}")),
        }
        index += 2;
    }
    crate::contenders::elb::run_child(&child)?;
    Ok(ExitCode::SUCCESS)
}
