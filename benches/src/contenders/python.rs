//! The Python SDK contender: `benches/python/sdk_contender.py` with azure-storage-blob.

use super::{SAS_ENV, Task};
use crate::measure::Invocation;

/// Returns the command that runs `task` with the Python SDK.
pub fn invocation(task: &Task<'_>) -> Invocation {
    let python = task.repo.join(".venv/bin/python").display().to_string();
    let script = task.repo.join("benches/python/sdk_contender.py");
    Invocation::new(python)
        .args([script.display().to_string()])
        .args([task.direction.name()])
        .args(["--account-url", task.account_url])
        .args(["--container", task.container])
        .args(["--prefix", task.prefix])
        .arg_path("--local-dir", task.local_dir)
        .env(SAS_ENV, task.sas)
}
