//! A search's Kubernetes Jobs: rendering, submitting, status, waiting and deleting.

mod blob_markers;
mod delete;
mod labels;
mod markers;
mod spec;
mod status;
mod submit;
mod template;
mod wait;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

pub use blob_markers::{BlobMarkers, FAILURE_MARKER, SUCCESS_MARKER};
pub use delete::{DeletePropagation, delete_search};
pub use labels::{APP_LABEL, DB_LABEL, ELB_JOB_ID_LABEL, JobRole, SHARD_LABEL, search_selector};
pub use markers::{FixedMarkers, MarkerSource};
pub use spec::{BATCH_BACKOFF_LIMIT, Resources, SearchSpec};
pub use status::{
    FailedJob, Markers, PENDING_LIMIT_SECS, SearchState, SearchStatus, StuckPod, derive_status,
    has_condition,
};
pub use submit::SubmitReport;
pub use template::{TemplateInputs, render_template, substitute};
pub use wait::{JobOutcome, WaitOptions};

use crate::Result;
use crate::k8s::api_error::from_kube;
use crate::k8s::names::{validate_dns_label, validate_elb_job_id};

/// The Jobs and pods of one search (one `elb_job_id`) in one namespace.
#[derive(Clone)]
pub struct SearchJobs {
    jobs: Api<Job>,
    pods: Api<Pod>,
    namespace: String,
    elb_job_id: String,
}

impl SearchJobs {
    /// Creates a handle on the search `elb_job_id` in `namespace`.
    ///
    /// # Errors
    ///
    /// Returns [`crate::ErrorKind::InvalidInput`] for an invalid namespace or search id.
    pub fn new(client: Client, namespace: &str, elb_job_id: &str) -> Result<Self> {
        validate_dns_label(namespace)?;
        validate_elb_job_id(elb_job_id)?;
        Ok(Self {
            jobs: Api::namespaced(client.clone(), namespace),
            pods: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
            elb_job_id: elb_job_id.to_owned(),
        })
    }

    /// Returns the namespace of the search.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Returns the search id.
    pub fn elb_job_id(&self) -> &str {
        &self.elb_job_id
    }

    /// Lists the search's Jobs (every role), following pagination.
    ///
    /// # Errors
    ///
    /// Returns the API server's error.
    pub async fn list_jobs(&self) -> Result<Vec<Job>> {
        list_all(
            &self.jobs,
            &search_selector(&self.elb_job_id),
            &self.namespace,
        )
        .await
    }

    /// Lists the pods of the search's Jobs, following pagination.
    ///
    /// # Errors
    ///
    /// Returns the API server's error.
    pub async fn list_pods(&self) -> Result<Vec<Pod>> {
        list_all(
            &self.pods,
            &search_selector(&self.elb_job_id),
            &self.namespace,
        )
        .await
    }

    /// Reads the Jobs, pods and markers and derives the search's status.
    ///
    /// # Errors
    ///
    /// Returns the API server's or the marker source's error.
    pub async fn status(
        &self,
        markers: &dyn MarkerSource,
        results_prefix: &str,
    ) -> Result<SearchStatus> {
        let jobs = self.list_jobs().await?;
        let pods = self.list_pods().await?;
        let markers = markers.markers(results_prefix).await?;
        let now = k8s_openapi::jiff::Timestamp::now();
        Ok(derive_status(&jobs, &pods, markers, now))
    }
}

/// Lists every object matching `selector`, page by page.
pub(crate) async fn list_all<K>(api: &Api<K>, selector: &str, namespace: &str) -> Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let mut params = ListParams::default().limit(500);
    if !selector.is_empty() {
        params = params.labels(selector);
    }
    let mut items = Vec::new();
    loop {
        let kind = K::kind(&Default::default()).into_owned();
        let page = api.list(&params).await.map_err(|error| {
            let objects = format!("{kind}s with labels {selector:?} in namespace {namespace}");
            from_kube(error, "list", &objects)
        })?;
        let next = page
            .metadata
            .continue_
            .clone()
            .filter(|token| !token.is_empty());
        items.extend(page.items);
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}
