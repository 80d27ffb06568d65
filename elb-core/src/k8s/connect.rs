//! Building a kube [`Client`]: in-cluster, from a kubeconfig, or for an Entra-enabled AKS
//! cluster with tokens from an Entra ID credential (no `kubelogin`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use kube::client::ClientBuilder;
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tower::buffer::BufferLayer;

use crate::auth::AKS_SCOPE;
use crate::env::{EnvSource, non_empty};
use crate::k8s::bearer::{BearerLayer, BearerSource};
use crate::{Error, ErrorKind, Result};

/// Maximum number of requests waiting for the shared service stack of a bearer-token client.
const BUFFER_BOUND: usize = 1024;

/// The files of an in-cluster service account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InClusterPaths {
    /// The projected service-account token, rotated by the kubelet.
    pub token_file: PathBuf,
    /// The API server's CA bundle.
    pub ca_file: PathBuf,
}

impl Default for InClusterPaths {
    fn default() -> Self {
        let dir = Path::new("/var/run/secrets/kubernetes.io/serviceaccount");
        Self {
            token_file: dir.join("token"),
            ca_file: dir.join("ca.crt"),
        }
    }
}

/// A kubeconfig given as a file or as its YAML text.
///
/// `Debug` prints the path or the length of the text, because the text may contain tokens.
#[derive(Clone)]
pub enum KubeconfigSource {
    /// A kubeconfig file.
    Path(PathBuf),
    /// The YAML text of a kubeconfig.
    Yaml(String),
}

impl std::fmt::Debug for KubeconfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(path) => f.debug_tuple("Path").field(path).finish(),
            Self::Yaml(text) => write!(f, "Yaml({} bytes)", text.len()),
        }
    }
}

/// Connects from inside a pod, with `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`
/// read from `env` and the service account's files at `paths`.
///
/// The token file is read again for every request, so a token the kubelet rotated is used
/// at once. kube's own in-cluster configuration also reloads the file, but caches it for up
/// to a minute (kube-client 5.0), and a revoked token would be sent during that minute.
///
/// # Errors
///
/// Returns [`ErrorKind::Unavailable`] when the variables are unset, and
/// [`ErrorKind::InvalidInput`] when they or the CA file are invalid.
pub async fn connect_in_cluster(env: &dyn EnvSource, paths: &InClusterPaths) -> Result<Client> {
    let host = non_empty(env, "KUBERNETES_SERVICE_HOST");
    let port = non_empty(env, "KUBERNETES_SERVICE_PORT");
    let (Some(host), Some(port)) = (host, port) else {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and \
             KUBERNETES_SERVICE_PORT must both be set",
        ));
    };
    let port: u16 = port.trim().parse().map_err(|_| {
        Error::invalid_input(format!(
            "invalid KUBERNETES_SERVICE_PORT {port:?}: expected a port number"
        ))
    })?;
    let host = host.trim();
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let url = format!("https://{authority}");
    let uri: http::Uri = url.parse().map_err(|_| {
        Error::invalid_input(format!(
            "invalid KUBERNETES_SERVICE_HOST {host:?}: {url} is not a valid URL"
        ))
    })?;

    let mut config = Config::new(uri);
    config.root_cert = Some(read_ca_bundle(&paths.ca_file)?);
    config.root_cert_file = Some(paths.ca_file.clone());
    if !paths.token_file.is_file() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            format!(
                "service-account token file {} not found: mount the service account token",
                paths.token_file.display()
            ),
        ));
    }
    build(config, Some(BearerSource::File(paths.token_file.clone()))).await
}

/// Connects with a kubeconfig, using `context` or the current context.
///
/// # Errors
///
/// Returns [`ErrorKind::NotFound`] when the kubeconfig file does not exist, and
/// [`ErrorKind::InvalidInput`] when it cannot be read or lacks the context.
pub async fn connect_kubeconfig(
    source: &KubeconfigSource,
    context: Option<&str>,
) -> Result<Client> {
    let config = load_kubeconfig(source, context).await?;
    build(config, None).await
}

/// Connects to an Entra-enabled AKS cluster: the server and CA come from the kubeconfig,
/// and every request carries a token that `credential` issues for the AKS server application
/// (`6dae42f8-4368-4678-94ff-3960e28e3630/.default`).
///
/// The kubeconfig's user entry (normally a `kubelogin` exec plugin) is ignored. A token is
/// reused until five minutes before it expires.
///
/// # Errors
///
/// Returns [`ErrorKind::NotFound`] when the kubeconfig file does not exist, and
/// [`ErrorKind::InvalidInput`] when it cannot be read or lacks the context. Token failures
/// surface on the first request as [`ErrorKind::Authentication`].
pub async fn connect_entra(
    source: &KubeconfigSource,
    context: Option<&str>,
    credential: Arc<dyn TokenCredential>,
) -> Result<Client> {
    let mut config = load_kubeconfig(source, context).await?;
    config.auth_info = AuthInfo::default();
    build(
        config,
        Some(BearerSource::credential(credential, AKS_SCOPE)),
    )
    .await
}

