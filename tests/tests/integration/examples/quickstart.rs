//! The quickstart, run as a process the way `scripts/quickstart` runs it: it must finish
//! every step and print its summary.

use crate::examples_support::{build_example, run_example, stderr, stdout};

#[test]
fn quickstart_runs_whole_flow() {
    let binary = build_example("quickstart");
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("results.zip");
    let output = run_example(&binary, &["--out", zip.to_str().unwrap()], &[]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "quickstart failed with {:?}\nstdout:\n{text}\nstderr:\n{}",
        output.status,
        stderr(&output)
    );

    for expected in [
        "[ 1/11] started Azurite (HTTPS, OAuth) at https://127.0.0.1:",
        "[ 2/11] got a storage token from WorkloadIdentityCredential",
        "[ 4/11] uploaded BLAST database testdb: 9 files",
        "(mode B)",
        "100 sequences",
        "search job-7f598a7eb6aa4e53a122c2a4d85a117f completed: 1 of 1 Jobs succeeded",
        "verified 9 of 9 entries",
        "data/results/B2-pathogen-E16-1N (",
        "nothing left behind: 0 Jobs, 0 pods, no ConfigMap elb-job-",
        "quickstart passed: 11 of 11 steps",
        "credential WorkloadIdentityCredential",
        "results: 1 of 1 Jobs succeeded, 9 ZIP entries",
        "cleanup: 1 Job(s) deleted, nothing left behind",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let total = text
        .lines()
        .find(|line| line.trim_start().starts_with("total"));
    assert!(total.is_some_and(|line| line.ends_with(" s")), "{text}");
    assert!(zip.is_file(), "no ZIP at {}", zip.display());

    // The source folder of the verify step is printed relative to the current directory
    // of the run, or absolute.
    let sources = text
        .split("source file's in ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .expect("the verify step names the source folder");
    assert!(
        std::path::Path::new(sources).is_dir(),
        "{sources} is not a folder from {}",
        std::env::current_dir().unwrap().display()
    );

    // Every address the quickstart printed is on loopback.
    for word in text.split_whitespace() {
        if let Some(rest) = word
            .strip_prefix("https://")
            .or(word.strip_prefix("http://"))
        {
            assert!(
                rest.starts_with("127.0.0.1:"),
                "non-loopback address {word}"
            );
        }
    }
}

#[test]
fn quickstart_help_prints_usage() {
    let binary = build_example("quickstart");
    let output = run_example(&binary, &["--help"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("Usage: scripts/quickstart [--out PATH]"),
        "{text}"
    );
    assert!(text.contains("--out PATH"), "{text}");
    assert!(!text.contains("started Azurite"), "{text}");
}

#[test]
fn quickstart_rejects_directory_out() {
    let binary = build_example("quickstart");
    let out = tempfile::tempdir().unwrap();
    let path = out.path().to_str().unwrap();
    let output = run_example(&binary, &["--out", path], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    let expected = format!("error: invalid --out {path}: it is a directory");
    assert!(message.contains(&expected), "{message}");
    assert!(!stdout(&output).contains("started Azurite"));
}

#[test]
fn quickstart_rejects_out_in_missing_folder() {
    let binary = build_example("quickstart");
    let out = tempfile::tempdir().unwrap();
    let folder = out.path().join("missing");
    let zip = folder.join("results.zip");
    let output = run_example(&binary, &["--out", zip.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    let expected = format!(
        "error: invalid --out {}: folder {} does not exist",
        zip.display(),
        folder.display()
    );
    assert!(message.contains(&expected), "{message}");
    assert!(!stdout(&output).contains("started Azurite"));
}

#[test]
fn quickstart_rejects_unknown_argument() {
    let binary = build_example("quickstart");
    let output = run_example(&binary, &["--verbose"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("invalid argument \"--verbose\""),
        "{message}"
    );
    assert!(!stdout(&output).contains("started Azurite"));
}
