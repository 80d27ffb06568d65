//! The Azurite process: starting it on a free port, waiting for it to listen, and stopping
//! it.

use std::io::ErrorKind;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Azurite, AzuriteMode, AzuriteOptions, repo_root};

/// The line Azurite prints on stdout once its blob service accepts connections.
const READY_LINE: &str = "successfully listens on";

/// How long Azurite may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts Azurite once on a free port and waits for its ready line.
///
/// Returns an error of kind `AddrInUse` when another process took the port first, so the
/// caller can retry with another port.
pub(super) async fn start_once(
    bin: &Path,
    mode: AzuriteMode<'_>,
    options: &AzuriteOptions,
) -> std::io::Result<Azurite> {
    let workspace = tempfile::Builder::new().prefix("elb-azurite-").tempdir()?;
    let port = match options.port {
        Some(port) => port,
        None => free_port()?,
    };
    let log_path = workspace.path().join("azurite.log");
    let log = std::fs::File::create(&log_path)?;

    let mut command = Command::new(bin);
    command
        .arg("--blobHost")
        .arg("127.0.0.1")
        .arg("--blobPort")
        .arg(port.to_string())
        .arg("--location")
        .arg(workspace.path().join("data"))
        .arg("--disableTelemetry")
        .arg("--skipApiVersionCheck")
        .arg("--silent")
        .current_dir(workspace.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let https = match mode {
        AzuriteMode::Http => false,
        AzuriteMode::Https(ca) | AzuriteMode::HttpsOAuth(ca) => {
            let leaf = ca.issue_leaf(&format!("azurite-{port}"))?;
            command.arg("--cert").arg(&leaf.cert_path);
            command.arg("--key").arg(&leaf.key_path);
            true
        }
    };
    if let AzuriteMode::HttpsOAuth(_) = mode {
        command.arg("--oauth").arg("basic");
    }
    command.args(&options.extra_args);

    let child = command.spawn().map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!(
                "cannot run {}: {error}; check that Node.js is installed and run `npm ci` in {}",
                bin.display(),
                repo_root().display()
            ),
        )
    })?;
    let mut azurite = Azurite {
        child,
        port,
        https,
        workspace,
    };
    wait_ready(&mut azurite, &log_path, options.start_timeout).await?;
    tracing::debug!(port, https, "Azurite started");
    Ok(azurite)
}

async fn wait_ready(
    azurite: &mut Azurite,
    log_path: &Path,
    timeout: Duration,
) -> std::io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        if let Some(status) = azurite.child.try_wait()? {
            let kind = if log.contains("EADDRINUSE") {
                ErrorKind::AddrInUse
            } else {
                ErrorKind::Other
            };
            return Err(std::io::Error::new(
                kind,
                format!(
                    "Azurite exited during start-up with {status} on port {}; its output:\n{}",
                    azurite.port,
                    log.trim()
                ),
            ));
        }
        if log.contains(READY_LINE) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            // Dropping the handle stops the process.
            return Err(std::io::Error::new(
                ErrorKind::TimedOut,
                format!(
                    "Azurite did not listen on port {} within {} s; its output:\n{}",
                    azurite.port,
                    timeout.as_secs(),
                    log.trim()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Finds a free port on 127.0.0.1 by binding port 0; the port is free again after the
/// listener closes, but another process may take it before Azurite does.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Sends SIGTERM and waits for the process to exit, killing it after `STOP_TIMEOUT`.
///
/// SIGKILL soon after a write can lose data that Azurite has not yet flushed, so SIGTERM
/// comes first.
pub(super) fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let terminated = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if terminated {
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!(
            pid = child.id(),
            "Azurite did not exit after SIGTERM; killing it"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
