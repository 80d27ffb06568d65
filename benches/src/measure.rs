//! Resource use of one contender run: wall time, CPU time and peak resident memory.
//!
//! The harness starts every contender through its own `measure` subcommand. That wrapper
//! process has exactly one child, so after waiting for it `getrusage(RUSAGE_CHILDREN)`
//! returns the CPU time and peak RSS of that child and the descendants it waited for, and
//! nothing of the harness, the endpoint or earlier runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{UsageWho, getrusage};
use serde::{Deserialize, Serialize};

/// The source of the contender's standard input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StdinMode {
    /// `/dev/null`, at end of file from the start.
    Null,
    /// A pipe that stays open and empty until the contender exits.
    Pipe,
}

impl StdinMode {
    /// Returns the command-line spelling of the mode.
    pub fn as_arg(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Pipe => "pipe",
        }
    }
}

/// The resources one contender process used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Usage {
    /// Wall-clock seconds from spawning the contender to its exit.
    pub wall_s: f64,
    /// User CPU seconds of the contender and its waited-for descendants.
    pub user_s: f64,
    /// System CPU seconds of the contender and its waited-for descendants.
    pub system_s: f64,
    /// Peak resident set size in KiB of the largest of those processes.
    pub max_rss_kib: i64,
    /// The contender's exit code, or `None` when a signal ended it.
    pub exit_code: Option<i32>,
}

/// Runs the `measure` subcommand: spawns `program` with `args`, waits for it and writes
/// its [`Usage`] as JSON to `out`.
///
/// # Errors
///
/// Fails when the program cannot be started or the result cannot be written.
pub fn run_wrapper(
    stdin: StdinMode,
    out: &Path,
    program: &str,
    args: &[String],
) -> Result<(), String> {
    let mut command = Command::new(program);
    command.args(args);
    command.stdin(match stdin {
        StdinMode::Null => Stdio::null(),
        StdinMode::Pipe => Stdio::piped(),
    });

    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot start {program}: {error}"))?;
    // `Child::wait` closes `child.stdin` first, so the write end is moved out and kept
    // open until the contender has exited: it never reads end of file.
    let open_pipe = child.stdin.take();
    let status = child
        .wait()
        .map_err(|error| format!("cannot wait for {program}: {error}"))?;
    let wall = started.elapsed();
    drop(open_pipe);

    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)
        .map_err(|error| format!("getrusage failed: {error}"))?;
    let result = Usage {
        wall_s: wall.as_secs_f64(),
        user_s: seconds(usage.user_time()),
        system_s: seconds(usage.system_time()),
        max_rss_kib: usage.max_rss(),
        exit_code: status.code(),
    };
    let json = serde_json::to_vec(&result).map_err(|error| error.to_string())?;
    std::fs::write(out, json).map_err(|error| format!("cannot write {}: {error}", out.display()))
}

fn seconds(time: nix::sys::time::TimeVal) -> f64 {
    time.tv_sec() as f64 + time.tv_usec() as f64 / 1e6
}

/// One command to run under the wrapper.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The program to run.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The source of its standard input.
    pub stdin: StdinMode,
    /// Its working directory, if not the harness's.
    pub cwd: Option<PathBuf>,
}

impl Invocation {
    /// Creates an invocation of `program` with stdin at `/dev/null`.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: StdinMode::Null,
            cwd: None,
        }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Appends an option followed by a path.
    pub fn arg_path(mut self, option: &str, path: &std::path::Path) -> Self {
        self.args.push(option.to_owned());
        self.args.push(path.display().to_string());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Returns the command as one shell-like line for the report (SAS queries are elided).
    pub fn display(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(name, value)| {
                if name == crate::contenders::SAS_ENV {
                    format!("{name}=<SAS>")
                } else {
                    format!("{name}={value}")
                }
            })
            .collect();
        parts.push(self.program.clone());
        parts.extend(self.args.iter().cloned());
        let line = parts
            .iter()
            .map(|part| redact_sas(part))
            .collect::<Vec<_>>()
            .join(" ");
        if self.stdin == StdinMode::Pipe {
            format!("{line} (stdin: an open pipe)")
        } else {
            format!("{line} < /dev/null")
        }
    }
}

/// Replaces a URL's query with `?<SAS>`, so reports never show a signature.
pub fn redact_sas(text: &str) -> String {
    match text.find('?') {
        Some(position) if text.contains("sig=") => format!("{}?<SAS>", &text[..position]),
        _ => text.to_owned(),
    }
}

/// Runs `invocation` under the harness's `measure` wrapper and returns its usage.
///
/// Output of the contender goes to `log`, so a failure can be diagnosed from it.
///
/// # Errors
///
/// Fails when the wrapper cannot run, or the contender exits with a non-zero status
/// (the message names the log file).
pub fn measure(invocation: &Invocation, scratch: &Path, log: &Path) -> Result<Usage, String> {
    let harness = std::env::current_exe().map_err(|error| error.to_string())?;
    let out = scratch.join("usage.json");
    let _ = std::fs::remove_file(&out);
    let log_file = std::fs::File::create(log)
        .map_err(|error| format!("cannot create {}: {error}", log.display()))?;

    let mut command = Command::new(harness);
    command
        .arg("measure")
        .arg("--stdin")
        .arg(invocation.stdin.as_arg())
        .arg("--out")
        .arg(&out)
        .arg("--")
        .arg(&invocation.program)
        .args(&invocation.args)
        .envs(invocation.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|error| error.to_string())?)
        .stderr(log_file);
    if let Some(cwd) = &invocation.cwd {
        command.current_dir(cwd);
    }
    let status = command
        .status()
        .map_err(|error| format!("cannot run the measure wrapper: {error}"))?;
    if !status.success() {
        return Err(format!(
            "the measure wrapper failed ({status}); see {}",
            log.display()
        ));
    }

    let usage: Usage = serde_json::from_slice(
        &std::fs::read(&out).map_err(|error| format!("cannot read {}: {error}", out.display()))?,
    )
    .map_err(|error| error.to_string())?;
    if usage.exit_code != Some(0) {
        return Err(format!(
            "{} exited with {:?}; see {}",
            invocation.program,
            usage.exit_code,
            log.display()
        ));
    }
    Ok(usage)
}

/// Returns the time since `started`, for in-process latency figures.
pub fn elapsed_ms(started: Instant) -> f64 {
    let elapsed: Duration = started.elapsed();
    elapsed.as_secs_f64() * 1000.0
}
