//! Deleting a search: its Jobs with their pods, then its job record.

use kube::api::{DeleteParams, PropagationPolicy};
use tracing::info;

use super::SearchJobs;
use crate::Result;
use crate::k8s::api_error::{from_kube, is_not_found, target};
use crate::k8s::store::JobStore;

/// The propagation policy by which the API server removes the pods of a deleted Job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletePropagation {
    /// The Job goes at once and the garbage collector removes its pods afterwards.
    #[default]
    Background,
    /// The Job stays, marked for deletion, until its pods are gone.
    Foreground,
}

impl SearchJobs {
    /// Deletes every Job of the search (selected by `elb-job-id`) with a propagation
    /// policy that also removes their pods, and returns how many Jobs were deleted.
    ///
    /// Jobs that are already gone are skipped, so deleting twice succeeds.
    ///
    /// # Errors
    ///
    /// Returns the API server's errors other than 404.
    pub async fn delete(&self, propagation: DeletePropagation) -> Result<usize> {
        let policy = match propagation {
            DeletePropagation::Background => PropagationPolicy::Background,
            DeletePropagation::Foreground => PropagationPolicy::Foreground,
        };
        let params = DeleteParams {
            propagation_policy: Some(policy),
            ..DeleteParams::default()
        };
        let mut deleted = 0;
        for job in self.list_jobs().await? {
            let name = job.metadata.name.unwrap_or_default();
            match self.jobs.delete(&name, &params).await {
                Ok(_) => deleted += 1,
                Err(error) if is_not_found(&error) => {}
                Err(error) => {
                    return Err(from_kube(
                        error,
                        "delete",
                        &target("Job", self.namespace(), &name),
                    ));
                }
            }
        }
        info!(elb_job_id = %self.elb_job_id(), deleted, "deleted search Jobs");
        Ok(deleted)
    }
}

/// Deletes a search: its Jobs and their pods, then the job record `job_id`.
///
/// The record goes last so that a failure part way leaves a record to retry from.
///
/// # Errors
///
/// Returns the API server's errors other than 404.
pub async fn delete_search(
    search: &SearchJobs,
    store: &JobStore,
    job_id: &str,
    propagation: DeletePropagation,
) -> Result<usize> {
    let deleted = search.delete(propagation).await?;
    store.delete(job_id).await?;
    Ok(deleted)
}
