//! Shared set-up of the tests that run the example programs: building them and running them
//! with a controlled environment.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

use elb_test_servers::azurite::repo_root;

/// Serializes the builds, so that tests in one binary do not queue on cargo's lock.
static BUILD: Mutex<()> = Mutex::new(());

/// Builds the example `name` with the cargo that runs the tests and returns its binary.
///
/// The binary is found beside this test's own executable (`target/<profile>/examples/`),
/// so it shares the build profile and target folder.
pub fn build_example(name: &str) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "-p", "elb-examples", "--example", name])
        .current_dir(repo_root())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let binary = profile_dir.join("examples").join(name);
    assert!(
        binary.is_file(),
        "{} not found after the build",
        binary.display()
    );
    binary
}

/// Runs `binary` with `args` and only the variables in `env` (plus `PATH`), from a fresh
/// home folder, so no setting of the developer's machine leaks in.
pub fn run_example(binary: &PathBuf, args: &[&str], env: &[(&str, String)]) -> Output {
    let home = tempfile::tempdir().expect("temporary home");
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("example starts")
}

/// Returns the standard output of a run as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Returns the standard error of a run as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
