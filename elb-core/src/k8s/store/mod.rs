//! The job store: one ConfigMap per job record, written with `resourceVersion` so that a
//! lost update becomes a [`crate::ErrorKind::Conflict`].

mod record;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use tracing::{debug, info};

pub use record::{
    DEFAULT_PRIORITY, JobMode, JobRecord, JobStatus, MAX_CONFIG_MAP_DATA, RECORD_KEY, record_name,
};

use crate::k8s::api_error::{from_kube, is_not_found, target};
use crate::k8s::names::{validate_dns_label, validate_job_id};
use crate::{Error, ErrorKind, Result};

/// Number of attempts of [`JobStore::update_with`] before it returns the conflict.
pub const UPDATE_ATTEMPTS: usize = 5;

/// A job record as read from the cluster, with the ConfigMap it came from.
///
/// The ConfigMap is kept so that an update writes back its `resourceVersion` and every
/// label or annotation that another writer added.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// The parsed record.
    pub record: JobRecord,
    config_map: ConfigMap,
}

impl StoredRecord {
    fn from_config_map(config_map: ConfigMap) -> Result<Self> {
        Ok(Self {
            record: JobRecord::from_config_map(&config_map)?,
            config_map,
        })
    }

    /// Returns the `resourceVersion` this record was read at.
    pub fn resource_version(&self) -> &str {
        self.config_map
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or_default()
    }
}

/// Job records in one namespace.
#[derive(Clone)]
pub struct JobStore {
    api: Api<ConfigMap>,
    namespace: String,
}

impl JobStore {
    /// Creates a store of the records in `namespace`.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::InvalidInput`] when `namespace` is not a valid namespace name.
    pub fn new(client: Client, namespace: &str) -> Result<Self> {
        validate_dns_label(namespace)?;
        Ok(Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_owned(),
        })
    }

    /// Returns the namespace of the records.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn target(&self, job_id: &str) -> String {
        target("ConfigMap", &self.namespace, &record_name(job_id))
    }

    /// Creates a record.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::AlreadyExists`] when the record exists, and
    /// [`ErrorKind::InvalidInput`] before any request when the record is invalid or too large.
    pub async fn create(&self, record: &JobRecord) -> Result<StoredRecord> {
        let config_map = record.to_config_map(&self.namespace)?;
        let target = self.target(&record.job_id);
        debug!(k8s.namespace = %self.namespace, job_id = %record.job_id, "creating job record");
        let created = self
            .api
            .create(&PostParams::default(), &config_map)
            .await
            .map_err(|error| from_kube(error, "create", &target))?;
        StoredRecord::from_config_map(created)
    }

    /// Reads a record.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::NotFound`] when the record does not exist.
    pub async fn get(&self, job_id: &str) -> Result<StoredRecord> {
        validate_job_id(job_id)?;
        let target = self.target(job_id);
        let config_map = self
            .api
            .get(&record_name(job_id))
            .await
            .map_err(|error| from_kube(error, "get", &target))?;
        StoredRecord::from_config_map(config_map)
    }

    /// Lists the records, all of them or those with `status`, following pagination.
    ///
    /// # Errors
    ///
    /// Returns the API server's error, or [`ErrorKind::Service`] for a ConfigMap labelled
    /// `elb-job=true` that contains no valid record.
    pub async fn list(&self, status: Option<JobStatus>) -> Result<Vec<StoredRecord>> {
        let selector = match status {
            Some(status) => format!("elb-job=true,status={status}"),
            None => "elb-job=true".to_owned(),
        };
        let mut params = ListParams::default().labels(&selector).limit(250);
        let mut records = Vec::new();
        loop {
            let page = self.api.list(&params).await.map_err(|error| {
                from_kube(
                    error,
                    "list",
                    &format!("ConfigMaps in namespace {}", self.namespace),
                )
            })?;
            let next = page
                .metadata
                .continue_
                .clone()
                .filter(|token| !token.is_empty());
            for config_map in page.items {
                records.push(StoredRecord::from_config_map(config_map)?);
            }
            match next {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(records),
            }
        }
    }

    /// Writes `stored.record` back unless another writer changed the ConfigMap since it was read.
    ///
    /// The `status` and `priority` labels follow the record. Other labels and annotations
    /// are kept.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::Conflict`] when another writer changed the record first,
    /// [`ErrorKind::NotFound`] when it was deleted, and [`ErrorKind::InvalidInput`] before
    /// any request when the record is invalid, too large or has a different job id.
    pub async fn update(&self, stored: &StoredRecord) -> Result<StoredRecord> {
        let original = stored
            .config_map
            .metadata
            .name
            .as_deref()
            .unwrap_or_default();
        let name = record_name(&stored.record.job_id);
        if original != name {
            return Err(Error::invalid_input(format!(
                "job id changed from {original} to {name}: a record's job id cannot change"
            )));
        }
        let fresh = stored.record.to_config_map(&self.namespace)?;
        let mut config_map = stored.config_map.clone();
        config_map
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .extend(fresh.metadata.labels.unwrap_or_default());
        config_map
            .data
            .get_or_insert_with(Default::default)
            .extend(fresh.data.unwrap_or_default());
        let target = self.target(&stored.record.job_id);
        let replaced = self
            .api
            .replace(&name, &PostParams::default(), &config_map)
            .await
            .map_err(|error| from_kube(error, "update", &target))?;
        StoredRecord::from_config_map(replaced)
    }

    /// Reads the record, applies `change` and writes it back, reading again and
    /// re-applying `change` when another writer got there first.
    ///
    /// `change` may run several times, each time on a freshly read record, so it must
    /// not depend on side effects of earlier runs. An error from `change` stops the update.
    ///
    /// # Errors
    ///
    /// Returns [`ErrorKind::Conflict`] after [`UPDATE_ATTEMPTS`] conflicting writes, the error
    /// of `change`, or those of [`JobStore::get`] and [`JobStore::update`].
    pub async fn update_with<F>(&self, job_id: &str, mut change: F) -> Result<StoredRecord>
    where
        F: FnMut(&mut JobRecord) -> Result<()>,
    {
        let mut attempt = 1;
        loop {
            let mut stored = self.get(job_id).await?;
            change(&mut stored.record)?;
            match self.update(&stored).await {
                Err(error) if error.kind() == ErrorKind::Conflict && attempt < UPDATE_ATTEMPTS => {
                    info!(
                        job_id,
                        attempt, "job record changed concurrently, reading it again"
                    );
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Deletes a record. Deleting a record that does not exist succeeds.
    ///
    /// # Errors
    ///
    /// Returns the API server's error for anything but 404.
    pub async fn delete(&self, job_id: &str) -> Result<()> {
        validate_job_id(job_id)?;
        match self
            .api
            .delete(&record_name(job_id), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(error) => Err(from_kube(error, "delete", &self.target(job_id))),
        }
    }
}
