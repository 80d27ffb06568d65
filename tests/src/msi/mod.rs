//! A test managed identity service with both endpoint shapes the Azure SDKs use: the
//! Instance Metadata Service (IMDS) and the App Service / Functions identity endpoint.
//!
//! It serves plain HTTP on 127.0.0.1, as the real endpoints do on their link-local or
//! loopback addresses, so tests never reach 169.254.169.254. Point a credential at it with
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST` ([`ManagedIdentityServer::imds_authority`]) or with
//! `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`. Tests can make it fail as the real services
//! do: 410 while the instance starts, 429, 500, slow responses and unknown identities.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use elb_test_servers::msi::{ManagedIdentityConfig, ManagedIdentityServer};
//!
//! let config = ManagedIdentityConfig::new("tenant-a", "system-client-id");
//! let server = ManagedIdentityServer::start(config).await?;
//! let imds_host = server.imds_authority();
//! server.fail_next(2, 410);
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod request;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{IdentitySelector, ManagedIdentity, ManagedIdentityConfig};
pub use routes::{APP_SERVICE_TOKEN_PATH, IMDS_TOKEN_PATH};
pub use state::{EndpointKind, MsiRequestRecord};

use crate::serve::{ServerHandle, serve};
use state::{MsiState, lock};

/// A running test managed identity service; dropping it stops the server.
pub struct ManagedIdentityServer {
    handle: ServerHandle,
    state: Arc<MsiState>,
}

impl ManagedIdentityServer {
    /// Starts the service on a free 127.0.0.1 port over plain HTTP.
    ///
    /// # Errors
    ///
    /// Returns an error when the port cannot be bound.
    pub async fn start(config: ManagedIdentityConfig) -> std::io::Result<Self> {
        let state = Arc::new(MsiState::new(config));
        let handle = serve(routes::router(state.clone()), None).await?;
        Ok(Self { handle, state })
    }

    /// Returns the base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        self.handle.url()
    }

    /// Returns the socket address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    /// Returns the IMDS authority, `http://127.0.0.1:PORT`, the value for
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` in place of `http://169.254.169.254`.
    pub fn imds_authority(&self) -> String {
        self.handle.url()
    }

    /// Returns the IMDS token endpoint, `http://127.0.0.1:PORT/metadata/identity/oauth2/token`.
    pub fn imds_token_url(&self) -> String {
        format!("{}{IMDS_TOKEN_PATH}", self.handle.url())
    }

    /// Returns the App Service identity endpoint, the value for `IDENTITY_ENDPOINT`.
    pub fn identity_endpoint(&self) -> String {
        format!("{}{APP_SERVICE_TOKEN_PATH}", self.handle.url())
    }

    /// Returns the secret App Service requests must send in `X-IDENTITY-HEADER`, the value
    /// for `IDENTITY_HEADER`.
    pub fn identity_header(&self) -> String {
        lock(&self.state.config).identity_header.clone()
    }

    /// Returns the number of requests to the IMDS endpoint, failed ones included.
    pub fn imds_request_count(&self) -> usize {
        lock(&self.state.controls).imds_requests
    }

    /// Returns the number of requests to the App Service endpoint, failed ones included.
    pub fn app_service_request_count(&self) -> usize {
        lock(&self.state.controls).app_service_requests
    }

    /// Returns the number of requests to both endpoints.
    pub fn request_count(&self) -> usize {
        let controls = lock(&self.state.controls);
        controls.imds_requests + controls.app_service_requests
    }

    /// Returns the number of tokens issued by both endpoints.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state.controls).tokens_issued
    }

    /// Returns every token request received so far, oldest first.
    pub fn requests(&self) -> Vec<MsiRequestRecord> {
        lock(&self.state.controls).records.clone()
    }

    /// Makes the next `count` requests, to either endpoint, fail with `status`: 410 while
    /// the instance starts, 429 when throttled, 500 or 503 on an outage.
    pub fn fail_next(&self, count: usize, status: u16) {
        let mut controls = lock(&self.state.controls);
        controls.faults.extend(std::iter::repeat_n(status, count));
    }

    /// Responds to every request with 410 for `duration` from now, as IMDS does while a new
    /// instance starts. Queued [`fail_next`](Self::fail_next) faults come first.
    pub fn gone_for(&self, duration: Duration) {
        lock(&self.state.controls).gone_until = Some(Instant::now() + duration);
    }

    /// Delays every response by `delay`; zero removes the delay.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state.controls).delay = delay;
    }

    /// Sets the lifetime of tokens issued from now on, in seconds.
    pub fn set_token_lifetime_secs(&self, secs: u64) {
        lock(&self.state.config).token_lifetime_secs = Some(secs);
    }

    /// Describes the service as JSON for `elb-test-servers`: `url`, `imds_authority`,
    /// `imds_token_url`, `identity_endpoint`, `identity_header`, `tenant`,
    /// `system_client_id` (null without a system-assigned identity) and `user_assigned`
    /// (objects with `client_id`, `object_id` and `resource_id`).
    pub fn description(&self) -> serde_json::Value {
        let config = lock(&self.state.config).clone();
        let system_client_id = config
            .system_assigned
            .as_ref()
            .map(|identity| identity.client_id.clone());
        serde_json::json!({
            "url": self.url(),
            "imds_authority": self.imds_authority(),
            "imds_token_url": self.imds_token_url(),
            "identity_endpoint": self.identity_endpoint(),
            "identity_header": config.identity_header,
            "tenant": config.tenant,
            "system_client_id": system_client_id,
            "user_assigned": config.user_assigned,
        })
    }

    /// Changes the configuration of the running service, for example to add or remove an
    /// identity.
    pub fn update_config(&self, change: impl FnOnce(&mut ManagedIdentityConfig)) {
        change(&mut lock(&self.state.config));
    }
}
