//! Error responses of the token service, in the shape Entra ID sends them.
//!
//! Entra ID answers a failed token request with a JSON body: `error` (the OAuth 2.0 error),
//! `error_description` (`AADSTS<code>: <message>` followed by trace id, correlation id and
//! timestamp lines), `error_codes`, `timestamp`, `trace_id`, `correlation_id` and `error_uri`.
//! The codes and statuses below are the ones Entra ID returns for the same faults; the message
//! wording is this server's own.

use serde_json::{Value, json};

/// A failed token request: HTTP status, OAuth 2.0 error, AADSTS code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status of the response.
    pub status: u16,
    /// OAuth 2.0 error, such as `invalid_request` or `invalid_client`.
    pub error: &'static str,
    /// AADSTS code, such as 700016.
    pub code: u32,
    /// Message after the `AADSTS<code>: ` prefix.
    pub message: String,
    /// Seconds for the `Retry-After` header, on throttling and outage responses.
    pub retry_after_secs: Option<u64>,
}

impl EntraError {
    fn new(status: u16, error: &'static str, code: u32, message: String) -> Self {
        Self {
            status,
            error,
            code,
            message,
            retry_after_secs: None,
        }
    }

    /// AADSTS90002: the tenant in the URL does not exist (400 `invalid_request`).
    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check the tenant id and that the authority host \
                 belongs to the tenant's cloud."
            ),
        )
    }

    /// AADSTS900144: a required form parameter is missing (400 `invalid_request`).
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the parameter '{name}'."),
        )
    }

    /// AADSTS70003: the grant type is not supported here (400 `unsupported_grant_type`).
    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The grant type '{grant_type}' is not supported by this token service."),
        )
    }

    /// AADSTS700016: no application with this client id in the tenant (400
    /// `unauthorized_client`).
    pub fn application_not_found(client_id: &str, tenant: &str) -> Self {
        Self::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory \
                 '{tenant}'. Check the client id, and that the application is registered in \
                 this tenant."
            ),
        )
    }

    /// AADSTS7000218: neither `client_secret` nor `client_assertion` was sent (401
    /// `invalid_client`).
    pub fn missing_client_credential() -> Self {
        Self::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain 'client_assertion' or 'client_secret'.".to_string(),
        )
    }

    /// AADSTS7000215: the client secret is wrong (401 `invalid_client`).
    pub fn invalid_client_secret(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided for app '{client_id}'. Send the secret's value, \
                 not its id."
            ),
        )
    }

    /// AADSTS50027: the client assertion is not a readable JWT (400 `invalid_request`).
    // NOTE: Entra ID may use a different code for an unsupported `client_assertion_type`;
    // this server answers both cases with 50027.
    pub fn malformed_assertion(detail: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            50027,
            format!("The client assertion is invalid or malformed: {detail}."),
        )
    }

    /// AADSTS700024: the assertion is expired or not yet valid (400 `invalid_client`).
    pub fn assertion_out_of_time_range(now: &str, not_before: &str, expires: &str) -> Self {
        Self::new(
            400,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {now}, \
                 assertion valid from {not_before}, expiry time of assertion {expires}."
            ),
        )
    }

    /// AADSTS70021: no federated identity credential matches the assertion (400
    /// `invalid_request`); the message names the presented issuer, subject and audience.
    pub fn no_matching_federated_credential(issuer: &str, subject: &str, audience: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. \
                 Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. \
                 Assertion Audience: '{audience}'."
            ),
        )
    }

    /// AADSTS70011: the scope is invalid, for example without `/.default` in the client
    /// credentials grant (400 `invalid_scope`).
    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope \
                 '{scope}' is not valid: the client credentials grant needs exactly one \
                 '<resource>/.default' scope."
            ),
        )
    }

    /// An injected service fault with `status`: `server_error` for 500,
    /// `temporarily_unavailable` (with `Retry-After`) for 429, 503 and others.
    // NOTE: the AADSTS code 90033 ("transient error") is an approximation; Entra ID's codes
    // for outages vary.
    pub fn service_fault(status: u16) -> Self {
        let (error, retry_after_secs) = match status {
            500 => ("server_error", None),
            _ => ("temporarily_unavailable", Some(1)),
        };
        Self {
            retry_after_secs,
            ..Self::new(
                status,
                error,
                90033,
                "A transient error has occurred. Retry the request.".to_string(),
            )
        }
    }

    /// Renders the JSON body as Entra ID sends it, with `authority_host` (ending in `/`) for
    /// `error_uri` and `timestamp` in Entra's `YYYY-MM-DD hh:mm:ssZ` form.
    pub fn body(
        &self,
        authority_host: &str,
        trace_id: &str,
        correlation_id: &str,
        timestamp: &str,
    ) -> Value {
        let description = format!(
            "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\n\
             Timestamp: {timestamp}",
            self.code, self.message
        );
        json!({
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("{authority_host}error?code={}", self.code),
        })
    }
}

/// Formats a Unix time as Entra ID's error timestamp, `YYYY-MM-DD hh:mm:ssZ`.
pub fn entra_timestamp(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|moment| moment.format(&format).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Creates a random GUID-shaped id for `trace_id` and `correlation_id`.
pub fn random_guid() -> String {
    let hex = hex_string(rand::random::<[u8; 16]>());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn hex_string(bytes: [u8; 16]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_entra_fields() {
        let error = EntraError::application_not_found("client-x", "tenant-y");
        let body = error.body(
            "https://127.0.0.1:1/",
            "trace",
            "corr",
            "2026-01-02 03:04:05Z",
        );
        assert_eq!(body["error"], "unauthorized_client");
        assert_eq!(body["error_codes"], json!([700016]));
        let description = body["error_description"].as_str().unwrap();
        assert!(description.starts_with("AADSTS700016: Application with identifier 'client-x'"));
        assert!(description.contains("\r\nTrace ID: trace\r\nCorrelation ID: corr\r\n"));
        assert_eq!(body["error_uri"], "https://127.0.0.1:1/error?code=700016");
        assert_eq!(body["timestamp"], "2026-01-02 03:04:05Z");
    }

    #[test]
    fn timestamp_uses_entra_format() {
        assert_eq!(entra_timestamp(0), "1970-01-01 00:00:00Z");
    }

    #[test]
    fn service_faults_choose_oauth_errors() {
        assert_eq!(EntraError::service_fault(500).error, "server_error");
        assert_eq!(EntraError::service_fault(500).retry_after_secs, None);
        assert_eq!(
            EntraError::service_fault(503).error,
            "temporarily_unavailable"
        );
        assert_eq!(EntraError::service_fault(429).retry_after_secs, Some(1));
    }

    #[test]
    fn guid_has_five_groups() {
        let guid = random_guid();
        let lengths: Vec<usize> = guid.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
    }
}
