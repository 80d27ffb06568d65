//! Local test servers that speak the wire protocols of the services elb talks to, so that
//! elb's tests (Rust and Python) run against real HTTP on loopback.
//!
//! - [`tls`]: a test certificate authority and leaf certificates for 127.0.0.1.
//! - [`serve`]: serving an axum router over HTTP or HTTPS on a free loopback port.
//! - [`entra`]: a test Entra ID token service (client credentials grant).
//! - [`msi`]: a test managed identity service (IMDS and App Service shapes).
//! - [`azurite`]: starting and stopping Azurite's blob service.
//! - [`fault`]: a reverse proxy that injects faults in front of any of these servers.
//! - [`kube`]: a Kubernetes API server with a job controller that tests drive.

pub mod azurite;
pub mod entra;
pub mod fault;
pub mod jwt;
pub mod kube;
pub mod msi;
pub mod serve;
pub mod tls;
