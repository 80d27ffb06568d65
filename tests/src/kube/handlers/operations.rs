//! The operations behind resource requests: create, list, watch, patch, update and delete.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Context, ok, respond};
use crate::kube::delete::{self, DeleteOptions, Propagation};
use crate::kube::list;
use crate::kube::meta::{Key, meta_str};
use crate::kube::patch;
use crate::kube::status::ApiError;
use crate::kube::store::Part;
use crate::kube::table::{table, wants_table};
use crate::kube::watch::{self, WatchRequest};

/// Runs a write, or with `dryRun=All` computes it against a copy of the store's object.
pub(super) fn write(
    context: &Context,
    name: &str,
    part: Part,
    change: impl FnOnce(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let resource = context.target.resource;
    let key = context.key(name);
    if context.dry_run() {
        let current = context
            .shared
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        return change(&current);
    }
    context.shared.store.modify(resource, &key, part, change)
}

pub(super) fn create(context: &Context) -> Result<Response, ApiError> {
    let body = context.json_body()?;
    let namespace = context.target.namespace.clone().unwrap_or_default();
    let body_namespace = meta_str(&body, "namespace");
    if !body_namespace.is_empty()
        && context.target.resource.namespaced
        && body_namespace != namespace
    {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({body_namespace}) does not match the namespace in the URL ({namespace})"
        )));
    }
    if context.dry_run() {
        return Ok((StatusCode::CREATED, axum::Json(body)).into_response());
    }
    let created = context
        .shared
        .store
        .create(context.target.resource, &namespace, body)?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

pub(super) fn list_objects(context: &Context) -> Result<Response, ApiError> {
    let (labels, fields) = context.selectors()?;
    let page = list::list(
        &context.shared.store,
        context.target.resource,
        context.target.namespace.as_deref(),
        &labels,
        &fields,
        context
            .query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0),
        context
            .query
            .get("continue")
            .map(String::as_str)
            .filter(|c| !c.is_empty()),
    )?;
    if wants_table(&context.accept) {
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let version = page["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        let mut result = table(&items, version, context.shared.store.now());
        result["metadata"] = page["metadata"].clone();
        return Ok(ok(result));
    }
    Ok(ok(page))
}

pub(super) fn start_watch(context: Context) -> Result<Response, ApiError> {
    let (labels, fields) = context.selectors()?;
    let resource_version = match context.query.get("resourceVersion").map(String::as_str) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {text:?}: it must be a number"
            ))
        })?),
    };
    let timeout = context
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let request = WatchRequest {
        resource: context.target.resource,
        namespace: context.target.namespace.clone(),
        labels,
        fields,
        resource_version,
        send_initial_events: context.flag("sendInitialEvents"),
        bookmarks: context.flag("allowWatchBookmarks"),
        timeout,
        as_table: wants_table(&context.accept),
    };
    let interval = context.shared.bookmark_interval();
    Ok(watch::start(
        context.shared.store.clone(),
        request,
        interval,
    ))
}

pub(super) fn patch_object(
    context: &Context,
    name: &str,
    part: Part,
) -> Result<Response, ApiError> {
    let resource = context.target.resource;
    let media_type = context
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if media_type == "application/apply-patch+yaml" {
        return crate::kube::apply::apply(
            context.shared.store.as_ref(),
            resource,
            &context.key(name),
            &context.query,
            &context.body,
            context.dry_run(),
        )
        .map(|(code, object)| (code, axum::Json(object)).into_response());
    }
    let patch_body = context.json_body()?;
    let object = write(context, name, part, |current| {
        let mut next = current.clone();
        match media_type.as_str() {
            // Strategic merge patch is served as a merge patch; see the note in `patch`.
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                patch::merge_patch(&mut next, &patch_body);
            }
            "application/json-patch+json" => {
                patch::json_patch(&mut next, &patch_body)
                    .map_err(|m| ApiError::new(422, "Invalid", m))?;
            }
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!("the patch content type {other:?} is not supported"),
                ));
            }
        }
        Ok(next)
    })?;
    Ok(respond(context, object))
}

pub(super) fn delete_options(context: &Context) -> Result<DeleteOptions, ApiError> {
    let mut options = if context.body.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else {
        DeleteOptions::from_body(&context.json_body()?)?
    };
    if let Some(policy) = context.query.get("propagationPolicy") {
        options.propagation = Some(Propagation::parse(policy)?);
    }
    Ok(options)
}

pub(super) fn delete_object(context: &Context, name: &str) -> Result<Response, ApiError> {
    let options = delete_options(context)?;
    let resource = context.target.resource;
    let key = context.key(name);
    if context.dry_run() {
        let object = context
            .shared
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(resource, name))?;
        return Ok(ok(object));
    }
    let object = delete::delete(&context.shared.store, resource, &key, &options)?;
    Ok(ok(object))
}

pub(super) fn delete_collection(context: &Context) -> Result<Response, ApiError> {
    let options = delete_options(context)?;
    let (labels, fields) = context.selectors()?;
    let resource = context.target.resource;
    let (objects, _) = context
        .shared
        .store
        .list(resource.plural, context.target.namespace.as_deref());
    let mut deleted = Vec::new();
    for object in objects
        .iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
    {
        let key = Key::new(
            resource,
            meta_str(object, "namespace"),
            meta_str(object, "name"),
        );
        // An object deleted meanwhile (by cascade from an earlier one) is skipped.
        if let Ok(last) = delete::delete(&context.shared.store, resource, &key, &options) {
            deleted.push(last);
        }
    }
    Ok(ok(json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": {"resourceVersion": context.shared.store.revision().to_string()},
        "items": deleted,
    })))
}
