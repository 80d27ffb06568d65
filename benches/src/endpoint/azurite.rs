//! Starting and stopping Azurite's blob service for one benchmark cell.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The storage mode of Azurite's blob data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// `--inMemoryPersistence`: the fastest mode, and the one the published numbers use.
    Memory,
    /// `--location` on a temporary folder on disk.
    Disk,
}

/// A running Azurite process; dropping it sends SIGTERM and waits.
pub struct AzuriteProcess {
    child: Child,
    port: u16,
    _workspace: tempfile::TempDir,
}

impl AzuriteProcess {
    /// Starts `azurite-blob` from the repository's `node_modules` on a free port.
    ///
    /// # Errors
    ///
    /// Fails when the program is missing (run `scripts/setup`), exits early, or does not
    /// accept connections within 30 seconds.
    pub fn start(repo: &Path, storage: Storage) -> Result<Self, String> {
        let bin = repo.join("node_modules/.bin/azurite-blob");
        if !bin.is_file() {
            return Err(format!(
                "azurite-blob not found at {}: run scripts/setup",
                bin.display()
            ));
        }
        let workspace = tempfile::Builder::new()
            .prefix("elb-bench-azurite-")
            .tempdir()
            .map_err(|error| error.to_string())?;
        let port = free_port()?;
        let log_path = workspace.path().join("azurite.log");
        let log = std::fs::File::create(&log_path).map_err(|error| error.to_string())?;

        let mut command = Command::new(&bin);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--disableTelemetry", "--skipApiVersionCheck", "--silent"])
            // Loose mode accepts the `x-ms-content-crc64` header that the Blob service checks
            // and elb sends by default, so elb's client work matches a real upload.
            .arg("--loose")
            .current_dir(workspace.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|error| error.to_string())?)
            .stderr(log);
        match storage {
            Storage::Memory => command.arg("--inMemoryPersistence"),
            Storage::Disk => command.arg("--location").arg(workspace.path().join("data")),
        };
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", bin.display()))?;
        let mut process = Self {
            child,
            port,
            _workspace: workspace,
        };
        process.wait_ready(&log_path)?;
        Ok(process)
    }

    /// Returns the blob port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "Azurite exited during start-up ({status}): {}",
                    read_log(log_path)
                ));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "Azurite did not listen on port {} within 30 s: {}",
            self.port,
            read_log(log_path)
        ))
    }
}

impl Drop for AzuriteProcess {
    fn drop(&mut self) {
        let pid = Pid::from_raw(self.child.id() as i32);
        if kill(pid, Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|error| error.to_string())?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| error.to_string())
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    text.chars()
        .rev()
        .take(2000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}
