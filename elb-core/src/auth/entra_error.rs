//! Decoding Entra ID error responses into errors that name the fix.

use std::path::PathBuf;

use serde::Deserialize;

use super::assertion::AssertionClaims;
use crate::{Error, ErrorKind};

/// The identity details a token exchange presented, used to explain a rejection. It contains
/// no secret.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExchangeContext {
    pub(crate) credential: &'static str,
    pub(crate) client_id: String,
    pub(crate) tenant_id: String,
    pub(crate) scope: String,
    pub(crate) token_url: String,
    /// The claims of the federated assertion, for workload identity.
    pub(crate) assertion: Option<AssertionClaims>,
    /// The federated token file, for workload identity.
    pub(crate) token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ErrorBody {
    error: String,
    error_description: String,
    error_codes: Vec<u64>,
}

/// Returns the `AADSTS` number of an error body: the first of `error_codes`, or the number
/// after `AADSTS` at the start of the description.
fn aadsts_number(body: &ErrorBody) -> Option<u64> {
    if let Some(code) = body.error_codes.first() {
        return Some(*code);
    }
    let rest = body.error_description.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Returns the first line of an Entra description, shortened to 300 characters.
///
/// Entra descriptions name the application and carry trace ids, never the presented secret.
fn first_line(description: &str) -> &str {
    let line = description.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(300) {
        Some((end, _)) => &line[..end],
        None => line,
    }
}

/// Builds the error for a failed token exchange from the response status and body.
pub(crate) fn decode_error(status: u16, body: &[u8], context: &ExchangeContext) -> Error {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let Some(parsed) = parsed.filter(|b| !b.error.is_empty() || aadsts_number(b).is_some()) else {
        let kind = kind_for_status(status);
        return Error::new(
            kind,
            format!(
                "{} token request to {} failed without an Entra ID error body",
                context.credential, context.token_url
            ),
        )
        .with_status(status)
        .with_target(context.token_url.clone());
    };

    let error = match aadsts_number(&parsed) {
        Some(number) => {
            explain(number, &parsed, status, context).with_code(format!("AADSTS{number}"))
        }
        None => Error::new(
            kind_for_status(status),
            format!(
                "{} token request rejected by Entra ID ({}): {}",
                context.credential,
                parsed.error,
                first_line(&parsed.error_description)
            ),
        )
        .with_code(parsed.error.clone()),
    };
    error
        .with_status(status)
        .with_target(context.token_url.clone())
}

fn kind_for_status(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttled,
        500..=599 => ErrorKind::Service,
        403 => ErrorKind::PermissionDenied,
        _ => ErrorKind::Authentication,
    }
}

