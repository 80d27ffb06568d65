//! The quickstart's command line: `--out PATH` and `--help`.

use std::path::{Path, PathBuf};

use elb_examples::ExampleError;

/// The usage text that `--help` prints.
pub(crate) const USAGE: &str = "\
Usage: scripts/quickstart [--out PATH]

Runs the ElasticBLAST flow of one search on local servers (127.0.0.1 only) and checks
every step.

Options:
  --out PATH  the file the results ZIP is written to; its folder must exist
              (default: target/quickstart/results.zip in the repository, whose folder
              is created)
  --help      print this text and exit";

/// The action that the command-line arguments select.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print the usage text.
    Help,
    /// Run the flow and write the results ZIP to this path.
    Run(PathBuf),
}

/// Parses the arguments, given without the program name. `default_out` is the ZIP path
/// without `--out`.
///
/// # Errors
///
/// Returns [`ExampleError::Other`] naming an unknown argument, a missing `--out` value, or
/// an `--out` path that cannot be written (see [`check_out`]).
pub(crate) fn parse(
    args: impl IntoIterator<Item = String>,
    default_out: PathBuf,
) -> Result<Command, ExampleError> {
    let mut out = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--out" => {
                let Some(path) = args.next() else {
                    return Err(ExampleError::Other(
                        "--out needs a value: pass --out PATH, the file the results ZIP is \
                         written to"
                            .to_owned(),
                    ));
                };
                out = Some(PathBuf::from(path));
            }
            other => {
                return Err(ExampleError::Other(format!(
                    "invalid argument {other:?}: the options are --out PATH (where the \
                     results ZIP goes) and --help"
                )));
            }
        }
    }
    match out {
        Some(path) => {
            check_out(&path)?;
            Ok(Command::Run(path))
        }
        None => Ok(Command::Run(default_out)),
    }
}

/// Checks that `path` can become the results ZIP: it is not a directory and its folder
/// exists, so the run does not fail at its last steps.
///
/// # Errors
///
/// Returns [`ExampleError::Other`] naming the path and the fix.
pub(crate) fn check_out(path: &Path) -> Result<(), ExampleError> {
    if path.is_dir() {
        return Err(ExampleError::Other(format!(
            "invalid --out {}: it is a directory; pass a file path such as {}",
            path.display(),
            path.join("results.zip").display()
        )));
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(ExampleError::Other(format!(
            "invalid --out {}: folder {} does not exist; create it or pass a path in an \
             existing folder",
            path.display(),
            folder.display()
        )));
    }
    Ok(())
}

/// Returns `path` relative to the current directory when it is inside it, and `path`
/// itself otherwise, so a printed path works from where the user ran the command.
pub(crate) fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|current| path.strip_prefix(current).ok().map(Path::to_path_buf))
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}
