//! The store handle: one account, one authorization, one HTTP client.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use url::Url;

use super::auth::{Authorizer, BlobAuth};
use super::location::BlobUrl;
use super::retry::RetryOptions;
use crate::tls::TlsOptions;
use crate::{Error, ErrorKind, Result};

/// The default service version sent in `x-ms-version`, which
/// [`BlobOptions::service_version`] overrides. It is the newest version that Azurite 3.35
/// supports, so Azurite accepts it without `--skipApiVersionCheck`.
pub const DEFAULT_SERVICE_VERSION: &str = "2025-11-05";

/// Settings shared by every request of a [`BlobStore`].
#[derive(Clone, Debug)]
pub struct BlobOptions {
    /// The service version sent in `x-ms-version`.
    pub service_version: String,
    /// Extra root certificates to trust.
    pub tls: TlsOptions,
    /// Retries, timeouts and the deadline of each operation.
    pub retry: RetryOptions,
    /// Maximum number of idle connections kept open to the account.
    pub max_idle_connections: usize,
}

impl Default for BlobOptions {
    fn default() -> Self {
        Self {
            service_version: DEFAULT_SERVICE_VERSION.to_owned(),
            tls: TlsOptions::default(),
            retry: RetryOptions::default(),
            max_idle_connections: 64,
        }
    }
}

/// A handle on one storage account: the account URL, its authorization and one HTTP client.
///
/// Cloning is cheap. Clones share the connection pool, the token cache, and whether the
/// service rejected CRC-64 request checksums.
///
/// Requests go through reqwest directly rather than the `azure_storage_blob` 1.1 clients.
/// Shared Key signs the final headers of each request, and that crate has no Shared Key
/// policy. Ranged downloads must resume mid-body at an exact offset under an ETag condition,
/// and upload buffers are reused without copies, which needs control of each request body.
/// The client never decompresses bodies, so `.gz` blobs arrive as stored.
#[derive(Clone)]
pub struct BlobStore {
    pub(crate) inner: Arc<StoreInner>,
}

pub(crate) struct StoreInner {
    pub(crate) http: reqwest::Client,
    pub(crate) account_url: BlobUrl,
    pub(crate) authorizer: Authorizer,
    pub(crate) options: BlobOptions,
    /// Whether the service rejected `x-ms-content-crc64`, so that
    /// [`TransactionalChecksum::Auto`](super::TransactionalChecksum::Auto) sends MD5.
    pub(crate) crc64_rejected: AtomicBool,
}

impl BlobStore {
    /// Creates a store for an account URL such as `https://acct.blob.core.windows.net` or
    /// `http://127.0.0.1:10000/devstoreaccount1`.
    ///
    /// # Errors
    ///
    /// Fails with [`ErrorKind::InvalidInput`] when the URL names a container, or when a bearer
    /// credential is combined with `http`. It also fails when a Shared Key is not base64 or
    /// names another account, and when the TLS roots are invalid.
    pub fn new(account_url: &str, auth: BlobAuth, options: BlobOptions) -> Result<Self> {
        let url = BlobUrl::parse(account_url)?;
        if url.container().is_some() {
            return Err(Error::invalid_input(format!(
                "{url} is not an account URL: remove the container, or use BlobStore::from_url"
            )));
        }
        Self::from_url(&url, auth, options)
    }

    /// Creates a store for the account of any blob, container or account URL.
    ///
    /// When the URL carries a SAS query and `auth` is [`BlobAuth::Anonymous`], the SAS is
    /// used.
    ///
    /// # Errors
    ///
    /// Fails as [`BlobStore::new`] does.
    pub fn from_url(url: &BlobUrl, auth: BlobAuth, options: BlobOptions) -> Result<Self> {
        let auth = match (auth, url.sas()) {
            (BlobAuth::Anonymous, Some(sas)) => BlobAuth::Sas(sas.clone()),
            (auth, _) => auth,
        };
        let https = url.account_url().scheme() == "https";
        let authorizer = Authorizer::new(auth, url.account(), https)?;
        if let Authorizer::SharedKey(signer) = &authorizer
            && url.account().is_none()
        {
            tracing::debug!(
                account = signer.account(),
                "custom endpoint: signing with the Shared Key account name"
            );
        }
        let http = build_http_client(&options)?;
        Ok(Self {
            inner: Arc::new(StoreInner {
                http,
                account_url: url.clone(),
                authorizer,
                options,
                crc64_rejected: AtomicBool::new(false),
            }),
        })
    }

    /// Returns the account URL, without a SAS.
    pub fn account_url(&self) -> &Url {
        self.inner.account_url.account_url()
    }

    /// Returns the URL of a blob (or of a container when `name` is empty), without a SAS.
    pub fn blob_url(&self, container: &str, name: &str) -> String {
        let base = self.account_url().as_str().trim_end_matches('/');
        let container = super::location::encode_segment(container);
        if name.is_empty() {
            format!("{base}/{container}")
        } else {
            format!(
                "{base}/{container}/{}",
                super::location::encode_blob_name(name)
            )
        }
    }

    /// Returns the store's options.
    pub fn options(&self) -> &BlobOptions {
        &self.inner.options
    }

    /// Runs `operation` within the configured deadline of one public operation.
    pub(crate) async fn with_deadline<T>(
        &self,
        description: &str,
        operation: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.inner.options.retry.deadline {
            None => operation.await,
            Some(deadline) => match tokio::time::timeout(deadline, operation).await {
                Ok(result) => result,
                Err(_) => Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "{description} did not finish within {}",
                        format_duration(deadline)
                    ),
                )),
            },
        }
    }
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("account_url", &self.account_url().as_str())
            .field("service_version", &self.inner.options.service_version)
            .finish_non_exhaustive()
    }
}

fn build_http_client(options: &BlobOptions) -> Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .no_gzip()
        .no_deflate()
        .no_brotli()
        .no_zstd()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(options.max_idle_connections)
        .pool_idle_timeout(Duration::from_secs(60))
        .connect_timeout(options.retry.connect_timeout)
        .read_timeout(options.retry.stall_timeout);
    options.tls.apply(builder)?.build().map_err(|error| {
        Error::new(ErrorKind::Transport, "cannot build the blob HTTP client").with_source(error)
    })
}

/// Describes an operation on one blob for a deadline error, such as
/// `download of blob results/a.out.gz`.
pub(crate) fn describe(operation: &str, container: &str, name: &str) -> String {
    format!("{operation} of blob {container}/{name}")
}

pub(crate) fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
