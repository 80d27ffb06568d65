//! A tower layer that sets `Authorization: Bearer` on every request to the API server, from
//! a token file read per request or from an Entra ID credential.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use azure_core::credentials::{AccessToken, TokenCredential};
use http::{HeaderValue, Request, header::AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tower::{BoxError, Layer, Service};

use crate::{Error, ErrorKind, Result};

/// Time before expiry at which a cached Entra token is replaced.
///
/// NOTE: a 401 does not drop the cached token, so a token revoked early keeps failing until
/// it is within this margin of its expiry.
const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

/// The source of each request's bearer token.
pub(crate) enum BearerSource {
    /// A service-account token file, read for every request because the kubelet rotates it.
    File(PathBuf),
    /// An Entra ID credential, asked again shortly before its token expires.
    Credential {
        credential: Arc<dyn TokenCredential>,
        scope: String,
        cached: Mutex<Option<AccessToken>>,
    },
}

impl BearerSource {
    pub(crate) fn credential(credential: Arc<dyn TokenCredential>, scope: &str) -> Self {
        Self::Credential {
            credential,
            scope: scope.to_owned(),
            cached: Mutex::new(None),
        }
    }

    async fn token(&self) -> Result<SecretString> {
        match self {
            Self::File(path) => {
                let token = tokio::fs::read_to_string(path).await.map_err(|source| {
                    Error::new(
                        ErrorKind::Authentication,
                        format!(
                            "cannot read the service-account token file {}",
                            path.display()
                        ),
                    )
                    .with_source(source)
                })?;
                Ok(SecretString::from(token.trim().to_owned()))
            }
            Self::Credential {
                credential,
                scope,
                cached,
            } => {
                let mut cached = cached.lock().await;
                let now = time::OffsetDateTime::now_utc();
                if let Some(token) = cached
                    .as_ref()
                    .filter(|t| t.expires_on - REFRESH_MARGIN > now)
                {
                    return Ok(SecretString::from(token.token.secret().to_owned()));
                }
                let token = credential
                    .get_token(&[scope.as_str()], None)
                    .await
                    .map_err(|source| {
                        Error::new(
                            ErrorKind::Authentication,
                            format!("cannot get a Kubernetes API token for scope {scope}"),
                        )
                        .with_source(source)
                    })?;
                let secret = SecretString::from(token.token.secret().to_owned());
                *cached = Some(token);
                Ok(secret)
            }
        }
    }
}

/// The layer that wraps kube's service stack with [`BearerService`].
#[derive(Clone)]
pub(crate) struct BearerLayer {
    source: Arc<BearerSource>,
}

impl BearerLayer {
    pub(crate) fn new(source: BearerSource) -> Self {
        Self {
            source: Arc::new(source),
        }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = BearerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerService {
            inner,
            source: self.source.clone(),
        }
    }
}

/// A service that gets a token from its [`BearerSource`] before each request.
#[derive(Clone)]
pub(crate) struct BearerService<S> {
    inner: S,
    source: Arc<BearerSource>,
}

impl<S, B> Service<Request<B>> for BearerService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone is not ready yet, so the ready service goes into the future and the
        // clone stays behind, as tower's documentation recommends.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        Box::pin(async move {
            let token = source.token().await?;
            let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Authentication,
                        "the bearer token contains characters not allowed in an HTTP header",
                    )
                })?;
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
            inner.call(request).await.map_err(Into::into)
        })
    }
}
