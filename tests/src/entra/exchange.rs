//! Checks of a client credentials token request against the configuration, without I/O.

// NOTE: Entra ID's order of checks is not documented. This order (tenant, grant type,
// required fields, application, client credential, scope) decides which error a request
// with several faults gets.

use crate::entra::access_token::resource_of_scope;
use crate::entra::config::EntraConfig;
use crate::entra::error::{EntraError, entra_timestamp};
use crate::jwt;

/// Value of `client_assertion_type` for a JWT client assertion.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew that Entra ID tolerates on assertion times, in seconds.
// NOTE: an estimate; Entra ID documents no exact value.
const CLOCK_SKEW_SECS: i64 = 300;

/// Scopes that the client credentials grant ignores next to a `/.default` scope.
const IGNORED_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// How the client proved its identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// A client secret.
    Secret,
    /// A federated JWT assertion.
    Assertion,
}

/// A token request that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Tenant from the URL.
    pub tenant: String,
    /// Client id of the application.
    pub client_id: String,
    /// Object id of the application's service principal.
    pub object_id: String,
    /// Resource of the requested scope.
    pub resource: String,
    /// How the client authenticated.
    pub method: ClientAuthMethod,
}

/// Returns the first value of form field `name`, ignoring empty values.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// Checks a token request for `tenant` with form fields `form` at Unix time `now`.
///
/// # Errors
///
/// Returns the [`EntraError`] that Entra ID would return for the first failed check.
pub fn evaluate(
    config: &EntraConfig,
    tenant: &str,
    form: &[(String, String)],
    now: i64,
) -> Result<Grant, EntraError> {
    if !config.has_tenant(tenant) {
        return Err(EntraError::tenant_not_found(tenant));
    }
    let grant_type =
        field(form, "grant_type").ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(EntraError::unsupported_grant_type(grant_type));
    }
    let client_id =
        field(form, "client_id").ok_or_else(|| EntraError::missing_parameter("client_id"))?;
    let scope = field(form, "scope").ok_or_else(|| EntraError::missing_parameter("scope"))?;
    let app = config
        .find_app(tenant, client_id)
        .ok_or_else(|| EntraError::application_not_found(client_id, tenant))?;

    // NOTE: a request with both a secret and an assertion is checked by its secret here,
    // because Entra ID's response to that case is not documented.
    let method = match (
        field(form, "client_secret"),
        field(form, "client_assertion"),
    ) {
        (Some(secret), _) => {
            if !app.secrets.iter().any(|known| known == secret) {
                return Err(EntraError::invalid_client_secret(client_id));
            }
            ClientAuthMethod::Secret
        }
        (None, Some(assertion)) => {
            check_assertion(config, tenant, client_id, form, assertion, now)?;
            ClientAuthMethod::Assertion
        }
        (None, None) => return Err(EntraError::missing_client_credential()),
    };

    let resource = single_resource(scope)?;
    Ok(Grant {
        tenant: tenant.to_string(),
        client_id: app.client_id.clone(),
        object_id: app.object_id(),
        resource,
        method,
    })
}

fn check_assertion(
    config: &EntraConfig,
    tenant: &str,
    client_id: &str,
    form: &[(String, String)],
    assertion: &str,
    now: i64,
) -> Result<(), EntraError> {
    let assertion_type = field(form, "client_assertion_type")
        .ok_or_else(|| EntraError::missing_parameter("client_assertion_type"))?;
    if assertion_type != JWT_BEARER_ASSERTION_TYPE {
        return Err(EntraError::malformed_assertion(&format!(
            "client_assertion_type '{assertion_type}' is not '{JWT_BEARER_ASSERTION_TYPE}'"
        )));
    }
    let claims = jwt::claims(assertion)
        .ok_or_else(|| EntraError::malformed_assertion("it is not a compact JWT"))?;

    let expires = claims.get("exp").and_then(|value| value.as_i64());
    let Some(expires) = expires else {
        return Err(EntraError::malformed_assertion(
            "the 'exp' claim is missing",
        ));
    };
    let not_before = claims
        .get("nbf")
        .or_else(|| claims.get("iat"))
        .and_then(|value| value.as_i64())
        .unwrap_or(i64::MIN);
    if expires + CLOCK_SKEW_SECS <= now || not_before - CLOCK_SKEW_SECS > now {
        return Err(EntraError::assertion_out_of_time_range(
            &entra_timestamp(now),
            &entra_timestamp(not_before.max(0)),
            &entra_timestamp(expires),
        ));
    }

    let issuer = claims
        .get("iss")
        .and_then(|value| value.as_str())
        .unwrap_or("");
    let subject = claims
        .get("sub")
        .and_then(|value| value.as_str())
        .unwrap_or("");
    let audiences = jwt::audiences(&claims);
    let app = config
        .find_app(tenant, client_id)
        .ok_or_else(|| EntraError::application_not_found(client_id, tenant))?;
    let matched = app
        .federated_credentials
        .iter()
        .any(|credential| credential.matches(issuer, subject, &audiences));
    if !matched {
        return Err(EntraError::no_matching_federated_credential(
            issuer,
            subject,
            &audiences.join(","),
        ));
    }
    Ok(())
}

