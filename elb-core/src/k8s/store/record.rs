//! The job record: the JSON in a job store ConfigMap, and its conversion to and from the
//! ConfigMap.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::k8s::names::{validate_elb_job_id, validate_job_id, validate_label_value};
use crate::{Error, Result};

/// Maximum size in bytes of a ConfigMap's data (keys plus values), as the API server enforces.
pub const MAX_CONFIG_MAP_DATA: usize = 1_048_576;

/// The data key that contains the JSON record.
pub const RECORD_KEY: &str = "job";

/// Priority label value written when a record sets no priority.
///
/// NOTE: the job store contract names no default priority; 50 is the midpoint of 0..=100.
pub const DEFAULT_PRIORITY: u8 = 50;

/// Returns the ConfigMap name of the record `job_id`: `elb-job-<job_id>`.
pub fn record_name(job_id: &str) -> String {
    format!("elb-job-{job_id}")
}

/// The lifecycle state of a job record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted and waiting for a cluster.
    Queued,
    /// Being assigned to a cluster.
    Dispatching,
    /// The search's Jobs are being submitted.
    Submitting,
    /// The search's Jobs run.
    Running,
    /// The search finished and its results are listable.
    Completed,
    /// The search failed.
    Failed,
    /// The search was cancelled.
    Cancelled,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 7] = [
        Self::Queued,
        Self::Dispatching,
        Self::Submitting,
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Returns the wire value, as used in the record and the `status` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Dispatching => "dispatching",
            Self::Submitting => "submitting",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Returns whether no further transition is expected (completed, failed, cancelled).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "invalid job status {value:?}: expected one of queued, dispatching, \
                     submitting, running, completed, failed, cancelled"
                ))
            })
    }
}

/// The form in which the caller gave the queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobMode {
    /// The caller gave blob URLs.
    A,
    /// The caller gave inline FASTA, uploaded to `queries/<job_id>.fa`.
    B,
}

/// One job in the job store, as stored in the `job` key of its ConfigMap.
///
/// Fields this type does not know are kept in [`JobRecord::extra`] and written back
/// unchanged, so a read-modify-write never drops what another writer added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job store id, 8 to 12 lowercase hex digits.
    pub job_id: String,
    /// Lifecycle state, mirrored in the `status` label.
    pub status: JobStatus,
    /// Form of the queries: blob URLs or inline FASTA.
    pub mode: JobMode,
    /// Creation time, ISO 8601 in UTC, kept as written.
    #[serde(default, deserialize_with = "null_as_default")]
    pub created_at: String,
    /// Name of the AKS cluster that runs the search.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cluster_name: String,
    /// BLAST program, such as `blastn`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub program: String,
    /// BLAST database name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub db: String,
    /// Results location (a blob URL or prefix).
    #[serde(default, deserialize_with = "null_as_default")]
    pub results: String,
    /// ElasticBLAST search id (`job-` and 32 hex digits), once submitted.
    #[serde(default)]
    pub elb_job_id: Option<String>,
    /// Error message of a failed job.
    #[serde(default)]
    pub error: Option<String>,
    /// Scheduling priority 0..=100, mirrored in the `priority` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Fields this type does not know, kept for the next write.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn null_as_default<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

impl JobRecord {
    /// Creates a queued record created now.
    pub fn new(job_id: impl Into<String>, mode: JobMode) -> Self {
        let created_at = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|now| {
                now.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        Self {
            job_id: job_id.into(),
            status: JobStatus::Queued,
            mode,
            created_at,
            cluster_name: String::new(),
            program: String::new(),
            db: String::new(),
            results: String::new(),
            elb_job_id: None,
            error: None,
            priority: None,
            extra: Map::new(),
        }
    }

    /// Returns the labels of the record's ConfigMap.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let priority = self.priority.unwrap_or(DEFAULT_PRIORITY);
        BTreeMap::from([
            ("elb-job".to_owned(), "true".to_owned()),
            ("job-id".to_owned(), self.job_id.clone()),
            ("status".to_owned(), self.status.as_str().to_owned()),
            ("priority".to_owned(), priority.to_string()),
        ])
    }

    /// Checks the id, priority, label values and serialized size, and returns the JSON.
    ///
    /// # Errors
    ///
    /// Returns [`crate::ErrorKind::InvalidInput`] naming the invalid value, or the size
    /// when the ConfigMap data would exceed [`MAX_CONFIG_MAP_DATA`] bytes.
    pub fn to_json_checked(&self) -> Result<String> {
        validate_job_id(&self.job_id)?;
        if let Some(elb_job_id) = &self.elb_job_id {
            validate_elb_job_id(elb_job_id)?;
        }
        if let Some(priority) = self.priority.filter(|p| *p > 100) {
            return Err(Error::invalid_input(format!(
                "invalid priority {priority} for job {}: expected 0 to 100",
                self.job_id
            )));
        }
        for (key, value) in self.labels() {
            validate_label_value(&key, &value)?;
        }
        let json = serde_json::to_string(self).map_err(|source| {
            Error::invalid_input(format!("job record {} cannot be serialized", self.job_id))
                .with_source(source)
        })?;
        let size = RECORD_KEY.len() + json.len();
        if size > MAX_CONFIG_MAP_DATA {
            return Err(Error::invalid_input(format!(
                "job record {} is {size} bytes, over the ConfigMap limit of {MAX_CONFIG_MAP_DATA} \
                 bytes: store large values such as inline FASTA in blob storage",
                self.job_id
            )));
        }
        Ok(json)
    }

