//! HTTP request handling: authentication, path parsing and dispatch to the store.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::meta::{Key, meta_str};
use super::openapi;
use super::protobuf;
use super::resources::{self, ResourceType};
use super::selectors::{FieldSelector, LabelSelector};
use super::server::Shared;
use super::status::ApiError;
use super::store::Part;
use super::table::{table, wants_table};

mod operations;

use operations::{
    create, delete_collection, delete_object, list_objects, patch_object, start_watch, write,
};

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
