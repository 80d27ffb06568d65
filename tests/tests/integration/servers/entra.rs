//! The test Entra ID token service, driven with plain HTTPS requests.

use std::time::Duration;

use elb_test_servers::azurite::{Azurite, AzuriteMode};
use elb_test_servers::entra::{AppRegistration, ClientAuthMethod, EntraConfig, EntraServer};
use elb_test_servers::jwt;
use elb_test_servers::tls::TestCa;
use serde_json::Value;

const TENANT: &str = "72f988bf-0000-4000-8000-000000000001";
const CLIENT: &str = "11111111-2222-4333-8444-555555555555";
const SECRET_CLIENT: &str = "99999999-8888-4777-8666-555555555555";
const SECRET: &str = "test-secret-value";
const ISSUER: &str = "https://oidc.test/cluster-a/";
const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct Fixture {
    // Keeps the authority's files alive while the server runs.
    _ca: TestCa,
    server: EntraServer,
    client: reqwest::Client,
}

async fn start() -> Fixture {
    let ca = TestCa::generate().unwrap();
    let config = EntraConfig::workload_identity(TENANT, CLIENT, ISSUER)
        .with_app(AppRegistration::new(TENANT, SECRET_CLIENT).with_secret(SECRET));
    let server = EntraServer::start(&ca, config).await.unwrap();
    let client = elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(ca.cert_path())
        .unwrap()
        .apply(reqwest::Client::builder().no_proxy())
        .unwrap()
        .build()
        .unwrap();
    Fixture {
        _ca: ca,
        server,
        client,
    }
}

fn service_account_token(subject_account: &str, lifetime_secs: i64) -> String {
    jwt::service_account_token(
        ISSUER,
        "default",
        subject_account,
        "api://AzureADTokenExchange",
        lifetime_secs,
    )
}

fn assertion_form(assertion: &str, scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CLIENT.to_string()),
        ("grant_type", "client_credentials".to_string()),
        ("client_assertion_type", ASSERTION_TYPE.to_string()),
        ("client_assertion", assertion.to_string()),
        ("scope", scope.to_string()),
    ]
}

fn secret_form(secret: &str, scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", SECRET_CLIENT.to_string()),
        ("grant_type", "client_credentials".to_string()),
        ("client_secret", secret.to_string()),
        ("scope", scope.to_string()),
    ]
}

impl Fixture {
    async fn post(&self, tenant: &str, form: &[(&str, String)]) -> (u16, Value) {
        let response = self
            .client
            .post(self.server.token_url(tenant))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body)
    }
}

/// Checks the Entra error body fields and returns the description.
fn assert_entra_error(body: &Value, error: &str, code: u64) -> String {
    assert_eq!(body["error"], error, "body: {body}");
    assert_eq!(
        body["error_codes"],
        serde_json::json!([code]),
        "body: {body}"
    );
    let description = body["error_description"].as_str().unwrap().to_string();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "description: {description}"
    );
    assert!(description.contains("\r\nTrace ID: "));
    assert!(body["trace_id"].as_str().unwrap().len() == 36);
    assert!(body["correlation_id"].as_str().unwrap().len() == 36);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    description
}

#[tokio::test]
async fn assertion_exchange_issues_storage_token() {
    let fixture = start().await;
    let assertion = service_account_token("elb-openapi-sa", 3600);
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 200, "body: {body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);

    let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["aud"], "https://storage.azure.com");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], CLIENT);
    assert!(claims["oid"].as_str().unwrap().len() == 36);
    let now = jwt::now_unix();
    assert!(claims["nbf"].as_i64().unwrap() <= now);
    assert!(claims["iat"].as_i64().unwrap() <= now);
    assert!(claims["exp"].as_i64().unwrap() > now + 3500);
}

#[tokio::test]
async fn secret_grant_issues_management_token() {
    let fixture = start().await;
    let (status, body) = fixture
        .post(
            TENANT,
            &secret_form(SECRET, "https://management.azure.com//.default"),
        )
        .await;
    assert_eq!(status, 200, "body: {body}");
    let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["aud"], "https://management.azure.com/");
    assert_eq!(claims["appid"], SECRET_CLIENT);
}

#[tokio::test]
async fn aks_server_scope_gives_guid_audience() {
    let fixture = start().await;
    let scope = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";
    let assertion = service_account_token("elb-openapi-sa", 3600);
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, scope))
        .await;
    assert_eq!(status, 200, "body: {body}");
    let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["aud"], "6dae42f8-4368-4678-94ff-3960e28e3630");
}

