//! Entra ID credentials for Python, usable wherever the Azure SDK for Python takes a
//! `TokenCredential`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::credentials::AccessToken;
use elb_core::auth::{
    AzureCliCredential, AzureCliCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, CredentialKind, DefaultChain, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, ManagedIdentityRetry, ManagedIdentitySource, RetryOptions,
    SharedCredential, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use pyo3::PyClass;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyTuple};
use secrecy::SecretString;

use crate::convert::{environment, invalid_input, seconds, tls_options};
use crate::{errors, logging, runtime};

/// The delay before the first retry of a token request when `max_retries` is given.
const RETRY_INITIAL_DELAY: Duration = Duration::from_millis(200);

/// The maximum delay between two token request attempts when `max_retries` is given.
const RETRY_MAX_DELAY: Duration = Duration::from_secs(5);

/// One of the elb credentials, or the default chain.
#[derive(Clone)]
enum Inner {
    ClientSecret(Arc<ClientSecretCredential>),
    WorkloadIdentity(Arc<WorkloadIdentityCredential>),
    ManagedIdentity(Arc<ManagedIdentityCredential>),
    AzureCli(Arc<AzureCliCredential>),
    Chain(Arc<DefaultChain>),
}

impl Inner {
    async fn token(&self, scope: &str) -> elb_core::Result<AccessToken> {
        match self {
            Self::ClientSecret(credential) => credential.token(scope).await,
            Self::WorkloadIdentity(credential) => credential.token(scope).await,
            Self::ManagedIdentity(credential) => credential.token(scope).await,
            Self::AzureCli(credential) => credential.token(scope).await,
            Self::Chain(chain) => chain.token(scope).await,
        }
    }

    /// Returns the name of the credential that produces tokens, once known.
    fn method(&self) -> Option<&'static str> {
        match self {
            Self::ClientSecret(_) => Some(CredentialKind::ClientSecret.name()),
            Self::WorkloadIdentity(_) => Some(CredentialKind::WorkloadIdentity.name()),
            Self::ManagedIdentity(_) => Some(CredentialKind::ManagedIdentity.name()),
            Self::AzureCli(_) => Some(CredentialKind::AzureCli.name()),
            Self::Chain(chain) => chain.last_used(),
        }
    }

    fn shared(&self) -> SharedCredential {
        match self {
            Self::ClientSecret(credential) => credential.clone(),
            Self::WorkloadIdentity(credential) => credential.clone(),
            Self::ManagedIdentity(credential) => credential.clone(),
            Self::AzureCli(credential) => credential.clone(),
            Self::Chain(chain) => chain.clone(),
        }
    }
}

/// A token on its way to Python, as `AccessToken` or as `AccessTokenInfo`.
struct Token {
    token: AccessToken,
    info: bool,
}

/// The base class of every elb_py credential.
///
/// Implements the `azure.core.credentials.TokenCredential` and `SupportsTokenInfo`
/// protocols, and `get_token_async` for asyncio code.
#[pyclass(subclass, frozen, module = "elb_py._native")]
pub(crate) struct Credential {
    inner: Inner,
    last_success: Arc<Mutex<Option<f64>>>,
}

impl Credential {
    fn new(inner: Inner) -> Self {
        Self {
            inner,
            last_success: Arc::new(Mutex::new(None)),
        }
    }

    /// Returns the credential for Rust clients such as the blob store.
    pub(crate) fn shared(&self) -> SharedCredential {
        self.inner.shared()
    }

    /// Returns a function that reports the credential that produced the last token.
    pub(crate) fn method_hook(&self) -> impl Fn() -> Option<String> + Send + Sync + 'static {
        let inner = self.inner.clone();
        move || inner.method().map(str::to_owned)
    }

    /// Returns the future that gets a token for `scope` and records the time of success.
    fn token_future(
        &self,
        scope: String,
        info: bool,
    ) -> impl Future<Output = elb_core::Result<Token>> + Send + 'static {
        let inner = self.inner.clone();
        let last_success = self.last_success.clone();
        async move {
            let token = inner.token(&scope).await?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |elapsed| elapsed.as_secs_f64());
            *last_success
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()) = Some(now);
            Ok(Token { token, info })
        }
    }
}

