//! A Kubernetes API server for tests, with a job controller that tests drive.
//!
//! No real API server can run in tests, so [`KubeApiServer`] behaves like kube-apiserver for
//! what elb, `kubectl` and the Python `kubernetes` client use. It serves the REST paths and
//! JSON of its kinds, `Status` errors, resource versions and conflicts, selectors and
//! pagination. It also supports patches, server-side apply, deletion with propagation
//! policies, and watches with bookmarks and 410 Expired. [`JobController`] runs the pods of
//! Jobs through scripted outcomes.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use elb_test_servers::kube::{JobPlan, KubeApiServer, PodOutcome};
//! use elb_test_servers::tls::TestCa;
//!
//! let ca = TestCa::generate()?;
//! let server = KubeApiServer::start(&ca).await?;
//! server.controller().plan_job_named("blast-1", JobPlan::new([PodOutcome::oom_killed(), PodOutcome::Succeed]));
//! let kubeconfig = tempfile::NamedTempFile::new()?;
//! server.write_kubeconfig(kubeconfig.path(), "default")?;
//! // ... create the Job through the API, then:
//! server.controller().step().await;
//! # Ok(())
//! # }
//! ```

mod apply;
mod controller;
mod defaults;
mod delete;
mod handlers;
mod list;
mod meta;
mod openapi;
mod patch;
pub mod plan;
mod pod_status;
mod pods;
mod prepare;
mod protobuf;
pub mod resources;
pub mod selectors;
mod server;
pub mod status;
pub mod store;
mod table;
mod validation;
mod watch;

pub use controller::{JobController, TickerHandle};
pub use meta::Key;
pub use plan::{JobPlan, PodOutcome, TerminationReason, WaitingReason};
pub use server::{DEFAULT_NODE, KubeApiServer};
pub use store::{Event, EventType, Store};
