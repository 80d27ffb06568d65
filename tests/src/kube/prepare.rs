//! Preparation of objects for the store: the server-set fields of a new object, and the
//! rules of an update (kept identity fields, status subresource, resource version
//! precondition, generation).

use serde_json::{Value, json};

use super::defaults::apply_defaults;
use super::meta::{Key, meta_str, metadata_mut, new_uid, random_suffix, spec_part};
use super::resources::ResourceType;
use super::status::ApiError;
use super::store::Part;
use super::validation::validate;

/// Fills in the server-set fields of a new object (kind, name from `generateName`, namespace,
/// uid, timestamps, defaults) and validates it. `ordinal` is the resource version the object
/// will get.
///
/// # Errors
///
/// Returns 400 when `object` is not a JSON object and 422 Invalid when validation fails.
pub(crate) fn prepare_new(
    resource: &'static ResourceType,
    namespace: &str,
    mut object: Value,
    now: &str,
    ordinal: u64,
) -> Result<Value, ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }

    object["apiVersion"] = json!(resource.api_version());
    object["kind"] = json!(resource.kind);
    if resource.has_status {
        // As on the real server, only the status subresource (or the controller behind
        // it) writes the status of these kinds.
        object["status"] = initial_status(resource.kind);
    }
    let metadata = metadata_mut(&mut object);
    let given_name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if given_name.is_empty()
        && let Some(prefix) = metadata.get("generateName").and_then(Value::as_str)
    {
        let name = format!("{prefix}{}", random_suffix());
        metadata.insert("name".into(), json!(name));
    }
    if resource.namespaced {
        metadata.insert("namespace".into(), json!(namespace));
    } else {
        metadata.remove("namespace");
    }
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "managedFields",
        "selfLink",
    ] {
        metadata.remove(field);
    }
    metadata.insert("uid".into(), json!(new_uid()));
    metadata.insert("creationTimestamp".into(), json!(now));
    metadata.insert("generation".into(), json!(1));
    apply_defaults(resource.kind, &mut object, ordinal);

    let causes = validate(resource, &object);
    if !causes.is_empty() {
        let name = meta_str(&object, "name");
        return Err(ApiError::invalid(resource, name, &causes));
    }
    Ok(object)
}

/// Applies the update rules to `next`, the requested new state of `current`, and returns it,
/// or `None` when nothing changes.
///
/// # Errors
///
/// Returns 400 for a body that is not an object or names another object, 409 Conflict for a
/// stale `metadata.resourceVersion` and 422 Invalid when validation fails.
pub(crate) fn prepare_change(
    resource: &'static ResourceType,
    key: &Key,
    part: Part,
    current: &Value,
    mut next: Value,
) -> Result<Option<Value>, ApiError> {
    if !next.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    let stored_version = meta_str(current, "resourceVersion").to_string();
    let given_version = meta_str(&next, "resourceVersion").to_string();
    if !given_version.is_empty() && given_version != stored_version {
        return Err(ApiError::conflict(resource, &key.name));
    }
    let given_name = meta_str(&next, "name");
    if !given_name.is_empty() && given_name != key.name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given_name}) does not match the name in the URL ({})",
            key.name
        )));
    }

    next["apiVersion"] = json!(resource.api_version());
    next["kind"] = json!(resource.kind);
    match part {
        Part::Status => {
            let status = next["status"].clone();
            next = current.clone();
            next["status"] = status;
        }
        Part::Main if resource.has_status => next["status"] = current["status"].clone(),
        Part::Main => {}
    }
    let metadata = metadata_mut(&mut next);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "resourceVersion",
    ] {
        match current["metadata"].get(field) {
            Some(value) => metadata.insert(field.into(), value.clone()),
            None => metadata.remove(field),
        };
    }
    if metadata.get("generateName").is_none()
        && let Some(prefix) = current["metadata"].get("generateName")
    {
        metadata.insert("generateName".into(), prefix.clone());
    }

    let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
    let generation = if spec_part(&next) == spec_part(current) {
        generation
    } else {
        generation + 1
    };
    metadata_mut(&mut next).insert("generation".into(), json!(generation));
    if next == *current {
        return Ok(None);
    }
    let causes = validate(resource, &next);
    if !causes.is_empty() {
        return Err(ApiError::invalid(resource, &key.name, &causes));
    }
    Ok(Some(next))
}