/// Returns the single scope of a request, because Entra ID issues a token for one resource.
fn single_scope(py: Python<'_>, scopes: &Bound<'_, PyTuple>) -> PyResult<String> {
    if scopes.len() != 1 {
        return Err(invalid_input(
            py,
            format!(
                "get_token takes exactly one scope, got {}: request one token per resource, \
                 such as 'https://storage.azure.com/.default'",
                scopes.len()
            ),
        ));
    }
    scopes.get_item(0)?.extract()
}

/// Rejects a `tenant_id` different from the credential's own, since elb credentials do not
/// switch tenants per request.
fn check_tenant(py: Python<'_>, tenant_id: Option<&str>) -> PyResult<()> {
    match tenant_id {
        None => Ok(()),
        Some(tenant) => Err(invalid_input(
            py,
            format!(
                "tenant_id={tenant:?} was requested, but elb credentials use the tenant they were \
                 created with: create a credential for that tenant instead"
            ),
        )),
    }
}

#[pymethods]
impl Credential {
    /// Gets an access token for one scope, as `azure.core.credentials.TokenCredential`.
    #[pyo3(signature = (*scopes, claims = None, tenant_id = None, enable_cae = false, **kwargs))]
    fn get_token(
        &self,
        py: Python<'_>,
        scopes: &Bound<'_, PyTuple>,
        claims: Option<String>,
        tenant_id: Option<String>,
        enable_cae: bool,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        // NOTE: elb never requests CAE tokens, so services send no claims challenge and
        // `claims` and `enable_cae` are accepted only for protocol compatibility.
        let _ = (claims, enable_cae, kwargs);
        check_tenant(py, tenant_id.as_deref())?;
        let scope = single_scope(py, scopes)?;
        logging::refresh_level(py);
        let token = runtime::block_on(py, self.token_future(scope, false))?;
        token.into_python(py)
    }

    /// Gets an access token for one scope, as `azure.core.credentials.SupportsTokenInfo`.
    #[pyo3(signature = (*scopes, options = None))]
    fn get_token_info(
        &self,
        py: Python<'_>,
        scopes: &Bound<'_, PyTuple>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let tenant_id: Option<String> = match options {
            Some(options) => options
                .get_item("tenant_id")?
                .map(|value| value.extract())
                .transpose()?,
            None => None,
        };
        check_tenant(py, tenant_id.as_deref())?;
        let scope = single_scope(py, scopes)?;
        logging::refresh_level(py);
        let token = runtime::block_on(py, self.token_future(scope, true))?;
        token.into_python(py)
    }

    /// Gets an access token for one scope and returns an awaitable of an `AccessToken`.
    #[pyo3(signature = (*scopes, claims = None, tenant_id = None, enable_cae = false, **kwargs))]
    fn get_token_async<'py>(
        &self,
        py: Python<'py>,
        scopes: &Bound<'py, PyTuple>,
        claims: Option<String>,
        tenant_id: Option<String>,
        enable_cae: bool,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = (claims, enable_cae, kwargs);
        check_tenant(py, tenant_id.as_deref())?;
        let scope = single_scope(py, scopes)?;
        logging::refresh_level(py);
        runtime::spawn_awaitable(py, self.token_future(scope, false))
    }

    /// The name of the credential that produced the last token, such as
    /// `"WorkloadIdentityCredential"`; `None` for a chain that has not produced one yet.
    #[getter]
    fn method(&self) -> Option<&'static str> {
        self.inner.method()
    }

    /// The UNIX time of the last successful token request, or `None`.
    #[getter]
    fn last_used(&self) -> Option<f64> {
        *self
            .last_success
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Does nothing, because the credential has no resources to close.
    fn close(&self) {}

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {}

    fn __repr__(&self) -> String {
        match self.inner.method() {
            Some(method) => format!("<elb_py credential {method}>"),
            None => "<elb_py credential DefaultChain (no token yet)>".to_owned(),
        }
    }
}

