//! The azcopy contender, at its defaults and tuned.

use super::{Direction, Task};
use crate::measure::{Invocation, StdinMode};

/// The azcopy binary inside the npm package, relative to the repository root.
pub const AZCOPY_PATH: &str = "node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64";

/// `AZCOPY_CONCURRENCY_VALUE` of the tuned runs: requests in flight.
pub const TUNED_CONCURRENCY: u32 = 32;

/// `--block-size-mb` of the tuned runs.
pub const TUNED_BLOCK_MIB: u32 = 8;

/// Returns the azcopy command that performs `task`.
///
/// Both variants run with logs and job plans in the run's scratch folder and syslog off.
/// The tuned variant raises concurrency and block size, skips the length check, logs only
/// errors, and gets an open, empty pipe as stdin: at end of file azcopy 10.32.2 spins one
/// core and only exits on its 2-second progress tick.
///
/// # Errors
///
/// Fails when this process is not in a loopback-only network namespace, because azcopy
/// contacts the internet for a version check and telemetry.
pub fn invocation(task: &Task<'_>, tuned: bool) -> Result<Invocation, String> {
    if !crate::netns::is_loopback_only() {
        return Err(
            "azcopy must run in a loopback-only network namespace: start the benchmark with \
             scripts/bench, which runs it under `unshare --net`"
                .to_owned(),
        );
    }
    let (source, target, from_to) = match task.direction {
        Direction::Upload => (
            format!("{}/*", task.local_dir.display()),
            task.prefix_url(""),
            "LocalBlob",
        ),
        Direction::Download => (
            task.prefix_url("*"),
            task.local_dir.display().to_string(),
            "BlobLocal",
        ),
    };
    let program = task.repo.join(AZCOPY_PATH).display().to_string();
    let mut invocation = Invocation::new(program)
        .args(["copy", &source, &target, "--recursive"])
        .args([format!("--from-to={from_to}")])
        .env(
            "AZCOPY_LOG_LOCATION",
            task.scratch.join("azcopy-logs").display().to_string(),
        )
        .env(
            "AZCOPY_JOB_PLAN_LOCATION",
            task.scratch.join("azcopy-plans").display().to_string(),
        )
        .env("AZCOPY_DISABLE_SYSLOG", "true");
    if tuned {
        invocation = invocation
            .args([
                format!("--block-size-mb={TUNED_BLOCK_MIB}"),
                "--check-length=false".to_owned(),
                "--log-level=ERROR".to_owned(),
                "--output-level=quiet".to_owned(),
            ])
            .env("AZCOPY_CONCURRENCY_VALUE", TUNED_CONCURRENCY.to_string());
        invocation.stdin = StdinMode::Pipe;
    }
    Ok(invocation)
}
