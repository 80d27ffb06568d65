//! Labels of a search's Jobs and their pods.

use std::collections::BTreeMap;

use crate::k8s::names::label_value_for;

/// Label that ties every Job of a search to its `elb_job_id`.
pub const ELB_JOB_ID_LABEL: &str = "elb-job-id";
/// Role label: `setup`, `submit`, `blast` or `finalizer`.
pub const APP_LABEL: &str = "app";
/// Database label of a batch Job.
pub const DB_LABEL: &str = "db";
/// Shard label of a batch Job of a partitioned database.
pub const SHARD_LABEL: &str = "shard";

/// The role of a Job in a search, the value of its `app` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobRole {
    /// Database and query staging.
    Setup,
    /// The in-cluster submitter.
    Submit,
    /// One BLAST batch.
    Blast,
    /// Writes the terminal marker.
    Finalizer,
}

impl JobRole {
    /// Returns the `app` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Submit => "submit",
            Self::Blast => "blast",
            Self::Finalizer => "finalizer",
        }
    }
}

/// Returns the labels of a batch Job and its pods.
pub(crate) fn batch_labels(
    elb_job_id: &str,
    db: &str,
    shard: Option<&str>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (APP_LABEL.to_owned(), JobRole::Blast.as_str().to_owned()),
        (ELB_JOB_ID_LABEL.to_owned(), elb_job_id.to_owned()),
        (DB_LABEL.to_owned(), label_value_for(db)),
    ]);
    if let Some(shard) = shard {
        labels.insert(SHARD_LABEL.to_owned(), label_value_for(shard));
    }
    labels
}

/// Returns the label selector of all Jobs of a search.
pub fn search_selector(elb_job_id: &str) -> String {
    format!("{ELB_JOB_ID_LABEL}={elb_job_id}")
}
