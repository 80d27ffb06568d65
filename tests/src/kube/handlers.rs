//! HTTP request handling: authentication, path parsing and dispatch to the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::delete::{self, DeleteOptions, Propagation};
use super::list;
use super::meta::{Key, meta_str};
use super::openapi;
use super::patch;
use super::protobuf;
use super::resources::{self, ResourceType};
use super::selectors::{FieldSelector, LabelSelector};
use super::server::Shared;
use super::status::ApiError;
use super::store::Part;
use super::table::{table, wants_table};
use super::watch::{self, WatchRequest};

/// The largest request body accepted, in bytes; above a ConfigMap's 1 MiB so that oversized
/// ConfigMaps reach validation and get 422.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The parsed target of a resource request.
struct Target {
    resource: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
    watch: bool,
}

/// Handles every request to the server.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let result = route(shared, request).await;
    let response = result.unwrap_or_else(IntoResponse::into_response);
    tracing::debug!(%method, %path, status = response.status().as_u16(), "kube request");
    response
}

fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

async fn route(shared: Arc<Shared>, request: Request) -> Result<Response, ApiError> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    match path.as_str() {
        "/version" => return Ok(ok(version())),
        "/readyz" | "/livez" | "/healthz" => return Ok("ok".into_response()),
        _ => {}
    }
    shared.authenticate(request.headers())?;

    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let (group, version, rest) = match segments.as_slice() {
        ["api"] => return Ok(ok(resources::core_versions(&shared.address()))),
        ["openapi", "v3"] => return Ok(ok(openapi::root())),
        ["openapi", "v3", rest @ ..] => {
            return openapi::group_version(&rest.join("/"))
                .map(ok)
                .ok_or_else(not_found);
        }
        ["apis"] => return Ok(ok(resources::group_list())),
        ["apis", group] => return resources::group(group).map(ok).ok_or_else(not_found),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(not_found()),
    };
    if rest.is_empty() {
        return resources::resource_list(group, version)
            .map(ok)
            .ok_or_else(not_found);
    }
    let target = parse_target(group, version, rest).ok_or_else(not_found)?;
    let query = parse_query(request.uri().query());
    let accept = header_str(&request, header::ACCEPT);
    let content_type = header_str(&request, header::CONTENT_TYPE);
    let method = request.method().clone();
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("request body rejected: {e}"),
            )
        })?;
    let context = Context {
        shared,
        target,
        query,
        accept,
        content_type,
        body: body.to_vec(),
    };
    dispatch(context, method)
}

fn header_str(request: &Request, name: header::HeaderName) -> String {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let (watch, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let namespaced_path = rest.len() >= 3 && rest[0] == "namespaces" && rest[2] != "status";
    let (namespace, rest) = if namespaced_path {
        (Some(rest[1].to_string()), &rest[2..])
    } else {
        (None, rest)
    };
    let resource = resources::find(group, version, rest.first()?)?;
    if namespace.is_some() && !resource.namespaced {
        return None;
    }
    if rest.len() > 3 {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
        watch,
    })
}

/// One parsed resource request.
struct Context {
    shared: Arc<Shared>,
    target: Target,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    body: Vec<u8>,
}

impl Context {
    fn flag(&self, name: &str) -> bool {
        matches!(self.query.get(name).map(String::as_str), Some("true" | "1"))
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        if self.content_type.starts_with(protobuf::CONTENT_TYPE) {
            return protobuf::decode(&self.body)
                .map_err(|message| ApiError::new(415, "UnsupportedMediaType", message));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
    }

    fn key(&self, name: &str) -> Key {
        Key::new(
            self.target.resource,
            self.target.namespace.as_deref().unwrap_or_default(),
            name,
        )
    }

    fn selectors(&self) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let labels =
            LabelSelector::parse(self.query.get("labelSelector").map_or("", String::as_str))
                .map_err(ApiError::bad_request)?;
        let fields =
            FieldSelector::parse(self.query.get("fieldSelector").map_or("", String::as_str))
                .map_err(ApiError::bad_request)?;
        Ok((labels, fields))
    }

    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }
}

fn dispatch(context: Context, method: Method) -> Result<Response, ApiError> {
    let resource = context.target.resource;
    let part = match context.target.subresource.as_deref() {
        None => Part::Main,
        Some("status") if resource.has_status => Part::Status,
        Some(other) => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("{} has no subresource {other:?}", resource.plural),
            ));
        }
    };
    if context.target.resource.namespaced
        && context.target.namespace.is_none()
        && (context.target.name.is_some() || method != Method::GET)
    {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!(
                "{} are namespaced: use /namespaces/<namespace>/{}",
                resource.plural, resource.plural
            ),
        ));
    }
    match (context.target.name.clone(), method) {
        (None, Method::GET) if context.target.watch || context.flag("watch") => {
            start_watch(context)
        }
        (None, Method::GET) => list_objects(&context),
        (None, Method::POST) => create(&context),
        (None, Method::DELETE) => delete_collection(&context),
        (Some(name), Method::GET) if context.target.watch => {
            let mut context = context;
            context
                .query
                .insert("fieldSelector".into(), format!("metadata.name={name}"));
            start_watch(context)
        }
        (Some(name), Method::GET) => {
            let object = context
                .shared
                .store
                .get(&context.key(&name))
                .ok_or_else(|| ApiError::not_found(resource, &name))?;
            Ok(respond(&context, object))
        }
        (Some(name), Method::PUT) => {
            let body = context.json_body()?;
            let object = write(&context, &name, part, |_| Ok(body))?;
            Ok(respond(&context, object))
        }
        (Some(name), Method::PATCH) => patch_object(&context, &name, part),
        (Some(name), Method::DELETE) => delete_object(&context, &name),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the method is not allowed on this path",
        )),
    }
}

fn respond(context: &Context, object: Value) -> Response {
    if wants_table(&context.accept) {
        let version = meta_str(&object, "resourceVersion").to_string();
        return ok(table(&[object], &version, context.shared.store.now()));
    }
    ok(object)
}

/// Runs a write, or with `dryRun=All` computes it against a copy of the store's object.
fn write(
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

fn create(context: &Context) -> Result<Response, ApiError> {
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

fn list_objects(context: &Context) -> Result<Response, ApiError> {
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

fn start_watch(context: Context) -> Result<Response, ApiError> {
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

fn patch_object(context: &Context, name: &str, part: Part) -> Result<Response, ApiError> {
    let resource = context.target.resource;
    let media_type = context
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if media_type == "application/apply-patch+yaml" {
        return super::apply::apply(
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

fn delete_options(context: &Context) -> Result<DeleteOptions, ApiError> {
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

fn delete_object(context: &Context, name: &str) -> Result<Response, ApiError> {
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

fn delete_collection(context: &Context) -> Result<Response, ApiError> {
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

fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-elb-test",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}