/// Returns the resource of the one `/.default` scope in the space-separated `scope`.
fn single_resource(scope: &str) -> Result<String, EntraError> {
    let scopes: Vec<&str> = scope
        .split(' ')
        .filter(|item| !item.is_empty() && !IGNORED_SCOPES.contains(item))
        .collect();
    match scopes.as_slice() {
        [only] => resource_of_scope(only)
            .map(str::to_string)
            .ok_or_else(|| EntraError::invalid_scope(only)),
        _ => Err(EntraError::invalid_scope(scope)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entra::config::AppRegistration;

    const ISSUER: &str = "https://oidc.test/issuer";

    fn config() -> EntraConfig {
        EntraConfig::workload_identity("tenant-a", "client-a", ISSUER)
            .with_app(AppRegistration::new("tenant-a", "client-s").with_secret("right"))
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn secret_form(secret: &str, scope: &str) -> Vec<(String, String)> {
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client-s"),
            ("client_secret", secret),
            ("scope", scope),
        ])
    }

    fn assertion_form(assertion: &str) -> Vec<(String, String)> {
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "client-a"),
            ("client_assertion_type", JWT_BEARER_ASSERTION_TYPE),
            ("client_assertion", assertion),
            ("scope", "https://storage.azure.com/.default"),
        ])
    }

    fn sa_token(issuer: &str, account: &str, lifetime: i64) -> String {
        jwt::service_account_token(
            issuer,
            "default",
            account,
            "api://AzureADTokenExchange",
            lifetime,
        )
    }

    fn code(result: Result<Grant, EntraError>) -> u32 {
        result.expect_err("request should fail").code
    }

    #[test]
    fn secret_grant_returns_resource() {
        let scope = "https://storage.azure.com/.default";
        let grant = evaluate(
            &config(),
            "tenant-a",
            &secret_form("right", scope),
            jwt::now_unix(),
        );
        let grant = grant.unwrap();
        assert_eq!(grant.resource, "https://storage.azure.com");
        assert_eq!(grant.method, ClientAuthMethod::Secret);
    }

    #[test]
    fn assertion_grant_matches_federated_credential() {
        let token = sa_token(ISSUER, "elb-openapi-sa", 3600);
        let grant = evaluate(
            &config(),
            "tenant-a",
            &assertion_form(&token),
            jwt::now_unix(),
        );
        assert_eq!(grant.unwrap().method, ClientAuthMethod::Assertion);
    }

    #[test]
    fn failures_map_to_aadsts_codes() {
        let now = jwt::now_unix();
        let config = config();
        let storage = "https://storage.azure.com/.default";
        // Each case: name, form fields, tenant and the expected AADSTS code.
        type Case = (&'static str, Vec<(String, String)>, &'static str, u32);
        let cases: Vec<Case> = vec![
            (
                "unknown tenant",
                secret_form("right", storage),
                "tenant-z",
                90002,
            ),
            (
                "wrong secret",
                secret_form("wrong", storage),
                "tenant-a",
                7000215,
            ),
            (
                "scope without default",
                secret_form("right", "https://storage.azure.com/read"),
                "tenant-a",
                70011,
            ),
            (
                "two resources",
                secret_form("right", "https://a/.default https://b/.default"),
                "tenant-a",
                70011,
            ),
            (
                "no grant type",
                form(&[("client_id", "client-s")]),
                "tenant-a",
                900144,
            ),
            (
                "password grant",
                form(&[("grant_type", "password")]),
                "tenant-a",
                70003,
            ),
            (
                "unknown client",
                form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "nobody"),
                    ("scope", storage),
                ]),
                "tenant-a",
                700016,
            ),
            (
                "no credential",
                form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "client-s"),
                    ("scope", storage),
                ]),
                "tenant-a",
                7000218,
            ),
            (
                "expired assertion",
                assertion_form(&sa_token(ISSUER, "elb-openapi-sa", -600)),
                "tenant-a",
                700024,
            ),
            (
                "other subject",
                assertion_form(&sa_token(ISSUER, "other-sa", 3600)),
                "tenant-a",
                70021,
            ),
            (
                "other issuer",
                assertion_form(&sa_token("https://elsewhere", "elb-openapi-sa", 3600)),
                "tenant-a",
                70021,
            ),
            (
                "garbage assertion",
                assertion_form("not-a-jwt"),
                "tenant-a",
                50027,
            ),
        ];
        for (name, form, tenant, expected) in cases {
            assert_eq!(
                code(evaluate(&config, tenant, &form, now)),
                expected,
                "case: {name}"
            );
        }
    }

    #[test]
    fn mismatch_names_presented_claims() {
        let token = sa_token(ISSUER, "other-sa", 3600);
        let error = evaluate(
            &config(),
            "tenant-a",
            &assertion_form(&token),
            jwt::now_unix(),
        )
        .unwrap_err();
        assert!(
            error
                .message
                .contains(&format!("Assertion Issuer: '{ISSUER}'"))
        );
        assert!(
            error
                .message
                .contains("Assertion Subject: 'system:serviceaccount:default:other-sa'")
        );
        assert!(
            error
                .message
                .contains("Assertion Audience: 'api://AzureADTokenExchange'")
        );
    }

    #[test]
    fn openid_scopes_are_ignored() {
        let scope = "https://storage.azure.com/.default offline_access openid profile";
        let grant = evaluate(
            &config(),
            "tenant-a",
            &secret_form("right", scope),
            jwt::now_unix(),
        );
        assert_eq!(grant.unwrap().resource, "https://storage.azure.com");
    }
}
