//! The programs compared: elb, azcopy (defaults and tuned), the Python SDK and curl.

pub mod azcopy;
pub mod curl;
pub mod elb;
pub mod python;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::measure::Invocation;
use crate::workloads::Dataset;

/// The environment variable that carries the SAS query to the elb and Python contenders,
/// so it does not appear in their command lines.
pub const SAS_ENV: &str = "ELB_BENCH_SAS";

/// Whether a run sends files to the endpoint or fetches them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Local folder to blob prefix.
    Upload,
    /// Blob prefix to local folder.
    Download,
}

impl Direction {
    /// Returns the name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Download => "download",
        }
    }
}

/// One program and its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Contender {
    /// elb-core in a child process (the harness's `contender elb` subcommand).
    Elb,
    /// azcopy 10.32.2 at its defaults with stdin at `/dev/null`, as ElasticBLAST runs it.
    AzcopyDefault,
    /// azcopy with more concurrency, larger blocks, no length check and an open stdin.
    AzcopyTuned,
    /// azure-storage-blob 12.31.1 with its best settings and a thread pool.
    Python,
    /// curl with one request per file and parallel transfers: the ceiling.
    Curl,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 5] = [
        Contender::Elb,
        Contender::AzcopyTuned,
        Contender::AzcopyDefault,
        Contender::Python,
        Contender::Curl,
    ];

    /// Returns the name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Elb => "elb",
            Self::AzcopyDefault => "azcopy-default",
            Self::AzcopyTuned => "azcopy-tuned",
            Self::Python => "python-sdk",
            Self::Curl => "curl",
        }
    }

    /// Parses a name from the command line.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|contender| contender.name() == name)
    }

    /// Returns the command that performs `task`.
    pub fn invocation(self, task: &Task<'_>) -> Result<Invocation, String> {
        match self {
            Self::Elb => Ok(elb::invocation(task)),
            Self::AzcopyDefault => azcopy::invocation(task, false),
            Self::AzcopyTuned => azcopy::invocation(task, true),
            Self::Python => Ok(python::invocation(task)),
            Self::Curl => curl::invocation(task),
        }
    }
}

/// One transfer for a contender to perform.
pub struct Task<'a> {
    /// Upload or download.
    pub direction: Direction,
    /// The files, their names and digests.
    pub dataset: &'a Dataset,
    /// The account URL, such as `http://127.0.0.1:PORT/devstoreaccount1`.
    pub account_url: &'a str,
    /// The SAS query, without `?`.
    pub sas: &'a str,
    /// The container.
    pub container: &'a str,
    /// The blob prefix, ending with `/`.
    pub prefix: &'a str,
    /// The source folder of an upload, or the empty target folder of a download.
    pub local_dir: &'a Path,
    /// A folder for logs, plans and configuration files of this run.
    pub scratch: &'a Path,
    /// The repository root, where `node_modules`, `.venv` and `benches/python` are.
    pub repo: &'a Path,
}

impl Task<'_> {
    /// Returns the URL of the blob prefix with the SAS.
    pub fn prefix_url(&self, suffix: &str) -> String {
        format!(
            "{}/{}/{}{suffix}?{}",
            self.account_url, self.container, self.prefix, self.sas
        )
    }
}
