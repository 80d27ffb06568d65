//! The machine and program versions recorded with every run.

use std::path::Path;
use std::process::Command;

/// Returns `(name, value)` pairs for the CPU count, memory and CPU model.
pub fn machine() -> Vec<(String, String)> {
    let cpus = std::thread::available_parallelism().map_or(0, |count| count.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or("unknown".to_owned(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    vec![
        ("CPUs (nproc)".to_owned(), cpus.to_string()),
        ("Memory".to_owned(), memory),
        ("CPU model".to_owned(), model),
    ]
}

/// Returns `(program, version)` pairs of elb, azcopy, azure-storage-blob, Azurite and curl.
pub fn versions(repo: &Path) -> Vec<(String, String)> {
    let commit = output(Command::new("git").args([
        "-C",
        &repo.display().to_string(),
        "rev-parse",
        "--short",
        "HEAD",
    ]));
    let elb = format!("{} (commit {})", env!("CARGO_PKG_VERSION"), commit);
    let azcopy =
        output(Command::new(repo.join(crate::contenders::azcopy::AZCOPY_PATH)).arg("--version"))
            .trim_start_matches("azcopy version ")
            .to_owned();
    let python_sdk = output(
        Command::new(repo.join(".venv/bin/python"))
            .args(["-c", "import azure.storage.blob as b; print(b.__version__)"]),
    );
    let azurite = std::fs::read_to_string(repo.join("node_modules/azurite/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let curl = output(Command::new("curl").arg("--version"))
        .split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .to_owned();
    vec![
        ("elb".to_owned(), elb),
        ("azcopy".to_owned(), azcopy),
        ("azure-storage-blob".to_owned(), python_sdk),
        ("Azurite".to_owned(), azurite),
        ("curl".to_owned(), curl),
    ]
}

/// Returns the first line of a command's standard output, or `unknown`.
fn output(command: &mut Command) -> String {
    command
        .stdin(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .next()
                .map(|line| line.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
