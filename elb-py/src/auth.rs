//! The base class of the Entra ID credentials for Python, usable wherever the Azure SDK for
//! Python takes a `TokenCredential`. The concrete credentials are in `credentials.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use azure_core::credentials::AccessToken;
use elb_core::auth::{
    AzureCliCredential, ClientSecretCredential, CredentialKind, DefaultChain,
    ManagedIdentityCredential, RetryOptions, SharedCredential, WorkloadIdentityCredential,
};
use pyo3::PyClass;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyTuple};

use crate::convert::invalid_input;
use crate::process::PerProcess;
use crate::{errors, logging, runtime};

/// The delay before the first retry of a token request when `max_retries` is given.
const RETRY_INITIAL_DELAY: Duration = Duration::from_millis(200);

/// The maximum delay between two token request attempts when `max_retries` is given.
const RETRY_MAX_DELAY: Duration = Duration::from_secs(5);

/// The value of `Credential::last_success` before the first token: a NaN bit pattern, which
/// no UNIX time converts to.
const NO_SUCCESS: u64 = u64::MAX;

/// A function that builds a credential from its options, already converted to Rust values.
pub(crate) type BuildInner = Box<dyn Fn() -> elb_core::Result<Inner> + Send + Sync>;

/// One of the elb credentials, or the default chain.
#[derive(Clone)]
pub(crate) enum Inner {
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
///
/// The Rust credential has an HTTP connection pool, which a child created by `fork()`
/// cannot use. The first call in a child builds the credential again from its options, so
/// the child requests its own tokens and does not reuse the parent's cached ones.
#[pyclass(subclass, frozen, module = "elb_py._native")]
pub(crate) struct Credential {
    inner: PerProcess<Inner>,
    build: BuildInner,
    /// The UNIX time of the last token as `f64` bits, or `NO_SUCCESS`. Tokio worker threads
    /// store it without the GIL, so it is an atomic: a lock held by a worker at `fork()`
    /// would stay locked in the child.
    last_success: Arc<AtomicU64>,
}

impl Credential {
    /// Returns the credential of the calling process, building it again in a child created
    /// by `fork()`.
    pub(crate) fn current(&self, py: Python<'_>) -> PyResult<Inner> {
        self.inner
            .get_or_rebuild(py, &self.build)
            .map_err(|error| errors::to_pyerr(py, &error))
    }

    /// Returns the credential for Rust clients such as the blob store.
    pub(crate) fn shared(&self, py: Python<'_>) -> PyResult<SharedCredential> {
        Ok(self.current(py)?.shared())
    }

    /// Returns a function that reports the credential that produced the last token.
    pub(crate) fn method_hook(
        &self,
        py: Python<'_>,
    ) -> PyResult<impl Fn() -> Option<String> + Send + Sync + 'static> {
        let inner = self.current(py)?;
        Ok(move || inner.method().map(str::to_owned))
    }

    /// Calls `read` with the credential, whichever process built it, for settings such as
    /// the token endpoint.
    pub(crate) fn peek<R>(&self, py: Python<'_>, read: impl FnOnce(&Inner) -> R) -> R {
        self.inner.peek(py, read)
    }

    /// Returns the future that gets a token for `scope` and records the time of success.
    fn token_future(
        &self,
        py: Python<'_>,
        scope: String,
        info: bool,
    ) -> PyResult<impl Future<Output = elb_core::Result<Token>> + Send + 'static> {
        let inner = self.current(py)?;
        let last_success = self.last_success.clone();
        Ok(async move {
            let token = inner.token(&scope).await?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |elapsed| elapsed.as_secs_f64());
            last_success.store(now.to_bits(), Ordering::Relaxed);
            Ok(Token { token, info })
        })
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
        let token = runtime::block_on(py, self.token_future(py, scope, false)?)?;
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
        let token = runtime::block_on(py, self.token_future(py, scope, true)?)?;
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
        runtime::spawn_awaitable(py, self.token_future(py, scope, false)?)
    }

    /// The name of the credential that produced the last token, such as
    /// `"WorkloadIdentityCredential"`; `None` for a chain that has not produced one yet.
    #[getter]
    fn method(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        Ok(self.current(py)?.method())
    }

    /// The UNIX time of the last successful token request, or `None`.
    #[getter]
    fn last_used(&self) -> Option<f64> {
        match self.last_success.load(Ordering::Relaxed) {
            NO_SUCCESS => None,
            bits => Some(f64::from_bits(bits)),
        }
    }

    /// Does nothing, because the credential has no resources to close.
    fn close(&self) {}

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) {}

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match self.current(py)?.method() {
            Some(method) => format!("<elb_py credential {method}>"),
            None => "<elb_py credential DefaultChain (no token yet)>".to_owned(),
        })
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

/// Creates the initializer of a credential subclass, building the credential with `build`
/// now and again in each child created by `fork()` that uses it.
///
/// # Errors
///
/// Raises the error of `build`, such as `InvalidInputError` for an invalid tenant id.
pub(crate) fn subclass<T>(
    py: Python<'_>,
    marker: T,
    build: impl Fn() -> elb_core::Result<Inner> + Send + Sync + 'static,
) -> PyResult<PyClassInitializer<T>>
where
    T: PyClass<BaseType = Credential>,
{
    let inner = build().map_err(|error| errors::to_pyerr(py, &error))?;
    let credential = Credential {
        inner: PerProcess::new(inner),
        build: Box::new(build),
        last_success: Arc::new(AtomicU64::new(NO_SUCCESS)),
    };
    Ok(PyClassInitializer::from(credential).add_subclass(marker))
}

/// Returns retry options with `max_retries` retries and short delays, or the defaults.
pub(crate) fn entra_retry(max_retries: Option<u32>) -> RetryOptions {
    match max_retries {
        Some(retries) => RetryOptions::new(retries, RETRY_INITIAL_DELAY, RETRY_MAX_DELAY),
        None => RetryOptions::default(),
    }
}
