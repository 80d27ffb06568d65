//! Deletion with `DeleteOptions`: preconditions and the propagation policies that decide what
//! happens to dependents, the objects whose `ownerReferences` name the deleted object.
//!
//! NOTE: the real API server deletes in stages (a foreground deletion keeps the owner with a
//! `deletionTimestamp` and the `foregroundDeletion` finalizer until its dependents are gone,
//! and the garbage collector removes background dependents a moment later). Here every
//! deletion finishes before the response, in the order the policy implies.

use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use super::meta::{Key, meta_str};
use super::resources::{self, ResourceType};
use super::status::ApiError;
use super::store::{Part, Store};

/// What happens to the dependents of a deleted object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Propagation {
    /// Delete the owner now and its dependents after it.
    Background,
    /// Delete the dependents first, then the owner.
    Foreground,
    /// Keep the dependents and remove their owner references.
    Orphan,
}

impl Propagation {
    /// Parses a `propagationPolicy` value.
    ///
    /// # Errors
    ///
    /// Returns 400 naming the value when it is not `Background`, `Foreground` or `Orphan`.
    pub(crate) fn parse(value: &str) -> Result<Self, ApiError> {
        match value {
            "Background" => Ok(Self::Background),
            "Foreground" => Ok(Self::Foreground),
            "Orphan" => Ok(Self::Orphan),
            other => Err(ApiError::bad_request(format!(
                "invalid propagationPolicy {other:?}: use Background, Foreground or Orphan"
            ))),
        }
    }

    /// Returns the policy the API server uses when a request names none: `Orphan` for
    /// `batch/v1` Jobs (kept for compatibility, so a Job's pods survive a plain delete) and
    /// `Background` for the other kinds.
    pub(crate) fn default_for(resource: &ResourceType) -> Self {
        if resource.kind == "Job" {
            Self::Orphan
        } else {
            Self::Background
        }
    }
}

/// The parts of a `DeleteOptions` body the server acts on.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DeleteOptions {
    /// The propagation policy, or `None` for the kind's default.
    pub(crate) propagation: Option<Propagation>,
    /// The `preconditions.uid` the object must have.
    pub(crate) uid: Option<String>,
    /// The `preconditions.resourceVersion` the object must have.
    pub(crate) resource_version: Option<String>,
}

impl DeleteOptions {
    /// Reads a `DeleteOptions` body, also honouring the legacy `orphanDependents` flag.
    ///
    /// # Errors
    ///
    /// Returns 400 when the propagation policy is unknown.
    pub(crate) fn from_body(body: &Value) -> Result<Self, ApiError> {
        let mut options = Self::default();
        if let Some(policy) = body["propagationPolicy"].as_str() {
            options.propagation = Some(Propagation::parse(policy)?);
        } else if let Some(orphan) = body["orphanDependents"].as_bool() {
            options.propagation = Some(if orphan {
                Propagation::Orphan
            } else {
                Propagation::Background
            });
        }
        options.uid = body["preconditions"]["uid"].as_str().map(str::to_string);
        options.resource_version = body["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
        Ok(options)
    }
}

/// Deletes the object at `key` and acts on its dependents, returning the object's last state.
///
/// # Errors
///
/// Returns 404 when the object does not exist and 409 Conflict when a precondition fails.
pub(crate) fn delete(
    store: &Store,
    resource: &'static ResourceType,
    key: &Key,
    options: &DeleteOptions,
) -> Result<Value, ApiError> {
    let current = store
        .get(key)
        .ok_or_else(|| ApiError::not_found(resource, &key.name))?;
    let uid = meta_str(&current, "uid").to_string();
    let precondition_failed = options.uid.as_ref().is_some_and(|u| *u != uid)
        || options
            .resource_version
            .as_ref()
            .is_some_and(|v| v != meta_str(&current, "resourceVersion"));
    if precondition_failed {
        return Err(ApiError::conflict(resource, &key.name));
    }

    let policy = options
        .propagation
        .unwrap_or_else(|| Propagation::default_for(resource));
    if resource.kind == "Namespace" {
        for contained in store.keys_in_namespace(&key.name) {
            remove_with_dependents(store, &contained, Propagation::Background);
        }
    }
    match policy {
        Propagation::Orphan => {
            for dependent in store.dependents(&uid) {
                orphan(store, &dependent, &uid);
            }
            store.remove(key)
        }
        policy => remove_with_dependents(store, key, policy),
    }
    .ok_or_else(|| ApiError::not_found(resource, &key.name))
}

/// Removes the object at `key` and, recursively, every dependent, in `policy` order.
fn remove_with_dependents(store: &Store, key: &Key, policy: Propagation) -> Option<Value> {
    let uid = store.get(key).map(|o| meta_str(&o, "uid").to_string())?;
    if policy == Propagation::Foreground {
        for dependent in store.dependents(&uid) {
            remove_with_dependents(store, &dependent, policy);
        }
        return store.remove(key);
    }
    let removed = store.remove(key);
    for dependent in store.dependents(&uid) {
        remove_with_dependents(store, &dependent, policy);
    }
    removed
}

fn orphan(store: &Store, key: &Key, owner_uid: &str) {
    let Some(resource) = resources::RESOURCES.iter().find(|r| r.plural == key.plural) else {
        return;
    };
    // The dependent may vanish between the lookup and this write; that is fine.
    let _ = store.modify(resource, key, Part::Main, |current| {
        let mut next = current.clone();
        if let Some(refs) = next["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"] != owner_uid);
            if refs.is_empty() {
                next["metadata"]
                    .as_object_mut()
                    .expect("metadata is an object")
                    .remove("ownerReferences");
            }
        }
        Ok(next)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_orphan_by_default() {
        let jobs = resources::find("batch", "v1", "jobs").unwrap();
        let pods = resources::find("", "v1", "pods").unwrap();
        assert_eq!(Propagation::default_for(jobs), Propagation::Orphan);
        assert_eq!(Propagation::default_for(pods), Propagation::Background);
    }

    #[test]
    fn options_read_policy_and_preconditions() {
        let body = json!({"propagationPolicy": "Foreground", "preconditions": {"uid": "u"}});
        let options = DeleteOptions::from_body(&body).unwrap();
        assert_eq!(options.propagation, Some(Propagation::Foreground));
        assert_eq!(options.uid.as_deref(), Some("u"));
        let legacy = DeleteOptions::from_body(&json!({"orphanDependents": true})).unwrap();
        assert_eq!(legacy.propagation, Some(Propagation::Orphan));
        assert_eq!(Propagation::parse("All").unwrap_err().code, 400);
    }
}
