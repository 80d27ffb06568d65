//! A reverse proxy on 127.0.0.1 that forwards requests to one upstream server and injects
//! faults into the requests its rules select: error statuses, connection resets, truncated
//! bodies, stalls and damaged request bodies.
//!
//! Rules are added and cleared while the proxy runs. Request and response bodies stream
//! through without being held whole, so uploads of hundreds of MiB pass unchanged. The proxy
//! forwards the path and query as sent, which is all that Azurite's path-style URLs
//! (`/devstoreaccount1/container/blob`) need.
//!
//! The client side speaks HTTP/1.1 only, so that a reset or a short body ends a TCP
//! connection rather than one HTTP/2 stream.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use elb_test_servers::fault::{Fault, FaultProxy, FaultRule, Matcher, ProxyOptions};
//!
//! let proxy = FaultProxy::start("http://127.0.0.1:10000", ProxyOptions::default()).await?;
//! let rule = proxy.add_rule(FaultRule::new(
//!     Matcher::any().method(http::Method::PUT).query_contains("comp=block").nth(2),
//!     Fault::server_busy(1),
//! ));
//! // ... point the client at proxy.url() ...
//! assert_eq!(rule.faults_injected(), 1);
//! # Ok(())
//! # }
//! ```

mod forward;
mod rule;
mod stream;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use rule::{Fault, FaultRule, Matcher, RuleHandle};

use crate::tls::TestCa;
use forward::ProxyState;
use stream::{FrontStream, ResetFlag};

/// Settings for a [`FaultProxy`].
#[derive(Clone, Default)]
pub struct ProxyOptions<'a> {
    /// The authority that signs the proxy's leaf certificate for HTTPS to clients; `None`
    /// serves plain HTTP. azure_core sends bearer tokens only over HTTPS.
    pub front_tls: Option<&'a TestCa>,
    /// A PEM file of extra root certificates to trust for an HTTPS upstream, such as the
    /// test authority's `ca.pem`.
    pub upstream_ca: Option<PathBuf>,
}

/// A running fault-injection proxy; dropping it stops the proxy and closes its connections.
pub struct FaultProxy {
    addr: SocketAddr,
    https: bool,
    state: Arc<ProxyState>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free port of 127.0.0.1 that forwards to `upstream`, a base URL
    /// such as `http://127.0.0.1:10000`.
    ///
    /// A path in `upstream` is kept as a prefix of every forwarded path, without its trailing
    /// slash.
    ///
    /// # Errors
    ///
    /// Fails when `upstream` is not an `http` or `https` URL on a loopback address, when the
    /// upstream CA file cannot be read, or when the listener cannot be bound.
    pub async fn start(upstream: &str, options: ProxyOptions<'_>) -> io::Result<Self> {
        let upstream = check_upstream(upstream)?;
        let client = upstream_client(options.upstream_ca.as_deref())?;
        let acceptor = match options.front_tls {
            Some(ca) => {
                let leaf = ca.issue_leaf("fault-proxy")?;
                Some(tokio_rustls::TlsAcceptor::from(leaf.server_config(false)?))
            }
            None => None,
        };

        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ProxyState {
            upstream,
            client,
            rules: Mutex::default(),
            requests_seen: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
        });
        let https = acceptor.is_some();
        let task = tokio::spawn(accept_loop(listener, acceptor, state.clone()));
        Ok(Self {
            addr,
            https,
            state,
            task,
        })
    }

    /// Returns the proxy's base URL, `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`,
    /// without a trailing slash.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Returns the socket address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a rule after the existing ones and returns its counters.
    ///
    /// The first rule that selects a request decides its fault.
    pub fn add_rule(&self, rule: FaultRule) -> RuleHandle {
        self.state.rules.lock().expect("rule lock").add(rule)
    }

    /// Removes every rule, so that later requests pass through unchanged.
    pub fn clear_rules(&self) {
        self.state.rules.lock().expect("rule lock").clear();
    }

    /// Returns how many requests the proxy has received, with or without a fault.
    pub fn requests_seen(&self) -> u64 {
        self.state.requests_seen.load(Ordering::SeqCst)
    }

    /// Returns how many faults the proxy has injected.
    pub fn faults_injected(&self) -> u64 {
        self.state.faults_injected.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks that `upstream` is an HTTP(S) URL on loopback and returns it without a trailing
/// slash.
fn check_upstream(upstream: &str) -> io::Result<String> {
    let invalid = |reason: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid fault proxy upstream {upstream:?}: {reason}"),
        )
    };
    let url = url::Url::parse(upstream).map_err(|error| invalid(&error.to_string()))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid("use an http or https URL"));
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if !loopback {
        return Err(invalid(
            "test servers run on 127.0.0.1; use a loopback address",
        ));
    }
    if url.query().is_some() {
        return Err(invalid("remove the query string"));
    }
    Ok(upstream.trim_end_matches('/').to_string())
}

fn upstream_client(ca_file: Option<&std::path::Path>) -> io::Result<reqwest::Client> {
    // An error means a provider is already installed, which is all reqwest needs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot read upstream CA file {}: {error}", path.display()),
            )
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("upstream CA file {} is not PEM: {error}", path.display()),
            )
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(io::Error::other)
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<ProxyState>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::debug!(%error, "fault proxy accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(stream, acceptor.clone(), state.clone()));
        // Reap finished connection tasks so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<ProxyState>,
) {
    let reset = ResetFlag::default();
    let stream = FrontStream::new(stream, reset.clone());
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let state = state.clone();
        let reset = reset.clone();
        async move { forward::handle(&state, reset, request).await }
    });
    let builder = hyper::server::conn::http1::Builder::new();
    let result = match acceptor {
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
            Err(error) => {
                tracing::debug!(%error, "fault proxy TLS handshake failed");
                return;
            }
        },
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "fault proxy connection ended with an error");
    }
}
