//! A minimal in-memory blob endpoint, multi-threaded and as fast as the machine allows, so
//! that client overhead shows where Azurite's single thread would hide it.
//!
//! It serves what the contenders send: Create, Delete and Get Container Properties, List
//! Blobs (prefix and marker, no delimiter), Put Blob, Put Block, Put Block List, Get Blob
//! (whole or ranged, with `If-Match`), Get Blob Properties and Delete Blob. Any SAS is
//! accepted without checking its signature.
//!
//! NOTE: Put Blob and Put Block List store the `Content-MD5` or `x-ms-blob-content-md5`
//! that the client sends, but the endpoint never computes one, unlike Azure, so blobs
//! uploaded without an MD5 have none.

mod handlers;
pub mod store;
pub mod xml;

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use store::Store;

/// The running in-memory endpoint; dropping it stops accepting connections.
pub struct MemoryServer {
    port: u16,
    accept_loop: JoinHandle<()>,
    /// The endpoint's data, for tests and diagnostics.
    pub store: Arc<Store>,
}

impl MemoryServer {
    /// Starts the endpoint on a free port of 127.0.0.1, on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// Fails when no port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let store = Arc::new(Store::default());
        let shared = Arc::clone(&store);
        let accept_loop = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let store = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let store = Arc::clone(&store);
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                handlers::handle(&store, port, request).await,
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            port,
            accept_loop,
            store,
        })
    }

    /// Returns the port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for MemoryServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}
