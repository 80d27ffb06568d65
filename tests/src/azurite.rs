//! Starting Azurite's blob service on a free loopback port, over HTTP or over HTTPS with
//! OAuth, and stopping it when the handle is dropped.
//!
//! Azurite runs from `node_modules/.bin/azurite-blob` in the repository root (installed by
//! `npm ci`), or from the path in `ELB_AZURITE_BIN`. It always runs with
//! `--disableTelemetry`, so it sends nothing off the machine, and with `--skipApiVersionCheck`,
//! because azure_storage_blob 1.1 sends a service version newer than Azurite 3.35 supports.

mod process;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use serde_json::json;

use crate::tls::TestCa;

/// The account name that Azurite serves.
pub const ACCOUNT_NAME: &str = "devstoreaccount1";

/// The well-known development account key that Azurite accepts for Shared Key and SAS.
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The environment variable that overrides the path of the `azurite-blob` program.
pub const BIN_ENV: &str = "ELB_AZURITE_BIN";

/// How many free ports to try when another process takes the chosen port first.
const PORT_ATTEMPTS: usize = 3;

/// How Azurite serves its blob endpoint.
#[derive(Clone, Copy)]
pub enum AzuriteMode<'a> {
    /// Plain HTTP, with Shared Key and SAS authentication.
    Http,
    /// HTTPS with a leaf certificate signed by the test authority, with Shared Key and SAS.
    Https(&'a TestCa),
    /// HTTPS with a leaf certificate signed by the test authority, accepting bearer tokens
    /// (`--oauth basic`) as well as Shared Key and SAS.
    HttpsOAuth(&'a TestCa),
}

/// Settings for starting Azurite besides its mode.
#[derive(Clone, Debug)]
pub struct AzuriteOptions {
    /// The `azurite-blob` program; `None` means `ELB_AZURITE_BIN`, or else
    /// `node_modules/.bin/azurite-blob` in the repository root.
    pub bin: Option<PathBuf>,
    /// The maximum time to wait for Azurite to accept connections.
    pub start_timeout: Duration,
    /// A fixed port on 127.0.0.1; `None` picks a free port and retries with another one when
    /// a different process takes it first.
    pub port: Option<u16>,
    /// Further command-line arguments, added after the ones the launcher sets, such as
    /// `--loose`, which makes Azurite accept headers it does not implement (among them
    /// `x-ms-content-crc64`) instead of returning `500 FeatureNotSupported`.
    pub extra_args: Vec<String>,
}

impl Default for AzuriteOptions {
    fn default() -> Self {
        Self {
            bin: None,
            start_timeout: Duration::from_secs(20),
            port: None,
            extra_args: Vec::new(),
        }
    }
}

impl AzuriteOptions {
    /// Creates the default options with `bin` taken from `ELB_AZURITE_BIN` when it is set.
    pub fn from_env() -> Self {
        let bin = std::env::var_os(BIN_ENV)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        Self {
            bin,
            ..Self::default()
        }
    }
}

/// A running Azurite blob service; dropping it stops Azurite with SIGTERM and waits for it.
///
/// NOTE: a test process killed by a signal runs no destructors, so its Azurite keeps
/// running; the `elb-test-servers` binary also stops when its stdin closes.
pub struct Azurite {
    child: Child,
    port: u16,
    https: bool,
    // Declared last so the folder is removed after the process has exited.
    workspace: tempfile::TempDir,
}

impl Azurite {
    /// Starts Azurite in `mode`, with the program named by `ELB_AZURITE_BIN` or found in
    /// the repository's `node_modules`.
    ///
    /// # Errors
    ///
    /// Fails when the program is missing (run `npm ci` in the repository root), when it exits
    /// during start-up, or when it does not accept connections within 20 seconds. The error
    /// kind is `AddrInUse` when a fixed port is taken.
    pub async fn start(mode: AzuriteMode<'_>) -> std::io::Result<Self> {
        Self::start_with(mode, AzuriteOptions::from_env()).await
    }

    /// Starts Azurite in `mode` with explicit `options`.
    ///
    /// # Errors
    ///
    /// Same as [`Azurite::start`].
    pub async fn start_with(
        mode: AzuriteMode<'_>,
        options: AzuriteOptions,
    ) -> std::io::Result<Self> {
        let bin = options.bin.clone().unwrap_or_else(default_bin);
        if !bin.is_file() {
            return Err(std::io::Error::new(
                ErrorKind::NotFound,
                format!(
                    "azurite-blob not found at {}: run `npm ci` in {}, or set {BIN_ENV} to \
                     the azurite-blob program",
                    bin.display(),
                    repo_root().display()
                ),
            ));
        }

        let attempts = if options.port.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        let mut last_error = None;
        for _ in 0..attempts {
            match process::start_once(&bin, mode, &options).await {
                Ok(azurite) => return Ok(azurite),
                Err(error) if error.kind() == ErrorKind::AddrInUse => last_error = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// Returns the port of the blob endpoint on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns whether the blob endpoint uses HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Returns the blob endpoint with the account in the path, such as
    /// `http://127.0.0.1:PORT/devstoreaccount1`, without a trailing slash.
    pub fn blob_endpoint(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/{ACCOUNT_NAME}", self.port)
    }

    /// Returns the account name, `devstoreaccount1`.
    pub fn account_name(&self) -> &'static str {
        ACCOUNT_NAME
    }

    /// Returns Azurite's well-known development account key.
    pub fn account_key(&self) -> &'static str {
        ACCOUNT_KEY
    }

    /// Returns a storage connection string with the account key and `BlobEndpoint`.
    pub fn connection_string(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!(
            "DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT_NAME};\
             AccountKey={ACCOUNT_KEY};BlobEndpoint={};",
            self.blob_endpoint()
        )
    }

    /// Returns the folder where Azurite keeps its data.
    pub fn location(&self) -> &Path {
        self.workspace.path()
    }

    /// Mints a storage bearer token that Azurite's `--oauth basic` mode accepts.
    ///
    /// See [`storage_token`] for the claims.
    pub fn oauth_token(&self, tenant: &str, lifetime: Duration) -> String {
        storage_token(tenant, lifetime.as_secs() as i64)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        process::stop(&mut self.child);
    }
}

/// Mints a storage bearer token with issuer `https://sts.windows.net/<tenant>/`, audience
/// `https://storage.azure.com`, `oid`, `tid` and `appid`, valid from one minute ago for
/// `lifetime_secs` seconds from now (negative for an expired token).
///
/// Azurite 3.35 in `--oauth basic` mode checks these claims and the times, not the signature.
pub fn storage_token(tenant: &str, lifetime_secs: i64) -> String {
    let now = crate::jwt::now_unix();
    let not_before = now.min(now + lifetime_secs) - 60;
    crate::jwt::mint(&json!({
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "aud": "https://storage.azure.com",
        "sub": "00000000-0000-0000-0000-0000000e1b00",
        "oid": "00000000-0000-0000-0000-0000000e1b00",
        "tid": tenant,
        "appid": "00000000-0000-0000-0000-00000000e1b0",
        "iat": not_before,
        "nbf": not_before,
        "exp": now + lifetime_secs,
    }))
}

/// Returns the repository root: the parent of this crate's folder.
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The path of `azurite-blob` inside a repository root.
const BIN_IN_REPO: &str = "node_modules/.bin/azurite-blob";

/// Returns `node_modules/.bin/azurite-blob` in the repository root, or else in a folder
/// above the running executable, such as the root above `target/debug/` when the repository
/// has moved since the build.
fn default_bin() -> PathBuf {
    let in_build_root = repo_root().join(BIN_IN_REPO);
    if in_build_root.is_file() {
        return in_build_root;
    }
    let beside_executable = std::env::current_exe().ok().and_then(|exe| {
        exe.ancestors()
            .skip(1)
            .map(|folder| folder.join(BIN_IN_REPO))
            .find(|candidate| candidate.is_file())
    });
    beside_executable.unwrap_or(in_build_root)
}