fn explain(number: u64, body: &ErrorBody, status: u16, context: &ExchangeContext) -> Error {
    let client_id = &context.client_id;
    let tenant_id = &context.tenant_id;
    match number {
        70021 => {
            let presented = context
                .assertion
                .as_ref()
                .map_or_else(|| "claims unreadable".to_string(), ToString::to_string);
            Error::new(
                ErrorKind::Authentication,
                format!(
                    "no federated identity credential of application {client_id} matches the \
                     presented assertion ({presented}): compare the issuer, subject and \
                     audience with the federated identity credential on the managed identity \
                     or app registration"
                ),
            )
        }
        700024 => {
            let file = context.token_file.as_ref().map_or_else(
                || "(unknown)".to_string(),
                |path| path.display().to_string(),
            );
            let expiry = context
                .assertion
                .as_ref()
                .and_then(|claims| claims.expires_at)
                .map_or_else(String::new, |exp| format!(" (exp {exp})"));
            Error::new(
                ErrorKind::Authentication,
                format!(
                    "the projected service-account token in {file} is expired{expiry}: check \
                     that the kubelet projects and rotates it and that \
                     AZURE_FEDERATED_TOKEN_FILE names the mounted file"
                ),
            )
        }
        700016 => Error::new(
            ErrorKind::Authentication,
            format!(
                "application {client_id} was not found in tenant {tenant_id}: check \
                 AZURE_CLIENT_ID (for workload identity, the ServiceAccount annotation \
                 azure.workload.identity/client-id) and AZURE_TENANT_ID"
            ),
        ),
        7000215 | 7000222 => Error::new(
            ErrorKind::Authentication,
            format!(
                "the client secret of application {client_id} is wrong or expired: create a \
                 new secret and set AZURE_CLIENT_SECRET to its value, not its id"
            ),
        ),
        90002 => Error::new(
            ErrorKind::Authentication,
            format!(
                "tenant {tenant_id} was not found at {}: check AZURE_TENANT_ID and \
                 AZURE_AUTHORITY_HOST",
                context.token_url
            ),
        ),
        70011 => Error::new(
            ErrorKind::InvalidInput,
            format!(
                "scope {} is invalid: request a resource followed by /.default, such as \
                 https://storage.azure.com/.default",
                context.scope
            ),
        ),
        _ => Error::new(
            kind_for_status(status),
            format!(
                "{} token request rejected by Entra ID: {}",
                context.credential,
                first_line(&body.error_description)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ExchangeContext {
        ExchangeContext {
            credential: "WorkloadIdentityCredential",
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            tenant_id: "contoso-tenant".into(),
            scope: "https://storage.azure.com/.default".into(),
            token_url: "https://127.0.0.1:1/contoso-tenant/oauth2/v2.0/token".into(),
            assertion: Some(AssertionClaims {
                issuer: Some("https://oidc.example/cluster/".into()),
                subject: Some("system:serviceaccount:default:elb-openapi-sa".into()),
                audiences: vec!["api://AzureADTokenExchange".into()],
                expires_at: Some(1_700_000_000),
            }),
            token_file: Some("/var/run/secrets/azure/tokens/azure-identity-token".into()),
        }
    }

    fn body(code: u64, description: &str) -> Vec<u8> {
        serde_json::json!({
            "error": "invalid_request",
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: abc"),
            "error_codes": [code],
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn aadsts70021_shows_presented_claims() {
        let error = decode_error(
            400,
            &body(70021, "No matching federated identity"),
            &context(),
        );
        assert_eq!(error.code(), Some("AADSTS70021"));
        assert_eq!(error.status(), Some(400));
        assert_eq!(error.kind(), ErrorKind::Authentication);
        let text = error.to_string();
        assert!(
            text.contains("issuer https://oidc.example/cluster/"),
            "{text}"
        );
        assert!(
            text.contains("subject system:serviceaccount:default:elb-openapi-sa"),
            "{text}"
        );
        assert!(
            text.contains("audience api://AzureADTokenExchange"),
            "{text}"
        );
        assert!(text.contains("federated identity credential"), "{text}");
    }

    #[test]
    fn aadsts700024_names_token_file() {
        let error = decode_error(
            400,
            &body(
                700024,
                "Client assertion is not within its valid time range",
            ),
            &context(),
        );
        assert_eq!(error.code(), Some("AADSTS700024"));
        let text = error.to_string();
        assert!(
            text.contains("/var/run/secrets/azure/tokens/azure-identity-token"),
            "{text}"
        );
        assert!(text.contains("expired"), "{text}");
        assert!(text.contains("kubelet"), "{text}");
    }

    #[test]
    fn each_code_points_at_its_fix() {
        let cases: &[(u64, u16, ErrorKind, &str)] = &[
            (700016, 400, ErrorKind::Authentication, "AZURE_CLIENT_ID"),
            (
                7000215,
                401,
                ErrorKind::Authentication,
                "AZURE_CLIENT_SECRET",
            ),
            (
                90002,
                400,
                ErrorKind::Authentication,
                "tenant contoso-tenant was not found",
            ),
            (
                70011,
                400,
                ErrorKind::InvalidInput,
                "https://storage.azure.com/.default",
            ),
        ];
        for (code, status, kind, expected) in cases {
            let error = decode_error(*status, &body(*code, "described"), &context());
            assert_eq!(error.code(), Some(format!("AADSTS{code}").as_str()));
            assert_eq!(error.kind(), *kind, "kind for {code}");
            assert!(error.to_string().contains(expected), "{code}: {error}");
        }
    }

    #[test]
    fn code_read_from_description_without_error_codes() {
        let raw = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        let error = decode_error(401, raw, &context());
        assert_eq!(error.code(), Some("AADSTS7000215"));
    }

    #[test]
    fn unknown_code_keeps_first_line_of_description() {
        let error = decode_error(400, &body(50000, "Something else went wrong"), &context());
        assert_eq!(error.code(), Some("AADSTS50000"));
        let text = error.to_string();
        assert!(text.contains("Something else went wrong"), "{text}");
        assert!(!text.contains("Trace ID"), "{text}");
    }

    #[test]
    fn non_json_body_reports_status() {
        let error = decode_error(503, b"<html>busy</html>", &context());
        assert_eq!(error.kind(), ErrorKind::Service);
        assert_eq!(error.status(), Some(503));
        assert_eq!(error.code(), None);
        let throttled = decode_error(429, b"", &context());
        assert_eq!(throttled.kind(), ErrorKind::Throttled);
    }
}
