//! Configuration from the usual environment variables, and the message that lists what is
//! missing.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use elb_core::ErrorKind;
use elb_core::auth::{CredentialKind, DefaultChain};
use elb_core::blob::{BlobAuth, BlobOptions, BlobStore, BlobUrl};
use elb_core::env::{EnvSource, ProcessEnv, non_empty};
use elb_core::k8s::{KubeconfigSource, connect_kubeconfig};
use elb_core::tls::TlsOptions;

use crate::outcome::ExampleError;

/// The credentials tried when `ELB_CREDENTIALS` is unset. Managed identity is left out so
/// that nothing probes the instance metadata address unless the user names it.
pub const DEFAULT_CREDENTIALS: &str = "client-secret,workload-identity,azure-cli";

/// Settings that an example needs and did not find, with what each one is.
#[derive(Debug, Default)]
pub struct Missing {
    example: String,
    needs: Vec<(String, String)>,
}

impl Missing {
    /// Starts an empty list for `example`.
    pub fn new(example: &str) -> Self {
        Self {
            example: example.to_owned(),
            needs: Vec::new(),
        }
    }

    /// Adds a missing setting and what it is.
    pub fn need(mut self, setting: &str, meaning: &str) -> Self {
        self.needs.push((setting.to_owned(), meaning.to_owned()));
        self
    }

    /// Returns `Ok(())` when nothing is missing, and the list otherwise.
    ///
    /// # Errors
    ///
    /// Returns the list as [`ExampleError::Missing`] when it is not empty.
    pub fn check(self) -> Result<(), ExampleError> {
        if self.needs.is_empty() {
            Ok(())
        } else {
            Err(ExampleError::Missing(self))
        }
    }
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: missing configuration, so nothing was sent. It needs:",
            self.example
        )?;
        for (setting, meaning) in &self.needs {
            writeln!(f, "  {setting}: {meaning}")?;
        }
        write!(
            f,
            "See the comment at the top of examples/{}.rs, or run scripts/quickstart to see \
             the whole flow on local servers.",
            self.example
        )
    }
}

/// Returns the value of a non-empty environment variable.
pub fn var(name: &str) -> Option<String> {
    non_empty(&ProcessEnv, name)
}

/// Returns TLS options with the roots of `SSL_CERT_FILE`, when it is set.
///
/// # Errors
///
/// Returns the error of an unreadable certificate file.
pub fn tls_from_env() -> Result<TlsOptions, ExampleError> {
    Ok(TlsOptions::from_env(&ProcessEnv)?)
}

/// Parses `ELB_CREDENTIALS` (or [`DEFAULT_CREDENTIALS`]) into credential kinds.
///
/// # Errors
///
/// Returns [`ExampleError::Other`] naming an unknown credential.
pub fn credential_kinds(env: &dyn EnvSource) -> Result<Vec<CredentialKind>, ExampleError> {
    let list = non_empty(env, "ELB_CREDENTIALS").unwrap_or_else(|| DEFAULT_CREDENTIALS.to_owned());
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| match name {
            "client-secret" => Ok(CredentialKind::ClientSecret),
            "workload-identity" => Ok(CredentialKind::WorkloadIdentity),
            "managed-identity" => Ok(CredentialKind::ManagedIdentity),
            "azure-cli" => Ok(CredentialKind::AzureCli),
            other => Err(ExampleError::Other(format!(
                "invalid ELB_CREDENTIALS entry {other:?}: use client-secret, \
                 workload-identity, managed-identity or azure-cli, separated by commas"
            ))),
        })
        .collect()
}