async fn load_kubeconfig(source: &KubeconfigSource, context: Option<&str>) -> Result<Config> {
    let (kubeconfig, origin) = match source {
        KubeconfigSource::Path(path) => (
            Kubeconfig::read_from(path),
            format!("kubeconfig {}", path.display()),
        ),
        KubeconfigSource::Yaml(text) => (Kubeconfig::from_yaml(text), "kubeconfig text".to_owned()),
    };
    let kubeconfig = kubeconfig.map_err(|source| match &source {
        KubeconfigError::ReadConfig(io, path) if io.kind() == std::io::ErrorKind::NotFound => {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "kubeconfig file {} not found: pass the path of an existing kubeconfig, \
                     such as the ~/.kube/config that `az aks get-credentials` writes",
                    path.display()
                ),
            )
        }
        _ => Error::invalid_input(format!(
            "cannot read {origin}: check that it is a valid kubeconfig"
        ))
        .with_source(source),
    })?;
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|source| {
            let context_name = context.unwrap_or("the current context");
            Error::invalid_input(format!("cannot use {context_name} of {origin}"))
                .with_source(source)
        })
}

fn read_ca_bundle(path: &Path) -> Result<Vec<Vec<u8>>> {
    let pem = std::fs::read(path).map_err(|source| {
        Error::new(
            ErrorKind::Unavailable,
            format!("cannot read the cluster CA bundle {}", path.display()),
        )
        .with_source(source)
    })?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
        .map(|cert| cert.map(|cert| cert.to_vec()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|source| {
            Error::invalid_input(format!(
                "invalid PEM in the cluster CA bundle {}",
                path.display()
            ))
            .with_source(source)
        })?;
    if certs.is_empty() {
        return Err(Error::invalid_input(format!(
            "the cluster CA bundle {} contains no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

async fn build(config: Config, bearer: Option<BearerSource>) -> Result<Client> {
    crate::tls::install_crypto_provider();
    let builder = ClientBuilder::try_from(config).map_err(|source| {
        Error::invalid_input("cannot build a Kubernetes client from the configuration")
            .with_source(source)
    })?;
    let Some(source) = bearer else {
        return Ok(builder.build());
    };
    // kube's stack is a BoxService, which cannot be cloned. The buffer makes it shareable,
    // so the bearer layer can fetch a token asynchronously before forwarding each request.
    Ok(builder
        .with_layer(&BufferLayer::new(BUFFER_BOUND))
        .with_layer(&BearerLayer::new(source))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::MapEnv;

    #[tokio::test]
    async fn in_cluster_requires_both_variables() {
        let env = MapEnv::new().with("KUBERNETES_SERVICE_HOST", "127.0.0.1");
        let error = connect_in_cluster(&env, &InClusterPaths::default())
            .await
            .err()
            .expect("connect fails");
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(
            error.message().contains("KUBERNETES_SERVICE_PORT"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn in_cluster_rejects_bad_port() {
        let env = MapEnv::new()
            .with("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .with("KUBERNETES_SERVICE_PORT", "https");
        let error = connect_in_cluster(&env, &InClusterPaths::default())
            .await
            .err()
            .expect("connect fails");
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.message().contains("\"https\""), "{error}");
    }

    #[test]
    fn kubeconfig_debug_hides_text() {
        let source = KubeconfigSource::Yaml("users:\n- user:\n    token: secret-token\n".into());
        let printed = format!("{source:?}");
        assert!(!printed.contains("secret-token"), "{printed}");
        assert_eq!(printed, "Yaml(39 bytes)");
    }

    #[tokio::test]
    async fn missing_kubeconfig_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nonexistent");
        let error = connect_kubeconfig(&KubeconfigSource::Path(path.clone()), None)
            .await
            .err()
            .expect("connect fails");
        assert_eq!(error.kind(), ErrorKind::NotFound);
        let expected = format!("kubeconfig file {} not found:", path.display());
        assert!(error.message().starts_with(&expected), "{error}");
        assert!(!error.message().contains("valid kubeconfig"), "{error}");
    }

    #[tokio::test]
    async fn kubeconfig_without_context_is_invalid_input() {
        let source = KubeconfigSource::Yaml("apiVersion: v1\nkind: Config\n".into());
        let error = connect_kubeconfig(&source, Some("missing"))
            .await
            .err()
            .expect("connect fails");
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.message().contains("missing"), "{error}");
    }
}
