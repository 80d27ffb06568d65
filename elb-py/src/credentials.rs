//! The concrete elb_py credentials: client secret, workload identity, managed identity,
//! Azure CLI and the default chain, each a subclass of `Credential`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use elb_core::auth::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, CredentialKind, DefaultChain, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, ManagedIdentityRetry, ManagedIdentitySource, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use pyo3::prelude::*;
use secrecy::SecretString;

use crate::auth::{Credential, Inner, entra_retry, subclass};
use crate::convert::{environment, invalid_input, seconds, tls_options};
use crate::errors;

/// A credential for an Entra ID application with a client secret.
#[pyclass(extends = Credential, frozen, name = "ClientSecretCredential", module = "elb_py._native")]
pub(crate) struct ClientSecretCredentialPy;

#[pymethods]
impl ClientSecretCredentialPy {
    #[new]
    #[pyo3(signature = (tenant_id, client_id, client_secret, *, authority_host = None, ca_file = None, max_retries = None))]
    fn new(
        py: Python<'_>,
        tenant_id: String,
        client_id: String,
        client_secret: String,
        authority_host: Option<String>,
        ca_file: Option<PathBuf>,
        max_retries: Option<u32>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let env = environment(None);
        let mut options = ClientSecretCredentialOptions::new(
            client_id,
            tenant_id,
            SecretString::from(client_secret),
        )
        .with_tls(tls_options(py, ca_file, &env)?)
        .with_retry(entra_retry(max_retries));
        if let Some(host) = authority_host {
            options = options.with_authority_host(host);
        }
        subclass(py, Self, move || {
            let credential = ClientSecretCredential::new(options.clone())?;
            Ok(Inner::ClientSecret(Arc::new(credential)))
        })
    }
}

/// A credential that exchanges an AKS projected service-account token (workload identity).
#[pyclass(extends = Credential, frozen, name = "WorkloadIdentityCredential", module = "elb_py._native")]
pub(crate) struct WorkloadIdentityCredentialPy;

#[pymethods]
impl WorkloadIdentityCredentialPy {
    #[new]
    #[pyo3(signature = (*, tenant_id = None, client_id = None, token_file = None, authority_host = None, ca_file = None, max_retries = None, env = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        tenant_id: Option<String>,
        client_id: Option<String>,
        token_file: Option<PathBuf>,
        authority_host: Option<String>,
        ca_file: Option<PathBuf>,
        max_retries: Option<u32>,
        env: Option<HashMap<String, String>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let env = environment(env);
        let tls = tls_options(py, ca_file, &env)?;
        let from_env = WorkloadIdentityCredentialOptions::from_env(env.as_ref(), tls.clone())
            .map_err(|e| errors::to_pyerr(py, &e))?;

        let mut options = match (tenant_id, client_id, token_file, from_env) {
            (Some(tenant), Some(client), Some(file), _) => {
                WorkloadIdentityCredentialOptions::new(client, tenant, file).with_tls(tls)
            }
            (tenant, client, file, Some(mut options)) => {
                if let Some(tenant) = tenant {
                    options.tenant_id = tenant;
                }
                if let Some(client) = client {
                    options.client_id = client;
                }
                if let Some(file) = file {
                    options.token_file = file;
                }
                options
            }
            (tenant, client, file, None) => {
                let missing: Vec<&str> = [
                    ("tenant_id", tenant.is_none()),
                    ("client_id", client.is_none()),
                    ("token_file", file.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, is_missing)| is_missing.then_some(name))
                .collect();
                return Err(invalid_input(
                    py,
                    format!(
                        "workload identity is not configured: pass {} or set \
                         AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID",
                        missing.join(", ")
                    ),
                ));
            }
        };
        if let Some(host) = authority_host {
            options = options.with_authority_host(host);
        }
        options = options.with_retry(entra_retry(max_retries));
        subclass(py, Self, move || {
            let credential = WorkloadIdentityCredential::new(options.clone())?;
            Ok(Inner::WorkloadIdentity(Arc::new(credential)))
        })
    }
}

/// Returns the user-assigned identity named by at most one of the three ids.
fn user_assigned_id(
    py: Python<'_>,
    client_id: Option<String>,
    object_id: Option<String>,
    resource_id: Option<String>,
) -> PyResult<Option<UserAssignedId>> {
    match (client_id, object_id, resource_id) {
        (None, None, None) => Ok(None),
        (Some(id), None, None) => Ok(Some(UserAssignedId::ClientId(id))),
        (None, Some(id), None) => Ok(Some(UserAssignedId::ObjectId(id))),
        (None, None, Some(id)) => Ok(Some(UserAssignedId::ResourceId(id))),
        _ => Err(invalid_input(
            py,
            "more than one of client_id, object_id and resource_id was given: pass one to \
             select a user-assigned identity, or none for the system-assigned identity",
        )),
    }
}

/// A credential for the managed identity of the Azure resource the code runs on.
#[pyclass(extends = Credential, frozen, name = "ManagedIdentityCredential", module = "elb_py._native")]
pub(crate) struct ManagedIdentityCredentialPy;

