//! Fake Azure CLI programs: small shell scripts that print what `az account
//! get-access-token` prints, so the credential runs a real process.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Serializes writing and running scripts within one test binary. A script written while
/// another thread forks can fail to start with "text file busy", because the child keeps the
/// write descriptor until it calls exec.
pub static SCRIPT_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The access token the logged-in fake CLI prints.
pub const CLI_TOKEN: &str = "cli-access-token-value";

/// Writes an executable script named `az` into `dir` with `body` after the shebang line.
pub fn write_script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("az");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script written");
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
    path
}

/// Writes a logged-in CLI that records its arguments in `args.log` and prints a token
/// expiring at Unix time 1900000000.
pub fn logged_in(dir: &Path) -> PathBuf {
    write_script(
        dir,
        &format!(
            "echo \"$@\" >> \"$(dirname \"$0\")/args.log\"\n\
             echo '{{\"accessToken\": \"{CLI_TOKEN}\", \"expiresOn\": \"2030-03-17 10:00:00.000000\", \
             \"expires_on\": 1900000000, \"subscription\": \"sub\", \"tenant\": \"t\", \
             \"tokenType\": \"Bearer\"}}'"
        ),
    )
}

/// Writes a CLI that is not logged in.
pub fn logged_out(dir: &Path) -> PathBuf {
    write_script(
        dir,
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1",
    )
}

/// Returns the arguments the logged-in CLI recorded, one run per line.
pub fn recorded_args(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("args.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
