//! Submitting a search's Jobs, adopting those a previous attempt already created.

use k8s_openapi::api::batch::v1::Job;
use kube::api::PostParams;
use tracing::{debug, info};

use super::SearchJobs;
use super::labels::ELB_JOB_ID_LABEL;
use crate::k8s::api_error::{from_kube, is_already_exists, target};
use crate::k8s::names::validate_dns_label;
use crate::{Error, ErrorKind, Result};

/// The outcome of a submission, Job by Job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitReport {
    /// Names of the Jobs this call created.
    pub created: Vec<String>,
    /// Names of the Jobs that already existed with this search's id and were adopted.
    pub existing: Vec<String>,
}

impl SearchJobs {
    /// Creates the Jobs of this search. A Job that already exists with the same name and this
    /// search's `elb-job-id` label is adopted, so submitting the same search again is safe.
    ///
    /// Every Job is checked before the first request: it must have a valid name and the
    /// label `elb-job-id` with this search's id (the renderers set it).
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] before any request for a Job without a valid name
    /// or label, [`ErrorKind::Conflict`] naming both ids when a Job of the same name belongs
    /// to another search, and the API server's other errors. Jobs created before an error
    /// stay, and a later call adopts them.
    ///
    /// # Cancel safety
    ///
    /// Cancelling leaves the Jobs created so far; submitting again adopts them.
    pub async fn submit(&self, jobs: &[Job]) -> Result<SubmitReport> {
        for job in jobs {
            let name = job.metadata.name.as_deref().unwrap_or_default();
            validate_dns_label(name)?;
            let label = job
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(ELB_JOB_ID_LABEL));
            if label.map(String::as_str) != Some(self.elb_job_id()) {
                return Err(Error::invalid_input(format!(
                    "Job {name} lacks the label {ELB_JOB_ID_LABEL}={}: render it from this search",
                    self.elb_job_id()
                )));
            }
        }

        let mut report = SubmitReport::default();
        for job in jobs {
            let name = job.metadata.name.clone().unwrap_or_default();
            let target = target("Job", self.namespace(), &name);
            match self.jobs.create(&PostParams::default(), job).await {
                Ok(_) => {
                    debug!(k8s.namespace = %self.namespace(), k8s.job = %name, "created Job");
                    report.created.push(name);
                }
                Err(error) if is_already_exists(&error) => {
                    self.adopt(&name, &target).await?;
                    report.existing.push(name);
                }
                Err(error) => return Err(from_kube(error, "create", &target)),
            }
        }
        info!(
            elb_job_id = %self.elb_job_id(),
            created = report.created.len(),
            existing = report.existing.len(),
            "submitted search Jobs"
        );
        Ok(report)
    }

    async fn adopt(&self, name: &str, target: &str) -> Result<()> {
        let existing = self
            .jobs
            .get(name)
            .await
            .map_err(|error| from_kube(error, "get", target))?;
        let owner = existing
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(ELB_JOB_ID_LABEL))
            .cloned()
            .unwrap_or_default();
        if owner == self.elb_job_id() {
            debug!(k8s.job = %name, "adopted existing Job");
            return Ok(());
        }
        let owner = if owner.is_empty() {
            "no search".to_owned()
        } else {
            owner
        };
        Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "{target} belongs to {owner}, not to {}: delete it or use another search id",
                self.elb_job_id()
            ),
        )
        .with_target(target)
        .with_status(409)
        .with_code("AlreadyExists"))
    }
}