#[pymethods]
impl ManagedIdentityCredentialPy {
    #[new]
    #[pyo3(signature = (*, client_id = None, object_id = None, resource_id = None, endpoint = None, identity_header = None, connect_timeout = None, max_retries = None, env = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        client_id: Option<String>,
        object_id: Option<String>,
        resource_id: Option<String>,
        endpoint: Option<String>,
        identity_header: Option<String>,
        connect_timeout: Option<f64>,
        max_retries: Option<u32>,
        env: Option<HashMap<String, String>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let to_py = |e: elb_core::Error| errors::to_pyerr(py, &e);
        let env = environment(env);
        let tls = tls_options(py, None, &env)?;
        let mut options = match (endpoint, identity_header) {
            (Some(endpoint), Some(header)) => ManagedIdentityCredentialOptions::new(
                ManagedIdentitySource::app_service(&endpoint, SecretString::from(header))
                    .map_err(to_py)?,
            )
            .with_tls(tls),
            (Some(endpoint), None) => ManagedIdentityCredentialOptions::new(
                ManagedIdentitySource::imds(&endpoint).map_err(to_py)?,
            )
            .with_tls(tls),
            (None, Some(_)) => {
                return Err(invalid_input(
                    py,
                    "identity_header was given without endpoint: pass the IDENTITY_ENDPOINT \
                     value as endpoint too",
                ));
            }
            (None, None) => ManagedIdentityCredentialOptions::from_env(env.as_ref(), tls, None)
                .map_err(to_py)?,
        };
        if let Some(id) = user_assigned_id(py, client_id, object_id, resource_id)? {
            options = options.with_user_assigned_id(id);
        }
        let mut retry = ManagedIdentityRetry::default();
        if let Some(retries) = max_retries {
            retry.max_retries = retries;
        }
        if let Some(timeout) = connect_timeout {
            retry.connect_timeout = seconds(py, "connect_timeout", timeout)?;
        }
        options = options.with_retry(retry);
        subclass(py, Self, move || {
            let credential = ManagedIdentityCredential::new(options.clone())?;
            Ok(Inner::ManagedIdentity(Arc::new(credential)))
        })
    }

    /// The token endpoint that requests go to.
    #[getter]
    fn endpoint(self_: PyRef<'_, Self>) -> String {
        self_.as_super().peek(self_.py(), |inner| match inner {
            Inner::ManagedIdentity(credential) => credential.endpoint().to_owned(),
            _ => String::new(),
        })
    }
}

/// A credential that runs `az account get-access-token`.
#[pyclass(extends = Credential, frozen, name = "AzureCliCredential", module = "elb_py._native")]
pub(crate) struct AzureCliCredentialPy;

#[pymethods]
impl AzureCliCredentialPy {
    #[new]
    #[pyo3(signature = (*, program = None, tenant_id = None, timeout = None))]
    fn new(
        py: Python<'_>,
        program: Option<PathBuf>,
        tenant_id: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let mut options = AzureCliCredentialOptions::default();
        if let Some(program) = program {
            options = options.with_program(program);
        }
        if let Some(tenant) = tenant_id {
            options = options.with_tenant_id(tenant);
        }
        if let Some(timeout) = timeout {
            options = options.with_timeout(seconds(py, "timeout", timeout)?);
        }
        subclass(py, Self, move || {
            let credential = AzureCliCredential::new(options.clone())?;
            Ok(Inner::AzureCli(Arc::new(credential)))
        })
    }
}

/// Returns the credential kind named `name` in Python, such as `"managed_identity"`.
fn credential_kind(py: Python<'_>, name: &str) -> PyResult<CredentialKind> {
    match name {
        "client_secret" => Ok(CredentialKind::ClientSecret),
        "workload_identity" => Ok(CredentialKind::WorkloadIdentity),
        "managed_identity" => Ok(CredentialKind::ManagedIdentity),
        "azure_cli" => Ok(CredentialKind::AzureCli),
        other => Err(invalid_input(
            py,
            format!(
                "unknown credential {other:?}: use client_secret, workload_identity, \
                 managed_identity or azure_cli"
            ),
        )),
    }
}

/// The default chain: client secret, workload identity, managed identity, Azure CLI.
#[pyclass(extends = Credential, frozen, name = "DefaultChain", module = "elb_py._native")]
pub(crate) struct DefaultChainPy;

#[pymethods]
impl DefaultChainPy {
    #[new]
    #[pyo3(signature = (*, env = None, ca_file = None, imds_endpoint = None, exclude = None, managed_identity_client_id = None, azure_cli_program = None, max_retries = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        env: Option<HashMap<String, String>>,
        ca_file: Option<PathBuf>,
        imds_endpoint: Option<String>,
        exclude: Option<Vec<String>>,
        managed_identity_client_id: Option<String>,
        azure_cli_program: Option<PathBuf>,
        max_retries: Option<u32>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let env = environment(env);
        let tls = tls_options(py, ca_file, &env)?;
        let excluded = exclude
            .unwrap_or_default()
            .iter()
            .map(|name| credential_kind(py, name))
            .collect::<PyResult<Vec<_>>>()?;
        // The builder is consumed by `build`, so each build starts a new one from these
        // settings.
        subclass(py, Self, move || {
            let mut builder = DefaultChain::builder().env(env.clone()).tls(tls.clone());
            if let Some(endpoint) = &imds_endpoint {
                builder = builder.imds_endpoint(endpoint);
            }
            for kind in &excluded {
                builder = builder.exclude(*kind);
            }
            if let Some(id) = &managed_identity_client_id {
                builder = builder.managed_identity_id(UserAssignedId::ClientId(id.clone()));
            }
            if let Some(program) = &azure_cli_program {
                builder = builder.azure_cli_program(program);
            }
            if let Some(retries) = max_retries {
                builder = builder.entra_retry(entra_retry(Some(retries)));
                builder = builder.managed_identity_retry(ManagedIdentityRetry {
                    max_retries: retries,
                    ..ManagedIdentityRetry::default()
                });
            }
            Ok(Inner::Chain(Arc::new(builder.build()?)))
        })
    }

    /// The names of the credentials the chain tries, in order.
    #[getter]
    fn credential_names(self_: PyRef<'_, Self>) -> Vec<&'static str> {
        self_.as_super().peek(self_.py(), |inner| match inner {
            Inner::Chain(chain) => chain.credential_names(),
            _ => Vec::new(),
        })
    }
}
