//! The health report and its JSON shape.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

/// The overall state of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Every check passed.
    Healthy,
    /// At least one check failed.
    Degraded,
}

/// The outcome of one check: ok with details, or an error with a message.
///
/// It serializes as `{"status": "ok", <details>...}` or `{"status": "error", "message": ...}`.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckResult {
    /// The check passed; the details become fields next to `status`.
    Ok(Map<String, Value>),
    /// The check failed.
    Error(String),
}

impl CheckResult {
    /// Creates a passed check with one detail field.
    pub fn ok_with(key: &str, value: impl Into<Value>) -> Self {
        let mut details = Map::new();
        details.insert(key.to_owned(), value.into());
        Self::Ok(details)
    }

    /// Returns whether the check passed.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok(_))
    }
}

impl Serialize for CheckResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Ok(details) => {
                let mut map = serializer.serialize_map(Some(details.len() + 1))?;
                map.serialize_entry("status", "ok")?;
                for (key, value) in details.iter().filter(|(key, _)| *key != "status") {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Self::Error(message) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("status", "error")?;
                map.serialize_entry("message", message)?;
                map.end()
            }
        }
    }
}

/// The checks of a health report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Checks {
    /// The Kubernetes API: `{"status": "ok", "nodes": 3}`.
    pub kubernetes: CheckResult,
    /// Entra ID: `{"status": "ok", "method": "<credential that produced the token>"}`.
    pub azure_auth: CheckResult,
    /// Blob storage, when a probe is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<CheckResult>,
}

/// The health report that `GET /v1/health` returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthReport {
    /// `healthy` only when every check passed.
    pub status: HealthStatus,
    /// The service's version.
    pub version: String,
    /// The service's non-secret configuration, as the caller gave it.
    pub config: Map<String, Value>,
    /// The individual checks.
    pub checks: Checks,
}

impl HealthReport {
    /// Builds a report whose status follows the checks.
    pub fn new(version: String, config: Map<String, Value>, checks: Checks) -> Self {
        let all_ok = checks.kubernetes.is_ok()
            && checks.azure_auth.is_ok()
            && checks.storage.as_ref().is_none_or(CheckResult::is_ok);
        Self {
            status: if all_ok {
                HealthStatus::Healthy
            } else {
                HealthStatus::Degraded
            },
            version,
            config,
            checks,
        }
    }

    /// Returns the report as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn healthy_report_has_spec_shape() {
        let checks = Checks {
            kubernetes: CheckResult::ok_with("nodes", 3),
            azure_auth: CheckResult::ok_with("method", "WorkloadIdentityCredential"),
            storage: None,
        };
        let mut config = Map::new();
        config.insert("namespace".into(), json!("default"));
        let report = HealthReport::new("1.2.0".into(), config, checks);
        assert_eq!(
            report.to_json(),
            json!({
                "status": "healthy",
                "version": "1.2.0",
                "config": {"namespace": "default"},
                "checks": {
                    "kubernetes": {"status": "ok", "nodes": 3},
                    "azure_auth": {"status": "ok", "method": "WorkloadIdentityCredential"},
                }
            })
        );
    }

    #[test]
    fn failed_storage_check_degrades() {
        let checks = Checks {
            kubernetes: CheckResult::ok_with("nodes", 1),
            azure_auth: CheckResult::ok_with("method", "AzureCliCredential"),
            storage: Some(CheckResult::Error("container results not found".into())),
        };
        let report = HealthReport::new("1".into(), Map::new(), checks);
        assert_eq!(report.status, HealthStatus::Degraded);
        assert_eq!(
            report.to_json()["checks"]["storage"],
            json!({"status": "error", "message": "container results not found"})
        );
    }
}
