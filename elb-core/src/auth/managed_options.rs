//! Managed identity endpoints, user-assigned identity ids and the credential settings read
//! from the environment.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use super::managed_retry::ManagedIdentityRetry;
use crate::env::{EnvSource, non_empty};
use crate::tls::TlsOptions;
use crate::{Error, Result};

/// The IMDS token endpoint of Azure virtual machines and AKS nodes.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// The endpoint that issues managed identity tokens.
#[derive(Clone)]
pub enum ManagedIdentitySource {
    /// The Azure Instance Metadata Service, with header `Metadata: true`.
    Imds {
        /// The token endpoint URL.
        endpoint: Url,
    },
    /// The App Service, Functions and Container Apps endpoint (`IDENTITY_ENDPOINT`), with
    /// header `X-IDENTITY-HEADER`.
    AppService {
        /// The token endpoint URL (`IDENTITY_ENDPOINT`).
        endpoint: Url,
        /// The value of `IDENTITY_HEADER`, a secret.
        header: SecretString,
    },
}

impl fmt::Debug for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Imds { endpoint } => f
                .debug_struct("Imds")
                .field("endpoint", &endpoint.as_str())
                .finish(),
            Self::AppService { endpoint, .. } => f
                .debug_struct("AppService")
                .field("endpoint", &endpoint.as_str())
                .finish_non_exhaustive(),
        }
    }
}

impl ManagedIdentitySource {
    /// Creates an IMDS source from a host such as `http://127.0.0.1:8080` (the IMDS path is
    /// appended) or from a full token endpoint URL.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when `endpoint` is not an HTTP(S) URL.
    pub fn imds(endpoint: &str) -> Result<Self> {
        let mut url = parse_endpoint(endpoint, "IMDS endpoint")?;
        if url.path().is_empty() || url.path() == "/" {
            url.set_path(IMDS_PATH);
        }
        Ok(Self::Imds { endpoint: url })
    }

    /// Creates an App Service source from `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` values.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when `endpoint` is not an HTTP(S) URL.
    pub fn app_service(endpoint: &str, header: SecretString) -> Result<Self> {
        let endpoint = parse_endpoint(endpoint, "IDENTITY_ENDPOINT")?;
        Ok(Self::AppService { endpoint, header })
    }

    pub(crate) fn endpoint(&self) -> &Url {
        match self {
            Self::Imds { endpoint } | Self::AppService { endpoint, .. } => endpoint,
        }
    }
}

fn parse_endpoint(value: &str, name: &str) -> Result<Url> {
    let url = Url::parse(value.trim()).map_err(|error| {
        Error::invalid_input(format!(
            "{name} {value:?} is not a URL: pass http://host:port"
        ))
        .with_source(error)
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid_input(format!(
            "{name} {value} must use http:// or https://"
        )));
    }
    Ok(url)
}

/// A user-assigned identity to request instead of the system-assigned one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAssignedId {
    /// The client (application) id of the identity.
    ClientId(String),
    /// The object (principal) id of the identity.
    ObjectId(String),
    /// The Azure resource id of the identity.
    ResourceId(String),
}

impl UserAssignedId {
    /// Returns the query parameter that names this identity at `source`.
    pub(crate) fn query_pair(&self, source: &ManagedIdentitySource) -> (&'static str, &str) {
        let imds = matches!(source, ManagedIdentitySource::Imds { .. });
        match self {
            Self::ClientId(id) => ("client_id", id),
            Self::ObjectId(id) if imds => ("object_id", id),
            Self::ObjectId(id) => ("principal_id", id),
            Self::ResourceId(id) if imds => ("msi_res_id", id),
            Self::ResourceId(id) => ("mi_res_id", id),
        }
    }
}

/// Settings of a [`ManagedIdentityCredential`].
#[derive(Clone, Debug)]
pub struct ManagedIdentityCredentialOptions {
    /// The endpoint that issues tokens.
    pub source: ManagedIdentitySource,
    /// The user-assigned identity to request; `None` requests the system-assigned identity.
    pub user_assigned_id: Option<UserAssignedId>,
    /// Extra root certificates, for an HTTPS endpoint.
    pub tls: TlsOptions,
    /// Retries and the connect timeout.
    pub retry: ManagedIdentityRetry,
}