/// Returns the status a new object of `kind` starts with.
fn initial_status(kind: &str) -> Value {
    match kind {
        "Namespace" => json!({"phase": "Active"}),
        "Pod" => json!({"phase": "Pending", "qosClass": "BestEffort"}),
        _ => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::resources::find;

    fn stored_job() -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "namespace": "default", "uid": "u", "resourceVersion": "5", "generation": 1},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}},
            "status": {"active": 1},
        })
    }

    #[test]
    fn main_write_keeps_status_and_bumps_generation() {
        let jobs = find("batch", "v1", "jobs").unwrap();
        let key = Key::new(jobs, "default", "j");
        let current = stored_job();
        let mut next = current.clone();
        next["spec"]["parallelism"] = json!(2);
        next["status"] = json!({});
        next["metadata"]["uid"] = json!("changed");
        let prepared = prepare_change(jobs, &key, Part::Main, &current, next)
            .unwrap()
            .unwrap();
        assert_eq!(prepared["status"], json!({"active": 1}));
        assert_eq!(prepared["metadata"]["generation"], 2);
        assert_eq!(prepared["metadata"]["uid"], "u");
    }

    #[test]
    fn status_write_changes_only_status() {
        let jobs = find("batch", "v1", "jobs").unwrap();
        let key = Key::new(jobs, "default", "j");
        let current = stored_job();
        let mut next = current.clone();
        next["spec"]["parallelism"] = json!(2);
        next["status"] = json!({"succeeded": 1});
        let prepared = prepare_change(jobs, &key, Part::Status, &current, next)
            .unwrap()
            .unwrap();
        assert_eq!(prepared["status"], json!({"succeeded": 1}));
        assert!(prepared["spec"].get("parallelism").is_none());
        assert_eq!(prepared["metadata"]["generation"], 1);
    }

    #[test]
    fn unchanged_and_stale_writes() {
        let jobs = find("batch", "v1", "jobs").unwrap();
        let key = Key::new(jobs, "default", "j");
        let current = stored_job();
        assert_eq!(
            prepare_change(jobs, &key, Part::Main, &current, current.clone()),
            Ok(None)
        );
        let mut stale = current.clone();
        stale["metadata"]["resourceVersion"] = json!("4");
        let error = prepare_change(jobs, &key, Part::Main, &current, stale).unwrap_err();
        assert_eq!(error.code, 409);
        let mut renamed = current.clone();
        renamed["metadata"]["name"] = json!("other");
        let error = prepare_change(jobs, &key, Part::Main, &current, renamed).unwrap_err();
        assert_eq!(error.code, 400);
    }

    #[test]
    fn new_object_gets_server_fields() {
        let configmaps = find("", "v1", "configmaps").unwrap();
        let object =
            json!({"metadata": {"name": "a", "namespace": "ignored", "resourceVersion": "9"}});
        let prepared =
            prepare_new(configmaps, "default", object, "2026-01-01T00:00:00Z", 3).unwrap();
        assert_eq!(prepared["kind"], "ConfigMap");
        assert_eq!(prepared["metadata"]["namespace"], "default");
        assert_eq!(
            prepared["metadata"]["creationTimestamp"],
            "2026-01-01T00:00:00Z"
        );
        assert!(prepared["metadata"].get("resourceVersion").is_none());
        assert!(prepare_new(configmaps, "default", json!([1]), "t", 3).is_err());
    }
}