impl Token {
    /// Converts the token to `azure.core.credentials.AccessToken` or `AccessTokenInfo`, or
    /// to the compatible classes of `elb_py._tokens` when azure-core is not installed.
    fn into_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        static TOKENS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
        let tokens = TOKENS
            .get_or_try_init(py, || py.import("elb_py._tokens").map(Bound::unbind))?
            .bind(py);
        let secret = self.token.token.secret();
        let expires_on = self.token.expires_on.unix_timestamp();
        let class = if self.info {
            "AccessTokenInfo"
        } else {
            "AccessToken"
        };
        Ok(tokens.getattr(class)?.call1((secret, expires_on))?.unbind())
    }
}

impl<'py> IntoPyObject<'py> for Token {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        self.into_python(py).map(|object| object.into_bound(py))
    }
}

/// Creates the initializer of a credential subclass around `inner`.
fn subclass<T>(marker: T, inner: Inner) -> PyClassInitializer<T>
where
    T: PyClass<BaseType = Credential>,
{
    PyClassInitializer::from(Credential::new(inner)).add_subclass(marker)
}

/// Returns retry options with `max_retries` retries and short delays, or the defaults.
fn entra_retry(max_retries: Option<u32>) -> RetryOptions {
    match max_retries {
        Some(retries) => RetryOptions::new(retries, RETRY_INITIAL_DELAY, RETRY_MAX_DELAY),
        None => RetryOptions::default(),
    }
}

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
        let credential =
            ClientSecretCredential::new(options).map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(subclass(Self, Inner::ClientSecret(Arc::new(credential))))
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
        let credential =
            WorkloadIdentityCredential::new(options).map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(subclass(
            Self,
            Inner::WorkloadIdentity(Arc::new(credential)),
        ))
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
        let credential = ManagedIdentityCredential::new(options).map_err(to_py)?;
        Ok(subclass(Self, Inner::ManagedIdentity(Arc::new(credential))))
    }

    /// The token endpoint that requests go to.
    #[getter]
    fn endpoint(self_: PyRef<'_, Self>) -> String {
        match &self_.as_super().inner {
            Inner::ManagedIdentity(credential) => credential.endpoint().to_owned(),
            _ => String::new(),
        }
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
        let credential = AzureCliCredential::new(options).map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(subclass(Self, Inner::AzureCli(Arc::new(credential))))
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
        let mut builder = DefaultChain::builder().env(env).tls(tls);
        if let Some(endpoint) = imds_endpoint {
            builder = builder.imds_endpoint(endpoint);
        }
        for name in exclude.unwrap_or_default() {
            builder = builder.exclude(credential_kind(py, &name)?);
        }
        if let Some(id) = managed_identity_client_id {
            builder = builder.managed_identity_id(UserAssignedId::ClientId(id));
        }
        if let Some(program) = azure_cli_program {
            builder = builder.azure_cli_program(program);
        }
        if let Some(retries) = max_retries {
            builder = builder.entra_retry(entra_retry(Some(retries)));
            builder = builder.managed_identity_retry(ManagedIdentityRetry {
                max_retries: retries,
                ..ManagedIdentityRetry::default()
            });
        }
        let chain = builder.build().map_err(|e| errors::to_pyerr(py, &e))?;
        Ok(subclass(Self, Inner::Chain(Arc::new(chain))))
    }

    /// The names of the credentials the chain tries, in order.
    #[getter]
    fn credential_names(self_: PyRef<'_, Self>) -> Vec<&'static str> {
        match &self_.as_super().inner {
            Inner::Chain(chain) => chain.credential_names(),
            _ => Vec::new(),
        }
    }
}
