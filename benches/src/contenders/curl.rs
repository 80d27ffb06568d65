//! The curl baseline: one plain request per file, with parallel transfers.
//!
//! It shows the ceiling of the endpoint: no listing, no blocks, no checksums. A file is
//! uploaded as one `Put Blob` whatever its size, and downloaded as one `Get Blob`.

use std::fmt::Write;

use super::{Direction, Task};
use crate::measure::Invocation;

/// Transfers in flight at once.
pub const PARALLEL: usize = 32;

/// Writes the curl configuration file for `task` and returns the command that uses it.
///
/// # Errors
///
/// Fails when the configuration file cannot be written.
pub fn invocation(task: &Task<'_>) -> Result<Invocation, String> {
    let mut config = String::new();
    config.push_str("silent\nshow-error\nfail\nparallel\n");
    let _ = writeln!(config, "parallel-max = {PARALLEL}");
    // No `Expect: 100-continue` round trip before each body.
    config.push_str("header = \"Expect:\"\n");
    if task.direction == Direction::Upload {
        config.push_str("header = \"x-ms-blob-type: BlockBlob\"\n");
    }
    for (name, _) in &task.dataset.files {
        let url = task.prefix_url(name);
        let local = task.local_dir.join(name);
        let _ = writeln!(config, "url = \"{url}\"");
        match task.direction {
            Direction::Upload => {
                let _ = writeln!(config, "upload-file = \"{}\"", local.display());
            }
            Direction::Download => {
                let _ = writeln!(config, "output = \"{}\"", local.display());
            }
        }
    }
    let path = task.scratch.join("curl.conf");
    std::fs::write(&path, config)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(Invocation::new("curl").args(["--config".to_owned(), path.display().to_string()]))
}
