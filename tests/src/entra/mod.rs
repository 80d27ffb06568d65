//! A test Entra ID token service: the v2.0 token endpoint of the client credentials grant,
//! with client secrets and federated JWT assertions, over HTTPS on 127.0.0.1.
//!
//! It answers like Entra ID, failures included: `AADSTS` error bodies with the statuses Entra
//! ID uses, and access tokens that Azurite's OAuth mode accepts. Tests can shorten token
//! lifetimes, inject 5xx or 429 answers, delay answers and count requests.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use elb_test_servers::entra::{EntraConfig, EntraServer};
//! use elb_test_servers::tls::TestCa;
//!
//! let ca = TestCa::generate()?;
//! let config = EntraConfig::workload_identity("tenant-a", "client-a", "https://oidc.test/");
//! let server = EntraServer::start(&ca, config).await?;
//! // AZURE_AUTHORITY_HOST for the credential under test:
//! let authority_host = server.authority_host();
//! # Ok(())
//! # }
//! ```

pub mod access_token;
pub mod config;
pub mod error;
pub mod exchange;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use access_token::{AccessTokenSpec, mint_access_token};
pub use config::{AppRegistration, EntraConfig, FederatedCredential};
pub use error::EntraError;
pub use exchange::ClientAuthMethod;
pub use state::TokenRequestRecord;

use crate::serve::{ServerHandle, serve};
use crate::tls::TestCa;
use state::{EntraState, lock};

/// A running test token service; dropping it stops the server.
pub struct EntraServer {
    handle: ServerHandle,
    state: Arc<EntraState>,
}

impl EntraServer {
    /// Starts the service on a free 127.0.0.1 port, over HTTPS with a leaf certificate from
    /// `ca`.
    ///
    /// # Errors
    ///
    /// Returns an error when the certificate cannot be issued or the port cannot be bound.
    pub async fn start(ca: &TestCa, config: EntraConfig) -> std::io::Result<Self> {
        let leaf = ca.issue_leaf("entra")?;
        let state = Arc::new(EntraState::new(config));
        let handle = serve(routes::router(state.clone()), Some(&leaf)).await?;
        let _ = state.authority_host.set(format!("{}/", handle.url()));
        Ok(Self { handle, state })
    }

    /// Returns the base URL, `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// Returns the socket address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// Returns the authority host with a trailing slash, `https://127.0.0.1:PORT/`, as
    /// `AZURE_AUTHORITY_HOST` carries it.
    pub fn authority_host(&self) -> String {
        format!("{}/", self.handle.url())
    }

    /// Returns the token endpoint of `tenant`:
    /// `https://127.0.0.1:PORT/<tenant>/oauth2/v2.0/token`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.handle.url())
    }

    /// Returns the number of token requests received, failed ones included.
    pub fn request_count(&self) -> usize {
        lock(&self.state.controls).total
    }

    /// Returns the number of token requests whose `client_id` field was `client_id`.
    pub fn request_count_for(&self, client_id: &str) -> usize {
        let controls = lock(&self.state.controls);
        controls.per_client.get(client_id).copied().unwrap_or(0)
    }

    /// Returns the number of access tokens issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.controls).tokens_issued
    }

    /// Returns every token request received so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequestRecord> {
        lock(&self.state.controls).records.clone()
    }

    /// Makes the next `count` token requests fail with `status` and an Entra-like body:
    /// `server_error` for 500, `temporarily_unavailable` with `Retry-After: 1` otherwise.
    pub fn fail_next(&self, count: usize, status: u16) {
        let mut controls = lock(&self.state.controls);
        controls.faults.extend(std::iter::repeat_n(status, count));
    }

    /// Delays every token response by `delay`; zero removes the delay.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state.controls).delay = delay;
    }

    /// Sets the lifetime of access tokens issued from now on, in seconds.
    pub fn set_token_lifetime_secs(&self, secs: u64) {
        lock(&self.state.config).token_lifetime_secs = Some(secs);
    }

    /// Describes the service as JSON for `elb-test-servers`: `url`, `authority_host` and
    /// `tenants`.
    pub fn description(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url(),
            "authority_host": self.authority_host(),
            "tenants": lock(&self.state.config).tenants.clone(),
        })
    }

    /// Changes the configuration of the running service, for example to add a secret or
    /// remove a federated credential.
    pub fn update_config(&self, change: impl FnOnce(&mut EntraConfig)) {
        change(&mut lock(&self.state.config));
    }
}
