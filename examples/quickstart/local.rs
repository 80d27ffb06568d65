//! The local stand-ins for Azure and AKS: Azurite over HTTPS with OAuth, the test Entra ID
//! token service and the test Kubernetes API server, all on 127.0.0.1 in this process.

use std::path::PathBuf;
use std::sync::Arc;

use elb_core::auth::{CredentialKind, DefaultChain};
use elb_core::env::MapEnv;
use elb_core::tls::TlsOptions;
use elb_examples::ExampleError;
use elb_test_servers::azurite::{Azurite, AzuriteMode};
use elb_test_servers::entra::{EntraConfig, EntraServer};
use elb_test_servers::jwt;
use elb_test_servers::kube::KubeApiServer;
use elb_test_servers::tls::TestCa;

/// The tenant of the test token service.
pub(crate) const TENANT: &str = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8";
/// The client id of the workload identity, as the AKS webhook injects it.
pub(crate) const CLIENT_ID: &str = "7c1e9a52-0b3d-4e6f-9a8b-1c2d3e4f5a6b";
/// The OIDC issuer of the pretend cluster, trusted by the federated credential.
pub(crate) const ISSUER: &str = "https://oidc.quickstart.invalid/elb/";
/// The namespace of the service account, job records and Jobs.
pub(crate) const NAMESPACE: &str = "default";
/// The service account that the federated credential names.
pub(crate) const SERVICE_ACCOUNT: &str = "elb-openapi-sa";
/// The audience of the projected service-account token.
pub(crate) const TOKEN_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The running servers and the pretend pod's files; dropping it stops everything.
pub(crate) struct LocalServers {
    /// The certificate authority that signed every server's certificate.
    pub(crate) ca: TestCa,
    /// The test Entra ID token service.
    pub(crate) entra: EntraServer,
    /// Azurite's blob service, over HTTPS, accepting bearer tokens.
    pub(crate) azurite: Azurite,
    /// The test Kubernetes API server with its job controller.
    pub(crate) kube: KubeApiServer,
    /// The folder of the projected service-account token.
    pub(crate) pod_files: tempfile::TempDir,
}

impl LocalServers {
    /// Starts the servers.
    ///
    /// # Errors
    ///
    /// Returns a message naming the server that did not start.
    pub(crate) async fn start() -> Result<Self, ExampleError> {
        let ca =
            TestCa::generate().map_err(|error| failed("the test certificate authority", error))?;
        let config = EntraConfig::workload_identity(TENANT, CLIENT_ID, ISSUER);
        let entra = EntraServer::start(&ca, config)
            .await
            .map_err(|error| failed("the test Entra ID token service", error))?;
        let azurite = Azurite::start(AzuriteMode::HttpsOAuth(&ca))
            .await
            .map_err(|error| failed("Azurite (run scripts/setup to install it)", error))?;
        let kube = KubeApiServer::start(&ca)
            .await
            .map_err(|error| failed("the test Kubernetes API server", error))?;
        let pod_files = tempfile::tempdir()?;
        Ok(Self {
            ca,
            entra,
            azurite,
            kube,
            pod_files,
        })
    }

    /// Returns TLS options that trust the servers' certificate authority.
    ///
    /// # Errors
    ///
    /// Returns the error of reading the authority's certificate.
    pub(crate) fn tls(&self) -> Result<TlsOptions, ExampleError> {
        Ok(TlsOptions::new().with_root_certificate_file(self.ca.cert_path())?)
    }

    /// Writes the projected service-account token that the kubelet would mount, valid for one
    /// hour, and returns its path.
    ///
    /// # Errors
    ///
    /// Returns the error of writing the file.
    pub(crate) fn write_service_account_token(&self) -> Result<PathBuf, ExampleError> {
        let token =
            jwt::service_account_token(ISSUER, NAMESPACE, SERVICE_ACCOUNT, TOKEN_AUDIENCE, 3600);
        let path = self.pod_files.path().join("azure-identity-token");
        std::fs::write(&path, token)?;
        Ok(path)
    }

    /// Builds the default chain with the variables the AKS workload identity webhook injects,
    /// from a fixed map and not the process environment. Managed identity and the Azure CLI
    /// are left out, so nothing leaves the machine.
    ///
    /// # Errors
    ///
    /// Returns the chain's configuration error.
    pub(crate) fn credential_chain(
        &self,
        token_file: &std::path::Path,
    ) -> Result<Arc<DefaultChain>, ExampleError> {
        let env = MapEnv::new()
            .with("AZURE_CLIENT_ID", CLIENT_ID)
            .with("AZURE_TENANT_ID", TENANT)
            .with("AZURE_AUTHORITY_HOST", self.entra.authority_host())
            .with(
                "AZURE_FEDERATED_TOKEN_FILE",
                token_file.display().to_string(),
            );
        let chain = DefaultChain::builder()
            .env(Arc::new(env))
            .tls(self.tls()?)
            .order([
                CredentialKind::ClientSecret,
                CredentialKind::WorkloadIdentity,
            ])
            .build()?;
        Ok(Arc::new(chain))
    }
}

fn failed(what: &str, error: std::io::Error) -> ExampleError {
    ExampleError::Other(format!("cannot start {what}: {error}"))
}