    /// Builds the record's ConfigMap in `namespace`.
    ///
    /// # Errors
    ///
    /// Returns the errors of [`JobRecord::to_json_checked`].
    pub fn to_config_map(&self, namespace: &str) -> Result<ConfigMap> {
        let json = self.to_json_checked()?;
        Ok(ConfigMap {
            metadata: ObjectMeta {
                name: Some(record_name(&self.job_id)),
                namespace: Some(namespace.to_owned()),
                labels: Some(self.labels()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(RECORD_KEY.to_owned(), json)])),
            ..ConfigMap::default()
        })
    }

    /// Parses the record from a job store ConfigMap.
    ///
    /// A record without a `priority` field takes it from the `priority` label.
    ///
    /// # Errors
    ///
    /// Returns [`crate::ErrorKind::Service`] when the `job` key is missing or not a record.
    pub fn from_config_map(config_map: &ConfigMap) -> Result<Self> {
        let name = config_map.metadata.name.as_deref().unwrap_or_default();
        let namespace = config_map.metadata.namespace.as_deref().unwrap_or_default();
        let target = crate::k8s::api_error::target("ConfigMap", namespace, name);
        let json = config_map
            .data
            .as_ref()
            .and_then(|data| data.get(RECORD_KEY))
            .ok_or_else(|| {
                Error::new(
                    crate::ErrorKind::Service,
                    format!("{target} has no {RECORD_KEY:?} data key"),
                )
                .with_target(&target)
            })?;
        let mut record: JobRecord = serde_json::from_str(json).map_err(|source| {
            Error::new(
                crate::ErrorKind::Service,
                format!("{target} contains an invalid job record"),
            )
            .with_target(&target)
            .with_source(source)
        })?;
        if record.priority.is_none() {
            record.priority = config_map
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get("priority"))
                .and_then(|value| value.parse().ok());
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored_json() -> &'static str {
        r#"{"job_id":"0a1b2c3d","status":"running","mode":"B","created_at":"2025-06-01T10:00:00Z",
        "cluster_name":"elb-aks","program":"blastn","db":"core_nt","results":"https://acct.blob.core.windows.net/results/0a1b2c3d",
        "elb_job_id":null,"error":null,"queries_inline":true,"user":{"name":"ana"}}"#
    }

    #[test]
    fn unknown_fields_survive_round_trip() {
        let record: JobRecord = serde_json::from_str(stored_json()).unwrap();
        assert_eq!(record.status, JobStatus::Running);
        assert_eq!(record.extra["queries_inline"], Value::Bool(true));
        let written: Value = serde_json::from_str(&record.to_json_checked().unwrap()).unwrap();
        assert_eq!(written["user"]["name"], "ana");
        assert_eq!(written["elb_job_id"], Value::Null);
        assert_eq!(written["created_at"], "2025-06-01T10:00:00Z");
    }

    #[test]
    fn labels_follow_status_and_priority() {
        let mut record = JobRecord::new("0a1b2c3d", JobMode::A);
        record.status = JobStatus::Completed;
        record.priority = Some(90);
        let labels = record.labels();
        assert_eq!(labels["elb-job"], "true");
        assert_eq!(labels["job-id"], "0a1b2c3d");
        assert_eq!(labels["status"], "completed");
        assert_eq!(labels["priority"], "90");
    }

    #[test]
    fn oversized_record_is_rejected_with_size() {
        let mut record = JobRecord::new("0a1b2c3d", JobMode::B);
        record.extra.insert(
            "fasta".into(),
            Value::String("A".repeat(MAX_CONFIG_MAP_DATA)),
        );
        let error = record.to_config_map("default").unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(error.message().contains("0a1b2c3d"), "{error}");
        assert!(error.message().contains("1048576"), "{error}");
    }

    #[test]
    fn invalid_ids_and_priority_are_rejected() {
        let record = JobRecord::new("XYZ", JobMode::A);
        assert!(
            record
                .to_json_checked()
                .unwrap_err()
                .message()
                .contains("\"XYZ\"")
        );
        let mut record = JobRecord::new("0a1b2c3d", JobMode::A);
        record.priority = Some(101);
        assert!(
            record
                .to_json_checked()
                .unwrap_err()
                .message()
                .contains("101")
        );
        record.priority = None;
        record.elb_job_id = Some("job-123".into());
        assert!(
            record
                .to_json_checked()
                .unwrap_err()
                .message()
                .contains("job-123")
        );
    }

    #[test]
    fn created_at_is_rfc3339_utc() {
        let record = JobRecord::new("0a1b2c3d", JobMode::A);
        assert!(record.created_at.ends_with('Z'), "{}", record.created_at);
        assert_eq!(record.created_at.len(), "2025-06-01T10:00:00Z".len());
    }

    #[test]
    fn status_parses_from_wire_value() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("done".parse::<JobStatus>().is_err());
        assert!(JobStatus::Cancelled.is_terminal());
        assert!(!JobStatus::Running.is_terminal());
    }
}
