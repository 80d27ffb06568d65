//! The loopback-only network namespace that the whole benchmark runs in.
//!
//! azcopy tries to reach the internet (a version check and telemetry). Inside a new network
//! namespace whose only interface is `lo`, those attempts fail at once and nothing leaves
//! the machine, while every endpoint and client still reaches 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::process::Command;

/// The environment variable set on the re-executed harness, so it does not try again.
const INSIDE_ENV: &str = "ELB_BENCH_IN_NETNS";

/// Returns whether this process has no network interface besides `lo`, and `lo` is up.
///
/// `/proc/net/dev` lists the interfaces of the caller's namespace (`/sys/class/net` may
/// still show the host's). A connection to a listener on 127.0.0.1 proves `lo` is up.
pub fn is_loopback_only() -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/dev") else {
        return false;
    };
    // Two header lines, then one `name: counters...` line per interface.
    let names: Vec<&str> = table
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    if names != ["lo"] {
        return false;
    }
    let Ok(listener) = TcpListener::bind(("127.0.0.1", 0)) else {
        return false;
    };
    listener
        .local_addr()
        .is_ok_and(|address| TcpStream::connect(address).is_ok())
}

/// Re-executes this program with the same arguments in a new loopback-only namespace and
/// returns its exit code, or returns `None` when this process already runs in one.
///
/// # Errors
///
/// Fails when `unshare` cannot run (it needs root or user namespaces, and `ip` from
/// iproute2), or when the namespace still has other interfaces.
pub fn reexec_isolated() -> Result<Option<i32>, String> {
    if is_loopback_only() {
        return Ok(None);
    }
    if std::env::var_os(INSIDE_ENV).is_some() {
        return Err(
            "the benchmark still sees network interfaces besides lo after `unshare -n`; \
             check that `ip link set lo up` works in a new namespace"
                .to_owned(),
        );
    }
    let program = std::env::current_exe().map_err(|error| error.to_string())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let status = Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg("sh")
        .arg("-c")
        .arg("ip link set lo up && exec \"$0\" \"$@\"")
        .arg(&program)
        .args(&args)
        .env(INSIDE_ENV, "1")
        .status()
        .map_err(|error| {
            format!(
                "cannot run `unshare --net` to isolate the benchmark: {error}; install \
                 util-linux and iproute2 (scripts/setup) and run as root"
            )
        })?;
    Ok(Some(status.code().unwrap_or(1)))
}
