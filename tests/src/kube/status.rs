//! Errors as the API server reports them: an HTTP status code with a `Status` object body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resources::ResourceType;

/// An API error that becomes a `Status` response with `status: Failure`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status code, also the `code` field.
    pub code: u16,
    /// The machine-readable reason, such as `NotFound` or `Invalid`.
    pub reason: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The `details` object, or `null`.
    pub details: Value,
}

/// One field error of a 422 `Invalid` response, reported in `details.causes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// The cause type, such as `FieldValueInvalid` or `FieldValueTooLong`.
    pub reason: &'static str,
    /// The field path, such as `metadata.name`.
    pub field: String,
    /// What is wrong with the value.
    pub message: String,
}

fn details(resource: &ResourceType, name: &str) -> Value {
    let mut details = json!({"name": name, "kind": resource.plural});
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    details
}

impl ApiError {
    /// Builds an error without `details`.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
        }
    }

    /// Builds the 404 `NotFound` error of a missing object.
    pub fn not_found(resource: &ResourceType, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", qualified(resource)),
            details: details(resource, name),
        }
    }

    /// Builds the 409 `AlreadyExists` error of a create whose name is taken.
    pub fn already_exists(resource: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", qualified(resource)),
            details: details(resource, name),
        }
    }

    /// Builds the 409 `Conflict` error of a write with a stale `resourceVersion`.
    pub fn conflict(resource: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 read the latest version and retry the change",
                qualified(resource)
            ),
            details: details(resource, name),
        }
    }

    /// Builds the 422 `Invalid` error listing each invalid field in `details.causes`.
    pub fn invalid(resource: &ResourceType, name: &str, causes: &[Cause]) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let mut details = details(resource, name);
        details["kind"] = json!(resource.kind);
        details["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        Self {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{name}\" is invalid: {}",
                resource.kind,
                summary.join(", ")
            ),
            details,
        }
    }

    /// Builds a 400 `BadRequest` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// Builds the 410 `Expired` error of a `continue` token or `resourceVersion` that is
    /// older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// Builds the 401 `Unauthorized` error of a missing or unknown bearer token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// Returns the `Status` object of this error.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            status["details"] = self.details.clone();
        }
        status
    }
}

/// Returns `plural.group`, or `plural` for the core group, as the API server names a resource
/// in messages.
fn qualified(resource: &ResourceType) -> String {
    if resource.group.is_empty() {
        resource.plural.to_string()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (code, axum::Json(self.to_status())).into_response();
        if self.code == 401 {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::resources::find;

    #[test]
    fn not_found_names_group_and_object() {
        let jobs = find("batch", "v1", "jobs").unwrap();
        let status = ApiError::not_found(jobs, "blast-1").to_status();
        assert_eq!(status["code"], 404);
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["message"], "jobs.batch \"blast-1\" not found");
        assert_eq!(status["details"]["group"], "batch");
        assert_eq!(status["details"]["kind"], "jobs");
    }

    #[test]
    fn invalid_lists_causes() {
        let configmaps = find("", "v1", "configmaps").unwrap();
        let cause = Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: "Invalid value: \"A\"".into(),
        };
        let status = ApiError::invalid(configmaps, "A", &[cause]).to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["details"]["kind"], "ConfigMap");
        assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
        assert!(status.get("details").unwrap()["group"].is_null());
    }
}