#[tokio::test]
async fn unknown_tenant_is_90002() {
    let fixture = start().await;
    let (status, body) = fixture
        .post("no-such-tenant", &secret_form(SECRET, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 400);
    let description = assert_entra_error(&body, "invalid_request", 90002);
    assert!(description.contains("'no-such-tenant'"));
}

#[tokio::test]
async fn unknown_client_is_700016() {
    let fixture = start().await;
    let mut form = secret_form(SECRET, STORAGE_SCOPE);
    form[0].1 = "00000000-0000-4000-8000-00000000dead".to_string();
    let (status, body) = fixture.post(TENANT, &form).await;
    assert_eq!(status, 400);
    let description = assert_entra_error(&body, "unauthorized_client", 700016);
    assert!(description.contains("00000000-0000-4000-8000-00000000dead"));
    assert!(description.contains(TENANT));
}

#[tokio::test]
async fn expired_assertion_is_700024() {
    let fixture = start().await;
    let assertion = service_account_token("elb-openapi-sa", -3600);
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 400);
    let description = assert_entra_error(&body, "invalid_client", 700024);
    assert!(description.contains("expiry time of assertion"));
}

#[tokio::test]
async fn unmatched_subject_is_70021_naming_claims() {
    let fixture = start().await;
    let assertion = service_account_token("some-other-sa", 3600);
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 400);
    let description = assert_entra_error(&body, "invalid_request", 70021);
    assert!(description.contains(&format!("Assertion Issuer: '{ISSUER}'")));
    assert!(
        description.contains("Assertion Subject: 'system:serviceaccount:default:some-other-sa'")
    );
    assert!(description.contains("Assertion Audience: 'api://AzureADTokenExchange'"));
}

#[tokio::test]
async fn wrong_audience_is_70021() {
    let fixture = start().await;
    let assertion = jwt::service_account_token(
        ISSUER,
        "default",
        "elb-openapi-sa",
        "https://kubernetes.default.svc",
        3600,
    );
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 400);
    let description = assert_entra_error(&body, "invalid_request", 70021);
    assert!(description.contains("Assertion Audience: 'https://kubernetes.default.svc'"));
}

#[tokio::test]
async fn wrong_secret_is_7000215() {
    let fixture = start().await;
    let (status, body) = fixture
        .post(TENANT, &secret_form("not-the-secret", STORAGE_SCOPE))
        .await;
    assert_eq!(status, 401);
    let description = assert_entra_error(&body, "invalid_client", 7000215);
    assert!(!description.contains("not-the-secret"));
}

#[tokio::test]
async fn scope_without_default_is_70011() {
    let fixture = start().await;
    let (status, body) = fixture
        .post(
            TENANT,
            &secret_form(SECRET, "https://storage.azure.com/user_impersonation"),
        )
        .await;
    assert_eq!(status, 400);
    let description = assert_entra_error(&body, "invalid_scope", 70011);
    assert!(description.contains("https://storage.azure.com/user_impersonation"));
}

#[tokio::test]
async fn missing_parameters_are_900144() {
    let fixture = start().await;
    for missing in ["grant_type", "client_id", "scope"] {
        let form: Vec<(&str, String)> = secret_form(SECRET, STORAGE_SCOPE)
            .into_iter()
            .filter(|(name, _)| *name != missing)
            .collect();
        let (status, body) = fixture.post(TENANT, &form).await;
        assert_eq!(status, 400, "without {missing}");
        let description = assert_entra_error(&body, "invalid_request", 900144);
        assert!(
            description.contains(&format!("'{missing}'")),
            "{description}"
        );
    }
}

#[tokio::test]
async fn missing_client_credential_is_7000218() {
    let fixture = start().await;
    let form: Vec<(&str, String)> = secret_form(SECRET, STORAGE_SCOPE)
        .into_iter()
        .filter(|(name, _)| *name != "client_secret")
        .collect();
    let (status, body) = fixture.post(TENANT, &form).await;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000218);
}

#[tokio::test]
async fn other_grant_type_is_rejected() {
    let fixture = start().await;
    let mut form = secret_form(SECRET, STORAGE_SCOPE);
    form[1].1 = "password".to_string();
    let (status, body) = fixture.post(TENANT, &form).await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unsupported_grant_type", 70003);
}

#[tokio::test]
async fn malformed_assertion_is_rejected() {
    let fixture = start().await;
    let (status, body) = fixture
        .post(TENANT, &assertion_form("not.a-jwt", STORAGE_SCOPE))
        .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 50027);
}

#[tokio::test]
async fn client_request_id_becomes_correlation_id() {
    let fixture = start().await;
    let response = fixture
        .client
        .post(fixture.server.token_url("no-such-tenant"))
        .header("client-request-id", "0a0b0c0d-0000-4000-8000-000000000042")
        .form(&secret_form(SECRET, STORAGE_SCOPE))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["client-request-id"],
        "0a0b0c0d-0000-4000-8000-000000000042"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["correlation_id"],
        "0a0b0c0d-0000-4000-8000-000000000042"
    );
}