/// Builds the default chain with the credentials of `ELB_CREDENTIALS`, in that order.
///
/// # Errors
///
/// Returns an invalid `ELB_CREDENTIALS` entry, or the chain's error for a half-configured
/// credential.
pub fn credential_chain() -> Result<Arc<DefaultChain>, ExampleError> {
    let kinds = credential_kinds(&ProcessEnv)?;
    let mut builder = DefaultChain::builder().order(kinds);
    if let Some(endpoint) = var("ELB_IMDS_ENDPOINT") {
        builder = builder.imds_endpoint(endpoint);
    }
    Ok(Arc::new(builder.build()?))
}

/// The blob store of the examples and the authorization it uses.
#[derive(Debug)]
pub struct StorageSettings {
    /// The account URL, without a SAS.
    pub account_url: String,
    /// The name of the authorization used, for messages: `sas`, `shared-key` or `credential`.
    pub auth_kind: &'static str,
    /// The credential chain, when bearer tokens authorize the requests.
    pub chain: Option<Arc<DefaultChain>>,
    /// The store.
    pub store: BlobStore,
}

/// Reads `ELB_STORAGE_URL` and its authorization (a SAS, `AZURE_STORAGE_KEY`, or else the
/// credential chain) and builds the store.
///
/// # Errors
///
/// Returns [`ExampleError::Missing`] when `ELB_STORAGE_URL` is unset, and the store's
/// error for an invalid URL or key.
pub fn storage(example: &str) -> Result<StorageSettings, ExampleError> {
    let Some(url) = var("ELB_STORAGE_URL") else {
        return Err(Missing::new(example)
            .need(
                "ELB_STORAGE_URL",
                "the storage account URL, such as https://<account>.blob.core.windows.net",
            )
            .need(
                "and one of",
                "ELB_STORAGE_SAS (a SAS query), AZURE_STORAGE_KEY (the account key), or \
                 Entra ID settings for ELB_CREDENTIALS (AZURE_CLIENT_ID, AZURE_TENANT_ID and \
                 AZURE_CLIENT_SECRET or AZURE_FEDERATED_TOKEN_FILE, or `az login`)",
            )
            .into());
    };
    let parsed = BlobUrl::parse(&url)?;
    let options = BlobOptions {
        tls: tls_from_env()?,
        ..BlobOptions::default()
    };
    let mut chain = None;
    let auth = if let Some(sas) = var("ELB_STORAGE_SAS") {
        BlobAuth::sas(sas)
    } else if parsed.sas().is_some() {
        BlobAuth::Anonymous
    } else if let Some(key) = var("AZURE_STORAGE_KEY") {
        let account = parsed
            .account()
            .map(str::to_owned)
            .or_else(|| var("AZURE_STORAGE_ACCOUNT"))
            .ok_or_else(|| {
                Missing::new(example).need(
                    "AZURE_STORAGE_ACCOUNT",
                    "the account name, which this URL does not show",
                )
            })?;
        BlobAuth::shared_key(account, key)
    } else {
        let built = credential_chain()?;
        chain = Some(built.clone());
        BlobAuth::Credential(built)
    };
    let auth_kind = auth.kind_name();
    let store = BlobStore::from_url(&parsed, auth, options)?;
    Ok(StorageSettings {
        account_url: store
            .account_url()
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        auth_kind,
        chain,
        store,
    })
}

/// Returns the namespace of `ELB_NAMESPACE`, `default` when unset.
pub fn namespace() -> String {
    var("ELB_NAMESPACE").unwrap_or_else(|| "default".to_owned())
}

/// Returns the kubeconfig path: the first entry of `KUBECONFIG`, or `~/.kube/config` when
/// that file exists.
pub fn kubeconfig_path() -> Option<PathBuf> {
    if let Some(path) = kubeconfig_env_path() {
        return Some(path);
    }
    let home = std::env::var_os("HOME").filter(|value| !value.is_empty())?;
    let path = PathBuf::from(home).join(".kube").join("config");
    path.is_file().then_some(path)
}

/// Returns the first entry of `KUBECONFIG`, when it is set.
fn kubeconfig_env_path() -> Option<PathBuf> {
    let list = std::env::var_os("KUBECONFIG").filter(|value| !value.is_empty())?;
    std::env::split_paths(&list).next()
}

