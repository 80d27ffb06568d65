//! Serving an axum router on a free 127.0.0.1 port, over plain HTTP or HTTPS.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::tls::LeafCert;

/// A running server; dropping it stops the server and closes its connections.
pub struct ServerHandle {
    addr: SocketAddr,
    scheme: &'static str,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// Returns the socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the base URL, `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, without a
    /// trailing slash.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a free port of 127.0.0.1, over HTTPS when `tls` is given.
///
/// Every connection runs on its own task, which ends when the handle is dropped.
pub async fn serve(router: Router, tls: Option<&LeafCert>) -> std::io::Result<ServerHandle> {
    serve_on(router, tls, "127.0.0.1:0".parse().expect("valid address")).await
}

/// Serves `router` on `addr` (which must be a loopback address), over HTTPS when `tls` is
/// given.
pub async fn serve_on(
    router: Router,
    tls: Option<&LeafCert>,
    addr: SocketAddr,
) -> std::io::Result<ServerHandle> {
    assert!(
        addr.ip().is_loopback(),
        "test servers listen on loopback only, not {addr}"
    );
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let acceptor = match tls {
        Some(leaf) => Some(tokio_rustls::TlsAcceptor::from(leaf.server_config(true)?)),
        None => None,
    };
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let task = tokio::spawn(accept_loop(listener, router, acceptor));
    Ok(ServerHandle { addr, scheme, task })
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                call_router(router.clone(), request)
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls_stream) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(tls_stream), service)
                            .await
                    }
                    Err(error) => {
                        tracing::debug!(%error, "TLS handshake failed");
                        return;
                    }
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
}

async fn call_router(
    router: Router,
    request: hyper::Request<Incoming>,
) -> Result<axum::response::Response, Infallible> {
    router.oneshot(request.map(axum::body::Body::new)).await
}