impl ManagedIdentityCredentialOptions {
    /// Creates options for `source` and the system-assigned identity.
    pub fn new(source: ManagedIdentitySource) -> Self {
        Self {
            source,
            user_assigned_id: None,
            tls: TlsOptions::default(),
            retry: ManagedIdentityRetry::default(),
        }
    }

    /// Sets the user-assigned identity to request.
    pub fn with_user_assigned_id(mut self, id: UserAssignedId) -> Self {
        self.user_assigned_id = Some(id);
        self
    }

    /// Sets the TLS trust of the endpoint client.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the retries and the connect timeout.
    pub fn with_retry(mut self, retry: ManagedIdentityRetry) -> Self {
        self.retry = retry;
        self
    }

    /// Chooses the source from the environment: `IDENTITY_ENDPOINT` with `IDENTITY_HEADER`
    /// selects the App Service endpoint; otherwise IMDS at `imds_endpoint`, else at
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else at `169.254.169.254`.
    ///
    /// `AZURE_CLIENT_ID` is not read, because in a workload identity pod it names the
    /// federated identity, not a managed identity of the node.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when `IDENTITY_ENDPOINT` is set without
    /// `IDENTITY_HEADER` (Azure Arc and Service Fabric endpoints are not supported) or an
    /// endpoint is not a URL.
    pub fn from_env(
        env: &dyn EnvSource,
        tls: TlsOptions,
        imds_endpoint: Option<&str>,
    ) -> Result<Self> {
        let source = match (
            non_empty(env, "IDENTITY_ENDPOINT"),
            non_empty(env, "IDENTITY_HEADER"),
        ) {
            (Some(endpoint), Some(header)) => {
                ManagedIdentitySource::app_service(&endpoint, SecretString::from(header))?
            }
            (Some(endpoint), None) => {
                return Err(Error::invalid_input(format!(
                    "IDENTITY_ENDPOINT is set ({endpoint}) but IDENTITY_HEADER is not: only the \
                     App Service, Functions and Container Apps endpoint is supported"
                )));
            }
            (None, _) => {
                let host = imds_endpoint
                    .map(str::to_string)
                    .or_else(|| non_empty(env, "AZURE_POD_IDENTITY_AUTHORITY_HOST"))
                    .unwrap_or_else(|| DEFAULT_IMDS_ENDPOINT.to_string());
                ManagedIdentitySource::imds(&host)?
            }
        };
        Ok(Self::new(source).with_tls(tls))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[test]
    fn imds_host_gets_token_path() {
        let source = ManagedIdentitySource::imds("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            source.endpoint().as_str(),
            "http://127.0.0.1:8080/metadata/identity/oauth2/token"
        );
        let full = ManagedIdentitySource::imds("http://127.0.0.1:8080/custom/token").unwrap();
        assert_eq!(
            full.endpoint().as_str(),
            "http://127.0.0.1:8080/custom/token"
        );
        assert!(ManagedIdentitySource::imds("ftp://x").is_err());
    }

    #[test]
    fn env_selects_source() {
        let app = MapEnv::new()
            .with("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token")
            .with("IDENTITY_HEADER", "header-secret-value");
        let options =
            ManagedIdentityCredentialOptions::from_env(&app, TlsOptions::new(), None).unwrap();
        assert!(matches!(
            options.source,
            ManagedIdentitySource::AppService { .. }
        ));
        assert!(!format!("{options:?}").contains("header-secret-value"));

        let pod = MapEnv::new().with("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9");
        let options =
            ManagedIdentityCredentialOptions::from_env(&pod, TlsOptions::new(), None).unwrap();
        assert_eq!(
            options.source.endpoint().as_str(),
            "http://127.0.0.1:9/metadata/identity/oauth2/token"
        );

        let explicit = ManagedIdentityCredentialOptions::from_env(
            &pod,
            TlsOptions::new(),
            Some("http://127.0.0.1:7"),
        )
        .unwrap();
        assert_eq!(explicit.source.endpoint().port(), Some(7));

        let half = MapEnv::new().with("IDENTITY_ENDPOINT", "http://127.0.0.1:41000/msi/token");
        let error =
            ManagedIdentityCredentialOptions::from_env(&half, TlsOptions::new(), None).unwrap_err();
        assert!(error.to_string().contains("IDENTITY_HEADER"));
    }
}