#[tokio::test]
async fn injected_faults_come_first_then_recover() {
    let fixture = start().await;
    fixture.server.fail_next(2, 503);
    let form = secret_form(SECRET, STORAGE_SCOPE);

    let response = fixture
        .client
        .post(fixture.server.token_url(TENANT))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_entra_error(&body, "temporarily_unavailable", 90033);

    let (status, _) = fixture.post(TENANT, &form).await;
    assert_eq!(status, 503);
    let (status, body) = fixture.post(TENANT, &form).await;
    assert_eq!(status, 200, "body: {body}");

    fixture.server.fail_next(1, 500);
    let (status, body) = fixture.post(TENANT, &form).await;
    assert_eq!(status, 500);
    assert_entra_error(&body, "server_error", 90033);
}

#[tokio::test]
async fn requests_are_counted_per_client() {
    let fixture = start().await;
    let assertion = service_account_token("elb-openapi-sa", 3600);
    fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    fixture
        .post(TENANT, &secret_form("wrong", STORAGE_SCOPE))
        .await;
    assert_eq!(fixture.server.request_count(), 3);
    assert_eq!(fixture.server.request_count_for(CLIENT), 2);
    assert_eq!(fixture.server.request_count_for(SECRET_CLIENT), 1);
    assert_eq!(fixture.server.tokens_issued(), 2);

    let requests = fixture.server.requests();
    assert_eq!(requests[0].method, Some(ClientAuthMethod::Assertion));
    let claims = requests[0].assertion_claims.as_ref().unwrap();
    assert_eq!(
        claims["sub"],
        "system:serviceaccount:default:elb-openapi-sa"
    );
    assert_eq!(requests[2].status, 401);
}

#[tokio::test]
async fn token_lifetime_can_be_shortened() {
    let fixture = start().await;
    fixture.server.set_token_lifetime_secs(5);
    let (status, body) = fixture
        .post(TENANT, &secret_form(SECRET, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 5);
    let claims = jwt::claims(body["access_token"].as_str().unwrap()).unwrap();
    assert!(claims["exp"].as_i64().unwrap() <= jwt::now_unix() + 5);
}

#[tokio::test]
async fn delay_holds_the_response() {
    let fixture = start().await;
    fixture.server.set_delay(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (status, _) = fixture
        .post(TENANT, &secret_form(SECRET, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 200);
    // The delay is a lower bound, so the check holds on a slow machine too.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn config_changes_apply_at_once() {
    let fixture = start().await;
    fixture.server.update_config(|config| {
        config.apps.retain(|app| app.client_id != SECRET_CLIENT);
    });
    let (status, body) = fixture
        .post(TENANT, &secret_form(SECRET, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unauthorized_client", 700016);
}

#[tokio::test]
async fn openid_configuration_points_at_server() {
    let fixture = start().await;
    let url = format!(
        "{}{TENANT}/v2.0/.well-known/openid-configuration",
        fixture.server.authority_host()
    );
    let response = fixture.client.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_endpoint"], fixture.server.token_url(TENANT));

    let url = format!(
        "{}unknown/v2.0/.well-known/openid-configuration",
        fixture.server.authority_host()
    );
    let response = fixture.client.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_entra_error(&body, "invalid_request", 90002);
}

#[tokio::test]
async fn authority_host_has_trailing_slash() {
    let fixture = start().await;
    let host = fixture.server.authority_host();
    assert!(host.starts_with("https://127.0.0.1:"));
    assert!(host.ends_with('/'));
    assert_eq!(
        fixture.server.token_url("t"),
        format!("{host}t/oauth2/v2.0/token")
    );
}

#[tokio::test]
async fn azurite_accepts_issued_token_until_expiry() {
    let fixture = start().await;
    let azurite_ca = TestCa::generate().unwrap();
    let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&azurite_ca))
        .await
        .expect("Azurite must start: run `npm ci` in the repository root");
    let storage = elb_core::tls::TlsOptions::new()
        .with_root_certificate_file(azurite_ca.cert_path())
        .unwrap()
        .apply(reqwest::Client::builder().no_proxy())
        .unwrap()
        .build()
        .unwrap();
    let list_containers = |token: String| {
        storage
            .get(format!("{}?comp=list", azurite.blob_endpoint()))
            .header("x-ms-version", "2025-11-05")
            .bearer_auth(token)
            .send()
    };

    let assertion = service_account_token("elb-openapi-sa", 3600);
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 200, "body: {body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let response = list_containers(token).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let listing = response.text().await.unwrap();
    assert!(listing.contains("<EnumerationResults"), "body: {listing}");

    fixture.server.set_token_lifetime_secs(1);
    let (status, body) = fixture
        .post(TENANT, &assertion_form(&assertion, STORAGE_SCOPE))
        .await;
    assert_eq!(status, 200, "body: {body}");
    let short_lived = body["access_token"].as_str().unwrap().to_string();
    // Azurite 3.35 allows no clock skew, so the token is expired once its `exp` second passes.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = list_containers(short_lived).await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let error = response.text().await.unwrap();
    assert!(error.contains("AuthenticationFailed"), "body: {error}");
}
