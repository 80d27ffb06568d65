//! Inline FASTA submissions (mode `B`): the FASTA goes to `queries/<job_id>.fa` and the job
//! record keeps only its URL.

use bytes::Bytes;
use serde_json::Value;
use tracing::{Instrument, debug, warn};

use super::fasta::{FastaSummary, validate_fasta};
use crate::blob::{BlobStore, UploadOptions, UploadReport};
use crate::k8s::names::validate_job_id;
use crate::k8s::store::{JobMode, JobRecord, JobStore, StoredRecord};
use crate::{Error, ErrorKind, Result};

/// The container of inline queries.
pub const QUERIES_CONTAINER: &str = "queries";

/// The record field that contains the URL of the uploaded queries.
pub const QUERIES_FIELD: &str = "queries";

/// The record field that contains the size of the uploaded queries in bytes.
pub const QUERIES_BYTES_FIELD: &str = "queries_bytes";

/// The record field that contains the number of sequences in the uploaded queries.
pub const QUERIES_SEQUENCES_FIELD: &str = "queries_sequences";

/// Returns the blob name of a job's inline queries in [`QUERIES_CONTAINER`]: `<job_id>.fa`.
pub fn query_blob_name(job_id: &str) -> String {
    format!("{job_id}.fa")
}

/// The outcome of [`submit_inline`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InlineSubmission {
    /// The record as created in the job store.
    pub stored: StoredRecord,
    /// The URL of the queries blob, without a SAS.
    pub queries_url: String,
    /// The counts of the FASTA text.
    pub fasta: FastaSummary,
    /// The upload of the queries blob, with its MD5.
    pub upload: UploadReport,
}

/// Submits a job whose queries are inline FASTA text: checks the text, uploads it to
/// `queries/<job_id>.fa` and creates the job record in mode `B`, holding the blob URL in
/// the `queries` field in place of the text.
///
/// The record keeps every field of `record` except `mode`, which becomes `B`. It also gets
/// `queries_bytes` and `queries_sequences`. Nothing is written when the text or the record
/// is invalid. The upload never replaces an existing blob, so a job id already in use fails
/// before its queries are touched. When the record cannot be created, the uploaded blob is
/// deleted again.
///
/// # Errors
///
/// Returns [`ErrorKind::InvalidInput`] before any request for invalid FASTA or an invalid
/// record, [`ErrorKind::AlreadyExists`] when the queries blob or the record of this job id
/// exists, and the storage or API server error of a failed request.
///
/// # Cancel safety
///
/// The submission runs on a task of its own, so dropping the future does not stop it
/// halfway: the task still creates the record, or deletes the uploaded blob when the record
/// cannot be created. The caller then learns the outcome only from the job store.
///
/// # Panics
///
/// Panics when called outside a tokio runtime.
pub async fn submit_inline(
    blobs: &BlobStore,
    jobs: &JobStore,
    record: JobRecord,
    fasta: impl Into<Bytes>,
) -> Result<InlineSubmission> {
    let span = tracing::debug_span!(
        "search.submit_inline",
        job_id = %record.job_id,
        k8s.namespace = %jobs.namespace()
    );
    let blobs = blobs.clone();
    let jobs = jobs.clone();
    let fasta = fasta.into();
    let task = tokio::spawn(
        async move { submit_inline_inner(&blobs, &jobs, record, fasta).await }.instrument(span),
    );
    task.await.map_err(|error| {
        Error::new(ErrorKind::Service, "the inline submission task failed").with_source(error)
    })?
}

async fn submit_inline_inner(
    blobs: &BlobStore,
    jobs: &JobStore,
    mut record: JobRecord,
    fasta: Bytes,
) -> Result<InlineSubmission> {
    validate_job_id(&record.job_id)?;
    let summary = validate_fasta(&fasta)?;
    let name = query_blob_name(&record.job_id);
    let queries_url = blobs.blob_url(QUERIES_CONTAINER, &name);

    record.mode = JobMode::B;
    record
        .extra
        .insert(QUERIES_FIELD.to_owned(), Value::String(queries_url.clone()));
    record
        .extra
        .insert(QUERIES_BYTES_FIELD.to_owned(), Value::from(summary.bytes));
    record.extra.insert(
        QUERIES_SEQUENCES_FIELD.to_owned(),
        Value::from(summary.sequences),
    );
    // Checks the id, labels and size now, so an invalid record uploads nothing.
    record.to_json_checked()?;

    let options = UploadOptions {
        overwrite: false,
        content_type: Some("text/plain".to_owned()),
        ..UploadOptions::default()
    };
    let upload = blobs
        .upload_bytes(QUERIES_CONTAINER, &name, fasta, &options)
        .await
        .map_err(|error| match error.kind() {
            ErrorKind::AlreadyExists => Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "queries blob {QUERIES_CONTAINER}/{name} already exists: job id {} is in \
                     use, submit with a new job id",
                    record.job_id
                ),
            )
            .with_target(queries_url.clone())
            .with_source(error),
            _ => error,
        })?;
    debug!(bytes = upload.bytes, "uploaded inline queries");

    match jobs.create(&record).await {
        Ok(stored) => Ok(InlineSubmission {
            stored,
            queries_url,
            fasta: summary,
            upload,
        }),
        Err(error) => {
            if let Err(cleanup) = blobs.delete_blob_if_exists(QUERIES_CONTAINER, &name).await {
                warn!(
                    blob.container = QUERIES_CONTAINER,
                    blob.name = %name,
                    error = %cleanup,
                    "job record not created and the queries blob could not be deleted"
                );
            }
            Err(error)
        }
    }
}
