//! Shared set-up of the auth tests: a test certificate authority, the test token service with
//! a workload identity application, and a projected token file that tests can rotate.

#![allow(dead_code, unreachable_pub)]

pub mod fake_az;

use std::path::PathBuf;

use elb_core::auth::{RetryOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions};
use elb_core::tls::TlsOptions;
use elb_test_servers::entra::{AppRegistration, EntraConfig, EntraServer};
use elb_test_servers::jwt;
use elb_test_servers::tls::TestCa;

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
pub const SECRET_CLIENT_ID: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
pub const CLIENT_SECRET: &str = "Qx8~client-secret-value-that-must-not-leak";
pub const ISSUER: &str = "https://oidc.prod-aks.azure.com/elb-test-cluster/";
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

/// A running token service trusted through a test authority, and a token file.
pub struct Entra {
    pub ca: TestCa,
    pub server: EntraServer,
    pub dir: tempfile::TempDir,
    pub token_file: PathBuf,
}

impl Entra {
    /// Starts the token service with a workload identity application (federated credential
    /// for `elb-openapi-sa` in `default`) and a client secret application, and writes a valid
    /// projected token.
    pub async fn start() -> Self {
        let ca = TestCa::generate().expect("test CA");
        let config = EntraConfig::workload_identity(TENANT, CLIENT_ID, ISSUER)
            .with_app(AppRegistration::new(TENANT, SECRET_CLIENT_ID).with_secret(CLIENT_SECRET));
        let server = EntraServer::start(&ca, config)
            .await
            .expect("test token service starts");
        let dir = tempfile::tempdir().expect("temporary folder");
        let token_file = dir.path().join("azure-identity-token");
        let entra = Self {
            ca,
            server,
            dir,
            token_file,
        };
        entra.write_token("elb-openapi-sa", 3600);
        entra
    }

    /// Writes a projected token for `service_account` valid for `lifetime_secs` (negative for
    /// an expired one) and returns it.
    pub fn write_token(&self, service_account: &str, lifetime_secs: i64) -> String {
        let token =
            jwt::service_account_token(ISSUER, "default", service_account, AUDIENCE, lifetime_secs);
        std::fs::write(&self.token_file, format!("{token}\n")).expect("token file written");
        token
    }

    /// Returns TLS options that trust the test authority.
    pub fn tls(&self) -> TlsOptions {
        TlsOptions::new()
            .with_root_certificate_file(self.ca.cert_path())
            .expect("test CA certificate")
    }

    /// Returns workload identity options for this service with fast retries.
    pub fn workload_options(
        &self,
        client_id: &str,
        tenant: &str,
    ) -> WorkloadIdentityCredentialOptions {
        WorkloadIdentityCredentialOptions::new(client_id, tenant, &self.token_file)
            .with_authority_host(self.server.authority_host())
            .with_tls(self.tls())
            .with_retry(fast_retry())
    }

    /// Creates a workload identity credential for the configured application.
    pub fn workload(&self) -> WorkloadIdentityCredential {
        WorkloadIdentityCredential::new(self.workload_options(CLIENT_ID, TENANT))
            .expect("credential builds")
    }
}

/// Retries with millisecond delays, so failure tests stay short.
pub fn fast_retry() -> RetryOptions {
    RetryOptions::new(
        3,
        std::time::Duration::from_millis(10),
        std::time::Duration::from_millis(100),
    )
}

/// Returns the `exp` claim of a compact JWT.
pub fn expiry_of(token: &str) -> i64 {
    jwt::claims(token).expect("JWT")["exp"]
        .as_i64()
        .expect("numeric exp")
}
