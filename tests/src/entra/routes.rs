//! HTTP handlers of the token service: the v2.0 token endpoint and OpenID discovery.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::entra::access_token::{AccessTokenSpec, mint_access_token};
use crate::entra::error::{EntraError, entra_timestamp, random_guid};
use crate::entra::exchange::{ClientAuthMethod, evaluate};
use crate::entra::state::{EntraState, TokenRequestRecord, lock};
use crate::jwt;

pub(crate) fn router(state: Arc<EntraState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .with_state(state)
}

fn form_field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.clone())
}

fn record_of(tenant: &str, form: &[(String, String)]) -> TokenRequestRecord {
    let assertion = form_field(form, "client_assertion");
    let method = if form_field(form, "client_secret").is_some() {
        Some(ClientAuthMethod::Secret)
    } else if assertion.is_some() {
        Some(ClientAuthMethod::Assertion)
    } else {
        None
    };
    TokenRequestRecord {
        tenant: tenant.to_string(),
        client_id: form_field(form, "client_id"),
        scope: form_field(form, "scope"),
        method,
        assertion_claims: assertion.as_deref().and_then(jwt::claims),
        status: 0,
    }
}

async fn token(
    State(state): State<Arc<EntraState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let (index, delay, fault) = state.begin_request(record_of(&tenant, &form));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let correlation_id = headers
        .get("client-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(random_guid);

    let outcome = match fault {
        Some(status) => Err(EntraError::service_fault(status)),
        None => {
            let config = lock(&state.config).clone();
            evaluate(&config, &tenant, &form, jwt::now_unix())
                .map(|grant| (grant, config.token_lifetime_secs()))
        }
    };
    let response = match outcome {
        Ok((grant, lifetime_secs)) => {
            tracing::debug!(client_id = %grant.client_id, resource = %grant.resource, "issuing token");
            let spec = AccessTokenSpec {
                tenant: grant.tenant,
                resource: grant.resource,
                app_id: grant.client_id,
                object_id: grant.object_id,
                lifetime_secs: i64::try_from(lifetime_secs).unwrap_or(i64::MAX / 2),
            };
            let (access_token, _) = mint_access_token(&spec);
            let body = json!({
                "token_type": "Bearer",
                "expires_in": lifetime_secs,
                "ext_expires_in": lifetime_secs,
                "access_token": access_token,
            });
            json_response(StatusCode::OK, &body, &correlation_id)
        }
        Err(error) => {
            tracing::debug!(
                code = error.code,
                status = error.status,
                "rejecting token request"
            );
            error_response(&state, &error, &correlation_id)
        }
    };
    state.finish_request(index, response.status().as_u16());
    response
}

async fn openid_configuration(
    State(state): State<Arc<EntraState>>,
    Path(tenant): Path<String>,
) -> Response {
    if !lock(&state.config).has_tenant(&tenant) {
        return error_response(
            &state,
            &EntraError::tenant_not_found(&tenant),
            &random_guid(),
        );
    }
    let base = format!("{}{tenant}", state.authority_host());
    let body = json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported":
            ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "tenant_region_scope": Value::Null,
    });
    json_response(StatusCode::OK, &body, &random_guid())
}

fn error_response(state: &EntraState, error: &EntraError, correlation_id: &str) -> Response {
    let trace_id = random_guid();
    let timestamp = entra_timestamp(jwt::now_unix());
    let body = error.body(
        state.authority_host(),
        &trace_id,
        correlation_id,
        &timestamp,
    );
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &body, correlation_id);
    if let Some(secs) = error.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn json_response(status: StatusCode, body: &Value, correlation_id: &str) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(correlation_id) {
        headers.insert("client-request-id", value);
    }
    if let Ok(value) = HeaderValue::from_str(&random_guid()) {
        headers.insert("x-ms-request-id", value);
    }
    response
}
