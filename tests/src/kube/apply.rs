//! Server-side apply (`application/apply-patch+yaml`): create when absent, otherwise merge
//! the applied configuration and remember, per field manager, which fields it set.
//!
//! NOTE: the server keeps each manager's applied configuration to itself and reports no
//! `metadata.managedFields`, so clients that read field ownership from objects see none.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::Value;

use super::meta::{Key, meta_str};
use super::patch::{ApplyOutcome, apply as merge_applied, forget_paths};
use super::resources::ResourceType;
use super::status::ApiError;
use super::store::{Part, Store};

/// Handles an apply request and returns the response code (201 on create, 200 otherwise)
/// with the object.
///
/// # Errors
///
/// Returns 400 when `fieldManager` is missing or the body is not a YAML or JSON object, 409
/// Conflict when another manager applied a field with a different value and `force` is not
/// set, and any error of the write.
pub(crate) fn apply(
    store: &Store,
    resource: &'static ResourceType,
    key: &Key,
    query: &HashMap<String, String>,
    body: &[u8],
    dry_run: bool,
) -> Result<(StatusCode, Value), ApiError> {
    let manager = query
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "fieldManager is required for apply requests: pass ?fieldManager=<name>",
            )
        })?
        .clone();
    let force = matches!(query.get("force").map(String::as_str), Some("true" | "1"));
    let configuration: Value = serde_yaml::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the applied configuration is not valid YAML or JSON: {e}"
        ))
    })?;
    if !configuration.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    let given_name = meta_str(&configuration, "name");
    if given_name != key.name {
        return Err(ApiError::bad_request(format!(
            "the applied configuration names {given_name:?} but the URL names {:?}",
            key.name
        )));
    }

    if store.get(key).is_none() {
        if dry_run {
            return Ok((StatusCode::CREATED, configuration));
        }
        let created = store.create(resource, &key.namespace, configuration.clone())?;
        store.set_applied(key, &manager, configuration);
        return Ok((StatusCode::CREATED, created));
    }

    let mut managers = store.applied(key);
    let previous = managers.remove(&manager);
    let mut lost_fields = Default::default();
    let mut change = |current: &Value| -> Result<Value, ApiError> {
        let outcome = merge_applied(current, &configuration, previous.as_ref(), &managers, force);
        match outcome {
            ApplyOutcome::Merged(mut merged, lost) => {
                lost_fields = lost;
                // The applied configuration carries no resourceVersion unless it names one,
                // which then acts as a precondition.
                let version = meta_str(&configuration, "resourceVersion").to_string();
                merged["metadata"]["resourceVersion"] = Value::String(version);
                Ok(merged)
            }
            ApplyOutcome::Conflicts(conflicts) => {
                let listed: Vec<String> = conflicts
                    .iter()
                    .map(|(other, field)| format!("conflict with {other:?}: {field}"))
                    .collect();
                let mut error = ApiError::conflict(resource, &key.name);
                error.message = format!(
                    "Apply failed with {} conflict(s): {}; set force=true to take over these fields",
                    conflicts.len(),
                    listed.join(", ")
                );
                Err(error)
            }
        }
    };
    if dry_run {
        let current = store
            .get(key)
            .ok_or_else(|| ApiError::not_found(resource, &key.name))?;
        return change(&current).map(|object| (StatusCode::OK, object));
    }
    let object = store.modify(resource, key, Part::Main, change)?;
    for (other, paths) in &lost_fields {
        if let Some(mut other_configuration) = managers.get(other).cloned() {
            forget_paths(&mut other_configuration, paths);
            store.set_applied(key, other, other_configuration);
        }
    }
    store.set_applied(key, &manager, configuration);
    Ok((StatusCode::OK, object))
}