/// Connects to the cluster of the kubeconfig, with the context of `ELB_KUBE_CONTEXT` or the
/// current one.
///
/// # Errors
///
/// Returns [`ExampleError::Missing`] when there is no kubeconfig, [`ExampleError::Other`]
/// when `KUBECONFIG` names a file that does not exist, and the connection error for an
/// unreadable one.
pub async fn kube_client(example: &str) -> Result<kube::Client, ExampleError> {
    let Some(path) = kubeconfig_path() else {
        return Err(Missing::new(example)
            .need(
                "KUBECONFIG",
                "a kubeconfig of the AKS cluster (`az aks get-credentials` writes \
                 ~/.kube/config, which is used when KUBECONFIG is unset)",
            )
            .into());
    };
    let context = var("ELB_KUBE_CONTEXT");
    let source = KubeconfigSource::Path(path.clone());
    match connect_kubeconfig(&source, context.as_deref()).await {
        Ok(client) => Ok(client),
        Err(error)
            if error.kind() == ErrorKind::NotFound
                && kubeconfig_env_path().as_ref() == Some(&path) =>
        {
            Err(ExampleError::Other(format!(
                "kubeconfig file {} named by KUBECONFIG not found: set KUBECONFIG to the \
                 kubeconfig of the AKS cluster, or unset it to use ~/.kube/config, which \
                 `az aks get-credentials` writes",
                path.display()
            )))
        }
        Err(error) => Err(error.into()),
    }
}

/// Splits `<container>[/<prefix>]` into the container and the prefix.
///
/// # Errors
///
/// Returns [`ExampleError::Other`] for an empty container.
pub fn split_location(location: &str) -> Result<(String, String), ExampleError> {
    let trimmed = location.trim_matches('/');
    let (container, prefix) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    if container.is_empty() {
        return Err(ExampleError::Other(format!(
            "invalid blob location {location:?}: expected <container> or <container>/<prefix>"
        )));
    }
    Ok((container.to_owned(), prefix.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use elb_core::env::MapEnv;

    #[test]
    fn default_credentials_leave_out_managed_identity() {
        let kinds = credential_kinds(&MapEnv::new()).unwrap();
        assert_eq!(
            kinds,
            vec![
                CredentialKind::ClientSecret,
                CredentialKind::WorkloadIdentity,
                CredentialKind::AzureCli
            ]
        );
    }

    #[test]
    fn credential_list_is_parsed_in_order() {
        let env = MapEnv::new().with("ELB_CREDENTIALS", " managed-identity, client-secret ");
        let kinds = credential_kinds(&env).unwrap();
        assert_eq!(
            kinds,
            vec![
                CredentialKind::ManagedIdentity,
                CredentialKind::ClientSecret
            ]
        );
        let env = MapEnv::new().with("ELB_CREDENTIALS", "workload,imds");
        let error = credential_kinds(&env).unwrap_err();
        assert!(error.to_string().contains("\"workload\""), "{error}");
    }

    #[test]
    fn locations_split_into_container_and_prefix() {
        let (container, prefix) = split_location("results/0a1b/job-1/").unwrap();
        assert_eq!(container, "results");
        assert_eq!(prefix, "0a1b/job-1");
        let (container, prefix) = split_location("queries").unwrap();
        assert_eq!(container, "queries");
        assert_eq!(prefix, "");
        assert!(split_location("/").is_err());
    }

    #[test]
    fn missing_message_lists_each_setting() {
        let message = Missing::new("upload")
            .need("ELB_STORAGE_URL", "the account URL")
            .to_string();
        assert!(
            message.contains("upload: missing configuration"),
            "{message}"
        );
        assert!(
            message.contains("  ELB_STORAGE_URL: the account URL"),
            "{message}"
        );
    }
}
