//! Submitting searches whose queries are given inline as FASTA text (mode `B`).
//!
//! A ConfigMap stores at most 1 MiB, and the job store keeps one record per ConfigMap, so
//! inline FASTA never goes into the record: [`submit_inline`] uploads it to
//! `queries/<job_id>.fa` and the record contains the blob URL in its `queries` field.
//!
//! ```no_run
//! # async fn example(
//! #     blobs: elb_core::blob::BlobStore,
//! #     jobs: elb_core::k8s::store::JobStore,
//! # ) -> elb_core::Result<()> {
//! use elb_core::k8s::store::{JobMode, JobRecord};
//! use elb_core::search::{new_job_id, submit_inline};
//!
//! let mut record = JobRecord::new(new_job_id(), JobMode::B);
//! record.program = "blastn".into();
//! record.db = "core_nt".into();
//! let fasta = std::fs::read("queries.fa").expect("readable FASTA file");
//! let submission = submit_inline(&blobs, &jobs, record, fasta).await?;
//! println!("queries at {}", submission.queries_url);
//! # Ok(())
//! # }
//! ```

mod fasta;
mod ids;
mod inline;

pub use fasta::{FastaSummary, validate_fasta};
pub use ids::{JOB_ID_DIGITS, new_elb_job_id, new_job_id};
pub use inline::{
    InlineSubmission, QUERIES_BYTES_FIELD, QUERIES_CONTAINER, QUERIES_FIELD,
    QUERIES_SEQUENCES_FIELD, query_blob_name, submit_inline,
};
