//! HTTP handlers of the managed identity service: the IMDS token endpoint and the App
//! Service identity endpoint, with their own success and error bodies.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::entra::access_token::{AccessTokenSpec, mint_access_token};
use crate::entra::error::random_guid;
use crate::jwt;
use crate::msi::config::ManagedIdentityConfig;
use crate::msi::request::{Rejection, TokenQuery, check_app_service, check_imds};
use crate::msi::state::{EndpointKind, MsiState, lock};

/// Path of the IMDS token endpoint.
pub const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

/// Path of the App Service identity endpoint on this server (`IDENTITY_ENDPOINT`).
pub const APP_SERVICE_TOKEN_PATH: &str = "/msi/token";

pub(crate) fn router(state: Arc<MsiState>) -> Router {
    Router::new()
        .route(IMDS_TOKEN_PATH, get(imds_token))
        .route(APP_SERVICE_TOKEN_PATH, get(app_service_token))
        .with_state(state)
}

fn parse_query(raw: Option<String>) -> Vec<(String, String)> {
    let raw = raw.unwrap_or_default();
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A token issued for a request, with the values both response shapes report.
struct Issued {
    access_token: String,
    client_id: String,
    resource: String,
    lifetime_secs: i64,
    expires_on: i64,
}

/// Issues a token for `query`, or returns `None` when no identity matches its selector.
fn issue(config: &ManagedIdentityConfig, query: TokenQuery) -> Option<Issued> {
    let identity = config.select(query.selector.as_ref())?;
    let lifetime_secs = i64::try_from(config.token_lifetime_secs()).unwrap_or(i64::MAX / 2);
    let spec = AccessTokenSpec {
        tenant: config.tenant.clone(),
        resource: query.resource.clone(),
        app_id: identity.client_id.clone(),
        object_id: identity.object_id.clone(),
        lifetime_secs,
    };
    let (access_token, expires_on) = mint_access_token(&spec);
    Some(Issued {
        access_token,
        client_id: identity.client_id.clone(),
        resource: query.resource,
        lifetime_secs,
        expires_on,
    })
}

async fn imds_token(
    State(state): State<Arc<MsiState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(raw);
    let (index, delay, fault) = state.begin_request(EndpointKind::Imds, query.clone());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match fault {
        Some(status) => imds_fault(status),
        None => imds_answer(&state, &query, header_value(&headers, "Metadata")),
    };
    state.finish_request(index, response.status().as_u16());
    response
}

fn imds_answer(state: &MsiState, query: &[(String, String)], metadata: Option<&str>) -> Response {
    let checked = match check_imds(query, metadata) {
        Ok(checked) => checked,
        Err(rejection) => {
            tracing::debug!(?rejection, "rejecting IMDS token request");
            return imds_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &imds_text(&rejection),
            );
        }
    };
    let config = lock(&state.config).clone();
    let Some(issued) = issue(&config, checked) else {
        tracing::debug!("IMDS identity not found");
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        );
    };
    let now = jwt::now_unix();
    // IMDS sends every number as a JSON string.
    let body = json!({
        "access_token": issued.access_token,
        "client_id": issued.client_id,
        "expires_in": issued.lifetime_secs.to_string(),
        "expires_on": issued.expires_on.to_string(),
        "ext_expires_in": issued.lifetime_secs.to_string(),
        "not_before": now.to_string(),
        "resource": issued.resource,
        "token_type": "Bearer",
    });
    json_response(StatusCode::OK, &body)
}

fn imds_text(rejection: &Rejection) -> String {
    match rejection {
        // IMDS's own texts.
        Rejection::MissingMetadataHeader => "Required metadata header not specified".to_string(),
        Rejection::MissingResource => "Required audience parameter not specified".to_string(),
        // This server's wording; IMDS's texts for these cases are not documented.
        Rejection::MissingApiVersion => {
            "Required query variable 'api-version' is missing".to_string()
        }
        Rejection::UnsupportedApiVersion(version) => {
            format!("Unsupported api-version '{version}', use 2018-02-01 or later")
        }
        Rejection::MultipleSelectors => {
            "Only one of client_id, object_id and msi_res_id may be specified".to_string()
        }
        // Only the App Service check returns this; IMDS has no such header.
        Rejection::InvalidIdentityHeader => "Required metadata header not specified".to_string(),
    }
}

// NOTE: the bodies of IMDS 410, 429 and 500 responses are approximations; clients act on
// the status alone.
fn imds_fault(status: u16) -> Response {
    let (error, description) = match status {
        410 => (
            "unavailable",
            "The managed identity endpoint is starting; retry later",
        ),
        429 => ("too_many_requests", "Too many requests; retry later"),
        500..=599 => ("unknown", "Failed to retrieve the token; retry later"),
        _ => ("invalid_request", "Injected failure"),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    imds_error(status, error, description)
}

fn imds_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

async fn app_service_token(
    State(state): State<Arc<MsiState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(raw);
    let (index, delay, fault) = state.begin_request(EndpointKind::AppService, query.clone());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match fault {
        Some(status) => app_service_error(status, "Injected failure; retry later"),
        None => app_service_answer(&state, &query, header_value(&headers, "X-IDENTITY-HEADER")),
    };
    state.finish_request(index, response.status().as_u16());
    response
}

fn app_service_answer(
    state: &MsiState,
    query: &[(String, String)],
    identity_header: Option<&str>,
) -> Response {
    let config = lock(&state.config).clone();
    let checked = match check_app_service(query, identity_header, &config.identity_header) {
        Ok(checked) => checked,
        Err(rejection) => {
            tracing::debug!(?rejection, "rejecting App Service token request");
            return app_service_rejection(&rejection);
        }
    };
    let Some(issued) = issue(&config, checked) else {
        tracing::debug!("App Service identity not found");
        return app_service_error(400, "Unable to load the proper Managed Identity.");
    };
    let body = json!({
        "access_token": issued.access_token,
        "expires_on": issued.expires_on.to_string(),
        "resource": issued.resource,
        "token_type": "Bearer",
        "client_id": issued.client_id,
    });
    json_response(StatusCode::OK, &body)
}

// NOTE: App Service's status for a wrong X-IDENTITY-HEADER is not documented; 401 is an
// approximation.
fn app_service_rejection(rejection: &Rejection) -> Response {
    match rejection {
        Rejection::InvalidIdentityHeader | Rejection::MissingMetadataHeader => {
            app_service_error(401, "The X-IDENTITY-HEADER value is missing or invalid.")
        }
        Rejection::MissingApiVersion => app_service_error(400, "The api-version is missing."),
        Rejection::UnsupportedApiVersion(version) => app_service_error(
            400,
            &format!("The api-version '{version}' is not supported; use 2019-08-01."),
        ),
        Rejection::MissingResource => app_service_error(400, "The resource is missing."),
        Rejection::MultipleSelectors => app_service_error(
            400,
            "Only one of client_id, principal_id, object_id and mi_res_id may be specified.",
        ),
    }
}

fn app_service_error(status: u16, message: &str) -> Response {
    let body = json!({
        "statusCode": status,
        "message": message,
        "correlationId": random_guid(),
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
